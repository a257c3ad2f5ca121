"""Deleting an experiment through the UI's API (``DELETE /api/experiments/{name}``,
``tunery.ui.removal``): real SQLite stores, real controllers and trial subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from tests.helpers import SCORE_IS_X, create, native_doc, write_yaml
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.model import TrialCondition
from tunery.storage import Store
from tunery.ui.app import create_app

TOKEN = "delete-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOCAL = "http://127.0.0.1"

#: A trial that says its pid, reports once and then runs for two minutes.
LONG = """
import os, time
print(f"pid {os.getpid()}", flush=True)
print("step=0 score=0.5", flush=True)
time.sleep(120)
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[TestClient, Store, Path]]:
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    app = create_app(store, TOKEN, runs_dir=str(tmp_path / "runs"), base_dir=str(tmp_path))
    try:
        yield TestClient(app, base_url=LOCAL), store, tmp_path
    finally:
        store.close()


def _rows(store: Store, table: str, experiment: str) -> int:
    with store.engine.begin() as conn:
        return int(
            conn.exec_driver_sql(
                f"SELECT count(*) FROM {table} WHERE experiment = ?", (experiment,)
            ).scalar_one()
        )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _trial_pids(runs: Path, experiment: str, count: int, timeout: float = 60) -> list[int]:
    """The pids the first ``count`` trials of ``experiment`` printed (waits for them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = []
        for log in sorted((runs / experiment).glob("*/output.log")):
            first = log.read_text().split("\n", 1)[0]
            if first.startswith("pid "):
                pids.append(int(first.split()[1]))
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    pytest.fail(f"the trials of {experiment} did not start in {timeout} s")


def _names(client: TestClient) -> list[str]:
    response = client.get("/api/experiments")
    assert response.status_code == 200
    return [e["name"] for e in response.json()]


def test_delete_removes_the_experiment_its_trials_and_observations(
    site: tuple[TestClient, Store, Path],
) -> None:
    client, store, tmp = site
    create(store, native_doc("done", SCORE_IS_X, max_trials=3), tmp)
    create(store, native_doc("kept", SCORE_IS_X, parallel=1, max_trials=1), tmp)
    for name in ("done", "kept"):
        Controller(store, name, LocalExecutor(), poll_interval=0.02).run()
    assert _rows(store, "trials", "done") == 3
    assert _rows(store, "observations", "done") > 0
    client.post("/api/experiments/done/stop", headers=AUTH)  # ended: refused, nothing written

    response = client.delete("/api/experiments/done", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "done", "stopped": False, "runsDir": str(tmp / "runs")}
    assert _names(client) == ["kept"]
    assert store.find_experiment("done") is None
    for table in ("trials", "observations", "intents", "leases"):
        assert _rows(store, table, "done") == 0, table
    assert _rows(store, "trials", "kept") == 1
    # As `tunery delete`: the trial directories stay.
    assert len(list((tmp / "runs" / "done").glob("*/output.log"))) == 3
    assert client.get("/api/experiments/done").status_code == 404

    again = client.delete("/api/experiments/done", headers=AUTH)
    assert again.status_code == 404
    assert "done" in again.json()["detail"] and "\n" not in again.json()["detail"]
    # A created experiment that never ran has nothing running: deleted at once.
    create(store, native_doc("fresh", SCORE_IS_X), tmp)
    response = client.delete("/api/experiments/fresh", headers=AUTH)
    assert response.status_code == 200 and response.json()["stopped"] is False


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + TOKEN}]
)
def test_delete_needs_the_token(
    site: tuple[TestClient, Store, Path], headers: dict[str, str]
) -> None:
    client, store, tmp = site
    create(store, native_doc("mine", SCORE_IS_X), tmp)
    for path in ("/api/experiments/mine", "/api/experiments/mine?force=true"):
        response = client.delete(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["detail"]
    assert store.find_experiment("mine") is not None


def test_delete_refuses_bad_force_and_unknown_names(
    site: tuple[TestClient, Store, Path],
) -> None:
    client, store, tmp = site
    create(store, native_doc("mine", SCORE_IS_X), tmp)
    response = client.delete("/api/experiments/mine?force=perhaps", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("force:")
    response = client.delete("/api/experiments/nope", headers=AUTH)
    assert response.status_code == 404 and "nope" in response.json()["detail"]
    assert store.find_experiment("mine") is not None


def test_a_running_experiment_is_refused_then_stopped_and_deleted_with_force(
    site: tuple[TestClient, Store, Path],
) -> None:
    client, store, tmp = site
    create(store, native_doc("busy", LONG, parallel=2, max_trials=2), tmp)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["experiment"] = Controller(
                store, "busy", LocalExecutor(), poll_interval=0.05
            ).run()
        except Exception as exc:  # the experiment may be gone when run() reads it last
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    pids = _trial_pids(tmp / "runs", "busy", 2)

    response = client.delete("/api/experiments/busy", headers=AUTH)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "controller" in detail and "force=true" in detail and "\n" not in detail
    assert store.find_experiment("busy") is not None
    assert all(_alive(pid) for pid in pids)

    started = time.monotonic()
    response = client.delete("/api/experiments/busy?force=true", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["stopped"] is True
    assert time.monotonic() - started < 30
    thread.join(30)
    assert not thread.is_alive()
    assert not any(_alive(pid) for pid in pids)
    assert store.find_experiment("busy") is None
    assert _rows(store, "trials", "busy") == 0
    assert "busy" not in _names(client)


@pytest.mark.integration
def test_trials_left_by_a_killed_controller_are_stopped_by_a_forced_delete(
    site: tuple[TestClient, Store, Path],
) -> None:
    """A controller killed with SIGKILL leaves its trials running: a delete refuses to orphan
    them; a forced one kills them, through their handles, as `tunery stop` does."""
    client, store, tmp = site
    path = write_yaml(tmp / "orphans.yaml", native_doc("orphans", LONG, parallel=2, max_trials=2))
    env = {**os.environ, "TUNERY_DB": f"sqlite:///{tmp / 'tunery.db'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunery", "run", str(path), "-q"],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pids = _trial_pids(tmp / "tunery-runs", "orphans", 2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            trials = store.list_trials("orphans")
            if len(trials) == 2 and all(t.handle for t in trials):
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert all(_alive(pid) for pid in pids)
    assert all(t.status is TrialCondition.RUNNING for t in store.list_trials("orphans"))

    response = client.delete("/api/experiments/orphans", headers=AUTH)
    assert response.status_code == 409
    assert "2 of its trials are still active" in response.json()["detail"]
    response = client.delete("/api/experiments/orphans?force=true", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["stopped"] is True
    assert not any(_alive(pid) for pid in pids)
    assert store.find_experiment("orphans") is None
