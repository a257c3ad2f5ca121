"""``tunery logs``: a real experiment run by ``tunery run``, its logs read and followed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import native_doc, write_yaml
from tunery.cli._logs import tail_offset
from tunery.model import TrialCondition
from tunery.storage import Store

#: 12 lines 0.25 s apart, the score, and a last line without its newline.
SLOW = """
import os, sys, time
x = float(sys.argv[1].split("=", 1)[1])
for i in range(12):
    print(f"line {i}", flush=True)
    time.sleep(0.25)
    # After its first line each trial waits for the test (at most 60 s), so a follower is
    # interrupted while the trial still runs, however loaded the machine is.
    deadline = time.time() + 60
    while i == 0 and not os.path.exists(RELEASE) and time.time() < deadline:
        time.sleep(0.05)
print(f"score={x}", flush=True)
sys.stdout.write("done, no newline")
"""


def _env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"}


def _tunery(*args: str, cwd: Path, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def _done(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _wait_running(db: Path, name: str, n: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if db.exists():
            store = Store(str(db))
            try:
                if store.find_experiment(name) is not None:
                    running = store.list_trials(name, [TrialCondition.RUNNING])
                    if len(running) >= n:
                        return
            finally:
                store.close()
        time.sleep(0.1)
    raise AssertionError(f"{name}: fewer than {n} trials running after {timeout} s")


def test_logs_follow_a_trial_and_the_running_ones_of_a_real_run(tmp_path: Path) -> None:
    release = tmp_path / "release"
    script = SLOW.replace("RELEASE", repr(str(release)))
    path = write_yaml(tmp_path / "slow.yaml", native_doc("slow", script, parallel=2, max_trials=2))
    run = _tunery("run", str(path), "-q", cwd=tmp_path)
    try:
        _wait_running(tmp_path / "tunery.db", "slow", 2)
        one = _tunery("logs", "slow", "slow-0001", "-f", cwd=tmp_path)
        every = _tunery("logs", "slow", "--follow", cwd=tmp_path)
        interrupted = _tunery("logs", "slow", "slow-0002", "-f", cwd=tmp_path)
        assert interrupted.stdout is not None
        first = interrupted.stdout.readline()
        interrupted.send_signal(signal.SIGINT)
        rc, _, err = _done(interrupted)
        assert (first, rc, err) == ("line 0\n", 130, ""), err
        release.touch()

        rc, out, err = _done(one)
        assert (rc, err) == (0, "")
        # The whole log, to its last line (without newline), and the trial had ended.
        log = (tmp_path / "tunery-runs" / "slow" / "slow-0001" / "output.log").read_text()
        assert out == log + "\n" and out.endswith("done, no newline\n")
        assert [f"line {i}" for i in range(12)] == out.splitlines()[:12]

        rc, out, err = _done(every)
        assert (rc, err) == (0, "")
        assert _done(run)[0] == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    for trial in ("slow-0001", "slow-0002"):
        mine = [line.split(" | ", 1)[1] for line in out.splitlines() if line.startswith(trial)]
        # Each trial's last lines, in order, to its end: the start may be a tail of 10 lines.
        assert mine[-3:] == ["line 11", mine[-2], "done, no newline"] and "score=" in mine[-2]
        numbers = [int(m.split()[1]) for m in mine if m.startswith("line ")]
        assert numbers == list(range(numbers[0], 12)) and numbers[0] <= 2
    assert all(line.startswith(("slow-0001 | ", "slow-0002 | ")) for line in out.splitlines())

    # After the run: the whole log, its tail, nothing running.
    done = subprocess.run(
        [sys.executable, "-m", "tunery", "logs", "slow", "slow-0002", "--tail", "2"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines()[1] == "done, no newline" and "score=" in done.stdout
    idle = _done(_tunery("logs", "slow", cwd=tmp_path))
    assert idle == (0, "", "experiment slow has no running trial\n")
    for args in (("nothing",), ("slow", "slow-0009"), ("nothing", "slow-0001", "-f")):
        rc, out, err = _done(_tunery("logs", *args, cwd=tmp_path))
        assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, (args, err)
        assert err.startswith("error: ") and args[-1 if len(args) == 2 else 0] in err


def test_tail_offset_counts_lines_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "log"
    long = b"\n".join(b"%d" % i for i in range(30_000))  # larger than one 64 KiB block
    for content in (b"", b"a\n", b"a\nb\nc\n", b"a\nb\nc", b"\n\n\n", long, long + b"\n"):
        path.write_bytes(content)
        for n in (0, 1, 2, 5, 20_000, None):
            lines = content.splitlines(keepends=True)
            want = b"".join(lines if n is None else lines[-n:] if n else [])
            assert content[tail_offset(str(path), n) :] == want, (content[:10], n)
