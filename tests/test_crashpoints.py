"""kill -9 at instrumented points of the store and the controller, then resume.

Each case runs ``tunery run`` with ``TUNERY_CRASH_AT=POINT:N``, so the controller SIGKILLs
itself the N-th time it reaches that point (inside a store transaction before its commit,
between two of the controller's writes...), then ``tunery resume`` runs the experiment to its
end.  Invariants after the resume:

* no trial ran twice (each trial's process appends its name to ``ran.txt``);
* no more trials than ``maxTrialCount`` exist or ran;
* every Succeeded trial has its objective and all its observations (each trial prints three
  steps), no observation stored twice;
* the experiment ended Succeeded with ``ExperimentMaxTrialsReached``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import native_doc, tunery_ok, write_yaml
from tunery.crashpoints import ENV, POINTS
from tunery.model import ExperimentCondition, ExperimentReason, TrialCondition
from tunery.storage import Store

pytestmark = pytest.mark.integration

MAX_TRIALS = 5

SCRIPT = """
import os, sys, time
with open(os.environ["RAN_FILE"], "a") as fh:
    fh.write(os.environ["TUNERY_TRIAL_NAME"] + "\\n")
x = float(sys.argv[1].split("=", 1)[1])
for step in range(3):
    print(f"step={step} score={x + step}", flush=True)
    time.sleep(0.3)  # long enough for the controller to collect while the trial runs
"""

#: (point, N): early and later occurrences of every point.
CASES = [
    ("store.commit", 3),
    ("store.commit", 9),
    ("store.commit", 20),
    ("controller.trials_created", 1),
    ("controller.trials_created", 2),
    ("controller.trial_started", 1),
    ("controller.trial_started", 3),
    ("controller.trial_running", 2),
    ("controller.metrics_collected", 2),
    ("controller.trial_finished", 1),
    ("controller.trial_finished", 3),
]


def test_every_point_is_exercised() -> None:
    # controller.stop_asked: tests/test_stopfile.py
    assert {point for point, _ in CASES} | {"controller.stopping", "controller.stop_asked"} == set(
        POINTS
    )


@pytest.mark.parametrize(("point", "nth"), CASES, ids=[f"{p}:{n}" for p, n in CASES])
def test_kill_9_at_a_crash_point_then_resume(tmp_path: Path, point: str, nth: int) -> None:
    ran = tmp_path / "ran.txt"
    path = write_yaml(
        tmp_path / "exp.yaml", native_doc("crash", SCRIPT, parallel=2, max_trials=MAX_TRIALS)
    )
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "t.db"), "RAN_FILE": str(ran)}
    crashed = subprocess.run(
        [sys.executable, "-m", "tunery", "run", str(path), "-q"],
        cwd=tmp_path,
        env={**env, ENV: f"{point}:{nth}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, (point, crashed.returncode, crashed.stderr)
    tunery_ok("resume", "crash", "-q", cwd=tmp_path, env=env)
    _check_invariants(tmp_path, ran)


def test_kill_9_while_stopping_then_resume(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    slow = SCRIPT.replace("time.sleep(0.3)", "time.sleep(1.0)")
    path = write_yaml(tmp_path / "exp.yaml", native_doc("crash", slow, parallel=2, max_trials=4))
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "t.db"), "RAN_FILE": str(ran)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunery", "run", str(path), "-q"],
        cwd=tmp_path,
        env={**env, ENV: "controller.stopping:1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not (ran.exists() and len(ran.read_text().split()) >= 2):
            assert proc.poll() is None, "the run ended before its trials started"
            time.sleep(0.05)
        tunery_ok("stop", "crash", cwd=tmp_path, env=env)  # the controller dies while stopping
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    tunery_ok("resume", "crash", "-q", cwd=tmp_path, env=env)
    with Store(str(tmp_path / "t.db")) as store:
        trials = store.list_trials("crash")
        exp = store.get_experiment("crash")
    assert exp.reason == ExperimentReason.STOPPED
    # The outcome chosen before the crash (Killed by the stop) is what was recorded.
    assert trials and all(t.status is TrialCondition.KILLED for t in trials), trials
    started = ran.read_text().split()
    assert len(started) == len(set(started)), "a trial ran twice"


def _check_invariants(tmp_path: Path, ran: Path) -> None:
    with Store(str(tmp_path / "t.db")) as store:
        exp = store.get_experiment("crash")
        trials = store.list_trials("crash")
        observations = store.get_observations("crash")
    assert exp.status is ExperimentCondition.SUCCEEDED, (exp.reason, exp.message)
    assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
    assert len(trials) == MAX_TRIALS
    started = ran.read_text().split()
    assert len(started) == len(set(started)), f"a trial ran twice: {sorted(started)}"
    assert set(started) <= {t.name for t in trials}
    keys = [(o.trial_name, o.metric_name, o.step) for o in observations]
    assert len(keys) == len(set(keys)), "an observation was stored twice"
    for t in trials:
        assert t.status is TrialCondition.SUCCEEDED, (t.name, t.status, t.reason, t.message)
        steps = sorted(o.step for o in observations if o.trial_name == t.name)
        assert steps == [0, 1, 2], (t.name, steps)
        assert t.objective == pytest.approx(float(t.parameters["x"]) + 2)
