"""Kubeflow Trainer's ``OptimizationJob`` (``trainer.kubeflow.org/v1alpha1``) <-> model.

The third document form next to Katib's Experiment and tunery's native one.  Written against
``pkg/apis/trainer/v1alpha1/optimizationjob_types.go`` of kubeflow/trainer (commit 8c0f5059,
2026-08-21) and its proposal, KEP-3562 ``proposals/2605-optimization-job-crd`` (commit
f3b09b19).  An OptimizationJob is read into a native ``tunery/v1`` Experiment document, which
then goes through the same defaulting and validation as every other form, so a job is an
ordinary experiment (``tunery list``, the UI); its spec remembers the form
(``source_format == "optimizationjob"``) for ``tunery get -o yaml`` and ``export``.

Reading is lenient:

* the merged API's names (``objectives``, ``searchAlgorithm: {random: {seed}}``/``{grid: {}}``,
  ``parameters[].searchSpace.{uniform,logUniform,categorical}``, ``numTrials``,
  ``parallelTrials``, ``trainJobTemplate``) and the earlier draft's (``objective``,
  ``algorithm``, ``random.randomState``, ``trialConfig: {numTrials, parallelTrials,
  maxFailedTrials}``, a ``searchSpace`` mapping of name -> space, lower-case directions and
  types, ``categorical.list``);
* tunery's extensions, written back by ``export``: any tunery algorithm by name
  (``searchAlgorithm: {tpe: {n_startup_trials: 5}}``), ``pruneAlgorithm`` (early stopping),
  ``maxFailedTrials``, ``objectives[].goal`` (several objectives are a multi-objective spec),
  ``constraints``, ``additionalMetricNames``, ``discrete``/``normal``/``logNormal`` spaces,
  ``uniform.step``, ``trainer.workingDir``/``timeout``, and ``spec.metricsCollectorSpec``,
  ``initialTrials`` and the time budget (:mod:`tunery.spec.optimizationjob_extras`);
* keys it does not know are logged as warnings, naming them; keys that only mean something on
  Kubernetes (``runtimeRef``, ``image``, ``initializer``...) are accepted silently.

Parameters reach the trial as ``KUBEFLOW_TRAINER_OPT_<NAME>`` environment variables (upper case,
``-`` and ``.`` -> ``_``) and, as the proposal's TrainJob annotation holding the JSON parameter
assignment, in ``TUNERY_TRAINJOB_ANNOTATIONS`` (a JSON object of the TrainJob's annotations).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tunery.errors import SpecError
from tunery.model import (
    Distribution,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    Objective,
    ParameterSpec,
    ParameterType,
    ParamValue,
    Trial,
)
from tunery.spec.loading import type_name as _type_name
from tunery.spec.optimizationjob_extras import EXTRA_KEYS, read_extras, write_extras

__all__ = [
    "ANNOTATIONS_ENV",
    "API_VERSION",
    "ENV_PREFIX",
    "FORMAT",
    "KIND",
    "PARAMETERS_ANNOTATION",
    "env_name",
    "is_optimization_job",
    "optimization_job_status",
    "parse_optimization_job",
    "to_native_document",
    "to_optimization_job",
    "trial_annotations_env",
]

log = logging.getLogger("tunery.spec")

API_VERSION = "trainer.kubeflow.org/v1alpha1"
KIND = "OptimizationJob"
#: ``ExperimentSpec.source_format`` of a spec read from an OptimizationJob.
FORMAT = "optimizationjob"
#: Prefix of the environment variable that carries each parameter (KEP-3562 §8.2).
ENV_PREFIX = "KUBEFLOW_TRAINER_OPT_"
#: The TrainJob annotation holding the JSON parameter assignment (the proposal leaves the key
#: open; this is tunery's).
PARAMETERS_ANNOTATION = "trainer.kubeflow.org/parameter-assignments"
#: Environment variable of a local trial: a JSON object of its TrainJob's annotations.
ANNOTATIONS_ENV = "TUNERY_TRAINJOB_ANNOTATIONS"

_SPEC_KEYS = (
    "objectives",
    "objective",
    "searchAlgorithm",
    "algorithm",
    "pruneAlgorithm",
    "parameters",
    "searchSpace",
    "numTrials",
    "parallelTrials",
    "maxFailedTrials",
    "trialConfig",
    "trainJobTemplate",
    "trialParameters",
)
#: The fields of an ``objectives`` entry: Kubeflow's, then tunery's (``strategy``, ``reference``).
_OBJECTIVE_KEYS = ("metric", "direction", "goal", "strategy", "reference")
_KUBERNETES_ONLY_SPEC = ("suspend", "managedBy", "ttlSecondsAfterFinished")
_TRAINJOB_KEYS = ("trainer",)
_KUBERNETES_ONLY_TRAINJOB = (
    "runtimeRef",
    "initializer",
    "labels",
    "annotations",
    "podTemplateOverrides",
    "podSpecOverrides",
    "suspend",
    "managedBy",
    "managedByConfig",
)
_TRAINER_KEYS = (
    "command",
    "args",
    "env",
    "numNodes",
    "resourcesPerNode",
    "workingDir",
    "timeout",
)
_KUBERNETES_ONLY_TRAINER = ("image", "numProcPerNode")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(
            path,
            f"must be a mapping, not {_type_name(value)}",
            f"see the OptimizationJob reference (docs/spec-reference.md) for {path}",
        )
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(path, f"must be a list, not {_type_name(value)}", "write a YAML list")
    return value


def _scalar(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(path, f"must be a string or a number, not {_type_name(value)}", "quote it")
    from tunery.spec.template import format_value

    return format_value(value)


def _int(value: Any, path: str, *, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(path, f"must be an integer, not {_type_name(value)}", "e.g. 10")
    if value < minimum:
        raise SpecError(path, f"must be at least {minimum}, not {value}")
    return value


def _warn_unknown(
    section: Mapping[str, Any], path: str, known: tuple[str, ...], k8s: tuple[str, ...] = ()
) -> None:
    unknown = [str(k) for k in section if k not in known and k not in k8s]
    if unknown:
        log.warning(
            "%s: unknown OptimizationJob field%s %s ignored (known: %s)",
            path or "the document",
            "s" if len(unknown) > 1 else "",
            ", ".join(repr(k) for k in unknown),
            ", ".join(known),
        )


def is_optimization_job(doc: Any) -> bool:
    """Whether ``doc`` is an OptimizationJob document (by its kind)."""
    return isinstance(doc, Mapping) and doc.get("kind") == KIND


def env_name(parameter: str) -> str:
    """``KUBEFLOW_TRAINER_OPT_<NAME>`` of a parameter: upper case, other characters -> ``_``."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", parameter).upper()


# --------------------------------------------------------------------------- reading


def _direction(value: Any, path: str) -> str:
    if value is None:
        return "minimize"
    if not isinstance(value, str) or value.lower() not in ("minimize", "maximize"):
        raise SpecError(path, f"invalid direction {value!r}", "use Minimize or Maximize")
    return value.lower()


def _read_objectives(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The native spec's objective fields: ``objective`` for one objective, ``objectives`` (each
    with its direction and goal) for several; tunery's ``constraints`` and
    ``additionalMetricNames`` extensions as they are."""
    key = "objectives" if "objectives" in spec else "objective"
    raw = spec.get(key)
    if raw is None:
        entries: list[Any] = [{}]
    elif key == "objective" and isinstance(raw, Mapping):
        entries = [raw]
    else:
        entries = _list(raw, f"spec.{key}")
        if not entries:
            raise SpecError(f"spec.{key}", "must not be empty", "e.g. [{metric: loss}]")
    names: list[str] = []
    terms: list[dict[str, Any]] = []  # goal, strategy, reference: checked by the native reader
    for i, entry in enumerate(entries):
        path = f"spec.{key}[{i}]" if key == "objectives" else f"spec.{key}"
        entry = _mapping(entry, path)
        _warn_unknown(entry, path, _OBJECTIVE_KEYS)
        metric = entry.get("metric", "loss")
        if not isinstance(metric, str) or not metric:
            raise SpecError(f"{path}.metric", "must be a non-empty string", "e.g. metric: loss")
        if metric in names:
            raise SpecError(f"{path}.metric", f"metric {metric!r} is listed twice")
        names.append(metric)
        direction = _direction(entry.get("direction"), f"{path}.direction")
        extras = {k: entry[k] for k in _OBJECTIVE_KEYS[2:] if entry.get(k) is not None}
        terms.append({"metric": metric, "direction": direction, **extras})
    first, extra = terms[0], spec.get("additionalMetricNames")
    objective: dict[str, Any] = {"type": first["direction"], "objectiveMetricName": first["metric"]}
    if first.get("goal") is not None:
        objective["goal"] = first["goal"]
    if extra is not None:
        objective["additionalMetricNames"] = _list(extra, "spec.additionalMetricNames")
    out: dict[str, Any] = {}
    if len(terms) == 1 and not {"strategy", "reference"} & first.keys():
        out["objective"] = objective
    else:
        out["objectives"] = terms
        if extra is not None:  # spec.objective agrees with objectives[0] and carries them
            out["objective"] = objective
    if spec.get("constraints") is not None:
        out["constraints"] = spec["constraints"]
    return out


def _settings(value: Any, path: str) -> list[dict[str, str]]:
    if value is None:
        return []
    return [
        {"name": str(k), "value": _scalar(v, f"{path}.{k}")}
        for k, v in _mapping(value, path).items()
    ]


def _read_algorithm(spec: Mapping[str, Any], key: str, default: str | None) -> Any:
    path = f"spec.{key}"
    raw = spec.get(key)
    if raw is None:
        return {"algorithmName": default} if default else None
    if isinstance(raw, str):
        return {"algorithmName": raw}
    raw = _mapping(raw, path)
    if "algorithmName" in raw:  # Katib's form
        return dict(raw)
    if len(raw) != 1:
        raise SpecError(
            path,
            f"must name exactly one algorithm, not {len(raw)}",
            "e.g. {random: {}} or {grid: {}}",
        )
    name, body = next(iter(raw.items()))
    body = {} if body is None else _mapping(body, f"{path}.{name}")
    if name == "random":
        body = dict(body)
        for alias in ("seed", "randomState"):
            if alias in body:
                body["random_state"] = body.pop(alias)
    return {"algorithmName": str(name), "algorithmSettings": _settings(body, f"{path}.{name}")}


_SPACES = ("uniform", "logUniform", "categorical", "discrete", "normal", "logNormal")


def _read_space(name: str, space: Any, path: str) -> dict[str, Any]:
    space = _mapping(space, path)
    if "feasibleSpace" in space or "parameterType" in space:  # Katib's form, leniently
        return {"name": name, **space}
    kinds = [k for k in space if k in _SPACES]
    if len(kinds) != 1:
        raise SpecError(
            path,
            "needs exactly one of uniform, logUniform, categorical"
            + (f" (found {', '.join(kinds)})" if kinds else ""),
            'e.g. searchSpace: {uniform: {min: "0.01", max: "0.1"}}',
        )
    kind = kinds[0]
    _warn_unknown(space, path, (kind,))
    body = _mapping(space[kind], f"{path}.{kind}")
    where = f"{path}.{kind}"
    if kind in ("categorical", "discrete"):
        _warn_unknown(body, where, ("choices", "list"))
        choices = body.get("choices", body.get("list"))
        if choices is None:
            raise SpecError(f"{where}.choices", "is required", 'e.g. choices: ["16", "32"]')
        values = [_scalar(v, f"{where}.choices[{i}]") for i, v in enumerate(_list(choices, where))]
        return {"name": name, "parameterType": kind, "feasibleSpace": {"list": values}}
    _warn_unknown(body, where, ("min", "max", "type", "step"))
    feasible: dict[str, Any] = {}
    for bound in ("min", "max"):
        if body.get(bound) is None:
            raise SpecError(f"{where}.{bound}", "is required", f'e.g. {bound}: "0.1"')
        feasible[bound] = _scalar(body[bound], f"{where}.{bound}")
    if body.get("step") is not None:
        feasible["step"] = _scalar(body["step"], f"{where}.step")
    ptype = body.get("type", "Float")
    if not isinstance(ptype, str) or ptype.lower() not in ("float", "int", "double"):
        raise SpecError(f"{where}.type", f"invalid type {ptype!r}", "use Float or Int")
    feasible["distribution"] = kind
    return {
        "name": name,
        "parameterType": "int" if ptype.lower() == "int" else "double",
        "feasibleSpace": feasible,
    }


def _read_parameters(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if spec.get("parameters") is not None:
        for i, entry in enumerate(_list(spec["parameters"], "spec.parameters")):
            path = f"spec.parameters[{i}]"
            entry = _mapping(entry, path)
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise SpecError(f"{path}.name", "is required", "e.g. name: learning_rate")
            if "searchSpace" not in entry and "feasibleSpace" in entry:
                out.append(dict(entry))
                continue
            _warn_unknown(entry, path, ("name", "searchSpace", "activeWhen"))
            if entry.get("searchSpace") is None:
                raise SpecError(
                    f"{path}.searchSpace", "is required", 'e.g. {uniform: {min: "0", max: "1"}}'
                )
            space = _read_space(name, entry["searchSpace"], f"{path}.searchSpace")
            out.append({**space, **{k: entry[k] for k in ("activeWhen",) if k in entry}})
    if spec.get("searchSpace") is not None:
        for name, space in _mapping(spec["searchSpace"], "spec.searchSpace").items():
            out.append(_read_space(str(name), space, f"spec.searchSpace.{name}"))
    if not out:
        raise SpecError(
            "spec.parameters",
            "is required",
            'e.g. parameters: [{name: lr, searchSpace: {uniform: {min: "0.01", max: "0.1"}}}]',
        )
    seen: dict[str, str] = {}
    for i, p in enumerate(out):
        env = env_name(p["name"])
        if env in seen:
            raise SpecError(
                f"spec.parameters[{i}].name",
                f"{p['name']!r} and {seen[env]!r} both become the environment variable {env}",
                "rename one of them",
            )
        seen[env] = p["name"]
    return out


def _read_env(value: Any, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): _scalar(v, f"{path}.{k}") for k, v in value.items()}
    env: dict[str, str] = {}
    for i, entry in enumerate(_list(value, path)):
        entry = _mapping(entry, f"{path}[{i}]")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError(f"{path}[{i}].name", "is required", "e.g. {name: MODE, value: fast}")
        if entry.get("valueFrom") is not None:
            log.warning("%s[%d]: valueFrom has no local meaning; %s is not set", path, i, name)
            continue
        env[name] = _scalar(entry.get("value", ""), f"{path}[{i}].value")
    return env


def _read_trainer(spec: Mapping[str, Any]) -> dict[str, Any]:
    base = "spec.trainJobTemplate"
    if spec.get("trainJobTemplate") is None:
        raise SpecError(
            base, "is required", "give spec.trainJobTemplate.spec.trainer.command to run a trial"
        )
    tjt = _mapping(spec["trainJobTemplate"], base)
    _warn_unknown(tjt, base, ("metadata", "spec"))
    tj = _mapping(tjt.get("spec") or {}, f"{base}.spec")
    _warn_unknown(tj, f"{base}.spec", _TRAINJOB_KEYS, _KUBERNETES_ONLY_TRAINJOB)
    path = f"{base}.spec.trainer"
    trainer = _mapping(tj.get("trainer") or {}, path)
    _warn_unknown(trainer, path, _TRAINER_KEYS, _KUBERNETES_ONLY_TRAINER)
    command = [
        _scalar(a, f"{path}.command[{i}]")
        for i, a in enumerate(_list(trainer.get("command") or [], f"{path}.command"))
    ]
    args = [
        _scalar(a, f"{path}.args[{i}]")
        for i, a in enumerate(_list(trainer.get("args") or [], f"{path}.args"))
    ]
    if not command:
        raise SpecError(
            f"{path}.command",
            "is required to run a trial locally (the image's entrypoint is not known here)",
            "e.g. command: [python, train.py]; it reads KUBEFLOW_TRAINER_OPT_<NAME>",
        )
    nodes = _int(trainer.get("numNodes"), f"{path}.numNodes", minimum=1)
    if nodes is not None and nodes > 1:
        log.warning("%s.numNodes: %d nodes run as one local process", path, nodes)
    out: dict[str, Any] = {
        "command": command + args,
        "env": _read_env(trainer.get("env"), f"{path}.env"),
    }
    resources = trainer.get("resourcesPerNode")
    if resources is not None:
        res = _mapping(resources, f"{path}.resourcesPerNode")
        limits = res.get("limits", res.get("requests", res))
        out["resources"] = {
            str(k): _scalar(v, f"{path}.resourcesPerNode.{k}")
            for k, v in _mapping(limits, f"{path}.resourcesPerNode").items()
        }
    for key in ("workingDir", "timeout"):
        if trainer.get(key) is not None:
            out[key] = trainer[key]
    meta = _mapping(tjt.get("metadata") or {}, f"{base}.metadata")
    for key in ("name", "namespace"):
        if meta.get(key) is not None:
            raise SpecError(
                f"{base}.metadata.{key}", "cannot be set in a template", f"remove {key}"
            )
    return out


def to_native_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The native ``tunery/v1`` Experiment document of an OptimizationJob document."""
    doc = _mapping(doc, "")
    if doc.get("apiVersion") != API_VERSION:
        raise SpecError(
            "apiVersion",
            f"unsupported apiVersion {doc.get('apiVersion')!r} for kind OptimizationJob",
            f"use {API_VERSION}",
        )
    _warn_unknown(doc, "", ("apiVersion", "kind", "metadata", "spec", "status"))
    metadata = dict(_mapping(doc.get("metadata") or {}, "metadata"))
    if doc.get("spec") is None:
        raise SpecError("spec", "is required", "an OptimizationJob needs a spec")
    spec = _mapping(doc["spec"], "spec")
    _warn_unknown(spec, "spec", _SPEC_KEYS + EXTRA_KEYS, _KUBERNETES_ONLY_SPEC)
    config = _mapping(spec.get("trialConfig") or {}, "spec.trialConfig")
    _warn_unknown(config, "spec.trialConfig", ("numTrials", "parallelTrials", "maxFailedTrials"))

    def count(key: str, default: int | None, minimum: int) -> tuple[int | None, str]:
        if spec.get(key) is not None:
            return _int(spec[key], f"spec.{key}", minimum=minimum), f"spec.{key}"
        value = _int(config.get(key), f"spec.trialConfig.{key}", minimum=minimum)
        return (default if value is None else value), f"spec.trialConfig.{key}"

    num, _ = count("numTrials", 1, 1)
    parallel, parallel_path = count("parallelTrials", 1, 1)
    failed, _ = count("maxFailedTrials", None, 0)
    if parallel is not None and num is not None and parallel > num:
        raise SpecError(
            parallel_path,
            f"parallelTrials ({parallel}) cannot exceed numTrials ({num})",
            f"set parallelTrials to at most {num}",
        )
    parameters = _read_parameters(spec)
    template = _read_trainer(spec)
    names = [p["name"] for p in parameters]
    template["env"] = {
        **{env_name(n): f"${{trialParameters.{n}}}" for n in names},
        **template["env"],
    }
    extra_tps = [
        _mapping(tp, f"spec.trialParameters[{i}]")
        for i, tp in enumerate(_list(spec.get("trialParameters") or [], "spec.trialParameters"))
    ]
    template["trialParameters"] = [{"name": n, "reference": n} for n in names] + [
        dict(tp) for tp in extra_tps
    ]
    tjt_meta = _mapping(
        _mapping(spec["trainJobTemplate"], "spec.trainJobTemplate").get("metadata") or {},
        "spec.trainJobTemplate.metadata",
    )
    annotations = dict(_mapping(metadata.get("annotations") or {}, "metadata.annotations"))
    if tjt_meta.get("annotations"):
        annotations["tunery.dev/trainjob-annotations"] = json.dumps(
            dict(tjt_meta["annotations"]), sort_keys=True
        )
    out_spec: dict[str, Any] = {
        **_read_objectives(spec),
        "algorithm": _read_algorithm(
            spec, "searchAlgorithm" if "searchAlgorithm" in spec else "algorithm", "random"
        ),
        "parallelTrialCount": parallel,
        "maxTrialCount": num,
        "parameters": parameters,
        "trialTemplate": template,
    }
    out_spec.update(read_extras(spec))  # tunery's extensions (collector default: StdOut)
    prune = _read_algorithm(spec, "pruneAlgorithm", None)
    if prune is not None:
        out_spec["earlyStopping"] = prune
    if failed is not None:
        out_spec["maxFailedTrialCount"] = failed
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": metadata,
        "spec": out_spec,
    }


#: Paths of the native document -> the OptimizationJob field a user wrote.
_PATHS = (
    ("spec.maxTrialCount", "spec.numTrials"),
    ("spec.parallelTrialCount", "spec.parallelTrials"),
    ("spec.maxFailedTrialCount", "spec.maxFailedTrials"),
    ("spec.objective.objectiveMetricName", "spec.objectives[0].metric"),
    ("spec.objective.goal", "spec.objectives[0].goal"),
    ("spec.objective", "spec.objectives"),
    ("spec.algorithm", "spec.searchAlgorithm"),
    ("spec.earlyStopping", "spec.pruneAlgorithm"),
    ("spec.trialTemplate.command", "spec.trainJobTemplate.spec.trainer.command"),
    ("spec.trialTemplate.env", "spec.trainJobTemplate.spec.trainer.env"),
    ("spec.trialTemplate.resources", "spec.trainJobTemplate.spec.trainer.resourcesPerNode"),
    ("spec.trialTemplate", "spec.trainJobTemplate.spec.trainer"),
)


def parse_optimization_job(
    doc: Mapping[str, Any], *, check_algorithm: bool = True
) -> ExperimentSpec:
    """Read, default and validate an OptimizationJob document, as the other forms are."""
    from tunery.spec.katib import parse_document

    native = to_native_document(doc)
    try:
        spec = parse_document(native, check_algorithm=check_algorithm)
    except SpecError as exc:
        path = exc.path
        for old, new in _PATHS:
            if path == old or path.startswith(old + ".") or path.startswith(old + "["):
                path = new + path[len(old) :]
                break
        path = re.sub(r"feasibleSpace", "searchSpace", path)
        raise SpecError(path, exc.message, exc.hint) from None
    return replace(spec, source_format=FORMAT)


# --------------------------------------------------------------------------- writing


def _write_space(p: ParameterSpec) -> dict[str, Any]:
    fs = p.feasible_space
    if p.parameter_type in (ParameterType.CATEGORICAL, ParameterType.DISCRETE):
        return {p.parameter_type.value: {"choices": list(fs.list)}}
    dist = fs.distribution or Distribution.UNIFORM
    body: dict[str, Any] = {"min": fs.min, "max": fs.max}
    if fs.step is not None:
        body["step"] = fs.step
    body["type"] = "Int" if p.parameter_type == ParameterType.INT else "Float"
    return {dist.value: body}


def _write_algorithm(name: str, settings: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for s in settings:
        key = "seed" if name == "random" and s.name == "random_state" else s.name
        body[key] = int(s.value) if key == "seed" and s.value.lstrip("-").isdigit() else s.value
    return {name: body}


def _trainer_of(spec: ExperimentSpec) -> tuple[dict[str, Any], dict[str, str]]:
    """The trainer section of ``spec``'s trial, and the trial parameters it needs renamed."""
    from tunery.spec.template import (
        WRAPPED_COLLECTORS,
        _container_env,
        _string_list,
        find_primary_container,
        is_native_template,
        katib_argv,
    )

    t = spec.trial_template
    if is_native_template(t):
        trainer: dict[str, Any] = {"command": list(t.command)}
        env = dict(t.env)
        working_dir, resources, timeout = t.working_dir, dict(t.resources), t.timeout
    else:
        found = find_primary_container(
            t.trial_spec or {}, t.primary_container_name, t.primary_pod_labels
        )
        command = _string_list(found.container.get("command")) if found else []
        if found is None or not command:
            raise SpecError(
                "spec.trialTemplate.trialSpec",
                "this trial spec has no single primary container with a command to export",
                "export it as katib instead",
            )
        wrap = spec.metrics_collector.kind in WRAPPED_COLLECTORS
        trainer = {"command": katib_argv(command, _string_list(found.container.get("args")), wrap)}
        env = _container_env(found.container)
        working_dir = found.container.get("workingDir")
        limits = (found.container.get("resources") or {}).get("limits") or {}
        resources = {str(k): str(v) for k, v in limits.items()}
        timeout = None
    names = {p.name for p in spec.parameters}
    env = {k: v for k, v in env.items() if not (k.startswith(ENV_PREFIX) and v.startswith("${"))}
    env = {
        k: v
        for k, v in env.items()
        if not any(k == env_name(n) and v == f"${{trialParameters.{n}}}" for n in names)
    }
    if env:
        trainer["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if resources:
        trainer["resourcesPerNode"] = {"limits": resources}
    if working_dir:
        trainer["workingDir"] = working_dir
    if timeout is not None:
        trainer["timeout"] = timeout
    renames = {
        tp.name: tp.reference
        for tp in t.trial_parameters
        if tp.reference in names and tp.name != tp.reference
    }
    return trainer, renames


def _rename(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return re.sub(
            r"\$\{trialParameters\.(.+?)\}",
            lambda m: f"${{trialParameters.{renames.get(m.group(1), m.group(1))}}}",
            node,
        )
    if isinstance(node, list):
        return [_rename(v, renames) for v in node]
    if isinstance(node, dict):
        return {k: _rename(v, renames) for k, v in node.items()}
    return node


def _write_objectives(obj: Objective) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``spec.objectives`` (each objective with its direction, goal, and a strategy or reference
    tunery needs), and tunery's extensions: ``constraints``, and ``additionalMetricNames`` for
    the metrics collected that are neither an objective nor a constraint."""
    from tunery.model import default_strategy
    from tunery.spec.objectives import write_objectives

    objectives: list[dict[str, Any]] = []
    for term in obj.terms:
        entry: dict[str, Any] = {"metric": term.metric, "direction": term.type.value.capitalize()}
        if term.goal is not None:
            entry["goal"] = term.goal
        if obj.is_multi and term.strategy is not default_strategy(term.type):
            entry["strategy"] = term.strategy.value
        if term.reference is not None:
            entry["reference"] = term.reference
        objectives.append(entry)
    extensions: dict[str, Any] = {}
    written = write_objectives(obj)
    if "constraints" in written:
        extensions["constraints"] = written["constraints"]
    bound = {t.metric for t in obj.terms} | {c.metric for c in obj.constraints}
    extra = [m for m in obj.additional_metric_names if m not in bound]
    if extra:
        extensions["additionalMetricNames"] = extra
    return objectives, extensions


def to_optimization_job(spec: ExperimentSpec) -> dict[str, Any]:
    """The OptimizationJob document of any experiment (tunery's extensions where needed)."""
    annotations = dict(spec.annotations)
    trainjob_annotations = annotations.pop("tunery.dev/trainjob-annotations", None)
    metadata: dict[str, Any] = {"name": spec.name, "namespace": spec.namespace}
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    if annotations:
        metadata["annotations"] = annotations
    objectives, extensions = _write_objectives(spec.objective)
    trainer, renames = _trainer_of(spec)
    names = {p.name for p in spec.parameters}
    meta_tps = [
        {"name": tp.name, "reference": tp.reference}
        for tp in spec.trial_template.trial_parameters
        if tp.reference not in names
    ]
    body: dict[str, Any] = {
        "objectives": objectives,
        **extensions,
        "searchAlgorithm": _write_algorithm(
            spec.algorithm.algorithm_name, spec.algorithm.algorithm_settings
        ),
    }
    if spec.early_stopping is not None:
        body["pruneAlgorithm"] = _write_algorithm(
            spec.early_stopping.algorithm_name, spec.early_stopping.algorithm_settings
        )
    body["parameters"] = [{"name": p.name, "searchSpace": _write_space(p)} for p in spec.parameters]
    for entry, p in zip(body["parameters"], spec.parameters, strict=True):
        if p.active_when:  # tunery's conditional parameters
            entry["activeWhen"] = {parent: [str(v) for v in vs] for parent, vs in p.active_when}
    if spec.max_trial_count is not None:
        body["numTrials"] = spec.max_trial_count
    body["parallelTrials"] = spec.parallel_trial_count
    if spec.max_failed_trial_count is not None:
        body["maxFailedTrials"] = spec.max_failed_trial_count
    if meta_tps:
        body["trialParameters"] = meta_tps
    write_extras(spec, body, metadata)
    tjt: dict[str, Any] = {}
    if trainjob_annotations:
        tjt["metadata"] = {"annotations": json.loads(trainjob_annotations)}
    tjt["spec"] = {"trainer": _rename(trainer, renames)}
    body["trainJobTemplate"] = tjt
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": body}


# --------------------------------------------------------------------------- trials and status


def trial_annotations_env(
    spec: ExperimentSpec, parameters: Mapping[str, ParamValue]
) -> dict[str, str]:
    """``TUNERY_TRAINJOB_ANNOTATIONS`` of one trial: the TrainJob template's annotations plus
    the JSON parameter assignment under :data:`PARAMETERS_ANNOTATION`."""
    from tunery.spec.template import format_value

    annotations = json.loads(spec.annotations.get("tunery.dev/trainjob-annotations", "{}"))
    annotations[PARAMETERS_ANNOTATION] = json.dumps(
        [
            {"name": p.name, "value": format_value(parameters[p.name])}
            for p in spec.parameters
            if p.name in parameters
        ]
    )
    return {ANNOTATIONS_ENV: json.dumps(annotations, sort_keys=True)}


def _time(ts: float | None) -> str | None:
    from tunery.wire import iso

    return iso(ts)


def optimization_job_status(experiment: Experiment, trials: list[Trial]) -> dict[str, Any]:
    """The proposal's ``status``: ``conditions`` (Created, Complete or Failed) and ``result``."""
    from tunery.model import best_trial
    from tunery.spec.template import format_value

    conditions: list[dict[str, Any]] = [
        {
            "type": "Created",
            "status": "True",
            "reason": "OptimizationJobCreated",
            "message": "OptimizationJob is created",
            "lastTransitionTime": _time(experiment.created_time),
        }
    ]
    if experiment.status == ExperimentCondition.SUCCEEDED:
        kind: str | None = "Complete"
    elif experiment.status == ExperimentCondition.FAILED:
        kind = "Failed"
    else:
        kind = None
    if kind is not None:
        conditions.append(
            {
                "type": kind,
                "status": "True",
                "reason": experiment.reason or kind,
                "message": experiment.message or "",
                "lastTransitionTime": _time(experiment.completion_time),
            }
        )
    status: dict[str, Any] = {"conditions": conditions}
    best = best_trial(experiment.spec.objective, trials)
    if best is not None:
        status["result"] = {
            "trainJobName": best.name,
            "parameters": [
                {"name": k, "value": format_value(v)} for k, v in best.parameters.items()
            ],
        }
    return status
