"""Experiment documents (Katib ``kubeflow.org/v1beta1`` or native ``tunery/v1``) <-> model.

Reading checks the shape of the document (types, required sections, unknown fields — Katib's
CRD schema rejects those), then :mod:`tunery.spec.defaults` applies Katib's defaults and
:mod:`tunery.spec.validate` runs Katib's webhook validation.  Writing gives the defaulted
document back in camelCase; ``parse_document(to_document(spec)) == spec`` for every valid spec.

Leniencies over the CRD: numbers are accepted where Katib wants numeric strings
(``min: 0.1``, an algorithm setting ``value: 10``), and written back as strings.

``spec.nasConfig`` (Katib's neural architecture search) is read and validated in
:mod:`tunery.spec.nas`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunery.errors import SpecError
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    CollectorKind,
    Distribution,
    EarlyStoppingSpec,
    ExperimentSpec,
    FeasibleSpace,
    FileFormat,
    FileSystemKind,
    MetricsCollectorSpec,
    MetricStrategy,
    MetricStrategyType,
    Objective,
    ObjectiveType,
    ParameterSpec,
    ParameterType,
    ResumePolicy,
    TrialParameterSpec,
    TrialTemplate,
)
from tunery.spec.configmaps import gather, inline_config_maps
from tunery.spec.initial import read_initial_trials, write_initial_trials
from tunery.spec.loading import check_structure, load_documents
from tunery.spec.loading import type_name as _type_name
from tunery.spec.template import format_value

KATIB_API_VERSION = "kubeflow.org/v1beta1"
NATIVE_API_VERSION = "tunery/v1"
#: Annotation of a native document read from another form (``optimizationjob``).
FORMAT_ANNOTATION = "tunery.dev/source-format"
EXPERIMENT_KIND = "Experiment"

_SPEC_FIELDS = (
    "objective",
    "objectives",
    "constraints",
    "algorithm",
    "earlyStopping",
    "parallelTrialCount",
    "maxTrialCount",
    "maxFailedTrialCount",
    "parameters",
    "metricsCollectorSpec",
    "trialTemplate",
    "resumePolicy",
    "initialTrials",
    "nasConfig",
    "maxExperimentDuration",
    "experimentDurationPolicy",
)
_KATIB_TEMPLATE_FIELDS = (
    "retain",
    "trialParameters",
    "trialSpec",
    "configMap",
    "primaryPodLabels",
    "primaryContainerName",
    "successCondition",
    "failureCondition",
)
_NATIVE_TEMPLATE_FIELDS = (
    "retain",
    "trialParameters",
    "command",
    "env",
    "workingDir",
    "timeout",
    "resources",
)


@dataclass(frozen=True)
class ParsedExperiment:
    """One experiment of a file: the model, and the defaulted document (what export prints)."""

    spec: ExperimentSpec
    document: dict[str, Any]


# --------------------------------------------------------------------------- helpers


#: The most parameters an experiment may have (a search space beyond it is a mistake, and
#: errors about it must stay one line).
MAX_PARAMETERS = 1000


def _mapping(value: Any, path: str, *, what: str = "a mapping") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, f"must be {what}, not {_type_name(value)}", _shape_hint(path))
    for key in value:
        if not isinstance(key, str):
            raise SpecError(path, f"key {key!r} must be a string", "quote the key")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(path, f"must be a list, not {_type_name(value)}", _shape_hint(path))
    return value


def _shape_hint(path: str) -> str:
    return f"see the Katib v1beta1 Experiment reference for the shape of {path or 'the document'}"


def _known(section: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    for key in section:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            close = [a for a in allowed if a.lower() == key.lower()]
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else f"known fields of {path or 'the document'}: {', '.join(allowed)}"
            )
            raise SpecError(where, f"unknown field {key!r}", hint)


def _str(value: Any, path: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise SpecError(path, "is required", f"set {path.rsplit('.', 1)[-1]}")
        return None
    if not isinstance(value, str):
        raise SpecError(path, f"must be a string, not {_type_name(value)}", "quote the value")
    if required and not value:
        raise SpecError(path, "must not be empty", f"set {path.rsplit('.', 1)[-1]}")
    return value


def _scalar_str(value: Any, path: str) -> str:
    """A string, or a number written as Katib's numeric string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(
            path, f"must be a string or a number, not {_type_name(value)}", 'e.g. "0.01"'
        )
    return format_value(value)


def _int(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"must be an integer, not {_type_name(value)}", "e.g. 3")
    return value


def _bool(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise SpecError(path, f"must be true or false, not {_type_name(value)}")
    return value


def _enum(enum: Any, value: Any, path: str, *, what: str) -> Any:
    options = [m.value for m in enum]
    if not isinstance(value, str) or value not in options:
        shown = value if isinstance(value, str) else _type_name(value)
        raise SpecError(path, f"invalid {what} {shown!r}", f"use one of: {', '.join(options)}")
    return enum(value)


def _string_map(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    mapping = _mapping(value, path)
    out: dict[str, str] = {}
    for key, item in mapping.items():
        if not isinstance(item, str):
            raise SpecError(
                f"{path}.{key}",
                f"must be a string, not {_type_name(item)}",
                f'quote the value: {key}: "{item}"',
            )
        out[key] = item
    return out


def _plain(value: Any) -> Any:
    """A deep copy of a JSON-like tree with plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, path: str) -> float:
    """Seconds from a number or a string such as ``"90s"``, ``"10m"``, ``"1h30m"``, ``"45"``."""
    if isinstance(value, bool):
        raise SpecError(path, "must be a duration, not a boolean", 'e.g. 3600 or "1h"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for m in _DURATION_PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
            if pos != len(text) or not text:
                raise SpecError(
                    path,
                    f"invalid duration {value!r}",
                    'write seconds as a number, or a string such as "90s", "10m", "1h30m"',
                ) from None
    else:
        raise SpecError(path, f"must be a duration, not {_type_name(value)}", 'e.g. "1h"')
    if not math.isfinite(seconds) or seconds <= 0:
        raise SpecError(path, f"must be positive, not {value!r}", 'e.g. "30m"')
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as the shortest of ``"2h"``, ``"5m"``, ``"90s"`` that reads back exactly."""
    if seconds == int(seconds):
        whole = int(seconds)
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if whole % size == 0:
                return f"{whole // size}{unit}"
        return f"{whole}s"
    return f"{format_value(seconds)}s"


# --------------------------------------------------------------------------- reading


def read_document(doc: Mapping[str, Any]) -> ExperimentSpec:
    """The model of one Experiment document, checked for shape but not defaulted/validated."""
    doc = _mapping(doc, "")
    api_version = doc.get("apiVersion")
    if api_version not in (KATIB_API_VERSION, NATIVE_API_VERSION):
        raise SpecError(
            "apiVersion",
            f"unsupported apiVersion {api_version!r}",
            f"use {KATIB_API_VERSION} (Katib) or {NATIVE_API_VERSION} (native form)",
        )
    if doc.get("kind") != EXPERIMENT_KIND:
        raise SpecError("kind", f"kind must be {EXPERIMENT_KIND}, not {doc.get('kind')!r}")
    metadata = _mapping(doc.get("metadata", {}) or {}, "metadata")
    name = _str(metadata.get("name"), "metadata.name", required=True)
    namespace = _str(metadata.get("namespace"), "metadata.namespace") or "default"
    labels = _string_map(metadata.get("labels"), "metadata.labels")
    annotations = _string_map(metadata.get("annotations"), "metadata.annotations")
    source_format = annotations.pop(FORMAT_ANNOTATION, None)

    if "spec" not in doc or doc["spec"] is None:
        raise SpecError("spec", "is required", "an Experiment needs a spec")
    spec = _mapping(doc["spec"], "spec")
    _known(spec, "spec", _SPEC_FIELDS)
    from tunery.spec.timebudget import read_time_budget

    duration, duration_policy = read_time_budget(
        spec, annotations, native=api_version == NATIVE_API_VERSION
    )

    from tunery.spec.conditions import apply_annotation
    from tunery.spec.nas import read_nas_config

    native = api_version == NATIVE_API_VERSION
    parameters = apply_annotation(_read_parameters(spec.get("parameters"), native), annotations)
    return ExperimentSpec(
        name=name or "",
        namespace=namespace,
        objective=_read_objectives(spec),
        algorithm=_read_algorithm(spec.get("algorithm")),
        early_stopping=_read_early_stopping(spec.get("earlyStopping")),
        parameters=parameters,
        trial_template=_read_trial_template(spec.get("trialTemplate")),
        parallel_trial_count=_or_unset(
            _int(spec.get("parallelTrialCount"), "spec.parallelTrialCount")
        ),
        max_trial_count=_int(spec.get("maxTrialCount"), "spec.maxTrialCount"),
        max_failed_trial_count=_int(spec.get("maxFailedTrialCount"), "spec.maxFailedTrialCount"),
        metrics_collector=_read_metrics_collector(spec.get("metricsCollectorSpec")),
        initial_trials=read_initial_trials(
            spec, annotations, native=api_version == NATIVE_API_VERSION
        ),
        resume_policy=_enum(
            ResumePolicy, spec["resumePolicy"], "spec.resumePolicy", what="resume policy"
        )
        if spec.get("resumePolicy") not in (None, "")
        else UNSET,
        source_format=source_format or ("katib" if api_version == KATIB_API_VERSION else "native"),
        labels=labels,
        annotations=annotations,
        max_experiment_duration=duration,
        experiment_duration_policy=duration_policy,
        nas_config=read_nas_config(spec.get("nasConfig")),
    )


#: "Not given" for model fields that are not optional: defaulting replaces it.
UNSET: Any = None


def _or_unset(value: int | None) -> Any:
    return UNSET if value is None else value


def _read_objectives(spec: Mapping[str, Any]) -> Objective:
    """``spec.objective``, ``spec.objectives`` and ``spec.constraints`` (spec/objectives.py)."""
    from tunery.spec.objectives import combine

    single = spec.get("objective")
    if single is None and spec.get("objectives") is None:
        return _read_objective(single)  # the error of a missing objective
    first = _read_objective(single) if single is not None else None
    return combine(first, spec.get("objectives"), spec.get("constraints"))


def _read_objective(value: Any) -> Objective:
    path = "spec.objective"
    if value is None:
        raise SpecError(path, "is required", "set spec.objective.type and objectiveMetricName")
    obj = _mapping(value, path)
    _known(
        obj,
        path,
        ("type", "goal", "objectiveMetricName", "additionalMetricNames", "metricStrategies"),
    )
    if obj.get("type") in (None, ""):
        raise SpecError(f"{path}.type", "is required", "use minimize or maximize")
    kind = _enum(ObjectiveType, obj.get("type"), f"{path}.type", what="objective type")
    metric = _str(obj.get("objectiveMetricName"), f"{path}.objectiveMetricName", required=True)
    goal: float | None = None
    if obj.get("goal") is not None:
        raw = obj["goal"]
        try:
            if isinstance(raw, bool):
                raise ValueError
            goal = float(raw)
        except (TypeError, ValueError):
            raise SpecError(
                f"{path}.goal", f"must be a number, not {raw!r}", "e.g. goal: 0.99"
            ) from None
        if not math.isfinite(goal):
            raise SpecError(f"{path}.goal", "must be a finite number", "e.g. goal: 0.99")
    additional: list[str] = []
    for i, item in enumerate(
        _list(obj.get("additionalMetricNames") or [], f"{path}.additionalMetricNames")
    ):
        additional.append(_str(item, f"{path}.additionalMetricNames[{i}]", required=True) or "")
    strategies: list[MetricStrategy] = []
    raw_strategies = _list(obj.get("metricStrategies") or [], f"{path}.metricStrategies")
    for i, item in enumerate(raw_strategies):
        p = f"{path}.metricStrategies[{i}]"
        entry = _mapping(item, p)
        _known(entry, p, ("name", "value"))
        strategies.append(
            MetricStrategy(
                name=_str(entry.get("name"), f"{p}.name", required=True) or "",
                value=_enum(
                    MetricStrategyType, entry.get("value"), f"{p}.value", what="metric strategy"
                ),
            )
        )
    return Objective(
        type=kind,
        objective_metric_name=metric or "",
        goal=goal,
        additional_metric_names=tuple(additional),
        metric_strategies=tuple(strategies),
    )


def _read_settings(value: Any, path: str) -> tuple[AlgorithmSetting, ...]:
    settings: list[AlgorithmSetting] = []
    for i, item in enumerate(_list(value or [], path)):
        p = f"{path}[{i}]"
        entry = _mapping(item, p)
        _known(entry, p, ("name", "value"))
        raw = entry.get("value")
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif raw is None:
            text = ""
        else:
            text = _scalar_str(raw, f"{p}.value")
        settings.append(
            AlgorithmSetting(
                name=_str(entry.get("name"), f"{p}.name", required=True) or "", value=text
            )
        )
    return tuple(settings)


def _read_algorithm(value: Any) -> AlgorithmSpec:
    path = "spec.algorithm"
    if value is None:
        raise SpecError(path, "is required", "e.g. algorithm: {algorithmName: random}")
    alg = _mapping(value, path)
    _known(alg, path, ("algorithmName", "algorithmSettings"))
    return AlgorithmSpec(
        algorithm_name=_str(alg.get("algorithmName"), f"{path}.algorithmName", required=True) or "",
        algorithm_settings=_read_settings(
            alg.get("algorithmSettings"), f"{path}.algorithmSettings"
        ),
    )


def _read_early_stopping(value: Any) -> EarlyStoppingSpec | None:
    path = "spec.earlyStopping"
    if value is None:
        return None
    es = _mapping(value, path)
    _known(es, path, ("algorithmName", "algorithmSettings"))
    return EarlyStoppingSpec(
        algorithm_name=_str(es.get("algorithmName"), f"{path}.algorithmName", required=True) or "",
        algorithm_settings=_read_settings(es.get("algorithmSettings"), f"{path}.algorithmSettings"),
    )


def _read_parameters(
    value: Any, native: bool = False, path: str = "spec.parameters"
) -> tuple[ParameterSpec, ...]:
    if value is None:
        return ()
    params: list[ParameterSpec] = []
    entries = _list(value, path)
    if len(entries) > MAX_PARAMETERS:
        raise SpecError(
            path,
            f"{len(entries)} parameters; an experiment may have at most {MAX_PARAMETERS}",
            "tune fewer parameters (fix the others in the trial template)",
        )
    for i, item in enumerate(entries):
        p = f"{path}[{i}]"
        entry = _mapping(item, p)
        if not native and "activeWhen" in entry:
            raise SpecError(
                f"{p}.activeWhen",
                "activeWhen is a field of the native form; Katib's API server would drop it",
                "in a Katib Experiment give the conditions in the annotation "
                'tunery.dev/active-when: \'{"C": {"model": ["svm"]}}\'',
            )
        _known(entry, p, ("name", "parameterType", "feasibleSpace", "activeWhen"))
        name = _str(entry.get("name"), f"{p}.name", required=True) or ""
        if entry.get("parameterType") in (None, ""):
            raise SpecError(
                f"{p}.parameterType", "is required", "use double, int, discrete or categorical"
            )
        ptype = _enum(
            ParameterType, entry.get("parameterType"), f"{p}.parameterType", what="parameterType"
        )
        fp = f"{p}.feasibleSpace"
        if entry.get("feasibleSpace") is None:
            raise SpecError(fp, "is required", _feasible_hint(ptype))
        fs = _mapping(entry["feasibleSpace"], fp)
        _known(fs, fp, ("min", "max", "step", "list", "distribution"))
        items = tuple(
            _scalar_str(v, f"{fp}.list[{j}]")
            for j, v in enumerate(_list(fs.get("list") or [], f"{fp}.list"))
        )
        distribution = None
        if fs.get("distribution") not in (None, ""):
            distribution = _enum(
                Distribution, fs["distribution"], f"{fp}.distribution", what="distribution"
            )
        params.append(
            ParameterSpec(
                name=name,
                parameter_type=ptype,
                feasible_space=FeasibleSpace(
                    min=_opt_scalar(fs.get("min"), f"{fp}.min"),
                    max=_opt_scalar(fs.get("max"), f"{fp}.max"),
                    step=_opt_scalar(fs.get("step"), f"{fp}.step"),
                    list=items,
                    distribution=distribution,
                ),
                active_when=_read_active_when(entry.get("activeWhen"), f"{p}.activeWhen"),
            )
        )
    return tuple(params)


def _read_active_when(value: Any, path: str) -> Any:
    from tunery.spec.conditions import read_active_when

    return read_active_when(value, path)


def _feasible_hint(ptype: ParameterType) -> str:
    if ptype in (ParameterType.DOUBLE, ParameterType.INT):
        return 'e.g. feasibleSpace: {min: "0.01", max: "0.1"}'
    return "e.g. feasibleSpace: {list: [a, b]}"


def _opt_scalar(value: Any, path: str) -> str | None:
    if value is None or value == "":
        return None
    return _scalar_str(value, path)


def _read_metrics_collector(value: Any) -> MetricsCollectorSpec:
    path = "spec.metricsCollectorSpec"
    if value is None:
        return MetricsCollectorSpec(kind=UNSET)
    mc = _mapping(value, path)
    _known(mc, path, ("collector", "source"))
    extra: dict[str, Any] = {}
    kind: Any = UNSET
    if mc.get("collector") is not None:
        cp = f"{path}.collector"
        collector = _mapping(mc["collector"], cp)
        _known(collector, cp, ("kind", "customCollector"))
        if collector.get("kind") in (None, ""):
            raise SpecError(
                f"{cp}.kind",
                "is required",
                f"use one of: {', '.join(k.value for k in CollectorKind)}",
            )
        kind = _enum(CollectorKind, collector["kind"], f"{cp}.kind", what="collector kind")
        if collector.get("customCollector") is not None:
            extra["collector"] = {
                "customCollector": _plain(
                    _mapping(collector["customCollector"], f"{cp}.customCollector")
                )
            }
    file_path = None
    path_kind = None
    file_format = None
    metrics_format: tuple[str, ...] = ()
    if mc.get("source") is not None:
        sp = f"{path}.source"
        source = _mapping(mc["source"], sp)
        _known(source, sp, ("fileSystemPath", "filter", "httpGet"))
        if source.get("fileSystemPath") is not None:
            fsp = f"{sp}.fileSystemPath"
            fs = _mapping(source["fileSystemPath"], fsp)
            _known(fs, fsp, ("path", "kind", "format"))
            file_path = _str(fs.get("path"), f"{fsp}.path") or None
            if fs.get("kind") not in (None, ""):
                path_kind = _enum(FileSystemKind, fs["kind"], f"{fsp}.kind", what="path kind")
            if fs.get("format") not in (None, ""):
                file_format = _enum(FileFormat, fs["format"], f"{fsp}.format", what="file format")
        if source.get("filter") is not None:
            fp = f"{sp}.filter"
            flt = _mapping(source["filter"], fp)
            _known(flt, fp, ("metricsFormat",))
            metrics_format = tuple(
                _str(v, f"{fp}.metricsFormat[{j}]", required=True) or ""
                for j, v in enumerate(_list(flt.get("metricsFormat") or [], f"{fp}.metricsFormat"))
            )
            if not metrics_format:
                # An empty filter is kept so that JSON's "no filter" rule can see it.
                extra["source"] = {"filter": {}}
        if source.get("httpGet") is not None:
            extra.setdefault("source", {})["httpGet"] = _plain(
                _mapping(source["httpGet"], f"{sp}.httpGet")
            )
    return MetricsCollectorSpec(
        kind=kind,
        path=file_path,
        path_kind=path_kind,
        file_format=file_format,
        metrics_format=metrics_format,
        extra=extra,
    )


def _read_trial_parameters(value: Any, path: str) -> tuple[TrialParameterSpec, ...]:
    out: list[TrialParameterSpec] = []
    for i, item in enumerate(_list(value or [], path)):
        p = f"{path}[{i}]"
        entry = _mapping(item, p)
        _known(entry, p, ("name", "description", "reference", "inactive"))
        from tunery.spec.inactive import read_inactive

        inactive, inactive_value = read_inactive(entry.get("inactive"), f"{p}.inactive")
        out.append(
            TrialParameterSpec(
                name=_str(entry.get("name"), f"{p}.name", required=True) or "",
                reference=_str(entry.get("reference"), f"{p}.reference", required=True) or "",
                description=_str(entry.get("description"), f"{p}.description"),
                inactive=inactive,
                inactive_value=inactive_value,
            )
        )
    return tuple(out)


def _read_trial_template(value: Any) -> TrialTemplate:
    path = "spec.trialTemplate"
    if value is None:
        raise SpecError(
            path, "is required", "give a trialSpec (Katib form) or a command (native form)"
        )
    tt = _mapping(value, path)
    if "command" in tt:
        return _read_native_template(tt, path)
    _known(tt, path, _KATIB_TEMPLATE_FIELDS)
    if tt.get("trialParameters") is None:
        raise SpecError(
            f"{path}.trialParameters",
            "is required",
            "declare each placeholder of the trial spec: "
            "trialParameters: [{name: learningRate, reference: lr}]",
        )
    trial_spec = tt.get("trialSpec")
    config_map = tt.get("configMap")
    if trial_spec is None and config_map is None:
        raise SpecError(
            f"{path}.trialSpec",
            "spec.trialTemplate.trialSpec or spec.trialTemplate.configMap must be specified",
            "inline the Kubernetes Job as trialSpec, or use the native form's command",
        )
    if trial_spec is not None and config_map is not None:
        raise SpecError(
            f"{path}.configMap",
            "only one of spec.trialTemplate.trialSpec or spec.trialTemplate.configMap can be "
            "specified",
            "remove one of them",
        )
    cm = None
    if config_map is not None:
        cmp_ = f"{path}.configMap"
        cm_map = _mapping(config_map, cmp_)
        _known(cm_map, cmp_, ("configMapName", "configMapNamespace", "templatePath"))
        for key in ("configMapName", "configMapNamespace", "templatePath"):
            _str(cm_map.get(key), f"{cmp_}.{key}", required=True)
        cm = _plain(cm_map)
    if trial_spec is not None:
        trial_spec = _mapping(trial_spec, f"{path}.trialSpec")
        for key in ("apiVersion", "kind"):
            value = trial_spec.get(key)
            if not isinstance(value, str) or not value:
                raise SpecError(
                    f"{path}.trialSpec.{key}",
                    "APIVersion and Kind in spec.trialTemplate must be specified",
                    "e.g. apiVersion: batch/v1, kind: Job",
                )
    pod_labels = None
    if tt.get("primaryPodLabels") is not None:
        pod_labels = _string_map(tt["primaryPodLabels"], f"{path}.primaryPodLabels")
    return TrialTemplate(
        trial_parameters=_read_trial_parameters(
            tt.get("trialParameters"), f"{path}.trialParameters"
        ),
        trial_spec=_plain(_mapping(trial_spec, f"{path}.trialSpec"))
        if trial_spec is not None
        else None,
        config_map=cm,
        primary_container_name=_str(tt.get("primaryContainerName"), f"{path}.primaryContainerName")
        or None,
        primary_pod_labels=pod_labels or None,
        success_condition=_str(tt.get("successCondition"), f"{path}.successCondition") or None,
        failure_condition=_str(tt.get("failureCondition"), f"{path}.failureCondition") or None,
        retain=_bool(tt.get("retain"), f"{path}.retain"),
    )


def _read_native_template(tt: Mapping[str, Any], path: str) -> TrialTemplate:
    extra = [k for k in tt if k not in _NATIVE_TEMPLATE_FIELDS]
    if extra:
        key = extra[0]
        raise SpecError(
            f"{path}.{key}",
            f"field {key!r} cannot be used with trialTemplate.command (the native form)",
            f"native trial templates know: {', '.join(_NATIVE_TEMPLATE_FIELDS)}; "
            "for a Kubernetes trial spec, drop command",
        )
    cmd_path = f"{path}.command"
    raw = _list(tt["command"], cmd_path)
    if not raw:
        raise SpecError(
            cmd_path,
            "must not be empty",
            'e.g. command: [python, train.py, "--lr=${trialParameters.lr}"]',
        )
    command: list[str] = []
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise SpecError(
                f"{cmd_path}[{i}]", f"must be a string, not {_type_name(item)}", "quote it"
            )
        command.append(item if isinstance(item, str) else format_value(item))
    env: dict[str, str] = {}
    if tt.get("env") is not None:
        for key, item in _mapping(tt["env"], f"{path}.env").items():
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise SpecError(
                    f"{path}.env.{key}", f"must be a string, not {_type_name(item)}", "quote it"
                )
            env[key] = item if isinstance(item, str) else format_value(item)
    resources: dict[str, str] = {}
    if tt.get("resources") is not None:
        for key, item in _mapping(tt["resources"], f"{path}.resources").items():
            resources[key] = _scalar_str(item, f"{path}.resources.{key}")
    timeout = None
    if tt.get("timeout") is not None:
        timeout = parse_duration(tt["timeout"], f"{path}.timeout")
    return TrialTemplate(
        trial_parameters=_read_trial_parameters(
            tt.get("trialParameters"), f"{path}.trialParameters"
        ),
        command=tuple(command),
        env=env,
        working_dir=_str(tt.get("workingDir"), f"{path}.workingDir") or None,
        timeout=timeout,
        resources=resources,
        retain=_bool(tt.get("retain"), f"{path}.retain"),
    )


# --------------------------------------------------------------------------- writing


def to_document(spec: ExperimentSpec) -> dict[str, Any]:
    """The camelCase document of a spec (Katib or native form, per ``spec.source_format``)."""
    metadata: dict[str, Any] = {"name": spec.name, "namespace": spec.namespace}
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    annotations = dict(spec.annotations)
    if spec.source_format not in ("katib", "native"):
        annotations[FORMAT_ANNOTATION] = spec.source_format
    if spec.source_format == "katib":
        from tunery.spec.conditions import write_annotation

        write_annotation(spec.parameters, annotations)
    if annotations:
        metadata["annotations"] = annotations
    from tunery.spec.objectives import write_objectives

    body: dict[str, Any] = {"objective": _write_objective(spec.objective)}
    body.update(write_objectives(spec.objective))
    algorithm: dict[str, Any] = {"algorithmName": spec.algorithm.algorithm_name}
    if spec.algorithm.algorithm_settings:
        algorithm["algorithmSettings"] = [
            {"name": s.name, "value": s.value} for s in spec.algorithm.algorithm_settings
        ]
    body["algorithm"] = algorithm
    if spec.early_stopping is not None:
        es: dict[str, Any] = {"algorithmName": spec.early_stopping.algorithm_name}
        if spec.early_stopping.algorithm_settings:
            es["algorithmSettings"] = [
                {"name": s.name, "value": s.value} for s in spec.early_stopping.algorithm_settings
            ]
        body["earlyStopping"] = es
    body["parallelTrialCount"] = spec.parallel_trial_count
    if spec.max_trial_count is not None:
        body["maxTrialCount"] = spec.max_trial_count
    if spec.max_failed_trial_count is not None:
        body["maxFailedTrialCount"] = spec.max_failed_trial_count
    body["parameters"] = [_write_parameter(p) for p in spec.parameters]
    if spec.source_format == "katib":  # (the conditions are in the annotation)
        for entry in body["parameters"]:
            entry.pop("activeWhen", None)
    if spec.nas_config is not None:
        from tunery.spec.nas import write_nas_config

        body.pop("parameters")
        body["nasConfig"] = write_nas_config(spec.nas_config)
    body["metricsCollectorSpec"] = _write_metrics_collector(spec.metrics_collector)
    body["trialTemplate"] = _write_trial_template(spec.trial_template)
    write_initial_trials(spec, body, metadata)
    if spec.resume_policy is not None:
        body["resumePolicy"] = spec.resume_policy.value
    from tunery.spec.timebudget import write_time_budget

    write_time_budget(spec, body, metadata)
    return {
        "apiVersion": KATIB_API_VERSION if spec.source_format == "katib" else NATIVE_API_VERSION,
        "kind": EXPERIMENT_KIND,
        "metadata": metadata,
        "spec": body,
    }


def _write_objective(obj: Objective) -> dict[str, Any]:
    out: dict[str, Any] = {"type": obj.type.value}
    if obj.goal is not None:
        out["goal"] = obj.goal
    out["objectiveMetricName"] = obj.objective_metric_name
    if obj.additional_metric_names:
        out["additionalMetricNames"] = list(obj.additional_metric_names)
    if obj.metric_strategies:
        out["metricStrategies"] = [
            {"name": s.name, "value": s.value.value} for s in obj.metric_strategies
        ]
    return out


def parameter_to_document(p: ParameterSpec) -> dict[str, Any]:
    """One parameter in camelCase document form."""
    return _write_parameter(p)


def _write_parameter(p: ParameterSpec) -> dict[str, Any]:
    fs = p.feasible_space
    space: dict[str, Any] = {}
    if fs.min is not None:
        space["min"] = fs.min
    if fs.max is not None:
        space["max"] = fs.max
    if fs.step is not None:
        space["step"] = fs.step
    if fs.list:
        space["list"] = list(fs.list)
    if fs.distribution is not None:
        space["distribution"] = fs.distribution.value
    out = {"name": p.name, "parameterType": p.parameter_type.value, "feasibleSpace": space}
    if p.active_when:
        out["activeWhen"] = {parent: [str(v) for v in values] for parent, values in p.active_when}
    return out


def _write_metrics_collector(mc: MetricsCollectorSpec) -> dict[str, Any]:
    extra = _plain(mc.extra) if mc.extra else {}
    collector: dict[str, Any] = {"kind": mc.kind.value if mc.kind is not None else None}
    collector.update(extra.get("collector", {}))
    out: dict[str, Any] = {"collector": collector}
    source: dict[str, Any] = dict(extra.get("source", {}))
    fsp: dict[str, Any] = {}
    if mc.path is not None:
        fsp["path"] = mc.path
    if mc.path_kind is not None:
        fsp["kind"] = mc.path_kind.value
    if mc.file_format is not None:
        fsp["format"] = mc.file_format.value
    if fsp:
        source["fileSystemPath"] = fsp
    if mc.metrics_format:
        source["filter"] = {"metricsFormat": list(mc.metrics_format)}
    if source:
        out["source"] = source
    return out


def _write_trial_template(t: TrialTemplate) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if t.retain:
        out["retain"] = True
    params = []
    for tp in t.trial_parameters:
        entry: dict[str, Any] = {"name": tp.name}
        if tp.description is not None:
            entry["description"] = tp.description
        entry["reference"] = tp.reference
        if tp.inactive != "drop":
            entry["inactive"] = {"value": tp.inactive_value} if tp.inactive == "value" else "empty"
        params.append(entry)
    if t.trial_spec is None and t.config_map is None:
        out["command"] = list(t.command)
        if t.env:
            out["env"] = dict(t.env)
        if t.working_dir is not None:
            out["workingDir"] = t.working_dir
        if t.timeout is not None:
            out["timeout"] = format_duration(t.timeout)
        if t.resources:
            out["resources"] = dict(t.resources)
        out["trialParameters"] = params
        return out
    if t.primary_container_name is not None:
        out["primaryContainerName"] = t.primary_container_name
    if t.primary_pod_labels:
        out["primaryPodLabels"] = dict(t.primary_pod_labels)
    if t.success_condition is not None:
        out["successCondition"] = t.success_condition
    if t.failure_condition is not None:
        out["failureCondition"] = t.failure_condition
    out["trialParameters"] = params
    if t.trial_spec is not None:
        out["trialSpec"] = _plain(t.trial_spec)
    if t.config_map is not None:
        out["configMap"] = _plain(t.config_map)
    return out


# --------------------------------------------------------------------------- entry points


def parse_document(doc: Mapping[str, Any], *, check_algorithm: bool = True) -> ExperimentSpec:
    """Read, default (as Katib) and validate (as Katib's webhook) one Experiment document.

    With ``check_algorithm=False`` the algorithm registry is not consulted (for Katib
    algorithms this version does not run yet); everything else is validated.
    """
    from tunery.spec.defaults import apply_defaults
    from tunery.spec.validate import validate_spec

    check_structure(doc, "the experiment document")
    if isinstance(doc, Mapping) and doc.get("kind") == "OptimizationJob":
        from tunery.spec.optimizationjob import parse_optimization_job

        return parse_optimization_job(doc, check_algorithm=check_algorithm)
    spec = apply_defaults(read_document(doc))
    validate_spec(spec, check_algorithm=check_algorithm)
    return spec


def parse_experiment(doc: Mapping[str, Any], *, check_algorithm: bool = True) -> ParsedExperiment:
    """:func:`parse_document` plus the defaulted document."""
    spec = parse_document(doc, check_algorithm=check_algorithm)
    return ParsedExperiment(spec=spec, document=to_document(spec))


def _is_experiment(doc: Any) -> bool:
    return isinstance(doc, Mapping) and doc.get("kind") in (EXPERIMENT_KIND, "OptimizationJob")


def _wants_config_map(doc: Any) -> bool:
    spec = doc.get("spec") if _is_experiment(doc) else None
    tt = spec.get("trialTemplate") if isinstance(spec, Mapping) else None
    return isinstance(tt, Mapping) and tt.get("configMap") is not None


def inline_configmaps(
    doc: Mapping[str, Any], configmaps: Sequence[str | os.PathLike[str]] = ()
) -> Any:
    """``doc`` with its ``trialTemplate.configMap`` inlined from ``configmaps`` (files or
    directories), ``TUNERY_CONFIGMAPS`` or the ConfigMaps of the document itself."""
    maps = gather([doc], configmaps, None, load_documents)
    return inline_config_maps([doc], maps)[0]


def parse_text(
    text: str,
    source: str = "<string>",
    *,
    check_algorithm: bool = True,
    configmaps: Sequence[str | os.PathLike[str]] = (),
    experiment_file: str | os.PathLike[str] | None = None,
) -> list[ParsedExperiment]:
    """Every Experiment of a YAML or JSON text (one or several ``---`` documents).

    Other documents (a ConfigMap, a Namespace) are skipped; the ConfigMap that holds an
    experiment's ``trialTemplate.configMap`` template (in the text, in ``configmaps``, in
    ``TUNERY_CONFIGMAPS`` or in ``configmaps/`` next to ``experiment_file``: see
    :mod:`tunery.spec.configmaps`) is inlined as its ``trialSpec``.
    """
    docs = [d for d in load_documents(text, source) if d is not None]
    if any(_wants_config_map(d) for d in docs):
        where = os.fspath(experiment_file) if experiment_file is not None else None
        docs = inline_config_maps(docs, gather(docs, configmaps, where, load_documents))
    experiments = [d for d in docs if _is_experiment(d)]
    if not experiments:
        raise SpecError(
            "",
            f"{source} holds no Experiment",
            f"write a document with apiVersion: {KATIB_API_VERSION} (or {NATIVE_API_VERSION}) "
            "and kind: Experiment, or a trainer.kubeflow.org/v1alpha1 OptimizationJob",
        )
    parsed: list[ParsedExperiment] = []
    names: set[str] = set()
    for n, doc in enumerate(experiments, start=1):
        try:
            item = parse_experiment(doc, check_algorithm=check_algorithm)
        except SpecError as exc:
            if len(experiments) > 1:
                raise SpecError(
                    exc.path, f"{exc.message} (experiment {n} of {source})", exc.hint
                ) from None
            raise
        if item.spec.name in names:
            raise SpecError(
                "metadata.name",
                f"{source} holds two experiments named {item.spec.name!r}",
                "give each experiment its own name",
            )
        names.add(item.spec.name)
        parsed.append(item)
    return parsed


def load_file(
    path: str | os.PathLike[str],
    *,
    check_algorithm: bool = True,
    configmaps: Sequence[str | os.PathLike[str]] = (),
) -> list[ParsedExperiment]:
    """Every Experiment of a YAML or JSON file (``configmaps``: see :func:`parse_text`)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(
            "",
            f"cannot read {os.fspath(path)}: {reason}",
            "check the file name and that it is a readable UTF-8 YAML or JSON file",
        ) from None
    return parse_text(
        text,
        source=os.fspath(path),
        check_algorithm=check_algorithm,
        configmaps=configmaps,
        experiment_file=path,
    )
