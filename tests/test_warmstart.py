"""Warm starts (tunery.warmstart): seeds stored as WarmStarted trials, read by the algorithms,
outside every budget; spec.initialTrials run first.  Real stores (SQLite, the in-memory one)
and real trial processes."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SCORE_IS_X, create, native_doc
from tunery.client import Client
from tunery.controller import Controller
from tunery.errors import UserInputError
from tunery.execute.local import LocalExecutor
from tunery.history import HistoryBuilder
from tunery.ledger import TrialLedger
from tunery.model import (
    INITIAL_TRIAL_LABEL,
    WARM_START_LABEL,
    ExperimentReason,
    ExperimentSpec,
    MetricSummary,
    Trial,
    TrialCondition,
    TrialReason,
)
from tunery.progress import _Tally
from tunery.space import SearchSpace
from tunery.spec import parse_document
from tunery.storage import Store
from tunery.storage.memory import InMemoryStore
from tunery.suggest import create_suggester
from tunery.warmstart import (
    Seed,
    SeedReport,
    initial_assignments,
    seed_ledger,
    seed_store,
    seeds_from_csv,
    seeds_from_trials,
    seeds_from_values,
    value_metrics,
)

XY = [
    {"name": n, "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
    for n in ("x", "y")
]
MINIMIZE_LOSS = {"type": "minimize", "objectiveMetricName": "loss"}
CORNER = (0.95, 0.95)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def xy_spec(algorithm: str, **spec: Any) -> ExperimentSpec:
    doc = native_doc(
        "w", "pass", parameters=XY, algorithm=algorithm, objective=MINIMIZE_LOSS, max_trials=20
    )
    doc["spec"].update(spec)
    return parse_document(doc)


def ledger_of(spec: ExperimentSpec) -> TrialLedger:
    """A fresh experiment of ``spec`` in an in-memory store, its ledger holding the lease."""
    memory = InMemoryStore()
    Client(store=memory).create_experiment(spec, trial_dirs=False)
    ledger = TrialLedger(memory, spec.name)
    ledger.acquire(0.0)
    ledger.load(spec.objective)
    return ledger


def corner_results() -> list[tuple[dict[str, float], float]]:
    """A 5x5 grid of results of a bowl whose minimum is the corner (0.95, 0.95)."""
    points = [0.05 + 0.225 * i for i in range(5)]
    return [({"x": x, "y": y}, math.dist((x, y), CORNER) ** 2) for x in points for y in points]


def suggestions(
    spec: ExperimentSpec, seed: int, items: Sequence[Any] | None, count: int = 1
) -> list[dict[str, Any]]:
    """The algorithm's first ``count`` suggestions, after seeding ``items`` (if any)."""
    ledger = ledger_of(spec)
    if items is not None:
        seeds = seeds_from_values(spec.objective, items, "python")
        report = seed_ledger(ledger, spec, seeds, 1.0, source="python")
        assert report.seeded == len(items) and not report.skipped
    history = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective).build(ledger.results())
    found = create_suggester(spec, seed).suggest(history, count)
    return [dict(a.parameters) for a in found]


def distance_to_corner(params: dict[str, Any]) -> float:
    return math.dist((params["x"], params["y"]), CORNER)


# --------------------------------------------------------------------------- the algorithms


@pytest.mark.parametrize("algorithm", ["tpe", "bayesianoptimization"])
def test_first_suggestion_already_uses_the_seeds(algorithm: str) -> None:
    spec = xy_spec(algorithm)
    seeded = [distance_to_corner(suggestions(spec, s, corner_results())[0]) for s in range(5)]
    unseeded = [distance_to_corner(suggestions(spec, s, None)[0]) for s in range(5)]
    # 25 seeds are past the random start-up (10 trials): the model proposes the corner at once.
    assert all(d < 0.15 for d in seeded), seeded
    # Without them the first suggestion is a start-up draw, mostly far from the corner.
    assert sum(d < 0.15 for d in unseeded) <= 1, unseeded


def test_cmaes_starts_its_first_generation_at_the_best_seeds() -> None:
    spec = xy_spec("cmaes")
    popsize = 6  # 4 + floor(3 ln 2)

    def centre(items: Sequence[Any] | None) -> tuple[float, float]:
        found = suggestions(spec, 0, items, count=popsize)
        return (
            sum(p["x"] for p in found) / len(found),
            sum(p["y"] for p in found) / len(found),
        )

    # The best 10% of 25 seeds (3) centre at (0.875, 0.875); without seeds CMA-ES starts at
    # the centre of the cube (its first members scatter around (0.5, 0.5)).
    assert math.dist(centre(corner_results()), (0.875, 0.875)) < 0.15
    assert math.dist(centre(None), (0.875, 0.875)) > 0.3


def test_nsga2_breeds_its_first_offspring_from_seeded_parents() -> None:
    doc = native_doc("mo", "pass", parameters=XY, algorithm="nsga2", max_trials=40)
    del doc["spec"]["objective"]
    doc["spec"]["objectives"] = [
        {"metric": "f1", "direction": "minimize"},
        {"metric": "f2", "direction": "minimize"},
    ]
    doc["spec"]["algorithm"]["algorithmSettings"] = [{"name": "population_size", "value": "10"}]
    spec = parse_document(doc)
    # A whole generation of seeds on the Pareto front (y = 0): f1 = x, f2 = 1 - x + 5y.
    items = [({"x": i / 9, "y": 0.0}, [i / 9, 1 - i / 9]) for i in range(10)]
    seeded = suggestions(spec, 0, items, count=10)
    unseeded = suggestions(spec, 0, None, count=10)
    assert sum(p["y"] for p in seeded) / 10 < 0.1, seeded
    assert sum(p["y"] for p in unseeded) / 10 > 0.25, unseeded


def test_grid_skips_seeded_points() -> None:
    params = [{"name": "x", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "4"}}]
    spec = parse_document(
        native_doc("g", "pass", parameters=params, algorithm="grid", max_trials=4)
    )
    found = suggestions(spec, 0, [({"x": 1}, 0.5), ({"x": 3}, 0.7)], count=4)
    assert found == [{"x": 2}, {"x": 4}]


# --------------------------------------------------------------------------- reports


def test_out_of_space_and_missing_parameters_are_skipped_and_reported() -> None:
    spec = xy_spec("random")
    ledger = ledger_of(spec)
    items = [
        ({"x": 0.5, "y": 0.5}, 1.0),
        ({"x": 2.0, "y": 0.5}, 1.0),  # outside [0, 1]
        ({"x": 0.5}, 1.0),  # y missing: the new space adds it
        ({"x": 0.1, "y": 0.2, "momentum": 0.9}, 2.0),  # momentum: not in this space
    ]
    report = seed_ledger(
        ledger, spec, seeds_from_values(spec.objective, items, "python"), 1.0, source="python"
    )
    assert (report.seeded, len(report.skipped)) == (2, 2)
    line = report.line()
    assert line.startswith("warm start from python: 2 seeded, 2 skipped (item 1: ")
    assert "2.0 is outside [0.0, 1.0]" in line
    assert "item 2: parameter 'y' has no value" in line
    assert line.endswith("not in this space, ignored: momentum")
    assert "\n" not in line
    seeds = [t for t in ledger.trials if t.reason == TrialReason.WARM_STARTED]
    assert [t.parameters for t in seeds] == [{"x": 0.5, "y": 0.5}, {"x": 0.1, "y": 0.2}]


def test_report_line_quotes_the_first_three_reasons() -> None:
    report = SeedReport("csv:a.csv", seeded=1, skipped=[f"line {i}: bad" for i in range(5)])
    assert report.line() == (
        "warm start from csv:a.csv: 1 seeded, 5 skipped (line 0: bad; line 1: bad; "
        "line 2: bad; ...)"
    )


def test_seeds_from_trials_take_only_results_and_the_metrics_collected() -> None:
    spec = xy_spec("random")
    ok = Trial(
        "old-0001",
        "old",
        1,
        {"x": 0.2, "y": 0.3},
        status=TrialCondition.SUCCEEDED,
        metrics={"loss": MetricSummary(0.1, 0.5, 0.4), "other": MetricSummary(1, 1, 1)},
        objective=0.1,
    )
    failed = Trial("old-0002", "old", 2, {"x": 0.4, "y": 0.3}, status=TrialCondition.FAILED)
    seeds = seeds_from_trials(spec.objective, [ok, failed], "experiment:old")
    assert seeds[0].metrics == {"loss": MetricSummary(0.1, 0.5, 0.4)}
    report = seed_ledger(ledger_of(spec), spec, seeds, 1.0, source="experiment:old")
    assert report.seeded == 1
    assert report.skipped == ["trial old-0002 (Failed): no result"]


def test_value_metrics_takes_what_tell_takes() -> None:
    doc = native_doc("mo", "pass", parameters=XY, algorithm="nsga2")
    del doc["spec"]["objective"]
    doc["spec"]["objectives"] = [
        {"metric": "a", "direction": "minimize"},
        {"metric": "b", "direction": "maximize"},
    ]
    doc["spec"]["constraints"] = [{"metric": "mem", "max": 5}]
    two = parse_document(doc).objective
    assert value_metrics(two, [1, 2], "v") == {"a": 1.0, "b": 2.0}
    assert value_metrics(two, {"a": 1, "b": 2, "mem": 3}, "v") == {"a": 1.0, "b": 2.0, "mem": 3.0}
    with pytest.raises(UserInputError, match=r"^v: 1 values for 2 objectives"):
        value_metrics(two, [1], "v")
    with pytest.raises(UserInputError, match=r"^v has no 'b'"):
        value_metrics(two, {"a": 1}, "v")
    with pytest.raises(UserInputError, match="2 objectives need a list or a dict"):
        value_metrics(two, 1.0, "v")
    one = xy_spec("random").objective
    with pytest.raises(UserInputError, match=r"^v must be finite"):
        value_metrics(one, math.nan, "v")
    with pytest.raises(UserInputError, match="must be a number, not None"):
        value_metrics(one, None, "v")


def test_malformed_python_seeds_are_one_line_errors() -> None:
    objective = xy_spec("random").objective
    with pytest.raises(UserInputError, match=r"^warm_start\[0\] must be a \(params, value\)"):
        seeds_from_values(objective, [0.5], "python")
    with pytest.raises(UserInputError, match=r"^warm_start\[0\]: params must be a dict"):
        seeds_from_values(objective, [([0.5], 1.0)], "python")
    dicts = seeds_from_values(objective, [{"params": {"x": 0.1, "y": 0.2}, "value": 3}], "p")
    assert dicts[0].metrics == {"loss": MetricSummary(3.0, 3.0, 3.0)}


# --------------------------------------------------------------------------- CSV


def test_csv_of_tunery_optuna_and_plain_columns(tmp_path: Path) -> None:
    spec = xy_spec("random")
    tunery_csv = tmp_path / "tunery.csv"
    tunery_csv.write_text(
        "name,index,status,reason,objective,param:x,param:y,"
        "metric:loss:min,metric:loss:max,metric:loss:latest,message\n"
        "a-0001,1,Succeeded,TrialSucceeded,0.5,0.1,0.2,0.5,0.9,0.7,ok\n"
        "a-0002,2,Failed,TrialFailed,,0.3,0.4,,,,'-boom\n"
    )
    optuna_csv = tmp_path / "optuna.csv"
    optuna_csv.write_text(
        "number,value,params_x,params_y,state\n0,0.25,0.5,0.6,COMPLETE\n1,,0.7,0.8,FAIL\n"
    )
    plain_csv = tmp_path / "plain.csv"
    plain_csv.write_text("x,y,loss,note\n0.9,0.9,0.01,best\n")
    ledger = ledger_of(spec)
    reports = [
        seed_ledger(ledger, spec, seeds_from_csv(spec, str(p)), 1.0, source=f"csv:{p.name}")
        for p in (tunery_csv, optuna_csv, plain_csv)
    ]
    assert [(r.seeded, r.skipped) for r in reports] == [
        (1, ["line 3 (Failed): no result"]),
        (1, ["line 3 (FAIL): no result"]),
        (1, []),
    ]
    seeds = [t for t in ledger.trials if t.reason == TrialReason.WARM_STARTED]
    # Every summary value of the export is kept; minimize picks min, as the source did.
    assert seeds[0].metrics["loss"] == MetricSummary(0.5, 0.9, 0.7)
    assert [t.objective for t in seeds] == [0.5, 0.25, 0.01]
    assert [t.parameters for t in seeds] == [
        {"x": 0.1, "y": 0.2},
        {"x": 0.5, "y": 0.6},
        {"x": 0.9, "y": 0.9},
    ]


def test_csv_errors_are_one_line(tmp_path: Path) -> None:
    spec = xy_spec("random")
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,loss\n0.1,0.2,lots\n")
    with pytest.raises(
        UserInputError, match=r"bad.csv line 2, column loss: 'lots' is not a number"
    ):
        seeds_from_csv(spec, str(bad))
    with pytest.raises(UserInputError, match="cannot read"):
        seeds_from_csv(spec, str(tmp_path / "missing.csv"))


# --------------------------------------------------------------------------- stored trials, budgets


def test_seeds_are_succeeded_trials_outside_the_counts(store: Store, tmp_path: Path) -> None:
    doc = native_doc("s", SCORE_IS_X, max_trials=2, parallel=1)
    exp = create(store, doc, tmp_path)
    seeds = [
        Seed({"x": x}, {"score": MetricSummary(x, x, x)}, "experiment:old") for x in (0.2, 0.4)
    ]
    report = seed_store(store, exp.key, seeds, 5.0, source="experiment:old")
    assert report.seeded == 2
    trials = store.list_trials("s")
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 2
    first = trials[0]
    assert first.reason == TrialReason.WARM_STARTED
    assert first.labels == {WARM_START_LABEL: "experiment:old"}
    assert first.message == "seeded from experiment:old"
    assert first.objective == 0.2 and first.start_time is None and first.completion_time == 5.0
    ledger = TrialLedger(store, "s")
    ledger.load(exp.spec.objective)
    assert ledger.counts.seeded == 2 and ledger.counts.completed == 0
    # The lease was given back: a controller takes the experiment at once.
    assert store.get_experiment("s").status.value == "Created"


def test_seeds_use_no_budget_and_do_not_reach_the_goal(store: Store, tmp_path: Path) -> None:
    seeded_run(store, tmp_path)


@pytest.mark.postgres
def test_seeded_run_on_postgresql(pg_fresh_url: str, tmp_path: Path) -> None:
    pg = Store(pg_fresh_url)
    try:
        seeded_run(pg, tmp_path)
    finally:
        pg.close()


def seeded_run(store: Store, tmp_path: Path) -> None:
    """A seed beyond the goal and the budget of 2: both trials still run; the seed is best."""
    # Goal 0.5 (maximize): the seed 0.99 is past it, yet two trials still run.
    objective = {"type": "maximize", "objectiveMetricName": "score", "goal": 0.5}
    doc = native_doc("b", SCORE_IS_X, max_trials=2, max_failed=0, parallel=1, objective=objective)
    doc["spec"]["parameters"][0]["feasibleSpace"] = {"min": "0", "max": "0.4"}
    exp = create(store, doc, tmp_path)
    seeds = [Seed({"x": 0.4}, {"score": MetricSummary(0.99, 0.99, 0.99)}, "python")]
    seed_store(store, exp.key, seeds, 1.0, source="python")
    Controller(store, "b", LocalExecutor(), poll_interval=0.02).run()
    done = store.get_experiment("b")
    assert done.reason == ExperimentReason.MAX_TRIALS_REACHED
    trials = store.list_trials("b")
    ran = [t for t in trials if t.reason != TrialReason.WARM_STARTED]
    assert len(trials) == 3 and len(ran) == 2
    assert all(t.start_time is not None for t in ran)
    # The best trial may be a seed (a known result of these parameters).
    from tunery.model import best_trial

    best = best_trial(done.spec.objective, trials)
    assert best is not None and best.reason == TrialReason.WARM_STARTED


def test_progress_does_not_count_seeds_as_completed() -> None:
    spec = xy_spec("random")
    tally = _Tally(spec)
    tally.add("w-0001", 1, "Succeeded", "WarmStarted", {"x": 0.1, "y": 0.1}, 0.3, None, 1.0)
    tally.add("w-0002", 2, "Succeeded", "TrialSucceeded", {"x": 0.2, "y": 0.1}, 0.5, 1.0, 2.0)
    snapshot = tally.snapshot(spec, "w", ())
    assert (snapshot.completed, snapshot.succeeded, snapshot.seeded) == (1, 1, 1)
    assert snapshot.best_name == "w-0001"  # minimize: the seed is best


# --------------------------------------------------------------------------- initialTrials


def test_initial_trials_run_first_and_in_order(store: Store, tmp_path: Path) -> None:
    initial = [{"x": 0.3}, {"x": 0.1}, {"x": 0.2}]
    doc = native_doc(
        "i", SCORE_IS_X, max_trials=5, parallel=2, extra_spec={"initialTrials": initial}
    )
    create(store, doc, tmp_path)
    Controller(store, "i", LocalExecutor(), poll_interval=0.02).run()
    trials = store.list_trials("i")
    assert len(trials) == 5
    assert [t.parameters for t in trials[:3]] == initial
    assert [t.labels.get(INITIAL_TRIAL_LABEL) for t in trials] == ["0", "1", "2", None, None]
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials)
    # They ran: they are trials of the budget, not seeds.
    assert all(t.reason == TrialReason.SUCCEEDED for t in trials)


def test_initial_assignments_are_the_ones_not_created_yet() -> None:
    spec = xy_spec("random", initialTrials=[{"x": 0.1, "y": 0.2}, {"x": "0.3", "y": 0.4}])
    space = SearchSpace.from_spec(spec)
    first = initial_assignments(spec, space, [])
    assert [a.parameters for a in first] == [{"x": 0.1, "y": 0.2}, {"x": 0.3, "y": 0.4}]
    made = Trial("w-0001", "w", 1, first[0].parameters, labels=first[0].labels)
    assert [a.labels for a in initial_assignments(spec, space, [made])] == [
        {INITIAL_TRIAL_LABEL: "1"}
    ]
    assert initial_assignments(xy_spec("random"), space, []) == []


def test_seeding_again_adds_only_what_is_new() -> None:
    spec = xy_spec("random")
    ledger = ledger_of(spec)
    items = corner_results()[:4]
    seeds = seeds_from_values(spec.objective, items, "csv:a.csv")
    # As after a crash part-way through: two of the four are stored.
    assert seed_ledger(ledger, spec, seeds[:2], 1.0, source="csv:a.csv").seeded == 2
    again = seed_ledger(ledger, spec, seeds, 2.0, source="csv:a.csv")
    assert (again.seeded, again.before) == (2, 2)
    assert again.line() == "warm start from csv:a.csv: 2 seeded, 2 seeded before"
    # Another source, or another value of the same configuration, is a new seed.
    other = seeds_from_values(spec.objective, [(items[0][0], 5.0)], "csv:a.csv")
    assert seed_ledger(ledger, spec, other, 3.0, source="csv:a.csv").seeded == 1
    python = seeds_from_values(spec.objective, items[:1], "python")
    assert seed_ledger(ledger, spec, python, 3.0, source="python").seeded == 1
    assert len(ledger.trials) == 6
