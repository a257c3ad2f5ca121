"""SQL rows to model objects, fast: the trial query that the store and the views share.

Listing thousands of trials is dominated by per-row work, so the trials' JSON columns are read
as one JSON array text per row (one ``json.loads`` for a whole result) and the frozen
dataclasses are built without their frozen ``__setattr__``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.storage.schema import trials

__all__ = ["json_text", "trial_query", "trials_from_rows"]

T = TypeVar("T")

TRIAL_STATUS = {c.value: c for c in TrialCondition}


def _fast_constructor(cls: type[T], names: Iterable[str]) -> Callable[..., T]:
    """A keyword constructor for a frozen dataclass that skips the frozen ``__setattr__``.

    Building 10,000 trials is a third faster this way.  Callers pass exactly ``names``; when
    the dataclass has other fields (the model grew), a ``__post_init__`` or slots, this is
    the class itself, so defaults and checks still apply.
    """
    if (
        {f.name for f in dataclasses.fields(cls)} != set(names)  # type: ignore[arg-type]
        or hasattr(cls, "__post_init__")
        or hasattr(cls, "__slots__")
    ):
        return cls
    new = object.__new__

    def make(**values: Any) -> T:
        obj = new(cls)
        obj.__dict__.update(values)
        return obj

    return make


_make_trial = _fast_constructor(
    Trial,
    (
        "name",
        "experiment",
        "index",
        "parameters",
        "status",
        "reason",
        "message",
        "labels",
        "metrics",
        "objective",
        "created_time",
        "start_time",
        "completion_time",
        "handle",
        "cursor",
        "pending_outcome",
        "objective_text",
    ),
)
_new_summary = _fast_constructor(MetricSummary, ("min", "max", "latest", "text"))


def _make_summary(data: Mapping[str, Any]) -> MetricSummary:
    return _new_summary(
        min=data.get("min"), max=data.get("max"), latest=data.get("latest"), text=data.get("text")
    )


def json_text(backend: str, column: Any) -> Any:
    """A JSON column as its stored text (no parsing in the driver)."""
    if backend == "postgresql":
        return sa.cast(column, sa.Text)
    return sa.type_coerce(column, sa.Text)


def trial_query(backend: str) -> sa.Select[Any]:
    """Select trials with the six JSON columns as one JSON array text per row.

    One ``json.loads`` per row instead of six (and no per-column processing) makes listing
    10,000 trials several times faster.  :func:`trials_from_rows` reads the rows.
    """
    cols = trials.c
    texts = []
    for col in (
        cols.parameters,
        cols.labels,
        cols.metrics,
        cols.handle,
        cols.cursor,
        cols.pending_outcome,
    ):
        texts.append(sa.func.coalesce(json_text(backend, col), sa.literal("null", sa.Text)))
    blob: sa.ColumnElement[str] = sa.literal("[", sa.Text)
    for i, text in enumerate(texts):
        blob = blob + (sa.literal(",", sa.Text) if i else sa.literal("", sa.Text)) + text
    blob = blob + sa.literal("]", sa.Text)
    return sa.select(
        cols.name,
        cols.experiment,
        cols.trial_index,
        cols.status,
        cols.reason,
        cols.message,
        cols.objective,
        cols.created_time,
        cols.start_time,
        cols.completion_time,
        cols.objective_text,
        blob.label("json"),
    )


def trials_from_rows(rows: Sequence[Any]) -> list[Trial]:
    """The trials of rows selected by :func:`trial_query`."""
    # One json.loads for the whole result: the per-call overhead dominates small documents.
    blobs = json.loads("[" + ",".join([row[-1] for row in rows]) + "]")
    status_of = TRIAL_STATUS.__getitem__
    out = []
    for row, blob in zip(rows, blobs, strict=True):
        name, exp, index, status, reason, message, objective, t0, t1, t2, text, _ = row
        parameters, labels, metrics, handle, cursor, pending = blob
        out.append(
            _make_trial(
                name=name,
                experiment=exp,
                index=index,
                parameters=parameters,
                status=status_of(status),
                reason=reason,
                message=message,
                labels=labels,
                metrics={k: _make_summary(v) for k, v in metrics.items()} if metrics else {},
                objective=objective,
                created_time=t0,
                start_time=t1,
                completion_time=t2,
                handle=handle,
                cursor=cursor,
                pending_outcome=pending,
                objective_text=text,
            )
        )
    return out
