"""The one wire format (tunery.wire), and the faces that speak it: the CLI's --json and CSV
export, and the UI's API, over the same stored experiment."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.helpers import create, native_doc
from tunery import wire
from tunery.cli import main
from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.storage import Store, views

TRIAL_KEYS = [
    "name",
    "index",
    "status",
    "reason",
    "message",
    "parameters",
    "metrics",
    "objective",
    "labels",
    "createdTime",
    "startTime",
    "completionTime",
    "metricsPath",
]
#: What every face shows of a trial: the base shape plus its objective values and feasibility.
FACE_TRIAL_KEYS = [*TRIAL_KEYS, "objectives", "feasible"]
EXPERIMENT_KEYS = [
    "name",
    "namespace",
    "status",
    "reason",
    "message",
    "algorithm",
    "objective",
    "parameters",
    "parallelTrialCount",
    "maxTrialCount",
    "best",
    "trials",
    "createdTime",
    "startTime",
    "completionTime",
    "objectives",
    "constraints",
]

PARAMS = [
    {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.00001", "max": "1"}},
    {"name": "layers", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "8"}},
    {
        "name": "opt",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["sgd", "=HYPERLINK(1)", 'a,b "c"']},
    },
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'wire.db'}")
    doc = native_doc(
        "wired",
        "print('score=1')",
        parameters=PARAMS,
        objective={
            "type": "minimize",
            "objectiveMetricName": "loss",
            "additionalMetricNames": ["acc"],
        },
    )
    create(store, doc, tmp_path)
    trials = [
        Trial(
            name="wired-0001",
            experiment="wired",
            index=1,
            parameters={"lr": 1e-05, "layers": 3, "opt": "=HYPERLINK(1)"},
            status=TrialCondition.SUCCEEDED,
            reason="TrialSucceeded",
            labels={"tunery.dev/generation": "0"},
            metrics={
                "loss": MetricSummary(0.25, 0.75, 0.5),
                "acc": MetricSummary(0.5, 0.875, 0.875),
            },
            objective=0.25,
            created_time=1_700_000_000.1234,
            start_time=1_700_000_001.0,
            completion_time=1_700_000_009.9999,
            cursor={"source": str(Path("runs") / "wired" / "wired-0001" / "output.log")},
        ),
        Trial(
            name="wired-0002",
            experiment="wired",
            index=2,
            parameters={"lr": 0.5, "layers": 8, "opt": 'a,b "c"'},
            status=TrialCondition.FAILED,
            reason="ExitCode",
            message="exit code 1: ValueError: -1 is not allowed",
            metrics={"loss": MetricSummary(None, None, None)},
            created_time=1_700_000_002.0,
            start_time=1_700_000_003.0,
            completion_time=1_700_000_004.0,
        ),
        Trial(
            name="wired-0003",
            experiment="wired",
            index=3,
            parameters={"lr": 0.125, "layers": 1, "opt": "sgd"},
            created_time=1_700_000_005.0,
        ),
    ]
    for t in trials:
        store.create_trial(t)
    yield store
    store.close()


def _cli(store: Store, *args: str) -> bytes:
    result = CliRunner().invoke(main, [*args, "--db", str(store.url)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def _client(store: Store) -> Any:
    from fastapi.testclient import TestClient

    from tunery.ui import create_app

    return TestClient(create_app(store, "t" * 32), base_url="http://127.0.0.1")


# --------------------------------------------------------------------------- time


def test_iso_is_utc_to_the_millisecond() -> None:
    assert wire.iso(None) is None
    assert wire.iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert wire.iso(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"
    # Rounded to the microsecond first (as datetime does), then cut to milliseconds.
    assert wire.iso(1_700_000_000.9999996) == "2023-11-14T22:13:21.000Z"
    assert wire.iso(-0.5) == "1969-12-31T23:59:59.500Z"
    assert wire.iso(1e20) is None  # no calendar date holds it


# --------------------------------------------------------------------------- shapes


def test_a_trial_has_one_shape_read_one_by_one_or_in_bulk(store: Store) -> None:
    rows = {r.name: wire.trial_row_json(r) for r in views.trial_rows(store, "wired").rows}
    for t in store.list_trials("wired"):
        data = wire.trial_json(t)
        assert list(data) == TRIAL_KEYS
        assert rows[t.name] == data
    first = rows["wired-0001"]
    assert first["metrics"]["acc"] == {"min": 0.5, "max": 0.875, "latest": 0.875}
    assert first["labels"] == {"tunery.dev/generation": "0"}
    assert first["metricsPath"] == str(Path("runs") / "wired" / "wired-0001" / "output.log")
    assert first["createdTime"] == "2023-11-14T22:13:20.123Z"
    unstarted = rows["wired-0003"]
    assert (unstarted["startTime"], unstarted["metricsPath"], unstarted["labels"]) == (
        None,
        None,
        {},
    )


def test_counts_name_every_condition(store: Store) -> None:
    counts = wire.count_statuses(store.list_trials("wired"))
    assert set(counts) == {c.value for c in TrialCondition}
    assert wire.trial_counts(counts) == {
        "total": 3,
        "succeeded": 1,
        "failed": 1,
        "running": 1,  # Created counts as running
        "earlyStopped": 0,
        "killed": 0,
        "metricsUnavailable": 0,
    }
    assert wire.trial_counts({}) == dict.fromkeys(wire.trial_counts(counts), 0)
    store_counts = {c.value: n for c, n in views.count_trials(store, "wired").items()}
    assert store_counts == counts


def test_an_experiment_has_one_shape(store: Store) -> None:
    exp = store.get_experiment("wired")
    data = wire.experiment_json(exp, {"Succeeded": 2, "Running": 1}, 0.25)
    assert list(data) == EXPERIMENT_KEYS
    assert data["objective"] == {
        "type": "minimize",
        "objectiveMetricName": "loss",
        "goal": None,
        "additionalMetricNames": ["acc"],
    }
    assert [p["name"] for p in data["parameters"]] == ["lr", "layers", "opt"]
    assert data["trials"]["total"] == 3 and data["trials"]["running"] == 1
    assert data["createdTime"] == "1970-01-01T00:00:00.000Z" and data["startTime"] is None
    with_best = wire.experiment_json(exp, {}, None, None)
    assert list(with_best) == [*EXPERIMENT_KEYS, "bestTrial"] and with_best["bestTrial"] is None
    assert data["objectives"] == [{"metric": "loss", "direction": "minimize", "goal": None}]
    assert data["constraints"] == []


def test_a_trial_with_its_objective_adds_objectives_and_feasible(store: Store) -> None:
    exp = store.get_experiment("wired")
    objective = exp.spec.objective
    rows = {r.name: r for r in views.trial_rows(store, "wired").rows}
    for t in store.list_trials("wired"):
        data = wire.trial_json(t, objective)
        assert list(data) == FACE_TRIAL_KEYS
        assert wire.trial_row_json(rows[t.name], objective) == data
        expected = None if t.objective is None else [t.objective]
        assert data["objectives"] == expected and data["feasible"] is None


def test_multi_objective_fields_in_bulk_and_one_by_one(store: Store) -> None:
    from dataclasses import replace

    from tunery.model import Constraint, MetricStrategyType, ObjectiveTerm, ObjectiveType
    from tunery.objectives import front_summary

    exp = store.get_experiment("wired")
    terms = (
        ObjectiveTerm("loss", ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
        ObjectiveTerm("acc", ObjectiveType.MAXIMIZE, 0.9, MetricStrategyType.MAX),
    )
    objective = replace(
        exp.spec.objective,
        metric_strategies=(),  # the terms' strategies decide
        terms=terms,
        constraints=(Constraint("acc", min=0.6),),
    )
    rows = {r.name: r for r in views.trial_rows(store, "wired").rows}
    trials = store.list_trials("wired")
    for t in trials:
        assert wire.trial_row_json(rows[t.name], objective) == wire.trial_json(t, objective)
    first = wire.trial_json(trials[0], objective)
    assert first["objectives"] == [0.25, 0.875] and first["feasible"] is True
    assert wire.trial_json(trials[1], objective)["feasible"] is None  # no acc yet
    mo = replace(exp, spec=replace(exp.spec, objective=objective))
    data = wire.experiment_json(mo, {}, None, front=front_summary(objective, trials))
    assert data["objectives"][1] == {"metric": "acc", "direction": "maximize", "goal": 0.9}
    assert data["constraints"] == [{"metric": "acc", "min": 0.6, "max": None}]
    assert data["paretoFront"] == ["wired-0001"]
    assert data["referencePoint"] == pytest.approx([0.25 + 0.1 * 1, 0.875 - 0.1 * 1])
    assert data["hypervolume"] == pytest.approx(0.1 * 0.1)


# --------------------------------------------------------------------------- CSV


def test_csv_columns_values_and_quoting(store: Store) -> None:
    exp = store.get_experiment("wired")
    text = wire.csv_text(exp, [wire.trial_json(t) for t in store.list_trials("wired")])
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "name",
        "index",
        "status",
        "reason",
        "objective",
        "param:lr",
        "param:layers",
        "param:opt",
        "metric:loss:min",
        "metric:loss:max",
        "metric:loss:latest",
        "metric:acc:min",
        "metric:acc:max",
        "metric:acc:latest",
        "createdTime",
        "startTime",
        "completionTime",
        "message",
    ]
    first, failed, created = rows[1:]
    assert first[:7] == ["wired-0001", "1", "Succeeded", "TrialSucceeded", "0.25", "1e-05", "3"]
    assert first[7] == "'=HYPERLINK(1)"  # a formula, quoted for spreadsheets
    assert first[8:14] == ["0.25", "0.75", "0.5", "0.5", "0.875", "0.875"]
    assert first[14:] == [
        "2023-11-14T22:13:20.123Z",
        "2023-11-14T22:13:21.000Z",
        "2023-11-14T22:13:29.999Z",
        "",
    ]
    assert failed[7] == 'a,b "c"'
    assert failed[8:14] == [""] * 6  # no value, and no acc summary at all
    assert failed[-1] == "exit code 1: ValueError: -1 is not allowed"
    assert created[2:5] == ["Created", "", ""]


def test_cli_and_ui_export_byte_identical_csv(store: Store) -> None:
    from_cli = _cli(store, "export", "wired", "-o", "csv")
    response = _client(store).get("/api/experiments/wired/trials.csv")
    assert response.status_code == 200
    assert response.content == from_cli
    assert from_cli.startswith(b"name,index,status,reason,objective,param:lr,")
    assert from_cli.count(b"\r\n") == 4


def test_cli_json_and_the_ui_api_share_the_trial_shape(store: Store) -> None:
    from_trials = json.loads(_cli(store, "trials", "wired", "--json"))
    from_get = json.loads(_cli(store, "get", "wired", "--json"))
    from_list = json.loads(_cli(store, "list", "--json"))
    from_best = json.loads(_cli(store, "best", "wired", "--json"))
    client = _client(store)
    from_api = client.get("/api/experiments/wired/trials").json()["trials"]
    from_export = client.get("/api/experiments/wired/trials.json").json()
    detail = client.get("/api/experiments/wired").json()
    one = client.get("/api/experiments/wired/trials/wired-0001").json()

    assert [list(t) for t in from_trials] == [FACE_TRIAL_KEYS] * 3
    assert from_api == from_trials == from_export
    assert from_get["bestTrial"] == from_best == detail["bestTrial"] == from_trials[0]
    assert {k: one[k] for k in FACE_TRIAL_KEYS} == from_trials[0]
    # The experiment: the CLI's (with bestTrial) is the API's, key for key.
    assert from_list == [from_get]
    assert list(from_get) == [*EXPERIMENT_KEYS, "bestTrial"]
    assert {k: detail[k] for k in from_get} == from_get
    listed = client.get("/api/experiments").json()
    assert listed == [{k: v for k, v in from_get.items() if k != "bestTrial"}]
