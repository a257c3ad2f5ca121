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


def scored(parameters: dict) -> None:
    print(f"score={parameters['x']}")


def test_time_budget_and_seeds_as_every_face_shows_them(tmp_path: Path) -> None:
    space = {"x": tunery.search.double(0, 1)}
    common = {"storage": str(tmp_path / "t.db"), "runs_dir": str(tmp_path / "runs")}
    handle = tunery.tune(scored, space, "score", name="timed", max_trial_count=2,
                         max_duration="1h", duration_policy="LetFinish", wait=True,
                         progress=False, **common)  # fmt: skip
    budget = handle.time_budget
    assert budget is not None and (budget["maxSeconds"], budget["policy"]) == (3600, "LetFinish")
    assert 0 < budget["drivenSeconds"] < 60
    assert budget["remainingSeconds"] == round(3600 - budget["drivenSeconds"], 3)
    from tunery.cli._common import _experiment_json

    got = _experiment_json(handle.experiment, handle.trials, handle.client.store)
    assert got["timeBudget"] == budget  # tunery get --json's
    html = handle._repr_html_()
    assert "time budget: " in html and " of 1h00m driven, " in html and "(LetFinish)" in html
    assert "seeded" not in html

    seeded = tunery.tune(scored, space, "score", name="seeded", max_trial_count=1,
                         warm_start=[({"x": 0.5}, 0.5)], wait=True, progress=False,
                         **common)  # fmt: skip
    assert seeded.time_budget is None
    html = seeded._repr_html_()
    assert "<th>seeded (not run)</th>" in html and "time budget" not in html
    assert "1/1 trials completed" in html  # the seed is no trial completed
