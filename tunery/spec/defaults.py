"""Katib's defaulting, applied to a freshly read spec.

Follows ``pkg/apis/controller/experiments/v1beta1/experiment_defaults.go`` and
``constants.go``:

- ``parallelTrialCount`` 3, ``resumePolicy`` Never;
- metric strategies: the objective metric gets ``min`` for minimize and ``max`` for maximize
  unless it has one; every additional metric without a strategy gets the same rule (Katib's
  comment says "latest", its code uses the objective's type); defaults are appended after
  the user's strategies, objective first;
- trial template: for a Job, ``successCondition``/``failureCondition`` on the Job's
  ``Complete``/``Failed`` conditions; for Kubeflow training jobs (TFJob, PyTorchJob,
  XGBoostJob, MPIJob) on ``Succeeded``/``Failed`` and ``primaryPodLabels``
  ``{training.kubeflow.org/job-role: master}``; for a TrainJob on ``Complete``/``Failed`` and
  the JobSet node-0 labels;
- metrics collector: StdOut when none; File: kind File, path ``/var/log/katib/metrics.log``,
  format TEXT; TensorFlowEvent: kind Directory, path ``/var/log/katib/tfevent/``;
  PrometheusMetric: ``httpGet`` path ``/metrics``, port 8080;
- every parameter's ``distribution`` is ``uniform`` unless given (categorical ones too).

Our additions (Katib requires these fields instead of defaulting them):

- ``primaryContainerName`` is ``training-container`` for a Job or a Kubeflow training job
  (TFJob, PyTorchJob...) and ``node`` for a TrainJob when left out;
- native form: ``trialParameters`` left out means one per parameter, named like it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tunery.model import (
    CollectorKind,
    Distribution,
    ExperimentSpec,
    FileFormat,
    FileSystemKind,
    MetricsCollectorSpec,
    MetricStrategy,
    MetricStrategyType,
    Objective,
    ObjectiveType,
    ParameterSpec,
    ResumePolicy,
    TrialParameterSpec,
    TrialTemplate,
)
from tunery.spec.objectives import default_terms

DEFAULT_PARALLEL_TRIAL_COUNT = 3
DEFAULT_RESUME_POLICY = ResumePolicy.NEVER
DEFAULT_FILE_PATH = "/var/log/katib/metrics.log"
DEFAULT_TFEVENT_DIR = "/var/log/katib/tfevent/"
DEFAULT_PROMETHEUS_PATH = "/metrics"
DEFAULT_PROMETHEUS_PORT = 8080
DEFAULT_PRIMARY_CONTAINER_NAME = "training-container"
DEFAULT_TRAINJOB_CONTAINER_NAME = "node"

JOB_KIND = "Job"
KUBEFLOW_JOB_KINDS = frozenset({"TFJob", "PyTorchJob", "XGBoostJob", "MPIJob", "TrainJob"})

JOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILURE_CONDITION = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
KUBEFLOW_JOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Succeeded")#|#(status=="True")#'
KUBEFLOW_JOB_FAILURE_CONDITION = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
TRAINJOB_SUCCESS_CONDITION = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
TRAINJOB_FAILURE_CONDITION = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
KUBEFLOW_JOB_PRIMARY_POD_LABELS = {"training.kubeflow.org/job-role": "master"}
TRAINJOB_PRIMARY_POD_LABELS = {
    "jobset.sigs.k8s.io/replicatedjob-name": "node",
    "batch.kubernetes.io/job-completion-index": "0",
}


def apply_defaults(spec: ExperimentSpec) -> ExperimentSpec:
    """``spec`` with Katib's defaults filled in (idempotent)."""
    return replace(
        spec,
        parallel_trial_count=(
            DEFAULT_PARALLEL_TRIAL_COUNT
            if spec.parallel_trial_count is None
            else spec.parallel_trial_count
        ),
        resume_policy=spec.resume_policy or DEFAULT_RESUME_POLICY,
        objective=default_objective(spec.objective),
        trial_template=default_trial_template(spec.trial_template, spec.parameters),
        metrics_collector=default_metrics_collector(spec.metrics_collector),
        parameters=tuple(default_parameter(p) for p in spec.parameters),
    )


def default_objective(obj: Objective) -> Objective:
    """Katib's ``setDefaultObjective`` (after :func:`tunery.spec.objectives.default_terms`)."""
    obj = default_terms(obj)
    strategies = list(obj.metric_strategies)
    named = {s.name for s in strategies}
    value = MetricStrategyType.MIN if obj.type is ObjectiveType.MINIMIZE else MetricStrategyType.MAX
    if obj.objective_metric_name not in named:
        strategies.append(MetricStrategy(obj.objective_metric_name, value))
    for metric in obj.additional_metric_names:
        if metric not in named:
            strategies.append(MetricStrategy(metric, value))
            named.add(metric)
    return replace(obj, metric_strategies=tuple(strategies))


def default_trial_template(
    template: TrialTemplate, parameters: tuple[ParameterSpec, ...]
) -> TrialTemplate:
    """Katib's ``setDefaultTrialTemplate`` plus our primaryContainerName/native defaults."""
    if template.config_map is not None:
        return template  # Katib defaults only an inline trialSpec
    if template.trial_spec is None:
        if not template.trial_parameters:
            return replace(
                template,
                trial_parameters=tuple(TrialParameterSpec(p.name, p.name) for p in parameters),
            )
        return template
    trial_spec = template.trial_spec or {}
    kind = trial_spec.get("kind")
    changes: dict[str, Any] = {}
    if kind == JOB_KIND:
        success, failure, labels = JOB_SUCCESS_CONDITION, JOB_FAILURE_CONDITION, None
        container = DEFAULT_PRIMARY_CONTAINER_NAME
    elif kind == "TrainJob":
        success, failure = TRAINJOB_SUCCESS_CONDITION, TRAINJOB_FAILURE_CONDITION
        labels = TRAINJOB_PRIMARY_POD_LABELS
        container = DEFAULT_TRAINJOB_CONTAINER_NAME
    elif kind in KUBEFLOW_JOB_KINDS:
        success, failure = KUBEFLOW_JOB_SUCCESS_CONDITION, KUBEFLOW_JOB_FAILURE_CONDITION
        labels = KUBEFLOW_JOB_PRIMARY_POD_LABELS
        container = DEFAULT_PRIMARY_CONTAINER_NAME
    else:
        return template
    if not template.success_condition:
        changes["success_condition"] = success
    if not template.failure_condition:
        changes["failure_condition"] = failure
    if labels is not None and not template.primary_pod_labels:
        changes["primary_pod_labels"] = dict(labels)
    if not template.primary_container_name:
        changes["primary_container_name"] = container
    return replace(template, **changes) if changes else template


def default_metrics_collector(mc: MetricsCollectorSpec) -> MetricsCollectorSpec:
    """Katib's ``setDefaultMetricsCollector``."""
    kind = mc.kind or CollectorKind.STDOUT
    changes: dict[str, Any] = {"kind": kind}
    if kind is CollectorKind.FILE:
        changes["path_kind"] = mc.path_kind or FileSystemKind.FILE
        changes["path"] = mc.path or DEFAULT_FILE_PATH
        changes["file_format"] = mc.file_format or FileFormat.TEXT
    elif kind is CollectorKind.TENSORFLOW_EVENT:
        changes["path_kind"] = mc.path_kind or FileSystemKind.DIRECTORY
        changes["path"] = mc.path or DEFAULT_TFEVENT_DIR
    elif kind is CollectorKind.PROMETHEUS:
        extra = {k: dict(v) if isinstance(v, dict) else v for k, v in mc.extra.items()}
        source = dict(extra.get("source", {}))
        http_get = dict(source.get("httpGet", {}))
        if not http_get.get("path"):
            http_get["path"] = DEFAULT_PROMETHEUS_PATH
        if http_get.get("port") in (None, 0, "", "0"):
            http_get["port"] = DEFAULT_PROMETHEUS_PORT
        source["httpGet"] = http_get
        extra["source"] = source
        changes["extra"] = extra
    return replace(mc, **changes)


def default_parameter(p: ParameterSpec) -> ParameterSpec:
    """Katib's ``setDefaultParameterDistribution``."""
    if p.feasible_space.distribution is not None:
        return p
    return replace(p, feasible_space=replace(p.feasible_space, distribution=Distribution.UNIFORM))
