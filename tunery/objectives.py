"""A trial's objective values, constraint violations and feasibility; "best" and the front.

Pure functions of the model (``Objective`` and ``Trial``), shared by every face (CLI, UI, SDK,
wire), the History and the completion rules, so "feasible", "best" and "the Pareto front" mean
one thing everywhere:

- a trial's value of an objective is its metric summary under the objective's strategy
  (``min``/``max``/``latest``); the first objective's value is ``Trial.objective`` as stored;
- a constraint ``{metric, min, max}`` reads the metric under its strategy (``latest`` unless
  ``metricStrategies`` names the metric) and is violated by ``value - max`` above a max and
  ``min - value`` below a min (``<= 0`` satisfied; a constraint with both bounds gives two
  numbers, min first); a trial without a finite value of a constraint's metric is not feasible;
- the best trial (single objective) is the best completed (Succeeded or EarlyStopped) feasible
  trial; the Pareto front (several objectives) is the set of completed feasible trials that no
  other such trial dominates (ties all kept); with no feasible trial there is neither;
- the goals are met by a completed feasible trial reaching every goal given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tunery.model import (
    Constraint,
    MetricSummary,
    Objective,
    ObjectiveTerm,
    Trial,
    TrialCondition,
)
from tunery.pareto import hypervolume, non_dominated, reference_point

__all__ = [
    "FrontSummary",
    "best_trial",
    "constraint_values",
    "feasibility",
    "front_summary",
    "goals_met",
    "is_feasible",
    "objective_losses",
    "objective_values",
    "pareto_front",
    "violations",
]

_COMPLETED = (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _pick(objective: Objective, metric: str, metrics: Mapping[str, MetricSummary]) -> float | None:
    summary = metrics.get(metric)
    if summary is None:
        return None
    return _finite(summary.pick(objective.strategy_for(metric)))


def term_value(objective: Objective, term: ObjectiveTerm, trial: Trial) -> float | None:
    """The trial's finite value of one objective (None: none yet, or not finite)."""
    if term is objective.terms[0] and trial.objective is not None:
        return _finite(trial.objective)  # stored under the same strategy
    return _pick(objective, term.metric, trial.metrics)


def objective_values(objective: Objective, trial: Trial) -> tuple[float, ...] | None:
    """The trial's value of each objective, in order; None when any is missing or not finite."""
    values = []
    for term in objective.terms:
        value = term_value(objective, term, trial)
        if value is None:
            return None
        values.append(value)
    return tuple(values)


def objective_losses(objective: Objective, trial: Trial) -> tuple[float, ...] | None:
    """:func:`objective_values` signed for minimisation (a maximised value negated)."""
    values = objective_values(objective, trial)
    if values is None:
        return None
    return tuple(t.sign * v for t, v in zip(objective.terms, values, strict=True))


def constraint_values(objective: Objective, trial: Trial) -> tuple[float | None, ...]:
    """The trial's value of each constraint's metric (None where it has none)."""
    return tuple(_pick(objective, c.metric, trial.metrics) for c in objective.constraints)


def _violation(constraint: Constraint, value: float) -> list[float]:
    out = []
    if constraint.min is not None:
        out.append(constraint.min - value)
    if constraint.max is not None:
        out.append(value - constraint.max)
    return out


def violations(objective: Objective, trial: Trial) -> tuple[float, ...] | None:
    """One number per bound, ``<= 0`` when satisfied (see the module docstring); ``()`` with
    no constraints; None when a constraint's metric has no finite value."""
    out: list[float] = []
    for constraint, value in zip(
        objective.constraints, constraint_values(objective, trial), strict=True
    ):
        if value is None:
            return None
        out.extend(_violation(constraint, value))
    return tuple(out)


def feasibility(objective: Objective, trial: Trial) -> bool | None:
    """True or False by the constraints; None when the experiment has none, or a constraint's
    metric has no value yet (a failed or finished trial without one is :func:`is_feasible`
    False)."""
    if not objective.constraints:
        return None
    found = violations(objective, trial)
    if found is None:
        return None
    return all(v <= 0 for v in found)


def is_feasible(objective: Objective, trial: Trial) -> bool:
    """Whether the trial may be best: no constraints, or every constraint known and met."""
    return not objective.constraints or feasibility(objective, trial) is True


def _candidates(
    objective: Objective, trials: Iterable[Trial]
) -> tuple[list[Trial], list[tuple[float, ...]]]:
    """Completed feasible trials with every objective value, and their losses."""
    chosen: list[Trial] = []
    losses: list[tuple[float, ...]] = []
    for trial in trials:
        if trial.status not in _COMPLETED or not is_feasible(objective, trial):
            continue
        found = objective_losses(objective, trial)
        if found is not None:
            chosen.append(trial)
            losses.append(found)
    return chosen, losses


def pareto_front(objective: Objective, trials: Iterable[Trial]) -> list[Trial]:
    """The completed feasible trials no other one dominates, in the order given.

    With one objective: the trials tied at the best value.  No feasible trial: empty.
    """
    chosen, losses = _candidates(objective, trials)
    return [chosen[i] for i in non_dominated(losses)]


def best_trial(objective: Objective, trials: Iterable[Trial]) -> Trial | None:
    """The best completed feasible trial: by the objective (the first of equals); with several
    objectives, the front's best trial on the first objective (one representative, as Katib's
    ``currentOptimalTrial`` wants one)."""
    chosen, losses = _candidates(objective, trials)
    if not chosen:
        return None
    if objective.is_multi:
        front = non_dominated(losses)
        at = min(front, key=lambda i: (losses[i][0], i))
    else:
        at = min(range(len(chosen)), key=lambda i: (losses[i][0], i))
    return chosen[at]


def goals_met(objective: Objective, trial: Trial) -> bool:
    """Whether a completed feasible trial reaches every goal given (at least one given)."""
    terms = [t for t in objective.terms if t.goal is not None]
    if not terms or trial.status not in _COMPLETED or not is_feasible(objective, trial):
        return False
    for term in terms:
        value = term_value(objective, term, trial)
        if value is None or not term.goal_reached(value):
            return False
    return True


@dataclass(frozen=True)
class FrontSummary:
    """The Pareto front of an experiment, its reference point and hypervolume.

    ``reference`` is in the metrics' own units (as the spec's ``reference`` values are);
    ``hypervolume`` is computed on losses (maximised objectives negated) and is None with an
    empty front.  ``stated`` tells whether the reference came from the spec.
    """

    front: tuple[Trial, ...]
    reference: tuple[float, ...] | None
    hypervolume: float | None
    stated: bool


def stated_reference(objective: Objective) -> tuple[float, ...] | None:
    """The spec's reference point (every objective's ``reference``), or None."""
    refs = [t.reference for t in objective.terms]
    if any(r is None for r in refs):
        return None
    return tuple(float(r) for r in refs)  # type: ignore[arg-type]


def front_summary(objective: Objective, trials: Sequence[Trial]) -> FrontSummary:
    """The front of ``trials`` with its hypervolume against the spec's reference point, or
    else :func:`tunery.pareto.reference_point` of every completed feasible trial's losses."""
    chosen, losses = _candidates(objective, trials)
    front_at = non_dominated(losses)
    front = tuple(chosen[i] for i in front_at)
    signs = [t.sign for t in objective.terms]
    stated = stated_reference(objective)
    if stated is not None:
        ref_losses: tuple[float, ...] | None = tuple(
            s * r for s, r in zip(signs, stated, strict=True)
        )
    elif losses:
        ref_losses = reference_point(losses)
    else:
        ref_losses = None
    if ref_losses is None:
        return FrontSummary(front, None, None, False)
    volume = hypervolume([losses[i] for i in front_at], ref_losses) if front_at else None
    reference = tuple(s * r for s, r in zip(signs, ref_losses, strict=True))
    return FrontSummary(front, reference, volume, stated is not None)
