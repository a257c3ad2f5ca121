"""Conditional (tree-structured) search spaces: tunery's tpe and GP against Optuna's TPE and random.

Two problems, both minimised:

- ``hier-synth``: a cheap synthetic hierarchical function.  A root choice ``kind`` of three
  branches and an always-active ``u``; branch ``a`` is Branin (two doubles), branch ``b`` a
  log-scaled double and an int, branch ``c`` a nested choice ``mode`` whose ``p`` branch holds
  the global optimum 0 (a quadratic bowl in two doubles, 0.21 on average: no better than
  ``b`` at random) and whose ``q`` branch an int.  Best values: ``a`` 0.3, ``b`` 0.15,
  ``c/q`` 0.2, ``c/p`` 0; plus ``(u - 0.7)^2`` everywhere.
- ``model-digits``: model choice on scikit-learn's bundled digits (1797 images), 3-fold
  cross-validated error (1 - accuracy) of an RBF SVM {C, gamma}, a random forest
  {max_depth, n_estimators}, logistic regression {C} or k-nearest neighbours {k, weights}.

Methods: ``tunery-tpe`` (its defaults: one model per parameter on a conditional space),
``tunery-tpe-independent`` (``multivariate: "false"`` said: the same), ``tunery-tpe-joint``
(``multivariate: "true"``, the joint model, ``tpe``'s default before issue 18's last round),
``tunery-bayesianoptimization``, ``optuna-tpe`` (Optuna's default ``TPESampler``, define-by-run:
it samples the conditional parameters independently, as it warns), ``optuna-tpe-group``
(``multivariate=True, group=True``, Optuna's group decomposition) and ``random`` (each active
parameter uniformly, log ones in log space).  Every method runs once per seed at the largest
budget; the smaller budgets read the same run's first evaluations.  Printed per problem and
budget: the mean best value with its standard error, the mean rank among the methods (per
seed, 1 = best, ties shared), the normalized score (Bayesmark's: 100 x (1 - (best - optimum) /
(median random best - optimum)), the optimum known or the best any method found) and the ratio
of the mean regret to random's and to Optuna TPE's (below 1: better).

Results are cached in a JSON file; ``--report`` prints the tables again.  Usage::

    nice -n 10 python benchmarks/optimizers/conditional.py --budgets 50,100 --seeds 5
    python benchmarks/optimizers/conditional.py --report
    python benchmarks/optimizers/conditional.py --latency 200   # seconds per suggestion
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

METHODS = (
    "tunery-tpe",
    "tunery-tpe-independent",
    "tunery-tpe-joint",
    "tunery-bayesianoptimization",
    "optuna-tpe",
    "optuna-tpe-group",
    "random",
)


@dataclass(frozen=True)
class CParam:
    """A parameter, active when ``parent`` (a categorical) takes one of ``values``."""

    name: str
    kind: str  # "double" | "int" | "categorical"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[str, ...] = ()
    parent: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class CProblem:
    name: str
    params: tuple[CParam, ...]  # parents before children
    fn: Callable[[dict[str, Any]], float]
    optimum: float | None

    def active(self, param: CParam, point: dict[str, Any]) -> bool:
        return param.parent is None or point.get(param.parent) in param.values


# --------------------------------------------------------------------------- problems


def _branin(x: float, y: float) -> float:
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )


def hier_synth(p: dict[str, Any]) -> float:
    base = (p["u"] - 0.7) ** 2
    if p["kind"] == "a":
        return 0.3 + (_branin(p["a_x"], p["a_y"]) - 0.397887) / 100.0 + base
    if p["kind"] == "b":
        lr = (math.log10(p["b_lr"]) + 3.0) ** 2
        n = ((math.log2(p["b_n"]) - 4.0) / 6.0) ** 2
        return 0.15 + 0.05 * lr + 0.2 * n + base
    if p["mode"] == "p":
        d2 = (p["p_z"] - 0.2) ** 2 + (p["p_w"] - 0.8) ** 2
        return 0.6 * d2 + base
    return 0.2 + 0.02 * abs(p["q_k"] - 3) + base


HIER = CProblem(
    "hier-synth",
    (
        CParam("kind", "categorical", choices=("a", "b", "c")),
        CParam("u", "double", 0.0, 1.0),
        CParam("a_x", "double", -5.0, 10.0, parent="kind", values=("a",)),
        CParam("a_y", "double", 0.0, 15.0, parent="kind", values=("a",)),
        CParam("b_lr", "double", 1e-5, 1e-1, log=True, parent="kind", values=("b",)),
        CParam("b_n", "int", 1, 64, parent="kind", values=("b",)),
        CParam("mode", "categorical", choices=("p", "q"), parent="kind", values=("c",)),
        CParam("p_z", "double", 0.0, 1.0, parent="mode", values=("p",)),
        CParam("p_w", "double", 0.0, 1.0, parent="mode", values=("p",)),
        CParam("q_k", "int", 1, 10, parent="mode", values=("q",)),
    ),
    hier_synth,
    0.0,
)


@cache
def _digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data / 16.0, data.target


def model_digits(p: dict[str, Any]) -> float:
    # Deterministic (the forest is seeded): a configuration seen before (ints and
    # categoricals repeat) is not cross-validated again.
    return _model_digits(tuple(sorted(p.items())))


@cache
def _model_digits(items: tuple[tuple[str, Any], ...]) -> float:
    p = dict(items)
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    x, y = _digits()
    model: Any
    if p["model"] == "svm":
        model = SVC(C=p["svm_C"], gamma=p["svm_gamma"])
    elif p["model"] == "rf":
        model = RandomForestClassifier(
            max_depth=p["rf_depth"], n_estimators=p["rf_trees"], random_state=0, n_jobs=1
        )
    elif p["model"] == "logistic":
        model = LogisticRegression(C=p["lr_C"], max_iter=300)
    else:
        model = KNeighborsClassifier(n_neighbors=p["knn_k"], weights=p["knn_weights"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 1.0 - float(cross_val_score(model, x, y, cv=3).mean())


DIGITS = CProblem(
    "model-digits",
    (
        CParam("model", "categorical", choices=("svm", "rf", "logistic", "knn")),
        CParam("svm_C", "double", 1e-2, 1e3, log=True, parent="model", values=("svm",)),
        CParam("svm_gamma", "double", 1e-4, 1e1, log=True, parent="model", values=("svm",)),
        CParam("rf_depth", "int", 2, 32, parent="model", values=("rf",)),
        CParam("rf_trees", "int", 10, 60, parent="model", values=("rf",)),
        CParam("lr_C", "double", 1e-4, 1e2, log=True, parent="model", values=("logistic",)),
        CParam("knn_k", "int", 1, 30, parent="model", values=("knn",)),
        CParam(
            "knn_weights",
            "categorical",
            choices=("uniform", "distance"),
            parent="model",
            values=("knn",),
        ),
    ),
    model_digits,
    None,
)

PROBLEMS = {p.name: p for p in (HIER, DIGITS)}


# --------------------------------------------------------------------------- runners


def run_random(problem: CProblem, budget: int, seed: int) -> list[float]:
    """Each active parameter drawn uniformly (log ones in log space), parents first."""
    return [problem.fn(point) for point in random_points(problem, budget, seed)]


def run_optuna(kind: str, problem: CProblem, budget: int, seed: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if kind == "tpe":
        sampler: Any = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True)
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def objective(trial: Any) -> float:
        point: dict[str, Any] = {}
        for p in problem.params:  # define-by-run: only the active branch is asked
            if not problem.active(p, point):
                continue
            if p.kind == "categorical":
                point[p.name] = trial.suggest_categorical(p.name, list(p.choices))
            elif p.kind == "int":
                point[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
            else:
                point[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        return problem.fn(point)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=budget)
    return [float(t.value) for t in study.trials]


def tunery_spec(problem: CProblem, algorithm: str, settings: dict[str, str]) -> Any:
    """The problem as a tunery experiment spec: parameters with ``active_when``."""
    from tunery.model import ParameterSpec
    from tunery.testing.suggest import categorical_param, double_param, int_param, make_spec

    params: list[ParameterSpec] = []
    for p in problem.params:
        if p.kind == "categorical":
            spec = categorical_param(p.name, p.choices)
        elif p.kind == "int":
            spec = int_param(p.name, str(int(p.low)), str(int(p.high)))
        else:
            spec = double_param(
                p.name, repr(p.low), repr(p.high), distribution="logUniform" if p.log else None
            )
        if p.parent is not None:
            spec = ParameterSpec(
                spec.name, spec.parameter_type, spec.feasible_space, ((p.parent, p.values),)
            )
        params.append(spec)
    return make_spec(params, algorithm, settings, name="conditional")


def run_tunery(algorithm: str, problem: CProblem, budget: int, seed: int) -> list[float]:
    """tunery's suggester asked one configuration at a time (what ask/tell does)."""
    from tunery.history import History
    from tunery.suggest import create_suggester
    from tunery.testing.suggest import make_trials

    settings: dict[str, str] = {}
    if algorithm == "tpe-independent":
        algorithm, settings = "tpe", {"multivariate": "false"}
    elif algorithm == "tpe-joint":
        algorithm, settings = "tpe", {"multivariate": "true"}
    spec = tunery_spec(problem, algorithm, settings)
    suggester = create_suggester(spec, seed)
    trials: list[Any] = []
    values: list[float] = []
    for i in range(budget):
        (assignment,) = suggester.suggest(History.from_spec(spec, trials), 1)
        value = problem.fn(dict(assignment.parameters))
        trials += make_trials([assignment], start=i + 1, objective=lambda _p, v=value: v)
        values.append(value)
    return values


def random_points(problem: CProblem, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        point: dict[str, Any] = {}
        for p in problem.params:
            if not problem.active(p, point):
                continue
            if p.kind == "categorical":
                point[p.name] = p.choices[int(rng.integers(len(p.choices)))]
            elif p.kind == "int":
                point[p.name] = int(rng.integers(int(p.low), int(p.high) + 1))
            elif p.log:
                point[p.name] = math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
            else:
                point[p.name] = float(rng.uniform(p.low, p.high))
        out.append(point)
    return out


def latency(method: str, problem: CProblem, n: int, calls: int = 6) -> tuple[float, float]:
    """Seconds of tunery's first suggestion after ``n`` random finished trials (no state: a
    fresh fit), and the median of the next ``calls - 1`` (each told before the next)."""
    import scipy.stats  # noqa: F401  (imported lazily by the algorithms: not timed)

    from tunery.history import History
    from tunery.suggest import create_suggester
    from tunery.testing.suggest import make_trials

    settings = {
        "tunery-tpe-independent": {"multivariate": "false"},
        "tunery-tpe-joint": {"multivariate": "true"},
    }.get(method, {})
    algorithm = "tpe" if settings else method.removeprefix("tunery-")
    spec = tunery_spec(problem, algorithm, settings)
    points = random_points(problem, n, 0)
    trials = make_trials(points, objective=problem.fn)
    suggester = create_suggester(spec, 0)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        (assignment,) = suggester.suggest(History.from_spec(spec, trials), 1)
        times.append(time.perf_counter() - start)
        trials += make_trials([assignment], start=len(trials) + 1, objective=problem.fn)
    return times[0], statistics.median(times[1:])


def run(method: str, problem: CProblem, budget: int, seed: int) -> list[float]:
    if method == "random":
        return run_random(problem, budget, seed)
    if method.startswith("tunery-"):
        return run_tunery(method.removeprefix("tunery-"), problem, budget, seed)
    if method.startswith("optuna-"):
        return run_optuna(method.removeprefix("optuna-"), problem, budget, seed)
    raise SystemExit(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


# --------------------------------------------------------------------------- driver


def _key(problem: str, method: str, seed: int, budget: int) -> str:
    return f"{problem}|{method}|{seed}|{budget}"


def collect(args: argparse.Namespace, cache_: dict[str, list[float]], path: Path) -> None:
    budget = max(args.budgets)
    jobs = [(p, m, s) for s in range(args.seeds) for p in args.problems for m in args.methods]
    for n, (problem, method, seed) in enumerate(jobs, start=1):
        k = _key(problem, method, seed, budget)
        if k in cache_:
            continue
        start = time.perf_counter()
        values = run(method, PROBLEMS[problem], budget, seed)
        cache_[k] = values
        path.write_text(json.dumps(cache_))
        print(
            f"[{n}/{len(jobs)}] {problem:<13} {method:<28} seed {seed}: best {min(values):.5g} "
            f"in {time.perf_counter() - start:.1f}s",
            flush=True,
        )


def report(args: argparse.Namespace, cache_: dict[str, list[float]]) -> None:
    full = max(args.budgets)
    for problem in args.problems:
        runs: dict[str, list[list[float]]] = {}
        for method in args.methods:
            got = [cache_.get(_key(problem, method, s, full)) for s in range(args.seeds)]
            done = [r for r in got if r is not None]
            if done:
                runs[method] = done
        if "random" not in runs:
            continue
        seeds = min(len(r) for r in runs.values())
        for budget in args.budgets:
            bests = {m: [min(r[:budget]) for r in rs[:seeds]] for m, rs in runs.items()}
            known = PROBLEMS[problem].optimum
            seen = min(min(v) for v in bests.values())
            optimum = seen if known is None else min(known, seen)
            span = statistics.median(bests["random"]) - optimum
            regret = {m: statistics.mean(b) - optimum for m, b in bests.items()}
            ranks = _mean_ranks(bests, seeds)
            print(f"\n### {problem}, budget {budget}, {seeds} seeds")
            print(
                "| method | mean best ± se | mean rank | normalized score | regret / random "
                "| regret / optuna-tpe |"
            )
            print("|---|---|---|---|---|---|")
            for method in sorted(bests, key=lambda m: regret[m]):
                score = (
                    statistics.mean(100 * (1 - (b - optimum) / span) for b in bests[method])
                    if span > 0
                    else 100.0
                )
                ratios = [
                    f"{regret[method] / regret[o]:.2f}" if regret.get(o, 0) > 0 else "-"
                    for o in ("random", "optuna-tpe")
                ]
                values = bests[method]
                se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
                print(
                    f"| {method} | {statistics.mean(values):.4f} ± {se:.4f} | "
                    f"{ranks[method]:.2f} | {score:.1f} | {ratios[0]} | {ratios[1]} |"
                )


def _mean_ranks(bests: dict[str, list[float]], seeds: int) -> dict[str, float]:
    """Each method's rank among the methods on each seed (1 = best, ties shared), averaged."""
    totals = dict.fromkeys(bests, 0.0)
    for s in range(seeds):
        values = {m: b[s] for m, b in bests.items()}
        for method, value in values.items():
            below = sum(v < value for v in values.values())
            ties = sum(v == value for v in values.values())
            totals[method] += below + (ties + 1) / 2
    return {m: t / seeds for m, t in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--budgets", default="50,100")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache", default=str(HERE / "conditional_results.json"))
    parser.add_argument("--report", action="store_true", help="only print the tables")
    parser.add_argument(
        "--latency",
        type=int,
        metavar="N",
        help="time tunery's suggestions after N random trials of hier-synth instead",
    )
    args = parser.parse_args()
    if args.latency:
        print(f"| method | first suggestion after {args.latency} trials (s) | next ones (s) |")
        print("|---|---|---|")
        for method in [m for m in args.methods.split(",") if m.startswith("tunery-")]:
            cold, warm = latency(method, HIER, args.latency)
            print(f"| {method} | {cold:.2f} | {warm:.2f} |", flush=True)
        return
    args.problems = [p for p in args.problems.split(",") if p]
    args.methods = [m for m in args.methods.split(",") if m]
    args.budgets = sorted(int(b) for b in args.budgets.split(","))
    unknown = [p for p in args.problems if p not in PROBLEMS]
    if unknown:
        parser.error(f"unknown problems {unknown}; choose from {', '.join(PROBLEMS)}")
    path = Path(args.cache)
    cache_ = dict(json.loads(path.read_text())) if path.exists() else {}
    if not args.report:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        collect(args, cache_, path)
    report(args, cache_)


if __name__ == "__main__":
    main()
