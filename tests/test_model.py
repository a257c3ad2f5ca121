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
    objective_text,
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


def test_an_experiment_named_on_a_command_line_and_by_key() -> None:
    from dataclasses import replace

    from tunery.model import name_of_key, qualified_key
    from tunery.testing.store import experiment_named

    plain = experiment_named("mnist")
    assert (plain.key, plain.namespace, plain.command_ref) == ("mnist", "default", "mnist")
    team = replace(experiment_named("mnist", namespace="team"), key=qualified_key("team", "mnist"))
    assert (team.key, team.command_ref, team.qualified_name) == (
        "team.mnist",
        "mnist -n team",
        "team/mnist",
    )
    kube = experiment_named("mnist", namespace="kubeflow")  # the plain key, not default
    assert kube.command_ref == "mnist -n kubeflow"
    assert name_of_key("team.mnist", "team", "mnist") == "mnist"
    assert name_of_key("mnist", "team", "mnist") == "mnist"
    assert name_of_key("renamed", "default", "mnist") == "renamed"  # a key set by hand


GENOTYPE = "Genotype(normal=[[('skip_connect',0)]],normal_concat=[2],reduce=[],reduce_concat=[])"


def test_a_string_value_is_katibs_latest_with_min_and_max_unavailable() -> None:
    s = MetricSummary().add(None, GENOTYPE)
    assert (s.min, s.max, s.latest, s.text) == (None, None, None, GENOTYPE)
    assert s.to_json() == {"min": None, "max": None, "latest": None, "text": GENOTYPE}
    assert MetricSummary.from_json(s.to_json()) == s
    # Katib: a strategy's min/max falls back to the latest value (the string) when unavailable.
    for strategy in MetricStrategyType:
        assert s.pick_text(strategy) == GENOTYPE and s.pick(strategy) is None
    # Numbers reported before: min and max stay; the latest is the string.
    mixed = MetricSummary().add(0.5).add(None, GENOTYPE)
    assert (mixed.min, mixed.max, mixed.latest, mixed.text) == (0.5, 0.5, None, GENOTYPE)
    assert mixed.pick_text(MetricStrategyType.LATEST) == GENOTYPE
    assert mixed.pick_text(MetricStrategyType.MAX) is None  # the number 0.5 is the max
    # A number after the string: the string is no longer the latest.
    assert MetricSummary().add(None, GENOTYPE).add(0.7) == MetricSummary(0.7, 0.7, 0.7)
    # A numeric summary's JSON has no text key (the stored shape is unchanged).
    assert "text" not in MetricSummary(1.0, 2.0, 1.5).to_json()
    obj = Objective(ObjectiveType.MAXIMIZE, "Best-Genotype")
    assert objective_text(obj, {"Best-Genotype": s}) == GENOTYPE
    assert objective_value(obj, {"Best-Genotype": s}) is None
    assert objective_text(obj, {}) is None


def test_best_trial_with_string_objectives_is_the_latest_as_on_katib() -> None:
    """status_util.go: "For string metrics values best trial is the latest"; a string wins
    over numbers, and only finished (Succeeded, EarlyStopped) trials count."""
    obj = Objective(ObjectiveType.MAXIMIZE, "Best-Genotype")

    def t(i: int, status: TrialCondition, text: str | None, value: float | None = None) -> Trial:
        return Trial(f"e-{i}", "e", i, {}, status=status, objective=value, objective_text=text)

    trials = [
        t(1, TrialCondition.SUCCEEDED, None, 0.9),
        t(2, TrialCondition.SUCCEEDED, "Genotype(a)"),
        t(3, TrialCondition.EARLY_STOPPED, "Genotype(b)"),
        t(4, TrialCondition.SUCCEEDED, None, 0.95),
        t(5, TrialCondition.FAILED, "Genotype(c)"),
        t(6, TrialCondition.RUNNING, "Genotype(d)"),
    ]
    best = best_trial(obj, trials)
    assert best is not None and best.name == "e-3"
    assert best_trial(obj, list(reversed(trials))) == best  # by index, not list order
    numeric = best_trial(obj, [trials[0], trials[3]])
    assert numeric is not None and numeric.name == "e-4"
