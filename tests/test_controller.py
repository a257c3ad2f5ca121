"""The reconcile loop, with real trial subprocesses (LocalExecutor) and a real SQLite store."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import SCORE_IS_X, create, native_doc
from tunery.controller import Controller
from tunery.errors import LeaseHeldError
from tunery.execute.local import LocalExecutor
from tunery.model import ExperimentCondition, ExperimentReason, IntentKind, TrialCondition
from tunery.storage import Store, TrialChange


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def run(store: Store, name: str, **kwargs: object) -> Controller:
    controller = Controller(store, name, LocalExecutor(), poll_interval=0.02, **kwargs)  # type: ignore[arg-type]
    controller.run()
    return controller


def test_runs_to_max_trials_with_objective_and_observations(store: Store, tmp_path: Path) -> None:
    create(store, native_doc("basic", SCORE_IS_X, parallel=2, max_trials=5), tmp_path)
    run(store, "basic")
    exp = store.get_experiment("basic")
    assert exp.status is ExperimentCondition.SUCCEEDED
    assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
    trials = store.list_trials("basic")
    assert len(trials) == 5
    for t in trials:
        assert t.status is TrialCondition.SUCCEEDED, (t.reason, t.message)
        # maximize -> strategy max: the objective is the larger of the two reported values
        assert t.objective == pytest.approx(max(0.0, float(t.parameters["x"])))
        obs = store.get_observations("basic", t.name, "score")
        assert [o.step for o in obs] == [0, 1]
        assert t.start_time is not None and t.completion_time is not None
        assert (tmp_path / "runs" / "basic" / t.name / "output.log").exists()


def test_metric_strategy_latest_and_minimize(store: Store, tmp_path: Path) -> None:
    script = """
    print("loss=5")
    print("loss=1")
    print("loss=3")
    """
    doc = native_doc(
        "latest",
        script,
        objective={
            "type": "minimize",
            "objectiveMetricName": "loss",
            "metricStrategies": [{"name": "loss", "value": "latest"}],
        },
        max_trials=2,
    )
    create(store, doc, tmp_path)
    run(store, "latest")
    for t in store.list_trials("latest"):
        assert t.objective == 3.0
        assert t.metrics["loss"].min == 1.0 and t.metrics["loss"].max == 5.0


def test_goal_reached_stops_early_and_kills_running(store: Store, tmp_path: Path) -> None:
    # Trial 1..: x >= 0 always reaches goal 0 for maximize; slow trials in parallel get killed.
    script = """
    import sys, time
    x = float(sys.argv[1].split("=", 1)[1])
    if x < 0.5:
        time.sleep(30)
    print(f"score={x}", flush=True)
    """
    doc = native_doc(
        "goal",
        script,
        objective={"type": "maximize", "objectiveMetricName": "score", "goal": 0.5},
        parallel=3,
        max_trials=30,
    )
    create(store, doc, tmp_path)
    run(store, "goal")
    exp = store.get_experiment("goal")
    assert exp.status is ExperimentCondition.SUCCEEDED
    assert exp.reason == ExperimentReason.GOAL_REACHED
    trials = store.list_trials("goal")
    assert len(trials) < 30
    assert any(t.status is TrialCondition.SUCCEEDED and t.objective >= 0.5 for t in trials)  # type: ignore[operator]
    assert all(t.status.is_completed for t in trials)
    killed = [t for t in trials if t.status is TrialCondition.KILLED]
    assert all(t.reason == "ExperimentGoalReached" for t in killed)


def test_max_failed_trials_fails_experiment(store: Store, tmp_path: Path) -> None:
    doc = native_doc("failing", "import sys; sys.exit(3)", parallel=1, max_trials=10, max_failed=2)
    create(store, doc, tmp_path)
    run(store, "failing")
    exp = store.get_experiment("failing")
    assert exp.status is ExperimentCondition.FAILED
    assert exp.reason == ExperimentReason.MAX_FAILED_TRIALS_REACHED
    trials = store.list_trials("failing")
    assert len(trials) == 2
    assert all(t.status is TrialCondition.FAILED for t in trials)
    assert "exit code 3" in (trials[0].message or "")


@pytest.mark.parametrize(
    ("script", "status", "reason"),
    [
        ("import sys; print('score=1'); sys.exit(1)", TrialCondition.FAILED, None),
        ("pass", TrialCondition.METRICS_UNAVAILABLE, "MetricsUnavailable"),
        (
            "print('score=banana\\n\\x00\\xff garbage ==== score= =3')",
            TrialCondition.METRICS_UNAVAILABLE,
            None,
        ),
        ("print('score=nan'); print('score=inf')", TrialCondition.METRICS_UNAVAILABLE, None),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", TrialCondition.FAILED, None),
    ],
    ids=["crash", "silent", "garbage", "nan", "sigkill"],
)
def test_bad_trials_become_trial_state(
    store: Store, tmp_path: Path, script: str, status: TrialCondition, reason: str | None
) -> None:
    doc = native_doc("bad", script, parallel=1, max_trials=2)
    create(store, doc, tmp_path)
    run(store, "bad")
    exp = store.get_experiment("bad")
    assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
    trials = store.list_trials("bad")
    assert [t.status for t in trials] == [status, status]
    if reason:
        assert trials[0].reason == reason
    assert trials[0].message


def test_hung_trial_times_out_and_experiment_goes_on(store: Store, tmp_path: Path) -> None:
    script = """
    import subprocess, sys, time
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(60)
    """
    doc = native_doc("hang", script, parallel=2, max_trials=2, timeout="1s")
    create(store, doc, tmp_path)
    run(store, "hang")
    trials = store.list_trials("hang")
    assert [t.status for t in trials] == [TrialCondition.FAILED] * 2
    assert {t.reason for t in trials} == {"TrialTimeout"}
    assert store.get_experiment("hang").reason == ExperimentReason.MAX_TRIALS_REACHED


def test_failed_trials_say_their_last_output_line(store: Store, tmp_path: Path) -> None:
    # No maxFailedTrialCount: Katib ends with MaxTrialsReached (Succeeded) all the same.
    script = """
    print("score=0.1", flush=True)
    import sklearn_is_not_installed_here
    """
    create(store, native_doc("nomod", script, parallel=2, max_trials=2), tmp_path)
    run(store, "nomod")
    assert store.get_experiment("nomod").reason == ExperimentReason.MAX_TRIALS_REACHED
    for t in store.list_trials("nomod"):
        assert (t.status, t.reason) == (TrialCondition.FAILED, "ExitCode")
        assert t.message == (
            "exit code 1: ModuleNotFoundError: No module named 'sklearn_is_not_installed_here'"
        )

    doc = native_doc("nofile", "", parallel=1, max_trials=1)
    doc["spec"]["trialTemplate"]["command"] = [
        sys.executable,
        "train_missing.py",
        "--x=${trialParameters.x}",
    ]
    create(store, doc, tmp_path)
    run(store, "nofile")
    [t] = store.list_trials("nofile")
    assert t.status is TrialCondition.FAILED
    assert t.message is not None and t.message.startswith("exit code 2: ")
    assert "can't open file" in t.message and "train_missing.py" in t.message


def test_timed_out_and_silent_trials_say_their_last_output_line(
    store: Store, tmp_path: Path
) -> None:
    script = """
    import time
    print("waiting for the data server", flush=True)
    print("score=0.5", flush=True)
    time.sleep(60)
    """
    create(store, native_doc("slow", script, parallel=1, max_trials=1, timeout="1s"), tmp_path)
    run(store, "slow")
    [t] = store.list_trials("slow")
    assert (t.status, t.reason) == (TrialCondition.FAILED, "TrialTimeout")
    assert t.message is not None
    assert t.message.endswith("and was killed; last output: waiting for the data server")

    script = """
    print("done, but the metric is spelled wrong:", flush=True)
    print("scor=0.5", flush=True)
    """
    create(store, native_doc("typo", script, parallel=1, max_trials=1), tmp_path)
    run(store, "typo")
    [t] = store.list_trials("typo")
    assert t.status is TrialCondition.METRICS_UNAVAILABLE
    assert t.message == (
        "the trial succeeded but never reported 'score'; "
        "last output: done, but the metric is spelled wrong:"
    )


def test_parallelism_really_runs_n_at_once(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "spans.jsonl"
    script = f"""
    import json, sys, time
    start = time.time()
    time.sleep(0.6)
    with open({str(log)!r}, "a") as fh:
        fh.write(json.dumps([start, time.time()]) + "\\n")
    print("score=1")
    """
    create(store, native_doc("par", script, parallel=3, max_trials=6), tmp_path)
    run(store, "par")
    spans = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(spans) == 6
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    assert peak == 3


def test_suggestion_end_reached_on_exhausted_grid(store: Store, tmp_path: Path) -> None:
    params = [
        {"name": "a", "parameterType": "categorical", "feasibleSpace": {"list": ["p", "q"]}},
        {"name": "b", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}},
    ]
    doc = native_doc(
        "gridend",
        "print('score=1')",
        parameters=params,
        algorithm="grid",
        max_trials=None,
        parallel=2,
    )
    del doc["spec"]["maxTrialCount"]
    create(store, doc, tmp_path)
    run(store, "gridend")
    exp = store.get_experiment("gridend")
    assert exp.reason == ExperimentReason.SUGGESTION_END_REACHED
    trials = store.list_trials("gridend")
    assert sorted((t.parameters["a"], t.parameters["b"]) for t in trials) == [
        ("p", 1),
        ("p", 2),
        ("q", 1),
        ("q", 2),
    ]


def test_second_controller_is_refused(store: Store, tmp_path: Path) -> None:
    create(store, native_doc("lease", SCORE_IS_X), tmp_path)
    first = Controller(store, "lease", LocalExecutor())
    first.start()
    second = Controller(store, "lease", LocalExecutor())
    with pytest.raises(LeaseHeldError) as info:
        second.start()
    assert "lease" in str(info.value)
    first.release()
    second.start()
    second.release()


def test_intents_stop_experiment_and_kill_trial(store: Store, tmp_path: Path) -> None:
    script = "import time; time.sleep(30)"
    create(store, native_doc("intents", script, parallel=2, max_trials=10), tmp_path)
    controller = Controller(
        store, "intents", LocalExecutor(), poll_interval=0.02, intent_interval=0
    )
    controller.start()
    controller.tick()
    running = store.list_trials("intents", [TrialCondition.RUNNING])
    assert len(running) == 2
    store.add_intent("intents", IntentKind.KILL_TRIAL, running[0].name, 0.0)
    controller.tick()
    assert store.get_trial("intents", running[0].name).status is TrialCondition.KILLED
    # the freed slot is refilled
    assert len(store.list_trials("intents", [TrialCondition.RUNNING])) == 2
    store.add_intent("intents", IntentKind.STOP_EXPERIMENT, None, 0.0)
    assert controller.tick()
    controller.release()
    exp = store.get_experiment("intents")
    assert exp.reason == ExperimentReason.STOPPED
    assert not store.list_trials("intents", [TrialCondition.RUNNING, TrialCondition.CREATED])
    assert not store.pending_intents("intents")


def test_restart_reattaches_running_trials(store: Store, tmp_path: Path) -> None:
    script = """
    import time
    time.sleep(1.0)
    print("score=0.5")
    """
    create(store, native_doc("reattach", script, parallel=2, max_trials=2), tmp_path)
    first = Controller(store, "reattach", LocalExecutor(), poll_interval=0.02)
    first.start()
    first.tick()
    first.release()  # the controller goes away while its trials run
    del first
    second = Controller(store, "reattach", LocalExecutor(), poll_interval=0.02)
    second.run()
    trials = store.list_trials("reattach")
    assert len(trials) == 2
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 2
    assert [t.objective for t in trials] == [0.5, 0.5]


def test_interrupt_records_the_experiment_interrupted_until_resumed(
    store: Store, tmp_path: Path
) -> None:
    from tunery import wire
    from tunery.client import Client, ExperimentHandle

    script = """
    import time
    time.sleep(30)
    """
    create(store, native_doc("paused", script, parallel=2, max_trials=2), tmp_path)
    first = Controller(store, "paused", LocalExecutor(), poll_interval=0.02)
    first.start()
    first.tick()
    assert store.get_experiment("paused").shown_status == "Running"
    assert first.interrupt() == 2
    first.release()
    exp = store.get_experiment("paused")
    # Katib's condition stays (no "Paused" there); the reason says nothing runs.
    assert exp.status is ExperimentCondition.RUNNING
    assert exp.reason == ExperimentReason.INTERRUPTED
    assert exp.message is not None and "tunery resume paused" in exp.message
    assert exp.interrupted and exp.shown_status == "Interrupted"
    assert wire.experiment_json(exp, {}, None)["status"] == "Interrupted"
    assert ExperimentHandle(Client(store=store), "paused").status == "Interrupted"
    # A controller that takes the experiment again makes it Running (Restarting).
    second = Controller(store, "paused", LocalExecutor(), poll_interval=0.02)
    second.start()
    try:
        again = store.get_experiment("paused")
        assert again.reason == ExperimentReason.RESTARTING and again.shown_status == "Running"
    finally:
        second.interrupt()
        second.release()


def test_resume_reruns_interrupted_trials_and_the_grid_stays_whole(
    store: Store, tmp_path: Path
) -> None:
    from tunery.model import RERUN_LABEL, TrialReason

    params = [
        {"name": "a", "parameterType": "categorical", "feasibleSpace": {"list": ["p", "q"]}},
        {"name": "b", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}},
    ]
    script = """
    import time
    time.sleep(0.5)
    print("score=1")
    """
    doc = native_doc("gridrerun", script, parameters=params, algorithm="grid", parallel=2)
    del doc["spec"]["maxTrialCount"]
    create(store, doc, tmp_path)
    first = Controller(store, "gridrerun", LocalExecutor(), poll_interval=0.02)
    first.start()
    first.tick()
    assert first.interrupt() == 2
    first.release()
    killed = store.list_trials("gridrerun")
    assert [(t.status, t.reason) for t in killed] == [
        (TrialCondition.KILLED, TrialReason.INTERRUPTED)
    ] * 2
    run(store, "gridrerun")
    exp = store.get_experiment("gridrerun")
    assert exp.reason == ExperimentReason.SUGGESTION_END_REACHED
    trials = store.list_trials("gridrerun")
    done = [t for t in trials if t.status is TrialCondition.SUCCEEDED]
    # Every grid point ran once to its end: the interrupted two again, first, then the rest.
    assert sorted((t.parameters["a"], t.parameters["b"]) for t in done) == [
        ("p", 1),
        ("p", 2),
        ("q", 1),
        ("q", 2),
    ]
    assert [t.labels.get(RERUN_LABEL) for t in done[:2]] == [t.name for t in killed]
    assert [t.parameters for t in done[:2]] == [t.parameters for t in killed]
    assert len(trials) == 6


def test_created_trial_without_handle_is_started_on_resume(store: Store, tmp_path: Path) -> None:
    from tunery.model import Trial

    create(store, native_doc("orphan", SCORE_IS_X, parallel=1, max_trials=1), tmp_path)
    # A crash between creating the trial row and starting it leaves it Created, no handle.
    store.create_trial(
        Trial(name="orphan-0001", experiment="orphan", index=1, parameters={"x": 0.25})
    )
    run(store, "orphan")
    trials = store.list_trials("orphan")
    assert len(trials) == 1
    assert trials[0].status is TrialCondition.SUCCEEDED
    assert trials[0].objective == 0.25


def test_gpu_pool_limits_and_assigns_devices(store: Store, tmp_path: Path) -> None:
    script = """
    import os, time
    print("device=" + os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
    time.sleep(0.4)
    print("score=1")
    """
    doc = native_doc("gpus", script, parallel=3, max_trials=4)
    doc["spec"]["trialTemplate"]["resources"] = {"nvidia.com/gpu": "1"}
    create(store, doc, tmp_path)
    controller = Controller(store, "gpus", LocalExecutor(gpus=["0", "1"]), poll_interval=0.02)
    controller.start()
    peak = 0
    while not controller.tick():
        running = store.list_trials("gpus", [TrialCondition.RUNNING])
        peak = max(peak, len(running))
        assert len(running) <= 2, "more trials than GPUs"
        controller._idle()
    controller.release()
    trials = store.list_trials("gpus")
    assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 4
    assert peak == 2
    devices = set()
    for t in trials:
        log = (tmp_path / "runs" / "gpus" / t.name / "output.log").read_text()
        devices.add(log.split("device=")[1].split()[0])
    assert devices == {"0", "1"}


def test_file_collector_json_lines(store: Store, tmp_path: Path) -> None:
    script = """
    import json, sys
    x = float(sys.argv[1].split("=", 1)[1])
    with open("metrics.jsonl", "a") as fh:
        for epoch in range(3):
            fh.write(json.dumps({"epoch": epoch, "acc": str(x * epoch), "loss": 1 - x}) + "\\n")
    """
    doc = native_doc(
        "jsonfile",
        script,
        objective={
            "type": "maximize",
            "objectiveMetricName": "acc",
            "additionalMetricNames": ["loss"],
        },
        parallel=1,
        max_trials=2,
        extra_spec={
            "metricsCollectorSpec": {
                "collector": {"kind": "File"},
                "source": {
                    "fileSystemPath": {"path": "metrics.jsonl", "kind": "File", "format": "JSON"}
                },
            }
        },
    )
    # each trial writes into its own working directory, named by a meta reference (Katib style)
    template = doc["spec"]["trialTemplate"]
    template["trialParameters"] = [
        {"name": "x", "reference": "x"},
        {"name": "trialName", "reference": "${trialSpec.Name}"},
    ]
    template["workingDir"] = str(tmp_path / "work-${trialParameters.trialName}")
    for i in (1, 2):
        (tmp_path / f"work-jsonfile-000{i}").mkdir()
    create(store, doc, tmp_path)
    run(store, "jsonfile")
    for t in store.list_trials("jsonfile"):
        assert t.status is TrialCondition.SUCCEEDED, (t.reason, t.message)
        assert t.objective == pytest.approx(2 * float(t.parameters["x"]))
        assert len(store.get_observations("jsonfile", t.name, "acc")) == 3


@pytest.mark.postgres
def test_experiment_on_postgresql(pg_fresh_url: str, tmp_path: Path) -> None:
    pg = Store(pg_fresh_url)
    try:
        create(pg, native_doc("pg", SCORE_IS_X, parallel=2, max_trials=4), tmp_path)
        run(pg, "pg")
        exp = pg.get_experiment("pg")
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
        trials = pg.list_trials("pg")
        assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 4
        assert all(len(pg.get_observations("pg", t.name)) == 2 for t in trials)
    finally:
        pg.close()


#: Three steps per trial, slow enough that the controller writes while trials run.
THREE_STEPS = """
import sys, time
x = float(sys.argv[1].split("=", 1)[1])
for step in range(1, 4):
    time.sleep(0.15)
    print(f"step={step} score={x * step}", flush=True)
"""


@pytest.mark.postgres
@pytest.mark.integration
def test_connection_lost_inside_a_transaction_is_survived(
    pg_fresh_url: str, tmp_path: Path
) -> None:
    """The server kills the controller's connection in the middle of its writes."""
    import psycopg
    import sqlalchemy as sa

    dsn = sa.engine.make_url(pg_fresh_url).set(drivername="postgresql")
    admin_dsn = dsn.render_as_string(hide_password=False)
    pg = Store(pg_fresh_url)
    #: Statements (by their first words) at whose n-th execution the connection dies.
    targets = {"INSERT INTO observations": 2, "UPDATE trials": 9, "SELECT intents": 3}
    seen: dict[str, int] = {}
    killed: list[str] = []

    def kill_midway(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        for prefix, n in targets.items():
            if statement.lstrip().startswith(prefix):
                seen[prefix] = seen.get(prefix, 0) + 1
                if seen[prefix] == n:
                    pid = conn.connection.dbapi_connection.info.backend_pid
                    with psycopg.connect(admin_dsn, autocommit=True) as admin:
                        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    killed.append(prefix)

    sa.event.listen(pg.engine, "before_cursor_execute", kill_midway)
    try:
        create(pg, native_doc("lost", THREE_STEPS, parallel=2, max_trials=4), tmp_path)
        Controller(pg, "lost", LocalExecutor(), poll_interval=0.05).run()
        sa.event.remove(pg.engine, "before_cursor_execute", kill_midway)
        assert sorted(killed) == sorted(targets), (killed, seen)
        exp = pg.get_experiment("lost")
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
        trials = pg.list_trials("lost")
        assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 4
        for t in trials:
            steps = [o.step for o in pg.get_observations("lost", t.name, "score")]
            assert steps == [1, 2, 3], (t.name, steps)  # nothing lost, nothing twice
    finally:
        pg.close()


@pytest.mark.postgres
@pytest.mark.integration
def test_two_controllers_and_the_ui_share_one_postgresql(pg_fresh_url: str, tmp_path: Path) -> None:
    """Different experiments, each with its own controller and connection pool, at once."""
    import threading

    from fastapi.testclient import TestClient

    from tunery.ui.app import create_app

    setup = Store(pg_fresh_url)
    for name in ("left", "right"):
        create(setup, native_doc(name, THREE_STEPS, parallel=2, max_trials=4), tmp_path)
    errors: list[BaseException] = []

    def drive(name: str) -> None:
        own = Store(pg_fresh_url)  # as on another machine: its own engine
        try:
            Controller(own, name, LocalExecutor(), poll_interval=0.05).run()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=drive, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    ui = TestClient(create_app(Store(pg_fresh_url), token="t"), base_url="http://127.0.0.1")
    seen_running = False
    while any(t.is_alive() for t in threads):
        listed = ui.get("/api/experiments").json()
        seen_running |= any(e["status"] == "Running" for e in listed)
        threads[0].join(0.1)
    for t in threads:
        t.join()
    assert not errors, errors
    try:
        for name in ("left", "right"):
            exp = setup.get_experiment(name)
            assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED, exp
            trials = setup.list_trials(name)
            assert [t.status for t in trials] == [TrialCondition.SUCCEEDED] * 4
            assert all(len(setup.get_observations(name, t.name)) == 3 for t in trials)
            assert setup.lease_owner(name) is None  # released
        listed = ui.get("/api/experiments").json()
        assert {e["name"] for e in listed} == {"left", "right"}
        assert seen_running
    finally:
        setup.close()


def test_simulated_thousands_of_trials_with_fake_clock(store: Store, tmp_path: Path) -> None:
    from tunery.clock import FakeClock
    from tunery.testing.executor import FakeExecutor, TrialScript

    clock = FakeClock()

    def script(launch: object) -> TrialScript:
        return TrialScript(duration=30.0, lines=[(10.0, "score=0.1"), (29.0, "score=0.2")])

    doc = native_doc("sim", SCORE_IS_X, parallel=20, max_trials=300)
    create(store, doc, tmp_path)
    executor = FakeExecutor(clock, script)
    controller = Controller(store, "sim", executor, clock=clock, poll_interval=5.0)
    controller.run()
    trials = store.list_trials("sim")
    assert len(trials) == 300
    assert all(t.status is TrialCondition.SUCCEEDED and t.objective == 0.2 for t in trials)
    # 300 trials of 30 s, 20 at a time, polled every 5 s: 15 waves of 30-35 s
    elapsed = max(t.completion_time for t in trials) - min(t.start_time for t in trials)  # type: ignore[type-var,operator]
    assert 15 * 30 <= elapsed <= 15 * 36


def test_trial_started_but_handle_never_saved_is_reattached_not_rerun(
    store: Store, tmp_path: Path
) -> None:
    import time

    from tunery.model import Trial

    ran = tmp_path / "ran.txt"
    script = f"""
    import sys, time
    with open({str(ran)!r}, "a") as fh:
        fh.write("run\\n")
    time.sleep(0.5)
    print("score=0.75")
    """
    create(store, native_doc("lost-handle", script, parallel=1, max_trials=1), tmp_path)
    trial = Trial(
        name="lost-handle-0001",
        experiment="lost-handle",
        index=1,
        parameters={"x": 0.5},
        created_time=time.time(),
    )
    store.create_trial(trial)
    # The controller that created the row started the process, then died before saving
    # the handle: simulate with a controller whose executor starts it and is dropped.
    dying = Controller(store, "lost-handle", LocalExecutor())
    dying.start()
    LocalExecutor().start(dying._launch(trial))
    dying.release()
    run(store, "lost-handle")
    done = store.get_trial("lost-handle", "lost-handle-0001")
    assert done.status is TrialCondition.SUCCEEDED and done.objective == 0.75
    assert ran.read_text() == "run\n", "the trial ran twice"


def test_stale_trial_directory_of_a_deleted_experiment_is_not_recovered(
    store: Store, tmp_path: Path
) -> None:
    import os
    import time

    from tunery.model import Trial

    create(store, native_doc("stale", SCORE_IS_X, parallel=1, max_trials=1), tmp_path)
    old_dir = tmp_path / "runs" / "stale" / "stale-0001"
    old_dir.mkdir(parents=True)
    (old_dir / "pid").write_text("1\n")
    (old_dir / "exitcode").write_text("3\n")
    an_hour_ago = time.time() - 3600
    os.utime(old_dir / "pid", (an_hour_ago, an_hour_ago))
    store.create_trial(
        Trial(
            name="stale-0001",
            experiment="stale",
            index=1,
            parameters={"x": 0.5},
            created_time=time.time(),
        )
    )
    run(store, "stale")
    done = store.get_trial("stale", "stale-0001")
    assert done.status is TrialCondition.SUCCEEDED and done.objective == 0.5


def test_stop_interrupted_by_a_crash_keeps_its_intended_outcome(
    store: Store, tmp_path: Path
) -> None:
    create(
        store,
        native_doc("half-stop", "import time; time.sleep(30)", parallel=1, max_trials=1),
        tmp_path,
    )
    first = Controller(store, "half-stop", LocalExecutor(), poll_interval=0.02)
    first.start()
    first.tick()
    trial = store.list_trials("half-stop")[0]
    assert trial.status is TrialCondition.RUNNING and trial.handle
    # The controller decided to early-stop it, saved that, stopped the process, then died.
    intent = {"status": "EarlyStopped", "reason": "TrialEarlyStopped", "message": "below median"}
    store.update_trial("half-stop", trial.name, TrialChange(pending_outcome=intent))
    LocalExecutor().stop(trial.handle)
    first.release()
    run(store, "half-stop")
    done = store.get_trial("half-stop", trial.name)
    assert done.status is TrialCondition.EARLY_STOPPED
    assert (done.reason, done.message) == ("TrialEarlyStopped", "below median")


def test_ctrl_c_interrupted_by_a_crash_still_reruns_the_trial(store: Store, tmp_path: Path) -> None:
    script = """
    import time
    time.sleep(0.3)
    print("score=2")
    """
    create(store, native_doc("half-ctrlc", script, parallel=1, max_trials=1), tmp_path)
    first = Controller(store, "half-ctrlc", LocalExecutor(), poll_interval=0.02)
    first.start()
    first.tick()
    trial = store.list_trials("half-ctrlc")[0]
    assert trial.status is TrialCondition.RUNNING and trial.handle
    # Ctrl-C saved the outcome, stopped the process, and the controller died before the rest.
    intent = {"status": "Killed", "reason": "Interrupted", "message": "interrupted"}
    store.update_trial("half-ctrlc", trial.name, TrialChange(pending_outcome=intent))
    LocalExecutor().stop(trial.handle)
    first.release()
    run(store, "half-ctrlc")
    assert store.get_experiment("half-ctrlc").reason == ExperimentReason.MAX_TRIALS_REACHED
    old, again = store.list_trials("half-ctrlc")
    assert (old.status, old.reason) == (TrialCondition.KILLED, "Interrupted")
    assert again.status is TrialCondition.SUCCEEDED and again.objective == 2
    assert again.parameters == old.parameters
    assert again.labels["tunery/rerun-of"] == old.name


# --------------------------------------------------------------------------- lease fencing

#: Prints a metric line every 20 ms for a while.
STREAM = """
import sys, time
x = float(sys.argv[1].split("=", 1)[1])
for step in range(60):
    print(f"step={step} score={x + step}", flush=True)
    time.sleep(0.02)
"""


def _race(url: str, tmp_path: Path) -> None:
    from tunery.errors import LeaseLostError

    setup = Store(url)
    create(setup, native_doc("race", STREAM, parallel=2, max_trials=4), tmp_path)
    setup.close()
    store_a, store_b = Store(url), Store(url)
    try:
        # A runs a few ticks, then stalls (a tick that outlasts its lease, a paused machine).
        a = Controller(store_a, "race", LocalExecutor(), poll_interval=0.02, lease_ttl=0.6)
        a.start()
        for _ in range(5):
            a.tick()
            a._idle()
        time.sleep(0.8)  # A's lease expires while A is stalled
        b = Controller(store_b, "race", LocalExecutor(), poll_interval=0.02, owner="other:1:b")
        b.start()  # takes the expired lease
        b.tick()
        # A wakes up in the middle of a long tick (its last renewal looks recent to it, as in
        # a tick that stops trials one grace period after another): its next write is refused
        # in that write's own transaction, and it stops.
        a.ledger.renewed_at = time.time()
        with pytest.raises(LeaseLostError, match="stopped without writing"):
            for _ in range(50):
                a.tick()
                a._idle()
        b.run()
        trials = store_b.list_trials("race")
        assert len(trials) == 4
        assert all(t.status is TrialCondition.SUCCEEDED for t in trials), trials
        seen: set[tuple[str, str, int]] = set()
        for obs in store_b.get_observations("race"):
            key = (obs.trial_name, obs.metric_name, obs.step)
            assert key not in seen, f"observation written twice: {key}"
            seen.add(key)
        assert len(seen) == 4 * 60
    finally:
        store_a.close()
        store_b.close()


@pytest.mark.integration
def test_a_controller_that_lost_its_lease_never_writes_again_sqlite(tmp_path: Path) -> None:
    _race(f"sqlite:///{tmp_path / 'race.db'}", tmp_path)


@pytest.mark.integration
@pytest.mark.postgres
def test_a_controller_that_lost_its_lease_never_writes_again_postgresql(
    pg_fresh_url: str, tmp_path: Path
) -> None:
    _race(pg_fresh_url, tmp_path)


def test_fenced_writes_are_refused_and_rolled_back(tmp_path: Path) -> None:
    from tunery.errors import LeaseLostError
    from tunery.model import ExperimentCondition

    url = f"sqlite:///{tmp_path / 'f.db'}"
    store = Store(url)
    other = Store(url)
    try:
        create(store, native_doc("fence", SCORE_IS_X), tmp_path)
        store.acquire_lease("fence", "a", 0.0, 1.0)
        store.fence("fence", "a")
        store.set_experiment_status("fence", ExperimentCondition.RUNNING, "R", "ok")
        other.acquire_lease("fence", "b", 5.0, 30.0)  # a's lease had expired
        with pytest.raises(LeaseLostError):
            store.set_experiment_status("fence", ExperimentCondition.FAILED, "X", "late write")
        assert other.get_experiment("fence").status is ExperimentCondition.RUNNING
        store.unfence("fence")  # e.g. the CLI after the controller gave up
        store.set_experiment_status("fence", ExperimentCondition.RUNNING, "R", "unfenced")
    finally:
        store.close()
        other.close()


@pytest.mark.integration
def test_stopping_many_trials_that_ignore_sigterm_takes_one_grace_period(
    store: Store, tmp_path: Path
) -> None:
    stubborn = """
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("score=1", flush=True)
    time.sleep(60)
    """
    create(store, native_doc("stubborn", stubborn, parallel=6, max_trials=6), tmp_path)
    c = Controller(
        store, "stubborn", LocalExecutor(grace=2.0), poll_interval=0.02, intent_interval=0.0
    )
    c.start()
    deadline = time.monotonic() + 30
    while len([t for t in store.list_trials("stubborn") if t.status is TrialCondition.RUNNING]) < 6:
        assert time.monotonic() < deadline
        c.tick()
        c._idle()
    store.add_intent("stubborn", IntentKind.STOP_EXPERIMENT, None, time.time())
    began = time.monotonic()
    c.tick()
    took = time.monotonic() - began
    c.release()
    statuses = [(t.status, t.reason) for t in store.list_trials("stubborn")]
    assert all(s is TrialCondition.KILLED for s, _ in statuses), statuses
    # Six stubborn trials, a grace of 2 s each: stopped together, not one after another
    # (sequentially this tick took 12 s; a generous bound for a loaded machine).
    assert 2.0 <= took < 8.0, took
