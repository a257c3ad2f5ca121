"""Suggestion latency of ``bayesianoptimization`` with several objectives and constraints.

A history of N random points of a test problem (ZDT1 for 2 objectives, DTLZ2 for 3 or 4; six
doubles, or ``--dims``), each a succeeded trial with every objective's metric (and, with
``--constraints 1``, a ``size`` metric bounded above by its median), is given to the
suggester; then the time of the next suggestion is measured, median of ``--repeat`` tries:

- ``cold``: a new suggester (no saved state: the GPs' hyperparameters are fitted from scratch);
- ``warm``: a suggester that made the previous suggestion (what a running controller holds:
  the fits are warm-started from its state);
- ``batch 4``: a warm suggester asked for four suggestions at once (fantasies).

Usage::

    python benchmarks/optimizers/mo_latency.py --sizes 50,200 --objectives 2,3,4 --constraints 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tunery.history import History
from tunery.model import (
    Constraint,
    ExperimentSpec,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Trial,
    TrialCondition,
)
from tunery.suggest import create_suggester
from tunery.testing.suggest import double_param, make_spec


def zdt1(x: np.ndarray) -> list[float]:
    g = 1.0 + 9.0 * float(np.mean(x[1:]))
    return [float(x[0]), g * (1.0 - math.sqrt(x[0] / g))]


def dtlz2(x: np.ndarray, m: int) -> list[float]:
    g = float(np.sum((x[m - 1 :] - 0.5) ** 2))
    out = []
    for i in range(m):
        v = 1.0 + g
        for j in range(m - 1 - i):
            v *= math.cos(x[j] * math.pi / 2)
        if i > 0:
            v *= math.sin(x[m - 1 - i] * math.pi / 2)
        out.append(v)
    return out


def build(
    objectives: int, dims: int, n: int, constraints: int, seed: int = 0
) -> tuple[ExperimentSpec, list[Trial]]:
    rng = np.random.default_rng(seed)
    params = [double_param(f"x{i}", "0", "1") for i in range(dims)]
    terms = tuple(
        ObjectiveTerm(f"f{i}", ObjectiveType.MINIMIZE, None, MetricStrategyType.LATEST)
        for i in range(objectives)
    )
    xs = rng.random((n, dims))
    sizes = xs[:, :2].sum(axis=1)
    bounds = (Constraint("size", max=float(np.median(sizes))),) if constraints else ()
    objective = Objective(ObjectiveType.MINIMIZE, "f0", terms=terms, constraints=bounds)
    spec = make_spec(params, "bayesianoptimization", objective=objective)
    trials = []
    for i, x in enumerate(xs):
        values = zdt1(x) if objectives == 2 else dtlz2(x, objectives)
        metrics = {f"f{j}": MetricSummary(v, v, v) for j, v in enumerate(values)}
        metrics["size"] = MetricSummary(float(sizes[i]), float(sizes[i]), float(sizes[i]))
        trials.append(
            Trial(
                name=f"t-{i}",
                experiment="t",
                index=i + 1,
                parameters={f"x{k}": float(v) for k, v in enumerate(x)},
                status=TrialCondition.SUCCEEDED,
                metrics=metrics,
                objective=values[0],
            )
        )
    return spec, trials


def measure(objectives: int, dims: int, n: int, constraints: int, repeat: int) -> list[float]:
    spec, trials = build(objectives, dims, n + 1, constraints)
    before = History.from_spec(spec, trials[:-1])
    history = History.from_spec(spec, trials)
    cold, warm, batch = [], [], []
    for _ in range(repeat):
        suggester = create_suggester(spec, 0)
        start = time.perf_counter()
        suggester.suggest(history, 1)
        cold.append(time.perf_counter() - start)
        suggester = create_suggester(spec, 0)
        suggester.suggest(before, 1)
        start = time.perf_counter()
        suggester.suggest(history, 1)
        warm.append(time.perf_counter() - start)
        start = time.perf_counter()
        suggester.suggest(history, 4)
        batch.append(time.perf_counter() - start)
    return [1000 * statistics.median(v) for v in (cold, warm, batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200", help="history sizes, comma-separated")
    parser.add_argument("--objectives", default="2", help="objective counts (2-4), comma-separated")
    parser.add_argument("--constraints", type=int, default=0, choices=(0, 1))
    parser.add_argument("--dims", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"bayesianoptimization suggestion latency, ms (median of {args.repeat}), "
        f"{args.dims} doubles, constraints: {args.constraints}"
    )
    print(f"{'objectives':>10} {'trials':>7} {'cold':>9} {'warm':>9} {'batch 4':>9}")
    for m in (int(v) for v in args.objectives.split(",")):
        for n in (int(v) for v in args.sizes.split(",")):
            cold, warm, batch = measure(m, args.dims, n, args.constraints, args.repeat)
            print(f"{m:>10} {n:>7} {cold:>9.1f} {warm:>9.1f} {batch:>9.1f}")


if __name__ == "__main__":
    main()
