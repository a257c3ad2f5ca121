"""Trials: the list (rows, and columns for the page), the exports (JSON, CSV), one trial with
its curves and log tail, and a page of its stored observations."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tunery import wire
from tunery.model import Experiment, Trial, TrialCondition
from tunery.thinning import THINNED_LABEL
from tunery.ui import queries
from tunery.ui.deps import UI, BadInput, NamespaceQuery, UIState, json_response
from tunery.ui.schemas import (
    CURSOR_PATTERN,
    CURVE_POINTS,
    CURVES_POINTS,
    ERRORS,
    MAX_CURVE_POINTS,
    MAX_CURVES_POINTS,
    AfterQuery,
    CurvesOut,
    ErrorOut,
    ObservationPageOut,
    SortQuery,
    StatusQuery,
    TrialColumnsOut,
    TrialDetailOut,
    TrialListOut,
    TrialOut,
)

#: The bytes of a trial's output.log the API returns at most (its tail).
LOG_TAIL_BYTES = 64 * 1024

router = APIRouter()


# --------------------------------------------------------------------------- arguments


def _after(after: str | None) -> queries.Cursor | None:
    if not after:
        return None
    if not re.fullmatch(CURSOR_PATTERN, after):
        raise BadInput(f"after: not a cursor of this API: {after[:40]!r}")
    try:
        return queries.Cursor.decode(after)
    except queries.CursorError as exc:
        raise BadInput(f"after: {exc}") from None


def _statuses(status: str | None) -> list[str] | None:
    if not status:
        return None
    statuses = [s.strip(" ") for s in status.split(",")]
    known = {c.value for c in TrialCondition}
    for s in statuses:
        if s not in known:
            raise BadInput(
                f"status: unknown trial status {s[:40]!r}; use {', '.join(sorted(known))} "
                "(comma-separated)"
            )
    return statuses


def _sort(sort: str | None) -> tuple[str, bool] | None:
    if not sort:
        return None
    try:
        return queries.parse_sort(sort)
    except ValueError as exc:
        raise BadInput(f"sort: {exc}") from None


def _rows(
    ui: UIState,
    after: str | None,
    status: str | None,
    sort: str | None,
    limit: int | None = None,
    offset: int = 0,
) -> Callable[[str], queries.TrialPage]:
    """Check the arguments now; read the trials of the experiment (its key) when the answer
    is called."""
    cursor, statuses, key = _after(after), _statuses(status), _sort(sort)
    return lambda name: queries.trial_page(
        ui.store,
        name,
        after=cursor,
        statuses=statuses,
        sort=key,
        limit=limit,
        offset=offset,
        objective=ui.store.get_experiment(name).spec.objective,
    )


def read_log_tail(exp: Experiment, trial: str) -> dict[str, Any] | None:
    """The tail of ``<runs_dir>/<exp>/<trial>/output.log``; None when there is none."""
    if not exp.runs_dir:
        return None
    root = Path(exp.runs_dir).resolve()
    path = (root / exp.key / trial / "output.log").resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            start = max(0, size - LOG_TAIL_BYTES)
            fh.seek(start)
            data = fh.read(LOG_TAIL_BYTES)
    except OSError:
        return None
    if start > 0:
        # Drop the partial first line.
        newline = data.find(b"\n")
        if 0 <= newline < len(data) - 1:
            data = data[newline + 1 :]
    return {"text": data.decode("utf-8", errors="replace"), "size": size, "truncated": start > 0}


# --------------------------------------------------------------------------- lists


@router.get(
    "/api/experiments/{name}/trials",
    response_model=TrialListOut,
    responses=ERRORS,
    tags=["trials"],
)
def list_trials(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    after: AfterQuery = None,
    status: StatusQuery = None,
    sort: SortQuery = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The experiment's trials, or those changed since a cursor (for live pages).

    Poll with the ``cursor`` of the previous answer as ``after``: the answer holds every
    active trial, every trial created since and every trial finished since (a trial may
    come twice; merge by name), and the counts by status of all trials, with which a
    client checks its merged copy (reload without ``after`` when they disagree).
    """
    read = _rows(ui, after, status, sort, limit, offset)
    name = ui.store.resolve(name, namespace)  # the store key from here on

    def build() -> str:
        page = read(name)
        data = {
            "experiment": name,
            "cursor": page.cursor.encode(),
            "full": not after,
            "matched": page.matched,
            "counts": page.counts,
            "trials": page.trials,
        }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    key = None if after else ("rows", status, sort, limit, offset)
    return Response(ui.body(name, key, build), media_type="application/json")


@router.get(
    "/api/experiments/{name}/trial-columns",
    response_model=TrialColumnsOut,
    responses=ERRORS,
    tags=["trials"],
)
def trial_columns(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    after: AfterQuery = None,
    status: StatusQuery = None,
) -> Response:
    """The trials of ``/trials`` as columns: one array per field, by index (what the page
    loads; about a third smaller and many times faster to build and to parse).

    ``columns.parameters[i]`` and ``columns.metrics[i]`` are the i-th trial's objects;
    times are milliseconds since the epoch.  ``after`` and the answer's ``cursor`` and
    ``counts`` work as in ``/trials``.
    """
    cursor, statuses = _after(after), _statuses(status)
    name = ui.store.resolve(name, namespace)  # the store key from here on

    def build() -> str:
        return queries.columns_body(ui.store, name, after=cursor, statuses=statuses)

    key = None if cursor else ("columns", status)
    return Response(ui.body(name, key, build), media_type="application/json")


@router.get(
    "/api/experiments/{name}/observations",
    response_model=CurvesOut,
    responses={
        404: {"model": ErrorOut, "description": "No experiment of that name, or no metric."}
    },
    tags=["trials"],
)
def experiment_observations(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    metric: Annotated[
        str | None,
        Query(max_length=200, description="A metric of the experiment; default: the objective."),
    ] = None,
    points: Annotated[
        int,
        Query(ge=4, le=MAX_CURVES_POINTS, description="Points per trial at most."),
    ] = CURVES_POINTS,
    after: AfterQuery = None,
) -> Response:
    """Every trial's curve of one metric in one answer (the intermediate-values chart).

    ``metric`` is the objective's or one of the additional metrics (another name: 404).
    A curve with more than ``points`` observations is downsampled (its first and last points,
    and the lowest and highest of each stretch between); ``/trials/{trial}/observations``
    pages through every stored one.  ``after`` and the answer's ``cursor`` and ``counts``
    work as in ``/trials``: only the curves of the trials changed since.
    """
    cursor = _after(after)
    name = ui.store.resolve(name, namespace)  # the store key from here on
    exp = ui.store.get_experiment(name)
    objective = exp.spec.objective
    known = [objective.objective_metric_name, *objective.additional_metric_names]
    chosen = objective.objective_metric_name if metric is None else metric
    if chosen not in known:
        raise BadInput(
            f"metric: {chosen[:60]!r} is not a metric of experiment {name!r}; "
            f"use one of {', '.join(known)}",
            404,
        )

    def build() -> str:
        return queries.curves_body(ui.store, name, chosen, points, after=cursor)

    # Kept while the trials are unchanged and the running ones' curves too (a point may come
    # with no change to a trial's summary).
    key = None
    if not cursor:
        key = ("curves", chosen, points, queries.active_curves(ui.store, name, chosen))
    return Response(ui.body(name, key, build), media_type="application/json")


# --------------------------------------------------------------------------- exports


@router.get(
    "/api/experiments/{name}/trials.json",
    response_model=list[TrialOut],
    responses=ERRORS,
    tags=["export"],
)
def export_json(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    status: StatusQuery = None,
    sort: SortQuery = None,
) -> Response:
    """Every trial as a JSON list (``tunery trials --json``'s shape, and more)."""
    read = _rows(ui, None, status, sort)
    name = ui.store.resolve(name, namespace)  # the store key from here on

    def build() -> str:
        return json.dumps(read(name).trials, separators=(",", ":"), ensure_ascii=False)

    response = Response(
        ui.body(name, ("export", status, sort), build), media_type="application/json"
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-trials.json"'
    return response


@router.get(
    "/api/experiments/{name}/trials.csv",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
    tags=["export"],
)
def export_csv(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    status: StatusQuery = None,
    sort: SortQuery = None,
) -> Response:
    """Every trial as CSV: one column per parameter and per metric summary."""
    read = _rows(ui, None, status, sort)
    name = ui.store.resolve(name, namespace)  # the store key from here on
    exp = ui.store.get_experiment(name)
    return Response(
        wire.csv_text(exp, read(name).trials),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-trials.csv"'},
    )


# --------------------------------------------------------------------------- one trial


@router.get(
    "/api/experiments/{name}/trials/{trial}",
    response_model=TrialDetailOut,
    responses=ERRORS,
    tags=["trials"],
)
def get_trial(
    name: str,
    trial: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    points: Annotated[
        int,
        Query(ge=4, le=MAX_CURVE_POINTS, description="Points per curve at most."),
    ] = CURVE_POINTS,
) -> Response:
    """One trial: its curves (at most ``points`` per metric) and the tail of its output.log.

    ``/observations`` pages through every stored observation.
    """
    name = ui.store.resolve(name, namespace)  # the store key from here on
    store = ui.store
    exp = store.get_experiment(name)
    t = store.get_trial(name, trial)
    data = wire.trial_json(t, exp.spec.objective)
    curves = store.observation_series(name, t.name, points)
    reported = (t.cursor or {}).get("counts") or {}
    data["observations"] = {
        metric: [{"step": o.step, "value": o.value, "timestamp": o.timestamp} for o in c.points]
        for metric, c in curves.items()
    }
    data["series"] = {
        metric: {
            "reported": max(int(reported.get(metric, 0)), c.stored),
            "stored": c.stored,
            "returned": len(c.points),
        }
        for metric, c in curves.items()
    }
    thinned = t.labels.get(THINNED_LABEL)
    data["thinned"] = thinned.split(",") if thinned else []
    data["log"] = read_log_tail(exp, t.name)
    data["architecture"] = architecture_json(t)
    return json_response(data)


def architecture_json(t: Trial) -> dict[str, Any] | None:
    """What a NAS trial built, readable (:func:`tunery.nas.render.trial_architecture`): its
    ENAS layers or its DARTS genotype's cells; None for any other trial."""
    from tunery.nas.render import trial_architecture

    texts = [t.objective_text, *(m.text for m in t.metrics.values())]
    arc = trial_architecture(t.parameters, texts)
    return None if arc is None else arc.to_json()


@router.get(
    "/api/experiments/{name}/trials/{trial}/observations",
    response_model=ObservationPageOut,
    responses=ERRORS,
    tags=["trials"],
)
def trial_observations(
    name: str,
    trial: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    metric: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CURVE_POINTS)] = CURVE_POINTS,
) -> Response:
    """A page of a trial's stored observations (of ``metric``, else all), as stored."""
    name = ui.store.resolve(name, namespace)  # the store key from here on
    store = ui.store
    t = store.get_trial(name, trial)
    counts = store.observation_counts(name, t.name)
    page = store.get_observations(name, t.name, metric, limit=limit, offset=offset)
    data = {
        "experiment": name,
        "trial": t.name,
        "metric": metric,
        "total": counts.get(metric, 0) if metric is not None else sum(counts.values()),
        "offset": offset,
        "observations": [
            {
                "metric": o.metric_name,
                "step": o.step,
                "value": o.value,
                "timestamp": o.timestamp,
            }
            for o in page
        ],
    }
    return json_response(data)
