"""Stored multi-objective experiments for the Pareto tests (UI, API, SDK plots): the trials'
metrics are written as a controller would leave them, so every face reads real rows."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from tests.helpers import create, native_doc
from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.pareto import constrained_front
from tunery.storage import Store

PARAMS = [
    {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
    {"name": "y", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
]
#: accuracy (maximize) against latency_ms (minimize), model_kb at most 100.
TWO = [
    {"metric": "accuracy", "direction": "maximize"},
    {"metric": "latency_ms", "direction": "minimize"},
]
CONSTRAINTS = [{"metric": "model_kb", "max": 100}]
#: Three objectives, the second maximized.
THREE = [
    {"metric": "f1", "direction": "minimize"},
    {"metric": "f2", "direction": "maximize"},
    {"metric": "f3", "direction": "minimize"},
]


def mo_doc(
    name: str, objectives: list[dict[str, Any]], constraints: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A native document with ``spec.objectives`` (and ``spec.constraints``), no ``objective``."""
    extra: dict[str, Any] = {"objectives": copy.deepcopy(objectives)}
    if constraints:
        extra["constraints"] = copy.deepcopy(constraints)
    doc = native_doc(name, "print('never run')", parameters=copy.deepcopy(PARAMS), extra_spec=extra)
    del doc["spec"]["objective"]
    return doc


def _summary(value: float) -> MetricSummary:
    return MetricSummary(value, value, value)


def two_objective_rows() -> list[dict[str, float]]:
    """24 trials' metrics: a curved trade-off, some dominated, some over the size limit, and
    the last a copy of a front point (ties stay on the front)."""
    rows = []
    for i in range(23):
        r = ((i * 37) % 23) / 22
        s = ((i * 11) % 17) / 16
        rows.append(
            {
                "accuracy": round(0.5 + 0.45 * math.sqrt(r) - 0.2 * s, 4),
                "latency_ms": round(2 + 30 * r + 12 * s, 3),
                "model_kb": round(30 + 110 * r * (1 - s) + 20 * s, 1),
            }
        )
    best = max(
        (row for row in rows if row["model_kb"] <= 100),
        key=lambda row: row["accuracy"] - row["latency_ms"] / 100,
    )
    rows.append(dict(best))
    return rows


def three_objective_rows() -> list[dict[str, float]]:
    """20 trials' f1, f2, f3 about a plane, 9 of them on the front."""
    rows = []
    for i in range(20):
        a = ((i * 7) % 20) / 19
        b = ((i * 3) % 20) / 19
        rows.append(
            {
                "f1": round(a, 4),
                "f2": round(1 - b, 4),
                "f3": round(1.5 - a - b + 1.5 * ((i * 3) % 5) / 4, 4),
            }
        )
    return rows


def store_experiment(
    store: Store,
    tmp: Path,
    name: str,
    objectives: list[dict[str, Any]],
    rows: list[dict[str, float]],
    constraints: list[dict[str, Any]] | None = None,
    extra_trials: bool = True,
) -> None:
    """The experiment and one Succeeded trial per row (objective: the first objective's value);
    with ``extra_trials`` a Failed and a Running one too (no values: never drawn)."""
    create(store, mo_doc(name, objectives, constraints), tmp)
    first = objectives[0]["metric"]
    for index, row in enumerate(rows):
        store.create_trial(
            Trial(
                name=f"{name}-{index:04d}",
                experiment=name,
                index=index,
                parameters={"x": index / 40, "y": (index * 7 % 40) / 40},
                status=TrialCondition.SUCCEEDED,
                metrics={k: _summary(v) for k, v in row.items()},
                objective=row[first],
                start_time=1_700_000_000.0 + index,
                completion_time=1_700_000_001.0 + index,
            )
        )
    if extra_trials:
        n = len(rows)
        for index, status in ((n, TrialCondition.FAILED), (n + 1, TrialCondition.RUNNING)):
            store.create_trial(
                Trial(
                    name=f"{name}-{index:04d}",
                    experiment=name,
                    index=index,
                    parameters={"x": 0.5, "y": 0.5},
                    status=status,
                )
            )


def expected_front(
    name: str,
    objectives: list[dict[str, Any]],
    rows: list[dict[str, float]],
    constraints: list[dict[str, Any]] | None = None,
) -> set[str]:
    """The front by :func:`tunery.pareto.constrained_front` over the rows (the test's own
    losses and violations: maximized objectives negated, ``value - max`` per constraint)."""
    losses = [
        tuple(row[o["metric"]] * (-1 if o["direction"] == "maximize" else 1) for o in objectives)
        for row in rows
    ]
    violations = (
        [tuple(row[c["metric"]] - c["max"] for c in constraints) for row in rows]
        if constraints
        else None
    )
    return {f"{name}-{i:04d}" for i in constrained_front(losses, violations)}


def infeasible(name: str, rows: list[dict[str, float]]) -> set[str]:
    return {
        f"{name}-{i:04d}"
        for i, row in enumerate(rows)
        if any(row[c["metric"]] > c["max"] for c in CONSTRAINTS)
    }
