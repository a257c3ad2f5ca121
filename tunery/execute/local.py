"""The local executor: each trial is a subprocess in its own session and process group.

A trial runs under a tiny ``/bin/sh`` wrapper that never interprets the user's argv (it is
passed as ``"$@"``); the wrapper runs the command, then writes its exit status to
``<trial_dir>/exitcode`` with one ``write`` of ``N\n`` by the shell's builtin ``echo`` (no
extra process); a reader trusts only a newline-terminated value.  The wrapper is the
process group leader, so stop and timeout kill the whole tree at once.  Output (stdout *and*
stderr, as Katib's ``1>log 2>&1``) is appended to ``<trial_dir>/output.log``.

Because the trial is in its own session, writes to a file and reads ``/dev/null``, it survives
the controller being killed with SIGKILL.  The handle (JSON) holds what a new executor in a
new controller process needs to re-attach:

``{"executor": "local", "version": 1, "trial_dir", "pid", "pgid", "start_ticks", "boot_id",
"started_at", "timeout", "gpus"}``

``start_ticks`` (field 22 of ``/proc/<pid>/stat``) and ``boot_id`` detect a reused pid or a
reboot, in which case the trial is LOST unless its exit code file exists.  Files in the trial
directory: ``output.log``, ``exitcode`` (the wrapper's ``$?``: 128+N when the command was killed
by signal N), and the markers ``timed_out`` and ``stopped`` written by the executor.

GPUs: a pool of device ids (``gpus=`` or ``TUNERY_GPUS=0,1``); a launch asking for
``nvidia.com/gpu: N`` gets N free ids in ``CUDA_VISIBLE_DEVICES``; ids return to the pool when a
poll sees the trial end, or on stop.  With a pool configured, trials without GPUs get
``CUDA_VISIBLE_DEVICES=""``.  A restarted executor learns the occupancy from the handles it
re-attaches to (:meth:`LocalExecutor.adopt`, also done by :meth:`LocalExecutor.poll`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunery.clock import Clock, SystemClock
from tunery.errors import TuneryError
from tunery.execute._process import (
    EXIT_CODE_FILE,
    LOCAL_WRAPPER,
    OUTPUT_LOG,
    PID_FILE,
    SH,
    STOPPED_MARKER,
    TIMED_OUT_MARKER,
    TOKEN_FILE,
    gpu_request,
    group_alive,
    have_proc,
    killpg_quietly,
    process_start_ticks,
    read_code,
    read_proc_stat,
    status_from_exit,
)
from tunery.execute.base import (
    ExecutorBase,
    Launch,
    ResourcesImpossible,
    ResourcesUnavailable,
    RunState,
    RunStatus,
    Started,
)
from tunery.execute.sweep import TOKEN_ENV, new_token, sweep

log = logging.getLogger(__name__)

HANDLE_VERSION = 1


@dataclass(frozen=True)
class _Handle:
    trial_dir: str
    pid: int
    pgid: int
    start_ticks: int | None
    boot_id: str | None
    started_at: float
    timeout: float | None
    gpus: tuple[str, ...]
    #: The start's token (:mod:`tunery.execute.sweep`); None in handles of older versions.
    token: str | None = None

    @classmethod
    def parse(cls, handle: Mapping[str, Any]) -> _Handle:
        try:
            timeout = handle.get("timeout")
            ticks = handle.get("start_ticks")
            return cls(
                trial_dir=str(handle["trial_dir"]),
                pid=int(handle["pid"]),
                pgid=int(handle.get("pgid", handle["pid"])),
                start_ticks=None if ticks is None else int(ticks),
                boot_id=handle.get("boot_id"),
                started_at=float(handle.get("started_at", 0.0)),
                timeout=None if timeout is None else float(timeout),
                gpus=tuple(str(g) for g in handle.get("gpus") or ()),
                token=str(handle["token"]) if handle.get("token") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TuneryError(
                f"not a local executor handle: {dict(handle)!r}",
                "the trial was started by another executor kind",
            ) from exc

    def path(self, name: str) -> str:
        return os.path.join(self.trial_dir, name)


# --------------------------------------------------------------------------- /proc helpers


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _touch(path: str) -> None:
    with contextlib.suppress(OSError), open(path, "a"):
        pass


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


#: How long ``recover`` waits for the pid file of a trial whose start wrote its token.
RECOVER_WAIT_S = 2.0


def _token_since(trial_dir: str, not_before: float | None) -> bool:
    """Whether ``start`` wrote this trial directory's token (after ``not_before``)."""
    try:
        written = os.stat(os.path.join(trial_dir, TOKEN_FILE)).st_mtime
    except OSError:
        return False
    return not_before is None or written >= not_before - 1.0


def _read_token(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    return text.strip() if text.endswith("\n") and text.strip() else None


def _environ_gpus(pid: int) -> list[str]:
    """CUDA_VISIBLE_DEVICES of a running process (empty if unreadable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            entries = fh.read().split(b"\0")
    except OSError:
        return []
    for entry in entries:
        if entry.startswith(b"CUDA_VISIBLE_DEVICES="):
            value = entry.split(b"=", 1)[1].decode(errors="replace")
            return [g for g in value.split(",") if g]
    return []


def _default_pool() -> list[str]:
    raw = os.environ.get("TUNERY_GPUS", "")
    return [g.strip() for g in raw.split(",") if g.strip()]


# --------------------------------------------------------------------------- the executor


class LocalExecutor(ExecutorBase):
    """Runs trials as local subprocesses; see the module docstring for the on-disk contract."""

    scheme = "local"
    #: Trials run here, in the controller's trial directories: they see the stop marker.
    stop_channel = True

    @classmethod
    def from_url(cls, url: str, *, gpus: Sequence[str] | None = None) -> LocalExecutor:
        return cls(gpus=gpus)

    def __init__(
        self,
        gpus: Sequence[str] | None = None,
        *,
        grace: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.gpus: tuple[str, ...] = tuple(_default_pool() if gpus is None else gpus)
        if len(set(self.gpus)) != len(self.gpus):
            raise TuneryError(f"duplicate GPU ids in the pool {list(self.gpus)}")
        self.grace = grace
        #: Dates trials' starts and times their ``timeout`` (the system clock by default).
        self._clock: Clock = clock or SystemClock()
        #: Children we started, by pid (we reap them through Popen).
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        #: GPU id -> the trial_dir holding it.
        self._gpu_owner: dict[str, str] = {}
        self._boot = _boot_id()
        self._proc = have_proc()

    # ------------------------------------------------------------------ protocol

    def start(self, launch: Launch) -> Started:
        if not launch.argv:
            raise TuneryError(f"trial {launch.trial_name} has an empty command")
        if launch.working_dir is not None and not os.path.isdir(launch.working_dir):
            raise TuneryError(
                f"the working directory {launch.working_dir} of trial {launch.trial_name} "
                "does not exist",
                "set workingDir to an existing directory (relative paths resolve against "
                "the experiment file's directory)",
            )
        gpus = self._allocate(launch)
        trial_dir = os.path.abspath(launch.trial_dir)
        try:
            os.makedirs(trial_dir, exist_ok=True)
            # A trial directory may be reused when a trial is started again: stale status
            # files of an earlier attempt must not decide this one.
            for name in (EXIT_CODE_FILE, PID_FILE, TIMED_OUT_MARKER, STOPPED_MARKER):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(trial_dir, name))
            env = dict(os.environ)
            env.update(launch.env)
            env["TUNERY_TRIAL_DIR"] = trial_dir
            token = new_token()
            env[TOKEN_ENV] = token
            _write_text(os.path.join(trial_dir, TOKEN_FILE), token + "\n")
            if self.gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
            cwd = launch.working_dir or trial_dir
            # A fresh log per start: the collector reads it from offset 0, so output of an
            # earlier run of a trial of the same name must never be in it.
            with open(os.path.join(trial_dir, OUTPUT_LOG), "wb") as out:
                proc = subprocess.Popen(
                    [SH, "-c", LOCAL_WRAPPER, "tunery-trial", trial_dir, *launch.argv],
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except BaseException:
            self._release(trial_dir)
            raise
        # The wrapper writes its pid first thing, but on a busy machine it may not have run yet
        # when this returns: write it here too (the same number, renamed into place), so that
        # a controller that dies now is followed by one that finds it (``recover``).
        pid_file = os.path.join(trial_dir, PID_FILE)
        _write_text(pid_file + ".start", f"{proc.pid}\n")
        os.replace(pid_file + ".start", pid_file)
        self._procs[proc.pid] = proc
        started_at = self._clock.now()
        handle: dict[str, Any] = {
            "executor": "local",
            "version": HANDLE_VERSION,
            "trial_dir": trial_dir,
            "pid": proc.pid,
            "pgid": proc.pid,
            "start_ticks": process_start_ticks(proc.pid),
            "boot_id": self._boot,
            "started_at": started_at,
            "timeout": launch.timeout,
            "gpus": list(gpus),
            "token": token,
        }
        log.debug("started trial %s: pid %d in %s", launch.trial_name, proc.pid, trial_dir)
        return Started(handle, started_at)

    def recover(self, launch: Launch, not_before: float | None = None) -> Started | None:
        """The trial started from ``launch`` whose handle was lost, or None.

        A controller can die between starting a trial and saving its handle; the wrapper's pid
        file (and exit code file) in the trial directory let a new controller re-attach to it
        instead of running the trial a second time.  None: the trial never started.  A pid file
        older than ``not_before`` (the trial's creation time) is a leftover of an earlier
        experiment of the same name and is ignored.
        """
        trial_dir = os.path.abspath(launch.trial_dir)
        pid_file = os.path.join(trial_dir, PID_FILE)
        pid = read_code(pid_file)  # same "N\n" format
        if pid is None and _token_since(trial_dir, not_before):
            # ``start`` wrote the token, then started the wrapper, which rewrites the pid file
            # (truncated, then written): a moment later it holds the pid, unless the start
            # never happened.
            deadline = time.monotonic() + RECOVER_WAIT_S
            while pid is None and time.monotonic() < deadline:
                time.sleep(0.02)
                pid = read_code(pid_file)
        if pid is None or pid <= 0:
            return None
        try:
            started_at = os.stat(pid_file).st_mtime
        except OSError:
            return None
        if not_before is not None and started_at < not_before - 1.0:
            return None
        stat = read_proc_stat(pid) if self._proc else None
        alive = stat is not None and stat[0] not in ("Z", "X") and stat[1] == pid
        gpus: list[str] = []
        if alive and self.gpus:
            gpus = _environ_gpus(pid)
        handle: dict[str, Any] = {
            "executor": "local",
            "version": HANDLE_VERSION,
            "trial_dir": trial_dir,
            "pid": pid,
            "pgid": pid,
            # A dead process gets ticks that match nothing, so a reused pid is never "ours".
            "start_ticks": stat[2] if alive and stat is not None else -1,
            "boot_id": self._boot,
            "started_at": started_at,
            "timeout": launch.timeout,
            "gpus": gpus,
            "token": _read_token(os.path.join(trial_dir, TOKEN_FILE)),
        }
        if gpus:
            self.adopt(handle)
        log.info("recovered trial %s (pid %d) from %s", launch.trial_name, pid, trial_dir)
        return Started(handle, started_at)

    def poll(self, handle: Mapping[str, Any]) -> RunStatus:
        h = _Handle.parse(handle)
        if self._running(h):
            self.adopt(handle)
            if h.timeout is not None and self._clock.now() - h.started_at > h.timeout:
                _touch(h.path(TIMED_OUT_MARKER))
                log.info("trial in %s timed out after %gs; killing it", h.trial_dir, h.timeout)
                self._terminate(h)
                self._finish(h)
                return self._timeout_status(h)
            return RunStatus(RunState.RUNNING)
        status = self._final_status(h)
        self._finish(h)
        return status

    def stop(self, handle: Mapping[str, Any]) -> None:
        h = _Handle.parse(handle)
        if not os.path.exists(h.path(EXIT_CODE_FILE)) and self._running(h):
            _touch(h.path(STOPPED_MARKER))
        self._terminate(h)
        self._finish(h)

    def output_path(self, handle: Mapping[str, Any]) -> str:
        return os.path.join(str(handle["trial_dir"]), OUTPUT_LOG)

    # ------------------------------------------------------------------ extras

    def adopt(self, handle: Mapping[str, Any]) -> None:
        """Count a re-attached running trial's GPUs as taken (after a controller restart)."""
        h = _Handle.parse(handle)
        for gpu in h.gpus:
            if gpu in self.gpus:
                owner = self._gpu_owner.setdefault(gpu, h.trial_dir)
                if owner != h.trial_dir:
                    log.warning("GPU %s is claimed by %s and %s", gpu, owner, h.trial_dir)

    def free_gpus(self) -> list[str]:
        """GPU ids of the pool not held by a running trial."""
        return [g for g in self.gpus if g not in self._gpu_owner]

    def wait(
        self, handles: Iterable[Mapping[str, Any]], timeout: float, clock: Clock | None = None
    ) -> None:
        """Sleep up to ``timeout`` seconds, returning early when one of the trials ends (on
        the system clock; another clock only sleeps)."""
        if clock is not None and not isinstance(clock, SystemClock):
            super().wait(handles, timeout, clock)
            return
        deadline = time.monotonic() + max(0.0, timeout)
        parsed = [_Handle.parse(h) for h in handles]
        now = self._clock.now()
        for h in parsed:
            if h.timeout is not None:
                deadline = min(deadline, time.monotonic() + h.started_at + h.timeout - now)
        fds: list[int] = []
        try:
            if hasattr(os, "pidfd_open") and self._proc:
                for h in parsed:
                    try:
                        fd = os.pidfd_open(h.pid)
                    except OSError:
                        return  # gone already: the caller should poll now
                    fds.append(fd)
                    if not self._running(h):
                        return
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    select.select(fds, [], [], remaining)
                return
            while time.monotonic() < deadline:
                if any(not self._running(h) for h in parsed):
                    return
                time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        finally:
            for fd in fds:
                os.close(fd)

    # ------------------------------------------------------------------ internals

    def _allocate(self, launch: Launch) -> list[str]:
        wanted = gpu_request(launch.resources)
        if wanted == 0:
            return []
        if wanted > len(self.gpus):
            raise ResourcesImpossible(
                f"trial {launch.trial_name} asks for {wanted} GPU(s) but the pool has "
                f"{len(self.gpus)} ({','.join(self.gpus) or 'none'})",
                "list the GPUs tunery may use with TUNERY_GPUS=0,1,... or lower nvidia.com/gpu",
            )
        free = self.free_gpus()
        if wanted > len(free):
            raise ResourcesUnavailable(
                f"trial {launch.trial_name} waits for {wanted} GPU(s); {len(free)} free",
                "it starts when running trials release their GPUs",
            )
        taken = free[:wanted]
        owner = os.path.abspath(launch.trial_dir)
        for gpu in taken:
            self._gpu_owner[gpu] = owner
        return taken

    def _release(self, trial_dir: str) -> None:
        for gpu in [g for g, owner in self._gpu_owner.items() if owner == trial_dir]:
            del self._gpu_owner[gpu]

    def _running(self, h: _Handle) -> bool:
        """Whether the wrapper process of ``h`` still runs (never reaps a child)."""
        proc = self._procs.get(h.pid)
        if proc is not None:
            if proc.returncode is not None:
                return False
            try:
                info = os.waitid(os.P_PID, h.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return proc.poll() is None
            return info is None
        if h.boot_id is not None and self._boot is not None and h.boot_id != self._boot:
            return False
        if self._proc:
            stat = read_proc_stat(h.pid)
            if stat is None or stat[0] in ("Z", "X"):
                return False
            return h.start_ticks is None or stat[2] == h.start_ticks
        try:
            os.kill(h.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _group_is_ours(self, h: _Handle) -> bool:
        """Whether signalling ``h.pgid`` cannot hit an unrelated group (pid reuse)."""
        if h.pid in self._procs:
            return True  # an unreaped child keeps its pid (and so the group id) reserved
        if self._running(h):
            return True
        # The leader is gone; its id stays reserved while other members live, unless the
        # machine rebooted.  A reused id would need a wrap-around *and* a new group leader.
        return h.boot_id is None or self._boot is None or h.boot_id == self._boot

    def _terminate(self, h: _Handle) -> None:
        """SIGTERM the group, wait up to ``grace`` seconds for it to go, then SIGKILL it."""
        if not self._group_is_ours(h):
            return
        if not group_alive(h.pgid):
            self._reap(h)
            return
        killpg_quietly(h.pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        pause = 0.005
        while True:
            self._reap_if_exited(h)
            if not group_alive(h.pgid):
                break
            if time.monotonic() >= deadline:
                log.info("process group %d outlived SIGTERM; sending SIGKILL", h.pgid)
                killpg_quietly(h.pgid, signal.SIGKILL)
                break
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)
        self._reap(h)

    def _reap_if_exited(self, h: _Handle) -> None:
        proc = self._procs.get(h.pid)
        if proc is not None:
            proc.poll()

    def _reap(self, h: _Handle) -> None:
        proc = self._procs.get(h.pid)
        if proc is not None:
            try:
                proc.wait(timeout=max(self.grace, 1.0))
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
                log.warning("trial wrapper %d did not exit after SIGKILL", h.pid)

    def _finish(self, h: _Handle) -> None:
        """The trial has ended: kill leftovers of its group, reap it, free its GPUs."""
        if h.pid in self._procs or self._running(h):
            # Background processes the trial left behind (they would hold GPUs and files);
            # the group id is still ours, and signalling a lone zombie leader is harmless.
            killpg_quietly(h.pgid, signal.SIGKILL)
        if h.token:
            # Those that left the group (setsid daemons) still carry the start's token.
            left = sweep(h.token)
            if left:
                log.info(
                    "trial in %s left %d process(es) behind; killed them", h.trial_dir, len(left)
                )
        self._reap(h)
        self._procs.pop(h.pid, None)
        self._release(h.trial_dir)

    def _timeout_status(self, h: _Handle) -> RunStatus:
        return status_from_exit(
            read_code(h.path(EXIT_CODE_FILE)), timed_out=True, timeout=h.timeout
        )

    def _final_status(self, h: _Handle) -> RunStatus:
        if os.path.exists(h.path(TIMED_OUT_MARKER)):
            return self._timeout_status(h)
        code = read_code(h.path(EXIT_CODE_FILE))
        stopped = os.path.exists(h.path(STOPPED_MARKER))
        killed_by: int | None = None
        if code is None and not stopped:
            proc = self._procs.get(h.pid)
            rc = proc.poll() if proc is not None else None
            if rc is not None and rc < 0:
                killed_by = -rc
        return status_from_exit(
            code,
            stopped=stopped,
            signal=killed_by,
            lost=(
                "the trial's process is gone and left no exit status "
                "(machine rebooted, or its wrapper was killed)"
            ),
        )
