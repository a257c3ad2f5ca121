"""Read-only queries behind the UI's JSON API, and the trial list's cursor.

The UI reads experiments through :class:`~tunery.storage.Store`.  For the trial list it reads
the ``trials`` table directly (SQLAlchemy Core on ``tunery.storage.schema``, inside one read
transaction of the store's engine, never writing): ``Store.list_trials`` builds every column
(executor handles, collector cursors) into dataclasses and takes about 250 ms at 10,000
trials, which leaves no room for the UI's 300 ms budget; these queries select only what the
page shows, filter changed trials in SQL, and take a few tens of milliseconds.

The cursor
----------
A live page first fetches every trial, then polls with ``after=<cursor>`` for the trials that
changed since.  The cursor is derived from stored data only (there is no update counter in
the schema): ``v1.<max trial index>.<max completion time>``.  The trials changed since a
cursor are

- every active trial (Created or Running: their metrics grow; there are at most
  ``parallelTrialCount`` of them),
- every trial with a larger index than the cursor's (created since), and
- every trial whose completion time is at or after the cursor's (finished since; ``>=``, so
  that a trial finishing in the same clock tick as the last one seen is not lost; the client
  merges trials by name, so seeing one twice is harmless).

One controller writes an experiment's trials and its completion times never go backwards, so
a trial that was active at one poll is returned again at the next poll after it ends.  The
answer also carries the trial counts by status; a client whose merged copy disagrees with
them (a clock that went backwards after a controller moved host, a deleted experiment) reloads
the full list.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tunery.model import Objective, ObjectiveType, TrialCondition
from tunery.storage import Store
from tunery.storage.schema import trials

ACTIVE = (TrialCondition.CREATED.value, TrialCondition.RUNNING.value)
#: Conditions whose objective counts for the best trial (Katib's currentOptimalTrial).
BEST_ELIGIBLE = (TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value)


class CursorError(ValueError):
    """A cursor this API did not hand out."""


@dataclass(frozen=True)
class Cursor:
    """Where a client's copy of the trial list stands (see the module docstring)."""

    max_index: int
    max_completion: float | None

    def encode(self) -> str:
        completion = "-" if self.max_completion is None else repr(self.max_completion)
        return f"v1.{self.max_index}.{completion}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        parts = text.split(".", 2)
        if len(parts) != 3 or parts[0] != "v1":
            raise CursorError(f"not a cursor of this API: {text[:40]!r}")
        try:
            index = int(parts[1])
            completion = None if parts[2] == "-" else float(parts[2])
        except ValueError:
            raise CursorError(f"not a cursor of this API: {text[:40]!r}") from None
        if completion is not None and not math.isfinite(completion):
            raise CursorError(f"not a cursor of this API: {text[:40]!r}")
        return cls(index, completion)


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 in UTC to the millisecond (``2024-05-01T12:00:00.000Z``)."""
    if ts is None:
        return None
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_text(column: Any, backend: str) -> Any:
    text = sa.cast(column, sa.Text) if backend == "postgresql" else sa.type_coerce(column, sa.Text)
    return sa.func.coalesce(text, sa.literal("null", sa.Text))


def _trial_columns(backend: str) -> list[Any]:
    c = trials.c
    return [
        c.name,
        c.trial_index,
        c.status,
        c.reason,
        c.message,
        c.objective,
        c.created_time,
        c.start_time,
        c.completion_time,
        _json_text(c.parameters, backend).label("parameters"),
        _json_text(c.metrics, backend).label("metrics"),
    ]


def trial_dict(row: Sequence[Any], parameters: Any, metrics: Any) -> dict[str, Any]:
    """A trial in the CLI's ``tunery trials --json`` shape, plus index, reason, message and
    createdTime."""
    name, index, status, reason, message, objective, t0, t1, t2 = row[:9]
    return {
        "name": name,
        "index": index,
        "status": status,
        "reason": reason,
        "message": message,
        "parameters": parameters or {},
        "metrics": metrics or {},
        "objective": objective,
        "createdTime": iso(t0),
        "startTime": iso(t1),
        "completionTime": iso(t2),
    }


def _sqlite_number(column: Any) -> Any:
    # SQLite's json_object writes REALs with 15 digits; 17 round-trip every double (below
    # about 1e230, where SQLite's own decimal conversion loses the last digit).
    return sa.case(
        (column.is_(None), sa.null()), else_=sa.func.json(sa.func.printf("%!.17g", column))
    )


def _sqlite_time(column: Any) -> Any:
    return sa.func.strftime("%Y-%m-%dT%H:%M:%fZ", column, "unixepoch")


def _sqlite_trial_json() -> Any:
    """The whole trial as JSON text, built by SQLite (no Python object per trial)."""
    c = trials.c
    return sa.func.json_object(
        "name", c.name,
        "index", c.trial_index,
        "status", c.status,
        "reason", c.reason,
        "message", c.message,
        "parameters", sa.func.json(sa.type_coerce(c.parameters, sa.Text)),
        "metrics", sa.func.json(sa.type_coerce(c.metrics, sa.Text)),
        "objective", _sqlite_number(c.objective),
        "createdTime", _sqlite_time(c.created_time),
        "startTime", _sqlite_time(c.start_time),
        "completionTime", _sqlite_time(c.completion_time),
    )  # fmt: skip


SORT_COLUMNS = {
    "index": trials.c.trial_index,
    "name": trials.c.name,
    "status": trials.c.status,
    "objective": trials.c.objective,
    "createdTime": trials.c.created_time,
    "startTime": trials.c.start_time,
    "completionTime": trials.c.completion_time,
}


def parse_sort(text: str) -> tuple[str, bool]:
    """``(key, descending)`` of a sort argument; ValueError naming the choices."""
    descending = text.startswith("-")
    key = text[1:] if descending else text
    kind, _, name = key.partition(":")
    if key in SORT_COLUMNS or (kind in ("param", "metric") and name):
        return key, descending
    raise ValueError(
        f"unknown key {text[:60]!r}; use one of {', '.join(SORT_COLUMNS)}, param:NAME or "
        "metric:NAME, with - in front for descending"
    )


def _json_path(*names: str) -> str:
    return "$" + "".join('."' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in names)


def _sqlite_sort_expr(key: str) -> Any:
    kind, _, name = key.partition(":")
    if kind == "param":
        return sa.func.json_extract(sa.type_coerce(trials.c.parameters, sa.Text), _json_path(name))
    if kind == "metric":
        return sa.func.json_extract(
            sa.type_coerce(trials.c.metrics, sa.Text), _json_path(name, "latest")
        )
    return SORT_COLUMNS[key]


def _sort_value(trial: Mapping[str, Any], key: str) -> Any:
    kind, _, name = key.partition(":")
    if kind == "param":
        return trial["parameters"].get(name)
    if kind == "metric":
        return (trial["metrics"].get(name) or {}).get("latest")
    return trial[key]


def sort_trials(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Sort as SQLite does: numbers before text, missing values last either way, then index."""
    present: list[tuple[Any, dict[str, Any]]] = []
    missing: list[tuple[Any, dict[str, Any]]] = []
    for t in rows:
        value = _sort_value(t, key)
        (missing if value is None else present).append((value, t))

    def order(item: tuple[Any, Mapping[str, Any]]) -> tuple[int, Any]:
        value = item[0]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, value)
        return (1, str(value))

    present.sort(key=lambda item: item[1]["index"])
    present.sort(key=order, reverse=descending)
    return [t for _, t in present] + [t for _, t in missing]


@dataclass
class TrialPage:
    """The answer of :func:`changed_trials`: each trial as JSON text."""

    trials: list[str]
    cursor: Cursor
    counts: dict[str, int]
    matched: int


def _counts(conn: sa.Connection, experiment: str) -> dict[str, int]:
    counts = {s.value: 0 for s in TrialCondition}
    query = (
        sa.select(trials.c.status, sa.func.count())
        .where(trials.c.experiment == experiment)
        .group_by(trials.c.status)
    )
    for status, n in conn.execute(query):
        counts[status] = int(n)
    return counts


def changed_trials(
    store: Store,
    experiment: str,
    *,
    after: Cursor | None = None,
    statuses: Iterable[str] | None = None,
    sort: tuple[str, bool] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> TrialPage:
    """The experiment's trials (those changed since ``after``), in one snapshot.

    By index unless ``sort`` (from :func:`parse_sort`) says otherwise.  On SQLite the JSON of
    each trial is built by the database; elsewhere in Python.
    """
    c = trials.c
    where = [c.experiment == experiment]
    if after is not None:
        changed = [c.status.in_(ACTIVE), c.trial_index > after.max_index]
        if after.max_completion is not None:
            changed.append(c.completion_time >= after.max_completion)
        else:
            changed.append(c.completion_time.is_not(None))
        where.append(sa.or_(*changed))
    if statuses is not None:
        where.append(c.status.in_(list(statuses)))
    marks = sa.select(sa.func.max(c.trial_index), sa.func.max(c.completion_time)).where(
        c.experiment == experiment
    )
    sqlite = store.backend == "sqlite"
    if sqlite:
        query = sa.select(_sqlite_trial_json()).where(*where)
        if sort is not None:
            expr = _sqlite_sort_expr(sort[0])
            query = query.order_by(expr.is_(None), expr.desc() if sort[1] else expr.asc())
        query = query.order_by(c.trial_index)
        if limit is not None or offset:
            query = query.limit(-1 if limit is None else limit).offset(offset)
    else:
        query = sa.select(*_trial_columns(store.backend)).where(*where).order_by(c.trial_index)
    with store.engine.connect() as conn, conn.begin():
        rows = conn.execute(query).all()
        max_index, max_completion = conn.execute(marks).one()
        counts = _counts(conn, experiment)
        if sqlite and (limit is not None or offset):
            matched = int(conn.execute(sa.select(sa.func.count()).where(*where)).scalar_one())
        else:
            matched = len(rows)
    if sqlite:
        texts = [row[0] for row in rows]
    else:
        blobs = json.loads("[" + ",".join(f"[{r[-2]},{r[-1]}]" for r in rows) + "]")
        dicts = [trial_dict(row, p, m) for row, (p, m) in zip(rows, blobs, strict=True)]
        if sort is not None:
            dicts = sort_trials(dicts, *sort)
        dicts = dicts[offset:] if limit is None else dicts[offset : offset + limit]
        texts = [json.dumps(d, separators=(",", ":")) for d in dicts]
    cursor = Cursor(-1 if max_index is None else int(max_index), max_completion)
    return TrialPage(texts, cursor, counts, matched)


def trial_counts(store: Store, experiment: str) -> dict[str, int]:
    """Trial counts by Katib condition (every condition is a key)."""
    with store.engine.connect() as conn, conn.begin():
        return _counts(conn, experiment)


def summary_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts in the CLI's JSON shape (``tunery get --json``'s ``trials``)."""
    return {
        "total": sum(counts.values()),
        "succeeded": counts.get("Succeeded", 0),
        "failed": counts.get("Failed", 0),
        "running": counts.get("Running", 0) + counts.get("Created", 0),
        "earlyStopped": counts.get("EarlyStopped", 0),
        "killed": counts.get("Killed", 0),
        "metricsUnavailable": counts.get("MetricsUnavailable", 0),
    }


def best_trial_row(store: Store, experiment: str, objective: Objective) -> dict[str, Any] | None:
    """The best succeeded or early-stopped trial by objective (ties: the earliest)."""
    c = trials.c
    order = c.objective.asc() if objective.type is ObjectiveType.MINIMIZE else c.objective.desc()
    query = (
        sa.select(*_trial_columns(store.backend))
        .where(
            c.experiment == experiment,
            c.status.in_(BEST_ELIGIBLE),
            c.objective.is_not(None),
        )
        .order_by(order, c.trial_index)
        .limit(1)
    )
    with store.engine.connect() as conn, conn.begin():
        row = conn.execute(query).first()
    if row is None:
        return None
    return trial_dict(row, json.loads(row[-2]), json.loads(row[-1]))


def experiment_stats(store: Store) -> dict[str, dict[str, Any]]:
    """Per experiment: counts by status and the min/max objective of eligible trials."""
    c = trials.c
    query = sa.select(
        c.experiment, c.status, sa.func.count(), sa.func.min(c.objective), sa.func.max(c.objective)
    ).group_by(c.experiment, c.status)
    out: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn, conn.begin():
        for exp, status, n, lo, hi in conn.execute(query):
            entry = out.setdefault(exp, {"counts": {}, "min": None, "max": None})
            entry["counts"][status] = int(n)
            if status in BEST_ELIGIBLE:
                if lo is not None:
                    entry["min"] = lo if entry["min"] is None else min(entry["min"], lo)
                if hi is not None:
                    entry["max"] = hi if entry["max"] is None else max(entry["max"], hi)
    return out


def objective_table(store: Store, experiment: str) -> tuple[list[dict[str, Any]], list[float]]:
    """Parameters and objective of every finished trial with a finite objective."""
    c = trials.c
    query = (
        sa.select(_json_text(c.parameters, store.backend), c.objective)
        .where(
            c.experiment == experiment,
            c.status.in_(BEST_ELIGIBLE),
            c.objective.is_not(None),
        )
        .order_by(c.trial_index)
    )
    with store.engine.connect() as conn, conn.begin():
        rows = conn.execute(query).all()
    params = json.loads("[" + ",".join(r[0] for r in rows) + "]")
    return params, [float(r[1]) for r in rows]
