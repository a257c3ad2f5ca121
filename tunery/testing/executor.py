"""A fake executor and the executor contract suite.

:class:`FakeExecutor` runs no process: each trial follows a :class:`TrialScript` (duration,
exit code, output lines at given times) on an injected clock, and its output lines are written
into the trial's real ``output.log`` as the clock passes them, so the real collectors read
them.  Everything a poll needs is in the handle and the trial directory, so a second
``FakeExecutor`` re-attaches to a first one's trials, like the local executor after a
controller restart.  With a :class:`~tunery.clock.FakeClock`, thousands of trials simulate in
about a second.

:class:`ExecutorContract` is a pytest test class that every executor must pass; a test module
subclasses it and provides a ``harness`` fixture returning an :class:`ExecutorHarness`
(:class:`LocalHarness`, :class:`FakeHarness`, or one for a new executor).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunery.clock import Clock, FakeClock
from tunery.execute.base import (
    Executor,
    ExecutorBase,
    Launch,
    ResourcesUnavailable,
    RunState,
    RunStatus,
    Started,
)
from tunery.execute.local import LocalExecutor

OUTPUT_LOG = "output.log"
_STOPPED = "stopped"


@dataclass(frozen=True)
class TrialScript:
    """What a fake trial does: print ``lines`` ((seconds after start, text)), then exit."""

    duration: float = 1.0
    exit_code: int = 0
    lines: Sequence[tuple[float, str]] = ()
    #: The process vanishes at ``duration`` leaving no exit status (a reboot, say).
    lost: bool = False


ScriptSource = Callable[[Launch], TrialScript]


@dataclass
class _Progress:
    written: int = 0  # lines already in output.log
    size: int = 0  # its size then


class FakeExecutor(ExecutorBase):
    """A deterministic executor driven by ``clock`` and a per-trial script.

    ``script`` is a :class:`TrialScript` for every trial, or a function of the
    :class:`~tunery.execute.base.Launch` (its argv and env carry the trial's parameters).
    ``max_running`` makes ``start`` raise :class:`~tunery.execute.base.ResourcesUnavailable`
    while that many of this instance's trials run.  ``launches`` and ``stops`` record calls.
    """

    scheme = "fake"

    def __init__(
        self,
        clock: Clock,
        script: ScriptSource | TrialScript | None = None,
        *,
        max_running: int | None = None,
    ) -> None:
        self.clock = clock
        if script is None:
            script = TrialScript()
        self._script: ScriptSource = (
            _constant(script) if isinstance(script, TrialScript) else script
        )
        self.max_running = max_running
        self.launches: list[Launch] = []
        self.stops: list[str] = []
        self._active: set[str] = set()
        self._progress: dict[str, _Progress] = {}

    # ------------------------------------------------------------------ protocol

    def start(self, launch: Launch) -> Started:
        if self.max_running is not None and len(self._active) >= self.max_running:
            raise ResourcesUnavailable(
                f"trial {launch.trial_name} waits: {self.max_running} trials already run"
            )
        script = self._script(launch)
        trial_dir = os.path.abspath(launch.trial_dir)
        os.makedirs(trial_dir, exist_ok=True)
        for name in (_STOPPED, OUTPUT_LOG):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(trial_dir, name))
        open(os.path.join(trial_dir, OUTPUT_LOG), "wb").close()
        self.launches.append(launch)
        self._active.add(trial_dir)
        self._progress[trial_dir] = _Progress()
        started_at = self.clock.now()
        handle = {
            "executor": "fake",
            "trial_name": launch.trial_name,
            "trial_dir": trial_dir,
            "started_at": started_at,
            "timeout": launch.timeout,
            "duration": float(script.duration),
            "exit_code": int(script.exit_code),
            "lost": bool(script.lost),
            "lines": [[float(t), str(text)] for t, text in sorted(script.lines, key=_first)],
        }
        return Started(handle, started_at)

    def poll(self, handle: Mapping[str, Any]) -> RunStatus:
        trial_dir = str(handle["trial_dir"])
        end, status = self._outcome(handle)
        now = self.clock.now()
        self._write_output(handle, min(now, end))
        if now < end:
            return RunStatus(RunState.RUNNING)
        self._active.discard(trial_dir)
        return status

    def stop(self, handle: Mapping[str, Any]) -> None:
        trial_dir = str(handle["trial_dir"])
        self.stops.append(trial_dir)
        end, _ = self._outcome(handle)
        now = self.clock.now()
        if now < end:
            self._write_output(handle, now)
            with open(os.path.join(trial_dir, _STOPPED), "w") as f:
                f.write(repr(now))
        self._active.discard(trial_dir)

    def output_path(self, handle: Mapping[str, Any]) -> str:
        return os.path.join(str(handle["trial_dir"]), OUTPUT_LOG)

    # ------------------------------------------------------------------ internals

    def running(self) -> int:
        """Trials started by this instance and not yet seen to end."""
        return len(self._active)

    def _outcome(self, handle: Mapping[str, Any]) -> tuple[float, RunStatus]:
        """When the trial ends (clock time) and how."""
        started = float(handle["started_at"])
        duration = float(handle["duration"])
        timeout = handle.get("timeout")
        stopped_at = _read_float(os.path.join(str(handle["trial_dir"]), _STOPPED))
        end = started + duration
        if timeout is not None and duration > float(timeout):
            end = started + float(timeout)
            status = RunStatus(
                RunState.FAILED,
                reason="TrialTimeout",
                message=f"the trial ran longer than its timeout of {float(timeout):g}s",
            )
        elif handle.get("lost"):
            status = RunStatus(RunState.LOST, reason="TrialLost", message="the process vanished")
        else:
            status = exit_status(int(handle["exit_code"]))
        if stopped_at is not None and stopped_at < end:
            end = stopped_at
            status = RunStatus(RunState.FAILED, reason="Stopped", message="the trial was stopped")
        return end, status

    def _write_output(self, handle: Mapping[str, Any], upto: float) -> None:
        lines: list[list[Any]] = handle.get("lines") or []
        if not lines:
            return
        trial_dir = str(handle["trial_dir"])
        offset = upto - float(handle["started_at"])
        due = 0
        while due < len(lines) and float(lines[due][0]) <= offset:
            due += 1
        progress = self._progress.get(trial_dir)
        if progress is not None and due <= progress.written:
            return
        path = os.path.join(trial_dir, OUTPUT_LOG)
        size = _size(path)
        if progress is None or progress.size != size:
            # Re-attached, or another instance wrote meanwhile: count what the file holds.
            progress = self._progress[trial_dir] = _Progress(*_lines_in(size, lines))
        if due <= progress.written:
            return
        data = "".join(str(text) + "\n" for _, text in lines[progress.written : due]).encode()
        with open(path, "ab") as f:
            f.write(data)
        progress.written = due
        progress.size = size + len(data)


def exit_status(code: int) -> RunStatus:
    """The status the local executor reports for a wrapper exit status ``code``."""
    if code == 0:
        return RunStatus(RunState.SUCCEEDED, exit_code=0)
    if code > 128:
        return RunStatus(
            RunState.FAILED,
            exit_code=code,
            reason="Signal",
            message=f"killed by signal {code - 128} (exit status {code}); see {OUTPUT_LOG}",
        )
    return RunStatus(
        RunState.FAILED,
        exit_code=code,
        reason="ExitCode",
        message=f"exit code {code}; see {OUTPUT_LOG}",
    )


def _constant(script: TrialScript) -> ScriptSource:
    def source(_launch: Launch) -> TrialScript:
        return script

    return source


def _first(item: tuple[float, str]) -> float:
    return item[0]


def _read_float(path: str) -> float | None:
    try:
        with open(path) as f:
            return float(f.read())
    except (OSError, ValueError):
        return None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _lines_in(size: int, lines: Sequence[Sequence[Any]]) -> tuple[int, int]:
    """(count, bytes) of the prefix of ``lines`` a file of ``size`` bytes holds."""
    total = 0
    for i, (_, text) in enumerate(lines):
        length = len(str(text).encode()) + 1
        if total + length > size:
            return i, total
        total += length
    return len(lines), total


# --------------------------------------------------------------------------- the contract


class ExecutorHarness(ABC):
    """How the contract suite drives one executor implementation."""

    #: Upper bound of simulated seconds a wait may take before the test fails.
    patience: float = 20.0

    def __init__(self, root: str) -> None:
        self.root = root
        self.executor = self.new_executor()

    @abstractmethod
    def new_executor(self) -> Executor:
        """A fresh instance (a controller restart): shares the world, not the memory."""

    @abstractmethod
    def launch(
        self,
        name: str,
        *,
        exit_code: int = 0,
        duration: float = 0.0,
        lines: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Launch:
        """A launch whose trial prints ``lines``, runs ``duration`` s and exits ``exit_code``."""

    @abstractmethod
    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""

    def wait(self, executor: Executor, handle: Mapping[str, Any]) -> RunStatus:
        """Poll until the trial ends."""
        waited = 0.0
        step = 0.01
        while True:
            status = executor.poll(handle)
            if status.state is not RunState.RUNNING:
                return status
            if waited > self.patience:
                raise AssertionError(f"trial still running after {waited:.1f}s")
            self.advance(step)
            waited += step
            step = min(step * 1.5, 0.1)

    def trial_dir(self, name: str) -> str:
        return os.path.join(self.root, name)


class LocalHarness(ExecutorHarness):
    """Drives :class:`~tunery.execute.local.LocalExecutor` with real ``/bin/sh`` trials."""

    def new_executor(self) -> Executor:
        return LocalExecutor(gpus=[], grace=2.0)

    def launch(
        self,
        name: str,
        *,
        exit_code: int = 0,
        duration: float = 0.0,
        lines: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Launch:
        script = 'for l in "$@"; do printf "%s\\n" "$l"; done; '
        if duration > 0:
            script += f"sleep {duration:g}; "
        script += f"exit {exit_code}"
        return Launch(
            trial_name=name,
            argv=("/bin/sh", "-c", script, "trial", *lines),
            trial_dir=self.trial_dir(name),
            timeout=timeout,
        )

    def advance(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeHarness(ExecutorHarness):
    """Drives :class:`FakeExecutor` on a :class:`~tunery.clock.FakeClock`."""

    patience = 1e6

    def __init__(self, root: str) -> None:
        self.clock = FakeClock()
        self.scripts: dict[str, TrialScript] = {}
        super().__init__(root)

    def new_executor(self) -> Executor:
        return FakeExecutor(self.clock, lambda launch: self.scripts[launch.trial_name])

    def launch(
        self,
        name: str,
        *,
        exit_code: int = 0,
        duration: float = 0.0,
        lines: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Launch:
        self.scripts[name] = TrialScript(duration, exit_code, [(0.0, line) for line in lines])
        return Launch(
            trial_name=name, argv=("fake",), trial_dir=self.trial_dir(name), timeout=timeout
        )

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


def _roundtrip(handle: Mapping[str, Any]) -> dict[str, Any]:
    """The handle as the store gives it back (JSON)."""
    result: dict[str, Any] = json.loads(json.dumps(handle))
    return result


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


class ExecutorContract:
    """Behaviour every executor must have.  Subclass it and provide a ``harness`` fixture."""

    def test_success_and_output(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handle = ex.start(harness.launch("ok", lines=["hello world", "loss=0.5"])).handle
        handle = _roundtrip(handle)
        status = harness.wait(ex, handle)
        assert status.state is RunState.SUCCEEDED
        assert status.exit_code == 0
        text = _read(ex.output_path(handle))
        assert "hello world\nloss=0.5\n" in text

    def test_exit_code(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handle = ex.start(harness.launch("three", exit_code=3)).handle
        status = harness.wait(ex, handle)
        assert status.state is RunState.FAILED
        assert status.exit_code == 3
        assert status.reason == "ExitCode"

    def test_poll_after_end_is_stable(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handle = ex.start(harness.launch("stable", exit_code=5)).handle
        first = harness.wait(ex, handle)
        harness.advance(0.05)
        assert ex.poll(handle) == first
        assert harness.new_executor().poll(_roundtrip(handle)) == first

    def test_stop_running(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handle = ex.start(harness.launch("long", duration=60)).handle
        assert ex.poll(handle).state is RunState.RUNNING
        ex.stop(handle)
        status = ex.poll(handle)
        assert status.state is RunState.FAILED
        ex.stop(handle)  # idempotent
        harness.advance(0.05)
        assert ex.poll(handle).state is RunState.FAILED

    def test_stop_after_end_keeps_status(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handle = ex.start(harness.launch("done")).handle
        assert harness.wait(ex, handle).state is RunState.SUCCEEDED
        ex.stop(handle)
        assert ex.poll(handle).state is RunState.SUCCEEDED

    def test_timeout(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handle = ex.start(harness.launch("slow", duration=60, timeout=0.3)).handle
        status = harness.wait(ex, handle)
        assert status.state is RunState.FAILED
        assert status.reason == "TrialTimeout"

    def test_reattach_after_end(self, harness: ExecutorHarness) -> None:
        handle = _roundtrip(harness.executor.start(harness.launch("gone", exit_code=4)).handle)
        # The first executor never polls again (its controller died).
        restarted = harness.new_executor()
        status = harness.wait(restarted, handle)
        assert status.state is RunState.FAILED, status
        assert status.exit_code == 4

    def test_reattach_while_running(self, harness: ExecutorHarness) -> None:
        handle = _roundtrip(
            harness.executor.start(harness.launch("alive", duration=0.4, lines=["x=1"])).handle
        )
        restarted = harness.new_executor()
        assert restarted.poll(handle).state is RunState.RUNNING
        status = harness.wait(restarted, handle)
        assert status.state is RunState.SUCCEEDED
        assert "x=1\n" in _read(restarted.output_path(handle))

    def test_stop_from_restarted_executor(self, harness: ExecutorHarness) -> None:
        handle = _roundtrip(harness.executor.start(harness.launch("orphan", duration=60)).handle)
        restarted = harness.new_executor()
        restarted.stop(handle)
        assert restarted.poll(handle).state is not RunState.RUNNING
        assert harness.new_executor().poll(handle).state is not RunState.RUNNING

    def test_start_in_a_used_trial_dir_gives_a_fresh_log(self, harness: ExecutorHarness) -> None:
        # An experiment deleted and run again reuses trial names and directories: the new
        # run's output (read from offset 0 by the collector) must not contain the old one's.
        ex = harness.executor
        first = ex.start(harness.launch("again", lines=["accuracy=0.1"])).handle
        assert harness.wait(ex, first).state is RunState.SUCCEEDED
        second = ex.start(harness.launch("again", lines=["accuracy=0.9"])).handle
        assert harness.wait(ex, second).state is RunState.SUCCEEDED
        text = _read(ex.output_path(second))
        assert "accuracy=0.9\n" in text
        assert "accuracy=0.1" not in text

    def test_many_trials_independent(self, harness: ExecutorHarness) -> None:
        ex = harness.executor
        handles = {
            code: ex.start(harness.launch(f"par{code}", exit_code=code, lines=[f"n={code}"])).handle
            for code in range(4)
        }
        for code, handle in handles.items():
            status = harness.wait(ex, handle)
            assert status.exit_code == code
            assert f"n={code}\n" in _read(ex.output_path(handle))


__all__ = [
    "ExecutorContract",
    "ExecutorHarness",
    "FakeExecutor",
    "FakeHarness",
    "LocalHarness",
    "TrialScript",
    "exit_status",
]
