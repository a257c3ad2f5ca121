"""DaskExecutor on a real cluster: a ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

The contract suite, live output, GPU placement, re-attach, stop, a worker killed with SIGKILL
mid-trial, and whole experiments through ``tunery run --executor dask://...`` on a throwaway
PostgreSQL server.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunery.errors import TuneryError, UserInputError
from tunery.execute.base import Launch, ResourcesImpossible, RunState, RunStatus
from tunery.testing.executor import ExecutorContract, ExecutorHarness, LocalHarness

pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


from tunery.execute import open_executor  # noqa: E402
from tunery.execute.dask import DaskExecutor  # noqa: E402
from tunery.testing.dask import LocalDaskCluster, WorkerSpec  # noqa: E402

GPU_WORKER = WorkerSpec("gpu", nthreads=2, resources={"GPU": 1})
CPU_WORKER = WorkerSpec("cpu", nthreads=2)


def until(condition: Callable[[], Any], limit: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def wait(ex: DaskExecutor, handle: dict[str, Any], limit: float = 30.0) -> RunStatus:
    deadline = time.monotonic() + limit
    while True:
        status = ex.poll(handle)
        if status.state is not RunState.RUNNING:
            return status
        assert time.monotonic() < deadline, "trial did not end"
        ex.wait([handle], 0.2)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


def mirrored(ex: DaskExecutor, handle: dict[str, Any], text: str) -> bool:
    """Poll (which mirrors new output), then look for ``text`` in the local log."""
    ex.poll(handle)
    return text in Path(ex.output_path(handle)).read_text()


def sh(script: str) -> tuple[str, ...]:
    return ("/bin/sh", "-c", script, "trial")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDaskCluster]:
    root = tmp_path_factory.mktemp("dask")
    with LocalDaskCluster(str(root), [GPU_WORKER, CPU_WORKER]) as c:
        yield c


@pytest.fixture
def ex(cluster: LocalDaskCluster) -> Iterator[DaskExecutor]:
    executor = DaskExecutor(cluster.address, grace=1.0)
    yield executor
    executor.close()


# --------------------------------------------------------------------------- the contract


class DaskHarness(LocalHarness):
    """The local harness's shell trials, run on the cluster."""

    patience = 30.0

    def __init__(self, root: str, address: str) -> None:
        self.address = address
        self.executors: list[DaskExecutor] = []
        super().__init__(root)

    def new_executor(self) -> Any:
        executor = DaskExecutor(self.address, grace=1.0)
        self.executors.append(executor)
        return executor


class TestDaskContract(ExecutorContract):
    @pytest.fixture
    def harness(self, tmp_path: Path, cluster: LocalDaskCluster) -> Iterator[ExecutorHarness]:
        h = DaskHarness(str(tmp_path), cluster.address)
        yield h
        for executor in h.executors:
            executor.close()


# --------------------------------------------------------------------------- no cluster


def test_open_executor_local_and_unreachable() -> None:
    from tunery.execute.local import LocalExecutor

    assert isinstance(open_executor(None), LocalExecutor)
    assert isinstance(open_executor("local", gpus=["0"]), LocalExecutor)
    start = time.monotonic()
    with pytest.raises(UserInputError, match="--executor: cannot reach"):
        DaskExecutor("dask://127.0.0.1:9", connect_timeout=1.0)
    assert time.monotonic() - start < 15


def test_import_does_not_import_dask() -> None:
    code = (
        "import sys, tunery, tunery.execute.dask, tunery.cli, tunery.client\n"
        "import tunery.execute.dask_worker, tunery.execute.dask_protocol\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cli_bad_executor_is_one_line(tmp_path: Path) -> None:
    doc = tmp_path / "e.yaml"
    doc.write_text(EXPERIMENT.format(name="bad-url", trials=1, parallel=1, script="echo"))
    for url, expect in (
        ("dask://nowhere", "is not an executor URL"),
        ("dask://127.0.0.1:9", "cannot reach the Dask scheduler"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "tunery", "run", str(doc), "--executor", url, "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "TUNERY_DB": str(tmp_path / "t.db"),
                "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s",
            },
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "--executor" in lines[0] and expect in lines[0]
        assert "Traceback" not in proc.stderr


def _annotated(name: str, executor: str, script: str = "echo step=1 loss=$1") -> str:
    text = EXPERIMENT.format(name=name, trials=2, parallel=2, script=script)
    return text.replace(
        f"  name: {name}\n",
        f"  name: {name}\n  annotations: {{tunery.dev/executor: '{executor}'}}\n",
    )


def test_executor_annotation_is_checked_and_used_unless_overridden(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TUNERY_DB": str(tmp_path / "t.db"),
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s",
    }
    env.pop("TUNERY_EXECUTOR", None)

    def tunery(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tunery", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )

    bad = tmp_path / "bad.yaml"
    bad.write_text(_annotated("bad-annotation", "dask://nowhere"))
    proc = tunery("validate", str(bad))
    assert proc.returncode == 2
    assert 'metadata.annotations["tunery.dev/executor"]' in proc.stderr, proc.stderr
    away = tmp_path / "away.yaml"
    away.write_text(_annotated("away", "dask://127.0.0.1:9"))
    proc = tunery("run", str(away), "-q")
    assert proc.returncode == 2 and "cannot reach the Dask scheduler" in proc.stderr, proc.stderr
    proc = tunery("run", str(away), "-q", "--executor", "local")
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- on the cluster


@pytest.mark.integration
def test_an_annotated_experiment_runs_on_its_cluster(
    cluster: LocalDaskCluster, tmp_path: Path
) -> None:
    from tunery.storage import Store

    url = "dask://" + cluster.address.split("://", 1)[1]
    doc = tmp_path / "exp.yaml"
    doc.write_text(_annotated("annotated", url))
    db = str(tmp_path / "t.db")
    proc = _tunery("run", str(doc), "-q", "--db", db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with Store(db) as store:
        trials = store.list_trials("annotated")
    assert [t.status.value for t in trials] == ["Succeeded", "Succeeded"]
    assert all(t.handle and t.handle["executor"] == "dask" for t in trials)


@pytest.mark.integration
def test_a_failed_trial_says_its_last_output_line(ex: DaskExecutor, tmp_path: Path) -> None:
    from tests.helpers import create, native_doc
    from tunery.controller import Controller
    from tunery.storage import Store

    script = "print('score=1', flush=True)\nimport tunery_dask_test_module_not_installed\n"
    with Store(f"sqlite:///{tmp_path / 't.db'}") as store:
        create(store, native_doc("remote", script, parallel=1, max_trials=1), tmp_path)
        Controller(store, "remote", ex, poll_interval=0.05).run()
        [trial] = store.list_trials("remote")
    assert trial.status.value == "Failed", trial.message
    assert trial.message is not None and trial.message.endswith(
        ": ModuleNotFoundError: No module named 'tunery_dask_test_module_not_installed'"
    )


@pytest.mark.integration
def test_output_streams_while_running(ex: DaskExecutor, tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f'echo "loss=1"; while [ ! -e {go} ]; do sleep 0.02; done; echo "loss=2"'
    h = ex.start(Launch("live", sh(script), str(tmp_path / "live"))).handle
    out = Path(ex.output_path(h))
    assert str(out).startswith(str(tmp_path))  # a local file, read by the collectors

    def seen_first() -> bool:
        assert ex.poll(h).state is RunState.RUNNING
        return out.read_text() == "loss=1\n"

    until(seen_first, what="the first line before the trial ends")
    go.touch()
    assert wait(ex, h).state is RunState.SUCCEEDED
    assert out.read_text() == "loss=1\nloss=2\n"


@pytest.mark.integration
def test_partial_last_line_and_env(ex: DaskExecutor, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = 'echo "$FOO|$TUNERY_WORKER"; pwd; printf "no newline"'
    h = ex.start(
        Launch("env", sh(script), str(tmp_path / "env"), env={"FOO": "bar"}, working_dir=str(work))
    ).handle
    assert wait(ex, h).state is RunState.SUCCEEDED
    lines = Path(ex.output_path(h)).read_text().split("\n")
    foo, worker = lines[0].split("|")
    assert foo == "bar" and worker.startswith("tcp://127.0.0.1:")
    assert os.path.realpath(lines[1]) == os.path.realpath(work)
    assert lines[2] == "no newline"


@pytest.mark.integration
def test_gpu_trials_land_on_the_gpu_worker(
    ex: DaskExecutor, cluster: LocalDaskCluster, tmp_path: Path
) -> None:
    script = 'echo "$TUNERY_WORKER [$CUDA_VISIBLE_DEVICES] $(date +%s.%N)"; sleep 0.3; date +%s.%N'
    gpu = {"nvidia.com/gpu": "1"}
    handles = [
        ex.start(Launch(f"g{i}", sh(script), str(tmp_path / f"g{i}"), resources=gpu)).handle
        for i in range(3)
    ]
    cpu = [ex.start(Launch(f"c{i}", sh(script), str(tmp_path / f"c{i}"))).handle for i in range(3)]
    spans = []
    for h in handles:
        assert wait(ex, h).state is RunState.SUCCEEDED
        first, last = Path(ex.output_path(h)).read_text().splitlines()
        worker, devices, began = first.split()
        assert worker == cluster.workers["gpu"]
        assert devices == "[0]"
        spans.append((float(began), float(last)))
    spans.sort()
    # GPU=1: one GPU trial at a time on that worker.
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    for h in cpu:
        assert wait(ex, h).state is RunState.SUCCEEDED
        worker, devices, _ = Path(ex.output_path(h)).read_text().splitlines()[0].split()
        # A trial without GPUs on a GPU worker sees none.
        assert devices == "[]" or worker == cluster.workers["cpu"]
    with pytest.raises(ResourcesImpossible, match="GPU=2"):
        ex.start(Launch("big", ("true",), str(tmp_path / "big"), resources={"nvidia.com/gpu": "2"}))


@pytest.mark.integration
def test_reattach_from_a_new_client(cluster: LocalDaskCluster, tmp_path: Path) -> None:
    go = tmp_path / "go"
    first = DaskExecutor(cluster.address, grace=1.0)
    script = f'echo "step=1 loss=0.5"; while [ ! -e {go} ]; do sleep 0.02; done; echo "loss=0.25"'
    handle = json.loads(
        json.dumps(first.start(Launch("re", sh(script), str(tmp_path / "re"))).handle)
    )
    until(lambda: mirrored(first, handle, "loss=0.5"), what="first output")
    first.close()  # the controller dies; the trial runs on
    second = DaskExecutor(cluster.address, grace=1.0)
    try:
        second.adopt(handle)
        assert second.poll(handle).state is RunState.RUNNING
        go.touch()
        assert wait(second, handle).state is RunState.SUCCEEDED
        text = Path(second.output_path(handle)).read_text()
        assert text == "step=1 loss=0.5\nloss=0.25\n"  # nothing lost, nothing twice
    finally:
        second.close()


@pytest.mark.integration
def test_stop_kills_the_remote_tree(ex: DaskExecutor, tmp_path: Path) -> None:
    h = ex.start(
        Launch("tree", sh("sleep 1000 & echo $! > child.pid; wait"), str(tmp_path / "t"))
    ).handle

    def child_pid() -> int | None:
        ex.poll(h)
        attempts = ex.attempts(h)
        if not attempts:
            return None
        path = Path(attempts[0]["start"]["dir"]) / "child.pid"
        text = path.read_text().strip() if path.exists() else ""
        return int(text) if text else None

    child = until(child_pid, what="the trial's child process")
    assert alive(child)
    ex.stop(h)
    until(lambda: not alive(child), limit=5, what="the child to die")
    status = ex.poll(h)
    assert status.state is RunState.FAILED and status.reason == "Stopped"
    ex.stop(h)  # idempotent


@pytest.mark.integration
def test_stop_before_the_trial_starts(
    ex: DaskExecutor, cluster: LocalDaskCluster, tmp_path: Path
) -> None:
    # Fill every thread, then stop a queued trial: it never runs.
    marker = tmp_path / "ran"
    busy = [
        ex.start(Launch(f"b{i}", sh("sleep 30"), str(tmp_path / f"b{i}"))).handle for i in range(4)
    ]
    # Dask does not promise to run tasks in the order they were submitted: the queued trial
    # is submitted only once the four busy ones hold the cluster's four threads.
    until(lambda: all(ex.attempts(h) for h in busy), what="the busy trials to start")
    queued = ex.start(Launch("q", sh(f"touch {marker}"), str(tmp_path / "q"))).handle
    ex.stop(queued)
    assert ex.poll(queued).reason == "Stopped"
    for h in busy:
        ex.stop(h)
    time.sleep(0.5)
    assert not marker.exists()


# --------------------------------------------------------------------------- worker loss


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDaskCluster]:
    """A cluster whose workers the tests kill (restarted by :func:`restore`)."""
    root = tmp_path_factory.mktemp("fragile")
    with LocalDaskCluster(str(root), [GPU_WORKER, CPU_WORKER]) as c:
        yield c


def restore(cluster: LocalDaskCluster) -> None:
    for spec in cluster.specs:
        if spec.name not in cluster.workers:
            cluster.start_worker(spec)


COUNTING = "for i in 1 2 3 4 5 6; do echo loss=$i; sleep 0.3; done"


def _running_attempt(ex: DaskExecutor, h: dict[str, Any], lines: int) -> dict[str, Any] | None:
    assert ex.poll(h).state is RunState.RUNNING
    text = Path(ex.output_path(h)).read_text()
    attempts = ex.attempts(h)
    if attempts and text.count("\n") >= lines:
        start: dict[str, Any] = attempts[-1]["start"]
        return start
    return None


@pytest.mark.integration
def test_worker_killed_mid_trial_retries_elsewhere(
    fragile: LocalDaskCluster, tmp_path: Path
) -> None:
    restore(fragile)
    ex = DaskExecutor(fragile.address, grace=1.0, retries=2)
    try:
        h = ex.start(Launch("k", sh(COUNTING), str(tmp_path / "k"))).handle
        start = until(lambda: _running_attempt(ex, h, 2), what="two lines")
        victim = next(n for n, a in fragile.workers.items() if a == start["worker"])
        fragile.kill(victim)
        # The orphaned trial dies with its worker (the wrapper's pipe closes).
        until(lambda: not alive(int(start["pid"])), limit=5, what="the orphan to die")
        assert wait(ex, h).state is RunState.SUCCEEDED
        attempts = ex.attempts(h)
        assert len(attempts) == 2
        assert attempts[0]["end"] is None and attempts[1]["end"]["exit_code"] == 0
        assert attempts[1]["start"]["worker"] != start["worker"]
        lines = Path(ex.output_path(h)).read_text().splitlines()
        metric_lines = [line for line in lines if line.startswith("loss=")]
        assert metric_lines == [f"loss={i}" for i in range(1, 7)]  # each exactly once
        notes = [line for line in lines if line.startswith("tunery: worker")]
        assert len(notes) == 1 and "WorkerLost" in notes[0] and start["worker"] in notes[0]
    finally:
        ex.close()
        restore(fragile)


@pytest.mark.integration
def test_worker_killed_without_retries_fails_the_trial(
    fragile: LocalDaskCluster, tmp_path: Path
) -> None:
    restore(fragile)
    ex = DaskExecutor(fragile.address, grace=1.0, retries=0)
    try:
        h = ex.start(Launch("k0", sh(COUNTING), str(tmp_path / "k0"))).handle
        start = until(lambda: _running_attempt(ex, h, 1), what="a line")
        victim = next(n for n, a in fragile.workers.items() if a == start["worker"])
        fragile.kill(victim)
        status = wait(ex, h)
        assert status.state is RunState.FAILED
        assert status.reason == "WorkerLost"
        assert status.message is not None and start["worker"] in status.message
        # Any second run the scheduler started is killed.
        time.sleep(0.5)
        for attempt in ex.attempts(h)[1:]:
            until(lambda a=attempt: not alive(int(a["start"]["pid"])), limit=5)
    finally:
        ex.close()
        restore(fragile)


# --------------------------------------------------------------------------- experiments

EXPERIMENT = """
apiVersion: tunery/v1
kind: Experiment
metadata:
  name: {name}
spec:
  objective: {{type: minimize, objectiveMetricName: loss}}
  algorithm: {{algorithmName: random}}
  parallelTrialCount: {parallel}
  maxTrialCount: {trials}
  maxFailedTrialCount: {trials}
  parameters:
    - name: x
      parameterType: double
      feasibleSpace: {{min: "0", max: "1"}}
  trialTemplate:
    command: ["/bin/sh", "-c", '{script}', "trial", "${{trialParameters.x}}"]
"""


def _tunery(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.integration
@pytest.mark.postgres
def test_experiment_survives_a_worker_killed_mid_trial(
    fragile: LocalDaskCluster, pg_fresh_url: str, tmp_path: Path
) -> None:
    from tunery.storage import Store

    restore(fragile)
    trials = 6
    script = "for i in 1 2 3 4; do echo step=$i loss=$1; sleep 0.4; done"
    doc = tmp_path / "exp.yaml"
    doc.write_text(EXPERIMENT.format(name="scale", trials=trials, parallel=2, script=script))
    url = "dask://" + fragile.address.split("://", 1)[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunery",
            "run",
            str(doc),
            "-q",
            "--executor",
            url,
            "--db",
            pg_fresh_url,
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Kill whichever worker runs a trial that has printed its second line.
        roots = {name: Path(fragile.root) / name / "scale" for name in fragile.workers}

        def busy_worker() -> str | None:
            for name, root in roots.items():
                for log in root.glob("*/*/output.log"):
                    if log.read_text().count("\n") >= 2 and not (log.parent / "exitcode").exists():
                        return name
            assert proc.poll() is None, proc.communicate()
            return None

        victim = until(busy_worker, limit=60, what="a trial mid-run")
        fragile.kill(victim)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    with Store(pg_fresh_url) as store:
        final = store.list_trials("scale")
        exp = store.get_experiment("scale")
        observations = store.get_observations("scale", metric="loss")
    assert exp.status.value == "Succeeded", exp
    assert len(final) == trials
    assert all(t.status.is_completed for t in final), [(t.name, t.status) for t in final]
    assert all(t.status.value == "Succeeded" for t in final), [(t.name, t.reason) for t in final]
    steps: dict[str, list[int]] = {}
    for o in observations:
        steps.setdefault(o.trial_name, []).append(o.step)
    # Retried trials too have one observation per step: nothing counted twice, none lost.
    assert {name: sorted(s) for name, s in steps.items()} == {t.name: [1, 2, 3, 4] for t in final}
    restore(fragile)


@pytest.mark.integration
@pytest.mark.postgres
def test_second_controller_is_refused_by_the_lease(pg_fresh_url: str, tmp_path: Path) -> None:
    from tests.helpers import create
    from tunery.controller import Controller
    from tunery.errors import LeaseHeldError
    from tunery.execute.local import LocalExecutor
    from tunery.spec import parse_document
    from tunery.storage import Store

    doc = tmp_path / "lease.yaml"
    doc.write_text(EXPERIMENT.format(name="lease", trials=2, parallel=1, script="sleep 30"))
    spec_doc = yaml.safe_load(doc.read_text())
    parse_document(spec_doc)

    with Store(pg_fresh_url) as one, Store(pg_fresh_url) as two:
        create(one, spec_doc, tmp_path)
        first = Controller(one, "lease", LocalExecutor(), owner="host-a:1")
        first.start()
        try:
            second = Controller(two, "lease", LocalExecutor(), owner="host-b:2")
            with pytest.raises(LeaseHeldError, match="host-a:1"):
                second.start()
            # And through the CLI, on "another machine": one line, exit 2.
            proc = _tunery("resume", "lease", "--db", pg_fresh_url, "-q", cwd=tmp_path)
            assert proc.returncode == 2, proc.stderr
            assert "is being run by another controller" in proc.stderr
        finally:
            first.release()


@pytest.mark.integration
def test_recover_a_handle_that_was_never_saved(cluster: LocalDaskCluster, tmp_path: Path) -> None:
    launch = Launch("lost-handle", sh("echo loss=1; sleep 0.3"), str(tmp_path / "lh"))
    first = DaskExecutor(cluster.address, grace=1.0)
    created = time.time()
    key = first.start(launch).handle["key"]
    first.close()  # died before saving the handle
    second = DaskExecutor(cluster.address, grace=1.0)
    try:
        assert second.recover(launch, not_before=created + 60) is None  # an older leftover
        recovered = second.recover(launch, not_before=created)
        assert recovered is not None and recovered.handle["key"] == key
        handle = recovered.handle
        assert wait(second, handle).state is RunState.SUCCEEDED
        assert Path(second.output_path(handle)).read_text() == "loss=1\n"
        other = Launch("never", ("true",), str(tmp_path / "never"))
        assert second.recover(other, not_before=created) is None
    finally:
        second.close()


@pytest.mark.integration
@pytest.mark.postgres
def test_lost_database_connections_are_reopened(pg_fresh_url: str, tmp_path: Path) -> None:
    """The server drops every connection mid-experiment: no observation is lost."""
    import psycopg
    import sqlalchemy as sa

    from tests.helpers import create
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.storage import Store

    script = "for i in 1 2 3; do echo step=$i loss=$1; sleep 0.2; done"
    spec_doc = yaml.safe_load(EXPERIMENT.format(name="drop", trials=6, parallel=2, script=script))
    dsn = sa.engine.make_url(pg_fresh_url).set(drivername="postgresql")
    with Store(pg_fresh_url) as store:
        create(store, spec_doc, tmp_path)
        controller = Controller(store, "drop", LocalExecutor(gpus=[]), poll_interval=0.1)
        controller.start()
        dropped = 0
        try:
            while not controller.tick():
                running = sum(1 for t in controller.trials if t.status.value == "Running")
                if running and dropped < 3:
                    with psycopg.connect(dsn.render_as_string(hide_password=False)) as admin:
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    dropped += 1
                controller._idle()
        finally:
            controller.release()
        trials = store.list_trials("drop")
        observations = store.get_observations("drop", metric="loss")
    assert dropped == 3
    assert [t.status.value for t in trials] == ["Succeeded"] * 6
    assert len(observations) == 6 * 3


@pytest.mark.integration
def test_cli_stop_kills_remote_trials_when_no_controller_runs(
    cluster: LocalDaskCluster, tmp_path: Path
) -> None:
    from tunery.storage import Store

    pids = tmp_path / "pids"
    pids.mkdir()
    script = f'echo $$ > {pids}/"$TUNERY_TRIAL_NAME"; echo step=1 loss=$1; sleep 60'
    doc = tmp_path / "exp.yaml"
    doc.write_text(EXPERIMENT.format(name="halt", trials=4, parallel=2, script=script))
    db = str(tmp_path / "tunery.db")
    url = "dask://" + cluster.address.split("://", 1)[1]
    run = [sys.executable, "-m", "tunery", "run", str(doc), "-q", "--executor", url, "--db", db]
    proc = subprocess.Popen(run, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        until(lambda: len(list(pids.iterdir())) == 2, limit=60, what="two remote trials")
        time.sleep(0.5)  # the controller stores the handles as it starts the trials
    finally:
        proc.kill()  # the controller dies; the trials keep running on the cluster
        proc.wait()
    remote = [int(p.read_text()) for p in pids.iterdir()]
    assert all(alive(pid) for pid in remote)
    stopped = _tunery("stop", "halt", "--db", db, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    until(lambda: not any(alive(pid) for pid in remote), limit=20, what="remote trials killed")
    with Store(db) as store:
        statuses = {t.status.value for t in store.list_trials("halt")}
        assert store.get_experiment("halt").reason == "ExperimentStopped"
    assert statuses == {"Killed"}, statuses


@pytest.mark.integration
@pytest.mark.parametrize(("case", "file"), [("file-text", "mnist.log"), ("push", "push.jsonl")])
def test_file_collector_trials_get_their_own_metrics_on_dask(
    cluster: LocalDaskCluster, tmp_path: Path, case: str, file: str
) -> None:
    # Katib's File collector on an absolute path (or the Push collector's file, where
    # report_metrics() appends), three trials at once on the cluster's workers: each trial
    # writes its own file on its worker and is credited with it.
    from tests.helpers import create
    from tests.test_launch import CASES, TRAIN, katib_doc
    from tunery.controller import Controller
    from tunery.model import TrialCondition
    from tunery.storage import Store

    (tmp_path / "train.py").write_text(TRAIN)
    doc = katib_doc("dfile", *CASES[case], parallel=3, max_trials=3)
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    create(store, doc, tmp_path)
    executor = DaskExecutor(cluster.address, grace=1.0)
    try:
        Controller(store, "dfile", executor, poll_interval=0.05).run()
    finally:
        executor.close()
    trials = store.list_trials("dfile")
    store.close()
    assert len(trials) == 3
    for t in trials:
        assert t.status is TrialCondition.SUCCEEDED, (t.name, t.reason, t.message)
        assert t.handle is not None and t.handle["executor"] == "dask"
        expected = float(t.parameters["lr"]) * 10
        assert t.metrics["accuracy"].latest == pytest.approx(expected, rel=1e-4)
        mirror = tmp_path / "runs" / "dfile" / t.name / "metrics" / file
        assert t.metrics_source == str(mirror)
        # The trial wrote its metrics file on its worker (its root is not the controller's
        # runs directory); the controller's copy is the executor's mirror of it.
        written = _worker_files(cluster, "dfile", t.name, f"metrics/{file}")
        assert len(written) == 1, written
        assert mirror.read_bytes() == written[0].read_bytes() != b""


@pytest.mark.integration
@pytest.mark.parametrize("how", ["exit", "stop"])
def test_setsid_daemons_end_with_the_trial_on_dask(
    ex: DaskExecutor, tmp_path: Path, how: str
) -> None:
    from tests.test_execute_local import DAEMON, _daemon_pid, wait_gone

    pidfile = tmp_path / "daemon"
    keep = "exit" if how == "exit" else "wait"
    h = ex.start(
        Launch(
            trial_name=f"daemon-{how}",
            argv=("/bin/sh", "-c", DAEMON, "trial", str(pidfile), keep),
            trial_dir=str(tmp_path / how),
        )
    ).handle
    daemon = _daemon_pid(pidfile)
    if how == "stop":
        ex.stop(h)
    wait(ex, h)
    assert wait_gone(daemon, limit=15), f"daemon {daemon} outlived the trial on the worker ({how})"


# --------------------------------------------------------------------------- no shared disk


def _worker_files(cluster: LocalDaskCluster, experiment: str, trial: str, name: str) -> list[Path]:
    """``name`` in the attempt directories of ``trial`` on every worker of ``cluster``."""
    return sorted(Path(cluster.root).glob(f"*/{experiment}/{trial}/*/{name}"))


@pytest.mark.integration
def test_pbt_children_resume_from_checkpoints_left_on_their_parents_workers(
    cluster: LocalDaskCluster, tmp_path: Path
) -> None:
    # Two workers, each with its own root (not the controller's runs directory): a trial
    # writes its checkpoint on its worker; a child's start fetches its parent's from the
    # worker that ran the parent and ships it with the child's task.
    from tests.helpers import create
    from tests.test_suggest_pbt import lineage_doc
    from tunery.controller import Controller
    from tunery.model import PARENT_LABEL, TrialCondition
    from tunery.storage import Store

    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    create(store, lineage_doc("dpbt", population=5, parallel=4, max_trials=10), tmp_path)
    executor = DaskExecutor(cluster.address, grace=1.0)
    try:
        Controller(store, "dpbt", executor, poll_interval=0.05).run()
    finally:
        executor.close()
    trials = store.list_trials("dpbt")
    store.close()
    assert len(trials) == 10
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials), [
        (t.name, t.reason, t.message) for t in trials
    ]
    lineage = {}
    for t in trials:
        found = _worker_files(cluster, "dpbt", t.name, "checkpoint/lineage.json")
        assert len(found) == 1, (t.name, found)
        lineage[t.name] = json.loads(found[0].read_text())
    staged = tmp_path / "runs" / "dpbt" / "checkpoints"
    for t in trials:
        parent = t.labels.get(PARENT_LABEL)
        assert (parent is None) == (t.index <= 5)
        before = lineage[parent] if parent else {"trials": [], "score": 0.0}
        assert lineage[t.name]["trials"] == [*before["trials"], t.name]
        assert lineage[t.name]["score"] == pytest.approx(before["score"] + t.parameters["x"])
        assert t.objective == pytest.approx(lineage[t.name]["score"])
        # The controller's copy is what the trial started from: the trial wrote elsewhere.
        mine = staged / t.name / "lineage.json"
        assert json.loads(mine.read_text()) == before if parent else not mine.exists()


@pytest.mark.integration
def test_checkpoints_over_the_limit_are_refused_in_one_line(
    cluster: LocalDaskCluster, tmp_path: Path
) -> None:
    big = tmp_path / "ckpt" / "big"
    big.mkdir(parents=True)
    (big / "model.bin").write_bytes(b"x" * 2000)
    ex = DaskExecutor(cluster.address, grace=1.0, checkpoint_limit=1000)
    try:
        launch = Launch("big", sh("true"), str(tmp_path / "big"), checkpoint_dir=str(big))
        with pytest.raises(TuneryError) as info:
            ex.start(launch)
        assert "2000 bytes, more than the limit of 1000" in info.value.one_line()
        assert "\n" not in info.value.one_line()
        # A parent's checkpoint on a worker is refused the same way when a child fetches it.
        small = tmp_path / "ckpt" / "small"
        parent = ex.start(
            Launch(
                "parent",
                sh('head -c 3000 /dev/zero > "$TUNERY_CHECKPOINT_DIR/model.bin"'),
                str(tmp_path / "parent"),
                env={"TUNERY_CHECKPOINT_DIR": str(small)},
                checkpoint_dir=str(small),
            )
        ).handle
        assert wait(ex, parent).state is RunState.SUCCEEDED
        assert not small.exists(), "the trial wrote its checkpoint on its worker"
        with pytest.raises(TuneryError, match="3000 bytes, more than the limit of 1000"):
            ex.prepare_checkpoint(str(small), str(tmp_path / "ckpt" / "child"))
        assert not (tmp_path / "ckpt" / "child").exists()
        ex.checkpoint_limit = 10_000
        ex.prepare_checkpoint(str(small), str(tmp_path / "ckpt" / "child"))
        assert (tmp_path / "ckpt" / "child" / "model.bin").read_bytes() == b"\0" * 3000
    finally:
        ex.close()
