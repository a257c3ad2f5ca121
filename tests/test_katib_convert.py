"""tunery.katib.convert: stored experiments and trials as the status Katib's controllers write."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tunery.katib import convert
from tunery.model import (
    Experiment,
    ExperimentCondition,
    MetricSummary,
    ResumePolicy,
    Trial,
    TrialCondition,
)
from tunery.spec import parse_document

DOC = {
    "apiVersion": "kubeflow.org/v1beta1",
    "kind": "Experiment",
    "metadata": {"name": "exp", "namespace": "team"},
    "spec": {
        "objective": {
            "type": "minimize",
            "objectiveMetricName": "loss",
            "additionalMetricNames": ["acc"],
        },
        "algorithm": {"algorithmName": "random"},
        "parallelTrialCount": 1,
        "maxTrialCount": 3,
        "parameters": [
            {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
            {"name": "opt", "parameterType": "categorical", "feasibleSpace": {"list": ["a"]}},
        ],
        "trialTemplate": {"command": ["echo", "${trialParameters.lr}", "${trialParameters.opt}"]},
    },
}
SPEC = parse_document(DOC)


def _exp(status: ExperimentCondition, reason: str | None = None, **kw: object) -> Experiment:
    return Experiment(
        name="exp",
        spec=kw.pop("spec", SPEC),  # type: ignore[arg-type]
        status=status,
        reason=reason,
        message=kw.pop("message", None),  # type: ignore[arg-type]
        created_time=100.0,
        start_time=None if status is ExperimentCondition.CREATED else 101.0,
        completion_time=200.0 if status.is_completed else None,
    )


def _trial(index: int, status: TrialCondition, loss: float | None, **metrics: float) -> Trial:
    summaries = {"loss": MetricSummary(loss, loss, loss)} if loss is not None else {}
    summaries.update({k: MetricSummary(v, v, v) for k, v in metrics.items()})
    return Trial(
        name=f"exp-{index:04d}",
        experiment="exp",
        index=index,
        parameters={"opt": "a", "lr": 0.5 / index},
        status=status,
        reason="TrialSucceeded" if status is TrialCondition.SUCCEEDED else "TrialFailed",
        metrics=summaries,
        objective=loss,
        created_time=100.0 + index,
        start_time=None if status is TrialCondition.CREATED else 100.5 + index,
        completion_time=101.0 + index if status.is_completed else None,
    )


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (ExperimentCondition.CREATED, "ExperimentCreated", [("Created", "True")]),
        (
            ExperimentCondition.RUNNING,
            "ExperimentRunning",
            [("Created", "True"), ("Running", "True")],
        ),
        (
            ExperimentCondition.RESTARTING,
            "ExperimentRestarting",
            [("Created", "True"), ("Running", "False"), ("Restarting", "True")],
        ),
        (
            ExperimentCondition.SUCCEEDED,
            "ExperimentMaxTrialsReached",
            [("Created", "True"), ("Running", "False"), ("Succeeded", "True")],
        ),
        (
            ExperimentCondition.FAILED,
            "ExperimentMaxFailedTrialsReached",
            [("Created", "True"), ("Running", "False"), ("Failed", "True")],
        ),
    ],
)
def test_experiment_conditions_as_katibs_controller_writes_them(
    status: ExperimentCondition, reason: str, expected: list[tuple[str, str]]
) -> None:
    model = convert.experiment_model(_exp(status, reason), [])
    conditions = model.status.conditions
    assert [(c.type, c.status) for c in conditions] == expected
    if status.is_completed:
        assert conditions[-1].reason == reason
        assert conditions[-1].last_transition_time.timestamp() == 200.0


def test_an_interrupted_experiment_stays_running_with_its_reason() -> None:
    exp = _exp(ExperimentCondition.RUNNING, "ExperimentInterrupted", message="Ctrl-C")
    running = convert.experiment_model(exp, []).status.conditions[-1]
    assert (running.type, running.status, running.reason) == (
        "Running",
        "True",
        "ExperimentInterrupted",
    )


def test_status_counts_lists_and_the_optimal_trial_with_string_values() -> None:
    trials = [
        _trial(1, TrialCondition.SUCCEEDED, 0.5, acc=0.9),
        _trial(2, TrialCondition.SUCCEEDED, 0.25, acc=0.8),
        _trial(3, TrialCondition.FAILED, None),
        _trial(4, TrialCondition.RUNNING, None),
        replace(
            _trial(5, TrialCondition.METRICS_UNAVAILABLE, None), metrics={"loss": MetricSummary()}
        ),
    ]
    status = convert.experiment_model(_exp(ExperimentCondition.RUNNING), trials).status
    assert (status.trials, status.trials_succeeded, status.trials_failed) == (5, 2, 1)
    assert (status.trials_running, status.trial_metrics_unavailable) == (1, 1)
    assert status.trials_pending is None and status.trials_killed is None  # Katib omits zeros
    assert status.succeeded_trial_list == ["exp-0001", "exp-0002"]
    best = status.current_optimal_trial
    assert best.best_trial_name == "exp-0002"
    # The spec's parameter order, values as strings; the objective metric first.
    assert [(p.name, p.value) for p in best.parameter_assignments] == [
        ("lr", "0.25"),
        ("opt", "a"),
    ]
    assert [(m.name, m.min, m.max, m.latest) for m in best.observation.metrics] == [
        ("loss", "0.25", "0.25", "0.25"),
        ("acc", "0.8", "0.8", "0.8"),
    ]
    unavailable = convert.trial_model(_exp(ExperimentCondition.RUNNING), trials[4])
    assert unavailable.status.observation.metrics[0].latest == "unavailable"
    assert unavailable.status.conditions[-1].type == "MetricsUnavailable"


def test_no_optimal_trial_yet_reads_as_katibs_empty_one() -> None:
    best = convert.experiment_model(_exp(ExperimentCondition.RUNNING), []).status
    assert best.current_optimal_trial.best_trial_name == ""
    assert best.current_optimal_trial.observation.metrics is None
    assert best.trials is None


def test_metadata_and_spec_come_from_the_stored_spec() -> None:
    model = convert.experiment_model(_exp(ExperimentCondition.CREATED), [])
    assert (model.metadata.name, model.metadata.namespace) == ("exp", "team")
    assert model.metadata.creation_timestamp.timestamp() == 100.0
    assert model.spec.objective.additional_metric_names == ["acc"]
    assert model.spec.resume_policy == "Never"  # Katib's default, filled in
    assert model.spec.parameters[1].feasible_space.list == ["a"]


@pytest.mark.parametrize(
    ("policy", "last"),
    [
        (ResumePolicy.NEVER, ("Succeeded", "True", "Suggestion is succeeded, can't be restarted")),
        (
            ResumePolicy.FROM_VOLUME,
            (
                "Succeeded",
                "True",
                "Suggestion is succeeded, suggestion volume is not deleted, can be restarted",
            ),
        ),
        (ResumePolicy.LONG_RUNNING, ("Running", "True", "Suggestion is running")),
    ],
)
def test_suggestion_conditions_by_resume_policy(
    policy: ResumePolicy, last: tuple[str, str, str]
) -> None:
    exp = _exp(ExperimentCondition.SUCCEEDED, spec=replace(SPEC, resume_policy=policy))
    trials = [_trial(1, TrialCondition.SUCCEEDED, 0.5)]
    suggestion = convert.suggestion_model(exp, trials)
    c = suggestion.status.conditions[-1]
    assert (c.type, c.status, c.message) == last
    assert suggestion.status.suggestion_count == 1
    assert suggestion.status.suggestions[0].parameter_assignments[0].value == "0.5"
    assert suggestion.spec.algorithm.algorithm_name == "random"
    running = convert.suggestion_model(_exp(ExperimentCondition.RUNNING), trials)
    assert [c.type for c in running.status.conditions] == ["Created", "DeploymentReady", "Running"]
