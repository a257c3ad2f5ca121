"""tunery.integration.mlflow against a real MLflow tracking store (SQLite and file), no server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_system
from tests.helpers import create, native_doc, write_yaml
from tunery.ledger import TrialLedger
from tunery.model import Assignment, TrialCondition, TrialReason
from tunery.storage import Store

try:
    from mlflow.tracking import MlflowClient

    from tunery.integration.mlflow import MlflowSink, run_status, sync_experiment
except ImportError:  # pragma: no cover
    MlflowClient = None

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _mlflow() -> None:
    if MlflowClient is None:
        require_system("the mlflow package is missing (pip install 'tunery[mlflow]')")


#: x=0.9 fails; the others report score = x * step for steps 0..3.
CURVE = """
import sys
x = float(sys.argv[1].split("=", 1)[1])
if x > 0.8:
    print("boom", file=sys.stderr)
    sys.exit(3)
for i in range(4):
    print(f"step={i} score={x * i}", flush=True)
"""

GRID = [
    {"name": "x", "parameterType": "discrete", "feasibleSpace": {"list": ["0.2", "0.5", "0.9"]}}
]


def tunery(*args: str, cwd: Path, check: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), **env},
    )
    assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def runs_of(uri: str, experiment: str) -> tuple[Any, dict[str, Any]]:
    """(the parent run, the trial runs by trial name) of MLflow experiment ``experiment``."""
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    parents = [r for r in runs if r.data.tags.get("tunery.kind") == "experiment"]
    assert len(parents) == 1, [r.data.tags for r in runs]
    children = {r.data.tags["tunery.trial"]: r for r in runs if r is not parents[0]}
    assert len(children) == len(runs) - 1, "every other run is a trial run"
    return parents[0], children


def history(uri: str, run: Any, metric: str = "score") -> list[tuple[int, float]]:
    points = MlflowClient(tracking_uri=uri).get_metric_history(run.info.run_id, metric)
    return sorted((m.step, m.value) for m in points)


@pytest.mark.slow
def test_run_with_mlflow_mirrors_the_experiment_into_sqlite(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_yaml(
        tmp_path / "e.yaml",
        native_doc("mirrored", CURVE, parameters=GRID, algorithm="grid", max_trials=3),
    )
    tunery("run", str(path), "-q", "--mlflow", uri, cwd=tmp_path, check=0)
    parent, children = runs_of(uri, "mirrored")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["algorithm"] == "grid"
    assert parent.data.params["objective"] == "maximize score"
    assert parent.data.params["space.x"] == "discrete ['0.2', '0.5', '0.9']"
    assert parent.data.tags["tunery.status"] == "Succeeded"
    assert parent.data.tags["tunery.max_trial_count"] == "3"
    by_x = {run.data.params["x"]: run for run in children.values()}
    assert sorted(by_x) == ["0.2", "0.5", "0.9"]
    for run in children.values():
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    best = by_x["0.5"]
    assert parent.data.tags["tunery.best_trial"] == best.data.tags["tunery.trial"]
    assert parent.data.tags["tunery.best_run_id"] == best.info.run_id
    assert best.data.tags["tunery.best"] == "true"
    assert best.info.status == "FINISHED"
    assert best.data.tags["tunery.status"] == "Succeeded"
    assert history(uri, best) == [(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.5)]
    assert best.data.metrics["tunery.objective"] == 1.5
    failed = by_x["0.9"]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["tunery.status"] == "Failed"
    assert failed.data.tags["tunery.reason"]
    assert history(uri, failed) == []
    # A second mirror of the finished experiment adds nothing: same runs, same points.
    out = tunery("mlflow", "sync", "mirrored", "--uri", uri, cwd=tmp_path)
    assert "3 trial runs, 0 new values" in out.stdout, out.stdout
    again_parent, again = runs_of(uri, "mirrored")
    assert again_parent.info.run_id == parent.info.run_id
    assert {n: r.info.run_id for n, r in again.items()} == {
        n: r.info.run_id for n, r in children.items()
    }
    assert history(uri, again[best.data.tags["tunery.trial"]]) == history(uri, best)


@pytest.mark.slow
def test_resume_with_mlflow_goes_on_in_the_same_runs_on_a_file_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path / 'mlruns'}"
    path = write_yaml(
        tmp_path / "e.yaml",
        native_doc("resumed", CURVE, parameters=GRID, algorithm="grid", max_trials=1, parallel=1),
    )
    env = {"MLFLOW_ALLOW_FILE_STORE": "true"}
    tunery("run", str(path), "-q", "--mlflow", uri, cwd=tmp_path, **env)
    first_parent, first = runs_of(uri, "resumed")
    assert len(first) == 1
    tunery("resume", "resumed", "--max-trials", "2", "-q", "--mlflow", uri, cwd=tmp_path, **env)
    parent, children = runs_of(uri, "resumed")
    assert parent.info.run_id == first_parent.info.run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tunery.max_trial_count"] == "2"
    assert len(children) == 2
    for name, run in first.items():
        assert children[name].info.run_id == run.info.run_id
    for run in children.values():
        steps = [s for s, _ in history(uri, run)]
        assert steps == [0, 1, 2, 3], (run.data.tags["tunery.trial"], steps)


def test_the_file_store_refused_by_mlflow_is_one_line_before_anything_runs(
    tmp_path: Path,
) -> None:
    path = write_yaml(tmp_path / "e.yaml", native_doc("refused", CURVE, max_trials=1, parallel=1))
    env = {"MLFLOW_ALLOW_FILE_STORE": "false"}
    uri = f"file:{tmp_path}/mlruns"
    out = tunery("run", str(path), "--mlflow", uri, cwd=tmp_path, check=2, **env)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "MLFLOW_ALLOW_FILE_STORE=true" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    listed = tunery("list", cwd=tmp_path)
    assert "refused" not in listed.stdout, "nothing is stored before the URI is checked"
    bad = tunery("mlflow", "sync", "nothing", "--uri", "ftp://nowhere", cwd=tmp_path, check=2)
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def _trial_with_curve(ledger: TrialLedger, points: list[tuple[int, float | None]]) -> Any:
    trial = ledger.create_trial(
        Assignment({"x": 0.5}), 10.0, status=TrialCondition.RUNNING, reason=TrialReason.RUNNING
    )
    return _observe(ledger, trial, points)


def _observe(ledger: TrialLedger, trial: Any, points: list[tuple[int, float | None]]) -> Any:
    for step, value in points:
        trial, _ = ledger.observe(trial, "score", value, step, 11.0 + step)
    return trial


def test_a_restarted_sink_logs_each_point_once(tmp_path: Path) -> None:
    """The cursor (last step, points at it) travels in the run's tags: a new sink (a resumed
    controller, a second mlflow sync) logs only what is missing, duplicates steps included."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = Store(str(tmp_path / "t.db"))
    exp = create(store, native_doc("cursor", CURVE), tmp_path)
    ledger = TrialLedger(store, exp.key)
    ledger.acquire(1.0)
    ledger.load(exp.spec.objective)
    trial = _trial_with_curve(ledger, [(0, 0.1), (1, 0.2), (1, 0.25), (2, None)])
    sink = MlflowSink(store, exp.key, uri)
    sink.sync()
    run_id = sink.runs[trial.name]
    client = MlflowClient(tracking_uri=uri)
    tags = client.get_run(run_id).data.tags
    assert tags["tunery.cursor.score"] == "2:1"
    assert tags["tunery.status"] == "Running"
    trial = _observe(ledger, trial, [(2, 0.3), (3, 0.4)])
    again = MlflowSink(store, exp.key, uri)  # a fresh process: no memory of the first
    again.sync()
    again.sync()
    assert again.runs == {trial.name: run_id}
    points = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "score"))
    assert points == [(0, 0.1), (1, 0.2), (1, 0.25), (2, 0.3), (3, 0.4)]
    ledger.transition(
        trial,
        (TrialCondition.RUNNING,),
        status=TrialCondition.EARLY_STOPPED,
        reason=TrialReason.EARLY_STOPPED,
        completion_time=20.0,
    )
    again.finish()
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["tunery.status"] == "EarlyStopped"
    assert run.info.end_time == 20000
    # The experiment is still Running (no controller ended it): the parent is not FINISHED.
    assert client.get_run(again.parent_id).info.status == "KILLED"
    ledger.release()


def test_run_statuses() -> None:
    assert run_status(TrialCondition.SUCCEEDED) == "FINISHED"
    assert run_status(TrialCondition.FAILED) == "FAILED"
    assert run_status(TrialCondition.METRICS_UNAVAILABLE) == "FAILED"
    assert run_status(TrialCondition.KILLED) == "KILLED"
    assert run_status(TrialCondition.EARLY_STOPPED) == "KILLED"
    assert run_status(TrialCondition.RUNNING) == "RUNNING"


def test_sync_experiment_of_a_stored_experiment_in_another_mlflow_experiment(
    tmp_path: Path,
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = Store(str(tmp_path / "t.db"))
    exp = create(store, native_doc("named", CURVE), tmp_path)
    ledger = TrialLedger(store, exp.key)
    ledger.acquire(1.0)
    ledger.load(exp.spec.objective)
    _trial_with_curve(ledger, [(0, 1.0)])
    sink = sync_experiment(store, exp.key, uri, experiment_name="tuning")
    parent, children = runs_of(uri, "tuning")
    assert parent.info.run_id == sink.parent_id
    assert parent.info.status == "RUNNING"
    assert list(children) == ["named-0001"]
    assert MlflowClient(tracking_uri=uri).get_experiment_by_name("named") is None
    ledger.release()


def _square(parameters: dict[str, Any]) -> float:
    return float(parameters["x"]) ** 2


@pytest.mark.slow
def test_tune_with_mlflow_tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tunery

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    handle = tunery.tune(
        _square,
        {"x": tunery.search.double(-1, 1)},
        objective_metric_name="loss",
        objective_type="minimize",
        algorithm="random",
        max_trial_count=2,
        name="tuned",
        storage=str(tmp_path / "t.db"),
        mlflow_tracking_uri=uri,
        wait=True,
        progress=False,
    )
    assert handle.status == "Succeeded"
    parent, children = runs_of(uri, "tuned")
    assert parent.info.status == "FINISHED"
    assert sorted(children) == ["tuned-0001", "tuned-0002"]
    for trial in handle.trials:
        run = children[trial.name]
        assert run.info.status == "FINISHED"
        assert float(run.data.params["x"]) == trial.parameters["x"]
        assert run.data.metrics["loss"] == trial.objective
    best = handle.best_trial
    assert best is not None and parent.data.tags["tunery.best_trial"] == best.name


def test_several_objectives_tag_the_feasible_pareto_front(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = Store(str(tmp_path / "t.db"))
    doc = native_doc(
        "front",
        CURVE,
        objective={"type": "maximize", "objectiveMetricName": "accuracy"},
        extra_spec={
            "objectives": [
                {"metric": "accuracy", "direction": "maximize"},
                {"metric": "latency", "direction": "minimize"},
            ],
            "constraints": [{"metric": "size", "max": 10}],
        },
    )
    exp = create(store, doc, tmp_path)
    ledger = TrialLedger(store, exp.key)
    ledger.acquire(1.0)
    ledger.load(exp.spec.objective)
    # 0002 dominates nothing it may: it breaks the size constraint; 0003 is dominated by 0001.
    rows = [(0.8, 5.0, 4.0), (0.9, 9.0, 20.0), (0.7, 6.0, 1.0), (0.6, 2.0, 1.0)]
    for acc, lat, size in rows:
        trial = ledger.create_trial(
            Assignment({"x": acc}), 10.0, status=TrialCondition.RUNNING, reason=TrialReason.RUNNING
        )
        for metric, value in (("accuracy", acc), ("latency", lat), ("size", size)):
            trial, _ = ledger.observe(trial, metric, value, 0, 11.0)
        ledger.transition(
            trial,
            (TrialCondition.RUNNING,),
            status=TrialCondition.SUCCEEDED,
            reason=TrialReason.SUCCEEDED,
            completion_time=12.0,
        )
    ledger.release()
    sync_experiment(store, exp.key, uri)
    parent, children = runs_of(uri, "front")
    assert parent.data.tags["tunery.pareto_front"] == "front-0001,front-0004"
    assert "tunery.best_trial" not in parent.data.tags
    tagged = sorted(n for n, r in children.items() if r.data.tags.get("tunery.best") == "true")
    assert tagged == ["front-0001", "front-0004"]
    assert parent.data.params["objective.0"] == "maximize accuracy"
    assert parent.data.params["objective.1"] == "minimize latency"
    assert parent.data.params["constraint.size"] == "max 10.0"
