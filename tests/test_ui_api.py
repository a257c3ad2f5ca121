"""The UI's JSON API on a real SQLite store filled by a real experiment (trial subprocesses)."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from tests.helpers import create, native_doc
from tests.test_spec_loading import BOMB
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.storage import Store, TrialChange
from tunery.ui.app import create_app
from tunery.ui.importance import METHOD_NAME, METHODS
from tunery.ui.routes.experiments import ImportanceMethod
from tunery.ui.routes.trials import LOG_TAIL_BYTES

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: The app answers loopback Host names only (TestClient's default is "testserver").
LOCAL = "http://127.0.0.1"
EVIL = "<img src=x onerror=alert(1)>"

#: Trials print a learning curve of three steps; the objective is x (+0.5 for "adam").
SCRIPT = """
import sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
x = float(args["x"])
bonus = 0.5 if args["opt"] == "adam" else 0.0
for step in range(3):
    print(f"step={step} score={(x + bonus) * (step + 1) / 3} loss={1 - x}", flush=True)
"""

PARAMS = [
    {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
    {
        "name": "opt",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["sgd", "adam", EVIL]},
    },
]


def _doc(name: str, max_trials: int = 10) -> dict[str, Any]:
    return native_doc(
        name,
        SCRIPT,
        parameters=copy.deepcopy(PARAMS),
        objective={
            "type": "maximize",
            "objectiveMetricName": "score",
            "additionalMetricNames": ["loss"],
        },
        parallel=4,
        max_trials=max_trials,
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    tmp = tmp_path_factory.mktemp("ui")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    create(store, _doc("demo"), tmp)
    Controller(store, "demo", LocalExecutor(), poll_interval=0.02).run()
    yield store, tmp
    store.close()


@pytest.fixture(scope="module")
def client(filled: tuple[Store, Path]) -> TestClient:
    store, tmp = filled
    app = create_app(store, TOKEN, runs_dir=str(tmp / "created-runs"), base_dir=str(tmp))
    return TestClient(app, base_url=LOCAL)


@pytest.fixture
def store(filled: tuple[Store, Path]) -> Store:
    return filled[0]


def _add_trial(store: Store, exp: str, index: int, status: TrialCondition, **kw: Any) -> str:
    name = f"{exp}-x{index:04d}"
    store.create_trial(
        Trial(
            name=name,
            experiment=exp,
            index=index,
            parameters={"x": 0.25, "opt": "sgd"},
            status=status,
            created_time=1000.0 + index,
            **kw,
        )
    )
    return name


def _created_experiment(client: TestClient, name: str) -> None:
    text = yaml.safe_dump(_doc(name))
    response = client.post("/api/experiments", content=text, headers=AUTH)
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- reads


def test_list_experiments(client: TestClient, store: Store) -> None:
    data = client.get("/api/experiments").json()
    demo = next(e for e in data if e["name"] == "demo")
    trials = store.list_trials("demo")
    assert demo["status"] == "Succeeded"
    assert demo["reason"] == "ExperimentMaxTrialsReached"
    assert demo["algorithm"] == "random"
    assert demo["objective"]["objectiveMetricName"] == "score"
    assert demo["objective"]["additionalMetricNames"] == ["loss"]
    assert demo["trials"]["total"] == 10 and demo["trials"]["succeeded"] == 10
    assert demo["best"] == max(t.objective for t in trials if t.objective is not None)
    assert demo["createdTime"].endswith("Z") and demo["completionTime"] is not None
    assert [p["name"] for p in demo["parameters"]] == ["x", "opt"]


def test_interrupted_experiment_is_shown_interrupted(client: TestClient, store: Store) -> None:
    from tunery.model import ExperimentCondition, ExperimentReason

    _created_experiment(client, "halted")
    # What a controller stopped by Ctrl-C writes (Controller.interrupt).
    store.set_experiment_status(
        "halted",
        ExperimentCondition.RUNNING,
        ExperimentReason.INTERRUPTED.value,
        "Experiment was interrupted; `tunery resume halted` continues it",
    )
    listed = next(e for e in client.get("/api/experiments").json() if e["name"] == "halted")
    detail = client.get("/api/experiments/halted").json()
    for data in (listed, detail):
        assert data["status"] == "Interrupted"
        assert data["reason"] == "ExperimentInterrupted"
    store.delete_experiment("halted")


def test_get_experiment_detail(client: TestClient, store: Store) -> None:
    data = client.get("/api/experiments/demo").json()
    document = yaml.safe_load(data["yaml"])
    assert document == dict(store.get_experiment("demo").document)
    best = data["bestTrial"]
    assert best["objective"] == data["best"]
    params = data["bestHyperparameters"]["parameters"]
    assert params == best["parameters"]
    assert data["bestHyperparameters"]["trial"] == best["name"]
    assert yaml.safe_load(data["bestHyperparameters"]["yaml"]) == params
    cli = data["bestHyperparameters"]["cli"]
    assert cli.startswith("--x=") or cli.startswith("'--x=")
    assert "--opt=" in cli
    assert data["stopRequested"] is False


def test_trials_have_the_cli_shape_and_values(client: TestClient, store: Store) -> None:
    data = client.get("/api/experiments/demo/trials").json()
    assert data["full"] is True and data["matched"] == 10
    assert data["counts"]["Succeeded"] == 10
    by_name = {t["name"]: t for t in data["trials"]}
    for trial in store.list_trials("demo"):
        got = by_name[trial.name]
        # tunery trials --json keys, and more
        for key in ("name", "status", "parameters", "metrics", "objective", "startTime"):
            assert key in got
        assert got["index"] == trial.index
        assert got["parameters"] == dict(trial.parameters)
        assert got["objective"] == trial.objective
        assert got["metrics"]["score"] == trial.metrics["score"].to_json()
    assert [t["index"] for t in data["trials"]] == sorted(by_name[n]["index"] for n in by_name)


def test_filter_sort_limit(client: TestClient, store: Store) -> None:
    trials = store.list_trials("demo")
    data = client.get("/api/experiments/demo/trials?sort=-objective&limit=3").json()
    assert data["matched"] == 10
    want = sorted(trials, key=lambda t: (-(t.objective or 0), t.index))[:3]
    assert [t["name"] for t in data["trials"]] == [t.name for t in want]
    data = client.get("/api/experiments/demo/trials?sort=param:x&offset=8").json()
    assert [t["parameters"]["x"] for t in data["trials"]] == sorted(
        float(t.parameters["x"]) for t in trials
    )[8:]
    data = client.get("/api/experiments/demo/trials?sort=-metric:loss&limit=1").json()
    assert data["trials"][0]["metrics"]["loss"]["latest"] == max(
        t.metrics["loss"].latest or 0.0 for t in trials
    )
    data = client.get("/api/experiments/demo/trials?status=Failed,Killed").json()
    assert data["trials"] == [] and data["matched"] == 0


def test_trial_detail_with_observations_and_log(client: TestClient, store: Store) -> None:
    trial = store.list_trials("demo")[0]
    data = client.get(f"/api/experiments/demo/trials/{trial.name}").json()
    assert data["name"] == trial.name and data["status"] == "Succeeded"
    assert data["reason"] == trial.reason
    assert [o["step"] for o in data["observations"]["score"]] == [0, 1, 2]
    assert [o["step"] for o in data["observations"]["loss"]] == [0, 1, 2]
    assert data["observations"]["score"][-1]["value"] == trial.metrics["score"].latest
    assert "step=2 score=" in data["log"]["text"]
    assert data["log"]["truncated"] is False


def test_bulk_observations_are_every_trials_curve(client: TestClient, store: Store) -> None:
    data = client.get("/api/experiments/demo/observations").json()
    assert data["metric"] == "score" and data["full"] is True  # the objective by default
    assert data["counts"] == client.get("/api/experiments/demo/trials").json()["counts"]
    with_curves = [t for t in store.list_trials("demo") if t.name.startswith("demo-0")]
    assert [c["name"] for c in data["trials"]] == [t.name for t in with_curves]
    for curve, trial in zip(data["trials"], with_curves, strict=True):
        one = client.get(f"/api/experiments/demo/trials/{trial.name}").json()
        assert curve["index"] == trial.index and curve["status"] == trial.status.value
        assert curve["steps"] == [o["step"] for o in one["observations"]["score"]] == [0, 1, 2]
        assert curve["values"] == [o["value"] for o in one["observations"]["score"]]
        assert curve["stored"] == 3
    loss = client.get("/api/experiments/demo/observations?metric=loss").json()
    assert loss["metric"] == "loss"
    assert loss["trials"][0]["values"][-1] == with_curves[0].metrics["loss"].latest


def test_bulk_observations_downsample_long_curves_and_follow_the_cursor(
    client: TestClient, store: Store
) -> None:
    from tunery.model import Observation

    _created_experiment(client, "curvy")
    long = _add_trial(store, "curvy", 0, TrialCondition.RUNNING)
    values = [float(v % 17) for v in range(500)]
    values[250] = 99.0  # a spike survives the downsampling
    store.add_observations(
        "curvy",
        long,
        [Observation(long, "score", v, step) for step, v in enumerate(values)],
        metrics={"score": MetricSummary(0.0, 99.0, values[-1])},
        cursor=None,
    )
    short = _add_trial(store, "curvy", 1, TrialCondition.SUCCEEDED, completion_time=1500.0)
    store.add_observations(
        "curvy", short, [Observation(short, "score", 0.5, 0)], metrics={}, cursor=None
    )
    _add_trial(store, "curvy", 2, TrialCondition.FAILED, completion_time=2000.0)  # no curve
    data = client.get("/api/experiments/curvy/observations?points=50").json()
    first, second = data["trials"]
    assert data["points"] == 50 and first["stored"] == 500
    assert 4 <= len(first["steps"]) == len(first["values"]) <= 50
    assert first["steps"][0] == 0 and first["steps"][-1] == 499 and 99.0 in first["values"]
    assert first["steps"] == sorted(first["steps"])
    assert (second["steps"], second["values"], second["stored"]) == ([0], [0.5], 1)
    # A poll after the cursor: the running trial only (the finished ones did not change; the
    # last one to finish, returned again by the cursor's rule, has no curve).
    polled = client.get(f"/api/experiments/curvy/observations?after={data['cursor']}").json()
    assert polled["full"] is False and [t["name"] for t in polled["trials"]] == [long]
    assert 50 < len(polled["trials"][0]["steps"]) <= 200  # the default points per trial
    # The full answer is kept while nothing changes, and built again when a curve grows, even
    # by a point that leaves the trial's summary as it was.
    assert client.get("/api/experiments/curvy/observations?points=50").json() == data
    store.add_observations(
        "curvy",
        long,
        [Observation(long, "score", values[-1], 500)],
        metrics={"score": MetricSummary(0.0, 99.0, values[-1])},
        cursor=None,
    )
    again = client.get("/api/experiments/curvy/observations?points=50").json()
    assert again["trials"][0]["stored"] == 501 and again["trials"][0]["steps"][-1] == 500


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("points=3", "points:"),
        ("points=2001", "points:"),
        ("after=v1.x.1", "after:"),
    ],
)
def test_bulk_observations_refuse_bad_queries_in_one_line(
    client: TestClient, query: str, field: str
) -> None:
    response = client.get(f"/api/experiments/demo/observations?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(field) and "\n" not in detail


def test_bulk_observations_of_an_unknown_metric_are_404(client: TestClient) -> None:
    response = client.get("/api/experiments/demo/observations?metric=accuracy")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "metric: 'accuracy' is not a metric of experiment 'demo'; use one of score, loss"
    )


def test_log_tail_is_capped(client: TestClient, store: Store, filled: tuple[Store, Path]) -> None:
    trial = store.list_trials("demo")[1]
    log = filled[1] / "runs" / "demo" / trial.name / "output.log"
    original = log.read_bytes()
    try:
        log.write_bytes(b"".join(b"line %d\n" % i for i in range(40_000)))
        data = client.get(f"/api/experiments/demo/trials/{trial.name}").json()["log"]
        assert data["truncated"] is True
        assert len(data["text"]) <= LOG_TAIL_BYTES
        assert data["text"].endswith("line 39999\n")
        assert data["text"].startswith("line ")  # no partial first line
        assert data["size"] == log.stat().st_size
    finally:
        log.write_bytes(original)


def test_log_path_stays_inside_runs_dir(client: TestClient, store: Store) -> None:
    # Only stored trial names reach the file system; anything else is a 404.
    for bad in ("..%2F..%2Fetc", "%2E%2E%2Fx", "..%2Fdemo-0000"):
        response = client.get(f"/api/experiments/demo/trials/{bad}")
        assert response.status_code == 404, (bad, response.text)


def test_log_reader_refuses_paths_out_of_runs_dir(store: Store, tmp_path: Path) -> None:
    from dataclasses import replace

    from tunery.ui.routes.trials import read_log_tail

    runs = tmp_path / "runs"
    (runs / "demo" / "t").mkdir(parents=True)
    (runs / "demo" / "t" / "output.log").write_text("mine\n")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "output.log").write_text("not mine\n")
    exp = replace(store.get_experiment("demo"), runs_dir=str(runs))
    assert read_log_tail(exp, "t") == {"text": "mine\n", "size": 5, "truncated": False}
    assert read_log_tail(exp, "../../x") is None
    assert read_log_tail(exp, "missing") is None
    assert read_log_tail(replace(exp, runs_dir=None), "t") is None


def test_importance(client: TestClient) -> None:
    data = client.get("/api/experiments/demo/importance").json()
    assert data["trials"] == 10
    assert {p["name"] for p in data["parameters"]} == {"x", "opt"}
    assert all(0 <= p["importance"] <= 1 for p in data["parameters"])
    assert "variance" in data["method"]
    assert sum(p["normalized"] for p in data["parameters"]) == pytest.approx(1)
    assert data["methodName"] == METHOD_NAME
    assert data["methodKey"] == "epsilon-squared"
    fanova = client.get("/api/experiments/demo/importance?method=fanova").json()
    assert fanova["methodKey"] == "fanova" and "random forest" in fanova["methodName"]
    assert {p["name"] for p in fanova["parameters"]} == {"x", "opt"}
    assert sum(p["normalized"] for p in fanova["parameters"]) == pytest.approx(1)
    bad = client.get("/api/experiments/demo/importance?method=shap")
    assert bad.status_code == 422 and "method" in bad.json()["detail"]
    # The OpenAPI document lists exactly the methods there are.
    assert set(get_args(ImportanceMethod)) == set(METHODS)


def test_importance_needs_trials(client: TestClient) -> None:
    _created_experiment(client, "empty")
    data = client.get("/api/experiments/empty/importance").json()
    assert data["parameters"] == [] and "at least" in data["message"]


def test_cursor_returns_only_changes(client: TestClient, store: Store) -> None:
    _created_experiment(client, "live")
    first = client.get("/api/experiments/live/trials").json()
    assert first["trials"] == [] and first["cursor"] == "v1.-1.-"
    a = _add_trial(store, "live", 0, TrialCondition.RUNNING, start_time=1000.0)
    b = _add_trial(store, "live", 1, TrialCondition.RUNNING, start_time=1001.0)
    second = client.get("/api/experiments/live/trials", params={"after": first["cursor"]}).json()
    assert second["full"] is False
    assert [t["name"] for t in second["trials"]] == [a, b]
    assert second["cursor"] != first["cursor"]
    # Nothing finished: the running trials come again (their metrics may have grown).
    third = client.get("/api/experiments/live/trials", params={"after": second["cursor"]}).json()
    assert [t["name"] for t in third["trials"]] == [a, b]
    store.update_trial(
        "live", a, TrialChange(status=TrialCondition.SUCCEEDED, completion_time=1010.0)
    )
    fourth = client.get("/api/experiments/live/trials", params={"after": third["cursor"]}).json()
    assert {t["name"]: t["status"] for t in fourth["trials"]} == {a: "Succeeded", b: "Running"}
    store.update_trial("live", b, TrialChange(status=TrialCondition.FAILED, completion_time=1020.0))
    c = _add_trial(store, "live", 2, TrialCondition.CREATED)
    fifth = client.get("/api/experiments/live/trials", params={"after": fourth["cursor"]}).json()
    # a finished at the cursor's completion time: it comes once more (>=), harmlessly.
    assert {t["name"]: t["status"] for t in fifth["trials"]} == {
        a: "Succeeded",
        b: "Failed",
        c: "Created",
    }
    assert fifth["counts"]["Succeeded"] == 1 and fifth["counts"]["Failed"] == 1
    assert fifth["cursor"] == "v1.2.1020.0"
    store.update_trial("live", c, TrialChange(status=TrialCondition.KILLED, completion_time=1030.0))
    sixth = client.get("/api/experiments/live/trials", params={"after": fifth["cursor"]}).json()
    assert [t["name"] for t in sixth["trials"]] == [b, c]
    # The last finished trial comes once more (>=), never an older one.
    seventh = client.get("/api/experiments/live/trials", params={"after": sixth["cursor"]}).json()
    assert [t["name"] for t in seventh["trials"]] == [c]
    # The merged copy equals the full list.
    merged: dict[str, Any] = {}
    for page in (first, second, third, fourth, fifth, sixth, seventh):
        merged.update({t["name"]: t for t in page["trials"]})
    full = client.get("/api/experiments/live/trials").json()["trials"]
    assert sorted(merged.values(), key=lambda t: t["index"]) == full


def _rows_of(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """The row-shaped trials of a columnar answer (times back to ISO text)."""
    from tunery.wire import iso

    data = columns["columns"]
    out = []
    for i in range(len(data["name"])):
        row = {key: values[i] for key, values in data.items()}
        for key in ("createdTime", "startTime", "completionTime"):
            row[key] = None if row[key] is None else iso(row[key] / 1000)
        out.append(row)
    return out


def test_columns_hold_the_trial_list(client: TestClient) -> None:
    rows = client.get("/api/experiments/demo/trials").json()
    columns = client.get("/api/experiments/demo/trial-columns").json()
    for key in ("experiment", "cursor", "full", "counts", "matched"):
        assert columns[key] == rows[key], key
    # The columns are the trial shape's fields but labels and metricsPath (not on the page's
    # table) and the values computed from the metrics (objectives, feasible), with the same
    # values.
    assert set(columns["columns"]) == set(rows["trials"][0]) - {
        "labels",
        "metricsPath",
        "objectives",
        "feasible",
    }
    assert _rows_of(columns) == [
        {k: v for k, v in t.items() if k in columns["columns"]} for t in rows["trials"]
    ]
    only = client.get("/api/experiments/demo/trial-columns?status=Failed").json()
    assert only["matched"] == 0 and only["columns"]["name"] == []
    assert client.get("/api/experiments/demo/trial-columns?after=x").status_code == 422


def test_failed_trials_carry_their_last_output_line(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'fail.db'}")
    script = "print('score=1')\nimport tunery_ui_test_module_not_installed\n"
    create(store, native_doc("broken", script, parallel=1, max_trials=1), tmp_path)
    Controller(store, "broken", LocalExecutor(), poll_interval=0.02).run()
    why = "exit code 1: ModuleNotFoundError: No module named 'tunery_ui_test_module_not_installed'"
    app = create_app(store, TOKEN, runs_dir=str(tmp_path / "runs"))
    with TestClient(app, base_url=LOCAL) as client:
        [row] = client.get("/api/experiments/broken/trials").json()["trials"]
        assert (row["status"], row["reason"], row["message"]) == ("Failed", "ExitCode", why)
        detail = client.get(f"/api/experiments/broken/trials/{row['name']}").json()
        assert detail["message"] == why
        assert "ModuleNotFoundError" in detail["log"]["text"]
        columns = client.get("/api/experiments/broken/trial-columns").json()["columns"]
        assert columns["message"] == [why]
    store.close()


def test_columns_keep_every_digit(client: TestClient, store: Store) -> None:
    _created_experiment(client, "digits")
    values = [0.1 + 0.2, 1 / 3, 1e-300, 123456789.12345679, -2.5e17]
    for i, value in enumerate(values):
        store.create_trial(
            Trial(
                name=f"digits-{i}",
                experiment="digits",
                index=i,
                parameters={"x": value, "opt": "sgd"},
                status=TrialCondition.SUCCEEDED,
                objective=value,
                created_time=1_700_000_000.1234 + i,
                completion_time=1_700_000_001.0 + i,
            )
        )
    data = client.get("/api/experiments/digits/trial-columns").json()["columns"]
    assert data["objective"] == values
    assert [p["x"] for p in data["parameters"]] == values
    assert data["createdTime"][0] == 1_700_000_000_123
    assert data["index"] == list(range(len(values)))


def test_full_lists_are_cached_until_trials_change(client: TestClient, store: Store) -> None:
    _created_experiment(client, "cached")
    running = _add_trial(store, "cached", 0, TrialCondition.RUNNING, start_time=1.0)
    cache = client.app.state.trial_cache  # type: ignore[attr-defined]
    paths = ("/api/experiments/cached/trials", "/api/experiments/cached/trial-columns")

    def lists() -> list[Any]:
        return [client.get(path).json() for path in paths]

    first = lists()
    calls = []
    original = queries_module().trial_page, queries_module().columns_body
    try:
        queries_module().trial_page = lambda *a, **k: calls.append("rows") or original[0](*a, **k)
        queries_module().columns_body = lambda *a, **k: calls.append("cols") or original[1](*a, **k)
        assert lists() == first and calls == []  # served from the cache
        # A running trial's metrics grow: the lists are built again.
        store.update_trial(
            "cached", running, TrialChange(metrics={"score": MetricSummary(1.0, 1.0, 1.0)})
        )
        second = lists()
        assert calls == ["rows", "cols"]
        assert second[0]["trials"][0]["metrics"]["score"]["latest"] == 1.0
        assert second[1]["columns"]["metrics"][0]["score"]["latest"] == 1.0
        # It finishes; another trial is added.
        store.update_trial(
            "cached",
            running,
            TrialChange(status=TrialCondition.SUCCEEDED, completion_time=5.0, objective=1.0),
        )
        _add_trial(store, "cached", 1, TrialCondition.CREATED)
        third = lists()
        assert calls == ["rows", "cols"] * 2
        assert [t["status"] for t in third[0]["trials"]] == ["Succeeded", "Created"]
        assert third[1]["columns"]["status"] == ["Succeeded", "Created"]
        # Deleted and created again under the same name: not the old list.
        store.delete_experiment("cached")
        _created_experiment(client, "cached")
        assert lists()[1]["columns"]["name"] == []
    finally:
        queries_module().trial_page, queries_module().columns_body = original
        cache.clear()


def queries_module() -> Any:
    from tunery.ui import queries

    return queries


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("after=nonsense", "after:"),
        ("after=v1.x.1", "after:"),
        ("after=v1.1.nan", "after:"),
        ("status=Exploded", "status:"),
        ("sort=shoe", "sort:"),
        ("sort=param:", "sort:"),
        ("limit=0", "limit:"),
        ("offset=-1", "offset:"),
        ("limit=abc", "limit:"),
    ],
)
def test_bad_queries_are_one_line_4xx(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/api/experiments/demo/trials?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(field) and "\n" not in detail


@pytest.mark.parametrize(
    "path",
    [
        "/api/experiments/nope",
        "/api/experiments/nope/trials",
        "/api/experiments/nope/trials/t",
        "/api/experiments/demo/trials/nope",
        "/api/experiments/nope/importance",
        "/api/experiments/nope/trials.csv",
        "/api/experiments/nope/trials.json",
        "/api/experiments/nope/trial-columns",
        "/api/experiments/nope/observations",
        "/api/experiments/nope/observations?metric=score",
    ],
)
def test_unknown_names_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


# --------------------------------------------------------------------------- writes


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic " + TOKEN},
        {"Authorization": ""},
    ],
)
def test_writes_need_the_token(client: TestClient, store: Store, headers: dict[str, str]) -> None:
    _add_trial(store, "demo", 950, TrialCondition.RUNNING)
    try:
        for method, path, body in (
            ("POST", "/api/experiments/demo/stop", None),
            ("POST", "/api/experiments/demo/trials/demo-x0950/kill", None),
            ("POST", "/api/experiments", yaml.safe_dump(_doc("sneaky"))),
            ("DELETE", "/api/experiments/demo", None),
            ("DELETE", "/api/experiments/demo?force=true", None),
        ):
            response = client.request(method, path, headers=headers, content=body)
            assert response.status_code == 401, (path, response.text)
            assert "token" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
        assert store.pending_intents("demo") == []
        assert store.find_experiment("sneaky") is None
        assert store.find_experiment("demo") is not None
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM trials WHERE trial_index = 950")


def test_stop_writes_an_intent(client: TestClient, store: Store) -> None:
    _created_experiment(client, "tostop")
    response = client.post("/api/experiments/tostop/stop", headers=AUTH)
    assert response.status_code == 202
    assert response.json()["kind"] == "stop-experiment"
    (intent,) = store.pending_intents("tostop")
    assert (intent.kind, intent.target) == ("stop-experiment", None)
    assert client.get("/api/experiments/tostop").json()["stopRequested"] is True
    # An experiment that has ended cannot be stopped.
    response = client.post("/api/experiments/demo/stop", headers=AUTH)
    assert response.status_code == 409 and "ended" in response.json()["detail"]
    assert client.post("/api/experiments/nope/stop", headers=AUTH).status_code == 404


def test_kill_writes_an_intent(client: TestClient, store: Store) -> None:
    _created_experiment(client, "tokill")
    running = _add_trial(store, "tokill", 0, TrialCondition.RUNNING)
    done = _add_trial(store, "tokill", 1, TrialCondition.SUCCEEDED)
    response = client.post(f"/api/experiments/tokill/trials/{running}/kill", headers=AUTH)
    assert response.status_code == 202
    (intent,) = store.pending_intents("tokill")
    assert (intent.kind, intent.target) == ("kill-trial", running)
    response = client.post(f"/api/experiments/tokill/trials/{done}/kill", headers=AUTH)
    assert response.status_code == 409
    response = client.post("/api/experiments/tokill/trials/nope/kill", headers=AUTH)
    assert response.status_code == 404
    assert len(store.pending_intents("tokill")) == 1


def test_create_from_yaml(client: TestClient, store: Store, filled: tuple[Store, Path]) -> None:
    text = yaml.safe_dump(_doc("fromui"))
    response = client.post(
        "/api/experiments", content=text, headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert response.status_code == 201
    assert response.json() == {"name": "fromui", "status": "Created"}
    exp = store.get_experiment("fromui")
    assert exp.runs_dir == str(filled[1] / "created-runs")
    assert store.list_trials("fromui") == []  # stored, not run
    again = client.post("/api/experiments", content=text, headers=AUTH)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    # JSON is YAML too
    doc = _doc("fromjson")
    assert client.post("/api/experiments", content=json.dumps(doc), headers=AUTH).status_code == 201


def test_create_takes_an_optimization_job(client: TestClient, store: Store) -> None:
    text = (Path(__file__).parents[1] / "examples/quickstart/optimizationjob.yaml").read_text()
    schema = client.get("/openapi.json").json()["paths"]["/api/experiments"]["post"]
    kinds = schema["requestBody"]["content"]["application/yaml"]["schema"]["oneOf"]
    assert {k["properties"]["kind"]["const"] for k in kinds} == {"Experiment", "OptimizationJob"}
    response = client.post(
        "/api/experiments", content=text, headers={**AUTH, "Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    exp = store.get_experiment("quickstart-optimizationjob")
    assert exp.spec.max_trial_count == 8 and exp.spec.parallel_trial_count == 2


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("", "body: empty"),
        ("just: [unclosed", "YAML"),
        ("apiVersion: v1\nkind: ConfigMap\n", "no Experiment"),
        ("\xff", None),
        (BOMB, "aliases expanded"),
        ("a: " + "[" * 100_000 + "]" * 100_000, "nested more than"),
        ("[" * 100_000 + "]" * 100_000, "nested more than"),
    ],
)
def test_create_refuses_bad_yaml(client: TestClient, body: str, needle: str | None) -> None:
    response = client.post("/api/experiments", content=body.encode("latin-1"), headers=AUTH)
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    assert "\n" not in detail
    if needle:
        assert needle in detail


def test_create_refuses_a_large_body_with_413(client: TestClient) -> None:
    from tunery.ui.routes.experiments import MAX_BODY_BYTES

    response = client.post("/api/experiments", content=b"x" * (MAX_BODY_BYTES + 1), headers=AUTH)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_create_names_the_field_at_fault(client: TestClient, store: Store) -> None:
    doc = _doc("badmin")
    doc["spec"]["parameters"][0]["feasibleSpace"]["min"] = "banana"
    response = client.post("/api/experiments", content=yaml.safe_dump(doc), headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("spec.parameters[0].feasibleSpace.min")
    assert store.find_experiment("badmin") is None


# --------------------------------------------------------------------------- exports


def test_export_csv(client: TestClient, store: Store) -> None:
    response = client.get("/api/experiments/demo/trials.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    trials = store.list_trials("demo")
    assert len(rows) == len(trials)
    assert set(rows[0]) >= {"name", "status", "objective", "param:x", "param:opt"}
    assert "metric:score:latest" in rows[0] and "metric:loss:min" in rows[0]
    by_name = {t.name: t for t in trials}
    for row in rows:
        trial = by_name[row["name"]]
        assert float(row["objective"]) == trial.objective
        assert float(row["param:x"]) == trial.parameters["x"]
        # Text that a spreadsheet would run as a formula is quoted; the rest is as is.
        assert row["param:opt"] in ("sgd", "adam", EVIL)


def test_csv_quotes_formulas(client: TestClient, store: Store) -> None:
    _created_experiment(client, "formula")
    store.create_trial(
        Trial(
            name="formula-0000",
            experiment="formula",
            index=0,
            parameters={"x": -0.5, "opt": "=HYPERLINK(1)"},
        )
    )
    rows = list(csv.DictReader(io.StringIO(client.get("/api/experiments/formula/trials.csv").text)))
    assert rows[0]["param:opt"] == "'=HYPERLINK(1)"
    assert rows[0]["param:x"] == "-0.5"


def test_export_json_is_the_trial_list(client: TestClient) -> None:
    exported = client.get("/api/experiments/demo/trials.json").json()
    listed = client.get("/api/experiments/demo/trials").json()["trials"]
    assert exported == listed


# --------------------------------------------------------------------------- the page


def test_page_and_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<title>tunery</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"].split("style-src")[0]
    assert "'unsafe-eval'" not in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert client.get("/static/../app.py").status_code == 404
    schema = client.get("/openapi.json").json()
    assert "/api/experiments/{name}/trials" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_create_app_needs_a_token(store: Store) -> None:
    with pytest.raises(ValueError):
        create_app(store, "")


def test_trusted_hosts(store: Store) -> None:
    client = TestClient(create_app(store, TOKEN, allowed_hosts=["127.0.0.1"]))
    refused = client.get("/api/experiments", headers={"Host": "evil.example"})
    assert refused.status_code == 421
    assert refused.json()["detail"].startswith("host: 'evil.example'")
    assert client.get("/api/experiments", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    # Without allowed_hosts, the loopback names.
    default = TestClient(create_app(store, TOKEN))
    assert default.get("/api/experiments").status_code == 421  # Host: testserver
    for host in ("localhost:1", "127.0.0.1", "[::1]:8080"):
        assert default.get("/api/experiments", headers={"Host": host}).status_code == 200


def test_package_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, tunery.ui; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- the document
# (schemathesis checks it against real servers: tests/test_ui_exposure.py)


def test_the_document_names_what_every_operation_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in schema["components"]["schemas"], ref
    operations = [
        (path, method, op) for path, item in schema["paths"].items() for method, op in item.items()
    ]
    # the 12 before issue 16, DELETE /api/experiments/{name}, GET .../observations and
    # GET .../pareto (issue 17)
    assert len(operations) == 15
    for path, method, op in operations:
        for code in ("400", "421", "422", "503"):
            error = op["responses"][code]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, code)
        if "{name}" in path:
            assert "404" in op["responses"], (path, method)
        secured = "security" in op
        assert secured == (method in ("post", "delete")), (path, method)
        assert ("401" in op["responses"]) == secured, (path, method)
    body = schema["paths"]["/api/experiments"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/yaml", "application/json", "text/plain"}
    assert {"409", "413"} <= set(schema["paths"]["/api/experiments"]["post"]["responses"])
    csv_ok = schema["paths"]["/api/experiments/{name}/trials.csv"]["get"]["responses"]["200"]
    assert list(csv_ok["content"]) == ["text/csv"]


def test_wrong_methods_name_every_method_of_the_path(client: TestClient) -> None:
    for method in ("OPTIONS", "PUT", "DELETE"):
        response = client.request(method, "/api/experiments")
        assert response.status_code == 405
        assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "POST"}
        assert response.json() == {"detail": "Method Not Allowed"}
    response = client.request("PUT", "/api/experiments/demo")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "DELETE"}
    assert "POST" not in response.headers["allow"]


def test_create_takes_yaml_or_json_whatever_the_content_type(
    client: TestClient, store: Store
) -> None:
    for name, content_type, text in (
        ("as-json", "application/json", json.dumps(_doc("as-json"))),
        ("as-text", "text/plain", yaml.safe_dump(_doc("as-text"))),
    ):
        headers = {**AUTH, "Content-Type": content_type}
        response = client.post("/api/experiments", content=text, headers=headers)
        assert response.status_code == 201, response.text
        assert store.find_experiment(name) is not None
        store.delete_experiment(name)


# --------------------------------------------------------------------------- namespaces


def test_the_same_name_in_two_namespaces(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ns.db'}")
    doc = _doc("twin", max_trials=2)
    doc["spec"]["parallelTrialCount"] = 2
    plain = create(store, doc, tmp_path)
    doc["metadata"]["namespace"] = "team"
    team = create(store, doc, tmp_path)
    for exp in (plain, team):
        Controller(store, exp.key, LocalExecutor(), poll_interval=0.02).run()
    api = TestClient(create_app(store, TOKEN), base_url=LOCAL)

    listed = api.get("/api/experiments").json()
    assert sorted((e["name"], e["namespace"], e["trials"]["total"]) for e in listed) == [
        ("twin", "default", 2),
        ("twin", "team", 2),
    ]
    only = api.get("/api/experiments", params={"namespace": "team"}).json()
    assert [e["namespace"] for e in only] == ["team"]
    assert api.get("/api/experiments", params={"namespace": "void"}).json() == []
    bad = api.get("/api/experiments", params={"namespace": "Not_A_Label"})
    assert bad.status_code == 422 and "namespace" in bad.json()["detail"]

    ambiguous = api.get("/api/experiments/twin")
    assert ambiguous.status_code == 409
    assert "default, team" in ambiguous.json()["detail"]
    assert api.get("/api/experiments/twin/trials").status_code == 409
    assert api.get("/api/experiments/twin", params={"namespace": "void"}).status_code == 404

    detail = api.get("/api/experiments/twin", params={"namespace": "team"}).json()
    assert (detail["name"], detail["namespace"]) == ("twin", "team")
    assert detail["bestTrial"]["name"].startswith("team.twin-")
    assert api.get("/api/experiments/team.twin").json() == detail  # NS.NAME names it too
    trials = api.get("/api/experiments/twin/trials", params={"namespace": "team"}).json()
    assert [t["name"] for t in trials["trials"]] == ["team.twin-0001", "team.twin-0002"]
    one = api.get("/api/experiments/twin/trials/team.twin-0001", params={"namespace": "team"})
    assert "score=" in one.json()["log"]["text"]  # read from the experiment's own directory
    plain_one = api.get("/api/experiments/default.twin/trials/twin-0001").json()
    assert plain_one["name"] == "twin-0001" and "score=" in plain_one["log"]["text"]
    csv_text = api.get("/api/experiments/twin/trials.csv", params={"namespace": "team"}).text
    assert "team.twin-0002" in csv_text and "\ntwin-0001" not in csv_text
    stop = api.post("/api/experiments/twin/stop", params={"namespace": "default"}, headers=AUTH)
    assert stop.status_code == 409 and "already ended" in stop.json()["detail"]
    store.close()


def test_a_multi_objective_experiment_has_its_front_in_the_api(tmp_path: Path) -> None:
    from tests.test_cli_front import mo_doc

    store = Store(f"sqlite:///{tmp_path / 'mo.db'}")
    create(store, mo_doc("mo", max_trials=6), tmp_path)
    Controller(store, "mo", LocalExecutor(), poll_interval=0.02).run()
    app = create_app(store, TOKEN, runs_dir=str(tmp_path / "runs"))
    with TestClient(app, base_url=LOCAL) as client:
        _check_front(client)


def _check_front(client: TestClient) -> None:
    from tests.test_cli_front import brute_front

    trials = client.get("/api/experiments/mo/trials").json()["trials"]
    assert all(t["feasible"] is (t["parameters"]["x"] <= 0.8) for t in trials)
    front = brute_front(trials)
    detail = client.get("/api/experiments/mo").json()
    assert detail["paretoFront"] == front and front
    assert len(detail["referencePoint"]) == 2 and detail["hypervolume"] > 0
    assert [o["metric"] for o in detail["objectives"]] == ["acc", "lat"]
    assert detail["constraints"] == [{"metric": "mem", "min": None, "max": 0.8}]
    (listed,) = client.get("/api/experiments").json()
    assert {k: listed[k] for k in ("paretoFront", "hypervolume", "referencePoint", "best")} == {
        k: detail[k] for k in ("paretoFront", "hypervolume", "referencePoint", "best")
    }
    one = client.get(f"/api/experiments/mo/trials/{front[0]}").json()
    assert one["objectives"] == next(t for t in trials if t["name"] == front[0])["objectives"]


def test_experiment_detail_has_its_time_budget(client: TestClient, store: Store) -> None:
    from tunery.clock import FakeClock
    from tunery.testing.executor import FakeExecutor, TrialScript

    doc = _doc("timed", max_trials=40)
    doc["spec"]["maxExperimentDuration"] = "1m"
    doc["spec"]["experimentDurationPolicy"] = "LetFinish"
    create(store, doc, Path(store.url.removeprefix("sqlite:///")).parent)
    clock = FakeClock()
    script = TrialScript(duration=25.0, lines=[(20.0, "score=0.5")])
    Controller(store, "timed", FakeExecutor(clock, script), clock=clock, poll_interval=1.0).run()
    data = client.get("/api/experiments/timed").json()
    assert data["reason"] == "ExperimentTimeBudgetReached"
    budget = data["timeBudget"]
    assert budget["maxSeconds"] == 60 and budget["policy"] == "LetFinish"
    assert budget["drivenSeconds"] >= 60 and budget["remainingSeconds"] == 0
    assert "timeBudget" not in client.get("/api/experiments/demo").json()
    # The list has it too, as `tunery list --json` does.
    listed = {e["name"]: e for e in client.get("/api/experiments").json()}
    assert listed["timed"]["timeBudget"] == budget
    assert "timeBudget" not in listed["demo"]


def test_warm_start_seeds_are_counted_apart(client: TestClient, store: Store) -> None:
    from tunery.warmstart import Seed, seed_store

    exp = create(
        store, _doc("seeded", max_trials=5), Path(store.url.removeprefix("sqlite:///")).parent
    )
    score = {"score": MetricSummary(0.5, 0.5, 0.5)}
    seeds = [Seed({"x": x, "opt": "sgd"}, score, "python") for x in (0.1, 0.2)]
    assert seed_store(store, exp.key, seeds, 1.0, source="python").seeded == 2
    data = client.get("/api/experiments/seeded").json()
    assert data["seededTrials"] == 2
    assert data["trials"]["succeeded"] == data["trials"]["total"] == 2  # the stored shape
    listed = {e["name"]: e for e in client.get("/api/experiments").json()}
    assert listed["seeded"]["seededTrials"] == 2
    assert "seededTrials" not in listed["demo"] and "seededTrials" not in (
        client.get("/api/experiments/demo").json()
    )


def test_a_conditional_experiment_shows_inactive_parameters_as_absent(tmp_path: Path) -> None:
    params = [
        {"name": "model", "parameterType": "categorical", "feasibleSpace": {"list": ["a", "b"]}},
        {
            "name": "x",
            "parameterType": "double",
            "feasibleSpace": {"min": "0", "max": "1"},
            "activeWhen": {"model": ["a"]},
        },
    ]
    local = Store(f"sqlite:///{tmp_path / 'c.db'}")
    create(local, native_doc("cond", "print('score=1')", parameters=params), tmp_path)
    for index, parameters in enumerate([{"model": "a", "x": 0.5}, {"model": "b"}]):
        local.create_trial(
            Trial(
                name=f"cond-{index}",
                experiment="cond",
                index=index,
                parameters=parameters,
                status=TrialCondition.SUCCEEDED,
                metrics={"score": MetricSummary(1.0 + index, 1.0 + index, 1.0 + index)},
                objective=1.0 + index,
            )
        )
    app = create_app(local, TOKEN, runs_dir=str(tmp_path / "runs"), base_dir=str(tmp_path))
    with TestClient(app, base_url=LOCAL) as http:
        exp = http.get("/api/experiments/cond").json()
        assert [p.get("activeWhen") for p in exp["parameters"]] == [None, {"model": ["a"]}]
        assert "activeWhen" not in exp["parameters"][0]  # absent, not null
        assert exp["bestHyperparameters"]["parameters"] == {"model": "b"}
        assert exp["bestHyperparameters"]["cli"] == "--model=b"
        trials = http.get("/api/experiments/cond/trials").json()["trials"]
        assert [t["parameters"] for t in trials] == [{"model": "a", "x": 0.5}, {"model": "b"}]
        rows = list(csv.reader(io.StringIO(http.get("/api/experiments/cond/trials.csv").text)))
        assert rows[2][rows[0].index("param:x")] == ""
    local.close()
