"""Katib's SDK models (``kubeflow.katib.models``), as light dataclasses of tunery's own.

Each class has the attributes, constructor arguments (same names, same order: Katib's generated
models list them alphabetically) and ``to_dict()`` of Katib's OpenAPI model of the same name:
snake_case attributes, nested models as dicts, ``None`` kept.  Values are strings where Katib has
strings (feasible space bounds, parameter assignment values, metric ``min``/``max``/``latest``).
``repr`` prints the dict, and two models are equal when their dicts are, as in Katib.

:func:`document` turns a model (or anything with ``to_dict()`` or a Kubernetes-client model) into
the camelCase document a Katib YAML file holds; :func:`from_document` reads one back.
"""

from __future__ import annotations

import datetime as _dt
import pprint
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "MetricLog",
    "MetricLogValue",
    "V1ListMeta",
    "V1ObjectMeta",
    "V1beta1AlgorithmSetting",
    "V1beta1AlgorithmSpec",
    "V1beta1CollectorSpec",
    "V1beta1ConfigMapSource",
    "V1beta1EarlyStoppingRule",
    "V1beta1EarlyStoppingSetting",
    "V1beta1EarlyStoppingSpec",
    "V1beta1Experiment",
    "V1beta1ExperimentCondition",
    "V1beta1ExperimentList",
    "V1beta1ExperimentSpec",
    "V1beta1ExperimentStatus",
    "V1beta1FeasibleSpace",
    "V1beta1FileSystemPath",
    "V1beta1FilterSpec",
    "V1beta1GraphConfig",
    "V1beta1Metric",
    "V1beta1MetricStrategy",
    "V1beta1MetricsCollectorSpec",
    "V1beta1NasConfig",
    "V1beta1ObjectiveSpec",
    "V1beta1Observation",
    "V1beta1Operation",
    "V1beta1OptimalTrial",
    "V1beta1ParameterAssignment",
    "V1beta1ParameterSpec",
    "V1beta1SourceSpec",
    "V1beta1Suggestion",
    "V1beta1SuggestionCondition",
    "V1beta1SuggestionList",
    "V1beta1SuggestionSpec",
    "V1beta1SuggestionStatus",
    "V1beta1Trial",
    "V1beta1TrialAssignment",
    "V1beta1TrialCondition",
    "V1beta1TrialList",
    "V1beta1TrialParameterSpec",
    "V1beta1TrialSource",
    "V1beta1TrialSpec",
    "V1beta1TrialStatus",
    "V1beta1TrialTemplate",
    "document",
    "from_document",
]

#: Keys whose values are user maps (their keys are not field names): never renamed.
_OPAQUE = frozenset({"labels", "annotations", "primaryPodLabels", "primary_pod_labels"})


def camel(name: str) -> str:
    """``max_trial_count`` -> ``maxTrialCount``."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    """``maxTrialCount`` -> ``max_trial_count``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _plain(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class _Model:
    """What every model shares: ``to_dict``, ``to_str``, ``repr`` and equality by dict."""

    #: field -> (model class, is a list) for fields holding models.
    _nested: ClassVar[dict[str, tuple[type[_Model], bool]]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    def to_str(self) -> str:
        return pprint.pformat(self.to_dict())

    def __repr__(self) -> str:
        return self.to_str()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


# --------------------------------------------------------------------------- metadata


@dataclass(eq=False, repr=False)
class V1ObjectMeta(_Model):
    """The part of Kubernetes' ObjectMeta a local object has."""

    annotations: dict[str, str] | None = None
    creation_timestamp: _dt.datetime | None = None
    generate_name: str | None = None
    generation: int | None = None
    labels: dict[str, str] | None = None
    name: str | None = None
    namespace: str | None = None
    resource_version: str | None = None
    uid: str | None = None


@dataclass(eq=False, repr=False)
class V1ListMeta(_Model):
    _continue: str | None = None
    remaining_item_count: int | None = None
    resource_version: str | None = None


# --------------------------------------------------------------------------- spec parts


@dataclass(eq=False, repr=False)
class V1beta1AlgorithmSetting(_Model):
    name: str | None = None
    value: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1AlgorithmSpec(_Model):
    algorithm_name: str | None = None
    algorithm_settings: list[V1beta1AlgorithmSetting] | None = None


@dataclass(eq=False, repr=False)
class V1beta1CollectorSpec(_Model):
    custom_collector: Any = None
    kind: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1ConfigMapSource(_Model):
    config_map_name: str | None = None
    config_map_namespace: str | None = None
    template_path: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1EarlyStoppingRule(_Model):
    comparison: str | None = None
    name: str | None = None
    start_step: int | None = None
    value: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1EarlyStoppingSetting(_Model):
    name: str | None = None
    value: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1EarlyStoppingSpec(_Model):
    algorithm_name: str | None = None
    algorithm_settings: list[V1beta1EarlyStoppingSetting] | None = None


@dataclass(eq=False, repr=False)
class V1beta1FeasibleSpace(_Model):
    distribution: str | None = None
    list: list[str] | None = None
    max: str | None = None
    min: str | None = None
    step: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1FileSystemPath(_Model):
    format: str | None = None
    kind: str | None = None
    path: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1FilterSpec(_Model):
    metrics_format: list[str] | None = None


@dataclass(eq=False, repr=False)
class V1beta1GraphConfig(_Model):
    input_sizes: list[int] | None = None
    num_layers: int | None = None
    output_sizes: list[int] | None = None


@dataclass(eq=False, repr=False)
class V1beta1Metric(_Model):
    latest: str | None = None
    max: str | None = None
    min: str | None = None
    name: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1MetricStrategy(_Model):
    name: str | None = None
    value: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1SourceSpec(_Model):
    file_system_path: V1beta1FileSystemPath | None = None
    filter: V1beta1FilterSpec | None = None
    http_get: Any = None


@dataclass(eq=False, repr=False)
class V1beta1MetricsCollectorSpec(_Model):
    collector: V1beta1CollectorSpec | None = None
    source: V1beta1SourceSpec | None = None


@dataclass(eq=False, repr=False)
class V1beta1ParameterSpec(_Model):
    feasible_space: V1beta1FeasibleSpace | None = None
    name: str | None = None
    parameter_type: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1Operation(_Model):
    operation_type: str | None = None
    parameters: list[V1beta1ParameterSpec] | None = None


@dataclass(eq=False, repr=False)
class V1beta1NasConfig(_Model):
    graph_config: V1beta1GraphConfig | None = None
    operations: list[V1beta1Operation] | None = None


@dataclass(eq=False, repr=False)
class V1beta1ObjectiveSpec(_Model):
    additional_metric_names: list[str] | None = None
    goal: float | None = None
    metric_strategies: list[V1beta1MetricStrategy] | None = None
    objective_metric_name: str | None = None
    type: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1TrialParameterSpec(_Model):
    description: str | None = None
    name: str | None = None
    reference: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1TrialTemplate(_Model):
    config_map: V1beta1ConfigMapSource | None = None
    failure_condition: str | None = None
    primary_container_name: str | None = None
    primary_pod_labels: dict[str, str] | None = None
    retain: bool | None = None
    success_condition: str | None = None
    trial_parameters: list[V1beta1TrialParameterSpec] | None = None
    trial_spec: Any = None


@dataclass(eq=False, repr=False)
class V1beta1TrialSource(_Model):
    config_map: V1beta1ConfigMapSource | None = None
    trial_spec: Any = None


@dataclass(eq=False, repr=False)
class V1beta1ExperimentSpec(_Model):
    """Katib's experiment spec, plus tunery's ``constraints`` and ``objectives`` (lists of
    dicts, as ``spec.constraints``/``spec.objectives`` of a document hold them: several
    objectives, each ``{"metric", "direction", "goal"?}``); left out of ``to_dict()`` when
    None, so the dict is Katib's."""

    algorithm: V1beta1AlgorithmSpec | None = None
    constraints: list[dict[str, Any]] | None = None
    early_stopping: V1beta1EarlyStoppingSpec | None = None
    max_failed_trial_count: int | None = None
    max_trial_count: int | None = None
    metrics_collector_spec: V1beta1MetricsCollectorSpec | None = None
    nas_config: V1beta1NasConfig | None = None
    objective: V1beta1ObjectiveSpec | None = None
    objectives: list[dict[str, Any]] | None = None
    parallel_trial_count: int | None = None
    parameters: list[V1beta1ParameterSpec] | None = None
    resume_policy: str | None = None
    trial_template: V1beta1TrialTemplate | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for extension in ("constraints", "objectives"):
            if out[extension] is None:
                del out[extension]
        return out


# --------------------------------------------------------------------------- status parts


@dataclass(eq=False, repr=False)
class _Condition(_Model):
    last_transition_time: _dt.datetime | None = None
    last_update_time: _dt.datetime | None = None
    message: str | None = None
    reason: str | None = None
    status: str = ""
    type: str = ""


@dataclass(eq=False, repr=False)
class V1beta1ExperimentCondition(_Condition):
    pass


@dataclass(eq=False, repr=False)
class V1beta1TrialCondition(_Condition):
    pass


@dataclass(eq=False, repr=False)
class V1beta1SuggestionCondition(_Condition):
    pass


@dataclass(eq=False, repr=False)
class V1beta1Observation(_Model):
    metrics: list[V1beta1Metric] | None = None


@dataclass(eq=False, repr=False)
class V1beta1ParameterAssignment(_Model):
    name: str | None = None
    value: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1OptimalTrial(_Model):
    best_trial_name: str | None = None
    observation: V1beta1Observation | None = None
    parameter_assignments: list[V1beta1ParameterAssignment] | None = None


@dataclass(eq=False, repr=False)
class V1beta1ExperimentStatus(_Model):
    completion_time: _dt.datetime | None = None
    conditions: list[V1beta1ExperimentCondition] | None = None
    current_optimal_trial: V1beta1OptimalTrial | None = None
    early_stopped_trial_list: list[str] | None = None
    failed_trial_list: list[str] | None = None
    killed_trial_list: list[str] | None = None
    last_reconcile_time: _dt.datetime | None = None
    metrics_unavailable_trial_list: list[str] | None = None
    pending_trial_list: list[str] | None = None
    running_trial_list: list[str] | None = None
    start_time: _dt.datetime | None = None
    succeeded_trial_list: list[str] | None = None
    trial_metrics_unavailable: int | None = None
    trials: int | None = None
    trials_early_stopped: int | None = None
    trials_failed: int | None = None
    trials_killed: int | None = None
    trials_pending: int | None = None
    trials_running: int | None = None
    trials_succeeded: int | None = None


@dataclass(eq=False, repr=False)
class V1beta1Experiment(_Model):
    api_version: str | None = None
    kind: str | None = None
    metadata: V1ObjectMeta | None = None
    spec: V1beta1ExperimentSpec | None = None
    status: V1beta1ExperimentStatus | None = None


@dataclass(eq=False, repr=False)
class V1beta1ExperimentList(_Model):
    api_version: str | None = None
    items: list[V1beta1Experiment] = field(default_factory=list)
    kind: str | None = None
    metadata: V1ListMeta | None = None


@dataclass(eq=False, repr=False)
class V1beta1TrialSpec(_Model):
    early_stopping_rules: list[V1beta1EarlyStoppingRule] | None = None
    failure_condition: str | None = None
    labels: dict[str, str] | None = None
    metrics_collector: V1beta1MetricsCollectorSpec | None = None
    objective: V1beta1ObjectiveSpec | None = None
    parameter_assignments: list[V1beta1ParameterAssignment] | None = None
    primary_container_name: str | None = None
    primary_pod_labels: dict[str, str] | None = None
    retain_run: bool | None = None
    run_spec: Any = None
    success_condition: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1TrialStatus(_Model):
    completion_time: _dt.datetime | None = None
    conditions: list[V1beta1TrialCondition] | None = None
    last_reconcile_time: _dt.datetime | None = None
    observation: V1beta1Observation | None = None
    start_time: _dt.datetime | None = None


@dataclass(eq=False, repr=False)
class V1beta1Trial(_Model):
    api_version: str | None = None
    kind: str | None = None
    metadata: V1ObjectMeta | None = None
    spec: V1beta1TrialSpec | None = None
    status: V1beta1TrialStatus | None = None


@dataclass(eq=False, repr=False)
class V1beta1TrialList(_Model):
    api_version: str | None = None
    items: list[V1beta1Trial] = field(default_factory=list)
    kind: str | None = None
    metadata: V1ListMeta | None = None


@dataclass(eq=False, repr=False)
class V1beta1TrialAssignment(_Model):
    early_stopping_rules: list[V1beta1EarlyStoppingRule] | None = None
    labels: dict[str, str] | None = None
    name: str | None = None
    parameter_assignments: list[V1beta1ParameterAssignment] | None = None


@dataclass(eq=False, repr=False)
class V1beta1SuggestionSpec(_Model):
    algorithm: V1beta1AlgorithmSpec | None = None
    early_stopping: V1beta1EarlyStoppingSpec | None = None
    requests: int | None = None
    resume_policy: str | None = None


@dataclass(eq=False, repr=False)
class V1beta1SuggestionStatus(_Model):
    algorithm_settings: list[V1beta1AlgorithmSetting] | None = None
    completion_time: _dt.datetime | None = None
    conditions: list[V1beta1SuggestionCondition] | None = None
    last_reconcile_time: _dt.datetime | None = None
    start_time: _dt.datetime | None = None
    suggestion_count: int | None = None
    suggestions: list[V1beta1TrialAssignment] | None = None


@dataclass(eq=False, repr=False)
class V1beta1Suggestion(_Model):
    api_version: str | None = None
    kind: str | None = None
    metadata: V1ObjectMeta | None = None
    spec: V1beta1SuggestionSpec | None = None
    status: V1beta1SuggestionStatus | None = None


@dataclass(eq=False, repr=False)
class V1beta1SuggestionList(_Model):
    api_version: str | None = None
    items: list[V1beta1Suggestion] = field(default_factory=list)
    kind: str | None = None
    metadata: V1ListMeta | None = None


# --------------------------------------------------------------------------- nesting

V1beta1AlgorithmSpec._nested = {"algorithm_settings": (V1beta1AlgorithmSetting, True)}
V1beta1EarlyStoppingSpec._nested = {"algorithm_settings": (V1beta1EarlyStoppingSetting, True)}
V1beta1SourceSpec._nested = {
    "file_system_path": (V1beta1FileSystemPath, False),
    "filter": (V1beta1FilterSpec, False),
}
V1beta1MetricsCollectorSpec._nested = {
    "collector": (V1beta1CollectorSpec, False),
    "source": (V1beta1SourceSpec, False),
}
V1beta1ParameterSpec._nested = {"feasible_space": (V1beta1FeasibleSpace, False)}
V1beta1Operation._nested = {"parameters": (V1beta1ParameterSpec, True)}
V1beta1NasConfig._nested = {
    "graph_config": (V1beta1GraphConfig, False),
    "operations": (V1beta1Operation, True),
}
V1beta1ObjectiveSpec._nested = {"metric_strategies": (V1beta1MetricStrategy, True)}
V1beta1TrialTemplate._nested = {
    "config_map": (V1beta1ConfigMapSource, False),
    "trial_parameters": (V1beta1TrialParameterSpec, True),
}
V1beta1ExperimentSpec._nested = {
    "algorithm": (V1beta1AlgorithmSpec, False),
    "early_stopping": (V1beta1EarlyStoppingSpec, False),
    "metrics_collector_spec": (V1beta1MetricsCollectorSpec, False),
    "nas_config": (V1beta1NasConfig, False),
    "objective": (V1beta1ObjectiveSpec, False),
    "parameters": (V1beta1ParameterSpec, True),
    "trial_template": (V1beta1TrialTemplate, False),
}
V1beta1Experiment._nested = {
    "metadata": (V1ObjectMeta, False),
    "spec": (V1beta1ExperimentSpec, False),
}
V1beta1SuggestionSpec._nested = {
    "algorithm": (V1beta1AlgorithmSpec, False),
    "early_stopping": (V1beta1EarlyStoppingSpec, False),
}


# --------------------------------------------------------------------------- documents


def document(obj: Any) -> Any:
    """The camelCase document of ``obj``: one of these models, a Kubernetes-client model
    (``attribute_map``), anything with ``to_dict()`` (snake_case keys camelised), or plain
    dicts and lists holding any of those.  ``None`` fields are left out."""
    if isinstance(obj, _Model):
        out = {}
        for f in fields(obj):  # type: ignore[arg-type]
            value = getattr(obj, f.name)
            if value is not None:
                name = "continue" if f.name == "_continue" else camel(f.name)
                out[name] = _opaque(value) if name in _OPAQUE else document(value)
        return out
    attribute_map = getattr(obj, "attribute_map", None)
    if isinstance(attribute_map, Mapping) and hasattr(obj, "openapi_types"):
        return {
            str(attribute_map[k]): document(getattr(obj, k))
            for k in attribute_map
            if getattr(obj, k, None) is not None
        }
    if not isinstance(obj, Mapping) and callable(getattr(obj, "to_dict", None)):
        return _camelised(obj.to_dict())
    if isinstance(obj, Mapping):
        return {str(k): document(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [document(v) for v in obj]
    if isinstance(obj, _dt.datetime):
        return obj.strftime("%Y-%m-%dT%H:%M:%SZ")
    return obj


def _opaque(value: Any) -> Any:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else value


def _camelised(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            camel(str(k)): (_opaque(v) if camel(str(k)) in _OPAQUE else _camelised(v))
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list | tuple):
        return [_camelised(v) for v in value]
    return document(value)


def from_document(cls: type[Any], doc: Any) -> Any:
    """A model of class ``cls`` read from its camelCase (or snake_case) document."""
    if doc is None or isinstance(doc, cls):
        return doc
    if not isinstance(doc, Mapping):
        raise TypeError(f"{cls.__name__} expects a mapping, not {type(doc).__name__}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        key = "continue" if f.name == "_continue" else camel(f.name)
        value = doc.get(key, doc.get(f.name))
        if value is None:
            continue
        nested = cls._nested.get(f.name)
        if nested is not None:
            sub, many = nested
            value = [from_document(sub, v) for v in value] if many else from_document(sub, value)
        kwargs[f.name] = value
    return cls(**kwargs)


# --------------------------------------------------------------------------- metric logs


@dataclass(eq=False, repr=False)
class MetricLogValue(_Model):
    """One reported value (Katib's ``api_pb2.Metric``): ``name`` and ``value`` (a string)."""

    name: str | None = None
    value: str | None = None


@dataclass(eq=False, repr=False)
class MetricLog(_Model):
    """One entry of ``get_trial_metrics`` (Katib's ``api_pb2.MetricLog``)."""

    time_stamp: str | None = None
    metric: MetricLogValue | None = None
