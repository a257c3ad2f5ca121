"""The UI's reads, through :class:`~tunery.storage.Store` only, and the trial list's cursor.

Two shapes of the trial list come from here:

- *rows* (``/trials``, the exports): each trial an object in the wire shape
  (:mod:`tunery.wire`, as ``tunery trials --json``), built in Python from
  :func:`~tunery.storage.views.trial_rows`; sortable and sliceable;
- *columns* (``/columns``, what the page loads): one JSON array per field, built by the
  database (:func:`~tunery.storage.views.trial_columns`) and spliced into the answer as text,
  so no Python object is made per trial.

Both answers of a full list (no cursor) are kept by :class:`BodyCache` and served again
while the experiment's trials have not changed.

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

One controller writes an experiment's trials and a finished trial never changes (every
update the controller makes expects an active trial), so a trial that was active at one poll
is returned again at the next poll after it ends.  The answer also carries the trial counts
by status; a client whose merged copy disagrees with them (a clock that went backwards after
a controller moved host, a deleted experiment) reloads the full list.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tunery import wire
from tunery.model import Objective, Observation, TrialCondition
from tunery.storage import Store, views
from tunery.storage.views import TrialMarks
from tunery.thinning import downsample

ACTIVE = (TrialCondition.CREATED.value, TrialCondition.RUNNING.value)
#: Conditions whose objective counts for the best trial (Katib's currentOptimalTrial).
BEST_ELIGIBLE = (TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value)
#: The API's camelCase sort keys that the database sorts by -> :func:`views.trial_rows`'s keys.
ORDER_COLUMNS = {
    "index": "index",
    "name": "name",
    "status": "status",
    "objective": "objective",
    "createdTime": "created_time",
    "startTime": "start_time",
    "completionTime": "completion_time",
}
#: The fields of the columnar list, in order: answer key -> views.trial_columns key.
COLUMNS = {
    "name": "name",
    "index": "index",
    "status": "status",
    "reason": "reason",
    "message": "message",
    "objective": "objective",
    "createdTime": "created_ms",
    "startTime": "start_ms",
    "completionTime": "completion_ms",
    "parameters": "parameters",
    "metrics": "metrics",
}


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

    @classmethod
    def of(cls, marks: TrialMarks) -> Cursor:
        return cls(-1 if marks.max_index is None else marks.max_index, marks.max_completion)

    def since(self) -> tuple[int, float | None]:
        """As ``changed_since`` of the Store's reads."""
        return self.max_index, self.max_completion


SORT_KEYS = ("index", "name", "status", "objective", "createdTime", "startTime", "completionTime")


def parse_sort(text: str) -> tuple[str, bool]:
    """``(key, descending)`` of a sort argument; ValueError naming the choices."""
    descending = text.startswith("-")
    key = text[1:] if descending else text
    kind, _, name = key.partition(":")
    if key in SORT_KEYS or (kind in ("param", "metric") and name):
        return key, descending
    raise ValueError(
        f"unknown key {text[:60]!r}; use one of {', '.join(SORT_KEYS)}, param:NAME or "
        "metric:NAME, with - in front for descending"
    )


def _sort_value(trial: Mapping[str, Any], key: str) -> Any:
    kind, _, name = key.partition(":")
    if kind == "param":
        return trial["parameters"].get(name)
    if kind == "metric":
        summary = trial["metrics"].get(name)
        return summary.get("latest") if isinstance(summary, dict) else None
    return trial[key]


def sort_trials(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Sort: numbers before text, missing values last either way, ties by index."""
    present: list[tuple[Any, dict[str, Any]]] = []
    missing: list[dict[str, Any]] = []
    for t in rows:
        value = _sort_value(t, key)
        if value is None:
            missing.append(t)
        else:
            present.append((value, t))

    def order(item: tuple[Any, Mapping[str, Any]]) -> tuple[int, Any]:
        value = item[0]
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, value)
        return (1, str(value))

    # Both sorts are stable (reverse=True too): ties stay by index.
    present.sort(key=lambda item: item[1]["index"])
    present.sort(key=order, reverse=descending)
    return [t for _, t in present] + missing


@dataclass
class TrialPage:
    """The answer of :func:`trial_page`."""

    trials: list[dict[str, Any]]
    cursor: Cursor
    counts: dict[str, int]
    matched: int


def trial_page(
    store: Store,
    experiment: str,
    *,
    after: Cursor | None = None,
    statuses: Iterable[str] | None = None,
    sort: tuple[str, bool] | None = None,
    limit: int | None = None,
    offset: int = 0,
    objective: Objective | None = None,
) -> TrialPage:
    """The experiment's trials (those changed since ``after``) as dicts, in one snapshot
    (with ``objective``: each trial's ``objectives`` and ``feasible`` too).

    By index unless ``sort`` (from :func:`parse_sort`) says otherwise.
    """
    since = None if after is None else after.since()
    if sort is None or sort[0] in ORDER_COLUMNS:
        # Sorted and cut by the database: a page of 10,000 trials costs a page.
        read = views.trial_rows(
            store,
            experiment,
            changed_since=since,
            statuses=statuses,
            order=None if sort is None else (ORDER_COLUMNS[sort[0]], sort[1]),
            limit=limit,
            offset=offset,
        )
        matched = len(read.rows) if read.matched is None else read.matched
        return TrialPage(
            [wire.trial_row_json(t, objective) for t in read.rows],
            Cursor.of(read),
            read.counts,
            matched,
        )
    read = views.trial_rows(store, experiment, changed_since=since, statuses=statuses)
    dicts = [wire.trial_row_json(t, objective) for t in read.rows]
    if sort is not None:
        dicts = sort_trials(dicts, *sort)
    matched = len(dicts)
    dicts = dicts[offset:] if limit is None else dicts[offset : offset + limit]
    return TrialPage(dicts, Cursor.of(read), read.counts, matched)


def columns_body(
    store: Store,
    experiment: str,
    *,
    after: Cursor | None = None,
    statuses: Iterable[str] | None = None,
) -> str:
    """The columnar trial list's answer as JSON text (see ``/columns`` in the app)."""
    read = views.trial_columns(
        store, experiment, changed_since=None if after is None else after.since(), statuses=statuses
    )
    head = json.dumps(
        {
            "experiment": experiment,
            "cursor": Cursor.of(read).encode(),
            "full": after is None,
            "matched": read.length,
            "counts": read.counts,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    columns = ",".join(f'"{key}":{read.columns[source]}' for key, source in COLUMNS.items())
    return head[:-1] + ',"columns":{' + columns + "}}"


def curves_body(
    store: Store,
    experiment: str,
    metric: str,
    points: int,
    *,
    after: Cursor | None = None,
) -> str:
    """Every trial's curve of ``metric`` as JSON text (see ``/observations`` in the app): the
    database's arrays spliced in as they are, a curve of more than ``points`` observations
    downsampled (:func:`tunery.thinning.downsample`: its first and last points, and the lowest
    and highest of each stretch between)."""
    read = views.metric_curves(
        store, experiment, metric, changed_since=None if after is None else after.since()
    )
    head = json.dumps(
        {
            "experiment": experiment,
            "metric": metric,
            "cursor": Cursor.of(read).encode(),
            "full": after is None,
            "points": points,
            "counts": read.counts,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    parts = []
    for c in read.curves:
        steps, values = c.steps, c.values
        if c.stored > points:
            kept = downsample(
                (
                    Observation(c.name, metric, v, s)
                    for s, v in zip(json.loads(steps), json.loads(values), strict=True)
                ),
                c.stored,
                points,
            )
            steps = json.dumps([o.step for o in kept], separators=(",", ":"))
            values = json.dumps([o.value for o in kept], separators=(",", ":"))
        name = json.dumps(c.name, ensure_ascii=False)
        parts.append(
            f'{{"name":{name},"index":{c.trial_index},"status":{json.dumps(c.status)},'
            f'"stored":{c.stored},"steps":{steps},"values":{values}}}'
        )
    return head[:-1] + ',"trials":[' + ",".join(parts) + "]}"


def active_curves(store: Store, experiment: str, metric: str) -> Hashable:
    """Where the running trials' curves of ``metric`` stand (part of what a kept
    ``/observations`` answer depends on, besides :func:`version`)."""
    return views.active_curve_marks(store, experiment, metric)


def version(store: Store, experiment: str, created_time: float | None) -> Hashable:
    """What a full trial list depends on, read cheaply: when it is unchanged, so is the list.

    The marks (counts by status, largest index and completion time) change whenever a trial
    is added, deleted or finishes; the active trials are read whole (there are at most
    ``parallelTrialCount`` of them); finished trials never change.  The experiment's
    creation time tells a deleted and recreated experiment of the same name apart.
    """
    active = views.trial_columns(store, experiment, statuses=ACTIVE)
    return (
        created_time,
        tuple(active.counts.items()),
        active.max_index,
        active.max_completion,
        tuple(active.columns.values()),
    )


class BodyCache:
    """The last few full trial-list answers, each valid while its :func:`version` holds."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[Hashable, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, current: Hashable) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != current:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, current: Hashable, body: str) -> None:
        with self._lock:
            self._entries[key] = (current, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def trial_counts(store: Store, experiment: str) -> dict[str, int]:
    """Trial counts by Katib condition (every condition is a key)."""
    return {c.value: n for c, n in views.count_trials(store, experiment).items()}


def best_trial_row(store: Store, experiment: str, objective: Objective) -> dict[str, Any] | None:
    """The best succeeded or early-stopped trial by objective (ties: the earliest)."""
    best = views.best_trial(store, experiment, objective)
    return None if best is None else wire.trial_json(best, objective)


def experiment_stats(store: Store) -> dict[str, dict[str, Any]]:
    """Per experiment: counts by status and the min/max objective of eligible trials."""
    out: dict[str, dict[str, Any]] = {}
    for exp, by_status in views.trial_summaries(store).items():
        entry: dict[str, Any] = {"counts": {}, "min": None, "max": None}
        for status, (count, low, high) in by_status.items():
            entry["counts"][status] = count
            if status in BEST_ELIGIBLE:
                if low is not None:
                    entry["min"] = low if entry["min"] is None else min(entry["min"], low)
                if high is not None:
                    entry["max"] = high if entry["max"] is None else max(entry["max"], high)
        out[exp] = entry
    return out


def objective_table(store: Store, experiment: str) -> tuple[list[dict[str, Any]], list[float]]:
    """Parameters and objective of every finished trial with an objective."""
    read = views.trial_columns(
        store, experiment, statuses=BEST_ELIGIBLE, fields=("parameters", "objective")
    )
    params = json.loads(read.columns["parameters"])
    objectives = json.loads(read.columns["objective"])
    keep = [i for i, value in enumerate(objectives) if value is not None]
    return [params[i] or {} for i in keep], [float(objectives[i]) for i in keep]
