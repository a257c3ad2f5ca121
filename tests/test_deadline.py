"""The time budget (``maxExperimentDuration``): the controller ends an experiment at its
deadline (both policies), the driven time survives a resume and a crash, and a used budget
refuses a resume until it is raised.  FakeClock + FakeExecutor where the timing matters,
real subprocesses and the real clock for the end to end runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SCORE_IS_X, create, native_doc
from tunery.client import Client, ResumeAction
from tunery.clock import FakeClock
from tunery.controller import Controller
from tunery.deadline import SAVE_INTERVAL, driven_seconds
from tunery.errors import UserInputError
from tunery.execute.local import LocalExecutor
from tunery.model import (
    DRIVEN_SECONDS_KEY,
    ExperimentCondition,
    ExperimentReason,
    TrialCondition,
    TrialReason,
)
from tunery.storage import Store
from tunery.testing.executor import FakeExecutor, TrialScript

T0 = 1_700_000_000.0
#: A fake trial: 30 s, reporting its score near the end.
THIRTY = TrialScript(duration=30.0, lines=[(29.0, "score=0.5")])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def timed(name: str, duration: Any, policy: str | None = None, **kw: Any) -> dict[str, Any]:
    doc = native_doc(name, kw.pop("script", SCORE_IS_X), **{"parallel": 2, "max_trials": 50, **kw})
    doc["spec"]["maxExperimentDuration"] = duration
    if policy is not None:
        doc["spec"]["experimentDurationPolicy"] = policy
    return doc


def fake(store: Store, name: str, clock: FakeClock, script: TrialScript = THIRTY) -> Controller:
    return Controller(store, name, FakeExecutor(clock, script), clock=clock, poll_interval=1.0)


def test_kill_running_ends_at_the_deadline(store: Store, tmp_path: Path) -> None:
    create(store, timed("kill", "100s"), tmp_path)
    clock = FakeClock(T0)
    fake(store, "kill", clock).run()
    exp = store.get_experiment("kill")
    assert exp.status is ExperimentCondition.SUCCEEDED
    assert exp.reason == ExperimentReason.TIME_BUDGET_REACHED
    assert "maxExperimentDuration 100s" in (exp.message or "")
    assert exp.completion_time is not None and T0 + 100 <= exp.completion_time <= T0 + 101.5
    trials = store.list_trials("kill")
    assert all(t.created_time is not None and t.created_time < T0 + 100 for t in trials)
    killed = [t for t in trials if t.status is TrialCondition.KILLED]
    assert len(killed) == 2  # the pair running at the deadline
    assert {t.reason for t in killed} == {TrialReason.EXPERIMENT_TIME_BUDGET_REACHED}
    assert all(t.completion_time is not None and t.completion_time <= T0 + 101.5 for t in killed)
    done = [t for t in trials if t.status is TrialCondition.SUCCEEDED]
    assert len(done) == 6  # three waves of two 30 s trials fit in 100 s
    assert driven_seconds(store, "kill") == pytest.approx(100, abs=1.5)


def test_let_finish_starts_nothing_more_and_waits(store: Store, tmp_path: Path) -> None:
    create(store, timed("let", "100s", "LetFinish"), tmp_path)
    clock = FakeClock(T0)
    fake(store, "let", clock).run()
    exp = store.get_experiment("let")
    assert (exp.status, exp.reason) == (
        ExperimentCondition.SUCCEEDED,
        ExperimentReason.TIME_BUDGET_REACHED,
    )
    trials = store.list_trials("let")
    assert len(trials) == 8
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)
    assert all(t.created_time is not None and t.created_time < T0 + 100 for t in trials)
    # The last pair started before the deadline and ran its 30 s past it.
    assert exp.completion_time is not None and exp.completion_time > T0 + 115


def test_no_successful_trial_within_the_budget_is_said_not_failed(
    store: Store, tmp_path: Path
) -> None:
    # Katib's rule at every budget ending (tunery.completion): Succeeded, the message says
    # that nothing ran to a result.
    create(store, timed("none", 45), tmp_path)
    clock = FakeClock(T0)
    fake(store, "none", clock, TrialScript(duration=60.0)).run()  # never reports
    exp = store.get_experiment("none")
    assert exp.status is ExperimentCondition.SUCCEEDED
    assert exp.reason == ExperimentReason.TIME_BUDGET_REACHED
    assert exp.message == (
        "Experiment has succeeded because its time budget (maxExperimentDuration 45s) was "
        "reached; no trial that ran succeeded (2 Killed)"
    )


def _drive_for(controller: Controller, clock: FakeClock, seconds: float) -> None:
    """Tick (and wait as ``run`` does) until ``seconds`` of the fake clock have passed."""
    end = clock.now() + seconds
    controller.start()
    while clock.now() < end:
        assert not controller.tick()
        clock.sleep(1.0)


def test_driven_time_carries_over_a_resume_not_the_time_in_between(
    store: Store, tmp_path: Path
) -> None:
    create(store, timed("carry", "100s"), tmp_path)
    clock = FakeClock(T0)
    first = fake(store, "carry", clock)
    _drive_for(first, clock, 60)
    first.interrupt()  # Ctrl-C
    first.release()
    assert driven_seconds(store, "carry") == pytest.approx(60, abs=1.5)
    clock.advance(10_000)  # it sat interrupted for hours: not driven
    resumed_at = clock.now()
    fake(store, "carry", clock).run()
    exp = store.get_experiment("carry")
    assert exp.reason == ExperimentReason.TIME_BUDGET_REACHED
    assert exp.completion_time is not None
    # 40 s were left: a controller that started the budget from zero would run 100 s.
    assert 39 <= exp.completion_time - resumed_at <= 42
    assert driven_seconds(store, "carry") == pytest.approx(100, abs=1.5)


def test_a_controller_killed_without_release_loses_at_most_a_tick(
    store: Store, tmp_path: Path
) -> None:
    create(store, timed("crash", "1h"), tmp_path)
    clock = FakeClock(T0)
    _drive_for(fake(store, "crash", clock), clock, 30)  # then dropped: no release, no save
    stored = driven_seconds(store, "crash")
    assert 30 - SAVE_INTERVAL - 1.0 <= stored <= 30
    # The algorithm's own state is beside it, untouched.
    state = store.load_algorithm_state("crash")
    assert state is not None and set(state) == {DRIVEN_SECONDS_KEY}  # random: no state


def test_a_used_budget_refuses_resume_until_raised(store: Store, tmp_path: Path) -> None:
    create(store, timed("used", "60s"), tmp_path)
    clock = FakeClock(T0)
    fake(store, "used", clock).run()
    client = Client(store=store, clock=clock)
    before = len(store.list_trials("used"))
    resumed = client.resume("used")
    assert resumed.action is ResumeAction.COMPLETED
    assert resumed.note is not None
    assert "used its time budget: it was driven for 1m" in resumed.note
    assert "tunery edit used --max-duration" in resumed.note
    with pytest.raises(UserInputError) as info:
        client.edit_experiment_budget("used", max_duration="45s")
    assert "raise maxExperimentDuration above 1m" in info.value.one_line()
    with pytest.raises(UserInputError) as bad:
        client.edit_experiment_budget("used", max_duration="two hours")
    assert bad.value.one_line().startswith("maxExperimentDuration: invalid duration")
    extended = client.edit_experiment_budget("used", max_duration="2m")
    assert extended.status is ExperimentCondition.RESTARTING
    assert extended.spec.max_experiment_duration == 120
    start = clock.now()
    fake(store, "used", clock).run()
    exp = store.get_experiment("used")
    assert exp.reason == ExperimentReason.TIME_BUDGET_REACHED
    assert exp.completion_time is not None and 59 <= exp.completion_time - start <= 62
    assert len(store.list_trials("used")) > before


def test_a_live_edit_moves_the_deadline(store: Store, tmp_path: Path) -> None:
    create(store, timed("live", "1h"), tmp_path)
    clock = FakeClock(T0)
    controller = fake(store, "live", clock)
    _drive_for(controller, clock, 20)
    Client(store=store, clock=clock).edit_experiment_budget("live", max_duration=50)
    controller.run()
    exp = store.get_experiment("live")
    assert exp.completion_time is not None and 50 <= exp.completion_time - T0 <= 52


# --------------------------------------------------------------------------- real processes

SLEEPER = """
import sys, time
x = float(sys.argv[1].split("=", 1)[1])
time.sleep(SECONDS)
print(f"score={x}", flush=True)
"""


def _real(store: Store, name: str) -> float:
    started = time.monotonic()
    Controller(store, name, LocalExecutor(), poll_interval=0.05).run()
    return time.monotonic() - started


def test_real_trials_are_killed_at_a_three_second_deadline(store: Store, tmp_path: Path) -> None:
    doc = timed("real-kill", "3s", script=SLEEPER.replace("SECONDS", "60"))
    create(store, doc, tmp_path)
    took = _real(store, "real-kill")
    assert 3.0 <= took < 15, took
    exp = store.get_experiment("real-kill")
    assert (exp.status, exp.reason) == (
        ExperimentCondition.SUCCEEDED,
        ExperimentReason.TIME_BUDGET_REACHED,
    )
    assert (exp.message or "").endswith("; no trial that ran succeeded (2 Killed)")
    trials = store.list_trials("real-kill")
    assert len(trials) == 2
    assert all(t.status is TrialCondition.KILLED for t in trials)
    assert all(t.reason == TrialReason.EXPERIMENT_TIME_BUDGET_REACHED for t in trials)


def test_real_trials_finish_past_a_three_second_deadline_with_let_finish(
    store: Store, tmp_path: Path
) -> None:
    doc = timed("real-let", "3s", "LetFinish", script=SLEEPER.replace("SECONDS", "2"))
    create(store, doc, tmp_path)
    took = _real(store, "real-let")
    assert took >= 3.0
    exp = store.get_experiment("real-let")
    assert (exp.status, exp.reason) == (
        ExperimentCondition.SUCCEEDED,
        ExperimentReason.TIME_BUDGET_REACHED,
    )
    trials = store.list_trials("real-let")
    assert len(trials) >= 4  # two waves at least started before the deadline
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials), [
        (t.status, t.reason) for t in trials
    ]
    last_created = max(t.created_time or 0 for t in trials)
    assert exp.start_time is not None and last_created - exp.start_time < 3.0
    assert sys.executable  # the trials ran under this interpreter (native_doc)
