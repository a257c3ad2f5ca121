"""The web UI: a JSON API (FastAPI, documented at ``/docs`` and ``/openapi.json``) and one page.

The app reads through the store and writes only *intents* (stop an experiment, kill a trial)
and new experiments (stored, not run); the experiment's controller acts on intents.  Writes
need ``Authorization: Bearer <token>``; reads need it too when the server is reachable from
the network (``reads_need_token``), and nothing on loopback, the default.  Every request's
``Host`` must be a name the server is reachable by (``tunery.ui.exposure``).

``create_app(store, token)`` builds the app; ``serve(db)`` runs it with uvicorn.  See
``docs/ui.md``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tunery.client import Client
from tunery.clock import Clock
from tunery.errors import (
    AlreadyExistsError,
    NotFoundError,
    SpecError,
    StorageError,
    TuneryError,
)
from tunery.model import Experiment, IntentKind, TrialCondition, collects_files
from tunery.storage import Store
from tunery.thinning import THINNED_LABEL
from tunery.ui import queries
from tunery.ui.exposure import LOOPBACK_NAMES, Gate, HostNames, host_names, is_loopback
from tunery.ui.importance import METHOD, MIN_TRIALS, parameter_importance

__all__ = ["create_app", "serve"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: The bytes of a trial's output.log the API returns at most (its tail).
LOG_TAIL_BYTES = 64 * 1024
#: Points per metric the trial endpoint returns by default, and at most (``points=``).
CURVE_POINTS = 2_000
MAX_CURVE_POINTS = 20_000
#: The largest experiment YAML a POST accepts.
MAX_BODY_BYTES = 1024 * 1024

#: The page loads scripts and styles only from this server; inline scripts and ``eval`` are
#: forbidden, so markup smuggled into the page could not run.  (plotly, on the trial page, draws
#: only SVG scatter traces, which need no ``eval``; its WebGL traces would.)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)

# The query arguments' patterns: published in the OpenAPI document and enforced as written
# (``re.fullmatch``, where ``$`` matches only at the end, as in the document's ECMA regexes).
_STATUSES = "|".join(sorted(c.value for c in TrialCondition))
#: Comma-separated trial statuses (spaces around them allowed); empty: every status.
STATUS_PATTERN = rf"^(?: *(?:{_STATUSES}) *(?:, *(?:{_STATUSES}) *)*)?$"
#: A sort key, ``-`` in front for descending; empty: by index.
SORT_PATTERN = rf"^(?:-?(?:{'|'.join(queries.SORT_KEYS)}|(?:param|metric):[\s\S]+))?$"
#: ``v1.<max index>.<max completion time or ->`` as the API hands it out (the time as Python's
#: ``repr`` writes a float, in ranges that stay finite); empty: no cursor.
CURSOR_PATTERN = (
    r"^(?:v1\.-?[0-9]{1,18}\.(?:-|-?[0-9]{1,17}(?:\.[0-9]{1,25})?(?:e-[0-9]{1,3})?"
    r"|-?[0-9](?:\.[0-9]{1,17})?e\+?(?:[0-9]{1,2}|[12][0-9]{2})))?$"
)

AfterQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        description="A cursor from an earlier answer: only trials changed since.",
        json_schema_extra={"pattern": CURSOR_PATTERN},
    ),
]
StatusQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated trial statuses to keep.",
        json_schema_extra={"pattern": STATUS_PATTERN},
    ),
]
SortQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="index, name, status, objective, createdTime, startTime, completionTime, "
        "param:NAME or metric:NAME (latest value); - in front: descending.  Missing values "
        "sort last.  Default: index.",
        json_schema_extra={"pattern": SORT_PATTERN},
    ),
]


# --------------------------------------------------------------------------- response models


class ErrorOut(BaseModel):
    detail: str = Field(description="What is wrong, in one line, naming the field at fault.")


class MetricSummaryOut(BaseModel):
    min: float | None = None
    max: float | None = None
    latest: float | None = None


class TrialOut(BaseModel):
    """A trial: ``tunery trials --json``'s shape plus index, reason, message, createdTime."""

    name: str
    index: int
    status: str
    reason: str | None = None
    message: str | None = None
    parameters: dict[str, float | int | str]
    metrics: dict[str, MetricSummaryOut]
    objective: float | None = None
    createdTime: str | None = None
    startTime: str | None = None
    completionTime: str | None = None


class TrialCountsOut(BaseModel):
    total: int
    succeeded: int
    failed: int
    running: int
    earlyStopped: int
    killed: int
    metricsUnavailable: int


class ObjectiveOut(BaseModel):
    type: str
    objectiveMetricName: str
    goal: float | None = None
    additionalMetricNames: list[str]


class ParameterOut(BaseModel):
    name: str
    parameterType: str
    feasibleSpace: dict[str, Any]


class ExperimentOut(BaseModel):
    name: str
    namespace: str
    status: str
    reason: str | None = None
    message: str | None = None
    algorithm: str
    objective: ObjectiveOut
    parameters: list[ParameterOut]
    parallelTrialCount: int
    maxTrialCount: int | None = None
    best: float | None = Field(None, description="The best objective value so far.")
    trials: TrialCountsOut
    createdTime: str | None = None
    startTime: str | None = None
    completionTime: str | None = None


class BestHyperparametersOut(BaseModel):
    trial: str
    parameters: dict[str, float | int | str]
    cli: str = Field(description="The best values as command-line arguments: --name=value ...")
    yaml: str = Field(description="The best values as a YAML mapping.")


class ExperimentDetailOut(ExperimentOut):
    yaml: str = Field(description="The experiment's document, as YAML.")
    bestTrial: TrialOut | None = None
    bestHyperparameters: BestHyperparametersOut | None = None
    stopRequested: bool = Field(description="A stop intent waits for the controller.")


class TrialListOut(BaseModel):
    experiment: str
    cursor: str = Field(description="Pass as ?after= to get only the trials changed since.")
    full: bool = Field(description="True when this is the whole list (no cursor given).")
    matched: int = Field(description="Trials that matched (before limit/offset).")
    counts: dict[str, int] = Field(description="All the experiment's trials by status.")
    trials: list[TrialOut]


class TrialColumnsDataOut(BaseModel):
    """Aligned arrays, one element per trial."""

    name: list[str]
    index: list[int]
    status: list[str]
    reason: list[str | None]
    message: list[str | None]
    objective: list[float | None]
    createdTime: list[int | None] = Field(description="Milliseconds since the epoch.")
    startTime: list[int | None] = Field(description="Milliseconds since the epoch.")
    completionTime: list[int | None] = Field(description="Milliseconds since the epoch.")
    parameters: list[dict[str, float | int | str]]
    metrics: list[dict[str, MetricSummaryOut]]


class TrialColumnsOut(BaseModel):
    experiment: str
    cursor: str = Field(description="Pass as ?after= to get only the trials changed since.")
    full: bool = Field(description="True when this is the whole list (no cursor given).")
    matched: int = Field(description="Trials in this answer.")
    counts: dict[str, int] = Field(description="All the experiment's trials by status.")
    columns: TrialColumnsDataOut


class ObservationOut(BaseModel):
    step: int
    value: float | None = None
    timestamp: float | None = None


class MetricObservationOut(ObservationOut):
    metric: str


class LogOut(BaseModel):
    text: str
    size: int = Field(description="Size of the whole output.log in bytes.")
    truncated: bool = Field(description="True when text is only the log's tail.")


class SeriesOut(BaseModel):
    reported: int = Field(description="Values of the metric the trial reported.")
    stored: int = Field(
        description="Observations stored: every one up to 10,000, then a thinned curve."
    )
    returned: int = Field(
        description="Points in `observations`: every stored one, or at most `points` of "
        "them (the first, the last, and the lowest and highest of each stretch between)."
    )


class TrialDetailOut(TrialOut):
    observations: dict[str, list[ObservationOut]]
    series: dict[str, SeriesOut] = Field(description="How many points each curve has.")
    thinned: list[str] = Field(
        description="Metrics reported more than 10,000 times: their stored curve is a sample "
        "(label tunery.dev/observations-thinned); min, max and latest stay exact."
    )
    labels: dict[str, str]
    log: LogOut | None = None
    metricsPath: str | None = Field(
        default=None,
        description="The trial's own metrics file or directory (File, TensorFlowEvent and "
        "Custom collectors), on the controller's machine.",
    )


class ObservationPageOut(BaseModel):
    experiment: str
    trial: str
    metric: str | None = None
    total: int = Field(description="Stored observations (of `metric`, else of every metric).")
    offset: int
    observations: list[MetricObservationOut]


class ImportanceItemOut(BaseModel):
    name: str
    importance: float
    normalized: float


class ImportanceOut(BaseModel):
    experiment: str
    method: str
    trials: int = Field(description="Finished trials with an objective that were used.")
    parameters: list[ImportanceItemOut]
    message: str | None = None


class IntentOut(BaseModel):
    id: int
    experiment: str
    kind: str
    target: str | None = None


class CreatedOut(BaseModel):
    name: str
    status: str


#: The outline of the body ``POST /api/experiments`` takes (as YAML or JSON); the rest of what
#: it must hold is ``tunery validate``'s (docs/spec-reference.md), more than a JSON Schema says.
EXPERIMENT_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"enum": ["kubeflow.org/v1beta1", "tunery/v1"]},
        "kind": {"const": "Experiment"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
            },
        },
        "spec": {"type": "object"},
    },
}

#: The answers of an operation on a named experiment or trial, besides COMMON_ERRORS.
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No experiment or trial of that name."},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": ErrorOut, "description": "No token, or a wrong one."},
    409: {"model": ErrorOut, "description": "It has already ended, or already exists."},
}
#: What every /api operation may answer, whatever it does (added by ``_complete_document``):
#: the Host check, the store's refusals and outages, and invalid input (a query argument, the
#: body, or a stored document the API cannot read).
COMMON_ERRORS = {
    "400": "A request the store refuses.",
    "421": "The Host header is not a name this server answers to (a guard against DNS "
    "rebinding; `tunery ui --allow-host NAME` adds one).",
    "422": "Invalid input, named in the detail.",
    "503": "The database is unavailable.",
}
UNAUTHORIZED = "No token, or a wrong one (`Authorization: Bearer <token>`)."


def _complete_document(schema: dict[str, Any], reads_need_token: bool) -> None:
    """Make the OpenAPI document say what the middleware and the error handlers answer:
    COMMON_ERRORS on every operation, the token (security and 401) on every operation that
    needs it, and 422 as the one-line ``ErrorOut`` the handler sends (not FastAPI's list)."""
    ref = {"$ref": "#/components/schemas/ErrorOut"}

    def error(description: str) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": ref}}}

    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if reads_need_token and path.startswith("/api/"):
                operation.setdefault("security", [{"HTTPBearer": []}])
            for code, description in COMMON_ERRORS.items():
                if "HTTPValidationError" in json.dumps(responses.get(code, {})):
                    del responses[code]
                responses.setdefault(code, error(description))
            if operation.get("security"):
                responses.setdefault("401", error(UNAUTHORIZED))
                responses["401"]["headers"] = {
                    "WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}
                }
            operation["responses"] = dict(sorted(responses.items()))
    schemas = schema.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


# --------------------------------------------------------------------------- helpers

#: Module level: FastAPI resolves the (string) annotations of dependencies in module globals.
_BEARER = HTTPBearer(auto_error=False, description="The token `tunery ui` printed.")


def _json(data: Any, status_code: int = 200) -> Response:
    """A JSON response built without a second validation pass (the big lists are fast)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status_code=status_code, media_type="application/json")


def _format_value(value: Any) -> str:
    from tunery.spec import format_value

    return format_value(value)


def _experiment_dict(exp: Experiment, counts: dict[str, int], best: float | None) -> dict[str, Any]:
    spec = exp.spec
    obj = spec.objective
    from tunery.spec.katib import parameter_to_document

    return {
        "name": exp.name,
        "namespace": spec.namespace,
        "status": exp.status.value,
        "reason": exp.reason,
        "message": exp.message,
        "algorithm": spec.algorithm.algorithm_name,
        "objective": {
            "type": obj.type.value,
            "objectiveMetricName": obj.objective_metric_name,
            "goal": obj.goal,
            "additionalMetricNames": list(obj.additional_metric_names),
        },
        "parameters": [parameter_to_document(p) for p in spec.parameters],
        "parallelTrialCount": spec.parallel_trial_count,
        "maxTrialCount": spec.max_trial_count,
        "best": best,
        "trials": queries.summary_counts(counts),
        "createdTime": queries.iso(exp.created_time),
        "startTime": queries.iso(exp.start_time),
        "completionTime": queries.iso(exp.completion_time),
    }


def _best_of(exp: Experiment, stats: dict[str, Any] | None) -> float | None:
    if not stats:
        return None
    return stats["min"] if exp.spec.objective.type.value == "minimize" else stats["max"]


def _best_hyperparameters(exp: Experiment, best: dict[str, Any]) -> dict[str, Any]:
    params = {
        p.name: best["parameters"][p.name]
        for p in exp.spec.parameters
        if p.name in best["parameters"]
    }
    cli = " ".join(shlex.quote(f"--{k}={_format_value(v)}") for k, v in params.items())
    text = yaml.safe_dump(params, sort_keys=False, allow_unicode=True)
    return {"trial": best["name"], "parameters": params, "cli": cli, "yaml": text}


class _BadInput(Exception):
    """A request the API refuses with 422 and a one-line message."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _read_log_tail(exp: Experiment, trial: str) -> dict[str, Any] | None:
    """The tail of ``<runs_dir>/<exp>/<trial>/output.log``; None when there is none."""
    if not exp.runs_dir:
        return None
    root = Path(exp.runs_dir).resolve()
    path = (root / exp.name / trial / "output.log").resolve()
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


def _csv_cell(value: Any) -> Any:
    """Spreadsheets run cells that begin with = + - @ as formulas: quote such text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- the app


def create_app(
    store: Store,
    token: str,
    *,
    runs_dir: str | None = None,
    base_dir: str | None = None,
    allowed_hosts: list[str] | None = None,
    reads_need_token: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """The UI's app over ``store``; writes need ``Authorization: Bearer <token>``, and with
    ``reads_need_token`` every ``/api`` call does.  ``clock`` dates what the app writes.

    Experiments created through the API resolve relative paths against ``base_dir`` and put
    trial directories under ``runs_dir`` (defaults: the current directory and
    ``./tunery-runs``, as ``tunery create``).  ``allowed_hosts`` are the ``Host`` names the app
    answers (default: the loopback ones; see ``tunery.ui.exposure.host_names``); any other
    gets 421, a guard against DNS rebinding.
    """
    if not token:
        raise ValueError("create_app() needs a non-empty token")
    client = Client(store=store, clock=clock)
    reads = "Every call needs" if reads_need_token else "Reads need nothing; writes need"
    app = FastAPI(
        title="tunery",
        summary="Experiments, trials and metrics of a tunery database.",
        description=(
            f"{reads} `Authorization: Bearer <token>` (the token `tunery ui` printed).  "
            "Writes (stop, kill, create) only write intents for the experiment's controller, "
            "or a new experiment that is stored but not run.  Requests whose `Host` is not a "
            "name the server answers to get 421."
        ),
        version="1",
    )
    app.add_middleware(
        Gate,
        hosts=HostNames(allowed_hosts or LOOPBACK_NAMES),
        token=token,
        reads_need_token=reads_need_token,
    )
    make_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _complete_document(make_document(), reads_need_token)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]

    def authorize(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> None:
        given = credentials.credentials if credentials is not None else ""
        if not given or not secrets.compare_digest(given.encode(), token.encode()):
            raise _BadInput(
                "authorization: a valid bearer token is needed to change anything "
                "(the token `tunery ui` printed)",
                401,
            )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # ---------------------------------------------------------------- errors

    @app.exception_handler(_BadInput)
    async def bad_input(_request: Request, exc: _BadInput) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.message}, exc.status_code, headers=headers)

    @app.exception_handler(TuneryError)
    async def tunery_error(_request: Request, exc: TuneryError) -> Response:
        if isinstance(exc, SpecError):
            return JSONResponse({"detail": exc.one_line()}, 422)
        status = 400
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, AlreadyExistsError):
            status = 409
        elif isinstance(exc, StorageError):
            status = 503
        return JSONResponse({"detail": exc.one_line()}, status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if not errors:
            return JSONResponse({"detail": "invalid request"}, 422)
        first = errors[0]
        loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return JSONResponse({"detail": _one_line(f"{loc or 'request'}: {first.get('msg')}")}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path; GET and POST
            # /api/experiments are two routes: name every method the path has.
            methods: set[str] = set()
            for route in request.app.router.routes:
                match, _ = route.matches(request.scope)
                if match is not Match.NONE:
                    methods |= getattr(route, "methods", None) or set()
            if methods:
                headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
        return JSONResponse(
            {"detail": _one_line(str(exc.detail))}, exc.status_code, headers=headers
        )

    # ---------------------------------------------------------------- reads

    @app.get("/api/experiments", response_model=list[ExperimentOut], tags=["experiments"])
    def list_experiments() -> Response:
        """Every experiment, oldest first, with trial counts and the best objective value."""
        stats = queries.experiment_stats(store)
        out = []
        for exp in store.list_experiments():
            entry = stats.get(exp.name)
            out.append(
                _experiment_dict(exp, entry["counts"] if entry else {}, _best_of(exp, entry))
            )
        return _json(out)

    @app.get(
        "/api/experiments/{name}",
        response_model=ExperimentDetailOut,
        responses=ERRORS,
        tags=["experiments"],
    )
    def get_experiment(name: str) -> Response:
        """One experiment: its YAML, its best trial and best hyperparameters."""
        exp = store.get_experiment(name)
        counts = queries.trial_counts(store, name)
        best = queries.best_trial_row(store, name, exp.spec.objective)
        data = _experiment_dict(exp, counts, best["objective"] if best else None)
        data["yaml"] = yaml.safe_dump(
            dict(exp.document), sort_keys=False, allow_unicode=True, default_flow_style=False
        )
        data["bestTrial"] = best
        data["bestHyperparameters"] = _best_hyperparameters(exp, best) if best else None
        data["stopRequested"] = any(
            i.kind == IntentKind.STOP_EXPERIMENT for i in store.pending_intents(name)
        )
        return _json(data)

    cache = queries.BodyCache()
    app.state.trial_cache = cache

    def _after(after: str | None) -> queries.Cursor | None:
        if not after:
            return None
        if not re.fullmatch(CURSOR_PATTERN, after):
            raise _BadInput(f"after: not a cursor of this API: {after[:40]!r}")
        try:
            return queries.Cursor.decode(after)
        except queries.CursorError as exc:
            raise _BadInput(f"after: {exc}") from None

    def _statuses(status: str | None) -> list[str] | None:
        if not status:
            return None
        statuses = [s.strip(" ") for s in status.split(",")]
        known = {c.value for c in TrialCondition}
        for s in statuses:
            if s not in known:
                raise _BadInput(
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
            raise _BadInput(f"sort: {exc}") from None

    def _body(name: str, key: tuple[Any, ...] | None, build: Callable[[], str]) -> str:
        """``build()``, or the same answer kept from an earlier call (``key`` None: never)."""
        exp = store.get_experiment(name)  # 404 for an unknown experiment
        if key is None:
            return build()
        current = queries.version(store, name, exp.created_time)
        body = cache.get((name, *key), current)
        if body is None:
            body = build()
            cache.put((name, *key), current, body)
        return body

    def _rows(
        name: str,
        after: str | None,
        status: str | None,
        sort: str | None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Callable[[], queries.TrialPage]:
        """Check the arguments now; read the trials when the answer is called."""
        cursor, statuses, key = _after(after), _statuses(status), _sort(sort)
        return lambda: queries.trial_page(
            store, name, after=cursor, statuses=statuses, sort=key, limit=limit, offset=offset
        )

    @app.get(
        "/api/experiments/{name}/trials",
        response_model=TrialListOut,
        responses=ERRORS,
        tags=["trials"],
    )
    def list_trials(
        name: str,
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
        read = _rows(name, after, status, sort, limit, offset)

        def build() -> str:
            page = read()
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
        return Response(_body(name, key, build), media_type="application/json")

    @app.get(
        "/api/experiments/{name}/trial-columns",
        response_model=TrialColumnsOut,
        responses=ERRORS,
        tags=["trials"],
    )
    def trial_columns(
        name: str,
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

        def build() -> str:
            return queries.columns_body(store, name, after=cursor, statuses=statuses)

        key = None if cursor else ("columns", status)
        return Response(_body(name, key, build), media_type="application/json")

    @app.get(
        "/api/experiments/{name}/trials.json",
        response_model=list[TrialOut],
        responses=ERRORS,
        tags=["export"],
    )
    def export_json(
        name: str,
        status: StatusQuery = None,
        sort: SortQuery = None,
    ) -> Response:
        """Every trial as a JSON list (``tunery trials --json``'s shape, and more)."""
        read = _rows(name, None, status, sort)

        def build() -> str:
            return json.dumps(read().trials, separators=(",", ":"), ensure_ascii=False)

        response = Response(
            _body(name, ("export", status, sort), build), media_type="application/json"
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{name}-trials.json"'
        return response

    @app.get(
        "/api/experiments/{name}/trials.csv",
        response_class=Response,
        responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
        tags=["export"],
    )
    def export_csv(
        name: str,
        status: StatusQuery = None,
        sort: SortQuery = None,
    ) -> Response:
        """Every trial as CSV: one column per parameter and per metric summary."""
        read = _rows(name, None, status, sort)
        exp = store.get_experiment(name)
        rows = read().trials
        params = [p.name for p in exp.spec.parameters]
        metrics = list(exp.spec.objective.metric_names)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        header = ["name", "index", "status", "reason", "objective"]
        header += [f"param:{p}" for p in params]
        header += [f"metric:{m}:{s}" for m in metrics for s in ("min", "max", "latest")]
        header += ["createdTime", "startTime", "completionTime", "message"]
        writer.writerow(header)
        for t in rows:
            line = [t["name"], t["index"], t["status"], t["reason"], t["objective"]]
            line += [t["parameters"].get(p) for p in params]
            for m in metrics:
                summary = t["metrics"].get(m)
                if not isinstance(summary, dict):
                    summary = {}
                line += [summary.get(s) for s in ("min", "max", "latest")]
            line += [t["createdTime"], t["startTime"], t["completionTime"], t["message"]]
            writer.writerow([_csv_cell(v) for v in line])
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-trials.csv"'},
        )

    @app.get(
        "/api/experiments/{name}/trials/{trial}",
        response_model=TrialDetailOut,
        responses=ERRORS,
        tags=["trials"],
    )
    def get_trial(
        name: str,
        trial: str,
        points: Annotated[
            int,
            Query(ge=4, le=MAX_CURVE_POINTS, description="Points per curve at most."),
        ] = CURVE_POINTS,
    ) -> Response:
        """One trial: its curves (at most ``points`` per metric) and the tail of its output.log.

        ``/observations`` pages through every stored observation.
        """
        exp = store.get_experiment(name)
        t = store.get_trial(name, trial)
        data = queries.model_trial_dict(t)
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
        data["labels"] = dict(t.labels)
        data["log"] = _read_log_tail(exp, t.name)
        data["metricsPath"] = t.metrics_source if collects_files(exp.spec) else None
        return _json(data)

    @app.get(
        "/api/experiments/{name}/trials/{trial}/observations",
        response_model=ObservationPageOut,
        responses=ERRORS,
        tags=["trials"],
    )
    def trial_observations(
        name: str,
        trial: str,
        metric: Annotated[str | None, Query(max_length=200)] = None,
        offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_CURVE_POINTS)] = CURVE_POINTS,
    ) -> Response:
        """A page of a trial's stored observations (of ``metric``, else all), as stored."""
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
        return _json(data)

    @app.get(
        "/api/experiments/{name}/importance",
        response_model=ImportanceOut,
        responses=ERRORS,
        tags=["experiments"],
    )
    def importance(name: str) -> Response:
        """How much each parameter alone explains of the spread of the objective (see method)."""
        exp = store.get_experiment(name)

        def build() -> str:
            assignments, values = queries.objective_table(store, name)
            result = parameter_importance(exp.spec.parameters, assignments, values)
            data: dict[str, Any] = {
                "experiment": name,
                "method": METHOD,
                "trials": len(values),
                "parameters": [],
                "message": None,
            }
            if result is None:
                data["message"] = (
                    f"{len(values)} finished trials with an objective; importance needs "
                    f"at least {MIN_TRIALS}"
                )
            else:
                data["parameters"] = [
                    {"name": i.name, "importance": i.importance, "normalized": i.normalized}
                    for i in result
                ]
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

        return Response(_body(name, ("importance",), build), media_type="application/json")

    # ---------------------------------------------------------------- writes (intents)

    @app.post(
        "/api/experiments/{name}/stop",
        response_model=IntentOut,
        status_code=202,
        responses=WRITE_ERRORS,
        dependencies=[Depends(authorize)],
        tags=["intents"],
    )
    def stop_experiment(name: str) -> Response:
        """Ask the experiment's controller to stop it (it kills the running trials)."""
        exp = store.get_experiment(name)
        if exp.status.is_completed:
            raise _BadInput(
                f"name: experiment {name!r} has already ended ({exp.status.value})", 409
            )
        kind = IntentKind.STOP_EXPERIMENT.value
        intent_id = store.add_intent(name, kind, None, client.clock.now())
        return _json({"id": intent_id, "experiment": name, "kind": kind, "target": None}, 202)

    @app.post(
        "/api/experiments/{name}/trials/{trial}/kill",
        response_model=IntentOut,
        status_code=202,
        responses=WRITE_ERRORS,
        dependencies=[Depends(authorize)],
        tags=["intents"],
    )
    def kill_trial(name: str, trial: str) -> Response:
        """Ask the experiment's controller to kill one running trial."""
        store.get_experiment(name)
        t = store.get_trial(name, trial)
        if not t.status.is_active:
            raise _BadInput(f"trial: trial {trial!r} has already ended ({t.status.value})", 409)
        kind = IntentKind.KILL_TRIAL.value
        intent_id = store.add_intent(name, kind, t.name, client.clock.now())
        return _json({"id": intent_id, "experiment": name, "kind": kind, "target": t.name}, 202)

    @app.post(
        "/api/experiments",
        response_model=CreatedOut,
        status_code=201,
        responses={**WRITE_ERRORS, 413: {"model": ErrorOut}},
        dependencies=[Depends(authorize)],
        tags=["experiments"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "One Experiment document (Katib kubeflow.org/v1beta1 or "
                "tunery/v1), YAML or JSON, whatever the Content-Type says; validated as "
                "`tunery validate` does (422 names the field at fault).",
                "content": {
                    "application/yaml": {"schema": EXPERIMENT_DOCUMENT},
                    "application/json": {"schema": EXPERIMENT_DOCUMENT},
                    "text/plain": {"schema": {"type": "string", "minLength": 1}},
                },
            }
        },
    )
    async def create_experiment(request: Request) -> Response:
        """Validate and store an experiment (not run: `tunery resume NAME` runs it)."""
        too_large = _BadInput(f"body: larger than {MAX_BODY_BYTES // 1024} KiB", 413)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise too_large  # refused before a byte of it is read
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_large
            chunks.append(chunk)
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise _BadInput("body: not UTF-8 text") from None
        if not text.strip():
            raise _BadInput("body: empty; send an Experiment document as YAML")
        # Parsing and storing run off the event loop: the server answers others meanwhile.
        return await run_in_threadpool(_create_from_text, text)

    def _create_from_text(text: str) -> Response:
        from tunery.spec import parse_text

        parsed = parse_text(text, "the request body")
        if len(parsed) != 1:
            raise _BadInput(f"body: holds {len(parsed)} experiments; send one at a time")
        exp = client.create_experiment(parsed[0].spec, base_dir=base_dir, runs_dir=runs_dir)
        return _json({"name": exp.name, "status": exp.status.value}, 201)

    # ---------------------------------------------------------------- the page

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        import plotly

        path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def exposure_lines(
    host: str, port: int, token: str, *, public_read: bool, names: list[str]
) -> tuple[list[str], str | None]:
    """What ``serve`` prints: the lines for stdout (URL, token, Host names) and the warning
    for stderr (None on loopback)."""
    loopback = is_loopback(host)
    if loopback:
        shown = "127.0.0.1" if host.strip().lower() == "localhost" else host
    else:
        shown = next((n for n in names if n not in LOOPBACK_NAMES), host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    reads_need_token = not loopback and not public_read
    needs = "every /api call" if reads_need_token else "stop/kill/create"
    lines = [
        f"tunery ui: {url}",
        f"token for {needs}: {token}",
        f"open signed in: {url}#token={token}",
        f"Host names answered: {', '.join(names)} (add one with --allow-host NAME)",
    ]
    warning = None
    if not loopback:
        where = "every interface" if host.strip() in ("", "0.0.0.0", "::", "[::]") else host
        who = (
            "anyone who can reach it can read your experiments; stop, kill and create need the "
            "token"
            if public_read
            else "reads and writes need the token"
        )
        warning = (
            f"tunery ui: warning: listening on {where}, reachable from the network: {who}; "
            "share it only with those who may use it, as the signed-in address or as "
            "`Authorization: Bearer <token>`"
        )
    return lines, warning


def serve(
    db: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    *,
    runs_dir: str | None = None,
    public_read: bool = False,
    allow_hosts: list[str] | tuple[str, ...] = (),
) -> None:
    """Serve the UI over database ``db`` until interrupted.

    Without ``token`` a random one is generated; the URL and the token are printed (the URL
    carries the token in its fragment, which browsers never send to a server, so opening it
    signs the page in for the tab).  On a ``host`` beyond loopback a warning goes to stderr
    and every ``/api`` call needs the token, reads too, unless ``public_read``.  Requests
    whose ``Host`` is not a name the server is reachable by, or one of ``allow_hosts``, get
    421 (see ``tunery.ui.exposure``).
    """
    import sys

    import uvicorn

    names = host_names(host, allow_hosts)  # ValueError for a bad --allow-host, before the DB
    store = Store(db)
    if not token:
        token = secrets.token_urlsafe(24)
    reads_need_token = not is_loopback(host) and not public_read
    app = create_app(
        store,
        token,
        runs_dir=runs_dir,
        allowed_hosts=names,
        reads_need_token=reads_need_token,
    )
    lines, warning = exposure_lines(host, port, token, public_read=public_read, names=names)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    lines[0] += f"  (database {store.url})"
    for line in lines:
        print(line, flush=True)
    try:
        uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning")
    finally:
        store.close()
