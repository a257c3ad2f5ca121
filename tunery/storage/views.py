"""Bulk reads of trials for the UI and the CLI, in SQL: rows, JSON columns, counts, summaries.

These are views over :class:`~tunery.storage.store.SqlStore`'s tables, outside the
:class:`~tunery.storage.base.BaseStore` protocol (a store that is not SQL has no need of
them).  Each reads in one transaction and returns the experiment's *marks* with its trials
(counts by status, largest index and completion time), which a polling reader passes back as
``changed_since``.  Sort keys are the snake_case names of :data:`ORDER_COLUMNS`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunery.model import (
    DRIVEN_SECONDS_KEY,
    Objective,
    ObjectiveType,
    Trial,
    TrialCondition,
    TrialReason,
)
from tunery.storage.rows import TRIAL_STATUS, json_text, trial_query, trials_from_rows
from tunery.storage.schema import algorithm_states, experiments, observations, trials
from tunery.storage.store import SqlStore

__all__ = [
    "ORDER_COLUMNS",
    "TRIAL_COLUMNS",
    "Curve",
    "MetricCurves",
    "ProgressRead",
    "ProgressRow",
    "TrialColumns",
    "TrialMarks",
    "TrialRow",
    "TrialRows",
    "active_curve_marks",
    "best_trial",
    "completed_trials",
    "count_seeds",
    "count_trials",
    "metric_curves",
    "pareto_front",
    "progress",
    "trial_columns",
    "trial_rows",
    "trial_summaries",
]


class TrialRow(NamedTuple):
    """A trial as plain data, for readers that list many (no handle or cursor; the cursor's
    ``source`` as ``metrics_source``)."""

    name: str
    trial_index: int
    status: str
    reason: str | None
    message: str | None
    parameters: dict[str, Any]
    metrics: dict[str, dict[str, Any]]  # min, max, latest (and text: a string value)
    objective: float | None
    created_time: float | None
    start_time: float | None
    completion_time: float | None
    labels: dict[str, str]
    metrics_source: str | None


@dataclass(frozen=True)
class TrialMarks:
    """Where an experiment's trials stand, read with them in one transaction.

    ``counts``: every trial by status (every condition is a key); ``max_index`` and
    ``max_completion``: the largest trial index and completion time (None: no trial / none
    finished).  A reader passes ``(max_index, max_completion)`` back as ``changed_since``.
    """

    counts: dict[str, int]
    max_index: int | None
    max_completion: float | None


@dataclass(frozen=True)
class TrialRows(TrialMarks):
    """The answer of :func:`trial_rows`."""

    rows: list[TrialRow]
    #: How many trials matched before ``limit``/``offset`` (None when neither was given).
    matched: int | None = None


@dataclass(frozen=True)
class TrialColumns(TrialMarks):
    """The answer of :func:`trial_columns`: each column as JSON array text.

    Keys of ``columns``: ``name``, ``index``, ``status``, ``reason``, ``message``,
    ``objective``, ``created_ms``, ``start_ms``, ``completion_ms`` (times as integer
    milliseconds since the epoch), ``parameters`` and ``metrics`` (one object per trial, as
    stored).  The arrays are aligned, in index order; ``length`` is their length.
    """

    length: int
    columns: dict[str, str]


def count_trials(store: SqlStore, experiment: str) -> dict[TrialCondition, int]:
    """How many trials are in each condition (every condition is a key)."""
    counts = dict.fromkeys(TrialCondition, 0)
    query = (
        sa.select(trials.c.status, sa.func.count())
        .where(trials.c.experiment == experiment)
        .group_by(trials.c.status)
    )
    with store._read() as conn:
        for status, count in conn.execute(query):
            counts[TRIAL_STATUS[status]] = int(count)
    return counts


# ------------------------------------------------------------------ bulk reads


def _trial_filter(
    experiment: str,
    changed_since: tuple[int, float | None] | None,
    statuses: Iterable[TrialCondition | str] | None,
) -> list[Any]:
    c = trials.c
    where: list[Any] = [c.experiment == experiment]
    if changed_since is not None:
        max_index, max_completion = changed_since
        changed = [
            c.status.in_([s.value for s in TrialCondition if s.is_active]),
            c.trial_index > max_index,
            c.completion_time.is_not(None)
            if max_completion is None
            else c.completion_time >= max_completion,
        ]
        where.append(sa.or_(*changed))
    if statuses is not None:
        where.append(c.status.in_([TrialCondition(s).value for s in statuses]))
    return where


def _marks(conn: Connection, experiment: str) -> dict[str, Any]:
    c = trials.c
    counts = {s.value: 0 for s in TrialCondition}
    query = (
        sa.select(c.status, sa.func.count()).where(c.experiment == experiment).group_by(c.status)
    )
    for status, count in conn.execute(query):
        counts[status] = int(count)
    max_index, max_completion = conn.execute(
        sa.select(sa.func.max(c.trial_index), sa.func.max(c.completion_time)).where(
            c.experiment == experiment
        )
    ).one()
    return {
        "counts": counts,
        "max_index": None if max_index is None else int(max_index),
        "max_completion": max_completion,
    }


def trial_rows(
    store: SqlStore,
    experiment: str,
    *,
    changed_since: tuple[int, float | None] | None = None,
    statuses: Iterable[TrialCondition | str] | None = None,
    order: tuple[str, bool] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> TrialRows:
    """The experiment's trials as plain tuples, by index, with their marks, in one read.

    ``order=(column, descending)`` sorts by one of :attr:`ORDER_COLUMNS` in the database
    instead (missing values last either way, ties by index), and ``limit``/``offset``
    then cut the sorted list there, so a page of a large experiment costs a page.

    ``changed_since=(max_index, max_completion)`` (the marks of an earlier read) keeps
    only the trials that may have changed since: every active trial, every trial with a
    larger index, and every trial that finished at or after ``max_completion`` (``>=``:
    one that finished in the same clock tick is not lost).  One controller writes an
    experiment's trials and a finished trial never changes, so a reader that merges these
    by name has every trial as stored; ``counts`` lets it check.
    """
    c = trials.c
    query = sa.select(
        c.name,
        c.trial_index,
        c.status,
        c.reason,
        c.message,
        c.objective,
        c.created_time,
        c.start_time,
        c.completion_time,
        json_text(store.backend, c.parameters),
        json_text(store.backend, c.metrics),
        json_text(store.backend, c.labels),
        c.cursor["source"].as_string(),
    ).where(*_trial_filter(experiment, changed_since, statuses))
    if order is not None:
        column = getattr(c, ORDER_COLUMNS[order[0]])
        query = query.order_by(
            column.is_(None), column.desc() if order[1] else column.asc(), c.trial_index
        )
    else:
        query = query.order_by(c.trial_index)
    sliced = limit is not None or offset > 0
    if sliced:
        query = query.offset(max(0, offset))
        if limit is not None:
            query = query.limit(max(0, limit))
    with store._read() as conn:
        rows = conn.execute(query).all()
        marks = _marks(conn, experiment)
        matched = None
        if sliced:
            matched = int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        *_trial_filter(experiment, changed_since, statuses)
                    )
                ).scalar_one()
            )
    # One json.loads for the whole result: the per-call overhead dominates small documents.
    blobs = json.loads("[" + ",".join([f"[{r[9]},{r[10]},{r[11]}]" for r in rows]) + "]")
    out = [
        TrialRow(*row[:5], blob[0] or {}, blob[1] or {}, *row[5:9], blob[2] or {}, row[12] or None)
        for row, blob in zip(rows, blobs, strict=True)
    ]
    return TrialRows(rows=out, matched=matched, **marks)


#: Sort keys :func:`trial_rows` can order by in the database -> their trials column.
ORDER_COLUMNS = {
    "index": "trial_index",
    "name": "name",
    "status": "status",
    "objective": "objective",
    "created_time": "created_time",
    "start_time": "start_time",
    "completion_time": "completion_time",
}


#: The columns :func:`trial_columns` can build.
TRIAL_COLUMNS = (
    "name",
    "index",
    "status",
    "reason",
    "message",
    "objective",
    "created_ms",
    "start_ms",
    "completion_ms",
    "parameters",
    "metrics",
)


def trial_columns(
    store: SqlStore,
    experiment: str,
    *,
    changed_since: tuple[int, float | None] | None = None,
    statuses: Iterable[TrialCondition | str] | None = None,
    fields: Iterable[str] | None = None,
) -> TrialColumns:
    """The trials of :func:`trial_rows` as columns of JSON text, built by the database.

    For readers that pass trials on as JSON (the web UI): no Python object per trial.
    ``fields`` picks columns of :attr:`TRIAL_COLUMNS` (default: all).  Numbers keep
    every digit (they round-trip to the same double).
    """
    c = trials.c
    names = TRIAL_COLUMNS if fields is None else tuple(fields)
    unknown = set(names) - set(TRIAL_COLUMNS)
    if unknown:
        raise ValueError(f"trial_columns() got unknown fields: {', '.join(sorted(unknown))}")
    where = _trial_filter(experiment, changed_since, statuses)

    def ms(column: Any) -> Any:
        # Whole milliseconds, cut as ISO 8601 text to the millisecond is (after rounding
        # to microseconds, so that 0.3 s is 300 ms, not 299).
        return sa.cast(sa.func.round(column * 1_000_000), sa.BigInteger) // 1000

    if store.backend == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        pg: dict[str, Any] = {
            "name": c.name,
            "index": c.trial_index,
            "status": c.status,
            "reason": c.reason,
            "message": c.message,
            "objective": c.objective,
            "created_ms": ms(c.created_time),
            "start_ms": ms(c.start_time),
            "completion_ms": ms(c.completion_time),
            "parameters": c.parameters,
            "metrics": c.metrics,
        }
        aggregates = [
            sa.func.coalesce(
                sa.cast(sa.func.json_agg(aggregate_order_by(pg[name], c.trial_index)), sa.Text),
                sa.literal("[]", sa.Text),
            )
            for name in names
        ]
        query = sa.select(sa.func.count(), *aggregates).where(*where)
    else:
        # SQLite's json_group_array() quotes text and writes integers; the stored JSON
        # columns are joined with commas as they are (never parsed), and so are the
        # objectives, written with 17 digits (SQLite's JSON functions write 15).
        def joined(value: Any) -> Any:
            return (
                sa.literal("[", sa.Text)
                + sa.func.coalesce(sa.func.group_concat(value, ","), "", type_=sa.Text)
                + sa.literal("]", sa.Text)
            )

        lite: dict[str, tuple[Any, Any]] = {
            "name": (c.name, sa.func.json_group_array),
            "index": (c.trial_index, sa.func.json_group_array),
            "status": (c.status, sa.func.json_group_array),
            "reason": (c.reason, sa.func.json_group_array),
            "message": (c.message, sa.func.json_group_array),
            "objective": (
                sa.case(
                    (c.objective.is_(None), "null"),
                    else_=sa.func.printf("%!.17g", c.objective),
                ),
                joined,
            ),
            "created_ms": (ms(c.created_time), sa.func.json_group_array),
            "start_ms": (ms(c.start_time), sa.func.json_group_array),
            "completion_ms": (ms(c.completion_time), sa.func.json_group_array),
            "parameters": (
                sa.func.coalesce(json_text(store.backend, c.parameters), "null"),
                joined,
            ),
            "metrics": (sa.func.coalesce(json_text(store.backend, c.metrics), "null"), joined),
        }
        # An ORDER BY in a subquery of an aggregate is kept (SQLite does not flatten it).
        inner = (
            sa.select(*[lite[name][0].label(f"c{i}") for i, name in enumerate(names)])
            .where(*where)
            .order_by(c.trial_index)
            .subquery()
        )
        query = sa.select(
            sa.func.count(),
            *[lite[name][1](inner.c[f"c{i}"]) for i, name in enumerate(names)],
        )
    with store._read() as conn:
        length, *texts = conn.execute(query).one()
        marks = _marks(conn, experiment)
    return TrialColumns(length=int(length), columns=dict(zip(names, texts, strict=True)), **marks)


def completed_trials(store: SqlStore, experiment: str) -> list[Trial]:
    """The experiment's Succeeded and EarlyStopped trials, by index (what "best" chooses from)."""
    c = trials.c
    query = (
        trial_query(store.backend)
        .where(
            c.experiment == experiment,
            c.status.in_([TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value]),
        )
        .order_by(c.trial_index)
    )
    with store._read() as conn:
        rows = conn.execute(query).all()
    return trials_from_rows(rows)


def pareto_front(store: SqlStore, experiment: str, objective: Objective) -> list[Trial]:
    """The completed feasible trials no other one dominates (``objectives.pareto_front``)."""
    from tunery.objectives import pareto_front as front

    return front(objective, completed_trials(store, experiment))


def best_trial(store: SqlStore, experiment: str, objective: Objective) -> Trial | None:
    """The succeeded or early-stopped trial with the best objective (ties: the earliest).

    Katib's ``currentOptimalTrial``; None before any such trial has an objective.  A string
    objective (``objective_text``) is ranked as Katib does: the latest trial with one is the
    best, before any number (:func:`tunery.model.best_trial`).  With
    constraints, the best feasible one; with several objectives, the front's best on the
    first (:func:`tunery.objectives.best_trial`; those read every completed trial).
    """
    if objective.constraints or objective.is_multi:
        from tunery.objectives import best_trial as best

        return best(objective, completed_trials(store, experiment))
    c = trials.c
    done = c.status.in_([TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value])
    order = c.objective.asc() if objective.type is ObjectiveType.MINIMIZE else c.objective.desc()
    latest_text = (
        trial_query(store.backend)
        .where(c.experiment == experiment, done, c.objective_text.is_not(None))
        .order_by(c.trial_index.desc())
        .limit(1)
    )
    query = (
        trial_query(store.backend)
        .where(c.experiment == experiment, done, c.objective.is_not(None))
        .order_by(order, c.trial_index)
        .limit(1)
    )
    with store._read() as conn:
        rows = conn.execute(latest_text).all() or conn.execute(query).all()
    return trials_from_rows(rows)[0] if rows else None


def trial_summaries(
    store: SqlStore,
) -> dict[str, dict[str, tuple[int, float | None, float | None]]]:
    """Per experiment and trial status: ``(count, min objective, max objective)``."""
    c = trials.c
    query = sa.select(
        c.experiment,
        c.status,
        sa.func.count(),
        sa.func.min(c.objective),
        sa.func.max(c.objective),
    ).group_by(c.experiment, c.status)
    out: dict[str, dict[str, tuple[int, float | None, float | None]]] = {}
    with store._read() as conn:
        for exp, status, count, low, high in conn.execute(query):
            out.setdefault(exp, {})[status] = (int(count), low, high)
    return out


def count_seeds(store: SqlStore, experiment: str | None = None) -> dict[str, int]:
    """Per experiment key (only ``experiment``'s, if given): how many of its Succeeded trials
    are warm-start seeds (reason ``WarmStarted``: ``tunery.model.is_seed``), never run; an
    experiment without one is no key."""
    c = trials.c
    query = (
        sa.select(c.experiment, sa.func.count())
        .where(
            c.status == TrialCondition.SUCCEEDED.value,
            c.reason == TrialReason.WARM_STARTED.value,
        )
        .group_by(c.experiment)
    )
    if experiment is not None:
        query = query.where(c.experiment == experiment)
    with store._read() as conn:
        return {key: int(n) for key, n in conn.execute(query)}


# ------------------------------------------------------------------ curves


class Curve(NamedTuple):
    """One trial's stored curve of one metric, as JSON array text (values: null where the
    metric was not a finite number), in the order the observations were stored."""

    name: str
    trial_index: int
    status: str
    #: How many observations of the metric are stored for the trial.
    stored: int
    steps: str
    values: str


@dataclass(frozen=True)
class MetricCurves(TrialMarks):
    """The answer of :func:`metric_curves`: the trials' curves by index (trials with no
    observation of the metric have none)."""

    curves: list[Curve]


def metric_curves(
    store: SqlStore,
    experiment: str,
    metric: str,
    *,
    changed_since: tuple[int, float | None] | None = None,
) -> MetricCurves:
    """Every trial's stored curve of ``metric`` in one query, grouped by the database.

    Each trial's steps and values come back as two JSON arrays of text (no Python object
    per observation: 10,000 trials of 20 steps read in about 0.15 s on SQLite); values keep
    every digit (they read back as the same doubles).  ``changed_since`` keeps the trials of
    :func:`trial_rows`' rule (active ones, created or finished since).
    """
    o, c = observations, trials.c
    where = _trial_filter(experiment, changed_since, None)
    # The observations of the wanted trials only (a poll reads a few trials, not all).
    picked = [o.c.experiment == experiment, o.c.metric_name == metric]
    if changed_since is not None:
        picked.append(o.c.trial_name.in_(sa.select(c.name).where(*where)))
    if store.backend == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        grouped = (
            sa.select(
                o.c.trial_name,
                sa.func.count().label("stored"),
                sa.cast(sa.func.json_agg(aggregate_order_by(o.c.step, o.c.id)), sa.Text).label(
                    "steps"
                ),
                sa.cast(sa.func.json_agg(aggregate_order_by(o.c.value, o.c.id)), sa.Text).label(
                    "vals"
                ),
            )
            .where(*picked)
            .group_by(o.c.trial_name)
            .subquery()
        )
        steps: Any = grouped.c.steps
        values: Any = grouped.c.vals
    else:
        # The rows are grouped in the order of the index (experiment, trial_name,
        # metric_name): a trial's observations come in rowid (``id``) order, the order they
        # were stored, with no sort in between (tests/test_storage_views.py checks it).
        grouped = (
            sa.select(
                o.c.trial_name,
                sa.func.count().label("stored"),
                sa.func.group_concat(o.c.step, ",").label("steps"),
                sa.func.group_concat(
                    sa.case(
                        (o.c.value.is_(None), "null"),
                        else_=sa.func.printf("%!.17g", o.c.value),
                    ),
                    ",",
                ).label("vals"),
            )
            .where(*picked)
            .group_by(o.c.trial_name)
            .subquery()
        )
        steps = sa.literal("[", sa.Text) + grouped.c.steps + sa.literal("]", sa.Text)
        values = sa.literal("[", sa.Text) + grouped.c.vals + sa.literal("]", sa.Text)
    query = (
        sa.select(c.name, c.trial_index, c.status, grouped.c.stored, steps, values)
        .join(grouped, grouped.c.trial_name == c.name)
        .where(*where)
        .order_by(c.trial_index)
    )
    with store._read() as conn:
        rows = conn.execute(query).all()
        marks = _marks(conn, experiment)
    return MetricCurves(curves=[Curve(*row) for row in rows], **marks)


def active_curve_marks(store: SqlStore, experiment: str, metric: str) -> tuple[Any, ...]:
    """Where the active trials' curves of ``metric`` stand: ``(trial, count, largest id)``
    each, by name.  A running trial may store a point without changing its summary (the same
    value again); a reader that keeps :func:`metric_curves`' answer checks these too."""
    o, c = observations, trials.c
    active = sa.select(c.name).where(
        c.experiment == experiment,
        c.status.in_([s.value for s in TrialCondition if s.is_active]),
    )
    query = (
        sa.select(o.c.trial_name, sa.func.count(), sa.func.max(o.c.id))
        .where(
            o.c.experiment == experiment,
            o.c.metric_name == metric,
            o.c.trial_name.in_(active),
        )
        .group_by(o.c.trial_name)
        .order_by(o.c.trial_name)
    )
    with store._read() as conn:
        return tuple(tuple(row) for row in conn.execute(query))


class ProgressRow(NamedTuple):
    """A trial as :func:`progress` reads it."""

    name: str
    trial_index: int
    status: str
    reason: str | None
    parameters: dict[str, Any]
    objective: float | None
    start_time: float | None
    completion_time: float | None


@dataclass(frozen=True)
class ProgressRead:
    """The answer of :func:`progress`."""

    #: The trials read, by index.
    rows: list[ProgressRow]
    #: Active trial -> (value, step) of its last stored observation of the metric.
    latest: dict[str, tuple[float | None, int]]
    #: The experiment's stored spec as its JSON text (None: no such experiment), read in the
    #: same transaction: a reader parses it only when it differs from the last one (a budget
    #: edited while the experiment runs: ``tunery edit``).
    spec_text: str | None = None
    #: The seconds the experiment was driven as stored (:mod:`tunery.deadline`; 0 when never
    #: recorded), read from the algorithm state without reading the rest of it.
    driven_seconds: float = 0.0


def progress(
    store: SqlStore,
    experiment: str,
    metric: str,
    *,
    after_index: int = -1,
    watch: Iterable[str] = (),
) -> ProgressRead:
    """What a live display has not seen finish, in one read: every trial with an index above
    ``after_index``, the trials named in ``watch`` (those active at its last read) and every
    active trial; for each active one, its latest stored observation of ``metric``; the
    experiment's stored spec, as text (its budget may be edited while it runs); and the
    seconds it was driven (its time budget's clock).

    A finished trial never changes, so a reader that passes back the largest index it has
    seen and the names of the trials it saw active reads each trial finished once, and
    otherwise only the active trials (one indexed lookup each for the observation): the
    cost of a read does not grow with the finished trials.
    """
    c = trials.c
    o = observations.c
    active_values = [s.value for s in TrialCondition if s.is_active]
    columns = (
        c.name,
        c.trial_index,
        c.status,
        c.reason,
        json_text(store.backend, c.parameters),
        c.objective,
        c.start_time,
        c.completion_time,
    )
    # Three indexed searches (an OR of them would scan the experiment's trials); UNION ALL,
    # as PostgreSQL's json has no equality: a trial found twice is kept once below.
    which = [c.trial_index > after_index, c.status.in_(active_values)]
    watched = list(watch)
    if watched:
        which.append(c.name.in_(watched))
    query = sa.union_all(*[sa.select(*columns).where(c.experiment == experiment, w) for w in which])
    latest: dict[str, tuple[float | None, int]] = {}
    spec_query = sa.select(json_text(store.backend, experiments.c.spec)).where(
        experiments.c.name == experiment
    )
    driven_query = sa.select(algorithm_states.c.state[DRIVEN_SECONDS_KEY].as_float()).where(
        algorithm_states.c.experiment == experiment
    )
    with store._read() as conn:
        spec_text = conn.execute(spec_query).scalar()
        driven = conn.execute(driven_query).scalar()
        found_rows = {row[0]: row for row in conn.execute(query)}
        rows = sorted(found_rows.values(), key=lambda row: row[1])
        for row in rows:
            if row[2] not in active_values:
                continue
            # The largest id of one (experiment, trial, metric): the index's last entry.
            last_id = (
                sa.select(sa.func.max(o.id))
                .where(o.experiment == experiment, o.trial_name == row[0], o.metric_name == metric)
                .scalar_subquery()
            )
            found = conn.execute(sa.select(o.value, o.step).where(o.id == last_id)).first()
            if found is not None:
                latest[row[0]] = (found[0], int(found[1]))
    blobs = json.loads("[" + ",".join([r[4] or "null" for r in rows]) + "]")
    out = [
        ProgressRow(row[0], row[1], row[2], row[3], blob or {}, *row[5:8])
        for row, blob in zip(rows, blobs, strict=True)
    ]
    return ProgressRead(
        rows=out, latest=latest, spec_text=spec_text, driven_seconds=float(driven or 0.0)
    )
