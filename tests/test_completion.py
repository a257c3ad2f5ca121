"""Tests of :mod:`tunery.completion`: Katib's order of the completion rules, and the goals of
several objectives and of constrained experiments."""

from __future__ import annotations

from dataclasses import replace

from tunery.completion import decide, goal_text, has_goal, reaches_goal
from tunery.ledger import Counts
from tunery.model import (
    Constraint,
    ExperimentReason,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Trial,
    TrialCondition,
)
from tunery.testing.suggest import int_param, make_spec

MAX, MIN = ObjectiveType.MAXIMIZE, ObjectiveType.MINIMIZE


def mo(acc_goal: float | None = 0.9, lat_goal: float | None = 10.0, **kw: object) -> Objective:
    return Objective(
        MAX,
        "acc",
        acc_goal,
        terms=(
            ObjectiveTerm("acc", MAX, acc_goal, MetricStrategyType.MAX),
            ObjectiveTerm("lat", MIN, lat_goal, MetricStrategyType.MIN),
        ),
        **kw,  # type: ignore[arg-type]
    )


def trial(status: TrialCondition = TrialCondition.SUCCEEDED, **metrics: float) -> Trial:
    summaries = {k: MetricSummary().add(v) for k, v in metrics.items()}
    return Trial("t-1", "e", 1, {}, status=status, metrics=summaries, objective=metrics.get("acc"))


def counts(**by: int) -> Counts:
    c = Counts()
    for status, n in by.items():
        c.by_status[TrialCondition(status)] = n
    return c


def test_every_goal_and_feasibility_decide() -> None:
    assert has_goal(mo()) and not has_goal(mo(None, None))
    assert reaches_goal(mo(), trial(acc=0.95, lat=5.0))
    assert not reaches_goal(mo(), trial(acc=0.95, lat=15.0))
    assert not reaches_goal(mo(), trial(TrialCondition.EARLY_STOPPED, acc=0.95, lat=5.0))
    assert reaches_goal(mo(None, 10.0), trial(acc=0.1, lat=5.0))  # only the goals given
    bounded = mo(constraints=(Constraint("mem", max=1.0),))
    assert not reaches_goal(bounded, trial(acc=0.95, lat=5.0, mem=2.0))
    assert not reaches_goal(bounded, trial(acc=0.95, lat=5.0))  # mem unknown
    assert reaches_goal(bounded, trial(acc=0.95, lat=5.0, mem=0.5))
    single = Objective(MIN, "loss", 0.1, constraints=(Constraint("mem", max=1.0),))
    assert not reaches_goal(
        single, Trial("t", "e", 1, {}, TrialCondition.SUCCEEDED, objective=0.05)
    )
    assert goal_text(mo()) == "acc >= 0.9, lat <= 10"


def test_katib_order_goal_then_failed_then_max_trials_then_suggestion_end() -> None:
    spec = replace(
        make_spec([int_param("n", "1", "9")], max_trial_count=3),
        objective=mo(),
        max_failed_trial_count=1,
    )
    done = counts(Succeeded=3, Failed=1)
    end = decide(spec, done, "t-2", nothing_to_suggest=True)
    assert end is not None and end.reason is ExperimentReason.GOAL_REACHED
    assert end.message.endswith("every objective goal (acc >= 0.9, lat <= 10) was reached by t-2")
    end = decide(spec, done, None, nothing_to_suggest=True)
    assert end is not None and end.reason is ExperimentReason.MAX_FAILED_TRIALS_REACHED
    end = decide(spec, counts(Succeeded=3), None, nothing_to_suggest=True)
    assert end is not None and end.reason is ExperimentReason.MAX_TRIALS_REACHED
    # Lowered under running trials: wait for them.
    assert decide(spec, counts(Succeeded=3, Running=1), None, nothing_to_suggest=False) is None
    open_ended = replace(spec, max_trial_count=None)
    end = decide(open_ended, counts(Succeeded=1), None, nothing_to_suggest=True)
    assert end is not None and end.reason is ExperimentReason.SUGGESTION_END_REACHED
    assert decide(open_ended, counts(Succeeded=1), None, nothing_to_suggest=False) is None
