"""Metric floods: memory, storage and answers stay bounded whatever a trial prints.

The rule (:mod:`tunery.thinning`) on its own, the store's half of it, the controller with real
trial processes and a small limit (chunked reads, a restart half way), and the acceptance test:
a trial printing a million metric lines, run by a controller in a child process whose peak
memory, database file and UI answer are measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import create, native_doc
from tunery.collect.stdout import StdOutCollector
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.model import MetricSummary, Observation, Trial, TrialCondition
from tunery.storage import Store, TrialChange
from tunery.thinning import OBSERVATION_LIMIT, THINNED_LABEL, Thinning, downsample

ROOT = Path(__file__).resolve().parent.parent


def expected_steps(limit: int, count: int) -> list[int]:
    """The ordinals the rule keeps after ``count`` reports (by brute force)."""
    rule = Thinning(limit)
    stride = rule.stride(count)
    return [n for n in range(count) if rule.kept(n, stride)]


# --------------------------------------------------------------------------- the rule


@given(limit=st.integers(2, 40), count=st.integers(0, 3000))
def test_the_rule_keeps_at_most_the_limit_and_only_drops(limit: int, count: int) -> None:
    rule = Thinning(limit)
    kept = expected_steps(limit, count)
    assert len(kept) == rule.stored(count) <= limit
    assert rule.thinned(count) == (count > limit)
    if count <= limit:
        assert kept == list(range(count))
    else:
        assert kept[: rule.head] == list(range(rule.head))
    # One more report never brings back a point that was dropped.
    assert set(expected_steps(limit, count + 1)) <= set(kept) | {count}


def test_the_default_rule_at_a_million() -> None:
    rule = Thinning()
    assert rule.limit == OBSERVATION_LIMIT == 10_000
    assert rule.stride(10_000) == 1 and rule.stride(10_001) == 2
    assert rule.stride(1_000_000) == 256 and rule.stored(1_000_000) == 8_887
    assert rule.stored(10**9) <= 10_000
    with pytest.raises(ValueError):
        Thinning(1)


@given(
    values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), max_size=300),
    max_points=st.integers(4, 40),
)
def test_downsample_keeps_the_ends_and_the_extremes(
    values: list[float | None], max_points: int
) -> None:
    points = [Observation("t", "m", v, i) for i, v in enumerate(values)]
    got = downsample(iter(points), len(points), max_points)
    if len(points) <= max_points:
        assert got == points
        return
    assert len(got) <= max_points
    assert got[0] is points[0] and got[-1] is points[-1]
    steps = [p.step for p in got]
    assert steps == sorted(set(steps))
    finite = [v for v in values if v is not None]
    if finite:
        shown = [p.value for p in got if p.value is not None]
        assert min(shown) == min(finite) and max(shown) == max(finite)


# --------------------------------------------------------------------------- the store's half


def _stored_trial(store: Store) -> None:
    from tests.test_storage_codec import minimal_spec
    from tunery.model import Experiment

    store.create_experiment(Experiment(name="e", spec=minimal_spec("e")))
    store.create_trial(Trial(name="t", experiment="e", index=1, parameters={}))


def add_in_batches(store: Store, limit: int, batches: list[int], metrics: list[str]) -> None:
    """Add ``batches`` of observations of each metric, thinned as the controller does."""
    rule = Thinning(limit)
    counts = dict.fromkeys(metrics, 0)
    for i, size in enumerate(batches):
        rows: list[Observation] = []
        thin: dict[str, tuple[int, int]] = {}
        for metric in metrics:
            stride, every = rule.advance(counts[metric], size)
            if every > 1:
                thin[metric] = (rule.head, every)
            for n in range(counts[metric], counts[metric] + size):
                if rule.kept(n, stride):
                    rows.append(Observation("t", metric, float(n), n))
            counts[metric] += size
        if i % 2:  # the controller's other path: a trial's last lines with its final status
            store.update_trial("e", "t", TrialChange(message=str(i)), observations=rows, thin=thin)
        else:
            store.add_observations("e", "t", rows, metrics={}, cursor=None, thin=thin)
    for metric in metrics:
        stored = store.get_observations("e", "t", metric)
        assert [o.step for o in stored] == expected_steps(limit, counts[metric])
        assert all(o.value == o.step for o in stored)
    assert store.observation_counts("e", "t") == {m: rule.stored(counts[m]) for m in metrics}


@settings(max_examples=40, deadline=None)
@given(
    limit=st.integers(2, 12),
    batches=st.lists(st.integers(1, 40), min_size=1, max_size=12),
    metrics=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2, unique=True),
)
def test_thinning_in_the_store_depends_only_on_the_count(
    limit: int, batches: list[int], metrics: list[str]
) -> None:
    """Batches of any sizes, thinned as the controller does, leave the rule's points stored."""
    with Store("sqlite://") as store:
        _stored_trial(store)
        add_in_batches(store, limit, batches, metrics)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 's.db'}"
    else:
        url = request.getfixturevalue("pg_fresh_url")
    with Store(url) as store:
        _stored_trial(store)
        yield store


def test_thinning_on_each_backend(backend: Store) -> None:
    add_in_batches(backend, 6, [3, 5, 9, 1, 20, 40, 2, 300], ["a", "b"])


def test_observation_pages_and_series(backend: Store) -> None:
    store = backend
    rows = [Observation("t", "a", float(i % 97), i) for i in range(1000)]
    rows += [Observation("t", "b", 1.0, i) for i in range(3)]
    store.add_observations("e", "t", rows, metrics={}, cursor=None)
    page = store.get_observations("e", "t", "a", limit=10, offset=990)
    assert [o.step for o in page] == list(range(990, 1000))
    series = store.observation_series("e", "t", 50)
    assert series["a"].stored == 1000 and len(series["a"].points) <= 50
    assert series["b"].stored == 3 and [o.step for o in series["b"].points] == [0, 1, 2]
    assert {o.value for o in series["a"].points} >= {0.0, 96.0}


# --------------------------------------------------------------------------- the controller

#: A trial that prints ``loss=<v>`` N times (N from --n), waiting for a file half way if asked.
FLOOD = """
import os, sys, time
n = int(sys.argv[1].split("=", 1)[1])
pause = os.environ.get("FLOOD_PAUSE")
for i in range(n):
    if pause and i == n // 2 + 100:
        sys.stdout.flush()
        while not os.path.exists(pause):
            time.sleep(0.01)
    sys.stdout.write(f"loss={(i * 7919) % 1009 - 500}\\n")
"""


def flood_value(i: int) -> float:
    return float((i * 7919) % 1009 - 500)


def flood_doc(name: str, n: int, **extra: Any) -> dict[str, Any]:
    doc = native_doc(
        name,
        FLOOD,
        parameters=[
            {"name": "n", "parameterType": "discrete", "feasibleSpace": {"list": [str(n)]}}
        ],
        objective={"type": "minimize", "objectiveMetricName": "loss"},
        algorithm="grid",
        parallel=1,
        max_trials=1,
        extra_spec={
            "earlyStopping": {
                "algorithmName": "medianstop",
                "algorithmSettings": [{"name": "min_trials_required", "value": "5"}],
            }
        },
    )
    doc["spec"]["trialTemplate"].update(extra)
    return doc


def bounded(controller: Controller, records: int) -> Controller:
    """Read in slices of ``records`` (the controller must have started)."""
    controller._collector = StdOutCollector(["loss"], max_records=records)
    return controller


def check_flood(store: Store, controller: Controller, name: str, n: int, limit: int) -> Trial:
    (trial,) = store.list_trials(name)
    assert trial.status is TrialCondition.SUCCEEDED, (trial.reason, trial.message)
    values = [flood_value(i) for i in range(n)]
    assert trial.metrics["loss"] == MetricSummary(min(values), max(values), values[-1])
    assert trial.objective == min(values)
    stored = store.get_observations(name, trial.name, "loss")
    assert [o.step for o in stored] == expected_steps(limit, n)
    assert [o.value for o in stored] == [values[o.step] for o in stored]
    # The early stopper's copy of the curve is the stored one.
    assert controller._curves is not None
    assert controller._curves.by_metric["loss"][trial.name] == stored
    assert trial.labels.get(THINNED_LABEL) == ("loss" if n > limit else None)
    return trial


@pytest.mark.parametrize("records", [None, 7, 500])
def test_a_thinned_curve_is_the_same_however_it_is_read(
    tmp_path: Path, records: int | None
) -> None:
    with Store(f"sqlite:///{tmp_path / 't.db'}") as store:
        create(store, flood_doc("slices", 3000), tmp_path)
        controller = Controller(
            store, "slices", LocalExecutor(), poll_interval=0.02, observation_limit=40
        )
        controller.start()
        if records is not None:
            bounded(controller, records)
        controller.run()
        check_flood(store, controller, "slices", 3000, 40)


def test_a_restart_half_way_through_a_flood(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go = tmp_path / "go"
    monkeypatch.setenv("FLOOD_PAUSE", str(go))
    with Store(f"sqlite:///{tmp_path / 't.db'}") as store:
        create(store, flood_doc("restart", 2000), tmp_path)
        first = Controller(
            store, "restart", LocalExecutor(), poll_interval=0.02, observation_limit=50
        )
        first.start()
        bounded(first, 13)
        for _ in range(2000):
            first.tick()
            (trial,) = first.trials
            if (trial.cursor or {}).get("counts", {}).get("loss") == 1100:
                break
            first._idle()
        else:
            raise AssertionError("the trial never printed its first half")
        assert trial.labels[THINNED_LABEL] == "loss"
        first.release()
        second = Controller(
            store, "restart", LocalExecutor(), poll_interval=0.02, observation_limit=50
        )
        second.start()
        bounded(second, 13)
        go.touch()
        second.run()
        check_flood(store, second, "restart", 2000, 50)


@pytest.fixture(scope="module")
def warned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Store, Trial]]:
    """An experiment whose trial printed 3,000 lines against a limit of 100."""
    tmp = tmp_path_factory.mktemp("warned")
    db = tmp / "t.db"
    with Store(f"sqlite:///{db}") as store:
        create(store, flood_doc("warn", 3000), tmp)
        controller = Controller(
            store, "warn", LocalExecutor(), poll_interval=0.02, observation_limit=100
        )
        controller.run()
        yield db, store, check_flood(store, controller, "warn", 3000, 100)


def test_the_warning_shows_in_tunery_trials(warned: tuple[Path, Store, Trial]) -> None:
    from click.testing import CliRunner

    from tunery.cli import main

    db, _store, trial = warned
    out = CliRunner().invoke(main, ["trials", "warn", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "observations of loss thinned" in out.output
    listed = json.loads(
        CliRunner().invoke(main, ["trials", "warn", "--db", str(db), "--json"]).output
    )
    assert listed[0]["labels"][THINNED_LABEL] == "loss"
    assert listed[0]["metrics"]["loss"] == trial.metrics["loss"].to_json()


def test_the_trial_endpoint_downsamples_and_pages(warned: tuple[Path, Store, Trial]) -> None:
    from fastapi.testclient import TestClient

    from tunery.ui.app import create_app

    _db, store, trial = warned
    client = TestClient(create_app(store, "token"), base_url="http://127.0.0.1")
    url = f"/api/experiments/warn/trials/{trial.name}"
    data = client.get(url, params={"points": 20}).json()
    assert data["thinned"] == ["loss"]
    assert data["labels"][THINNED_LABEL] == "loss"
    stored = Thinning(100).stored(3000)
    curve = data["observations"]["loss"]
    assert data["series"]["loss"] == {"reported": 3000, "stored": stored, "returned": len(curve)}
    assert len(curve) <= 20 and curve[0]["step"] == 0
    assert min(p["value"] for p in curve) == -500.0  # the minimum is among the points kept
    assert data["metrics"]["loss"] == trial.metrics["loss"].to_json()
    whole = client.get(url).json()
    assert whole["series"]["loss"]["returned"] == stored == len(whole["observations"]["loss"])
    pages = []
    for offset in range(0, stored, 30):
        page = client.get(f"{url}/observations", params={"offset": offset, "limit": 30}).json()
        assert page["total"] == stored
        pages += page["observations"]
    assert [p["step"] for p in pages] == expected_steps(100, 3000)
    assert client.get(url, params={"points": 3}).status_code == 422


@pytest.mark.browser
def test_the_trial_page_shows_the_thinning(
    warned: tuple[Path, Store, Trial], tmp_path: Path
) -> None:
    pytest.importorskip("playwright")
    uvicorn = pytest.importorskip("uvicorn")
    from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS, _free_port
    from tunery.ui.app import create_app

    if not os.path.exists(CHROMIUM):
        from tests.conftest import require_system

        require_system(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    _db, store, trial = warned
    server = uvicorn.Server(
        uvicorn.Config(create_app(store, "token"), port=_free_port(), log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"http://127.0.0.1:{port}/#/experiments/warn/trials/{trial.name}")
            page.wait_for_selector("body[data-ready='trial']")
            page.wait_for_selector("#curves .curve .main-svg")
            assert (
                page.locator("#trial-thinned")
                .inner_text()
                .startswith("observations thinned loss: ")
            )
            stored = Thinning(100).stored(3000)
            assert page.locator("#curves-note").inner_text() == (
                f"loss: 3,000 values reported, {stored:,} stored, {stored:,} drawn."
            )
            browser.close()
            assert errors == []
    finally:
        server.should_exit = True
        thread.join(10)


# --------------------------------------------------------------------------- acceptance: floods

#: Run in a child process: a small warm-up experiment (so that every module is imported and
#: every cache made), then the flood, measuring the process's peak resident memory (VmHWM).
CHILD = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
args = json.loads(sys.argv[2])
from pathlib import Path
from tests.helpers import create
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.storage import Store

def hwm():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

tmp = Path(args["tmp"])
db = tmp / "flood.db"
store = Store(f"sqlite:///{db}")
for doc, n in ((args["warmup"], 50), (args["flood"], args["n"])):
    create(store, doc, tmp)
    name = doc["metadata"]["name"]
    if n == args["n"]:
        before, started = hwm(), time.monotonic()
    Controller(store, name, LocalExecutor(), poll_interval=0.05).run()
files = [p for p in tmp.iterdir() if p.name.startswith("flood.db")]
print(json.dumps({
    "growth": hwm() - before,
    "seconds": time.monotonic() - started,
    "db_bytes": sum(p.stat().st_size for p in files),
}))
"""

#: What a trial of each kind runs: N metric values ``(i * 7919) % 1000003 / 1000``.
WRITERS = {
    "stdout": """
        import sys
        n = int(sys.argv[1].split("=", 1)[1])
        w = sys.stdout.write
        for i in range(n):
            w(f"loss={(i * 7919) % 1000003 / 1000}\\n")
    """,
    "file": """
        import os, sys
        n = int(sys.argv[1].split("=", 1)[1])
        with open(os.environ["TUNERY_METRICS_PATH"], "w") as f:
            w = f.write
            for i in range(n):
                w(f'{{"loss": {(i * 7919) % 1000003 / 1000}}}\\n')
    """,
    "tfevents": """
        import os, struct, sys
        from tensorboard.compat.proto import event_pb2, summary_pb2
        n = int(sys.argv[1].split("=", 1)[1])
        path = os.path.join(os.environ["TUNERY_METRICS_PATH"], "events.out.tfevents.flood")
        with open(path, "wb") as f:
            for i in range(n):
                value = summary_pb2.Summary.Value(tag="loss", simple_value=0.0)
                value.simple_value = (i * 7919) % 1000003 / 1000
                event = event_pb2.Event(step=i, summary=summary_pb2.Summary(value=[value]))
                data = event.SerializeToString()
                # tunery does not check the CRCs: zeros keep the writer fast.
                f.write(struct.pack("<Q", len(data)) + bytes(4) + data + bytes(4))
    """,
}
COLLECTORS: dict[str, dict[str, Any]] = {
    "stdout": {},
    "file": {
        "collector": {"kind": "File"},
        "source": {
            "fileSystemPath": {"path": "/flood/metrics.jsonl", "kind": "File", "format": "JSON"}
        },
    },
    "tfevents": {
        "collector": {"kind": "TensorFlowEvent"},
        "source": {"fileSystemPath": {"path": "/flood/tb", "kind": "Directory"}},
    },
}


def kind_doc(kind: str, name: str, n: int) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if COLLECTORS[kind]:
        extra["metricsCollectorSpec"] = COLLECTORS[kind]
    return native_doc(
        name,
        textwrap.dedent(WRITERS[kind]),
        parameters=[
            {"name": "n", "parameterType": "discrete", "feasibleSpace": {"list": [str(n)]}}
        ],
        objective={"type": "minimize", "objectiveMetricName": "loss"},
        algorithm="grid",
        parallel=1,
        max_trials=1,
        extra_spec=extra,
    )


#: Peak memory the controller may gain while it collects a flood.  A read holds at most
#: 20,000 records from at most 4 MiB of output (tunery.collect.stdout.READ_RECORDS/READ_BYTES):
#: the records, their observations and the rows handed to the database are some 25 MB at
#: most; before the bounds, a million lines took about 1 GB.
MEMORY_BOUND = 64 * 2**20
#: The database after the flood: at most 10,000 observations per trial and metric (about
#: 100 bytes each, with their index entry) and SQLite's write-ahead log, which holds the largest
#: transaction (one read's observations).  Before the thinning, a million lines took 159 MB.
DB_BOUND = 16 * 2**20
#: The trial endpoint's answer: 2,000 points of one curve (about 60 bytes each) and 64 KiB of
#: log.  Before the downsampling, it was 47 MB for a million lines.
ANSWER_BOUND = 512 * 1024


@pytest.mark.integration
@pytest.mark.parametrize(
    ("kind", "n"),
    [("stdout", 1_000_000), ("file", 300_000), ("tfevents", 200_000)],
)
def test_a_flood_keeps_memory_storage_and_answers_bounded(
    tmp_path: Path, kind: str, n: int
) -> None:
    if kind == "tfevents":
        pytest.importorskip("tensorboard", reason="the tfevents extra is not installed")
    from fastapi.testclient import TestClient

    from tunery.ui.app import create_app

    args = {
        "tmp": str(tmp_path),
        "n": n,
        "warmup": kind_doc(kind, "warmup", 50),
        "flood": kind_doc(kind, "flood", n),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    print(kind, n, measured)
    assert measured["growth"] < MEMORY_BOUND, measured
    assert measured["db_bytes"] < DB_BOUND, measured

    values = [(i * 7919) % 1000003 / 1000 for i in range(n)]
    if kind == "tfevents":  # simple_value is a float32
        import struct

        values = [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]
    with Store(f"sqlite:///{tmp_path / 'flood.db'}") as store:
        (trial,) = store.list_trials("flood")
        assert trial.status is TrialCondition.SUCCEEDED, (trial.reason, trial.message)
        assert trial.metrics["loss"] == MetricSummary(min(values), max(values), values[-1])
        assert trial.labels[THINNED_LABEL] == "loss"
        assert store.observation_counts("flood", trial.name) == {"loss": Thinning().stored(n)}
        stored = store.get_observations("flood", trial.name)
        assert [o.step for o in stored] == expected_steps(OBSERVATION_LIMIT, n)
        client = TestClient(create_app(store, "token"), base_url="http://127.0.0.1")
        answer = client.get(f"/api/experiments/flood/trials/{trial.name}")
        assert answer.status_code == 200
        print(kind, "trial endpoint answer:", len(answer.content), "bytes")
        assert len(answer.content) < ANSWER_BOUND, len(answer.content)
        data = answer.json()
        assert data["thinned"] == ["loss"]
        assert data["series"]["loss"]["reported"] == n
        assert 1_000 < len(data["observations"]["loss"]) <= 2_000
