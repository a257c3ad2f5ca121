"""Multi-objective and constrained tuning: tunery's algorithms against Optuna's samplers.

Every method tunes the same problems (every objective minimised, see
:mod:`tunery.testing.multiobjective`), one evaluation at a time, and is scored by the hypervolume
of its feasible trials' front after 50 and 100 evaluations, against each problem's fixed
reference point (higher is better):

- ``zdt1``, ``zdt2``, ``zdt3``: two objectives over 10 doubles (convex, concave, disconnected
  fronts); reference (1.1, 11);
- ``dtlz2``: three objectives over 6 doubles (a spherical front); reference (2.5, 2.5, 2.5);
- ``c-zdt1``: ``zdt1`` over 5 doubles with ``x0 + x1 + x2 <= 0.6`` (3.6% of the space feasible);
- ``tree``: a scikit-learn decision tree on the bundled digits data: validation error against
  the number of leaves (max_depth, min_samples_leaf, max_features, criterion: a mixed space);
  reference (1, 256).

Methods: ``tunery-tpe``, ``tunery-nsga2``, ``tunery-bayesianoptimization`` (skipped where tunery
refuses several objectives for it), ``random`` (tunery's), and Optuna's ``TPESampler``
(multivariate, its default in Optuna 5), ``NSGAIISampler`` (its default population 50) and
``GPSampler``, told the constraints through ``Trial.set_constraint``.  Each method runs every
seed; the table shows the mean and standard deviation of the hypervolume, and the ratio of the
mean to the best Optuna sampler's on that problem.  Usage::

    python benchmarks/multiobjective.py                          # 5 seeds, every method
    python benchmarks/multiobjective.py --seeds 3 --methods tunery-tpe optuna-tpe
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tunery.errors import SpecError
from tunery.model import ParameterType, ParamValue, Trial
from tunery.testing import multiobjective as mo
from tunery.testing.suggest import categorical_param, double_param, int_param

CHECKPOINTS = (50, 100)


# --------------------------------------------------------------------------- the ML problem


def tree_problem() -> mo.Problem:
    """A decision tree on the digits data: validation error vs number of leaves."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = train_test_split(x, y, test_size=0.3, random_state=0)
    cache: dict[tuple[Any, ...], dict[str, float]] = {}

    def metrics(params: Mapping[str, ParamValue]) -> dict[str, float]:
        key = tuple(sorted(params.items()))
        if key not in cache:
            model = DecisionTreeClassifier(
                max_depth=int(params["max_depth"]),
                min_samples_leaf=int(params["min_samples_leaf"]),
                max_features=float(params["max_features"]),
                criterion=str(params["criterion"]),
                random_state=0,
            ).fit(x_train, y_train)
            error = 1.0 - float(model.score(x_valid, y_valid))
            cache[key] = {"error": error, "leaves": float(model.get_n_leaves())}
        return cache[key]

    parameters = (
        int_param("max_depth", "1", "20"),
        int_param("min_samples_leaf", "1", "40"),
        double_param("max_features", "0.1", "1.0"),
        categorical_param("criterion", ["gini", "entropy"]),
    )
    return mo.Problem("tree", parameters, ("error", "leaves"), (), (1.0, 256.0), metrics)


def problems() -> dict[str, Callable[[], mo.Problem]]:
    return {
        "zdt1": lambda: mo.zdt1(10),
        "zdt2": lambda: mo.zdt2(10),
        "zdt3": lambda: mo.zdt3(10),
        "dtlz2": lambda: mo.dtlz2(6),
        "c-zdt1": lambda: mo.constrained_zdt1(5),
        "tree": tree_problem,
    }


# --------------------------------------------------------------------------- methods


def _tunery(algorithm: str) -> Callable[[mo.Problem, int, int], list[Trial] | None]:
    def run(problem: mo.Problem, evaluations: int, seed: int) -> list[Trial] | None:
        try:
            return mo.run(problem, algorithm, evaluations, seed)
        except SpecError:
            return None  # tunery refuses this problem for the algorithm

    return run


def _optuna(kind: str) -> Callable[[mo.Problem, int, int], list[Trial] | None]:
    def run(problem: mo.Problem, evaluations: int, seed: int) -> list[Trial] | None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        # Constraints through Trial.set_constraint (Optuna 5; constraints_func is deprecated).
        sampler: Any
        if kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        elif kind == "nsga2":
            sampler = optuna.samplers.NSGAIISampler(seed=seed)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed)
        study = optuna.create_study(
            directions=["minimize"] * len(problem.objectives), sampler=sampler
        )
        trials: list[Trial] = []
        for _ in range(evaluations):
            trial = study.ask()
            params: dict[str, ParamValue] = {}
            for p in problem.parameters:
                fs = p.feasible_space
                if p.parameter_type is ParameterType.CATEGORICAL:
                    params[p.name] = trial.suggest_categorical(p.name, list(fs.list))
                elif p.parameter_type is ParameterType.INT:
                    params[p.name] = trial.suggest_int(p.name, int(fs.min), int(fs.max))  # type: ignore[arg-type]
                else:
                    params[p.name] = trial.suggest_float(p.name, float(fs.min), float(fs.max))  # type: ignore[arg-type]
            result = mo.trial_of(problem, len(trials) + 1, params)
            values = mo.values_of(result)
            for i, violation in enumerate(problem.violations(values)):
                trial.set_constraint(f"c{i}", violation)
            study.tell(trial, [values[m] for m in problem.objectives])
            trials.append(result)
        return trials

    return run


METHODS: dict[str, Callable[[mo.Problem, int, int], list[Trial] | None]] = {
    "random": _tunery("random"),
    "tunery-tpe": _tunery("tpe"),
    "tunery-nsga2": _tunery("nsga2"),
    "tunery-bayesianoptimization": _tunery("bayesianoptimization"),
    "optuna-tpe": _optuna("tpe"),
    "optuna-nsga2": _optuna("nsga2"),
    "optuna-gp": _optuna("gp"),
}


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--problems", nargs="*", default=list(problems()))
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    args = parser.parse_args(argv)
    makers = problems()
    for name in args.problems:
        problem = makers[name]()
        print(f"\n### {name}: hypervolume after {' and '.join(map(str, CHECKPOINTS))} evaluations")
        rows: dict[str, list[list[float]]] = {}
        seconds: dict[str, float] = {}
        for method in args.methods:
            started = time.perf_counter()
            scores: list[list[float]] = []
            for seed in range(args.seeds):
                trials = METHODS[method](problem, max(CHECKPOINTS), seed)
                if trials is None:
                    break
                scores.append([mo.hypervolume_of(problem, trials[:k]) for k in CHECKPOINTS])
            if scores:
                rows[method] = scores
                seconds[method] = time.perf_counter() - started
            print(f"  ({method}: {time.perf_counter() - started:.1f} s)", file=sys.stderr)
        means = {
            m: [statistics.mean(s[i] for s in v) for i in range(len(CHECKPOINTS))]
            for m, v in rows.items()
        }
        optuna_best = [
            max((means[m][i] for m in means if m.startswith("optuna-")), default=float("nan"))
            for i in range(len(CHECKPOINTS))
        ]
        header = " | ".join(f"HV@{k} (vs best Optuna)" for k in CHECKPOINTS)
        print(f"\n| method | {header} | seconds |")
        print("|---|" + "---|" * len(CHECKPOINTS) + "---|")
        for method, scores in rows.items():
            cells = []
            for i in range(len(CHECKPOINTS)):
                values = [s[i] for s in scores]
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                ratio = f" ({means[method][i] / optuna_best[i]:.3f})" if optuna_best[i] > 0 else ""
                cells.append(f"{means[method][i]:.4g} ± {spread:.2g}{ratio}")
            print(f"| {method} | {' | '.join(cells)} | {seconds[method]:.0f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
