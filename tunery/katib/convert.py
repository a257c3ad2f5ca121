"""tunery's stored experiments and trials as Katib's models (:mod:`tunery.katib.models`).

Katib's controllers write an Experiment's, Trial's and Suggestion's ``status``; tunery stores the
current condition and the trials, and this module derives the rest as Katib's controllers would
have written it: the condition list (``Created`` stays True, ``Running`` turns False when the
experiment completes, then ``Succeeded``/``Failed``), the counts and name lists by trial status,
``currentOptimalTrial`` with metric values as strings, and the Suggestion's conditions by
resume policy.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence

from tunery.katib import models as m
from tunery.katib.constants import constants as c
from tunery.model import (
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    MetricSummary,
    ResumePolicy,
    Trial,
    TrialCondition,
    best_trial,
)
from tunery.spec import format_value, to_document

__all__ = ["experiment_model", "suggestion_model", "trial_model"]

TRUE, FALSE = c.CONDITION_STATUS_TRUE, c.CONDITION_STATUS_FALSE


def when(seconds: float | None) -> dt.datetime | None:
    """A stored time (seconds since the epoch) as Katib's models hold it: an aware datetime."""
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).replace(microsecond=0)


def metric_text(value: float | None) -> str:
    return c.UNAVAILABLE_METRIC_VALUE if value is None else format_value(value)


def metric_model(name: str, summary: MetricSummary) -> m.V1beta1Metric:
    return m.V1beta1Metric(
        # A string value is Katib's latest as it is (min and max stay unavailable).
        latest=summary.text if summary.text is not None else metric_text(summary.latest),
        max=metric_text(summary.max),
        min=metric_text(summary.min),
        name=name,
    )


def observation_model(spec: ExperimentSpec, trial: Trial) -> m.V1beta1Observation:
    names = [n for n in spec.objective.metric_names if n in trial.metrics]
    names += sorted(n for n in trial.metrics if n not in names)
    metrics = [metric_model(n, trial.metrics[n]) for n in names]
    return m.V1beta1Observation(metrics=metrics or None)


def assignments(spec: ExperimentSpec, trial: Trial) -> list[m.V1beta1ParameterAssignment]:
    order = [p.name for p in spec.parameters if p.name in trial.parameters]
    order += [k for k in trial.parameters if k not in order]
    return [
        m.V1beta1ParameterAssignment(name=k, value=format_value(trial.parameters[k])) for k in order
    ]


def spec_model(spec: ExperimentSpec) -> m.V1beta1ExperimentSpec:
    doc = to_document(spec)
    return m.from_document(m.V1beta1ExperimentSpec, doc.get("spec", {}))


def _meta(
    name: str, namespace: str, created: float | None, labels: dict[str, str] | None = None
) -> m.V1ObjectMeta:
    return m.V1ObjectMeta(
        name=name,
        namespace=namespace,
        creation_timestamp=when(created),
        labels=labels or None,
        generation=1,
    )


def _experiment_conditions(exp: Experiment) -> list[m.V1beta1ExperimentCondition]:
    cond = m.V1beta1ExperimentCondition
    status = exp.status
    created = when(exp.created_time)
    out = [
        cond(
            last_transition_time=created,
            last_update_time=created,
            message="Experiment is created",
            reason="ExperimentCreated",
            status=TRUE,
            type=c.EXPERIMENT_CONDITION_CREATED,
        )
    ]
    started = when(exp.start_time)
    if status is ExperimentCondition.CREATED and exp.start_time is None:
        return out
    # Restarting (a completed experiment extended): Running stays False until its controller
    # runs it again, as Katib's MarkExperimentStatusRestarting leaves it.
    running = status is ExperimentCondition.RUNNING
    reason = exp.reason if status is ExperimentCondition.RUNNING and exp.reason else None
    out.append(
        cond(
            last_transition_time=started,
            last_update_time=started,
            message="Experiment is running"
            if reason in (None, "ExperimentRunning")
            else exp.message,
            reason=reason or "ExperimentRunning",
            status=TRUE if running else FALSE,
            type=c.EXPERIMENT_CONDITION_RUNNING,
        )
    )
    if status is ExperimentCondition.RESTARTING:
        out.append(
            cond(
                message=exp.message,
                reason=exp.reason,
                status=TRUE,
                type=c.EXPERIMENT_CONDITION_RESTARTING,
            )
        )
    if status.is_completed:
        done = when(exp.completion_time)
        out.append(
            cond(
                last_transition_time=done,
                last_update_time=done,
                message=exp.message,
                reason=exp.reason,
                status=TRUE,
                type=status.value,
            )
        )
    return out


def optimal_trial(spec: ExperimentSpec, trials: Sequence[Trial]) -> m.V1beta1OptimalTrial:
    """Katib's currentOptimalTrial (empty, as Katib writes it, while there is none)."""
    best = best_trial(spec.objective, list(trials))
    if best is None:
        return m.V1beta1OptimalTrial(
            best_trial_name="", observation=m.V1beta1Observation(metrics=None)
        )
    return m.V1beta1OptimalTrial(
        best_trial_name=best.name,
        observation=observation_model(spec, best),
        parameter_assignments=assignments(spec, best),
    )


def pareto_trials(spec: ExperimentSpec, trials: Sequence[Trial]) -> list[m.V1beta1OptimalTrial]:
    """The Pareto front (feasible trials no other dominates) as optimal-trial models, best
    first on the first objective (ties in creation order)."""
    from tunery.objectives import objective_losses, pareto_front

    front = pareto_front(spec.objective, list(trials))
    front.sort(key=lambda t: (objective_losses(spec.objective, t) or (0.0,))[0])
    return [
        m.V1beta1OptimalTrial(
            best_trial_name=t.name,
            observation=observation_model(spec, t),
            parameter_assignments=assignments(spec, t),
        )
        for t in front
    ]


def experiment_model(
    exp: Experiment, trials: Sequence[Trial], now: float | None = None
) -> m.V1beta1Experiment:
    """The ``V1beta1Experiment`` Katib's API server would return for ``exp``."""
    by: dict[TrialCondition, list[str]] = {s: [] for s in TrialCondition}
    for t in trials:
        by[t.status].append(t.name)
    status = m.V1beta1ExperimentStatus(
        completion_time=when(exp.completion_time),
        conditions=_experiment_conditions(exp),
        current_optimal_trial=optimal_trial(exp.spec, trials),
        early_stopped_trial_list=by[TrialCondition.EARLY_STOPPED] or None,
        failed_trial_list=by[TrialCondition.FAILED] or None,
        killed_trial_list=by[TrialCondition.KILLED] or None,
        last_reconcile_time=when(now),
        metrics_unavailable_trial_list=by[TrialCondition.METRICS_UNAVAILABLE] or None,
        pending_trial_list=by[TrialCondition.CREATED] or None,
        running_trial_list=by[TrialCondition.RUNNING] or None,
        start_time=when(exp.start_time),
        succeeded_trial_list=by[TrialCondition.SUCCEEDED] or None,
        trial_metrics_unavailable=len(by[TrialCondition.METRICS_UNAVAILABLE]) or None,
        trials=len(trials) or None,
        trials_early_stopped=len(by[TrialCondition.EARLY_STOPPED]) or None,
        trials_failed=len(by[TrialCondition.FAILED]) or None,
        trials_killed=len(by[TrialCondition.KILLED]) or None,
        trials_pending=len(by[TrialCondition.CREATED]) or None,
        trials_running=len(by[TrialCondition.RUNNING]) or None,
        trials_succeeded=len(by[TrialCondition.SUCCEEDED]) or None,
    )
    doc = to_document(exp.spec)
    metadata = _meta(exp.spec.name, exp.spec.namespace, exp.created_time, dict(exp.spec.labels))
    # The annotations the document carries (the user's, tunery's time budget, initialTrials).
    metadata.annotations = dict(doc.get("metadata", {}).get("annotations") or {}) or None
    return m.V1beta1Experiment(
        api_version=c.API_VERSION,
        kind=c.EXPERIMENT_KIND,
        metadata=metadata,
        spec=m.from_document(m.V1beta1ExperimentSpec, doc.get("spec", {})),
        status=status,
    )


def _trial_conditions(trial: Trial) -> list[m.V1beta1TrialCondition]:
    cond = m.V1beta1TrialCondition
    created = when(trial.created_time)
    out = [
        cond(
            last_transition_time=created,
            last_update_time=created,
            message="Trial is created",
            reason="TrialCreated",
            status=TRUE,
            type="Created",
        )
    ]
    if trial.start_time is not None or trial.status is TrialCondition.RUNNING:
        started = when(trial.start_time)
        out.append(
            cond(
                last_transition_time=started,
                last_update_time=started,
                message="Trial is running",
                reason="TrialRunning",
                status=TRUE if trial.status is TrialCondition.RUNNING else FALSE,
                type="Running",
            )
        )
    if trial.status.is_completed:
        done = when(trial.completion_time)
        out.append(
            cond(
                last_transition_time=done,
                last_update_time=done,
                message=trial.message,
                reason=trial.reason,
                status=TRUE,
                type=trial.status.value,
            )
        )
    return out


def trial_model(
    exp: Experiment, trial: Trial, spec_part: m.V1beta1ExperimentSpec | None = None
) -> m.V1beta1Trial:
    """The ``V1beta1Trial`` Katib's API server would return for ``trial`` (``spec_part``: the
    experiment's :func:`spec_model`, when the caller has it already)."""
    spec = exp.spec
    part = spec_part or spec_model(spec)
    labels = {**dict(trial.labels), c.EXPERIMENT_LABEL: spec.name}
    template = spec.trial_template
    return m.V1beta1Trial(
        api_version=c.API_VERSION,
        kind="Trial",
        metadata=_meta(trial.name, spec.namespace, trial.created_time, labels),
        spec=m.V1beta1TrialSpec(
            failure_condition=template.failure_condition,
            labels=dict(trial.labels) or None,
            metrics_collector=copy.deepcopy(part.metrics_collector_spec),
            objective=copy.deepcopy(part.objective),
            parameter_assignments=assignments(spec, trial),
            primary_container_name=template.primary_container_name,
            primary_pod_labels=dict(template.primary_pod_labels or {}) or None,
            retain_run=template.retain,
            success_condition=template.success_condition,
        ),
        status=m.V1beta1TrialStatus(
            completion_time=when(trial.completion_time),
            conditions=_trial_conditions(trial),
            observation=observation_model(spec, trial),
            start_time=when(trial.start_time),
        ),
    )


def _suggestion_conditions(exp: Experiment) -> list[m.V1beta1SuggestionCondition]:
    cond = m.V1beta1SuggestionCondition
    created = when(exp.created_time)
    out = [
        cond(
            last_transition_time=created,
            message="Suggestion is created",
            reason="SuggestionCreated",
            status=TRUE,
            type="Created",
        )
    ]
    if exp.start_time is None and exp.status is ExperimentCondition.CREATED:
        return out
    started = when(exp.start_time)
    long_running = exp.spec.resume_policy is ResumePolicy.LONG_RUNNING
    if exp.status is ExperimentCondition.RESTARTING:
        out.append(
            cond(
                message="Suggestion is not running",
                reason="Suggestion is restarting",
                status=FALSE,
                type="Running",
            )
        )
        return out
    if exp.status.is_completed and not long_running:
        done = when(exp.completion_time)
        out.append(
            cond(
                last_transition_time=done,
                message="Deployment is not ready",
                reason="Suggestion is succeeded",
                status=FALSE,
                type="DeploymentReady",
            )
        )
        out.append(
            cond(
                last_transition_time=done,
                message="Suggestion is not running",
                reason="Suggestion is succeeded",
                status=FALSE,
                type="Running",
            )
        )
        message = (
            "Suggestion is succeeded, suggestion volume is not deleted, can be restarted"
            if exp.spec.resume_policy is ResumePolicy.FROM_VOLUME
            else "Suggestion is succeeded, can't be restarted"
        )
        out.append(
            cond(
                last_transition_time=done,
                message=message,
                reason="Experiment is succeeded",
                status=TRUE,
                type="Succeeded",
            )
        )
        return out
    out.append(
        cond(
            last_transition_time=started,
            message="Deployment is ready",
            reason="DeploymentReady",
            status=TRUE,
            type="DeploymentReady",
        )
    )
    out.append(
        cond(
            last_transition_time=started,
            message="Suggestion is running",
            reason="SuggestionRunning",
            status=TRUE,
            type="Running",
        )
    )
    return out


def suggestion_model(exp: Experiment, trials: Sequence[Trial]) -> m.V1beta1Suggestion:
    """The experiment's algorithm as Katib's ``V1beta1Suggestion`` (same name as the
    experiment): what it suggested so far, its settings and conditions."""
    spec = spec_model(exp.spec)
    suggestions = [
        m.V1beta1TrialAssignment(
            labels=dict(t.labels) or None,
            name=t.name,
            parameter_assignments=assignments(exp.spec, t),
        )
        for t in trials
    ]
    return m.V1beta1Suggestion(
        api_version=c.API_VERSION,
        kind="Suggestion",
        metadata=_meta(exp.spec.name, exp.spec.namespace, exp.created_time),
        spec=m.V1beta1SuggestionSpec(
            algorithm=spec.algorithm,
            early_stopping=spec.early_stopping,
            requests=len(trials),
            resume_policy=spec.resume_policy,
        ),
        status=m.V1beta1SuggestionStatus(
            algorithm_settings=(spec.algorithm.algorithm_settings if spec.algorithm else None),
            completion_time=when(exp.completion_time) if exp.status.is_completed else None,
            conditions=_suggestion_conditions(exp),
            start_time=when(exp.start_time),
            suggestion_count=len(trials),
            suggestions=suggestions or None,
        ),
    )
