"""One runner per optimiser: ``run(method, problem, budget, seed, batch) -> values``.

``values`` are the objective values in evaluation order.  With ``batch > 1`` each optimiser is
asked for ``batch`` points before any of them is evaluated (its own batch mechanism: constant
liar for Optuna TPE, ``cl_min`` for scikit-optimize, ``max_queue_len`` for hyperopt, pending
trials for tunery), which is what parallel trials do.

Methods: ``tunery-<algorithm>`` (any registered algorithm: ``tunery-tpe``, ``tunery-cmaes``...),
``tunery-tpe-independent`` (``tpe`` with ``multivariate: "false"``),
``optuna-tpe`` (Optuna's default TPE: multivariate since Optuna 5), ``optuna-tpe-independent``,
``optuna-gp``, ``optuna-cmaes``, ``skopt-gp``, ``hyperopt-tpe``, ``random``, and the
black-box peers of the ``bench`` extra: ``ax`` (Ax's default generation strategy, Sobol then
BoTorch, through its ``Client``), ``hebo`` (HEBO's default optimiser) and ``smac-bb`` /
``smac-hpo`` (SMAC3's BlackBoxFacade and HyperparameterOptimizationFacade).  Each runs with its
library's defaults; the problems are deterministic and SMAC is told so.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from problems import Param, Problem, random_point


def _batches(budget: int, batch: int) -> list[int]:
    sizes = [batch] * (budget // batch)
    if budget % batch:
        sizes.append(budget % batch)
    return sizes


def run_random(problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(budget):
        point = random_point(problem, rng)
        values.append(problem.fn(point))
    return values


def tunery_optimizer(
    algorithm: str, problem: Problem, seed: int | None = None, budget: int | None = None
) -> Any:
    """A ``tunery.Optimizer`` over ``problem``'s parameters (minimising).

    ``algorithm`` is a registered name, or ``tpe-independent``: ``tpe`` with one model per
    parameter (``multivariate: "false"``).  ``auto`` is told the budget (``max_trial_count``):
    its choice depends on it; the other algorithms run as before, without one.
    """
    import tunery

    settings: dict[str, str] = {}
    if algorithm == "tpe-independent":
        algorithm, settings = "tpe", {"multivariate": "false"}
    space: dict[str, Any] = {}
    for p in problem.params:
        if p.kind == "categorical":
            space[p.name] = tunery.search.categorical(list(p.choices))
        elif p.kind == "int":
            space[p.name] = tunery.search.int(int(p.low), int(p.high))
        else:
            space[p.name] = tunery.search.double(p.low, p.high, log=p.log)
    extra: dict[str, Any] = {"max_trial_count": budget} if algorithm == "auto" else {}
    return tunery.Optimizer(
        space, algorithm=algorithm, objective="minimize", seed=seed, settings=settings, **extra
    )


def run_tunery(algorithm: str, problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    opt = tunery_optimizer(algorithm, problem, seed, budget)
    values = []
    for size in _batches(budget, batch):
        suggestions = opt.ask(size)
        if not suggestions:
            break
        results = [problem.fn(s.params) for s in suggestions]
        for s, v in zip(suggestions, results, strict=True):
            opt.tell(s, v)
        values.extend(results)
    return values


def _optuna_params(trial: Any, params: tuple[Param, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in params:
        if p.kind == "categorical":
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
        else:
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return out


def run_optuna(kind: str, problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if kind in ("tpe", "tpe-independent"):
        # Optuna >= 5 runs the multivariate TPE by default ("tpe"); "tpe-independent" is the
        # classic one-parameter-at-a-time TPE (Optuna < 5's default, and hyperopt's method).
        multivariate = None if kind == "tpe" else False
        sampler: Any = optuna.samplers.TPESampler(
            seed=seed, constant_liar=batch > 1, multivariate=multivariate
        )
    elif kind == "gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    else:
        sampler = optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    values = []
    for size in _batches(budget, batch):
        trials = [study.ask() for _ in range(size)]
        points = [_optuna_params(t, problem.params) for t in trials]
        results = [problem.fn(p) for p in points]
        for t, v in zip(trials, results, strict=True):
            study.tell(t, v)
        values.extend(results)
    return values


def run_skopt(problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    from skopt import Optimizer
    from skopt.space import Categorical, Integer, Real

    dims = []
    for p in problem.params:
        if p.kind == "categorical":
            dims.append(Categorical(list(p.choices), name=p.name))
        elif p.kind == "int":
            dims.append(Integer(int(p.low), int(p.high), name=p.name))
        else:
            dims.append(
                Real(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name)
            )
    # Katib's bayesianoptimization defaults: GP, 10 initial points, gp_hedge, auto.
    opt = Optimizer(
        dims, base_estimator="GP", n_initial_points=10, acq_func="gp_hedge", random_state=seed
    )
    names = [p.name for p in problem.params]
    values: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for size in _batches(budget, batch):
            xs = opt.ask(n_points=size, strategy="cl_min") if size > 1 else [opt.ask()]
            results = [
                problem.fn(
                    {
                        n: (v.item() if hasattr(v, "item") else v)
                        for n, v in zip(names, x, strict=True)
                    }
                )
                for x in xs
            ]
            opt.tell(xs, results)
            values.extend(results)
    return values


def run_hyperopt(problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    from hyperopt import STATUS_OK, Trials, fmin, hp, tpe

    space: dict[str, Any] = {}
    for p in problem.params:
        if p.kind == "categorical":
            space[p.name] = hp.choice(p.name, list(p.choices))
        elif p.kind == "int":
            space[p.name] = hp.uniformint(p.name, int(p.low), int(p.high))
        elif p.log:
            space[p.name] = hp.loguniform(p.name, math.log(p.low), math.log(p.high))
        else:
            space[p.name] = hp.uniform(p.name, p.low, p.high)
    values: list[float] = []

    def objective(point: dict[str, Any]) -> dict[str, Any]:
        point = {k: (int(v) if isinstance(v, float) and k in ints else v) for k, v in point.items()}
        value = problem.fn(point)
        values.append(value)
        return {"loss": value, "status": STATUS_OK}

    ints = {p.name for p in problem.params if p.kind == "int"}
    fmin(
        objective,
        space,
        algo=tpe.suggest,
        max_evals=budget,
        trials=Trials(),
        rstate=np.random.default_rng(seed),
        max_queue_len=batch,
        show_progressbar=False,
    )
    return values


def _ax_bounds(p: Param) -> tuple[float, float, float, float]:
    """``(low, high, offset, scale)`` for Ax: its value ``v`` is ``offset + scale * v`` here.

    Ax refuses float ranges narrower than ``100 * 1.5e-7`` ("likely to cause numerical
    errors"); such a range is mapped onto ``[0, 1]`` (``[1, high / low]`` on a log scale, which
    keeps the log scale), and mapped back before the objective sees the value.
    """
    if p.kind != "double" or p.high - p.low >= 1e-3:
        return p.low, p.high, 0.0, 1.0
    if p.log:
        return 1.0, p.high / p.low, 0.0, p.low
    return 0.0, 1.0, p.low, p.high - p.low


def run_ax(problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    import logging

    from ax import ChoiceParameterConfig, Client, RangeParameterConfig

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("ax"):
            logging.getLogger(name).setLevel(logging.ERROR)
    configs: list[Any] = []
    maps: dict[str, tuple[float, float]] = {}
    for p in problem.params:
        if p.kind == "categorical":
            configs.append(
                ChoiceParameterConfig(
                    name=p.name, values=list(p.choices), parameter_type="str", is_ordered=False
                )
            )
        elif p.kind == "int":
            configs.append(
                RangeParameterConfig(
                    name=p.name,
                    bounds=(int(p.low), int(p.high)),
                    parameter_type="int",
                    scaling="log" if p.log else None,
                )
            )
        else:
            low, high, offset, scale = _ax_bounds(p)
            maps[p.name] = (offset, scale)
            configs.append(
                RangeParameterConfig(
                    name=p.name,
                    bounds=(low, high),
                    parameter_type="float",
                    scaling="log" if p.log else None,
                )
            )
    client = Client(random_seed=seed)
    client.configure_experiment(parameters=configs)
    client.configure_optimization(objective="-loss")  # Ax maximises; "-loss" minimises loss
    values: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while len(values) < budget:
            trials = client.get_next_trials(max_trials=min(batch, budget - len(values)))
            if not trials:
                break
            results = {}
            for index, raw in trials.items():
                point = dict(raw)
                for name, (offset, scale) in maps.items():
                    point[name] = offset + scale * float(point[name])  # type: ignore[arg-type]
                results[index] = problem.fn(point)
            for index, value in results.items():
                client.complete_trial(trial_index=index, raw_data={"loss": value})
            values.extend(results.values())
    return values


def run_hebo(problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    import contextlib
    import io

    import hebo.acq_optimizers.evolution_optimizer as evolution
    import pandas as pd
    import torch
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO
    from pymoo.optimize import minimize

    # HEBO optimises its acquisition with pymoo and passes it no seed, and pymoo >= 0.6.1 then
    # draws fresh entropy: give each of its runs a seed from this run's seed.
    pymoo_seeds = np.random.default_rng(seed)

    def seeded_minimize(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("seed", int(pymoo_seeds.integers(2**31)))
        return minimize(*args, **kwargs)

    evolution.minimize = seeded_minimize  # type: ignore[attr-defined]
    np.random.seed(seed)  # HEBO also draws from the global NumPy and torch generators
    torch.manual_seed(seed)
    spec: list[dict[str, Any]] = []
    for p in problem.params:
        if p.kind == "categorical":
            spec.append({"name": p.name, "type": "cat", "categories": list(p.choices)})
        elif p.kind == "int":
            kind = "pow_int" if p.log else "int"
            spec.append({"name": p.name, "type": kind, "lb": int(p.low), "ub": int(p.high)})
        else:
            kind = "pow" if p.log else "num"
            spec.append({"name": p.name, "type": kind, "lb": p.low, "ub": p.high})
    opt = HEBO(DesignSpace().parse(spec), scramble_seed=seed)
    ints = {p.name for p in problem.params if p.kind == "int"}
    values: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for size in _batches(budget, batch):
            with contextlib.redirect_stdout(io.StringIO()):  # HEBO prints its GP's jitter
                rec: pd.DataFrame = opt.suggest(n_suggestions=size)
            results = []
            for row in rec.to_dict(orient="records"):
                point = {
                    k: int(v) if k in ints else (v.item() if hasattr(v, "item") else v)
                    for k, v in row.items()
                }
                results.append(problem.fn(point))
            opt.observe(rec, np.array(results, dtype=float).reshape(-1, 1))
            values.extend(results)
    return values


def run_smac(facade: str, problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    import tempfile
    from pathlib import Path

    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
    from smac import BlackBoxFacade, HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    space = ConfigurationSpace(seed=seed)
    for p in problem.params:
        if p.kind == "categorical":
            space.add(Categorical(p.name, list(p.choices)))
        elif p.kind == "int":
            space.add(Integer(p.name, (int(p.low), int(p.high)), log=p.log))
        else:
            space.add(Float(p.name, (p.low, p.high), log=p.log))
    facades = {"bb": BlackBoxFacade, "hpo": HyperparameterOptimizationFacade}
    if facade not in facades:
        raise SystemExit(f"unknown SMAC facade {facade!r}: smac-bb or smac-hpo")
    values: list[float] = []
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # SMAC needs the budget up front (n_trials); its output goes to a scratch folder.
        scenario = Scenario(
            space, deterministic=True, n_trials=budget, seed=seed, output_directory=Path(out)
        )
        smac = facades[facade](
            scenario, lambda config, seed=0: 0.0, overwrite=True, logging_level=40
        )
        for size in _batches(budget, batch):
            infos = [smac.ask() for _ in range(size)]
            points = [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in dict(info.config).items()}
                for info in infos
            ]
            results = [problem.fn(point) for point in points]
            for info, value in zip(infos, results, strict=True):
                smac.tell(info, TrialValue(cost=value))
            values.extend(results)
    return values


def run(method: str, problem: Problem, budget: int, seed: int, batch: int) -> list[float]:
    if method == "random":
        return run_random(problem, budget, seed, batch)
    if method.startswith("tunery-"):
        return run_tunery(method.removeprefix("tunery-"), problem, budget, seed, batch)
    if method.startswith("optuna-"):
        return run_optuna(method.removeprefix("optuna-"), problem, budget, seed, batch)
    if method == "skopt-gp":
        return run_skopt(problem, budget, seed, batch)
    if method == "hyperopt-tpe":
        return run_hyperopt(problem, budget, seed, batch)
    if method == "ax":
        return run_ax(problem, budget, seed, batch)
    if method == "hebo":
        return run_hebo(problem, budget, seed, batch)
    if method.startswith("smac-"):
        return run_smac(method.removeprefix("smac-"), problem, budget, seed, batch)
    raise SystemExit(f"unknown method {method!r}")
