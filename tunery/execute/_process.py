"""What the local and the Dask executor share about a trial's process.

Both run a trial's argv under a tiny ``/bin/sh`` wrapper that never interprets it (it is passed
as ``"$@"``): the wrapper writes its pid first and, when the command ends, its exit status, each
as one ``write`` of ``N\\n`` (a reader trusts only a newline-terminated value).  The trial's
files (``output.log``, ``pid``, ``exitcode``, ...) are named here, and one function,
:func:`status_from_exit`, turns how a trial ended into the :class:`RunStatus` both report.
Also here: the ``/proc`` helpers that find and signal a trial's process group, and how a
trial's GPU request is read.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal as _signal
from collections.abc import Mapping

from tunery.errors import TuneryError
from tunery.execute.base import RunState, RunStatus

__all__ = [
    "EXIT_CODE_FILE",
    "GPU_RESOURCE",
    "OUTPUT_LOG",
    "PID_FILE",
    "SH",
    "STOPPED_MARKER",
    "TIMED_OUT_MARKER",
    "TOKEN_FILE",
    "gpu_request",
    "group_alive",
    "group_members",
    "have_proc",
    "killpg_quietly",
    "process_start_ticks",
    "read_code",
    "read_proc_stat",
    "signal_name",
    "status_from_exit",
]

#: The trial's combined stdout and stderr (Katib's ``1>log 2>&1``).
OUTPUT_LOG = "output.log"
#: The wrapper's ``$?`` (128+N when the command was killed by signal N).
EXIT_CODE_FILE = "exitcode"
#: Written by the wrapper first thing (``$$``): lets a new controller find a trial whose
#: handle was never saved (the controller died right after starting it).
PID_FILE = "pid"
#: Markers the local executor leaves when it kills a trial.
TIMED_OUT_MARKER = "timed_out"
STOPPED_MARKER = "stopped"
#: The token of the trial's latest start (:mod:`tunery.execute.sweep`), for a handle recovered
#: without one.
TOKEN_FILE = "token"
GPU_RESOURCE = "nvidia.com/gpu"
SH = "/bin/sh"

#: The local wrapper.  $1 is the trial directory; the rest is the user's argv, run verbatim as
#: "$@".  No trap: a SIGTERM that arrives between the wrapper's fork and exec of the command
#: would be caught by the inherited handler and lost; stop() and timeouts leave marker files.
LOCAL_WRAPPER = 'd=$1; shift; echo $$ >"$d/pid"; "$@"; c=$?; echo $c >"$d/exitcode"; exit $c'

#: The Dask worker's wrapper: as the local one, but stdin is the read end of a pipe whose write
#: end only the worker's task holds: it moves to fd 3 and a watcher waits for EOF on it, then
#: kills the whole process group.  EOF comes when the task closes its end after the trial ended
#: (killing leftovers) or when the worker process dies (killing an orphaned trial).  The
#: command itself gets /dev/null and no fd 3.
WATCHED_WRAPPER = (
    'd=$1; shift; exec 3<&0 </dev/null; echo $$ >"$d/pid"; '
    "(read _ <&3; kill -KILL 0) & "
    '"$@" 3<&-; c=$?; echo $c >"$d/exitcode"; exit $c'
)


# --------------------------------------------------------------------------- /proc helpers


def read_proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgrp, start_ticks) of ``pid`` from /proc, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rfind(b")") + 2 :].split()
    try:
        # rest[0] is field 3 (state); field 5 (pgrp) is rest[2]; field 22 is rest[19].
        return rest[0].decode(), int(rest[2]), int(rest[19])
    except (IndexError, ValueError):
        return None


def have_proc() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/stat")


def process_start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (None without /proc or if gone)."""
    stat = read_proc_stat(pid)
    return None if stat is None else stat[2]


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``; needs /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = read_proc_stat(int(entry))
        if stat is not None and stat[1] == pgid and stat[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any live process is left in process group ``pgid``."""
    if have_proc():
        return bool(group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def killpg_quietly(pgid: int, sig: int) -> None:
    """Signal process group ``pgid``; a group that is gone (or not ours) is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def read_code(path: str) -> int | None:
    """The ``N\\n`` a wrapper wrote to ``path`` (exit status or pid); None if not complete."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    if not text.endswith("\n"):
        return None  # not (completely) written yet
    try:
        return int(text.strip())
    except ValueError:
        return None


def signal_name(number: int) -> str:
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def gpu_request(resources: Mapping[str, str]) -> int:
    """The whole number of GPUs a trial's resources ask for (``nvidia.com/gpu``)."""
    raw = resources.get(GPU_RESOURCE)
    if raw is None:
        return 0
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise TuneryError(
            f"invalid {GPU_RESOURCE} request {raw!r}",
            "ask for a whole number of GPUs, e.g. nvidia.com/gpu: 1",
        )
    return int(value)


_STOPPED = "the trial was stopped"


def status_from_exit(
    code: int | None,
    *,
    timed_out: bool = False,
    stopped: bool = False,
    signal: int | None = None,
    timeout: float | None = None,
    lost: str = "the trial's process left no exit status",
) -> RunStatus:
    """The status of a trial whose wrapper ended with ``code`` (None: no exit status).

    ``timed_out``: the executor killed it past ``timeout`` seconds; ``stopped``: it was stopped;
    ``signal``: the signal that killed the wrapper itself (no exit status then); ``lost``: the
    message when nothing at all is known of its end.
    """
    if timed_out:
        return RunStatus(
            RunState.FAILED,
            exit_code=code,
            reason="TrialTimeout",
            message=f"the trial ran longer than its timeout of {float(timeout or 0):g}s "
            "and was killed",
        )
    if code is None:
        if stopped:
            return RunStatus(RunState.FAILED, reason="Stopped", message=_STOPPED)
        if signal:
            return RunStatus(
                RunState.FAILED,
                exit_code=128 + signal,
                reason="Signal",
                message=f"the trial's process group was killed by {signal_name(signal)}",
            )
        return RunStatus(RunState.LOST, reason="TrialLost", message=lost)
    if code == 0:
        return RunStatus(RunState.SUCCEEDED, exit_code=0)
    if stopped:
        return RunStatus(RunState.FAILED, exit_code=code, reason="Stopped", message=_STOPPED)
    if code > 128 and code - 128 < NSIG:
        return RunStatus(
            RunState.FAILED,
            exit_code=code,
            reason="Signal",
            message=f"killed by {signal_name(code - 128)} (exit status {code}); see {OUTPUT_LOG}",
        )
    hint = {126: " (not executable?)", 127: " (command not found?)"}.get(code, "")
    return RunStatus(
        RunState.FAILED,
        exit_code=code,
        reason="ExitCode",
        message=f"exit code {code}{hint}; see {OUTPUT_LOG}",
    )


NSIG = _signal.NSIG
