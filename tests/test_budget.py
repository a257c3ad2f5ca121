"""An experiment's budget: the extension rules (tunery.budget), live edits of a running
controller (Client.edit_experiment_budget) and extensions that continue the same search, with
real trial subprocesses and a real SQLite store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers import SCORE_IS_X, native_doc
from tunery.budget import checkpoints_gone, whole_number, with_budget
from tunery.client import Client, ResumeAction
from tunery.errors import SpecError, UserInputError
from tunery.model import ExperimentCondition, ExperimentReason, IntentKind, TrialCondition

#: A trial that records when it ran (a JSON line [start, end] in SPANS) and reports score=x.
_SPAN = """
import json, sys, time
x = float(sys.argv[1].split("=", 1)[1])
start = time.time()
time.sleep({sleep})
with open({spans!r}, "a") as fh:
    fh.write(json.dumps([start, time.time()]) + "\\n")
print(f"score={{x}}", flush=True)
"""


def _client(tmp_path: Path, doc: dict[str, object]) -> Client:
    client = Client(str(tmp_path / "tunery.db"))
    client.create_experiment(doc, base_dir=str(tmp_path), runs_dir=str(tmp_path / "runs"))
    return client


def _spans(path: Path) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in map(json.loads, path.read_text().splitlines())]


def _peak(spans: list[tuple[float, float]], after: float = 0.0) -> int:
    """The most trials that ran at once (counting only time after ``after``)."""
    events = sorted(
        [(max(s, after), 1) for s, e in spans if e > after]
        + [(e, -1) for s, e in spans if e > after]
    )
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# --------------------------------------------------------------------------- the rules


def test_budget_values_are_whole_numbers_named_by_their_field() -> None:
    assert whole_number(5, "max_trial_count", 1) == 5
    assert whole_number(5.0, "parallel_trial_count", 1) == 5
    assert whole_number(0, "max_failed_trial_count", 0) == 0
    for value, match in [
        (0, "maxTrialCount must be at least 1, not 0"),
        ("7", "maxTrialCount must be a whole number, not '7'"),
        (2.5, "maxTrialCount must be a whole number, not 2.5"),
        (False, "maxTrialCount must be a whole number, not False"),
        (None, "maxTrialCount must be a whole number, not None"),
    ]:
        with pytest.raises(UserInputError, match=match) as caught:
            whole_number(value, "max_trial_count", 1)
        assert "max_trial_count=" in caught.value.one_line()
        assert "--max-trials" in caught.value.one_line()


def test_with_budget_validates_as_a_document_would(tmp_path: Path) -> None:
    spec = (
        _client(tmp_path, native_doc("b", SCORE_IS_X, parallel=2, max_trials=4))
        .get_experiment("b")
        .spec
    )
    assert with_budget(spec) is spec
    assert with_budget(spec, max_trial_count=9, parallel_trial_count=None).max_trial_count == 9
    with pytest.raises(SpecError, match=r"spec\.parallelTrialCount"):
        with_budget(spec, parallel_trial_count=5)
    with pytest.raises(SpecError, match=r"spec\.maxFailedTrialCount: should not be less than 0"):
        with_budget(spec, max_failed_trial_count=-1)


def test_pbt_checkpoints_all_deleted_is_state_gone(tmp_path: Path) -> None:
    import shutil

    from tunery.ledger import TrialLedger
    from tunery.model import Assignment

    doc = native_doc(
        "pbt",
        SCORE_IS_X,
        algorithm="random",
        max_trials=2,
        extra_spec={"resumePolicy": "FromVolume"},
    )
    client = _client(tmp_path, doc)
    exp = client.get_experiment("pbt")
    assert checkpoints_gone(exp, []) is None  # no checkpoints: nothing to lose
    # The same experiment whose trials get checkpoint directories (pbt's setting).
    from dataclasses import replace

    from tunery.model import AlgorithmSetting

    algorithm = replace(
        exp.spec.algorithm,
        algorithm_settings=(
            AlgorithmSetting("suggestion_trial_dir", "/var/log/katib/checkpoints/"),
        ),
    )
    exp = replace(exp, spec=replace(exp.spec, algorithm=algorithm))
    ledger = TrialLedger(client.store, "pbt")
    ledger.load(exp.spec.objective)
    trial = ledger.create_trial(Assignment({"x": 0.5}), 1.0)
    trial, _ = ledger.transition(
        trial, [TrialCondition.CREATED], status=TrialCondition.SUCCEEDED, start_time=1.0
    )
    root = tmp_path / "runs" / "pbt" / "checkpoints"
    (root / trial.name).mkdir(parents=True)
    assert checkpoints_gone(exp, [trial]) is None
    shutil.rmtree(root)
    assert checkpoints_gone(exp, [trial]) == str(root)


# --------------------------------------------------------------------------- live edits


@pytest.mark.slow
def test_raising_parallelism_live_starts_more_trials_at_once(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    script = _SPAN.format(sleep=1.0, spans=str(spans))
    client = _client(tmp_path, native_doc("wider", script, parallel=1, max_trials=7))
    handle = client.run_experiment("wider", wait=False)  # the controller in a thread
    _wait_for(lambda: any(t.status is TrialCondition.RUNNING for t in handle.trials))
    assert len(handle.trials) == 1
    edited = client.edit_experiment_budget("wider", parallel_trial_count=3)
    edited_at = time.time()
    assert edited.spec.parallel_trial_count == 3 and edited.status.value == "Running"
    handle.wait(timeout=120)
    exp = client.get_experiment("wider")
    assert (exp.status, exp.reason) == (ExperimentCondition.SUCCEEDED, "ExperimentMaxTrialsReached")
    trials = client.list_trials("wider")
    assert [t.index for t in trials] == list(range(1, 8))
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)
    got = _spans(spans)
    assert _peak(got, after=edited_at) == 3
    assert not client.store.pending_intents("wider")  # the controller took the edit


@pytest.mark.slow
def test_lowering_max_trials_live_ends_it_sooner_without_killing(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    script = _SPAN.format(sleep=0.4, spans=str(spans))
    client = _client(tmp_path, native_doc("shorter", script, parallel=2, max_trials=40))
    handle = client.run_experiment("shorter", wait=False)
    _wait_for(lambda: sum(t.status.is_completed for t in handle.trials) >= 2)
    edited = client.edit_experiment_budget("shorter", max_trial_count=8)
    assert edited.spec.max_trial_count == 8
    handle.wait(timeout=120)
    exp = client.get_experiment("shorter")
    assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
    assert "max trial count (8)" in (exp.message or "")
    trials = client.list_trials("shorter")
    assert len(trials) == 8 and len(_spans(spans)) == 8
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)


@pytest.mark.slow
def test_a_budget_below_running_trials_waits_for_them(tmp_path: Path) -> None:
    """Through the client, a maxTrialCount below the trials running is refused; stored anyway
    (what an edit racing with new trials can leave), the controller lets the running trials
    finish and then ends: it never kills a trial for a budget."""
    from dataclasses import replace

    from tunery.spec import to_document

    spans = tmp_path / "spans.jsonl"
    script = _SPAN.format(sleep=1.5, spans=str(spans))
    client = _client(tmp_path, native_doc("racy", script, parallel=3, max_trials=10))
    handle = client.run_experiment("racy", wait=False)
    _wait_for(lambda: sum(t.status is TrialCondition.RUNNING for t in handle.trials) == 3)
    with pytest.raises(UserInputError, match=r"below the 3 trials .* \(0 completed, 3 running\)"):
        client.edit_experiment_budget("racy", max_trial_count=1)
    spec = replace(client.get_experiment("racy").spec, max_trial_count=1, parallel_trial_count=1)
    client.store.update_experiment_spec("racy", spec, to_document(spec))
    client.store.add_intent("racy", IntentKind.UPDATE_BUDGET, None, time.time())
    handle.wait(timeout=120)
    trials = client.list_trials("racy")
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 3
    assert len(_spans(spans)) == 3
    assert client.get_experiment("racy").reason == ExperimentReason.MAX_TRIALS_REACHED


@pytest.mark.slow
def test_editing_a_completed_experiment_extends_it(tmp_path: Path) -> None:
    client = _client(tmp_path, native_doc("more", SCORE_IS_X, parallel=2, max_trials=2))
    client.run_experiment("more")
    exp = client.edit_experiment_budget("more", max_trial_count=5, parallel_trial_count=1)
    assert (exp.status.value, exp.reason) == ("Restarting", "ExperimentRestarting")
    assert exp.completion_time is None
    assert not client.store.pending_intents("more")  # nothing to tell: no controller runs it
    client.run_experiment("more")
    trials = client.list_trials("more")
    assert [t.index for t in trials] == [1, 2, 3, 4, 5]
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)
    assert client.get_experiment("more").status is ExperimentCondition.SUCCEEDED


# --------------------------------------------------------------------------- the same search


@pytest.mark.slow
def test_an_extended_grid_continues_where_it_left(tmp_path: Path) -> None:
    params = [{"name": "x", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "8"}}]
    script = "import sys; print('score=' + sys.argv[1].split('=')[1])"
    doc = native_doc("grid", script, parameters=params, algorithm="grid", parallel=2, max_trials=4)
    client = _client(tmp_path, doc)
    client.run_experiment("grid")
    first = [t.parameters["x"] for t in client.list_trials("grid")]
    assert client.resume("grid", max_trials=8).action is ResumeAction.EXTEND
    client.run_experiment("grid")
    trials = client.list_trials("grid")
    assert [t.index for t in trials] == list(range(1, 9))
    assert [t.parameters["x"] for t in trials][:4] == first
    assert sorted(t.parameters["x"] for t in trials) == list(range(1, 9))  # no repeat
    assert client.get_experiment("grid").reason == ExperimentReason.MAX_TRIALS_REACHED


@pytest.mark.slow
def test_an_extended_bayesian_search_sees_the_old_trials(tmp_path: Path) -> None:
    """The extension's suggestions come from a History holding every earlier trial: the GP's
    saved state says how many trials it was last fitted on."""
    doc = native_doc("bo", SCORE_IS_X, algorithm="bayesianoptimization", parallel=1, max_trials=4)
    doc["spec"]["algorithm"]["algorithmSettings"] = [
        {"name": "n_initial_points", "value": "2"},
        {"name": "random_state", "value": "7"},
    ]
    client = _client(tmp_path, doc)
    client.run_experiment("bo")
    before = client.list_trials("bo")
    state = client.store.load_algorithm_state("bo")
    assert state is not None and state["fitted_at"] == 3  # the 4th suggestion saw 3 trials
    assert client.resume("bo", max_trials=6).action is ResumeAction.EXTEND
    client.run_experiment("bo")
    trials = client.list_trials("bo")
    assert [t.name for t in trials[:4]] == [t.name for t in before]
    assert [t.index for t in trials] == list(range(1, 7))
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)
    # The 6th suggestion was fitted on the 5 trials before it, the first four included.
    state = client.store.load_algorithm_state("bo")
    assert state is not None and state["fitted_at"] == 5
    olds = {t.parameters["x"] for t in before}
    assert all(t.parameters["x"] not in olds for t in trials[4:])
