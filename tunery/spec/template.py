"""Trial templates: placeholders, the primary container, and rendering a trial's command.

Katib (``pkg/controller.v1beta1/experiment/manifest/generator.go``, ``consts/const.go``)
substitutes ``${trialParameters.NAME}`` everywhere in the trial spec; a trial parameter refers
either to a search-space parameter or to trial metadata: ``${trialSpec.Name}`` (the trial's
name), ``${trialSpec.Namespace}``, ``${trialSpec.Kind}``, ``${trialSpec.APIVersion}`` (of the
trial spec) and ``${trialSpec.Labels[key]}`` / ``${trialSpec.Annotations[key]}`` (of the trial
spec's own ``metadata``).

In the native form the trial has no Kubernetes object: Kind is ``Trial``, APIVersion is
``tunery/v1``, ``Labels[key]`` reads the trial's labels (the suggestion's labels) and then the
experiment's ``metadata.labels``, and ``Annotations[key]`` reads the experiment's
``metadata.annotations``.

Katib-form trials run the primary container's ``command`` + ``args`` the way Katib's pod
webhook leaves them (``pkg/webhook/v1beta1/pod/inject_webhook.go``, ``wrapWorkerContainer``):
for the StdOut, File and TensorFlowEvent collectors the whole command line is joined with
spaces and run by ``sh -c`` (or by the ``sh -c`` / ``bash -c`` the command already starts
with); for the other collectors the command runs as an argv list.  Kubernetes' ``$(VAR)``
references to the container's own ``env`` are expanded as the kubelet does.  ``env`` entries
with ``valueFrom`` cannot be resolved outside a cluster and are skipped.
"""

from __future__ import annotations

import math
import numbers
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunery.errors import SpecError
from tunery.model import CollectorKind, ExperimentSpec, ParamValue, TrialTemplate

if TYPE_CHECKING:
    from tunery.spec.replicas import Replica

#: ``${trialParameters.NAME}`` (Katib's TrialTemplateParamReplaceFormatRegex).
PARAM_PLACEHOLDER = re.compile(r"\$\{trialParameters\.(.+?)\}")
#: ``${trialSpec.KEY}`` (Katib's TrialTemplateMetaReplaceFormatRegex).
META_REFERENCE = re.compile(r"^\$\{trialSpec\.(.+?)\}$")
#: ``Labels[key]`` inside a meta reference (Katib's TrialTemplateMetaParseFormatRegex).
META_INDEX = re.compile(r"^(.+)\[(.+)\]$")
#: Meta keys without an index.
META_SCALAR_KEYS = ("Name", "Namespace", "Kind", "APIVersion")
#: Meta keys that take ``[key]``.
META_INDEXED_KEYS = ("Labels", "Annotations")

#: Kind and APIVersion a native-form trial reports for ``${trialSpec.Kind}``/``APIVersion``.
NATIVE_TRIAL_KIND = "Trial"
NATIVE_TRIAL_API_VERSION = "tunery/v1"

#: Collectors for which Katib wraps the primary container's command in ``sh -c``.
WRAPPED_COLLECTORS = frozenset(
    {CollectorKind.STDOUT, CollectorKind.FILE, CollectorKind.TENSORFLOW_EVENT}
)

#: Experiment annotation: the primary container image's ENTRYPOINT (a shell-quoted command line)
#: for a primary container without ``command``; its ``args`` are appended, as Kubernetes does.
ENTRYPOINT_ANNOTATION = "tunery.dev/entrypoint"

#: Replica keys of Kubeflow training jobs whose pods carry ``job-role: master``.
_MASTER_REPLICAS = frozenset({"master", "chief", "launcher"})
_REPLICA_SPEC_KEYS = re.compile(r"^[a-zA-Z]+ReplicaSpecs$")


@dataclass(frozen=True)
class MetaReference:
    """A parsed ``${trialSpec.KEY}`` or ``${trialSpec.KEY[index]}`` reference."""

    key: str
    index: str | None = None


def parse_meta_reference(reference: str) -> MetaReference | None:
    """The meta reference ``reference`` names, or None when it is no valid meta reference.

    Stricter than Katib's ``isMetaKey``: Name/Namespace/Kind/APIVersion take no index,
    Labels/Annotations need one (Katib accepts both forms but fails when creating a trial).
    """
    match = META_REFERENCE.match(reference)
    if match is None:
        return None
    key = match.group(1)
    if key in META_SCALAR_KEYS:
        return MetaReference(key)
    sub = META_INDEX.match(key)
    if sub is not None and sub.group(1) in META_INDEXED_KEYS:
        return MetaReference(sub.group(1), sub.group(2))
    return None


def is_meta_reference(reference: str) -> bool:
    """True when ``reference`` looks like ``${trialSpec.…}`` at all (valid or not)."""
    return META_REFERENCE.match(reference) is not None


def is_native_template(template: TrialTemplate) -> bool:
    """A native-form template (``command``), as opposed to a trialSpec or a configMap.

    ``TrialTemplate.is_native`` is also true for a configMap-sourced Katib template.
    """
    return template.trial_spec is None and template.config_map is None


def format_value(value: ParamValue) -> str:
    """How a parameter value is written into a command.

    int -> ``"16"``, float -> the shortest repr that round-trips (``"0.0012"``, ``"1e-05"``),
    str -> as is.  numpy scalars behave like the Python numbers they hold.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return repr(number)
    return str(value)


# --------------------------------------------------------------------------- walking


def iter_strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string (mapping keys included) in a JSON-like tree, with its YAML path."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "${" in key:
                yield child, key
            yield from iter_strings(value, child)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from iter_strings(value, f"{path}[{i}]")


def substitute(node: Any, replace: Callable[[str], str]) -> Any:
    """A copy of a JSON-like tree with ``replace`` applied to every string (keys included)."""
    if isinstance(node, str):
        return replace(node)
    if isinstance(node, Mapping):
        return {
            (replace(k) if isinstance(k, str) else k): substitute(v, replace)
            for k, v in node.items()
        }
    if isinstance(node, list | tuple):
        return [substitute(v, replace) for v in node]
    return node


def placeholder_replacer(values: Mapping[str, str]) -> Callable[[str], str]:
    """Replace ``${trialParameters.NAME}`` by ``values[NAME]``; unknown names stay as they are."""

    def replace(text: str) -> str:
        if "${trialParameters." not in text:
            return text
        return PARAM_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

    return replace


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True)
class ContainerCandidate:
    """A container found in a trial spec: its effective name, the object and its YAML path."""

    name: str
    container: Mapping[str, Any]
    path: str
    #: Pod labels known from the template (plus those a training operator adds).
    labels: Mapping[str, str]
    #: Whether it sits in a Master/Chief/Launcher replica.
    master: bool


def _labels_of(node: Mapping[str, Any]) -> dict[str, str]:
    metadata = node.get("metadata")
    if isinstance(metadata, Mapping):
        labels = metadata.get("labels")
        if isinstance(labels, Mapping):
            return {str(k): str(v) for k, v in labels.items()}
    return {}


def find_containers(trial_spec: Mapping[str, Any]) -> list[ContainerCandidate]:
    """Every container of a trial spec, in document order.

    Handles pod templates anywhere (``…template.spec.containers``: Job, TFJob, PyTorchJob,
    XGBoostJob, MPIJob, PaddleJob…), Kubeflow Trainer's ``TrainJob`` (``spec.trainer``,
    whatever the runtime calls its container), Argo ``container`` templates (Argo names the
    container ``main``) and Tekton ``steps`` (named ``step-<name>``).
    """
    found: list[ContainerCandidate] = []
    if trial_spec.get("kind") == "TrainJob":
        spec = trial_spec.get("spec")
        trainer = spec.get("trainer") if isinstance(spec, Mapping) else None
        if isinstance(trainer, Mapping):
            found.append(ContainerCandidate("*", trainer, "spec.trainer", {}, True))
        return found

    def walk(node: Any, path: str, labels: dict[str, str], master: bool) -> None:
        if isinstance(node, Mapping):
            own = _labels_of(node)
            if own:
                labels = {**labels, **own}
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if key == "containers" and isinstance(value, list):
                    for i, item in enumerate(value):
                        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                            found.append(
                                ContainerCandidate(
                                    item["name"], item, f"{child}[{i}]", labels, master
                                )
                            )
                    continue
                if key == "container" and isinstance(value, Mapping):
                    found.append(ContainerCandidate("main", value, child, labels, master))
                    continue
                if key == "steps" and isinstance(value, list):
                    for i, item in enumerate(value):
                        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                            found.append(
                                ContainerCandidate(
                                    f"step-{item['name']}", item, f"{child}[{i}]", labels, master
                                )
                            )
                if (
                    isinstance(key, str)
                    and _REPLICA_SPEC_KEYS.match(key)
                    and isinstance(value, Mapping)
                ):
                    for replica, replica_spec in value.items():
                        role = str(replica).lower()
                        replica_labels = {
                            **labels,
                            "training.kubeflow.org/replica-type": role,
                        }
                        is_master = role in _MASTER_REPLICAS
                        if is_master:
                            replica_labels["training.kubeflow.org/job-role"] = "master"
                        walk(replica_spec, f"{child}.{replica}", replica_labels, is_master)
                    continue
                walk(value, child, labels, master)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]", labels, master)

    walk(trial_spec, "", {}, False)
    return found


def find_primary_container(
    trial_spec: Mapping[str, Any],
    name: str | None,
    primary_pod_labels: Mapping[str, str] | None = None,
) -> ContainerCandidate | None:
    """The primary container: named ``name``, preferring the primary pod.

    Among several containers of that name (the replicas of a training job), the one whose
    pod labels match ``primary_pod_labels`` wins, then one in a Master/Chief/Launcher replica,
    then the first in document order.
    """
    candidates = [c for c in find_containers(trial_spec) if c.name in (name, "*")]
    if not candidates:
        return None

    def rank(c: ContainerCandidate) -> tuple[int, int]:
        labels_match = bool(primary_pod_labels) and all(
            c.labels.get(k) == v for k, v in (primary_pod_labels or {}).items()
        )
        return (0 if labels_match else 1, 0 if c.master else 1)

    return min(candidates, key=rank)


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class RenderedTrial:
    """What a local executor needs to run one trial."""

    argv: tuple[str, ...]
    env: dict[str, str]
    working_dir: str | None
    #: Seconds.
    timeout: float | None
    #: e.g. ``{"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}``.
    resources: dict[str, str]
    #: The processes of a distributed trial (:mod:`tunery.spec.replicas`), run as one gang;
    #: empty: one process (``argv``).  ``argv``/``env``/``working_dir`` are the primary's.
    replicas: tuple[Replica, ...] = ()


_TEMPLATE_PATH = "spec.trialTemplate"


def trial_parameter_values(
    spec: ExperimentSpec,
    trial_name: str,
    parameters: Mapping[str, ParamValue],
    labels: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The value of every trial parameter for one trial (Katib's ``applyParameters``)."""
    template = spec.trial_template
    trial_spec = template.trial_spec or {}
    if is_native_template(template):
        kind, api_version = NATIVE_TRIAL_KIND, NATIVE_TRIAL_API_VERSION
        meta_labels: Mapping[str, str] = {**spec.labels, **(labels or {})}
        meta_annotations: Mapping[str, str] = spec.annotations
    else:
        kind = str(trial_spec.get("kind", ""))
        api_version = str(trial_spec.get("apiVersion", ""))
        metadata = trial_spec.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        raw_labels = metadata.get("labels")
        raw_annotations = metadata.get("annotations")
        meta_labels = raw_labels if isinstance(raw_labels, Mapping) else {}
        meta_annotations = raw_annotations if isinstance(raw_annotations, Mapping) else {}

    values: dict[str, str] = {}
    conditional = {p.name for p in spec.parameters if p.active_when}
    for i, tp in enumerate(template.trial_parameters):
        path = f"{_TEMPLATE_PATH}.trialParameters[{i}].reference"
        meta = parse_meta_reference(tp.reference)
        if meta is None:
            if tp.reference not in parameters and tp.reference in conditional:
                continue  # inactive in this trial: tunery.spec.inactive renders it
            if tp.reference not in parameters:
                raise SpecError(
                    path,
                    f"trial {trial_name!r} has no value for parameter {tp.reference!r}",
                    "every trial needs a value for each parameter of spec.parameters",
                )
            values[tp.name] = format_value(parameters[tp.reference])
        elif meta.key == "Name":
            values[tp.name] = trial_name
        elif meta.key == "Namespace":
            values[tp.name] = spec.namespace
        elif meta.key == "Kind":
            values[tp.name] = kind
        elif meta.key == "APIVersion":
            values[tp.name] = api_version
        else:
            source = meta_labels if meta.key == "Labels" else meta_annotations
            index = meta.index or ""
            if index not in source:
                raise SpecError(
                    path,
                    f"{tp.reference} refers to a {meta.key[:-1].lower()} {meta.index!r} "
                    "that the trial does not have",
                    f"add {meta.index!r} to the trial spec's metadata.{meta.key.lower()}",
                )
            values[tp.name] = str(source[index])
    return values


_K8S_VAR = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def expand_k8s_vars(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command/args/env: defined names are replaced,
    ``$$`` becomes ``$``, anything else stays."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _K8S_VAR.sub(repl, text)


def _string_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [format_value(v) if isinstance(v, int | float) else str(v) for v in value]
    return []


def _container_env(container: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    entries = container.get("env")
    if not isinstance(entries, list):
        return env
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        if "value" not in entry:
            continue  # valueFrom (secrets, field refs...) cannot be resolved locally
        value = entry.get("value")
        text = "" if value is None else str(value)
        env[entry["name"]] = expand_k8s_vars(text, env)
    return env


def _quantities(resources: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not isinstance(resources, Mapping):
        return out
    for section in ("requests", "limits"):  # limits win over requests
        values = resources.get(section)
        if isinstance(values, Mapping):
            for key, value in values.items():
                out[str(key)] = (
                    format_value(value) if isinstance(value, int | float) else str(value)
                )
    return out


def _deadline(trial_spec: Mapping[str, Any]) -> float | None:
    spec = trial_spec.get("spec")
    if not isinstance(spec, Mapping):
        return None
    candidates = [spec.get("activeDeadlineSeconds")]
    run_policy = spec.get("runPolicy")
    if isinstance(run_policy, Mapping):
        candidates.append(run_policy.get("activeDeadlineSeconds"))
    for value in candidates:
        if isinstance(value, bool) or value is None:
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds > 0 and math.isfinite(seconds):
            return seconds
    return None


def katib_argv(command: list[str], args: list[str], wrap: bool) -> list[str]:
    """The command line Katib's pod webhook leaves in the primary container.

    With ``wrap`` (StdOut, File and TensorFlowEvent collectors), Katib joins command and args
    with spaces and runs them with ``sh -c``; a command that starts with ``sh -c`` or
    ``bash -c`` keeps its shell and the rest is joined.
    """
    full = [*command, *args]
    if not wrap:
        return full
    shell = ["sh", "-c"]
    rest = full
    if len(full) >= 2 and full[0] in ("sh", "bash") and full[1] == "-c":
        shell, rest = full[:2], full[2:]
    return [*shell, " ".join(rest)]


def entrypoint_override(spec: ExperimentSpec) -> list[str]:
    """The ``tunery.dev/entrypoint`` annotation as an argv (empty when not given)."""
    value = spec.annotations.get(ENTRYPOINT_ANNOTATION)
    if value is None:
        return []
    where = f'metadata.annotations["{ENTRYPOINT_ANNOTATION}"]'
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise SpecError(
            where, f"{value!r} is not a command line: {exc}", "balance the quotes"
        ) from None
    if not argv:
        raise SpecError(where, "must not be empty", 'e.g. "python3 /app/train.py"')
    return argv


def no_container_error(trial_spec: Mapping[str, Any], name: str | None) -> SpecError:
    """No container named ``name`` (primaryContainerName) in the trial spec."""
    names = sorted({c.name for c in find_containers(trial_spec)} - {"*"})
    return SpecError(
        f"{_TEMPLATE_PATH}.primaryContainerName",
        f"no container named {name!r} in the trial spec's pod templates",
        f"use one of: {', '.join(names)}" if names else "add the training container",
    )


def no_command_error(found: ContainerCandidate) -> SpecError:
    """A primary container without ``command`` (and no ``tunery.dev/entrypoint``)."""
    return SpecError(
        f"{_TEMPLATE_PATH}.trialSpec.{found.path}.command",
        f"the primary container {found.name!r} has no command: Katib runs the image's "
        "entrypoint, which tunery cannot read (it runs trials without the image)",
        "add command (the full command line, e.g. command: [python3, /app/train.py]) to the "
        f"container, or give the entrypoint as the experiment annotation {ENTRYPOINT_ANNOTATION}: "
        '"python3 /app/train.py" (the container\'s args are appended)',
    )


def render_trial(
    spec: ExperimentSpec,
    trial_name: str,
    parameters: Mapping[str, ParamValue],
    labels: Mapping[str, str] | None = None,
) -> RenderedTrial:
    """The command, environment, working directory, timeout and resources of one trial."""
    template = spec.trial_template
    from tunery.spec.inactive import inactive_placeholders, strip_env, strip_inactive

    values = trial_parameter_values(spec, trial_name, parameters, labels)
    replace = placeholder_replacer(values)
    inactive = inactive_placeholders(spec, parameters)
    if is_native_template(template):
        env = {k: replace(v) for k, v in strip_env(template.env, inactive).items()}
        if spec.source_format == "optimizationjob":  # the TrainJob's annotations (KEP-3562)
            from tunery.spec.optimizationjob import trial_annotations_env

            env.update(trial_annotations_env(spec, parameters))
        return RenderedTrial(
            argv=tuple(replace(a) for a in strip_inactive(template.command, inactive)),
            env=env,
            working_dir=replace(strip_inactive(template.working_dir, inactive))
            if template.working_dir
            else None,
            timeout=template.timeout,
            resources=dict(template.resources),
        )
    return _render_katib(spec, template, trial_name, replace, inactive)


def _render_katib(
    spec: ExperimentSpec,
    template: TrialTemplate,
    trial_name: str,
    replace: Callable[[str], str],
    inactive: Mapping[str, str | None],
) -> RenderedTrial:
    if template.trial_spec is None:
        from tunery.spec.configmaps import missing_config_map_error

        raise missing_config_map_error(template.config_map or {})
    from tunery.spec.inactive import strip_inactive

    trial_spec = substitute(strip_inactive(template.trial_spec, inactive), replace)
    from tunery.spec.workflows import is_workflow, render_workflow

    if is_workflow(trial_spec):  # Argo Workflow / Tekton PipelineRun: tunery.spec.workflows
        steps_argv, primary = render_workflow(
            spec, trial_spec, wrap=spec.metrics_collector.kind in WRAPPED_COLLECTORS
        )
        return RenderedTrial(
            argv=steps_argv,
            env={},
            working_dir=None,
            timeout=_deadline(trial_spec),
            resources=_quantities(primary.get("resources")),
        )
    from tunery.spec.replicas import render_distributed  # imports this module

    distributed = render_distributed(spec, trial_spec, trial_name)
    if distributed is not None:
        return distributed
    found = find_primary_container(
        trial_spec, template.primary_container_name, template.primary_pod_labels
    )
    if found is None:
        raise no_container_error(trial_spec, template.primary_container_name)
    container = found.container
    command = _string_list(container.get("command")) or entrypoint_override(spec)
    args = _string_list(container.get("args"))
    if not command:
        raise no_command_error(found)
    env = _container_env(container)
    wrap = spec.metrics_collector.kind in WRAPPED_COLLECTORS
    argv = [expand_k8s_vars(a, env) for a in katib_argv(command, args, wrap)]
    working_dir = container.get("workingDir")
    resources_key = "resourcesPerNode" if found.name == "*" else "resources"
    return RenderedTrial(
        argv=tuple(argv),
        env=env,
        working_dir=str(working_dir) if working_dir else None,
        timeout=_deadline(trial_spec),
        resources=_quantities(container.get(resources_key)),
    )
