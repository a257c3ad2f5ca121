"""``spec.objectives`` and ``spec.constraints``: several objectives and metric bounds.

Both document forms (Katib's and the native one) accept, beside ``spec.objective``::

    objectives:
      - {metric: accuracy, direction: maximize, goal: 0.95}
      - {metric: latency_ms, direction: minimize, strategy: latest, reference: 500}
    constraints:
      - {metric: memory_mb, max: 512}
      - {metric: recall, min: 0.5, max: 1}

Rules (each break is a one-line error naming the field):

- ``objectives`` is a non-empty list of distinct metrics, each with a ``direction``
  (``minimize``/``maximize``, any case) and optionally a ``goal``, a ``strategy``
  (``min``/``max``/``latest``; default: min for minimize, max for maximize, or what
  ``spec.objective.metricStrategies`` says) and a ``reference`` (the metric's value bounding the
  hypervolume; give it for every objective or none).
- Given together, ``spec.objective`` must agree with ``objectives[0]`` (metric, type, goal);
  ``spec.objective`` alone means one objective, as always.
- ``constraints`` are metrics with ``min`` and/or ``max`` (``min <= max``); a metric may be
  bounded once.  A constraint reads its metric's ``latest`` value unless ``metricStrategies``
  names the metric.
- Defaulting adds the other objectives' and the constraints' metrics to
  ``additionalMetricNames`` and each objective's strategy to ``metricStrategies``, so a
  Katib-side reader of the document collects them too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tunery.errors import SpecError
from tunery.model import (
    Constraint,
    MetricStrategy,
    MetricStrategyType,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    default_strategy,
)
from tunery.spec.katib import _enum, _known, _list, _mapping, _str, _type_name

__all__ = [
    "combine",
    "default_terms",
    "read_constraints",
    "read_objectives",
    "validate_objectives",
    "write_objectives",
]

_TERM_FIELDS = ("metric", "direction", "goal", "strategy", "reference")
_CONSTRAINT_FIELDS = ("metric", "min", "max")
_METRIC_NAME = re.compile(r"[^\s=]+")


def _number(value: Any, path: str, example: str) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        number = float(value)
    except ValueError:
        shown = value if isinstance(value, str) else _type_name(value)
        raise SpecError(path, f"must be a number, not {shown!r}", f"e.g. {example}") from None
    if not math.isfinite(number):
        raise SpecError(path, "must be a finite number", f"e.g. {example}")
    return number


def _metric(value: Any, path: str) -> str:
    name = _str(value, path, required=True) or ""
    if not _METRIC_NAME.fullmatch(name):
        raise SpecError(
            path, f"invalid metric name {name!r}", "use a name without spaces or '=', e.g. loss"
        )
    return name


def _direction(value: Any, path: str) -> ObjectiveType:
    if value in (None, ""):
        raise SpecError(path, "is required", "use minimize or maximize")
    lowered = value.lower() if isinstance(value, str) else value
    return _enum(ObjectiveType, lowered, path, what="direction")


def read_objectives(
    value: Any, strategies: Mapping[str, MetricStrategyType]
) -> list[ObjectiveTerm]:
    """The terms of ``spec.objectives`` (shape checked; ``strategies``: metricStrategies)."""
    path = "spec.objectives"
    items = _list(value, path)
    if not items:
        raise SpecError(path, "must not be empty", "e.g. [{metric: loss, direction: minimize}]")
    terms: list[ObjectiveTerm] = []
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        entry = _mapping(item, p)
        _known(entry, p, _TERM_FIELDS)
        metric = _metric(entry.get("metric"), f"{p}.metric")
        direction = _direction(entry.get("direction"), f"{p}.direction")
        strategy: MetricStrategyType
        if entry.get("strategy") not in (None, ""):
            strategy = _enum(
                MetricStrategyType, entry["strategy"], f"{p}.strategy", what="metric strategy"
            )
            named = strategies.get(metric)
            if named is not None and named is not strategy:
                raise SpecError(
                    f"{p}.strategy",
                    f"is {strategy.value} but spec.objective.metricStrategies says "
                    f"{named.value} for {metric!r}",
                    "give the metric one strategy",
                )
        else:
            strategy = strategies.get(metric) or default_strategy(direction)
        terms.append(
            ObjectiveTerm(
                metric=metric,
                type=direction,
                goal=_number(entry.get("goal"), f"{p}.goal", "goal: 0.95"),
                strategy=strategy,
                reference=_number(entry.get("reference"), f"{p}.reference", "reference: 0.5"),
            )
        )
    return terms


def read_constraints(value: Any) -> tuple[Constraint, ...]:
    """The constraints of ``spec.constraints`` (shape checked)."""
    path = "spec.constraints"
    out: list[Constraint] = []
    for i, item in enumerate(_list(value, path)):
        p = f"{path}[{i}]"
        entry = _mapping(item, p)
        _known(entry, p, _CONSTRAINT_FIELDS)
        metric = _metric(entry.get("metric"), f"{p}.metric")
        low = _number(entry.get("min"), f"{p}.min", "min: 0.5")
        high = _number(entry.get("max"), f"{p}.max", "max: 512")
        out.append(Constraint(metric, low, high))
    return tuple(out)


def combine(objective: Objective | None, objectives: Any, constraints: Any) -> Objective:
    """The experiment's :class:`Objective` from ``spec.objective`` (already read, or None),
    the raw ``spec.objectives`` and the raw ``spec.constraints``."""
    if objective is None and objectives is None:
        raise SpecError(
            "spec.objective",
            "is required",
            "set spec.objective (type, objectiveMetricName) or spec.objectives",
        )
    bounds = read_constraints(constraints) if constraints is not None else ()
    if objectives is None:
        assert objective is not None
        return replace(objective, constraints=bounds)
    strategies = {}
    if objective is not None:
        strategies = {s.name: s.value for s in objective.metric_strategies}
    terms = read_objectives(objectives, strategies)
    first = terms[0]
    if objective is None:
        return Objective(
            type=first.type,
            objective_metric_name=first.metric,
            goal=first.goal,
            terms=tuple(terms),
            constraints=bounds,
        )
    _agree(objective, first)
    if first.goal is None and objective.goal is not None:
        terms[0] = first = replace(first, goal=objective.goal)
    return replace(objective, goal=first.goal, terms=tuple(terms), constraints=bounds)


def _agree(objective: Objective, first: ObjectiveTerm) -> None:
    hint = "spec.objective and spec.objectives[0] must describe the same objective (or give one)"
    if objective.objective_metric_name != first.metric:
        raise SpecError(
            "spec.objectives[0].metric",
            f"is {first.metric!r} but spec.objective.objectiveMetricName is "
            f"{objective.objective_metric_name!r}",
            hint,
        )
    if objective.type is not first.type:
        raise SpecError(
            "spec.objectives[0].direction",
            f"is {first.type.value} but spec.objective.type is {objective.type.value}",
            hint,
        )
    if objective.goal is not None and first.goal is not None and objective.goal != first.goal:
        raise SpecError(
            "spec.objectives[0].goal",
            f"is {first.goal:g} but spec.objective.goal is {objective.goal:g}",
            hint,
        )


def default_terms(obj: Objective) -> Objective:
    """Defaulting: the objectives' and constraints' metrics in ``additionalMetricNames``, each
    objective's strategy in ``metricStrategies`` (before Katib's own rule runs)."""
    if not obj.is_multi and not obj.constraints:
        return obj
    names = list(obj.additional_metric_names)
    for metric in [t.metric for t in obj.terms[1:]] + [c.metric for c in obj.constraints]:
        if metric != obj.objective_metric_name and metric not in names:
            names.append(metric)
    strategies = list(obj.metric_strategies)
    named = {s.name for s in strategies}
    for term in obj.terms:
        if term.metric not in named:
            strategies.append(MetricStrategy(term.metric, term.strategy))
            named.add(term.metric)
    for constraint in obj.constraints:
        if constraint.metric not in named:
            strategies.append(MetricStrategy(constraint.metric, MetricStrategyType.LATEST))
            named.add(constraint.metric)
    return replace(obj, additional_metric_names=tuple(names), metric_strategies=tuple(strategies))


def validate_objectives(obj: Objective) -> None:
    """Distinct objective metrics, one reference per objective or none, sane constraints."""
    seen: dict[str, int] = {}
    for i, term in enumerate(obj.terms):
        if term.metric in seen:
            raise SpecError(
                f"spec.objectives[{i}].metric",
                f"metric {term.metric!r} is already spec.objectives[{seen[term.metric]}]",
                "list each objective metric once",
            )
        seen[term.metric] = i
    given = [t.reference is not None for t in obj.terms]
    if any(given) and not obj.is_multi:
        raise SpecError(
            "spec.objectives[0].reference",
            "a reference point bounds the hypervolume of 2 or more objectives",
            "remove it, or add another objective",
        )
    if any(given) and not all(given):
        missing = given.index(False)
        raise SpecError(
            f"spec.objectives[{missing}].reference",
            "is missing: give every objective a reference value, or none",
            "e.g. reference: 0.5 (the worst value worth counting)",
        )
    bounded: dict[str, int] = {}
    for i, constraint in enumerate(obj.constraints):
        p = f"spec.constraints[{i}]"
        if constraint.min is None and constraint.max is None:
            raise SpecError(p, "needs min or max (or both)", "e.g. {metric: memory_mb, max: 512}")
        if (
            constraint.min is not None
            and constraint.max is not None
            and constraint.min > constraint.max
        ):
            raise SpecError(
                f"{p}.min",
                f"({constraint.min:g}) must not exceed max ({constraint.max:g})",
                "swap them, or fix the bound",
            )
        if constraint.metric in bounded:
            raise SpecError(
                f"{p}.metric",
                f"metric {constraint.metric!r} is already bounded by "
                f"spec.constraints[{bounded[constraint.metric]}]",
                "give one constraint per metric, with both min and max",
            )
        bounded[constraint.metric] = i


def write_objectives(obj: Objective) -> dict[str, Any]:
    """The ``objectives``/``constraints`` fields of a spec's document (none when one objective
    and no constraint: ``spec.objective`` says it all)."""
    out: dict[str, Any] = {}
    if obj.is_multi or any(t.reference is not None for t in obj.terms):
        terms = []
        for term in obj.terms:
            entry: dict[str, Any] = {"metric": term.metric, "direction": term.type.value}
            if term.goal is not None:
                entry["goal"] = term.goal
            entry["strategy"] = term.strategy.value
            if term.reference is not None:
                entry["reference"] = term.reference
            terms.append(entry)
        out["objectives"] = terms
    if obj.constraints:
        constraints = []
        for c in obj.constraints:
            entry = {"metric": c.metric}
            if c.min is not None:
                entry["min"] = c.min
            if c.max is not None:
                entry["max"] = c.max
            constraints.append(entry)
        out["constraints"] = constraints
    return out
