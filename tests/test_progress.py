"""The progress of a run (tunery.progress): snapshots, ETA, the lines shown, and the display
of ``tunery run`` as a user meets it, on a pipe and on a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.helpers import native_doc, tunery_ok, write_yaml
from tests.test_storage_store import make_experiment, make_trial
from tunery.controller import TrialEvent, TrialEventKind
from tunery.model import (
    Experiment,
    MetricSummary,
    Observation,
    TrialCondition,
    TrialReason,
)
from tunery.progress import (
    EventLog,
    RunningTrial,
    Snapshot,
    eta,
    event_line,
    format_duration,
    read_snapshot,
    render,
    snapshot_of_trials,
    status_lines,
)
from tunery.storage import Store
from tunery.storage.memory import InMemoryStore

C = TrialCondition


def snap(**kw: object) -> Snapshot:
    base: dict[str, object] = {
        "name": "exp",
        "metric": "loss",
        "minimize": True,
        "max_trials": 10,
        "parallel": 2,
    }
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


# ------------------------------------------------------------------ pure parts


def test_counts_treat_early_stopped_as_completed_and_ctrl_c_as_nothing() -> None:
    s = snap(
        counts={"Succeeded": 3, "EarlyStopped": 2, "Failed": 1, "MetricsUnavailable": 1,
                "Killed": 3, "Running": 2, "Created": 1},
        interrupted=2,
    )  # fmt: skip
    assert (s.succeeded, s.early_stopped, s.failed, s.killed, s.active) == (3, 2, 2, 1, 3)
    assert s.completed == 3 + 2 + 2 + 1
    assert s.mean_duration is None
    assert snap(timed=4, busy_seconds=10.0).mean_duration == 2.5


def test_eta_is_unknown_until_a_trial_finished_or_without_a_budget() -> None:
    assert eta(snap(counts={"Running": 2}), now=100.0) is None
    assert eta(snap(max_trials=None, timed=1, busy_seconds=5.0), now=100.0) is None
    done = snap(counts={"Succeeded": 10}, timed=10, busy_seconds=50.0)
    assert eta(done, now=100.0) == 0.0


def test_eta_shares_the_work_left_among_the_parallel_slots() -> None:
    # 10 trials of 4 s on 2 slots: 6 completed, 2 running (1 s and 3 s in), 2 waiting.
    s = snap(
        counts={"Succeeded": 6, "Running": 2},
        timed=6,
        busy_seconds=24.0,
        running=(RunningTrial("a", "Running", {}, 99.0), RunningTrial("b", "Running", {}, 97.0)),
    )
    # left: 3 s + 1 s + 2 * 4 s = 12 s of work on 2 slots.
    assert eta(s, now=100.0) == pytest.approx(6.0)
    # One slot: the same work, one after the other.
    assert eta(snap(**{**s.__dict__, "parallel": 1}), now=100.0) == pytest.approx(12.0)
    # A trial past the mean counts as about to end; the last one alone bounds it below.
    last = snap(
        counts={"Succeeded": 9, "Running": 1},
        timed=9,
        busy_seconds=36.0,
        running=(RunningTrial("c", "Running", {}, 99.0),),
    )
    assert eta(last, now=100.0) == pytest.approx(3.0)
    assert eta(last, now=200.0) == 0.0


def test_format_duration() -> None:
    assert format_duration(None) == "unknown"
    assert format_duration(float("nan")) == "unknown"
    assert format_duration(0.4) == "0:00:00"
    assert format_duration(61.6) == "0:01:02"
    assert format_duration(3 * 3600 + 7) == "3:00:07"
    assert format_duration(2 * 86400 + 3600) == "2d 1:00:00"


def test_status_lines_show_progress_counts_best_and_running_trials() -> None:
    s = snap(
        counts={"Succeeded": 2, "EarlyStopped": 1, "Failed": 1, "Running": 2},
        timed=4,
        busy_seconds=8.0,
        running=(
            RunningTrial("exp-0005", "Running", {"lr": 0.0123456789, "act": "relu"}, 95.0,
                         0.25, 7),
            RunningTrial("exp-0006", "Created", {"lr": 0.5, "act": "tanh"}, None),
        ),
        best_name="exp-0002",
        best_value=0.125,
        best_parameters={"lr": 0.1, "act": "tanh"},
    )  # fmt: skip
    lines = status_lines(s, elapsed=75.0, now=100.0)
    # 6 left of 2 s: exp-0005 is past the mean (0 s left), the rest 5 * 2 s on 2 slots.
    assert lines[0] == "4/10 trials completed  elapsed 0:01:15  ETA 0:00:05"
    assert lines[1] == "2 succeeded, 1 early-stopped, 1 failed, 0 killed, 2 running"
    assert lines[2] == "best loss=0.125 (exp-0002)  lr=0.1 act=tanh"
    assert lines[3] == "running:"
    assert lines[4] == "  exp-0005  0:00:05  loss=0.25 step 7  lr=0.0123457 act=relu"
    assert lines[5] == "  exp-0006  waiting  no report yet  lr=0.5 act=tanh"
    empty = status_lines(snap(max_trials=None), elapsed=0.0, now=0.0)
    assert empty == [
        "0/∞ trials completed  elapsed 0:00:00  ETA unknown",
        "0 succeeded, 0 early-stopped, 0 failed, 0 killed, 0 running",
        "best: none yet",
    ]


def test_status_lines_cap_the_running_list_and_name_ctrl_c_trials() -> None:
    running = tuple(RunningTrial(f"t{i}", "Running", {}, 0.0) for i in range(11))
    lines = status_lines(
        snap(counts={"Running": 11, "Killed": 2}, interrupted=2, running=running, parallel=11),
        elapsed=1.0,
        now=1.0,
    )
    assert lines[1].endswith("0 killed, 11 running, 2 interrupted (run again)")
    assert lines[-1] == "  ... and 3 more"
    assert len([line for line in lines if line.startswith("  t")]) == 8


def test_render_draws_a_bar_and_every_line() -> None:
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False, color_system=None)
    s = snap(counts={"Succeeded": 5}, best_name="b", best_value=1.0, best_parameters={"x": 2})
    console.print(render(s, elapsed=3.0, now=0.0))
    text = out.getvalue()
    assert "5/10 trials completed" in text and "best loss=1 (b)  x=2" in text
    assert "━" in text  # the bar
    out.truncate(0)
    console.print(render(None, elapsed=0.0, now=0.0))
    assert "starting" in out.getvalue()


def test_event_lines() -> None:
    spec = make_experiment().spec  # minimize loss
    ok = make_trial(1, status=C.SUCCEEDED, objective=0.25, parameters={"x": 0.5, "opt": "adam"})
    assert event_line("started", ok, spec) == f"{'Started':>18} exp-0001  x=0.5 opt=adam"
    assert (
        event_line("finished", ok, spec) == f"{'Succeeded':>18} exp-0001  x=0.5 opt=adam  loss=0.25"
    )
    assert event_line("best", ok, spec) == f"{'New best':>18} exp-0001  loss=0.25  x=0.5 opt=adam"
    bad = make_trial(2, status=C.FAILED, reason="ExitCode", message="exit code 1: boom")
    assert event_line("finished", bad, spec).endswith("x=2.5  (ExitCode: exit code 1: boom)")
    exp = Experiment("exp", spec, reason="ExperimentMaxTrialsReached")
    ended = event_line("ended", None, spec, experiment=exp, elapsed=65.0)
    want = "experiment exp: Created (ExperimentMaxTrialsReached) after 0:01:05"
    assert ended == f"{'Ended':>18} {want}"


def test_event_log_says_new_best_only_when_it_is_better_than_what_was_there() -> None:
    from rich.console import Console

    spec = make_experiment().spec  # minimize loss
    out = io.StringIO()
    log = EventLog(Console(file=out, width=200), spec, every_event=False)
    log.seed([make_trial(0, status=C.SUCCEEDED, objective=0.5)])  # a resumed run's best

    def finish(index: int, objective: float | None, status: TrialCondition = C.SUCCEEDED) -> str:
        out.seek(0)
        out.truncate()
        trial = make_trial(index, status=status, objective=objective)
        log(TrialEvent(TrialEventKind.STARTED, trial))
        log(TrialEvent(TrialEventKind.FINISHED, trial))
        return out.getvalue()

    assert "New best" not in finish(1, 0.7)
    assert "Started" not in finish(1, 0.7)  # beside the live display: not every event
    assert "New best exp-0002  loss=0.4" in finish(2, 0.4)
    assert "New best" not in finish(3, 0.1, C.FAILED)
    assert "New best exp-0004  loss=0.3" in finish(4, 0.3, C.EARLY_STOPPED)
    assert "New best" not in finish(5, None)


def test_the_progress_line_counts_the_time_budget_down() -> None:
    s = snap(max_seconds=120.0, duration_policy="LetFinish", driven_seconds=60.0, driven_at=90.0)
    assert s.time_left(100.0) == 50.0  # 60 s stored at 90, and 10 s more driven since
    assert s.time_left(500.0) == 0.0
    line = status_lines(s, elapsed=70.0, now=100.0)[0]
    assert line.endswith("  time left 0:00:50 of 0:02:00 (LetFinish)"), line
    assert snap().time_left(100.0) is None
    assert "time left" not in status_lines(snap(), elapsed=1.0, now=1.0)[0]


# ------------------------------------------------------------------ reading from a store


def _fill(store: Store | InMemoryStore) -> Experiment:
    exp = make_experiment()
    store.create_experiment(exp)
    for trial in (
        make_trial(0, status=C.SUCCEEDED, objective=0.5, start_time=1.0, completion_time=4.0),
        make_trial(1, status=C.EARLY_STOPPED, objective=0.3, start_time=1.0,
                   completion_time=2.0),
        make_trial(2, status=C.KILLED, reason=TrialReason.INTERRUPTED.value, start_time=2.0,
                   completion_time=50.0),
        make_trial(3, status=C.RUNNING, start_time=5.0),
        make_trial(4, status=C.CREATED),
    ):  # fmt: skip
        store.create_trial(trial)
    store.add_observations(
        "exp",
        "exp-0003",
        [Observation("exp-0003", "loss", 0.9, 0), Observation("exp-0003", "loss", 0.8, 1)],
        metrics={"loss": MetricSummary(0.8, 0.9, 0.8)},
        cursor=None,
    )
    return exp


def test_sql_and_in_memory_stores_give_the_same_snapshot(tmp_path: Path) -> None:
    sql = Store(str(tmp_path / "t.db"))
    memory = InMemoryStore()
    exp = _fill(sql)
    _fill(memory)
    got = read_snapshot(sql, exp)
    assert got == read_snapshot(memory, exp)
    assert (got.completed, got.interrupted, got.timed, got.busy_seconds) == (2, 1, 2, 4.0)
    assert [(r.name, r.value, r.step) for r in got.running] == [
        ("exp-0003", 0.8, 1),
        ("exp-0004", None, None),
    ]
    assert (got.best_name, got.best_value, dict(got.best_parameters)) == (
        "exp-0001",
        0.3,
        {"x": 1.5},
    )
    listed = sql.list_trials("exp")
    assert got == snapshot_of_trials(
        exp.spec, "exp", listed, lambda t: (0.8, 1) if t.index == 3 else (None, None)
    )
    sql.close()


@pytest.mark.parametrize("kind", ["sql", "memory"])
def test_a_reader_reads_the_time_driven_of_a_timed_experiment(tmp_path: Path, kind: str) -> None:
    from dataclasses import replace

    from tunery.model import DRIVEN_SECONDS_KEY

    store = Store(str(tmp_path / "t.db")) if kind == "sql" else InMemoryStore()
    exp = _fill(store)
    assert read_snapshot(store, exp).max_seconds is None  # no budget: nothing read
    timed = replace(exp, spec=replace(exp.spec, max_experiment_duration=90.0))
    store.update_experiment_spec("exp", timed.spec, exp.document)  # the stored budget counts
    store.save_algorithm_state("exp", {DRIVEN_SECONDS_KEY: 30.0})
    before = time.time()
    got = read_snapshot(store, exp)
    assert (got.max_seconds, got.driven_seconds, got.duration_policy) == (
        90.0,
        30.0,
        "KillRunning",
    )
    assert got.driven_at is not None and got.driven_at >= before
    left = got.time_left(got.driven_at + 5.0)
    assert left is not None and abs(left - 55.0) < 1e-6


def test_a_reader_reads_what_changed_and_agrees_with_a_fresh_read(tmp_path: Path) -> None:
    from tunery.progress import SnapshotReader
    from tunery.storage import TrialChange

    sql = Store(str(tmp_path / "t.db"))
    exp = _fill(sql)
    reader = SnapshotReader(sql, exp)
    first = reader.read()
    assert first == read_snapshot(sql, exp)
    # exp-0003 finishes with a new best, exp-0004 is interrupted, two new trials come: one
    # already finished (a tie with the best: the earlier index stays best), one running.
    sql.update_trial(
        "exp", "exp-0003", TrialChange(status=C.SUCCEEDED, objective=0.1, completion_time=9.0)
    )
    sql.update_trial(
        "exp", "exp-0004", TrialChange(status=C.KILLED, reason=TrialReason.INTERRUPTED.value)
    )
    sql.create_trial(
        make_trial(5, status=C.SUCCEEDED, objective=0.1, start_time=3.0, completion_time=4.0)
    )
    sql.create_trial(make_trial(6, status=C.RUNNING, start_time=8.0))
    again = reader.read()
    assert (
        again
        == read_snapshot(sql, exp)
        == snapshot_of_trials(exp.spec, "exp", sql.list_trials("exp"))
    )
    assert (again.completed, again.interrupted, again.timed, again.busy_seconds) == (4, 2, 4, 9.0)
    assert (again.best_name, again.best_value) == ("exp-0003", 0.1)
    assert [r.name for r in again.running] == ["exp-0006"]
    assert reader.read() == again  # nothing changed: the same
    sql.close()


# ------------------------------------------------------------------ tunery run, for real

#: A trial of about 1.2 s that reports ``score`` four times.
SLOW = """
import sys, time
x = float(sys.argv[1].split("=", 1)[1])
for i in range(4):
    print(f"score={x * i / 3}", flush=True)
    time.sleep(0.3)
"""

ANSI = re.compile(r"\x1b[\[\]()]")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # (COLUMNS/LINES, set under pytest-xdist, would override the pseudo-terminal's size)
    unset = ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(TUNERY_DB=str(tmp_path / "tunery.db"), **extra)
    return env


@pytest.mark.integration
def test_piped_run_prints_one_plain_line_per_event(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("piped", SLOW, parallel=2, max_trials=4))
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", "run", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert not ANSI.search(out) and "\r" not in out
    lines = out.splitlines()
    names = [f"piped-{i:04d}" for i in range(1, 5)]
    for name in names:
        started = [i for i, line in enumerate(lines) if line.split()[:2] == ["Started", name]]
        finished = [i for i, line in enumerate(lines) if line.split()[:2] == ["Succeeded", name]]
        assert len(started) == 1 and len(finished) == 1 and started[0] < finished[0], out
    bests = [float(line.rsplit("score=", 1)[1].split()[0]) for line in lines if "New best" in line]
    assert bests and bests == sorted(bests), out  # maximize: each new best is higher
    ended = [
        i for i, line in enumerate(lines) if line.lstrip().startswith("Ended experiment piped")
    ]
    summary = [i for i, line in enumerate(lines) if line.startswith("experiment piped: Succeeded")]
    assert len(ended) == 1 and len(summary) == 1 and ended[0] < summary[0], out
    assert "best trial: piped-" in out

    quiet = subprocess.run(
        [sys.executable, "-m", "tunery", "run", str(path), "--name", "q", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "Started" not in quiet.stdout and "New best" not in quiet.stdout
    assert quiet.stdout.startswith("experiment q: Succeeded"), quiet.stdout


class Terminal:
    """``tunery`` on a pseudo-terminal of 120x40: what it writes, as it writes it."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tunery", *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_env(cwd, TERM="xterm-256color"),
        )
        os.close(slave)
        self.output = b""

        self.closed = False

    def read(self, seconds: float) -> bytes:
        """Read for ``seconds`` (or until the process closed the terminal); what came."""
        got = b""
        end = time.monotonic() + seconds
        while not self.closed and (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                chunk = b""
            if not chunk:
                self.closed = True
            got += chunk
        self.output += got
        return got

    def close(self) -> int:
        """Read to the end (the process's last words); its exit code."""
        self.read(60)
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code


def _completed_counts(data: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"(\d+)/6 trials completed", data)]


@pytest.mark.integration
def test_the_live_display_updates_on_a_terminal_and_ends_with_the_summary(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("live", SLOW, parallel=2, max_trials=6))
    term = Terminal(["run", str(path)], tmp_path)
    try:
        # While it runs: the display is drawn again and again, with the running trials and
        # their latest report, and its count goes up.
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and term.proc.poll() is None:
            seen += term.read(0.5)
            counts = _completed_counts(seen)
            if counts and 0 < max(counts) < 6 and min(counts) < max(counts):
                break
        counts = _completed_counts(seen)
        assert counts and min(counts) < max(counts) < 6, seen[-3000:]
        assert term.proc.poll() is None  # seen before the end
        assert b"\x1b[" in seen  # drawn in place, with the terminal's codes
        assert re.search(rb"live-000\d  0:00:0\d  score=[\d.]+ step \d", seen), seen[-3000:]
        assert b"running:" in seen and b"ETA " in seen
    finally:
        code = term.close()
    assert code == 0, term.output[-3000:]
    tail = term.output.decode(errors="replace")
    after = tail[tail.rindex("trials completed") :]
    # The display is gone (transient) and the summary follows it, as on a pipe.
    assert "experiment live: Succeeded (ExperimentMaxTrialsReached" in after
    assert "best trial: live-" in after


@pytest.mark.integration
def test_ctrl_c_stops_the_display_and_says_how_to_resume(tmp_path: Path) -> None:
    doc = native_doc("cc", SLOW.replace("0.3", "2"), parallel=2, max_trials=6)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    term = Terminal(["run", str(path)], tmp_path)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"step" not in seen and time.monotonic() < deadline:
            seen += term.read(0.3)
        assert b"running:" in seen, seen[-2000:]
        term.proc.send_signal(signal.SIGINT)
    finally:
        code = term.close()
    assert code == 130
    text = term.output.decode(errors="replace")
    after = text[text.rindex("trials completed") :]
    assert "interrupted: 2 running trial(s) killed; `tunery resume cc` runs them again" in after
    assert "Traceback" not in text
    got = subprocess.run(
        [sys.executable, "-m", "tunery", "get", "cc", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
    )
    assert json.loads(got.stdout)["status"] == "Interrupted", got.stderr


@pytest.mark.integration
def test_the_live_display_takes_a_budget_edited_from_another_process(tmp_path: Path) -> None:
    doc = native_doc("edited", SLOW, parallel=1, max_trials=4)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    term = Terminal(["run", str(path)], tmp_path)
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"/4 trials completed" not in seen and time.monotonic() < deadline:
            seen += term.read(0.2)
        assert b"/4 trials completed" in seen and b"time left" not in seen, seen[-2000:]
        edit = ["edit", "edited", "--max-trials", "7", "--max-duration", "1h"]
        edited = tunery_ok(*edit, cwd=tmp_path, env=_env(tmp_path))
        assert "its controller applies it at its next tick" in edited.stdout, edited.stdout
        after = b""
        deadline = time.monotonic() + 30
        while not re.search(rb"/7 trials completed.*time left", after):
            assert time.monotonic() < deadline and term.proc.poll() is None, after[-2000:]
            after += term.read(0.2)
        # (the line is cut at the terminal's 120 columns, after "(KillRunn")
        assert re.search(rb"time left (0:59:\d\d|1:00:00) of 1:00:00 \(KillRunn", after), after
        assert not re.search(rb"\d/4 trials completed", after[after.index(b"/7 trials") :])
        listed = tunery_ok("list", cwd=tmp_path, env=_env(tmp_path, COLUMNS="200"))
        # (within a second of the edit the time left still reads as the whole budget)
        assert re.search(r"edited .* (\d+m\d\ds|1h00m) of 1h00m", listed.stdout), listed.stdout
        term.proc.send_signal(signal.SIGINT)
    finally:
        code = term.close()
    assert code == 130, term.output[-2000:]


def test_a_reader_parses_the_stored_spec_again_only_when_it_changed(tmp_path: Path) -> None:
    from dataclasses import replace

    from tunery.progress import SnapshotReader

    sql = Store(str(tmp_path / "t.db"))
    exp = _fill(sql)
    reader = SnapshotReader(sql, exp)
    assert reader.read().max_trials == exp.spec.max_trial_count
    first = reader.experiment
    reader.read()
    assert reader.experiment is first  # the same text: not parsed, not replaced
    spec = replace(exp.spec, max_trial_count=40, max_experiment_duration=600.0)
    sql.update_experiment_spec("exp", spec, exp.document)
    got = reader.read()
    assert (got.max_trials, got.max_seconds, got.duration_policy) == (40, 600.0, "KillRunning")
    assert reader.experiment is not first and reader.experiment.spec == spec
    sql.close()
