"""The model's own logic: metric summaries, objective values, the optimal trial."""

from __future__ import annotations

import math

from tunery.model import (
    TRIAL_TRANSITIONS,
    MetricStrategy,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveType,
    Trial,
    TrialCondition,
    best_trial,
    objective_value,
)


def test_metric_summary_tracks_min_max_latest_and_unavailable() -> None:
    s = MetricSummary()
    for v in (3.0, 1.0, 2.0):
        s = s.add(v)
    assert (s.min, s.max, s.latest) == (1.0, 3.0, 2.0)
    s = s.add(math.nan)
    assert (s.min, s.max, s.latest) == (1.0, 3.0, None)
    assert MetricSummary.from_json(s.to_json()) == s


def test_strategies_default_to_the_objective_type() -> None:
    obj = Objective(
        ObjectiveType.MAXIMIZE,
        "acc",
        metric_strategies=(MetricStrategy("loss", MetricStrategyType.MIN),),
    )
    assert obj.strategy_for("acc") is MetricStrategyType.MAX
    assert obj.strategy_for("loss") is MetricStrategyType.MIN
    assert objective_value(obj, {"acc": MetricSummary(0.1, 0.9, 0.5)}) == 0.9
    assert objective_value(obj, {}) is None


def test_goal_and_better_follow_the_direction() -> None:
    mx = Objective(ObjectiveType.MAXIMIZE, "acc", goal=0.9)
    mn = Objective(ObjectiveType.MINIMIZE, "loss", goal=0.1)
    assert mx.goal_reached(0.9) and not mx.goal_reached(0.89)
    assert mn.goal_reached(0.1) and not mn.goal_reached(0.11)
    assert mx.better(2, 1) and mn.better(1, 2)
    assert not Objective(ObjectiveType.MAXIMIZE, "acc").goal_reached(1e9)


def test_best_trial_ignores_unfinished_failed_and_missing_values() -> None:
    obj = Objective(ObjectiveType.MINIMIZE, "loss")

    def t(i: int, status: TrialCondition, value: float | None) -> Trial:
        return Trial(f"e-{i}", "e", i, {}, status=status, objective=value)

    trials = [
        t(1, TrialCondition.SUCCEEDED, 0.5),
        t(2, TrialCondition.RUNNING, 0.1),
        t(3, TrialCondition.FAILED, 0.0),
        t(4, TrialCondition.SUCCEEDED, None),
        t(5, TrialCondition.EARLY_STOPPED, 0.3),
        t(6, TrialCondition.SUCCEEDED, 0.4),
    ]
    best = best_trial(obj, trials)
    assert best is not None and best.name == "e-5"
    assert best_trial(obj, trials[1:4]) is None


def test_trial_conditions_and_transitions() -> None:
    assert TrialCondition.METRICS_UNAVAILABLE.is_failed and TrialCondition.FAILED.is_failed
    assert not TrialCondition.KILLED.is_failed and TrialCondition.KILLED.is_completed
    assert TrialCondition.CREATED.is_active
    for terminal in (TrialCondition.SUCCEEDED, TrialCondition.FAILED, TrialCondition.KILLED):
        assert terminal not in TRIAL_TRANSITIONS  # nothing leaves a finished state


def test_an_experiment_shows_itself_in_jupyter_escaped() -> None:
    import xml.etree.ElementTree as ET

    from tests.test_storage_store import make_experiment
    from tunery.model import Experiment, ExperimentCondition, ExperimentReason

    hostile = "<img src=x onerror=alert(1)>&"
    exp = Experiment(
        hostile,
        make_experiment().spec,
        status=ExperimentCondition.RUNNING,
        reason=ExperimentReason.INTERRUPTED.value,
        message=hostile,
    )
    html = exp._repr_html_()
    assert "<img" not in html
    text = "".join(ET.fromstring(html).itertext())
    assert f"tunery experiment {hostile}: Interrupted (ExperimentInterrupted)" in text
    assert "random, minimize loss, max trials unlimited, parallel 3" in text
