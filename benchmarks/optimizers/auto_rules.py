"""The regimes where ``algorithmName: auto`` does not pick the GP, measured.

``suite.py``'s problems have at most six parameters and budgets of at most 100, where ``auto``
always runs ``bayesianoptimization``.  This script runs the other two regimes of its rules
(``tunery/suggest/auto.py``), each against the algorithms ``auto`` passed over:

* ``rosenbrock20``/``ackley20`` (20 doubles, 200 evaluations): a small budget, auto runs the GP
  (an earlier rule ran ``cmaes`` here: the GP was far better, so the rule changed);
* ``rosenbrock20-large`` (the same, 1000 evaluations): auto runs ``cmaes`` (the GP is left out:
  minutes per run at this size);
* ``categorical8`` (8 categorical parameters of 5 values and 2 doubles, 100 evaluations): auto
  runs ``tpe``.

It prints the mean best value per method (lower is better) and the mean seconds per run::

    OMP_NUM_THREADS=1 python benchmarks/optimizers/auto_rules.py --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from peers import run  # noqa: E402
from problems import Param, Problem, _box, ackley, rosenbrock  # noqa: E402

_COSTS = [[(3 * i + 7 * j) % 5 / 4 for j in range(5)] for i in range(8)]


def categorical8(p: dict[str, Any]) -> float:
    """Eight categorical choices each with its own cost (the best one is 0), plus a bowl."""
    total = sum(_COSTS[i][int(p[f"c{i}"][1:])] for i in range(8))
    return total + (p["x0"] - 0.3) ** 2 + (p["x1"] - 0.7) ** 2


REGIMES: dict[str, tuple[Problem, int, tuple[str, ...]]] = {
    "rosenbrock20": (
        Problem("rosenbrock20", _box("x", 20, -2.048, 2.048), rosenbrock, 0.0),
        200,
        ("tunery-auto", "tunery-cmaes", "tunery-tpe", "tunery-bayesianoptimization", "random"),
    ),
    "ackley20": (
        Problem("ackley20", _box("x", 20, -32.768, 32.768), ackley, 0.0),
        200,
        ("tunery-auto", "tunery-cmaes", "tunery-tpe", "tunery-bayesianoptimization", "random"),
    ),
    "rosenbrock20-large": (
        Problem("rosenbrock20", _box("x", 20, -2.048, 2.048), rosenbrock, 0.0),
        1000,
        ("tunery-auto", "tunery-cmaes", "tunery-tpe", "random"),
    ),
    "categorical8": (
        Problem(
            "categorical8",
            tuple(
                Param(f"c{i}", "categorical", choices=tuple(f"v{j}" for j in range(5)))
                for i in range(8)
            )
            + _box("x", 2, 0, 1),
            categorical8,
            0.0,
        ),
        100,
        ("tunery-auto", "tunery-tpe", "tunery-bayesianoptimization", "random"),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cache", default=str(HERE / "auto_rules.json"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    path = Path(args.cache)
    cache: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for name in [r for r in args.regimes.split(",") if r]:
        problem, budget, methods = REGIMES[name]
        print(f"\n{name}, {budget} evaluations, {args.seeds} seeds: mean best (lower is better)")
        for method in methods:
            bests, seconds = [], []
            for seed in range(args.seeds):
                key = f"{name}|{method}|{seed}"
                if key not in cache:
                    start = time.perf_counter()
                    values = run(method, problem, budget, seed, 1)
                    cache[key] = {"best": min(values), "seconds": time.perf_counter() - start}
                    path.write_text(json.dumps(cache))
                bests.append(cache[key]["best"])
                seconds.append(cache[key]["seconds"])
            print(
                f"| {method} | {statistics.mean(bests):.4g} | {statistics.mean(seconds):.0f} s |",
                flush=True,
            )


if __name__ == "__main__":
    main()
