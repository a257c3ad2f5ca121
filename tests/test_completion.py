"""Tests of :mod:`tunery.completion`: Katib's order of the completion rules, and the goals of
several objectives and of constrained experiments."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SCORE_IS_X, create, native_doc
from tunery.completion import decide, goal_text, has_goal, no_result_note, reaches_goal
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.ledger import Counts
from tunery.model import (
    Constraint,
    Experiment,
    ExperimentCondition,
    ExperimentReason,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Trial,
    TrialCondition,
    is_seed,
)
from tunery.outcome import no_success_line
from tunery.storage import Store
from tunery.testing.suggest import int_param, make_spec
from tunery.warmstart import Seed, seed_store

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


def test_no_result_note_counts_only_trials_that_ran() -> None:
    assert no_result_note(counts(Succeeded=1, Failed=3)) == ""
    assert no_result_note(counts(EarlyStopped=1, Failed=3)) == ""
    seeded = counts(Succeeded=2, Failed=3, MetricsUnavailable=1)
    seeded.seeded = 2
    assert seeded.results == 0
    assert no_result_note(seeded) == (
        "; no trial that ran succeeded "
        "(3 Failed, 1 MetricsUnavailable; the 2 warm-start seeds were not run)"
    )
    interrupted = counts(Killed=3, Running=1)  # the running one is killed by the end
    interrupted.interrupted = 2
    assert no_result_note(interrupted) == "; no trial that ran succeeded (2 Killed)"
    assert no_result_note(counts()) == "; no trial that ran succeeded (none ran)"


# --------------------------------------------------------------------------- real runs
# Every ending of an experiment whose every trial that ran failed, seeded with results better
# than the goal: Katib's status at each (Succeeded, only maxFailedTrialCount fails), the note
# in the message, and the seeds counted as no success anywhere.

#: A trial that fails after a moment, having reported nothing.
FAILS = """
import sys, time
time.sleep(0.2)
sys.exit(3)
"""


def _seeded_failures(
    tmp_path: Path, name: str, *, script: str = FAILS, **kw: Any
) -> tuple[Store, list[Trial]]:
    """Run experiment ``name`` (real trial processes) after seeding it with two results
    beyond its goal (score >= 0.5); the store (closed by the caller) and its trials."""
    extra = kw.pop("extra_spec", {})
    doc = native_doc(
        name,
        script,
        objective={"type": "maximize", "objectiveMetricName": "score", "goal": 0.5},
        extra_spec=extra,
        **kw,
    )
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    exp = create(store, doc, tmp_path)
    values = [1.0, 2.0] if "parameters" in kw else [0.25, 0.75]
    seeds = [Seed({"x": v}, {"score": MetricSummary(0.9, 0.9, 0.9)}, "csv:old.csv") for v in values]
    assert seed_store(store, exp.key, seeds, 1.0, source="csv:old.csv").seeded == 2
    Controller(store, name, LocalExecutor(), poll_interval=0.05).run()
    return store, store.list_trials(name)


def _check_no_success(exp: Experiment, trials: list[Trial], ran: str) -> None:
    assert exp.status is ExperimentCondition.SUCCEEDED, (exp.status, exp.message)
    assert (exp.message or "").endswith(
        f"; no trial that ran succeeded ({ran}; the 2 warm-start seeds were not run)"
    ), exp.message
    line = no_success_line(trials)
    assert line is not None and line.startswith("no trial succeeded: "), line
    assert "(and 2 warm-start seeds, not run)" in line


@pytest.mark.integration
def test_max_trials_with_only_failures_and_seeds(tmp_path: Path) -> None:
    store, trials = _seeded_failures(tmp_path, "maxed", max_trials=2, parallel=2)
    try:
        exp = store.get_experiment("maxed")
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED  # the seeds reach no goal
        assert sum(t.status is TrialCondition.FAILED for t in trials) == 2
        _check_no_success(exp, trials, "2 Failed")
    finally:
        store.close()


@pytest.mark.integration
def test_goal_is_never_reached_by_seeds_under_failures(tmp_path: Path) -> None:
    # No maxTrialCount: the goal could only end it through a trial that ran; none does, so
    # the time budget ends it (the seeds, past the goal, never do).
    store, trials = _seeded_failures(
        tmp_path,
        "goal",
        max_trials=None,
        parallel=2,
        extra_spec={"maxExperimentDuration": 2, "experimentDurationPolicy": "LetFinish"},
    )
    try:
        exp = store.get_experiment("goal")
        assert exp.reason == ExperimentReason.TIME_BUDGET_REACHED
        failed = sum(t.status is TrialCondition.FAILED for t in trials)
        assert failed >= 2 and len(trials) == failed + 2
        _check_no_success(exp, trials, f"{failed} Failed")
    finally:
        store.close()


@pytest.mark.integration
def test_time_budget_with_only_failures_and_seeds(tmp_path: Path) -> None:
    store, trials = _seeded_failures(
        tmp_path, "timed", max_trials=50, parallel=2, extra_spec={"maxExperimentDuration": 2}
    )
    try:
        exp = store.get_experiment("timed")
        assert exp.reason == ExperimentReason.TIME_BUDGET_REACHED  # KillRunning
        ran = [t for t in trials if not is_seed(t)]
        statuses = {t.status for t in ran}
        assert statuses <= {TrialCondition.FAILED, TrialCondition.KILLED}, statuses
        failed = sum(t.status is TrialCondition.FAILED for t in ran)
        killed = len(ran) - failed
        assert failed >= 2
        _check_no_success(exp, trials, f"{failed} Failed" + (f", {killed} Killed" * bool(killed)))
    finally:
        store.close()


@pytest.mark.integration
def test_suggestion_end_with_only_failures_and_seeds(tmp_path: Path) -> None:
    grid = [{"name": "x", "parameterType": "discrete", "feasibleSpace": {"list": ["1", "2", "3"]}}]
    store, trials = _seeded_failures(
        tmp_path, "grid", algorithm="grid", parameters=grid, max_trials=None, parallel=1
    )
    try:
        exp = store.get_experiment("grid")
        assert exp.reason == ExperimentReason.SUGGESTION_END_REACHED
        ran = [t for t in trials if not is_seed(t)]
        assert [t.parameters["x"] for t in ran] == [3]  # 1 and 2 are seeded: known
        _check_no_success(exp, trials, "1 Failed")
    finally:
        store.close()


@pytest.mark.integration
def test_max_failed_is_the_one_ending_that_fails(tmp_path: Path) -> None:
    store, _ = _seeded_failures(tmp_path, "mf", max_trials=6, parallel=1, max_failed=2)
    try:
        exp = store.get_experiment("mf")
        assert (exp.status, exp.reason) == (
            ExperimentCondition.FAILED,
            ExperimentReason.MAX_FAILED_TRIALS_REACHED,
        )
        assert "warm-start" not in (exp.message or "")
    finally:
        store.close()


@pytest.mark.integration
def test_a_trial_that_ran_and_succeeded_leaves_no_note(tmp_path: Path) -> None:
    store, trials = _seeded_failures(
        tmp_path, "ok", script=SCORE_IS_X.replace("{x}", "{x / 10}"), max_trials=2
    )
    try:
        exp = store.get_experiment("ok")
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
        assert (
            exp.message == "Experiment has succeeded because max trial count (2) has been reached"
        )
        assert no_success_line(trials) is None
    finally:
        store.close()
