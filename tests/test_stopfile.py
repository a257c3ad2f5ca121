"""The stop channel (tunery.stopfile): early stopping writes a trial's stop marker, the trial
ends on its own within the grace period (EarlyStopped whatever its exit code), or is killed
after it; a trial that never checks is stopped at once as before; crash safety."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import create, native_doc, tunery_ok, write_yaml
from tunery import stopfile
from tunery.controller import Controller
from tunery.crashpoints import ENV as CRASH_ENV
from tunery.errors import UserInputError
from tunery.execute.local import LocalExecutor
from tunery.launch import build_launch, prepare_trial_dirs
from tunery.model import ExperimentCondition, TrialCondition
from tunery.spec import parse_document
from tunery.storage import Store

#: A learning curve that checks the marker after each step; ``on_stop`` runs when asked.  The
#: bad trials (x < 0.5) would run ``bad_steps`` steps.
CURVE = """
import os, sys, time
import tunery
x = float(sys.argv[1].split("=", 1)[1])
for step in range(1, ({steps} if x > 0.5 else {bad_steps}) + 1):
    print(f"step={{step}} score={{x * (1 - 0.8 ** step):.6f}}", flush=True)
    if tunery.should_stop():
        print(f"asked to stop at step {{step}}", flush=True)
        {on_stop}
    time.sleep({sleep})
print("ran to the end", flush=True)
"""

GOOD = ["1.0", "0.95"]
BAD = ["0.1", "0.2"]


def doc(name: str, on_stop: str, *, bad_steps: int = 100, sleep: float = 0.05) -> dict[str, Any]:
    # grid walks the list in order: the good trials run first and complete.
    return native_doc(
        name,
        CURVE.format(steps=40, bad_steps=bad_steps, sleep=sleep, on_stop=on_stop),
        parameters=[
            {"name": "x", "parameterType": "categorical", "feasibleSpace": {"list": GOOD + BAD}}
        ],
        algorithm="grid",
        parallel=2,
        max_trials=len(GOOD + BAD),
        extra_spec={
            "earlyStopping": {
                "algorithmName": "medianstop",
                "algorithmSettings": [
                    {"name": "min_trials_required", "value": "2"},
                    {"name": "start_step", "value": "3"},
                ],
            }
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def output(tmp_path: Path, name: str, trial: str) -> str:
    return (tmp_path / "runs" / name / trial / "output.log").read_text()


def run_and_split(store: Store, tmp_path: Path, name: str, **kwargs: Any) -> tuple[list, list]:
    Controller(store, name, LocalExecutor(), poll_interval=0.02, **kwargs).run()
    assert store.get_experiment(name).status is ExperimentCondition.SUCCEEDED
    trials = store.list_trials(name)
    good = [t for t in trials if str(t.parameters["x"]) in GOOD]
    bad = [t for t in trials if str(t.parameters["x"]) in BAD]
    assert all(t.status is TrialCondition.SUCCEEDED for t in good), [t.message for t in good]
    for t in good:
        assert "ran to the end" in output(tmp_path, name, t.name)
    return good, bad


# --------------------------------------------------------------------------- unit


def test_grace_from_env() -> None:
    assert stopfile.grace_from_env({}) == stopfile.DEFAULT_GRACE == 10.0
    assert stopfile.grace_from_env({stopfile.GRACE_ENV: " 2.5 "}) == 2.5
    assert stopfile.grace_from_env({stopfile.GRACE_ENV: "0"}) == 0.0
    for bad in ("-1", "soon", "nan", "inf"):
        with pytest.raises(UserInputError) as err:
            stopfile.grace_from_env({stopfile.GRACE_ENV: bad})
        assert str(err.value).startswith(f"TUNERY_STOP_GRACE={bad!r}: ")
        assert "e.g. TUNERY_STOP_GRACE=30" in str(err.value)


def test_should_stop_says_it_listens_then_follows_the_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = stopfile.stop_file(str(tmp_path))
    monkeypatch.setenv(stopfile.STOP_FILE_ENV, path)
    assert not stopfile.listens(str(tmp_path))
    assert not stopfile.should_stop()
    assert stopfile.listens(str(tmp_path))
    assert stopfile.request_stop(path, "below the\nmedian")
    assert stopfile.should_stop()
    assert Path(path).read_text() == "below the median\n"
    assert stopfile.request_stop(str(tmp_path / "file" / "x"), "") is True  # dirs made
    (tmp_path / "plain").write_text("")
    assert not stopfile.request_stop(str(tmp_path / "plain" / "x"), "why")  # cannot: False


def test_the_launcher_names_the_marker_and_clears_it_before_a_first_start(
    tmp_path: Path,
) -> None:
    spec = parse_document(native_doc("e", "print('score=1')"))
    launch = build_launch(
        spec, experiment="e", trial_name="e-0001", parameters={"x": 0.5}, runs_dir=str(tmp_path)
    )
    marker = launch.env[stopfile.STOP_FILE_ENV]
    assert marker == os.path.join(launch.trial_dir, "stop-requested")
    os.makedirs(launch.trial_dir)
    Path(marker).write_text("old\n")
    Path(stopfile.listen_file(marker)).write_text("")
    prepare_trial_dirs(launch)
    assert not os.path.exists(marker) and not stopfile.listens(launch.trial_dir)


# --------------------------------------------------------------------------- the controller


@pytest.mark.integration
def test_a_listening_trial_ends_on_its_own_and_is_early_stopped(
    store: Store, tmp_path: Path
) -> None:
    create(store, doc("own", "sys.exit(0)"), tmp_path)
    _, bad = run_and_split(store, tmp_path, "own", stop_grace=30)
    for t in bad:
        assert t.status is TrialCondition.EARLY_STOPPED, (t.status, t.message)
        assert t.reason == "TrialEarlyStopped"
        assert t.message.endswith("(the trial ended on its own when asked to stop)"), t.message
        log = output(tmp_path, "own", t.name)
        assert "asked to stop at step" in log and "ran to the end" not in log
        assert (tmp_path / "runs" / "own" / t.name / "exitcode").read_text() == "0\n"
        assert (
            (tmp_path / "runs" / "own" / t.name / "stop-requested")
            .read_text()
            .startswith("at step ")
        )
        # Every line up to its own end was collected: nothing lost to a kill.
        steps = [o.step for o in store.get_observations("own", t.name, "score")]
        assert steps == list(range(1, max(steps) + 1)) and 3 <= max(steps) < 100


@pytest.mark.integration
def test_any_exit_code_after_the_marker_is_early_stopped(store: Store, tmp_path: Path) -> None:
    create(store, doc("code", "sys.exit(3)"), tmp_path)
    _, bad = run_and_split(store, tmp_path, "code", stop_grace=30)
    for t in bad:
        assert t.status is TrialCondition.EARLY_STOPPED, (t.status, t.message)
        assert (tmp_path / "runs" / "code" / t.name / "exitcode").read_text() == "3\n"


@pytest.mark.integration
def test_a_trial_ignoring_the_marker_is_killed_after_the_grace_period(
    store: Store, tmp_path: Path
) -> None:
    ignore = "print('ignoring it', flush=True)"
    create(store, doc("deaf", ignore, bad_steps=400), tmp_path)
    started = time.monotonic()
    _, bad = run_and_split(store, tmp_path, "deaf", stop_grace=1.0)
    assert time.monotonic() - started < 20  # killed, not run to its 400 steps (20 s each)
    for t in bad:
        assert t.status is TrialCondition.EARLY_STOPPED, (t.status, t.message)
        killed = re.search(
            r"\(killed: still running (\d+) s after it was asked to stop\)$", t.message
        )
        assert killed and int(killed.group(1)) >= 1, t.message
        log = output(tmp_path, "deaf", t.name)
        assert "ignoring it" in log and "ran to the end" not in log


@pytest.mark.integration
def test_without_grace_a_listening_trial_is_killed_at_once(store: Store, tmp_path: Path) -> None:
    create(store, doc("nograce", "print('ignoring it', flush=True)", bad_steps=400), tmp_path)
    _, bad = run_and_split(store, tmp_path, "nograce", stop_grace=0)
    for t in bad:
        assert t.status is TrialCondition.EARLY_STOPPED
        assert "asked to stop" not in t.message
        assert not (tmp_path / "runs" / "nograce" / t.name / "stop-requested").exists()


@pytest.mark.integration
def test_a_crash_after_asking_is_finished_by_the_next_controller(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "e.yaml", doc("crash", "print('ignoring it', flush=True)"))
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "t.db"), stopfile.GRACE_ENV: "0.5"}
    crashed = subprocess.run(
        [sys.executable, "-m", "tunery", "run", str(path), "-q"],
        cwd=tmp_path,
        env={**env, CRASH_ENV: "controller.stop_asked:1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    with Store(str(tmp_path / "t.db")) as store:
        asked = [t for t in store.list_trials("crash") if stopfile.was_asked(t.pending_outcome)]
    assert len(asked) == 1  # saved; the marker was never written
    tunery_ok("resume", "crash", "-q", cwd=tmp_path, env=env)
    with Store(str(tmp_path / "t.db")) as store:
        trial = store.get_trial("crash", asked[0].name)
    assert trial.status is TrialCondition.EARLY_STOPPED, (trial.status, trial.message)
    assert trial.reason == "TrialEarlyStopped"


def test_a_bad_grace_period_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path / "e.yaml", native_doc("g", "print('score=1')", parallel=1, max_trials=1)
    )
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "t.db"), stopfile.GRACE_ENV: "soon"}
    out = subprocess.run(
        [sys.executable, "-m", "tunery", "run", str(path), "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: TUNERY_STOP_GRACE='soon': the grace period must be a number of seconds, 0 or "
        "more; e.g. TUNERY_STOP_GRACE=30 (0 stops trials at once)"
    )
    with Store(str(tmp_path / "t.db")) as store:
        assert store.list_experiments() == []
