"""A stored experiment as the Kubernetes object it stands for: spec and status.

``tunery get NAME -o yaml`` prints it: a Katib ``kubeflow.org/v1beta1`` Experiment with Katib's
``ExperimentStatus`` for Katib and native documents, an ``OptimizationJob`` with KEP-3562's
status (``conditions``, ``result``) for experiments read from one.  ``tunery export --format
katib`` writes any experiment as a Katib document (:func:`to_katib_document`): a native trial
becomes a ``batch/v1`` Job whose container runs the same command.
"""

from __future__ import annotations

import shlex
from typing import Any

from tunery.model import Experiment, ExperimentCondition, ExperimentSpec, Trial, TrialCondition
from tunery.spec.katib import KATIB_API_VERSION, to_document
from tunery.spec.optimizationjob import (
    FORMAT,
    env_name,
    optimization_job_status,
    to_optimization_job,
)
from tunery.spec.template import format_value, is_native_template

__all__ = ["katib_status", "object_document", "to_katib_document"]

#: The container name of a native trial written as a Katib Job.
CONTAINER = "training-container"
#: Image of that container (a local trial has none; the experiment annotation
#: ``tunery.dev/image`` overrides it).
DEFAULT_IMAGE = "docker.io/library/python:3.12"


def to_katib_document(spec: ExperimentSpec) -> dict[str, Any]:
    """``spec`` as a Katib v1beta1 Experiment; a native trial becomes a Job running its command."""
    from dataclasses import replace

    if not is_native_template(spec.trial_template):
        return to_document(replace(spec, source_format="katib"))
    doc = to_document(replace(spec, source_format="native"))
    t = spec.trial_template
    annotations = dict(doc["metadata"].get("annotations") or {})
    image = annotations.get("tunery.dev/image", DEFAULT_IMAGE)
    env = dict(t.env)
    if spec.source_format == FORMAT:
        for p in spec.parameters:
            env.setdefault(env_name(p.name), f"${{trialParameters.{p.name}}}")
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "command": ["sh", "-c", shlex.join(t.command)],
    }
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if t.working_dir:
        container["workingDir"] = t.working_dir
    if t.resources:
        container["resources"] = {"limits": dict(t.resources)}
    job_spec: dict[str, Any] = {
        "template": {"spec": {"containers": [container], "restartPolicy": "Never"}}
    }
    if t.timeout is not None:
        job_spec["activeDeadlineSeconds"] = max(1, round(t.timeout))
    template = doc["spec"]["trialTemplate"]
    template.pop("command", None)
    for key in ("env", "workingDir", "timeout", "resources"):
        template.pop(key, None)
    template["primaryContainerName"] = CONTAINER
    template["trialSpec"] = {"apiVersion": "batch/v1", "kind": "Job", "spec": job_spec}
    doc["apiVersion"] = KATIB_API_VERSION
    if any(p.active_when for p in spec.parameters):  # Katib's form: in an annotation
        from tunery.spec.conditions import write_annotation

        write_annotation(spec.parameters, annotations)
        doc["metadata"]["annotations"] = annotations
        for entry in doc["spec"]["parameters"]:
            entry.pop("activeWhen", None)
    return doc


def _metrics(trial: Trial) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "min": format_value(m.min) if m.min is not None else "unavailable",
            "max": format_value(m.max) if m.max is not None else "unavailable",
            # A string value is Katib's latest as it is (its min and max stay unavailable).
            "latest": (
                m.text
                if m.text is not None
                else format_value(m.latest)
                if m.latest is not None
                else "unavailable"
            ),
        }
        for name, m in trial.metrics.items()
    ]


def katib_status(experiment: Experiment, trials: list[Trial]) -> dict[str, Any]:
    """Katib's ``ExperimentStatus`` of a stored experiment and its trials."""
    from tunery.model import best_trial
    from tunery.wire import iso

    current = experiment.status
    conditions = [
        {
            "type": "Created",
            "status": "True",
            "reason": "ExperimentCreated",
            "message": "Experiment is created",
            "lastTransitionTime": iso(experiment.created_time),
        }
    ]
    if current != ExperimentCondition.CREATED:
        conditions.append(
            {
                "type": "Running",
                "status": "True" if current == ExperimentCondition.RUNNING else "False",
                "reason": (experiment.reason or "")
                if current == ExperimentCondition.RUNNING
                else "",
                "message": (experiment.message or "")
                if current == ExperimentCondition.RUNNING
                else "",
                "lastTransitionTime": iso(experiment.start_time),
            }
        )
    if current not in (ExperimentCondition.CREATED, ExperimentCondition.RUNNING):
        conditions.append(
            {
                "type": current.value,
                "status": "True",
                "reason": experiment.reason or "",
                "message": experiment.message or "",
                "lastTransitionTime": iso(experiment.completion_time or experiment.start_time),
            }
        )
    status: dict[str, Any] = {
        "startTime": iso(experiment.start_time),
        "conditions": conditions,
    }
    if experiment.completion_time is not None:
        status["completionTime"] = iso(experiment.completion_time)
    best = best_trial(experiment.spec.objective, trials)
    if best is not None:
        status["currentOptimalTrial"] = {
            "bestTrialName": best.name,
            "parameterAssignments": [
                {"name": k, "value": format_value(v)} for k, v in best.parameters.items()
            ],
            "observation": {"metrics": _metrics(best)},
        }
    lists = {
        "pendingTrialList": (TrialCondition.CREATED,),
        "runningTrialList": (TrialCondition.RUNNING,),
        "succeededTrialList": (TrialCondition.SUCCEEDED,),
        "failedTrialList": (TrialCondition.FAILED,),
        "killedTrialList": (TrialCondition.KILLED,),
        "earlyStoppedTrialList": (TrialCondition.EARLY_STOPPED,),
        "metricsUnavailableTrialList": (TrialCondition.METRICS_UNAVAILABLE,),
    }
    counts = {
        "pendingTrialList": "trialsPending",
        "runningTrialList": "trialsRunning",
        "succeededTrialList": "trialsSucceeded",
        "failedTrialList": "trialsFailed",
        "killedTrialList": "trialsKilled",
        "earlyStoppedTrialList": "trialsEarlyStopped",
        "metricsUnavailableTrialList": "trialMetricsUnavailable",
    }
    for key, wanted in lists.items():
        names = [t.name for t in trials if t.status in wanted]
        if names:
            status[key] = names
            status[counts[key]] = len(names)
    status["trials"] = len(trials)
    return status


def object_document(experiment: Experiment, trials: list[Trial]) -> dict[str, Any]:
    """The experiment as ``kubectl get -o yaml`` would show it: its document and status."""
    if experiment.spec.source_format == FORMAT:
        doc = to_optimization_job(experiment.spec)
        doc["status"] = optimization_job_status(experiment, trials)
        return doc
    doc = to_katib_document(experiment.spec)
    doc["status"] = katib_status(experiment, trials)
    return doc
