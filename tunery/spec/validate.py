"""Katib's webhook validation of a defaulted spec.

Follows ``pkg/webhook/v1beta1/experiment/validator/validator.go`` and adds the checks that
Katib only makes later (in its suggestion services or when it creates a trial) so that a bad
spec fails before the first trial:

- metadata.name: ``^[a-z]([-a-z0-9]*[a-z0-9])?$``, at most 40 characters (it also becomes a
  directory name);
- counts: parallelTrialCount > 0, maxTrialCount > 0, maxFailedTrialCount >= 0, neither above
  (maxFailedTrialCount above maxTrialCount is only a warning: see ``spec_warnings``)
  maxTrialCount;
- objective: additionalMetricNames must not contain the objective metric; no duplicates
  (the CRD's ``listType=set``/``map``);
- parameters: at least one, unique names; double/int need min and max (integers for int),
  finite numbers (64-bit integers for int, as Katib's Go ``int``), ``min <= max`` (Katib's
  hyperband example uses ``min == max``), ``max - min`` a finite float, ``step > 0``, no list;
  discrete/categorical need a non-empty list of unique values (numbers for discrete) and no
  min/max/step; log distributions need ``min > 0``;
- trial template: primaryContainerName, successCondition and failureCondition set (after
  defaulting); trialParameters with unique names (no braces) and references; each reference is
  a parameter or a ``${trialSpec.…}`` meta reference; every parameter is referenced (Katib
  fails to create trials otherwise); every declared trial parameter is used as
  ``${trialParameters.NAME}`` and every placeholder is declared; the trial spec has apiVersion
  and kind, no metadata.name/namespace; for a Job or a Kubeflow training job the primary
  container exists;
- metrics collector: File needs an absolute path of kind File and format TEXT or JSON (no
  filter with JSON); TensorFlowEvent an absolute Directory and no format; Prometheus a positive
  port and a path starting with ``/``; Custom a customCollector; every metricsFormat regex
  compiles and has two groups (name, value).  Native-form experiments may use relative paths;
- earlyStopping: ``medianstop`` with ``min_trials_required`` (int > 0) and ``start_step``
  (int >= 1) only (``pkg/earlystopping/v1beta1/medianstop/service.py``), or tunery's ``asha``;
  each stopper validates its own settings (``tunery.stopping``);
- nasConfig (neural architecture search): :mod:`tunery.spec.nas`; trialParameters of a NAS
  experiment reference its algorithm's assignments (``architecture``, ``nn_config`` for enas);
- algorithm: ``tunery.suggest.base.validate_algorithm`` (unless ``check_algorithm=False``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any

from tunery.errors import SpecError
from tunery.model import (
    AlgorithmSetting,
    CollectorKind,
    ExperimentSpec,
    FileFormat,
    FileSystemKind,
)
from tunery.mounts import mentions, names_exactly
from tunery.parameters import check_conditions, check_parameters
from tunery.spec.defaults import KUBEFLOW_JOB_KINDS
from tunery.spec.initial import validate_initial_trials
from tunery.spec.nas import unknown_darts_settings, validate_nas
from tunery.spec.objectives import validate_objectives
from tunery.spec.replicas import check_distributed
from tunery.spec.template import (
    PARAM_PLACEHOLDER,
    entrypoint_override,
    find_primary_container,
    is_meta_reference,
    is_native_template,
    iter_strings,
    no_command_error,
    no_container_error,
    parse_meta_reference,
)

NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAME_MAX_LENGTH = 40
_NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
#: A namespace: a DNS label (RFC 1123), at most 63 characters.
NAMESPACE_PATTERN = _NAMESPACE_PATTERN
NAMESPACE_MAX_LENGTH = 63

_TT = "spec.trialTemplate"
_MC = "spec.metricsCollectorSpec"


def validate_spec(spec: ExperimentSpec, *, check_algorithm: bool = True) -> None:
    """Raise SpecError at the first problem of a defaulted spec."""
    validate_name(spec)
    validate_executor_annotation(spec)
    validate_counts(spec)
    validate_objective(spec)
    validate_settings_unique(spec.algorithm.algorithm_settings, "spec.algorithm.algorithmSettings")
    validate_early_stopping(spec)
    validate_nas(spec)
    if spec.nas_config is None:
        validate_parameters(spec)
    validate_trial_template(spec)
    validate_metrics_collector(spec)
    validate_initial_trials(spec)
    if check_algorithm:
        from tunery.suggest.base import validate_algorithm

        validate_algorithm(spec)


def spec_warnings(spec: ExperimentSpec) -> list[str]:
    """Things that are valid for tunery but worth telling the user (one line each).

    Katib's webhook refuses ``maxFailedTrialCount > maxTrialCount``; Katib's own published
    ``simple-pbt.yaml`` does exactly that, and the setting is harmless (the limit can never be
    reached), so tunery accepts it with a warning.
    """
    warnings = _metrics_path_warnings(spec) + unknown_darts_settings(spec)
    max_trials = spec.max_trial_count
    if (
        spec.max_failed_trial_count is not None
        and max_trials is not None
        and spec.max_failed_trial_count > max_trials
    ):
        warnings.append(
            f"spec.maxFailedTrialCount ({spec.max_failed_trial_count}) is above "
            f"spec.maxTrialCount ({max_trials}): it can never be reached (Katib's webhook "
            "would refuse this); lower it to at most maxTrialCount"
        )
    return warnings


def _metrics_path_warnings(spec: ExperimentSpec) -> list[str]:
    """A collector path that the trial never names: its copy per trial cannot reach the trial.

    Each trial gets its own copy of an absolute collector path by rewriting the places that
    name it (``tunery.launch``); a trial that writes there without naming it (a path built
    into the image's script) would write outside its own directory.
    """
    mc = spec.metrics_collector
    path = mc.path
    if (
        not path
        or not posixpath.isabs(path)
        or mc.kind not in (CollectorKind.FILE, CollectorKind.TENSORFLOW_EVENT)
    ):
        return []
    template = spec.trial_template
    texts = [text for _, text in iter_strings(template.trial_spec or {}, "")]
    texts += [*template.command, *template.env.values(), template.working_dir or ""]
    is_dir = mc.kind is CollectorKind.TENSORFLOW_EVENT or mc.path_kind is FileSystemKind.DIRECTORY
    directory = path if is_dir else posixpath.dirname(path)
    if directory.rstrip("/") == "":
        directory = path
    parts = [p for p in directory.split("/") if p]
    ancestors = ["/" + "/".join(parts[:n]) for n in range(1, len(parts))]
    if mentions(directory, texts) or any(names_exactly(a, texts) for a in ancestors):
        return []
    return [
        f"{_MC}.source.fileSystemPath.path: the trial never names {path} in its command, args, "
        "env or workingDir; tunery gives each trial its own copy of that path by rewriting "
        "where it is named, so pass it to the trial (e.g. --log-path=" + path + ") or the "
        "metrics will not be found"
    ]


def validate_executor_annotation(spec: ExperimentSpec) -> None:
    """``metadata.annotations["tunery.dev/executor"]``, when given, names an executor."""
    from tunery.errors import UserInputError
    from tunery.execute import EXECUTOR_ANNOTATION, validate_url

    value = spec.annotations.get(EXECUTOR_ANNOTATION)
    if value is None or value.strip() == "local":
        return
    try:
        validate_url(value)
    except UserInputError:
        raise SpecError(
            f'metadata.annotations["{EXECUTOR_ANNOTATION}"]',
            f"{value!r} is not an executor",
            'use "local" or "dask://HOST:PORT" (a Dask scheduler)',
        ) from None


def validate_name(spec: ExperimentSpec) -> None:
    if not NAME_PATTERN.match(spec.name) or len(spec.name) > NAME_MAX_LENGTH:
        raise SpecError(
            "metadata.name",
            f"invalid experiment name {spec.name!r}",
            "use lower case letters, digits and '-', start with a letter, end with a letter or "
            f"digit, at most {NAME_MAX_LENGTH} characters (e.g. 'mnist-lr-search')",
        )
    if not _NAMESPACE_PATTERN.match(spec.namespace) or len(spec.namespace) > 63:
        raise SpecError(
            "metadata.namespace",
            f"invalid namespace {spec.namespace!r}",
            "use lower case letters, digits and '-' (at most 63 characters)",
        )


def validate_counts(spec: ExperimentSpec) -> None:
    max_trials = spec.max_trial_count
    if spec.max_failed_trial_count is not None and spec.max_failed_trial_count < 0:
        raise SpecError("spec.maxFailedTrialCount", "should not be less than 0", "use 0 or more")
    if max_trials is not None and max_trials <= 0:
        raise SpecError("spec.maxTrialCount", "must be greater than 0", "use 1 or more")
    if spec.parallel_trial_count <= 0:
        raise SpecError("spec.parallelTrialCount", "must be greater than 0", "use 1 or more")
    if max_trials is not None and spec.parallel_trial_count > max_trials:
        raise SpecError(
            "spec.parallelTrialCount",
            f"parallelTrialCount ({spec.parallel_trial_count}) should be less than or equal to "
            f"spec.maxTrialCount ({max_trials})",
            "lower parallelTrialCount (it defaults to 3) or raise maxTrialCount",
        )


def validate_objective(spec: ExperimentSpec) -> None:
    obj = spec.objective
    path = "spec.objective"
    validate_objectives(obj)
    if obj.objective_metric_name in obj.additional_metric_names:
        i = obj.additional_metric_names.index(obj.objective_metric_name)
        raise SpecError(
            f"{path}.additionalMetricNames[{i}]",
            "should not contain spec.objective.objectiveMetricName "
            f"({obj.objective_metric_name!r})",
            "remove it from additionalMetricNames: the objective metric is always collected",
        )
    seen: set[str] = set()
    for i, name in enumerate(obj.additional_metric_names):
        if name in seen:
            raise SpecError(
                f"{path}.additionalMetricNames[{i}]",
                f"duplicate metric name {name!r}",
                "list each metric once",
            )
        seen.add(name)
    names: set[str] = set()
    for i, strategy in enumerate(obj.metric_strategies):
        if strategy.name in names:
            raise SpecError(
                f"{path}.metricStrategies[{i}].name",
                f"duplicate metric strategy for {strategy.name!r}",
                "give each metric one strategy",
            )
        names.add(strategy.name)


def validate_settings_unique(settings: tuple[AlgorithmSetting, ...], path: str) -> None:
    seen: set[str] = set()
    for i, setting in enumerate(settings):
        if setting.name in seen:
            raise SpecError(
                f"{path}[{i}].name",
                f"duplicate setting {setting.name!r}",
                "give each setting once",
            )
        seen.add(setting.name)


def validate_early_stopping(spec: ExperimentSpec) -> None:
    """The early stopper exists (Katib's ``medianstop``, or tunery's ``asha``) with valid settings.

    Each stopper validates its own settings (``tunery.stopping.median.validate`` is Katib's
    ``validate_medianstop_setting``).
    """
    if spec.early_stopping is None:
        return
    from tunery.stopping.base import validate_stopper

    validate_settings_unique(
        spec.early_stopping.algorithm_settings, "spec.earlyStopping.algorithmSettings"
    )
    validate_stopper(spec)


# --------------------------------------------------------------------------- parameters


def validate_parameters(spec: ExperimentSpec) -> None:
    """Katib's parameter rules (:func:`tunery.parameters.check_parameters`), then the
    conditions' (:func:`tunery.parameters.check_conditions`)."""
    check_parameters(spec.parameters)
    check_conditions(spec.parameters, katib=spec.source_format == "katib")


# --------------------------------------------------------------------------- trial template


def validate_trial_template(spec: ExperimentSpec) -> None:
    template = spec.trial_template
    native = is_native_template(template)
    if not native and template.trial_spec is None:
        # The ConfigMap was found nowhere (tunery.spec.configmaps inlines the ones it finds).
        from tunery.spec.configmaps import missing_config_map_error

        raise missing_config_map_error(template.config_map or {})
    if not native:
        if not template.primary_container_name:
            raise SpecError(
                f"{_TT}.primaryContainerName",
                "must be specified",
                "name the container that runs the training code "
                "(e.g. primaryContainerName: training-container)",
            )
        if not template.success_condition:
            raise SpecError(
                f"{_TT}.successCondition",
                "successCondition and failureCondition must be specified",
                "give both as GJSON conditions on the trial's status (Katib defaults them only "
                "for Job and Kubeflow training jobs)",
            )
        if not template.failure_condition:
            raise SpecError(
                f"{_TT}.failureCondition",
                "successCondition and failureCondition must be specified",
                "give both as GJSON conditions on the trial's status",
            )
    from tunery.spec.nas import assignment_names

    parameter_names = {p.name for p in spec.parameters} | set(assignment_names(spec))
    names: set[str] = set()
    references: set[str] = set()
    for i, tp in enumerate(template.trial_parameters):
        p = f"{_TT}.trialParameters[{i}]"
        if "{" in tp.name or "}" in tp.name:
            raise SpecError(
                f"{p}.name", f"name {tp.name!r} must not contain '{{' or '}}'", "e.g. learningRate"
            )
        if tp.name in names:
            raise SpecError(
                f"{p}.name",
                f"parameter name {tp.name!r} can't be duplicated in "
                "spec.trialTemplate.trialParameters",
                "give each trial parameter its own name",
            )
        if tp.reference in references:
            raise SpecError(
                f"{p}.reference",
                f"parameter reference {tp.reference!r} can't be duplicated in "
                "spec.trialTemplate.trialParameters",
                "reference each parameter once",
            )
        names.add(tp.name)
        references.add(tp.reference)
        if is_meta_reference(tp.reference):
            meta = parse_meta_reference(tp.reference)
            if meta is None:
                raise SpecError(
                    f"{p}.reference",
                    f"invalid trial metadata reference {tp.reference!r}",
                    "use ${trialSpec.Name}, ${trialSpec.Namespace}, ${trialSpec.Kind}, "
                    "${trialSpec.APIVersion}, ${trialSpec.Labels[key]} or "
                    "${trialSpec.Annotations[key]}",
                )
            if meta.index is not None and template.trial_spec is not None:
                metadata = template.trial_spec.get("metadata")
                section = metadata.get(meta.key.lower()) if isinstance(metadata, Mapping) else None
                if not isinstance(section, Mapping) or meta.index not in section:
                    raise SpecError(
                        f"{p}.reference",
                        f"{tp.reference} refers to {meta.key.lower()} {meta.index!r}, which "
                        "spec.trialTemplate.trialSpec.metadata does not have",
                        f"add it under trialSpec.metadata.{meta.key.lower()}",
                    )
        elif tp.reference not in parameter_names:
            where = (
                f"{spec.algorithm.algorithm_name}'s assignments"
                if spec.nas_config is not None
                else "spec.parameters"
            )
            raise SpecError(
                f"{p}.reference",
                f"parameter reference {tp.reference!r} does not exist in {where}",
                f"use one of: {', '.join(sorted(parameter_names))}, or a ${{trialSpec.…}} "
                "meta reference",
            )
    for i, param in enumerate(spec.parameters):
        if param.name not in references:
            raise SpecError(
                f"{_TT}.trialParameters",
                f"parameter {param.name!r} (spec.parameters[{i}]) is not referenced by any "
                "trial parameter, so no trial could receive its value",
                f"add {{name: {param.name}, reference: {param.name}}} to trialParameters and use "
                f"${{trialParameters.{param.name}}} in the trial",
            )
    if native:
        _check_placeholders(spec, _native_strings(spec), native=True)
        return
    trial_spec = template.trial_spec or {}
    _check_placeholders(spec, list(iter_strings(trial_spec, f"{_TT}.trialSpec")), native=False)
    _check_trial_spec(spec, trial_spec)


def _native_strings(spec: ExperimentSpec) -> list[tuple[str, str]]:
    t = spec.trial_template
    strings = [(f"{_TT}.command[{i}]", arg) for i, arg in enumerate(t.command)]
    strings += [(f"{_TT}.env.{k}", v) for k, v in t.env.items()]
    if t.working_dir is not None:
        strings.append((f"{_TT}.workingDir", t.working_dir))
    return strings


def _check_placeholders(
    spec: ExperimentSpec, strings: list[tuple[str, str]], *, native: bool
) -> None:
    declared = {tp.name for tp in spec.trial_template.trial_parameters}
    used: set[str] = set()
    for path, text in strings:
        for match in PARAM_PLACEHOLDER.finditer(text):
            name = match.group(1)
            if name not in declared:
                raise SpecError(
                    path,
                    f"{match.group(0)} is not declared in spec.trialTemplate.trialParameters",
                    f"declare it: trialParameters: [{{name: {name}, reference: <parameter>}}], or "
                    f"use one of: {', '.join(sorted(declared)) or '(none declared)'}",
                )
            used.add(name)
    where = "command, env or workingDir" if native else "spec.trialTemplate.trialSpec"
    for i, tp in enumerate(spec.trial_template.trial_parameters):
        if tp.name not in used:
            raise SpecError(
                f"{_TT}.trialParameters[{i}].name",
                f"parameter name {tp.name!r} in spec.trialTemplate.trialParameters is not used "
                f"in the trial's {where}",
                f"write ${{trialParameters.{tp.name}}} where the trial needs the value, or "
                "remove the trial parameter",
            )


def _check_trial_spec(spec: ExperimentSpec, trial_spec: Mapping[str, Any]) -> None:
    path = f"{_TT}.trialSpec"
    for key in ("apiVersion", "kind"):
        value = trial_spec.get(key)
        if not isinstance(value, str) or not value:
            raise SpecError(
                f"{path}.{key}",
                "APIVersion and Kind in spec.trialTemplate must be specified",
                "e.g. apiVersion: batch/v1, kind: Job",
            )
    metadata = trial_spec.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise SpecError(f"{path}.metadata", "must be a mapping", "e.g. metadata: {labels: {}}")
    if isinstance(metadata, Mapping):
        for key in ("name", "namespace"):
            if metadata.get(key):
                raise SpecError(
                    f"{path}.metadata.{key}",
                    "metadata.name and metadata.namespace in spec.trialTemplate must be omitted",
                    "remove it: each trial gets its own name and the experiment's namespace",
                )
    kind = trial_spec["kind"]
    template = spec.trial_template
    from tunery.spec.workflows import check_workflow, is_workflow

    if is_workflow(trial_spec):
        check_workflow(spec, trial_spec)
        return
    if kind == "Job":
        job_spec = trial_spec.get("spec")
        pod = job_spec.get("template") if isinstance(job_spec, Mapping) else None
        pod_spec = pod.get("spec") if isinstance(pod, Mapping) else None
        containers = pod_spec.get("containers") if isinstance(pod_spec, Mapping) else None
        if not isinstance(containers, list) or not containers:
            raise SpecError(
                f"{path}.spec.template.spec.containers",
                "a Job needs spec.template.spec.containers",
                "put the training container under trialSpec.spec.template.spec.containers",
            )
    found = find_primary_container(
        trial_spec, template.primary_container_name, template.primary_pod_labels
    )
    override = entrypoint_override(spec)  # a malformed annotation is refused in any case
    has_command = found is not None and bool(found.container.get("command"))
    if found is not None and not has_command and not override:
        raise no_command_error(found)
    if (kind == "Job" or kind in KUBEFLOW_JOB_KINDS) and found is None:
        raise no_container_error(trial_spec, template.primary_container_name)
    if kind == "Job" or kind in KUBEFLOW_JOB_KINDS:
        check_distributed(spec)  # what cannot run locally is refused now, in one line


# --------------------------------------------------------------------------- metrics collector


def _is_abs(path: str | None) -> bool:
    return bool(path) and posixpath.isabs(path or "")


def _check_own_working_dir(spec: ExperimentSpec, path: str) -> None:
    """A relative metrics path of parallel trials needs a working directory per trial.

    Absolute paths are given to each trial as a copy of its own (:mod:`tunery.launch`); a
    relative one is read in the trial's working directory, so parallel trials sharing one would
    read each other's metrics.  The directory is the trial's own when it names the trial
    (a trial parameter referring to ``${trialSpec.Name}``).
    """
    template = spec.trial_template
    by_name = {
        tp.name
        for tp in template.trial_parameters
        if (meta := parse_meta_reference(tp.reference)) is not None and meta.key == "Name"
    }
    used = set(PARAM_PLACEHOLDER.findall(template.working_dir or ""))
    if used & by_name:
        return
    raise SpecError(
        path,
        f"the relative metrics path {spec.metrics_collector.path!r} would be shared by "
        f"{spec.parallel_trial_count} parallel trials in one working directory",
        "give an absolute path (each trial then gets its own copy), or a per-trial "
        "trialTemplate.workingDir naming the trial (a trial parameter with reference "
        "${trialSpec.Name})",
    )


#: Why a collector kind cannot run on one machine.
_NOT_LOCAL = {
    CollectorKind.CUSTOM: "Katib runs a Custom collector as a sidecar image that reports to "
    "Katib's DB manager over gRPC, which tunery does not serve",
    CollectorKind.PROMETHEUS: "Katib scrapes each trial pod's own HTTP port from a sidecar; "
    "parallel trials on one machine would share that port",
}


def not_local_collector_error(kind: CollectorKind) -> SpecError:
    """The refusal of a collector kind that only works in a cluster (at validate time)."""
    return SpecError(
        f"{_MC}.collector.kind",
        f"the {kind.value} metrics collector is not supported locally: {_NOT_LOCAL[kind]}",
        "print metrics as name=value lines (kind StdOut, the default), write them to a file "
        "(kind File, TEXT or JSON lines) or to tfevents files (kind TensorFlowEvent), or "
        "report them from Python with report_metrics() (kind Push)",
    )


def validate_metrics_collector(spec: ExperimentSpec) -> None:
    mc = spec.metrics_collector
    native = spec.source_format == "native" or is_native_template(spec.trial_template)
    src = f"{_MC}.source"
    fsp = f"{src}.fileSystemPath"
    extra_source = mc.extra.get("source", {}) if isinstance(mc.extra, Mapping) else {}
    has_filter = bool(mc.metrics_format) or "filter" in extra_source

    def path_ok(path: str | None) -> bool:
        return bool(path) if native else _is_abs(path)

    path_hint = (
        "give a file path (relative paths are relative to the trial's working directory)"
        if native
        else "give an absolute path, e.g. /var/log/katib/metrics.log"
    )
    kind = mc.kind
    if kind is CollectorKind.FILE:
        if mc.path_kind is not FileSystemKind.FILE:
            raise SpecError(f"{fsp}.kind", "must be File for the File collector", "kind: File")
        if not path_ok(mc.path):
            raise SpecError(
                f"{fsp}.path", "file path where metrics file exists is required", path_hint
            )
        if mc.file_format not in (FileFormat.TEXT, FileFormat.JSON):
            raise SpecError(f"{fsp}.format", "format of metrics file is required", "TEXT or JSON")
        if mc.file_format is FileFormat.JSON and has_filter:
            raise SpecError(
                f"{src}.filter",
                "filter must be nil when format of metrics file is json",
                "remove source.filter: JSON lines name their metrics",
            )
    elif kind is CollectorKind.TENSORFLOW_EVENT:
        if mc.path_kind is not FileSystemKind.DIRECTORY:
            raise SpecError(
                f"{fsp}.kind",
                "must be Directory for the TensorFlowEvent collector",
                "kind: Directory",
            )
        if not path_ok(mc.path):
            raise SpecError(
                f"{fsp}.path",
                "directory path where tensorflow event files exist is required",
                path_hint,
            )
        if mc.file_format is not None:
            raise SpecError(f"{fsp}.format", "must be empty for TensorFlowEvent", "remove it")
    elif kind is CollectorKind.PROMETHEUS:
        http_get = extra_source.get("httpGet", {}) if isinstance(extra_source, Mapping) else {}
        port = http_get.get("port")
        if isinstance(port, bool) or not (
            (isinstance(port, int) and port > 0)
            or (isinstance(port, str) and port.isdigit() and int(port) > 0)
        ):
            raise SpecError(
                f"{src}.httpGet.port",
                f"must be a positive integer value for metrics collector kind: {kind.value}",
                "e.g. port: 8080",
            )
        if not str(http_get.get("path", "")).startswith("/"):
            raise SpecError(
                f"{src}.httpGet.path",
                f"path is invalid for metrics collector kind: {kind.value}",
                "start it with '/', e.g. /metrics",
            )
    elif kind is CollectorKind.CUSTOM:
        collector = mc.extra.get("collector", {}) if isinstance(mc.extra, Mapping) else {}
        if not isinstance(collector, Mapping) or collector.get("customCollector") is None:
            raise SpecError(
                f"{_MC}.collector.customCollector",
                f"metrics collector kind: {kind.value} is required",
                "give the collector container under collector.customCollector",
            )
        has_path = mc.path is not None or mc.path_kind is not None
        if has_path and (
            not path_ok(mc.path)
            or mc.path_kind not in (FileSystemKind.FILE, FileSystemKind.DIRECTORY)
        ):
            raise SpecError(
                fsp,
                ".spec.metricsCollectorSpec.source is invalid",
                f"{path_hint}, with kind File or Directory",
            )
    if kind in (CollectorKind.PROMETHEUS, CollectorKind.CUSTOM):
        raise not_local_collector_error(kind)
    if native and mc.path and not posixpath.isabs(mc.path) and spec.parallel_trial_count > 1:
        _check_own_working_dir(spec, f"{fsp}.path")
    seen: set[str] = set()
    for i, pattern in enumerate(mc.metrics_format):
        p = f"{src}.filter.metricsFormat[{i}]"
        if pattern in seen:
            raise SpecError(p, f"duplicate filter {pattern!r}", "list each filter once")
        seen.add(pattern)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise SpecError(
                p, f"invalid filter {pattern!r}: {exc}", "write a valid regular expression"
            ) from None
        if compiled.groups < 2:
            raise SpecError(
                p,
                f"filter {pattern!r}: two top subexpressions are required",
                r"capture the metric name, then its value, e.g. ([\w|-]+)\s*:\s*([+-]?\d*(\.\d+)?)",
            )
