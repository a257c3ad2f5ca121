"""Early stopping and multi-fidelity: tunery's stoppers and hyperband against Optuna's pruners.

Every method tunes the same learning-curve problem, minimising a validation loss reported once
per epoch, up to ``R`` epochs per configuration:

- ``random``: random search, every configuration trained for ``R`` epochs (the baseline);
- ``tunery-medianstop``, ``tunery-asha``, ``tunery-asha-3``: the same configurations, stopped
  early by tunery's ``medianstop`` (Katib's rule; min_trials_required 3, start_step 4) or
  ``asha`` (reduction_factor 3, min_resource 1 or 3), through the ask/tell API's ``should_stop``;
- ``tunery-hyperband``: Katib's ``hyperband`` (r_l = R, eta 3); it draws its own configurations
  and sets the epochs itself;
- ``optuna-median``, ``optuna-sha``, ``optuna-hyperband``: Optuna's ``MedianPruner``
  (n_startup_trials 3, n_warmup_steps 3: the same steps as medianstop), ``SuccessiveHalvingPruner``
  (reduction_factor 3, min_resource 1 or 3: ``optuna-sha``, ``optuna-sha-3``) and
  ``HyperbandPruner`` (min_resource 1, max_resource R, reduction_factor 3), on the same
  configurations as ``random`` (``enqueue_trial``).

Within a seed all methods but hyperband see the same ``N`` configurations in the same order.
Reported per method, averaged over seeds: the epochs trained in all (``steps``), the baseline's
steps divided by the method's (``x fewer``), and the *final quality*: the best loss at ``R``
epochs among the configurations trained that far (what a user would deploy), with how often
the method was at least as good as the baseline (paired by seed), and what random search
reaches with the method's steps (its first ``steps // R`` configurations).

Problems: ``curves``, a synthetic family whose curves cross (a high learning rate learns fast
and ends worse), and ``mlp``, scikit-learn's MLPClassifier on the bundled digits data set,
validation error after each ``partial_fit`` epoch (learning rate, L2 penalty, width, batch size).
Every configuration's curve is computed once per seed, lazily, and shared by the methods, so
each costs the same for all of them.  Usage::

    python benchmarks/multifidelity.py                       # both problems, 5 seeds
    python benchmarks/multifidelity.py --problems curves --seeds 20
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tunery

Config = dict[str, Any]


# --------------------------------------------------------------------------- problems


class Problem:
    """A search space and a learning curve per configuration, computed lazily and cached."""

    name = ""
    epochs = 27

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._curves: dict[tuple[Any, ...], list[float]] = {}
        self.trained = 0  # epochs computed (cost of the benchmark itself, not of a method)

    def space(self) -> dict[str, Any]:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Config:
        raise NotImplementedError

    def optuna_params(self, trial: Any) -> Config:
        raise NotImplementedError

    def _extend(self, config: Config, curve: list[float], upto: int) -> None:
        raise NotImplementedError

    def value(self, config: Config, epoch: int) -> float:
        """The validation loss of ``config`` after ``epoch`` epochs (1-based)."""
        key = tuple(sorted((k, v) for k, v in config.items() if k != "epochs"))
        curve = self._curves.setdefault(key, [])
        if len(curve) < epoch:
            before = len(curve)
            self._extend(config, curve, epoch)
            self.trained += len(curve) - before
        return curve[epoch - 1]


def _digest(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


class Curves(Problem):
    """Synthetic curves: loss(t) = final + (1 - final) * (t + 1) ** -speed + noise."""

    name = "curves"

    def space(self) -> dict[str, Any]:
        s = tunery.search
        return {
            "lr": s.double(1e-4, 1.0, log=True),
            "width": s.double(0.0, 1.0),
            "reg": s.double(0.0, 1.0),
            "momentum": s.double(0.0, 1.0),
        }

    def sample(self, rng: np.random.Generator) -> Config:
        return {
            "lr": float(math.exp(rng.uniform(math.log(1e-4), 0.0))),
            "width": float(rng.uniform()),
            "reg": float(rng.uniform()),
            "momentum": float(rng.uniform()),
        }

    def optuna_params(self, trial: Any) -> Config:
        return {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "width": trial.suggest_float("width", 0.0, 1.0),
            "reg": trial.suggest_float("reg", 0.0, 1.0),
            "momentum": trial.suggest_float("momentum", 0.0, 1.0),
        }

    def _extend(self, config: Config, curve: list[float], upto: int) -> None:
        u = (math.log(config["lr"]) - math.log(1e-4)) / -math.log(1e-4)  # lr on [0, 1]
        final = (
            0.05
            + 0.6 * (u - 0.55) ** 2
            + 0.25 * (config["reg"] - 0.25) ** 2
            + 0.15 * (1 - config["width"]) ** 2
            + 0.1 * (config["momentum"] - 0.8) ** 2
        )
        speed = 0.2 + 2.5 * u * (0.5 + config["momentum"])  # fast learners end worse
        rng = np.random.default_rng(_digest(self.seed, sorted(config.items())))
        for t in range(1, upto + 1):
            noise = rng.normal(0, 0.004)
            if t > len(curve):
                curve.append(final + (1 - final) * (t + 1) ** -speed + noise)


class Mlp(Problem):
    """scikit-learn's MLPClassifier on digits: validation error after each epoch."""

    name = "mlp"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        x, y = load_digits(return_X_y=True)
        self.data = train_test_split(x / 16.0, y, test_size=0.3, random_state=seed)
        self._models: dict[tuple[Any, ...], Any] = {}

    def space(self) -> dict[str, Any]:
        s = tunery.search
        return {
            "lr": s.double(1e-4, 0.5, log=True),
            "alpha": s.double(1e-6, 1e-1, log=True),
            "width": s.int(8, 128, log=True),
            "batch": s.discrete([16, 32, 64, 128]),
        }

    def sample(self, rng: np.random.Generator) -> Config:
        return {
            "lr": float(math.exp(rng.uniform(math.log(1e-4), math.log(0.5)))),
            "alpha": float(math.exp(rng.uniform(math.log(1e-6), math.log(1e-1)))),
            "width": round(math.exp(rng.uniform(math.log(8), math.log(128)))),
            "batch": int(rng.choice([16, 32, 64, 128])),
        }

    def optuna_params(self, trial: Any) -> Config:
        return {
            "lr": trial.suggest_float("lr", 1e-4, 0.5, log=True),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "width": trial.suggest_int("width", 8, 128, log=True),
            "batch": trial.suggest_categorical("batch", [16, 32, 64, 128]),
        }

    def _extend(self, config: Config, curve: list[float], upto: int) -> None:
        from sklearn.neural_network import MLPClassifier

        key = tuple(sorted((k, v) for k, v in config.items() if k != "epochs"))
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = MLPClassifier(
                hidden_layer_sizes=(int(config["width"]),),
                learning_rate_init=float(config["lr"]),
                alpha=float(config["alpha"]),
                batch_size=int(config["batch"]),
                random_state=_digest(self.seed, key) % (2**31),
            )
        x_train, x_val, y_train, y_val = self.data
        classes = np.arange(10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while len(curve) < upto:
                model.partial_fit(x_train, y_train, classes=classes)
                curve.append(1.0 - float(model.score(x_val, y_val)))


PROBLEMS: dict[str, Callable[[int], Problem]] = {"curves": Curves, "mlp": Mlp}


# --------------------------------------------------------------------------- methods


class Run:
    """What one method did on one seed."""

    def __init__(self) -> None:
        self.steps = 0
        self.configs = 0
        self.finals: list[float] = []  # losses at the full budget

    def best_final(self) -> float:
        return min(self.finals) if self.finals else math.inf


def run_tunery(
    problem: Problem, configs: list[Config], stopper: str | None, min_resource: int = 1
) -> Run:
    settings: dict[str, dict[str, Any]] = {
        "medianstop": {"min_trials_required": 3, "start_step": 4},
        "asha": {
            "min_resource": min_resource,
            "reduction_factor": 3,
            "max_resource": problem.epochs,
        },
    }
    opt = tunery.Optimizer(
        problem.space(),
        algorithm="random",
        seed=problem.seed,
        early_stopping=stopper,
        early_stopping_settings=settings.get(stopper or ""),
    )
    run = Run()
    for config in configs:
        opt.enqueue(config)
        s = opt.ask()
        run.configs += 1
        for epoch in range(1, problem.epochs + 1):
            value = problem.value(s.params, epoch)
            run.steps += 1
            if opt.should_stop(s, epoch, value):
                break
        else:
            opt.tell(s, value)
            run.finals.append(value)
    return run


def run_hyperband(problem: Problem, configs: list[Config]) -> Run:
    space = {**problem.space(), "epochs": tunery.search.int(1, problem.epochs)}
    opt = tunery.Optimizer(
        space,
        algorithm="hyperband",
        seed=problem.seed,
        settings={"resource_name": "epochs", "r_l": problem.epochs, "eta": 3},
    )
    run = Run()
    seen: set[tuple[Any, ...]] = set()
    while True:
        batch = opt.ask(64)
        if not batch:
            break
        for s in batch:
            epochs = int(s.params["epochs"])
            key = tuple(sorted((k, v) for k, v in s.params.items() if k != "epochs"))
            if key not in seen:
                seen.add(key)
                run.configs += 1
            # A promotion is a new trial from scratch, as in Katib: it trains all its epochs.
            value = problem.value(s.params, epochs)
            run.steps += epochs
            opt.tell(s, value)
            if epochs == problem.epochs:
                run.finals.append(value)
    return run


def run_optuna(
    problem: Problem, configs: list[Config], pruner_name: str, min_resource: int = 1
) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruners: dict[str, Any] = {
        "median": optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3),
        "sha": optuna.pruners.SuccessiveHalvingPruner(
            min_resource=min_resource, reduction_factor=3
        ),
        "hyperband": optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=problem.epochs, reduction_factor=3
        ),
    }
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=problem.seed),
        pruner=pruners[pruner_name],
    )
    run = Run()
    for config in configs:
        study.enqueue_trial(config)
        trial = study.ask()
        params = problem.optuna_params(trial)
        run.configs += 1
        for epoch in range(1, problem.epochs + 1):
            value = problem.value(params, epoch)
            run.steps += 1
            trial.report(value, epoch)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, value)
            run.finals.append(value)
    return run


METHODS: dict[str, Callable[[Problem, list[Config]], Run]] = {
    "random": lambda p, c: run_tunery(p, c, None),
    "tunery-medianstop": lambda p, c: run_tunery(p, c, "medianstop"),
    "tunery-asha": lambda p, c: run_tunery(p, c, "asha"),
    "tunery-asha-3": lambda p, c: run_tunery(p, c, "asha", min_resource=3),
    "tunery-hyperband": run_hyperband,
    "optuna-median": lambda p, c: run_optuna(p, c, "median"),
    "optuna-sha": lambda p, c: run_optuna(p, c, "sha"),
    "optuna-sha-3": lambda p, c: run_optuna(p, c, "sha", min_resource=3),
    "optuna-hyperband": lambda p, c: run_optuna(p, c, "hyperband"),
}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="curves,mlp")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--configs", type=int, default=81, help="configurations per run")
    args = parser.parse_args()
    methods = args.methods.split(",")
    for name in args.problems.split(","):
        runs: dict[str, list[Run]] = {m: [] for m in methods}
        started = time.perf_counter()
        for seed in range(args.seeds):
            problem = PROBLEMS[name](seed)
            rng = np.random.default_rng([seed, 7])
            configs = [problem.sample(rng) for _ in range(args.configs)]
            for method in methods:
                runs[method].append(METHODS[method](problem, configs))
            print(
                f"{name} seed {seed}: done ({problem.trained} epochs computed, "
                f"{time.perf_counter() - started:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
        report(name, args, runs)


def report(name: str, args: argparse.Namespace, runs: dict[str, list[Run]]) -> None:
    base = runs.get("random")
    epochs = PROBLEMS[name](0).epochs
    print(
        f"\n### {name}: {args.configs} configurations x up to {epochs} "
        f"epochs, {args.seeds} seeds (lower loss is better)\n"
    )
    print(
        "| method | configs | steps | x fewer steps | best final loss | >= random "
        "| random with as many steps |"
    )
    print("|---|---|---|---|---|---|---|")
    for method, got in runs.items():
        steps = statistics.mean(r.steps for r in got)
        finals = [r.best_final() for r in got]
        ratio = statistics.mean(b.steps for b in base) / steps if base else float("nan")
        wins = (
            sum(f <= b.best_final() + 1e-12 for f, b in zip(finals, base, strict=True))
            if base
            else 0
        )
        spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
        # Random search given the method's steps: its first steps // R configurations.
        same = (
            statistics.mean(
                min(b.finals[: max(1, r.steps // epochs)]) for r, b in zip(got, base, strict=True)
            )
            if base
            else float("nan")
        )
        print(
            f"| {method} | {statistics.mean(r.configs for r in got):.0f} | {steps:.0f} "
            f"| {ratio:.2f}x | {statistics.mean(finals):.4f} ± {spread:.4f} "
            f"| {wins}/{len(got)} | {same:.4f} |"
        )


if __name__ == "__main__":
    main()
