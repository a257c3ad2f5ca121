"""``ExperimentHandle`` with several objectives or constraints: ``best_trials``,
``pareto_front()``, and ``best_trial`` refusing in one line (real trials, real SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunery
from tests.test_cli_front import brute_front, mo_doc
from tunery import wire
from tunery.errors import TuneryError


def test_best_trials_is_the_pareto_front(tmp_path: Path) -> None:
    client = tunery.Client(str(tmp_path / "t.db"))
    client.create_experiment(mo_doc("sdk", max_trials=6), base_dir=str(tmp_path))
    handle = client.run_experiment("sdk", progress=False)
    trials = handle.trials
    expected = brute_front([wire.trial_json(t) for t in trials])
    assert [t.name for t in handle.best_trials] == expected and expected
    assert handle.pareto_front() == handle.best_trials
    with pytest.raises(TuneryError) as info:
        _ = handle.best_trial
    assert "best_trials" in str(info.value) and "\n" not in str(info.value)
    if _has_pandas():
        assert "feasible" in handle.trials_dataframe().columns


def test_single_objective_with_a_constraint_has_a_best_feasible_trial(tmp_path: Path) -> None:
    doc = mo_doc("one", max_trials=6)
    del doc["spec"]["objectives"]
    client = tunery.Client(str(tmp_path / "t.db"))
    client.create_experiment(doc, base_dir=str(tmp_path))
    handle = client.run_experiment("one", progress=False)
    feasible = [t for t in handle.trials if t.parameters["x"] <= 0.8]  # type: ignore[operator]
    best = handle.best_trial
    if feasible:
        assert best is not None
        assert best.objective == max(t.objective for t in feasible)  # type: ignore[type-var]
        assert handle.best_trials == [best]
    else:
        assert best is None and handle.best_trials == []


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True
