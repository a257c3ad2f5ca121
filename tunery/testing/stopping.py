"""The early-stopper contract suite.

Every early stopper registered in :mod:`tunery.stopping.base` must pass these checks; they are
plain functions so that a test module can parametrize them over
:func:`tunery.stopping.available` (stoppers added later included), as
:mod:`tunery.testing.suggest` does for suggesters.  Each takes a stopper name and a
:data:`SpecFactory` (a valid spec with that early stopper; the default gives it no settings) and
raises ``AssertionError`` with a message when the contract is broken:

- :func:`check_decides_only_running`: decisions name running trials only (never a completed,
  failed, killed or created one), each with a non-empty string reason;
- :func:`check_deterministic`: two fresh stoppers fed the same histories decide the same;
- :func:`check_leaves_history_alone`: ``decide`` changes neither the trials nor the curves;
- :func:`check_tolerates_odd_curves`: an empty history, trials without a curve, and curves with
  NaN, infinite or missing values are decided on without an error;
- :func:`check_survives_thinning`: a curve thinned in place between two calls (as the controller
  does past 10,000 points, :mod:`tunery.thinning`) is read again without an error.

:func:`multi_objective_spec_factory` gives the checks a spec with two objectives and a
constraint: the simulated trials then report every objective's and constraint's metric at each
step, and the stopper reads them through ``History.curves_of``.

:func:`run_contract` runs them all.  Histories are simulated tick by tick (:func:`simulate`):
trials run a few at a time and report one step per tick, some better than others; completed
ones have reported every step; what the stopper decides is applied (``EarlyStopped``) before
the next tick.  Alongside the running ones, the history holds a created, a failed and a killed
trial with bad curves, which no stopper may stop.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from tunery.curves import stopping_metrics
from tunery.history import History
from tunery.model import (
    Constraint,
    EarlyStoppingSpec,
    ExperimentSpec,
    MetricStrategyType,
    ObjectiveTerm,
    ObjectiveType,
    Observation,
    Trial,
    TrialCondition,
)
from tunery.stopping import EarlyStopper, create_stopper
from tunery.testing.suggest import OBJECTIVE_METRIC, double_param, make_spec

__all__ = [
    "CHECKS",
    "SpecFactory",
    "check_decides_only_running",
    "check_deterministic",
    "check_leaves_history_alone",
    "check_survives_thinning",
    "check_tolerates_odd_curves",
    "default_spec_factory",
    "multi_objective_spec_factory",
    "run_contract",
    "simulate",
]

#: Builds a valid spec using early stopper ``name``.
SpecFactory = Callable[[str], ExperimentSpec]

#: ``(tick, history) -> None``: changes the curves in place before the stopper sees them.
Tamper = Callable[[int, dict[str, list[Observation]]], None]

_S = TrialCondition


def default_spec_factory(name: str) -> ExperimentSpec:
    """A random-search spec minimising :data:`OBJECTIVE_METRIC`, stopped by ``name``."""
    spec = make_spec([double_param("x", "0", "1")], "random")
    return dataclasses.replace(spec, early_stopping=EarlyStoppingSpec(name))


def multi_objective_spec_factory(name: str) -> ExperimentSpec:
    """:func:`default_spec_factory` with two objectives (minimise :data:`OBJECTIVE_METRIC`,
    maximise ``score``) and a constraint (``size`` at most 1.2), stopped by ``name``."""
    spec = default_spec_factory(name)
    terms = (
        ObjectiveTerm(OBJECTIVE_METRIC, ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
        ObjectiveTerm("score", ObjectiveType.MAXIMIZE, None, MetricStrategyType.MAX),
    )
    objective = dataclasses.replace(
        spec.objective, terms=terms, constraints=(Constraint("size", None, 1.2),)
    )
    return dataclasses.replace(spec, objective=objective)


Curves = dict[str, dict[str, list[Observation]]]


def _bystanders(metrics: Sequence[str]) -> tuple[list[Trial], Curves]:
    """A created, a failed and a killed trial, with curves far worse than any other."""
    trials: list[Trial] = []
    curves: Curves = {metric: {} for metric in metrics}
    for i, status in enumerate((_S.CREATED, _S.FAILED, _S.KILLED), start=1):
        name = f"bystander-{i}"
        trials.append(Trial(name, "contract", -i, {"x": 0.5}, status=status))
        for metric in metrics:
            curves[metric][name] = [Observation(name, metric, 1e6, step) for step in range(1, 40)]
    return trials, curves


def simulate(
    stopper: EarlyStopper,
    spec: ExperimentSpec,
    *,
    seed: int = 0,
    total: int = 14,
    parallel: int = 4,
    steps: int = 12,
    tamper: Tamper | None = None,
) -> list[dict[str, str]]:
    """Ticks until every trial ended; returns the decisions of each tick.

    Checks on every tick that the stopper stops running trials only, with string reasons, and
    that it changed neither the trials nor the curves.
    """
    metrics = stopping_metrics(spec.objective)
    rng = np.random.default_rng(seed)
    bystanders, curves = _bystanders(metrics)
    trials: dict[str, Trial] = {t.name: t for t in bystanders}
    quality: dict[str, float] = {}
    #: The other metrics' levels of each trial (drawn only when there are other metrics).
    levels: dict[str, list[float]] = {}
    started = 0
    log: list[dict[str, str]] = []
    for tick in range(total * steps + 1):
        running = [t for t in trials.values() if t.status is _S.RUNNING]
        while len(running) < parallel and started < total:
            started += 1
            name = f"trial-{started:03d}"
            quality[name] = float(rng.random())
            if len(metrics) > 1:
                levels[name] = [float(v) for v in rng.random(len(metrics) - 1)]
            trial = Trial(name, "contract", started, {"x": quality[name]}, status=_S.RUNNING)
            trials[name] = trial
            for metric in metrics:
                curves[metric][name] = []
            running.append(trial)
        if not running:
            break
        for trial in running:
            curve = curves[metrics[0]][trial.name]
            step = curve[-1].step + 1 if curve else 1
            value = quality[trial.name] + 1.0 / step + 0.01 * float(rng.standard_normal())
            curve.append(Observation(trial.name, metrics[0], value, step))
            for metric, level in zip(metrics[1:], levels.get(trial.name, ()), strict=True):
                other = level + 1.0 / step + 0.01 * float(rng.standard_normal())
                curves[metric][trial.name].append(Observation(trial.name, metric, other, step))
            if len(curve) >= steps:
                trials[trial.name] = dataclasses.replace(
                    trial, status=_S.SUCCEEDED, objective=value
                )
        if tamper is not None:
            for by_trial in curves.values():
                tamper(tick, by_trial)
        decisions = _decide(stopper, spec, list(trials.values()), curves)
        log.append(decisions)
        for name in decisions:
            trials[name] = dataclasses.replace(trials[name], status=_S.EARLY_STOPPED)
    return log


def _decide(
    stopper: EarlyStopper,
    spec: ExperimentSpec,
    trials: list[Trial],
    curves: Curves,
) -> dict[str, str]:
    kept = {
        metric: {name: (curve, list(curve)) for name, curve in by_trial.items()}
        for metric, by_trial in curves.items()
    }
    history = History.from_spec(spec, trials, metric_curves=curves)
    decisions = stopper.decide(history)
    assert isinstance(decisions, dict), f"decide returned {type(decisions).__name__}, not dict"
    assert history.trials == tuple(trials), "decide changed the trials"
    for metric, by_trial in kept.items():
        assert set(curves[metric]) == set(by_trial), f"decide added or removed {metric} curves"
        for name, (curve, copy) in by_trial.items():
            assert curves[metric][name] is curve and curve == copy, (
                f"decide changed the {metric} curve of {name}"
            )
    running = {t.name for t in trials if t.status is _S.RUNNING}
    for name, reason in decisions.items():
        assert name in running, f"decided to stop {name!r}, which is not running"
        assert isinstance(reason, str) and reason.strip(), f"reason for {name!r}: {reason!r}"
    return decisions


def check_decides_only_running(name: str, spec_factory: SpecFactory = default_spec_factory) -> None:
    """Decisions name running trials only, with non-empty string reasons (see :func:`simulate`)."""
    spec = spec_factory(name)
    for seed in range(3):
        stopper = create_stopper(spec)
        assert stopper is not None
        simulate(stopper, spec, seed=seed)


def check_deterministic(name: str, spec_factory: SpecFactory = default_spec_factory) -> None:
    """Two fresh stoppers fed the same histories decide the same, tick by tick."""
    spec = spec_factory(name)
    runs = []
    for _ in range(2):
        stopper = create_stopper(spec)
        assert stopper is not None
        runs.append(simulate(stopper, spec, seed=7))
    assert runs[0] == runs[1], f"{name} is not deterministic"


def check_leaves_history_alone(name: str, spec_factory: SpecFactory = default_spec_factory) -> None:
    """``decide`` changes neither the trials nor the curves (checked on every tick)."""
    spec = spec_factory(name)
    stopper = create_stopper(spec)
    assert stopper is not None
    simulate(stopper, spec, seed=3, total=8, parallel=8)


def check_tolerates_odd_curves(name: str, spec_factory: SpecFactory = default_spec_factory) -> None:
    """Empty histories, missing curves and NaN/inf/None values decide without an error."""
    spec = spec_factory(name)
    stopper = create_stopper(spec)
    assert stopper is not None
    assert stopper.decide(History.from_spec(spec, [])) == {}, "an empty history stops someone"
    lonely = Trial("lonely", "contract", 1, {"x": 0.5}, status=_S.RUNNING)
    nothing: Curves = {metric: {} for metric in stopping_metrics(spec.objective)}
    assert _decide(stopper, spec, [lonely], nothing) == {}, "a trial without a curve was stopped"
    odd = (math.nan, math.inf, -math.inf, None)

    def spoil(tick: int, curves: dict[str, list[Observation]]) -> None:
        for curve in curves.values():
            if curve and tick % 3 == 0:
                last = curve[-1]
                value = odd[tick % len(odd)]
                # At the same step as the last value: a step may hold a number and a missing one.
                curve.append(dataclasses.replace(last, value=value))

    fresh = create_stopper(spec)
    assert fresh is not None
    simulate(fresh, spec, seed=5, tamper=spoil)


def check_survives_thinning(name: str, spec_factory: SpecFactory = default_spec_factory) -> None:
    """A curve thinned in place between two calls is read again without an error."""
    spec = spec_factory(name)
    stopper = create_stopper(spec)
    assert stopper is not None

    def thin(tick: int, curves: dict[str, list[Observation]]) -> None:
        if tick % 5 == 4:
            for curve in curves.values():
                if len(curve) > 4:
                    curve[:] = curve[:2] + curve[3::2]

    simulate(stopper, spec, seed=11, tamper=thin)


CHECKS: Sequence[Callable[[str, SpecFactory], None]] = (
    check_decides_only_running,
    check_deterministic,
    check_leaves_history_alone,
    check_tolerates_odd_curves,
    check_survives_thinning,
)


def run_contract(name: str, spec_factory: SpecFactory = default_spec_factory) -> None:
    """Every check of the contract for early stopper ``name``."""
    for check in CHECKS:
        check(name, spec_factory)
