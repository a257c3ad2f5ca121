"""Warm starts from Python: ``Optimizer.add_trial`` and ``tune(warm_start=...)``."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

import tunery
from tunery.errors import UserInputError
from tunery.model import WARM_START_LABEL, TrialCondition, TrialReason

SPACE = {"x": tunery.search.double(0, 1), "y": tunery.search.double(0, 1), "epochs": 5}


def bowl(x: float, y: float) -> float:
    return (x - 0.9) ** 2 + (y - 0.9) ** 2


def seed_grid(opt: tunery.Optimizer) -> None:
    for i in range(5):
        for j in range(5):
            x, y = 0.1 + 0.2 * i, 0.1 + 0.2 * j
            opt.add_trial({"x": x, "y": y, "epochs": 5}, bowl(x, y))


def test_add_trial_seeds_the_model_outside_the_budget() -> None:
    opt = tunery.Optimizer(SPACE, algorithm="tpe", objective="minimize", seed=0, max_trial_count=2)
    seed_grid(opt)
    assert len(opt.trials) == 25
    first = opt.trials[0]
    assert first.reason == TrialReason.WARM_STARTED
    assert first.labels == {WARM_START_LABEL: "add_trial"}
    best = opt.best
    assert best is not None and best.params == {"x": 0.9, "y": 0.9, "epochs": 5}
    # The first suggestion comes from the model fitted on the seeds (past 10 start-up trials).
    s = opt.ask()
    assert math.dist((s.params["x"], s.params["y"]), (0.9, 0.9)) < 0.2, s.params
    opt.tell(s, bowl(s.params["x"], s.params["y"]))
    # Seeds use none of max_trial_count=2: a second suggestion, then the budget is spent.
    s = opt.ask()
    opt.tell(s, 1.0)
    assert opt.finished


def test_add_trial_refuses_what_it_cannot_seed_in_one_line() -> None:
    opt = tunery.Optimizer(SPACE, algorithm="random", objective="minimize")
    cases = [
        (({"x": 2.0, "y": 0.5}, 1.0), "add_trial(): parameter 'x': 2.0 is outside [0.0, 1.0]"),
        (({"x": 0.5}, 1.0), "add_trial(): parameter 'y' has no value"),
        (({"x": 0.5, "y": 0.5}, None), "add_trial(): value must be a number, not None"),
        (({"x": 0.5, "y": 0.5}, math.inf), "add_trial(): value must be finite"),
        ((["x"], 1.0), "add_trial(params, value) takes a dict"),
    ]
    for args, message in cases:
        with pytest.raises(UserInputError) as info:
            opt.add_trial(*args)
        assert info.value.one_line().startswith(message)
        assert "\n" not in info.value.one_line()
    assert opt.trials == []
    opt.finish()
    with pytest.raises(UserInputError, match=r"^add_trial\(\): the experiment"):
        opt.add_trial({"x": 0.5, "y": 0.5}, 1.0)


def test_add_trial_with_several_objectives_and_constraints() -> None:
    opt = tunery.Optimizer(
        {"x": tunery.search.double(0, 1)},
        algorithm="nsga2",
        objectives=[("acc", "maximize"), ("latency", "minimize")],
        constraints=[{"metric": "mem", "max": 10}],
    )
    opt.add_trial({"x": 0.2}, {"acc": 0.9, "latency": 3.0, "mem": 5.0})
    opt.add_trial({"x": 0.4}, {"acc": 0.95, "latency": 1.0, "mem": 50.0})  # infeasible
    front = opt.best_trials
    assert [b.params for b in front] == [{"x": 0.2}]
    with pytest.raises(UserInputError, match="2 objectives need a list or a dict"):
        opt.add_trial({"x": 0.3}, 0.5)
    with pytest.raises(UserInputError, match=r"has no 'latency'"):
        opt.add_trial({"x": 0.3}, {"acc": 0.5})
    with pytest.raises(UserInputError) as info:
        opt.add_trial({"x": 0.3}, [0.5, 1.0])  # the constraint's metric is missing
    assert info.value.one_line() == (
        "add_trial(): no value of metric 'mem'; give the value of every objective and constraint "
        "metric (a dict of them)"
    )
    assert len(opt.trials) == 2


def test_seeds_are_stored_and_kept_on_resume(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    opt = tunery.Optimizer(SPACE, algorithm="tpe", seed=0, storage=db, name="ws")
    opt.add_trial({"x": 0.5, "y": 0.5}, 0.3)
    opt.close()
    again = tunery.Optimizer(SPACE, algorithm="tpe", seed=0, storage=db, name="ws")
    assert [t.reason for t in again.trials] == [TrialReason.WARM_STARTED]
    s = again.ask()
    again.tell(s, 0.1)
    again.finish()
    stored = tunery.Client(db).list_trials("ws")
    assert [t.status for t in stored] == [TrialCondition.SUCCEEDED] * 2


def score(params: dict) -> float:  # type: ignore[type-arg]
    return 1.0 - (params["x"] - 0.7) ** 2


def test_tune_warm_start_from_values_and_from_an_experiment(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    runs = str(tmp_path / "runs")
    space = {"x": tunery.search.double(0, 1)}
    with pytest.warns(tunery.WarmStartWarning, match=r"1 seeded, 1 skipped \(item 1: "):
        handle = tunery.tune(
            score,
            space,
            "score",
            name="seeded",
            storage=db,
            runs_dir=runs,
            max_trial_count=1,
            algorithm="random",
            warm_start=[({"x": 0.7}, 1.0), {"params": {"x": 3.0}, "value": 0.0}],
            wait=True,
            progress=False,
        )
    trials = handle.trials
    assert trials[0].reason == TrialReason.WARM_STARTED
    assert len(trials) == 2 and trials[1].start_time is not None
    assert handle.best_trial is not None and handle.best_trial.parameters == {"x": 0.7}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = tunery.tune(
            score,
            space,
            "score",
            name="from-handle",
            storage=db,
            runs_dir=runs,
            max_trial_count=1,
            algorithm="random",
            warm_start=handle,
            wait=True,
            progress=False,
        )
    sources = [t.labels.get(WARM_START_LABEL) for t in other.trials]
    assert sources == ["experiment:seeded", "experiment:seeded", None]
    with pytest.raises(UserInputError, match="warm_start: no experiment named 'nope'"):
        tunery.tune(score, space, "score", name="x2", storage=db, runs_dir=runs, warm_start="nope")
    with pytest.raises(UserInputError, match="warm_start must be an experiment's name or handle"):
        tunery.tune(score, space, "score", name="x3", storage=db, runs_dir=runs, warm_start=5)


def crash(parameters: dict) -> None:
    raise RuntimeError("out of memory")


def test_seeds_do_not_hide_that_every_trial_that_ran_failed(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    with pytest.warns(tunery.TrialsFailedWarning) as caught:
        handle = tunery.tune(
            crash,
            {"x": tunery.search.double(0, 1)},
            "score",
            name="crashing",
            storage=db,
            runs_dir=str(tmp_path / "runs"),
            max_trial_count=2,
            algorithm="random",
            warm_start=[({"x": 0.2}, 0.5), ({"x": 0.4}, 0.6)],
            wait=True,
            progress=False,
        )
    message = str(caught[0].message)
    assert message.startswith("experiment crashing: 2 of 2 trials failed, no trial succeeded"), (
        message
    )
    exp = handle.experiment
    assert (exp.status.value, exp.reason) == ("Succeeded", "ExperimentMaxTrialsReached")
    assert (exp.message or "").endswith(
        "; no trial that ran succeeded (2 Failed; the 2 warm-start seeds were not run)"
    )
    assert handle.status == "Succeeded"  # Katib's status; the message and warning say the rest
