"""Ask/tell."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import tunery
from tunery.errors import LeaseHeldError, UserInputError
from tunery.model import TrialCondition


def branin(x: float, y: float) -> float:
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )


SPACE = {"x": tunery.search.double(-5, 10), "y": tunery.search.double(0, 15)}


def test_ask_tell_loop_finds_a_good_point() -> None:
    opt = tunery.Optimizer(SPACE, algorithm="random", objective="minimize", seed=1)
    assert opt.best is None
    for _ in range(60):
        s = opt.ask()
        assert -5 <= s.params["x"] <= 10 and 0 <= s.params["y"] <= 15
        opt.tell(s, branin(**s.params))
    best = opt.best
    assert best is not None and best.value == min(t.objective for t in opt.trials)  # type: ignore[type-var]
    assert best.value < 5


def test_batches_failures_fixed_values_and_misuse() -> None:
    opt = tunery.Optimizer(
        {"n": tunery.search.int(1, 3), "mode": tunery.search.categorical(["a", "b"]), "k": 7},
        algorithm="random",
        objective="maximize",
    )
    batch = opt.ask(4)
    assert len({(s.params["n"], s.params["mode"]) for s in batch}) == 4
    assert all(s.params["k"] == 7 for s in batch)
    opt.tell(batch[0], 1.0)
    opt.tell(batch[1], None)
    opt.tell(batch[2].id, float("nan"))
    opt.tell(batch[3], 5.0, failed=True)
    statuses = [t.status for t in opt.trials]
    assert statuses == [TrialCondition.SUCCEEDED] + [TrialCondition.FAILED] * 3
    assert opt.best is not None and opt.best.id == batch[0].id
    with pytest.raises(UserInputError, match="already told"):
        opt.tell(batch[0], 2.0)
    with pytest.raises(UserInputError, match="unknown suggestion"):
        opt.tell("nope", 1.0)
    rest = opt.ask(10)
    assert len(rest) == 2  # 6 configurations in all
    with pytest.raises(UserInputError, match="exhausted"):
        opt.ask()
    with pytest.raises(UserInputError, match="objective"):
        tunery.Optimizer(SPACE, algorithm="random", objective="up")


def test_storage_persists_and_resumes_identically(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")

    def run(opt: tunery.Optimizer, n: int) -> list[dict]:  # type: ignore[type-arg]
        out = []
        for _ in range(n):
            s = opt.ask()
            opt.tell(s, branin(**s.params))
            out.append(s.params)
        return out

    straight = run(tunery.Optimizer(SPACE, algorithm="sobol", seed=3), 10)
    first = tunery.Optimizer(SPACE, algorithm="sobol", seed=3, storage=db, name="study")
    part = run(first, 6)
    with pytest.raises(LeaseHeldError):
        tunery.Optimizer(SPACE, algorithm="sobol", seed=3, storage=db, name="study")
    first.close()
    with tunery.Optimizer(SPACE, algorithm="sobol", seed=3, storage=db, name="study") as again:
        assert len(again.trials) == 6
        part += run(again, 4)
    assert part == straight
    client = tunery.Client(db)
    trials = client.list_trials("study")
    assert len(trials) == 10 and all(t.status is TrialCondition.SUCCEEDED for t in trials)
    assert client.get_optimal_hyperparameters("study")["objective"] == min(  # type: ignore[index]
        t.objective
        for t in trials  # type: ignore[type-var]
    )
    with pytest.raises(UserInputError, match="another search space"):
        tunery.Optimizer(SPACE, algorithm="random", storage=db, name="study")


# --------------------------------------------------------------------------- early stopping


def curve(x: float, epoch: int) -> float:
    """A loss curve: configurations near x = 0.3 end lower; all improve with epochs."""
    return (x - 0.3) ** 2 + 1.0 / epoch


def test_should_stop_with_asha_stops_bad_runs_and_keeps_their_value() -> None:
    opt = tunery.Optimizer(
        {"x": tunery.search.double(0, 1)},
        algorithm="random",
        seed=3,
        early_stopping="asha",
        early_stopping_settings={"min_resource": 1, "reduction_factor": 3, "max_resource": 9},
    )
    steps = 0
    stopped = []
    for _ in range(20):
        s = opt.ask()
        x = float(s.params["x"])
        for epoch in range(1, 10):
            steps += 1
            value = curve(x, epoch)
            if opt.should_stop(s, epoch, value):
                stopped.append(s)
                break
        else:
            opt.tell(s, value)
    assert stopped and steps < 20 * 9 * 0.6
    for s in stopped:
        trial = next(t for t in opt.trials if t.name == s.id)
        assert trial.status is TrialCondition.EARLY_STOPPED
        assert trial.reason == "TrialEarlyStopped" and (trial.message or "").startswith("at rung")
        assert trial.objective is not None  # the value so far is kept
        with pytest.raises(UserInputError, match="already told"):
            opt.tell(s, 0.0)
    best = opt.best
    assert best is not None and abs(float(best.params["x"]) - 0.3) < 0.25


def test_should_stop_with_medianstop_and_without_early_stopping() -> None:
    opt = tunery.Optimizer(
        {"x": tunery.search.double(0, 1)},
        algorithm="random",
        objective="maximize",
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 2, "start_step": 2},
    )
    for x in (0.9, 0.8):
        s = opt.ask()
        for epoch in range(1, 6):
            opt.report(s, x * epoch, epoch)
        opt.tell(s, x * 5)
    s = opt.ask()
    assert not opt.should_stop(s, 1, 0.01)  # before start_step
    assert opt.should_stop(s, 2, 0.02)
    plain = tunery.Optimizer({"x": tunery.search.double(0, 1)}, algorithm="random")
    s = plain.ask()
    assert not plain.should_stop(s, 1, 100.0)
    with pytest.raises(UserInputError, match="without early_stopping"):
        tunery.Optimizer(SPACE, early_stopping_settings={"start_step": 2})
    with pytest.raises(tunery.errors.SpecError, match="unknown early stopping"):
        tunery.Optimizer(SPACE, early_stopping="nope")


def test_early_stopping_persists_with_storage(tmp_path: Path) -> None:
    url = str(tmp_path / "opt.db")
    settings = {"min_resource": 2, "reduction_factor": 2}
    space = {"x": tunery.search.double(0, 1)}
    with tunery.Optimizer(
        space,
        algorithm="random",
        storage=url,
        name="es",
        early_stopping="asha",
        early_stopping_settings=settings,
    ) as opt:
        s = opt.ask()
        for epoch in (1, 2, 3):
            assert not opt.should_stop(s, epoch, curve(0.3, epoch))
        opt.tell(s, curve(0.3, 3))
        running = opt.ask()
        opt.report(running, curve(0.9, 1), 1)
    with tunery.Optimizer(
        space,
        algorithm="random",
        storage=url,
        name="es",
        early_stopping="asha",
        early_stopping_settings=settings,
    ) as again:
        # The curves come back from the database: the running one meets the first at rung 0.
        assert again.should_stop(running.id, 2, curve(0.9, 2))
    store = tunery.storage.Store(url)
    try:
        trial = store.get_trial("es", running.id)
        assert trial.status is TrialCondition.EARLY_STOPPED
        assert [o.step for o in store.get_observations("es", running.id)] == [1, 2]
    finally:
        store.close()


def test_hyperband_through_ask_tell_sets_the_resource() -> None:
    opt = tunery.Optimizer(
        {"x": tunery.search.double(0, 1), "epochs": tunery.search.int(1, 9)},
        algorithm="hyperband",
        settings={"resource_name": "epochs", "r_l": 9, "eta": 3},
    )
    seen = []
    while True:
        batch = opt.ask(9)
        if not batch:
            break
        for s in batch:
            assert set(s.labels) == {"tunery.dev/hyperband-bracket", "tunery.dev/hyperband-rung"}
            seen.append(s.params["epochs"])
            opt.tell(s, curve(float(s.params["x"]), int(s.params["epochs"])))
    assert sorted(set(seen)) == [1, 3, 9] and len(seen) == 23


def test_enqueue_hands_out_given_configurations_first() -> None:
    opt = tunery.Optimizer(
        {"x": tunery.search.double(0, 1, step=0.1), "k": 3}, algorithm="random", seed=0
    )
    opt.enqueue({"x": 0.3})
    opt.enqueue({"x": 0.5, "k": 3})
    first = opt.ask(3)
    assert [s.params for s in first[:2]] == [{"k": 3, "x": 0.3}, {"k": 3, "x": 0.5}]
    assert first[2].params["k"] == 3
    with pytest.raises(UserInputError):
        opt.enqueue({"x": 2.0})
    with pytest.raises(UserInputError, match="step"):
        opt.enqueue({"x": 0.31})


@pytest.mark.parametrize("algorithm", ["random", "grid", "tpe", "sobol"])
def test_a_batch_does_not_repeat_its_enqueued_configurations(algorithm: str) -> None:
    # Three configurations in all: two enqueued, so the algorithm's one must be the third.
    space = {"c": tunery.search.categorical(["a", "b", "c"])}
    for seed in range(5):
        opt = tunery.Optimizer(space, algorithm=algorithm, seed=seed)
        opt.enqueue({"c": "a"})
        opt.enqueue({"c": "b"})
        batch = opt.ask(3)
        assert [s.params["c"] for s in batch] == ["a", "b", "c"], (algorithm, seed)
        assert opt.ask(1) == []


def test_pbt_suggestions_name_their_parent() -> None:
    from tunery.model import PARENT_LABEL

    opt = tunery.Optimizer(
        {"x": tunery.search.double(0.0, 1.0)},
        algorithm="pbt",
        settings={
            "suggestion_trial_dir": "/ckpt/",
            "n_population": 5,
            "truncation_threshold": 0.4,
        },
        seed=3,
    )
    first = opt.ask(5)
    assert all(s.parent is None for s in first)
    for s in first:
        opt.tell(s, float(s.params["x"]))
    second = opt.ask(5)
    assert {s.parent for s in second} <= {s.id for s in first}
    assert all(s.parent is not None and s.parent == s.labels[PARENT_LABEL] for s in second)


def _listed(db: Path) -> dict[str, dict[str, object]]:
    """``tunery list --json`` of ``db``, run as a user would, by name."""
    import json
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "tunery", "list", "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    return {e["name"]: e for e in json.loads(proc.stdout)}


def test_finish_marks_the_experiment_succeeded_and_reopening_continues(tmp_path: Path) -> None:
    db = tmp_path / "opt.db"
    opt = tunery.Optimizer(SPACE, algorithm="random", storage=db, name="study")
    s = opt.ask()
    opt.tell(s, 1.0)
    running = opt.ask()
    assert _listed(db)["study"]["status"] == "Running"
    opt.finish()
    opt.finish()  # again: nothing
    assert opt.finished
    listed = _listed(db)["study"]
    assert (listed["status"], listed["reason"]) == ("Succeeded", "ExperimentFinished")
    store = tunery.storage.Store(str(db))
    try:
        exp = store.get_experiment("study")
        assert exp.completion_time is not None
    finally:
        store.close()
    for call in (opt.ask, lambda: opt.tell(running, 2.0), lambda: opt.report(running, 1.0)):
        with pytest.raises(UserInputError, match="is finished") as info:
            call()
        assert "create the Optimizer again" in str(info.value)
    # The lease is released: the same study opens at once, and continues.
    again = tunery.Optimizer(SPACE, algorithm="random", storage=db, name="study")
    listed = _listed(db)["study"]
    assert (listed["status"], listed["reason"]) == ("Running", "ExperimentRunning")
    again.tell(running.id, 2.0)
    again.tell(again.ask(), 3.0)
    assert len(again.trials) == 3
    again.close()
    assert _listed(db)["study"]["status"] == "Running"  # close() is not finish()


def test_leaving_the_with_block_finishes_unless_it_raised(tmp_path: Path) -> None:
    db = tmp_path / "opt.db"
    with (
        pytest.raises(RuntimeError),
        tunery.Optimizer(SPACE, algorithm="random", storage=db, name="w") as opt,
    ):
        opt.tell(opt.ask(), 1.0)
        raise RuntimeError("the training crashed")
    assert _listed(db)["w"]["status"] == "Running"
    with tunery.Optimizer(SPACE, algorithm="random", storage=db, name="w") as opt:
        opt.tell(opt.ask(), 2.0)
    listed = _listed(db)["w"]
    assert (listed["status"], listed["reason"]) == ("Succeeded", "ExperimentFinished")
    assert opt.finished


def test_max_trial_count_finishes_at_the_last_tell(tmp_path: Path) -> None:
    db = tmp_path / "opt.db"
    opt = tunery.Optimizer(SPACE, algorithm="random", storage=db, name="budget", max_trial_count=3)
    first = opt.ask()
    rest = opt.ask(5)
    assert len(rest) == 2  # the budget has two left
    assert opt.ask(1) == []
    with pytest.raises(UserInputError, match="max_trial_count=3"):
        opt.ask()
    opt.tell(first, 1.0)
    opt.tell(rest[0], None)  # a failure completes a trial too
    assert not opt.finished and _listed(db)["budget"]["status"] == "Running"
    opt.tell(rest[1], 0.5)
    assert opt.finished
    listed = _listed(db)["budget"]
    assert (listed["status"], listed["reason"]) == ("Succeeded", "ExperimentMaxTrialsReached")
    with pytest.raises(UserInputError, match="ExperimentMaxTrialsReached"):
        opt.ask()
    assert opt.best is not None and opt.best.value == 0.5
    # The same budget under the same name is the same experiment; another budget is not.
    with pytest.raises(UserInputError, match="max_trial_count"):
        tunery.Optimizer(SPACE, algorithm="random", storage=db, name="budget")


def test_max_trial_count_reached_by_failures_after_seeds_says_so(tmp_path: Path) -> None:
    # Katib's status (Succeeded), the controller's note: the seed is no trial that ran.
    db = tmp_path / "opt.db"
    opt = tunery.Optimizer(SPACE, algorithm="random", storage=db, name="fails", max_trial_count=2)
    opt.add_trial({"x": 1.0, "y": 2.0}, 3.0)
    for suggestion in opt.ask(2):
        opt.tell(suggestion, failed=True)
    assert opt.finished
    got = tunery.Client(str(db)).get_experiment("fails")
    assert (got.status.value, got.reason) == ("Succeeded", "ExperimentMaxTrialsReached")
    assert got.message == (
        "2 trials completed; no trial that ran succeeded (2 Failed; the 1 warm-start seed "
        "was not run)"
    )


def test_max_trial_count_without_storage_and_bad_values() -> None:
    opt = tunery.Optimizer(SPACE, algorithm="random", max_trial_count=1)
    opt.tell(opt.ask(), 1.0)
    assert opt.finished
    for bad in (0, -1, 1.5, "3", True):
        with pytest.raises(UserInputError, match="max_trial_count must be"):
            tunery.Optimizer(SPACE, max_trial_count=bad)  # type: ignore[arg-type]


def test_ask_and_tell_never_rescan_every_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Structural: the cost of an ask/tell does not grow with the trials (no list of them all,
    no History rebuilt over them all); benchmarks/optimizer_scale.py times it."""
    from tunery.history import HistoryBuilder
    from tunery.ledger import TrialLedger

    opt = tunery.Optimizer(
        SPACE, algorithm="random", storage=tmp_path / "o.db", name="flat", max_trial_count=500
    )
    for _ in range(20):
        opt.tell(opt.ask(), 1.0)

    def rescan(*args: object) -> None:
        raise AssertionError("every trial read again")

    monkeypatch.setattr(TrialLedger, "trials", property(rescan))
    monkeypatch.setattr(HistoryBuilder, "build", rescan)
    monkeypatch.setattr(TrialLedger, "load", rescan)
    for _ in range(20):
        s = opt.ask()
        opt.report(s, 2.0)
        opt.tell(s, 1.0)
    monkeypatch.undo()
    assert len(opt.trials) == 40


# --------------------------------------------------------------------------- several objectives


def mo_stopped(**kwargs: object) -> tunery.Optimizer:
    return tunery.Optimizer(
        {"x": tunery.search.double(0.0, 1.0)},
        algorithm="random",
        objectives=[("acc", "maximize"), ("lat", "minimize")],
        early_stopping="asha",
        early_stopping_settings={"min_resource": 1, "reduction_factor": 2},
        seed=1,
        **kwargs,  # type: ignore[arg-type]
    )


def test_should_stop_with_two_objectives_judges_each_step_on_what_it_reports() -> None:
    opt = mo_stopped()
    first, dominated, partial, worst = opt.ask(4)
    assert not opt.should_stop(first, 1, [0.9, 10.0])
    assert opt.should_stop(dominated, 1, [0.5, 20.0])  # worse on both: stopped
    trial = next(t for t in opt.trials if t.name == dominated.id)
    assert trial.status is TrialCondition.EARLY_STOPPED
    assert "acc=0.5, lat=20 ranks 2 of 2 by non-dominated rank" in (trial.message or "")
    # Accuracy alone (no latency yet): compared on accuracy, the best of three.
    assert not opt.should_stop(partial, 1, {"acc": 0.95})
    assert opt.should_stop(worst, 1, [0.3, None])  # accuracy only, the worst of four
    opt.tell(first, [0.92, 10.0])
    assert [o.value for o in opt._curves.by_metric["lat"][first.id]] == [10.0, 10.0]


def test_intermediate_values_of_several_objectives_are_checked_before_anything_is_kept() -> None:
    opt = mo_stopped()
    s = opt.ask()
    for bad, words in (
        (0.5, "report(): 2 objectives need a list or a dict"),
        ([0.5], "report(): 1 values for 2 objectives (acc, lat)"),
        ({"acc": "high"}, "report(): value['acc'] must be a number"),
        ({1: 0.5}, "report(): metric names must be strings"),
    ):
        with pytest.raises(UserInputError) as info:
            opt.report(s, bad, 1)
        assert str(info.value).startswith(words) and "\n" not in str(info.value), info.value
    assert all(not curves for curves in opt._curves.by_metric.values())
    opt.report(s, {"lat": 3.0, "other": 1.0})  # any subset, other metrics kept too
    opt.report(s, [0.4, 2.0])
    assert [o.step for o in opt._curves.by_metric["acc"][s.id]] == [1]
    assert [o.step for o in opt._curves.by_metric["lat"][s.id]] == [0, 1]
    trial = next(t for t in opt.trials if t.name == s.id)
    assert trial.metrics["other"].latest == 1.0 and trial.metrics["lat"].min == 2.0


def test_every_objectives_curves_come_back_from_storage(tmp_path: Path) -> None:
    db = str(tmp_path / "mo.db")
    opt = mo_stopped(storage=db, name="mo-stop")
    s = opt.ask()
    opt.report(s, [0.5, 9.0], 1)
    opt.report(s, {"lat": 8.0}, 2)
    kept = {m: {n: list(c) for n, c in b.items()} for m, b in opt._curves.by_metric.items()}
    opt.close()
    again = mo_stopped(storage=db, name="mo-stop")
    try:
        assert again._curves.by_metric == kept
    finally:
        again.close()


def test_max_duration_ends_ask_at_the_deadline_and_survives_reopening(tmp_path: Path) -> None:
    from tunery.clock import FakeClock
    from tunery.deadline import driven_seconds
    from tunery.model import ExperimentCondition, ExperimentReason

    clock = FakeClock(1000.0)
    db = str(tmp_path / "timed.db")
    opt = tunery.Optimizer(
        SPACE, algorithm="random", seed=1, storage=db, name="timed", clock=clock, max_duration=60
    )
    told = 0
    while True:
        batch = opt.ask(1)
        if not batch:
            break
        clock.advance(25.0)  # each evaluation takes 25 s
        opt.tell(batch[0], 0.5)
        told += 1
    assert told == 3  # asked at 0, 25, 50 s; at 75 s the 60 s are used
    assert opt.finished
    exp = tunery.Client(db).get_experiment("timed")
    assert (exp.status, exp.reason) == (
        ExperimentCondition.SUCCEEDED,
        ExperimentReason.TIME_BUDGET_REACHED,
    )
    with pytest.raises(tunery.UserInputError, match="ExperimentTimeBudgetReached"):
        opt.ask()
    # Opened again: the time it was open before counts; the time in between does not.
    clock.advance(3600.0)
    again = tunery.Optimizer(
        SPACE, algorithm="random", seed=1, storage=db, name="timed", clock=clock, max_duration=60
    )
    with pytest.raises(tunery.UserInputError) as info:
        again.ask()
    assert "max_duration=1m is used (driven for 1m15s)" in str(info.value)
    assert driven_seconds(tunery.Client(db).store, "timed") == pytest.approx(75.0)


def test_max_duration_with_a_suggestion_running_waits_for_its_tell() -> None:
    from tunery.clock import FakeClock

    clock = FakeClock(0.0)
    opt = tunery.Optimizer(SPACE, algorithm="random", seed=2, clock=clock, max_duration="1m")
    first = opt.ask()
    clock.advance(61.0)
    assert opt.ask(3) == []
    assert not opt.finished  # one is still running: it may still be told
    opt.tell(first, 1.0)
    assert opt.ask(1) == [] and opt.finished


def test_a_bad_max_duration_is_one_line_naming_it() -> None:
    with pytest.raises(UserInputError) as info:
        tunery.Optimizer(SPACE, max_duration="soon")
    assert info.value.one_line() == (
        "max_duration: invalid duration 'soon'; "
        'write "2h", "90m", "45s", "1h30m" or a number of seconds'
    )


def test_reports_are_a_suggestions_curve_in_order_and_survive_a_reopen(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    opt = tunery.Optimizer(
        {"x": tunery.search.double(0.0, 1.0)}, algorithm="random", storage=db, name="r"
    )
    s = opt.ask()
    assert opt.reports(s) == []
    opt.report(s, 0.5, step=0)
    opt.report(s, float("nan"), step=1)
    opt.report(s, 0.25, step=2)
    opt.tell(s, 0.2)
    assert opt.reports(s) == [(0, 0.5), (1, None), (2, 0.25), (3, 0.2)]
    opt.close()
    again = tunery.Optimizer(
        {"x": tunery.search.double(0.0, 1.0)}, algorithm="random", storage=db, name="r"
    )
    assert again.reports(s.id) == [(0, 0.5), (1, None), (2, 0.25), (3, 0.2)]
    assert again.reports("r-9999") == []
    again.close()


def test_ask_tell_over_a_conditional_space() -> None:
    s = tunery.search
    space = {
        "model": s.categorical(
            {"svm": {"C": s.double(1e-3, 1e3, log=True)}, "rf": {"depth": s.int(2, 12)}}
        ),
        "epochs": 3,
    }
    opt = tunery.Optimizer(space, "random", "minimize", seed=3)
    seen = set()
    for _ in range(12):
        suggestion = opt.ask()
        params = suggestion.params
        seen.add(params["model"])
        branch = {"svm": {"C"}, "rf": {"depth"}}[str(params["model"])]
        assert set(params) == {"epochs", "model"} | branch  # inactive parameters are absent
        opt.tell(suggestion, float(params.get("C", params.get("depth", 0))))
    assert seen == {"svm", "rf"}
    best = opt.best
    assert best is not None and set(best.params) - {"epochs", "model"} in ({"C"}, {"depth"})
    # enqueue drops a value given for an inactive parameter; a missing active one is refused.
    opt.enqueue({"model": "rf", "depth": 4, "C": 1.0})
    assert opt.ask().params == {"epochs": 3, "model": "rf", "depth": 4}
    with pytest.raises(UserInputError, match="'C' has no value"):
        opt.enqueue({"model": "svm"})
    with pytest.raises(UserInputError, match="cannot search conditional parameters"):
        tunery.Optimizer(space, "cmaes")
