"""Argo ``Workflow`` and Tekton ``PipelineRun`` trial specs, run as one local trial.

Katib creates the workflow object and waits for its success condition; it injects the metrics
collector into the pod that matches ``primaryPodLabels`` and its container
``primaryContainerName`` (Argo names a template's container ``main``; Tekton names a step's
container ``step-<name>`` and labels a task's pod ``tekton.dev/pipelineTask: <task>``).

tunery runs every step of the workflow in order, one after the other, as one trial
(``python -m tunery.run_steps PLAN``): each step with its own ``env`` and ``workingDir``, the
primary container's command wrapped as Katib wraps it.  Parameters are substituted when the
trial is rendered: Argo ``{{inputs.parameters.x}}`` (from the step's ``arguments``, else the
template input's ``value``/``default``) and ``{{workflow.parameters.x}}`` (``spec.arguments``);
Tekton ``$(params.x)`` / ``$(inputs.params.x)`` (the PipelineRun's ``params``, the pipeline's
and the task's ``default``).  Outputs are passed when the step runs: Argo
``{{steps.NAME.outputs.result}}`` (an earlier step's stdout), Tekton ``$(results.R.path)`` and
``$(tasks.T.results.R)``.

Everything else is refused by validation, naming its YAML path: DAG templates, parallel steps,
nested steps, ``when``, loops, artifacts, output parameters, template references, workspaces,
sidecars, ``finally``..., and any ``{{...}}`` / Tekton ``$(...)`` placeholder left after
substitution.  Nothing is passed through literally.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tunery.errors import SpecError
from tunery.model import ExperimentSpec

_TS = "spec.trialTemplate.trialSpec"

_ARGO_PARAM = re.compile(r"\{\{\s*(inputs|workflow)\.parameters\.([-\w.]+)\s*\}\}")
_ARGO_ANY = re.compile(r"\{\{.*?\}\}")
_ARGO_RESULT = re.compile(r"\{\{\s*steps\.([-\w]+)\.outputs\.result\s*\}\}")
_TEKTON_PARAM = re.compile(r"\$\((?:inputs\.)?params\.([-\w]+)\)")
_TEKTON_ANY = re.compile(
    r"\$\((?:params|tasks|context|workspaces|results|steps|inputs|outputs)\.[^)]*\)"
)
_TEKTON_RESULT_PATH = re.compile(r"\$\(results\.([-\w]+)\.path\)")
_TEKTON_TASK_RESULT = re.compile(r"\$\(tasks\.([-\w]+)\.results\.([-\w]+)\)")

_ARGO_TEMPLATE_REFUSED = (
    "dag",
    "resource",
    "suspend",
    "http",
    "data",
    "containerSet",
    "plugin",
    "sidecars",
    "initContainers",
    "retryStrategy",
)
_ARGO_STEP_REFUSED = ("when", "withItems", "withParam", "withSequence", "templateRef", "inline")
_ARGO_SPEC_REFUSED = ("onExit", "workflowTemplateRef", "templateDefaults", "hooks")
_TEKTON_TASK_REFUSED = ("taskRef", "when", "matrix", "workspaces", "retries")
_TEKTON_TASKSPEC_REFUSED = ("sidecars", "workspaces", "stepTemplate")
_TEKTON_PIPELINE_REFUSED = ("finally", "workspaces")


def is_workflow(trial_spec: Mapping[str, Any]) -> bool:
    """An Argo Workflow or a Tekton PipelineRun."""
    return _system(trial_spec) is not None


def _system(trial_spec: Mapping[str, Any]) -> str | None:
    api = str(trial_spec.get("apiVersion", ""))
    kind = trial_spec.get("kind")
    if api.startswith("argoproj.io/") and kind == "Workflow":
        return "argo"
    if api.startswith("tekton.dev/") and kind == "PipelineRun":
        return "tekton"
    return None


@dataclass
class Step:
    """One container of the workflow, as it will run."""

    name: str
    task: str
    path: str
    container: Mapping[str, Any]
    labels: dict[str, str]
    container_name: str
    #: Parameter values of the step's template / task.
    params: dict[str, str] = field(default_factory=dict)
    #: Argo script source, or Tekton step script.
    script: str | None = None


def _refuse(path: str, what: str, hint: str | None = None) -> SpecError:
    return SpecError(
        path,
        f"{what} is not supported by tunery's local runner",
        hint
        or "run the steps as one Job (a container whose command runs them in order), or drop it",
    )


def _refuse_keys(node: Mapping[str, Any], keys: tuple[str, ...], path: str, what: str) -> None:
    for key in keys:
        if node.get(key):
            raise _refuse(f"{path}.{key}", f"{what} {key!r}")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _labels(node: Mapping[str, Any]) -> dict[str, str]:
    labels = _mapping(_mapping(node.get("metadata")).get("labels"))
    return {str(k): _text(v) for k, v in labels.items()}


# --------------------------------------------------------------------------- Argo


def _argo_steps(trial_spec: Mapping[str, Any]) -> list[Step]:
    spec = _mapping(trial_spec.get("spec"))
    _refuse_keys(spec, _ARGO_SPEC_REFUSED, f"{_TS}.spec", "the Workflow field")
    workflow_params = {
        _text(p.get("name")): _text(p.get("value"))
        for p in _list(_mapping(spec.get("arguments")).get("parameters"))
        if isinstance(p, Mapping) and "value" in p
    }
    if _mapping(spec.get("arguments")).get("artifacts"):
        raise _refuse(f"{_TS}.spec.arguments.artifacts", "an Argo artifact")
    templates: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for i, t in enumerate(_list(spec.get("templates"))):
        if isinstance(t, Mapping) and isinstance(t.get("name"), str):
            templates[t["name"]] = (i, t)
    entry = spec.get("entrypoint")
    if entry not in templates:
        raise SpecError(
            f"{_TS}.spec.entrypoint",
            f"the Workflow's entrypoint {entry!r} names no template",
            f"name one of: {', '.join(templates) or '(no templates)'}",
        )

    def leaf(name: str, step_name: str, args: Mapping[str, str], where: str) -> Step:
        if name not in templates:
            raise SpecError(where, f"no template named {name!r}", "fix the template name")
        i, t = templates[name]
        tpath = f"{_TS}.spec.templates[{i}]"
        _refuse_keys(t, _ARGO_TEMPLATE_REFUSED, tpath, "the Argo template field")
        inputs = _mapping(t.get("inputs"))
        outputs = _mapping(t.get("outputs"))
        if inputs.get("artifacts"):
            raise _refuse(f"{tpath}.inputs.artifacts", "an Argo input artifact")
        for key in ("artifacts", "parameters"):
            if outputs.get(key):
                raise _refuse(
                    f"{tpath}.outputs.{key}",
                    f"an Argo output {key[:-1]}",
                    "pass values through stdout: {{steps.NAME.outputs.result}} is supported",
                )
        if t.get("steps") is not None:
            raise _refuse(f"{tpath}.steps", "a steps template called from steps (nested steps)")
        params: dict[str, str] = {}
        for j, p in enumerate(_list(inputs.get("parameters"))):
            p = _mapping(p)
            pname = _text(p.get("name"))
            if pname in args:
                params[pname] = args[pname]
            elif "value" in p:
                params[pname] = _text(p["value"])
            elif "default" in p:
                params[pname] = _text(p["default"])
            else:
                raise SpecError(
                    f"{tpath}.inputs.parameters[{j}]",
                    f"input parameter {pname!r} of template {name!r} gets no value",
                    "pass it in the step's arguments.parameters, or give it a default",
                )
        params.update({f"workflow:{k}": v for k, v in workflow_params.items()})
        if isinstance(t.get("container"), Mapping):
            return Step(
                step_name,
                step_name,
                f"{tpath}.container",
                t["container"],
                _labels(t),
                "main",
                params,
            )
        if isinstance(t.get("script"), Mapping):
            script = t["script"]
            return Step(
                step_name,
                step_name,
                f"{tpath}.script",
                script,
                _labels(t),
                "main",
                params,
                script=_text(script.get("source")),
            )
        raise _refuse(tpath, f"template {name!r} (neither container nor script)")

    entry_index, entry_t = templates[entry]
    if entry_t.get("steps") is None:
        return [leaf(str(entry), str(entry), {}, f"{_TS}.spec.entrypoint")]
    epath = f"{_TS}.spec.templates[{entry_index}]"
    _refuse_keys(entry_t, _ARGO_TEMPLATE_REFUSED, epath, "the Argo template field")
    steps: list[Step] = []
    for g, group in enumerate(_list(entry_t.get("steps"))):
        gpath = f"{epath}.steps[{g}]"
        group = _list(group)
        if len(group) != 1:
            raise _refuse(
                gpath,
                "a group of parallel steps",
                "give each step its own group (- - name: ...): tunery runs them in order",
            )
        step = _mapping(group[0])
        spath = f"{gpath}[0]"
        _refuse_keys(step, _ARGO_STEP_REFUSED, spath, "the Argo step field")
        arguments = _mapping(step.get("arguments"))
        if arguments.get("artifacts"):
            raise _refuse(f"{spath}.arguments.artifacts", "an Argo artifact")
        args = {
            _text(p.get("name")): _text(p.get("value"))
            for p in _list(arguments.get("parameters"))
            if isinstance(p, Mapping)
        }
        steps.append(leaf(_text(step.get("template")), _text(step.get("name")), args, spath))
    return steps


def _argo_substitute(step: Step) -> Callable[[str], str]:
    def replace(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            key = m.group(2) if m.group(1) == "inputs" else f"workflow:{m.group(2)}"
            return step.params.get(key, m.group(0))

        return _ARGO_PARAM.sub(one, text)

    return replace


# --------------------------------------------------------------------------- Tekton


def _tekton_steps(trial_spec: Mapping[str, Any]) -> list[Step]:
    spec = _mapping(trial_spec.get("spec"))
    if spec.get("pipelineRef"):
        raise _refuse(
            f"{_TS}.spec.pipelineRef", "a pipelineRef", "inline the pipeline as spec.pipelineSpec"
        )
    pipeline = _mapping(spec.get("pipelineSpec"))
    if not pipeline:
        raise SpecError(f"{_TS}.spec.pipelineSpec", "is required", "inline the pipeline")
    _refuse_keys(
        pipeline, _TEKTON_PIPELINE_REFUSED, f"{_TS}.spec.pipelineSpec", "the Pipeline field"
    )
    _refuse_keys(spec, ("workspaces",), f"{_TS}.spec", "the PipelineRun field")
    run_params = {
        _text(p.get("name")): p.get("value")
        for p in _list(spec.get("params"))
        if isinstance(p, Mapping) and "value" in p
    }
    pipeline_params: dict[str, str] = {}
    for j, p in enumerate(_list(pipeline.get("params"))):
        p = _mapping(p)
        name = _text(p.get("name"))
        value = run_params.get(name, p.get("default"))
        if isinstance(value, list | Mapping):
            raise _refuse(f"{_TS}.spec.pipelineSpec.params[{j}]", "an array or object parameter")
        if value is not None:
            pipeline_params[name] = _text(value)

    def pipeline_sub(text: str) -> str:
        return _TEKTON_PARAM.sub(lambda m: pipeline_params.get(m.group(1), m.group(0)), text)

    tasks = [(i, _mapping(t)) for i, t in enumerate(_list(pipeline.get("tasks")))]
    names = [_text(t.get("name")) for _, t in tasks]
    order = _tekton_order(tasks, names)
    steps: list[Step] = []
    for i in order:
        task = tasks[i][1]
        tpath = f"{_TS}.spec.pipelineSpec.tasks[{i}]"
        _refuse_keys(task, _TEKTON_TASK_REFUSED, tpath, "the pipeline task field")
        task_spec = _mapping(task.get("taskSpec"))
        if not task_spec:
            raise SpecError(f"{tpath}.taskSpec", "is required", "inline the task as taskSpec")
        _refuse_keys(task_spec, _TEKTON_TASKSPEC_REFUSED, f"{tpath}.taskSpec", "the Task field")
        given = {
            _text(p.get("name")): pipeline_sub(_text(p.get("value")))
            for p in _list(task.get("params"))
            if isinstance(p, Mapping)
        }
        params: dict[str, str] = {}
        for p in _list(task_spec.get("params")):
            p = _mapping(p)
            name = _text(p.get("name"))
            if name in given:
                params[name] = given[name]
            elif p.get("default") is not None:
                params[name] = _text(p.get("default"))
        labels = {**_labels(task_spec), "tekton.dev/pipelineTask": names[i]}
        for s, raw in enumerate(_list(task_spec.get("steps"))):
            step = _mapping(raw)
            spath = f"{tpath}.taskSpec.steps[{s}]"
            name = _text(step.get("name")) or f"unnamed-{s}"
            script = step.get("script")
            steps.append(
                Step(
                    f"{names[i]}/{name}",
                    names[i],
                    spath,
                    step,
                    labels,
                    f"step-{name}",
                    params,
                    script=_text(script) if script is not None else None,
                )
            )
    return steps


def _tekton_order(tasks: list[tuple[int, Mapping[str, Any]]], names: list[str]) -> list[int]:
    """Task indexes in an order that respects runAfter and result references (stable)."""
    deps: list[set[int]] = []
    for i, task in tasks:
        wanted = {_text(n) for n in _list(task.get("runAfter"))}
        wanted |= {m.group(1) for m in _TEKTON_TASK_RESULT.finditer(json.dumps(task))}
        unknown = wanted - set(names)
        if unknown:
            raise SpecError(
                f"{_TS}.spec.pipelineSpec.tasks[{i}]",
                f"task {names[i]!r} depends on unknown task {sorted(unknown)[0]!r}",
                f"use one of: {', '.join(names)}",
            )
        deps.append({names.index(n) for n in wanted})
    done: list[int] = []
    while len(done) < len(tasks):
        ready = [i for i, _ in tasks if i not in done and deps[i] <= set(done)]
        if not ready:
            raise SpecError(
                f"{_TS}.spec.pipelineSpec.tasks",
                "the tasks depend on each other in a cycle",
                "fix runAfter and the $(tasks.NAME.results.R) references",
            )
        done.append(ready[0])
    return done


def _tekton_substitute(step: Step) -> Callable[[str], str]:
    def replace(text: str) -> str:
        return _TEKTON_PARAM.sub(lambda m: step.params.get(m.group(1), m.group(0)), text)

    return replace


# --------------------------------------------------------------------------- plan


def _primary(steps: list[Step], spec: ExperimentSpec) -> list[Step]:
    template = spec.trial_template
    labels = template.primary_pod_labels or {}
    found = [
        s
        for s in steps
        if s.container_name == template.primary_container_name
        and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    if not found:
        known = sorted({f"{s.container_name} (task {s.task})" for s in steps})
        raise SpecError(
            "spec.trialTemplate.primaryContainerName",
            f"no step of the workflow runs container {template.primary_container_name!r} in a "
            f"pod labelled {dict(labels)}",
            f"the workflow's containers: {', '.join(known) or '(none)'} (Argo names a template's "
            "container main; Tekton names a step's container step-<name> and labels its pod "
            "tekton.dev/pipelineTask: <task>)",
        )
    return found


def _leftover(system: str, text: str, where: str, earlier: set[str], results_ok: bool) -> None:
    if system == "argo":
        for m in _ARGO_ANY.finditer(text):
            result = _ARGO_RESULT.fullmatch(m.group(0))
            if result is not None and result.group(1) in earlier:
                continue
            raise SpecError(
                where,
                f"Argo placeholder {m.group(0)} cannot be filled in locally",
                "tunery fills {{inputs.parameters.NAME}}, {{workflow.parameters.NAME}} and "
                "{{steps.NAME.outputs.result}} of an earlier step; declare the parameter or "
                "write the value",
            )
        return
    for m in _TEKTON_ANY.finditer(text):
        token = m.group(0)
        task = _TEKTON_TASK_RESULT.fullmatch(token)
        if (results_ok and _TEKTON_RESULT_PATH.fullmatch(token)) or (
            task is not None and task.group(1) in earlier
        ):
            continue
        raise SpecError(
            where,
            f"Tekton placeholder {token} cannot be filled in locally",
            "tunery fills $(params.NAME), $(inputs.params.NAME), $(results.NAME.path) and "
            "$(tasks.TASK.results.NAME); declare the parameter (with a value or default) or "
            "write the value",
        )


def workflow_plan(
    spec: ExperimentSpec, trial_spec: Mapping[str, Any], *, wrap: bool
) -> tuple[list[dict[str, Any]], Step]:
    """The steps to run, in order (JSON for :mod:`tunery.run_steps`), and the primary step.

    Raises SpecError for whatever cannot run locally (see the module docstring).
    """
    from tunery.spec.template import (
        _container_env,
        _string_list,
        entrypoint_override,
        expand_k8s_vars,
        katib_argv,
    )

    system = _system(trial_spec)
    steps = _argo_steps(trial_spec) if system == "argo" else _tekton_steps(trial_spec)
    if not steps:
        raise SpecError(f"{_TS}.spec", "the workflow has no step to run", "add a step")
    primaries = _primary(steps, spec)
    plan: list[dict[str, Any]] = []
    earlier: set[str] = set()
    for step in steps:
        sub = _argo_substitute(step) if system == "argo" else _tekton_substitute(step)
        container = step.container
        command = [sub(a) for a in _string_list(container.get("command"))]
        args = [sub(a) for a in _string_list(container.get("args"))]
        primary = step in primaries
        if not command and primary and step.script is None:
            command = entrypoint_override(spec)
        script = sub(step.script) if step.script is not None else None
        if system == "tekton" and script is not None and not script.startswith("#!"):
            script = "#!/bin/sh\n" + script
        if not command and script is None:
            raise SpecError(
                f"{step.path}.command",
                f"step {step.name!r} has no command: Katib runs its image's entrypoint, which "
                "tunery cannot read (it runs trials without the image)",
                "add command (the full command line) to the step"
                + (", or give the experiment annotation tunery.dev/entrypoint" if primary else ""),
            )
        env = {k: sub(v) for k, v in _container_env(container).items()}
        working_dir = sub(_text(container.get("workingDir")))
        strings = [(f"{step.path}.command", a) for a in command]
        strings += [(f"{step.path}.args", a) for a in args]
        strings += [(f"{step.path}.env.{k}", v) for k, v in env.items()]
        strings += [(f"{step.path}.workingDir", working_dir)]
        strings += [(f"{step.path}.{'source' if system == 'argo' else 'script'}", script or "")]
        for where, text in strings:
            _leftover(system or "", text, where, earlier, results_ok=True)
        argv = katib_argv(command, args, wrap) if primary and command else [*command, *args]
        plan.append(
            {
                "name": step.name,
                "task": step.task,
                "argv": [expand_k8s_vars(a, env) for a in argv],
                "env": env,
                "workingDir": working_dir or None,
                "script": script,
            }
        )
        earlier.add(step.task if system == "tekton" else step.name)
    return plan, primaries[0]


def render_workflow(
    spec: ExperimentSpec, trial_spec: Mapping[str, Any], *, wrap: bool
) -> tuple[tuple[str, ...], Mapping[str, Any]]:
    """The trial's argv (the step runner and its plan) and the primary container."""
    plan, primary = workflow_plan(spec, trial_spec, wrap=wrap)
    argv = ("python3", "-m", "tunery.run_steps", json.dumps(plan, separators=(",", ":")))
    return argv, primary.container


def check_workflow(spec: ExperimentSpec, trial_spec: Mapping[str, Any]) -> None:
    """Validation: refuse what cannot run locally, before the first trial."""
    workflow_plan(spec, trial_spec, wrap=False)
