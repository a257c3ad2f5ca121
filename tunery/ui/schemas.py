"""The UI API's published schema: query arguments and their patterns, response models, the
error answers, and the completion of the OpenAPI document (``complete_document``).

The routes (``tunery.ui.routes``) build their answers as JSON themselves (the wire shapes of
``tunery.wire``); these models only document them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, Field

from tunery.model import TrialCondition
from tunery.ui import queries

#: Points per metric the trial endpoint returns by default, and at most (``points=``).
CURVE_POINTS = 2_000
MAX_CURVE_POINTS = 20_000
#: Points per trial the bulk curves (``/observations`` of an experiment) hold by default, and
#: at most (``points=``).
CURVES_POINTS = 200
MAX_CURVES_POINTS = 2_000

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
    text: str | None = Field(
        default=None,
        description="The latest value verbatim when it was not a number (a string-valued "
        "metric such as Katib's Best-Genotype); absent otherwise.",
    )


class TrialOut(BaseModel):
    """A trial: the wire shape of ``tunery.wire``, as ``tunery trials --json``."""

    name: str
    index: int
    status: str
    reason: str | None = None
    message: str | None = None
    parameters: dict[str, float | int | str]
    metrics: dict[str, MetricSummaryOut]
    objective: float | None = None
    labels: dict[str, str]
    createdTime: str | None = None
    startTime: str | None = None
    completionTime: str | None = None
    metricsPath: str | None = Field(
        default=None,
        description="The file or directory the trial's collector reads: its own metrics file "
        "or directory (File, TensorFlowEvent and Custom collectors) or its output log, on the "
        "controller's machine; null before it starts.",
    )
    objectives: list[float] | None = Field(
        default=None,
        description="Each objective's value, in the order of the experiment's objectives; null "
        "while any is missing.",
    )
    feasible: bool | None = Field(
        default=None,
        description="Whether the trial meets every constraint; null without constraints or "
        "before a constraint's metric has a value.",
    )
    objectiveText: str | None = Field(
        default=None,
        description="The objective's value when it is a string (Katib's Best-Genotype); "
        "objective is then null.  Absent for a number.",
    )


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


class ObjectiveTermOut(BaseModel):
    metric: str
    direction: str
    goal: float | None = None


class ConstraintOut(BaseModel):
    metric: str
    min: float | None = None
    max: float | None = None


class ParameterOut(BaseModel):
    name: str
    parameterType: str
    feasibleSpace: dict[str, Any]
    activeWhen: dict[str, list[str]] | None = Field(
        None,
        exclude_if=lambda value: value is None,
        description="A conditional parameter's condition: active when each named parameter takes "
        "one of the listed values (absent: always active; an inactive parameter is absent from a "
        "trial's parameters)",
    )


class TimeBudgetOut(BaseModel):
    """The time budget (``maxExperimentDuration``): wall time the experiment was driven."""

    maxSeconds: float
    drivenSeconds: float = Field(description="Summed over every controller that drove it.")
    remainingSeconds: float
    policy: str = Field(description="KillRunning or LetFinish: running trials at the end.")


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
    objectives: list[ObjectiveTermOut] = Field(
        default_factory=list, description="Every objective (one for a single objective)."
    )
    constraints: list[ConstraintOut] = Field(default_factory=list)
    paretoFront: list[str] | None = Field(
        default=None,
        description="Several objectives: the trials of the Pareto front (completed, feasible, "
        "not dominated).",
    )
    hypervolume: float | None = Field(
        default=None, description="Several objectives: the front's hypervolume."
    )
    referencePoint: list[float] | None = Field(
        default=None,
        description="Several objectives: the hypervolume's reference point, in the metrics' "
        "units (the spec's, or the front's nadir plus 10% of its range).",
    )
    seededTrials: int | None = Field(
        default=None,
        description="Only for an experiment with warm-start seeds: how many of trials.succeeded "
        "(and trials.total) are seeds, known results that never ran and use no budget.",
    )
    timeBudget: TimeBudgetOut | None = Field(
        default=None, description="Only for an experiment with a time budget."
    )
    assignments: list[str] | None = Field(
        default=None,
        description="A neural architecture search (spec.nasConfig, no parameters): the names "
        "its algorithm assigns each trial as text (enas: architecture, nn_config).",
    )


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


class ArchitectureOut(BaseModel):
    kind: str = Field(description="enas (layers) or darts (a genotype's cells).")
    lines: list[str] = Field(description="One line per layer or cell node, as `tunery best`.")
    summary: str = Field(description="The whole architecture on one line.")
    layers: list[dict[str, Any]] | None = Field(
        default=None,
        description="enas: each layer's layer, opId, opType, params, skips and text.",
    )
    cells: dict[str, Any] | None = Field(
        default=None,
        description="darts: normal and reduce, each with nodes (their edges, op and from) "
        "and concat.",
    )
    inputSizes: list[Any] | None = None
    outputSizes: list[Any] | None = None


class TrialDetailOut(TrialOut):
    observations: dict[str, list[ObservationOut]]
    series: dict[str, SeriesOut] = Field(description="How many points each curve has.")
    thinned: list[str] = Field(
        description="Metrics reported more than 10,000 times: their stored curve is a sample "
        "(label tunery.dev/observations-thinned); min, max and latest stay exact."
    )
    log: LogOut | None = None
    architecture: ArchitectureOut | None = Field(
        default=None,
        description="A NAS trial's architecture, readable: its ENAS layers (architecture and "
        "nn_config) or its DARTS genotype's cells; null for any other trial.",
    )


class ObservationPageOut(BaseModel):
    experiment: str
    trial: str
    metric: str | None = None
    total: int = Field(description="Stored observations (of `metric`, else of every metric).")
    offset: int
    observations: list[MetricObservationOut]


class CurveOut(BaseModel):
    """One trial's curve of the metric: ``steps[i]`` and ``values[i]`` are a point."""

    name: str
    index: int
    status: str = Field(description="The trial's status (EarlyStopped: stopped early).")
    stored: int = Field(
        description="Observations of the metric stored for the trial; more than the points "
        "here when the curve was downsampled to `points`."
    )
    steps: list[int]
    values: list[float | None] = Field(description="null: the value was not a finite number.")


class CurvesOut(BaseModel):
    experiment: str
    metric: str
    cursor: str = Field(description="Pass as ?after= to get only the curves changed since.")
    full: bool = Field(description="True when this holds every trial (no cursor given).")
    points: int = Field(description="Points per trial at most.")
    counts: dict[str, int] = Field(description="All the experiment's trials by status.")
    trials: list[CurveOut] = Field(
        description="The trials with at least one observation of the metric, by index."
    )


class ImportanceItemOut(BaseModel):
    name: str
    importance: float = Field(description="Share of the objective's rank variance, alone.")
    normalized: float = Field(description="`importance` over the sum: the shares sum to 1.")


class ImportanceOut(BaseModel):
    experiment: str
    method: str
    methodName: str = Field(description="The method's short name (the chart's title).")
    methodKey: str = Field(description="The `method` query value: epsilon-squared or fanova.")
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


class DeletedOut(BaseModel):
    """An experiment deleted with its trials and observations (its trial directories stay)."""

    name: str
    #: Whether it was running and stopped first (``force=true``).
    stopped: bool
    #: Where its trial directories stay (not deleted), when recorded.
    runsDir: str | None = None


#: The outline of the body ``POST /api/experiments`` takes (as YAML or JSON); the rest of what
#: it must hold is ``tunery validate``'s (docs/spec-reference.md), more than a JSON Schema says.
_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
    },
}
EXPERIMENT_DOCUMENT: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {
                "apiVersion": {"enum": ["kubeflow.org/v1beta1", "tunery/v1"]},
                "kind": {"const": "Experiment"},
                "metadata": _METADATA,
                "spec": {"type": "object"},
            },
        },
        {
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {
                "apiVersion": {"const": "trainer.kubeflow.org/v1alpha1"},
                "kind": {"const": "OptimizationJob"},
                "metadata": _METADATA,
                "spec": {"type": "object"},
            },
        },
    ]
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
#: What every /api operation may answer, whatever it does (added by ``complete_document``):
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


def complete_document(schema: dict[str, Any], reads_need_token: bool) -> None:
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
