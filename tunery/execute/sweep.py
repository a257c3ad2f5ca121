"""Every process a trial started, found and ended, even those that left its process group.

A trial runs in its own process group, which stop and timeout kill at once.  A process that
calls ``setsid`` (a daemon) leaves that group and would outlive the trial; Katib deletes the
pod and everything in it.  tunery marks each start of a trial with a token in the
environment (:data:`TOKEN_ENV`), which every descendant inherits, daemons included, and at the
end of the trial (exit, stop, timeout, kill) ends every process that still carries the token,
found by scanning ``/proc/<pid>/environ``.

What can still escape: a process that clears or rewrites its environment before leaving the
group (``env -i``, ``execve`` with a new environment), or one that runs as another user
(its environment is unreadable unless tunery runs as root); on a system without ``/proc``
only the process group is ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid

__all__ = ["TOKEN_ENV", "marked", "new_token", "sweep"]

#: Environment variable carrying a trial start's token to all its descendants.
TOKEN_ENV = "TUNERY_TRIAL_TOKEN"


def new_token() -> str:
    return uuid.uuid4().hex


def marked(token: str) -> list[int]:
    """Pids of live processes whose environment carries ``token`` (never this process)."""
    if not token or not os.path.isdir("/proc"):
        return []
    needle = f"{TOKEN_ENV}={token}".encode()
    me = str(os.getpid())
    found: list[int] = []
    # It runs at every trial's end over every process of the machine: plain file descriptors
    # (os.open/os.read) cost about half of open()'s buffered file objects.
    for name in os.listdir("/proc"):
        if not name.isdigit() or name == me:
            continue
        try:
            fd = os.open(f"/proc/{name}/environ", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # gone, a kernel thread, or not ours to read
            continue
        try:
            environ = _read_all(fd)
        except OSError:
            continue
        finally:
            os.close(fd)
        if needle + b"\0" in environ or environ.endswith(needle):
            found.append(int(name))
    return found


#: One read takes a whole environment but the largest ones (a short read is its end).
_ENVIRON_READ = 1 << 17


def _read_all(fd: int) -> bytes:
    chunks = [os.read(fd, _ENVIRON_READ)]
    while len(chunks[-1]) == _ENVIRON_READ:
        chunks.append(os.read(fd, _ENVIRON_READ))
    return b"".join(chunks)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def sweep(token: str, grace: float = 0.0) -> list[int]:
    """End every process marked with ``token``: SIGTERM, then SIGKILL after ``grace`` seconds
    (at once when ``grace`` is 0).  Returns the pids that were found."""
    pids = marked(token)
    if not pids:
        return []
    first = signal.SIGTERM if grace > 0 else signal.SIGKILL
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, first)
    if grace > 0:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.02)
        for pid in pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
    # Processes forked by a marked process between the scan and the signal carry the token too.
    for pid in marked(token):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids
