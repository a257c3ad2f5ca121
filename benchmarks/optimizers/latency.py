"""Suggestion latency: milliseconds for the next suggestion after N finished trials.

For each method, a history of N random points of a problem (default hartmann6, 6 doubles)
with their values is given to the optimiser, then the time of producing one more suggestion
is measured (median of ``--repeat`` tries, each from the same history).  tunery's algorithms
are timed through their suggester (what the controller calls), the History build included:
``--history cold`` (the default) builds it from nothing, ``--history warm`` with a
``HistoryBuilder`` that already saw every trial but the last, as the controller's does.
Optuna through ``ask`` on a study holding the history; scikit-optimize through ``tell`` of the
last point + ``ask`` (it fits its model when told).  Usage::

    python benchmarks/optimizers/latency.py --sizes 10,100,500 \
        --methods tunery-bayesianoptimization,tunery-tpe,optuna-tpe,optuna-gp,skopt-gp
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from problems import PROBLEMS, Problem, random_point  # noqa: E402


def history(problem: Problem, n: int, seed: int = 0) -> list[tuple[dict[str, Any], float]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        point = random_point(problem, rng)
        out.append((point, problem.fn(point)))
    return out


def time_tunery(
    algorithm: str, problem: Problem, hist: list[Any], repeat: int, warm: bool = False
) -> float:
    from peers import tunery_optimizer

    from tunery.history import HistoryBuilder
    from tunery.model import MetricSummary, Trial, TrialCondition
    from tunery.space import SearchSpace
    from tunery.suggest import create_suggester

    spec = tunery_optimizer(algorithm, problem).spec
    trials = [
        Trial(
            name=f"t-{i}",
            experiment="t",
            index=i + 1,
            parameters=point,
            status=TrialCondition.SUCCEEDED,
            objective=value,
            metrics={"objective": MetricSummary(value, value, value)},
        )
        for i, (point, value) in enumerate(hist)
    ]
    times = []
    for _ in range(repeat):
        suggester = create_suggester(spec, 0)
        builder = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective)
        if warm:
            # The controller keeps its builder: the tick before saw every trial but the last.
            builder.build(trials[:-1])
        start = time.perf_counter()
        # The controller builds the History every tick: it is part of the latency.
        suggester.suggest(builder.build(trials), 1)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_optuna(kind: str, problem: Problem, hist: list[Any], repeat: int) -> float:
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    dists: dict[str, Any] = {}
    for p in problem.params:
        if p.kind == "categorical":
            dists[p.name] = CategoricalDistribution(list(p.choices))
        elif p.kind == "int":
            dists[p.name] = IntDistribution(int(p.low), int(p.high))
        else:
            dists[p.name] = FloatDistribution(p.low, p.high, log=p.log)
    frozen = [
        optuna.trial.create_trial(params=point, distributions=dists, value=value)
        for point, value in hist
    ]
    times = []
    for _ in range(repeat):
        sampler: Any = {
            "tpe": lambda: optuna.samplers.TPESampler(seed=0),
            "tpe-independent": lambda: optuna.samplers.TPESampler(seed=0, multivariate=False),
            "gp": lambda: optuna.samplers.GPSampler(seed=0),
            "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=0),
        }[kind]()
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.add_trials(frozen)
        start = time.perf_counter()
        trial = study.ask()
        for name, dist in dists.items():
            trial._suggest(name, dist)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_skopt(problem: Problem, hist: list[Any], repeat: int) -> float:
    from skopt import Optimizer
    from skopt.space import Categorical, Integer, Real

    dims: list[Any] = []
    for p in problem.params:
        if p.kind == "categorical":
            dims.append(Categorical(list(p.choices)))
        elif p.kind == "int":
            dims.append(Integer(int(p.low), int(p.high)))
        else:
            dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
    names = [p.name for p in problem.params]
    xs = [[point[n] for n in names] for point, _ in hist]
    ys = [value for _, value in hist]
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            opt = Optimizer(
                dims, base_estimator="GP", n_initial_points=10, acq_func="gp_hedge", random_state=0
            )
            opt.tell(xs[:-1], ys[:-1], fit=False)
            start = time.perf_counter()
            opt.tell(xs[-1], ys[-1])
            opt.ask()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="hartmann6", choices=sorted(PROBLEMS))
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument(
        "--methods",
        default="tunery-bayesianoptimization,tunery-tpe,optuna-tpe,optuna-gp,skopt-gp",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--history",
        choices=("cold", "warm"),
        default="cold",
        help="tunery's HistoryBuilder: new for each suggestion (cold: a first tick or a "
        "resume), or kept from a tick that saw every trial but the last (warm: every later "
        "tick of the controller)",
    )
    args = parser.parse_args()
    problem = PROBLEMS[args.problem]
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    print(
        f"suggestion latency on {args.problem}, median of {args.repeat} (ms), "
        f"{args.history} history"
    )
    print("| method | " + " | ".join(f"{n} trials" for n in sizes) + " |")
    print("|" + "---|" * (len(sizes) + 1))
    hists = {n: history(problem, n) for n in sizes}
    for method in methods:
        cells = []
        for n in sizes:
            if method.startswith("tunery-"):
                t = time_tunery(
                    method.removeprefix("tunery-"),
                    problem,
                    hists[n],
                    args.repeat,
                    warm=args.history == "warm",
                )
            elif method.startswith("optuna-"):
                t = time_optuna(method.removeprefix("optuna-"), problem, hists[n], args.repeat)
            elif method == "skopt-gp":
                t = time_skopt(problem, hists[n], args.repeat)
            else:
                raise SystemExit(f"unknown method {method!r}")
            cells.append(f"{1000 * t:.1f}")
            print(f"  {method} @ {n}: {1000 * t:.1f} ms", file=sys.stderr, flush=True)
        print(f"| {method} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
