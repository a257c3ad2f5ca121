"""``tunery.tune()``'s time budget and initial trials (tunery/tuner.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import tunery
from tunery.errors import SpecError, UserInputError
from tunery.model import ExperimentReason

SPACE = {"x": tunery.search.double(0, 1), "k": tunery.search.categorical(["a", "b"])}


def score(params: dict) -> float:  # type: ignore[type-arg]
    return params["x"] + (0.5 if params["k"] == "b" else 0.0)


def slow(params: dict) -> float:  # type: ignore[type-arg]
    time.sleep(30)
    return params["x"]


def test_initial_trials_run_first_in_order(tmp_path: Path) -> None:
    first = [{"x": 0.25, "k": "b"}, {"x": 0.75, "k": "a"}]
    handle = tunery.tune(
        score,
        SPACE,
        "score",
        storage=str(tmp_path / "t.db"),
        runs_dir=str(tmp_path / "runs"),
        algorithm="random",
        max_trial_count=3,
        initial_trials=first,
        wait=True,
        progress=False,
    )
    trials = sorted(handle.trials, key=lambda t: t.name)
    assert [t.parameters for t in trials[:2]] == first
    assert len(trials) == 3  # they count towards max_trial_count
    assert handle.experiment.spec.initial_trials == tuple(first)
    # Other initial trials are another experiment (another digest, so another name).
    other = tunery.tune(
        score,
        SPACE,
        "score",
        storage=str(tmp_path / "t.db"),
        runs_dir=str(tmp_path / "runs"),
        algorithm="random",
        max_trial_count=1,
        initial_trials=[{"x": 0.5, "k": "a"}],
    )
    other.stop()
    assert other.name != handle.name


def test_initial_trials_are_checked_in_one_line(tmp_path: Path) -> None:
    kw = {"storage": str(tmp_path / "t.db"), "runs_dir": str(tmp_path / "runs")}
    with pytest.raises(UserInputError, match=r"initial_trials must be a list of assignments"):
        tunery.tune(score, SPACE, "score", initial_trials={"x": 0.5, "k": "a"}, **kw)
    with pytest.raises(UserInputError, match=r"initial_trials\[1\] must be a dict"):
        tunery.tune(score, SPACE, "score", initial_trials=[{"x": 0.5, "k": "a"}, 3], **kw)
    with pytest.raises(SpecError, match="initialTrials"):
        tunery.tune(score, SPACE, "score", initial_trials=[{"x": 7.0, "k": "a"}], **kw)


def test_time_budget_arguments_are_checked(tmp_path: Path) -> None:
    kw = {"storage": str(tmp_path / "t.db"), "runs_dir": str(tmp_path / "runs")}
    with pytest.raises(SpecError, match="max_duration") as exc:
        tunery.tune(score, SPACE, "score", max_duration="soon", **kw)
    assert exc.value.path == "max_duration"
    with pytest.raises(SpecError, match="duration_policy") as exc:
        tunery.tune(score, SPACE, "score", max_duration=5, duration_policy="Never", **kw)
    assert "LetFinish" in str(exc.value.hint)


@pytest.mark.slow
def test_max_duration_ends_the_experiment_at_its_deadline(tmp_path: Path) -> None:
    started = time.monotonic()
    handle = tunery.tune(
        slow,
        SPACE,
        "score",
        storage=str(tmp_path / "t.db"),
        runs_dir=str(tmp_path / "runs"),
        algorithm="random",
        max_trial_count=5,
        max_duration="3s",
        duration_policy="killrunning",
        wait=True,
        progress=False,
    )
    assert time.monotonic() - started < 25  # the 30 s trial was killed at the deadline
    assert handle.experiment.spec.max_experiment_duration == 3.0
    assert handle.experiment.spec.experiment_duration_policy == "KillRunning"
    assert handle.experiment.reason == ExperimentReason.TIME_BUDGET_REACHED
