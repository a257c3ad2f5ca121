"""The worker side of the Dask executor: the task that runs one attempt of a trial.

Dask pickles :func:`run_attempt`, :func:`read_remote`, :func:`pack_dir` and
:func:`kill_remote` by reference, so workers import this module (install ``tunery[dask]``
there).  See :mod:`tunery.execute.dask` for the whole picture.

The attempt runs in its own directory ``<root>/<experiment>/<trial>/<attempt id>/`` on the
worker, which stands for the controller's trial directory: every path under the controller's
trial directory in the trial's command line, environment and working directory is rewritten to
it (:mod:`tunery.mounts`), and so is the trial's checkpoint directory (pbt), to ``checkpoint/``
in it, filled from the parent's checkpoint shipped with the task.  So a trial never needs the
controller's disk: its output, a ``File`` collector's metrics file and its checkpoints are
written on the worker, and the controller mirrors or fetches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import os
import select
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from tunery.execute._process import (
    EXIT_CODE_FILE,
    OUTPUT_LOG,
    SH,
    WATCHED_WRAPPER,
    group_alive,
    killpg_quietly,
    read_code,
)
from tunery.execute.mirror import read_file, tail_of
from tunery.execute.sweep import TOKEN_ENV, new_token, sweep
from tunery.mounts import Mount, Rewriter

__all__ = ["CHECKPOINT_DIR", "TAIL", "kill_remote", "pack_dir", "read_remote", "run_attempt"]

#: Bytes of the end of its log (and metrics file) a finished task returns.
TAIL = 64 << 10
#: The attempt's checkpoint directory, inside its directory.
CHECKPOINT_DIR = "checkpoint"

_gpu_lock = threading.Lock()
#: Device id -> the attempt directory holding it, per worker process.
_gpu_owner: dict[str, str] = {}


def _worker_gpu_ids(total: float) -> list[str]:
    for var in ("TUNERY_GPUS", "CUDA_VISIBLE_DEVICES"):
        raw = os.environ.get(var, "")
        ids = [g.strip() for g in raw.split(",") if g.strip()]
        if ids:
            return ids
    return [str(i) for i in range(int(total))]


def _take_gpus(count: int, total: float, owner: str) -> list[str]:
    if count <= 0:
        return []
    with _gpu_lock:
        free = [g for g in _worker_gpu_ids(total) if g not in _gpu_owner]
        if len(free) < count:
            raise RuntimeError(
                f"this worker declares GPU={total:g} but has only {len(free)} free device "
                "id(s); set TUNERY_GPUS (or CUDA_VISIBLE_DEVICES) on the worker to its GPUs"
            )
        for g in free[:count]:
            _gpu_owner[g] = owner
        return free[:count]


def _give_gpus(owner: str) -> None:
    with _gpu_lock:
        for g in [g for g, o in _gpu_owner.items() if o == owner]:
            del _gpu_owner[g]


def _default_root() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid())
    return os.path.join(tempfile.gettempdir(), f"tunery-{user}", "trials")


def _terminate_blocking(pgid: int, grace: float) -> None:
    killpg_quietly(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    killpg_quietly(pgid, signal.SIGKILL)


def _still_wanted(worker: Any, key: str) -> bool:
    """Whether the worker still runs ``key`` for someone (False once it is cancelled)."""
    try:
        ts = worker.state.tasks.get(key)
    except Exception:  # pragma: no cover - internals of another version
        return True
    return ts is not None and ts.state not in ("cancelled", "released", "forgotten")


def _stop_requested(topic: str, key: str) -> bool:
    """Whether the controller asked to stop task ``key`` (a ``stop`` event on its topic).

    Dask may run a task that was cancelled while it was queued (the cancellation and the
    worker's start can cross); the stop event, logged before the cancellation, is read here
    before the trial's process starts, so a trial stopped before it started never runs.
    """
    try:
        from distributed import get_client

        events = get_client().get_events(topic)
    except Exception:  # pragma: no cover - no scheduler to ask: the cancellation decides
        return False
    return any(
        isinstance(msg, dict) and msg.get("key") == key and msg.get("event") == "stop"
        for _time, msg in events
    )


def _wait_pid(proc: subprocess.Popen[bytes], fd: int | None, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``proc`` to exit; True if it has."""
    if fd is not None:
        select.select([fd], [], [], max(0.0, seconds))
        return proc.poll() is not None
    try:
        proc.wait(timeout=max(0.0, seconds))
    except subprocess.TimeoutExpired:
        return False
    return True


def run_attempt(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The Dask task: run one attempt of a trial on this worker and return its ``end`` event."""
    from distributed import get_worker
    from distributed.worker import thread_state

    worker = get_worker()
    key = str(getattr(thread_state, "key", spec["key"]))
    topic = str(spec["topic"])
    attempt = uuid.uuid4().hex[:10]
    root = spec.get("remote_root") or os.environ.get("TUNERY_WORKER_DIR") or _default_root()
    rdir = os.path.join(os.path.abspath(root), str(spec["experiment"]), str(spec["trial"]), attempt)
    os.makedirs(rdir, exist_ok=True)
    total_gpus = float(worker.state.total_resources.get("GPU", 0))
    gpus = _take_gpus(int(spec.get("gpus") or 0), total_gpus, rdir)
    notes: list[str] = []
    try:
        if _stop_requested(topic, key):
            end = {
                "event": "end",
                "key": key,
                "attempt": attempt,
                "worker": str(worker.address),
                "dir": rdir,
                "exit_code": None,
                "signal": None,
                "timed_out": False,
                "cancelled": True,
                "timeout": spec.get("timeout"),
                "time": time.time(),
            }
            worker.log_event(topic, end)
            return {**end, "tail": b"", "size": 0}
        rewriter = _rewriter(spec, rdir)
        argv = rewriter.argv([str(a) for a in spec["argv"]])
        for fresh in spec.get("fresh_dirs") or ():
            os.makedirs(rewriter.text(str(fresh)), exist_ok=True)
        checkpoint = _unpack_checkpoint(spec, rdir)
        env = dict(os.environ)
        env.update(rewriter.env({str(k): str(v) for k, v in (spec.get("env") or {}).items()}))
        # Trials use the worker's Python environment first (the one tunery runs in there).
        bindir = os.path.dirname(sys.executable)
        env["PATH"] = os.pathsep.join(
            p for p in (bindir, env.get("PATH", ""), os.environ.get("PATH", "")) if p
        )
        env["TUNERY_TRIAL_DIR"] = rdir
        env["TUNERY_WORKER"] = str(worker.address)
        token = new_token()
        env[TOKEN_ENV] = token
        if gpus or total_gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
        cwd = spec.get("working_dir")
        cwd = rewriter.text(str(cwd)) if cwd else cwd
        if not cwd or not os.path.isdir(cwd):
            if cwd:
                notes.append(
                    f"tunery: the working directory {cwd} does not exist on worker "
                    f"{worker.address}; the trial runs in {rdir}\n"
                )
            cwd = rdir
        log_path = os.path.join(rdir, OUTPUT_LOG)
        read_end, write_end = os.pipe()
        try:
            with open(log_path, "ab") as out:
                for note in notes:
                    out.write(note.encode())
                out.flush()
                proc = subprocess.Popen(
                    [SH, "-c", WATCHED_WRAPPER, "tunery-trial", rdir, *argv],
                    cwd=cwd,
                    env=env,
                    stdin=read_end,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        started = time.time()
        worker.log_event(
            topic,
            {
                "event": "start",
                "key": key,
                "attempt": attempt,
                "worker": str(worker.address),
                "dir": rdir,
                "pid": proc.pid,
                "gpus": gpus,
                "time": started,
            },
        )
        timeout = spec.get("timeout")
        grace = float(spec.get("grace") or 5.0)
        timed_out = cancelled = False
        fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            fd = os.pidfd_open(proc.pid)
        try:
            while True:
                step = 0.5
                if timeout is not None:
                    step = min(step, started + float(timeout) - time.time())
                if _wait_pid(proc, fd, step):
                    break
                if timeout is not None and time.time() - started >= float(timeout):
                    timed_out = True
                elif not _still_wanted(worker, key):
                    cancelled = True
                if timed_out or cancelled:
                    _terminate_blocking(proc.pid, grace)
                    proc.wait()
                    break
        finally:
            if fd is not None:
                os.close(fd)
            os.close(write_end)  # the watcher kills what the trial left behind
            sweep(token, grace)  # and so does the sweep, for what left the group (setsid)
        code = read_code(os.path.join(rdir, EXIT_CODE_FILE))
        rc = proc.returncode
        end = {
            "event": "end",
            "key": key,
            "attempt": attempt,
            "worker": str(worker.address),
            "dir": rdir,
            "exit_code": code,
            "signal": -rc if code is None and rc is not None and rc < 0 else None,
            "timed_out": timed_out,
            "cancelled": cancelled,
            "timeout": timeout,
            "time": time.time(),
        }
        if checkpoint is not None:
            # Where the trial's checkpoint is, for its children (DaskExecutor.prepare_checkpoint).
            worker.log_event(
                str(spec["checkpoint_topic"]),
                {
                    "event": "checkpoint",
                    "key": key,
                    "attempt": attempt,
                    "worker": str(worker.address),
                    "path": checkpoint,
                    "time": time.time(),
                },
            )
        worker.log_event(topic, end)
        # The result (not the event, which the scheduler keeps) carries the log's tail, so the
        # controller usually needs no extra call to mirror the last lines.
        tail, size = tail_of(log_path, TAIL)
        result = {**end, "tail": tail, "size": size}
        if spec.get("metrics_path"):
            metrics = tail_of(rewriter.text(str(spec["metrics_path"])), TAIL)
            result.update(metrics_tail=metrics[0], metrics_size=metrics[1])
        return result
    finally:
        _give_gpus(rdir)


def read_remote(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    """(bytes of ``path`` from ``offset``, at most ``limit``; the file's size) on a worker."""
    return read_file(path, offset, limit)


async def kill_remote(pid: int, grace: float) -> bool:
    """On a worker: SIGTERM process group ``pid``, SIGKILL it after ``grace`` s."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pgid = pid
    if pgid != pid or not group_alive(pid):
        return False
    killpg_quietly(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while group_alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    killpg_quietly(pid, signal.SIGKILL)
    return True


def _rewriter(spec: Mapping[str, Any], rdir: str) -> Rewriter:
    """The controller's trial directory (and checkpoint directory) as the attempt's own, but
    for ``shared_dirs`` (a TensorFlowEvent collector's directory: read where it is written)."""
    mounts = []
    for path in spec.get("shared_dirs") or ():
        mounts.append(Mount(str(path), str(path)))  # kept: the longest path wins
    if spec.get("trial_dir"):
        mounts.append(Mount(str(spec["trial_dir"]), rdir))
    if spec.get("checkpoint_dir"):
        mounts.append(Mount(str(spec["checkpoint_dir"]), os.path.join(rdir, CHECKPOINT_DIR)))
    return Rewriter(mounts)


def _unpack_checkpoint(spec: Mapping[str, Any], rdir: str) -> str | None:
    """The attempt's checkpoint directory, made from the shipped tar (or empty); None
    without one."""
    if not spec.get("checkpoint_dir"):
        return None
    target = os.path.join(rdir, CHECKPOINT_DIR)
    if os.path.lexists(target):
        shutil.rmtree(target)
    unpack(bytes(spec.get("checkpoint_tar") or b""), target)
    return target


def pack_dir(path: str, limit: int) -> dict[str, Any]:
    """``{"tar": bytes}``, an uncompressed tar of directory ``path`` (empty if it does not
    exist), or ``{"size": n}`` when its files hold more than ``limit`` bytes.  Runs where the
    directory is: on a worker (a parent's checkpoint), or on the controller."""
    total = 0
    if os.path.isdir(path):
        for folder, _dirs, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(folder, name)).st_size
                if total > limit:
                    return {"size": total}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as tar:
        if os.path.isdir(path):
            for entry in sorted(os.listdir(path)):
                tar.add(os.path.join(path, entry), arcname=entry)
    return {"tar": buffer.getvalue()}


def unpack(data: bytes, target: str) -> None:
    """Unpack a :func:`pack_dir` tar into the new directory ``target`` (nothing: empty)."""
    os.makedirs(target)
    if not data:
        return
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
            return
        # Pythons before 3.11.4: refuse what the "data" filter refuses (paths out of target).
        for member in tar.getmembers():
            path = os.path.realpath(os.path.join(target, member.name))
            inside = os.path.commonpath([path, os.path.realpath(target)])
            if inside != os.path.realpath(target) or member.isdev():
                raise ValueError(f"unsafe checkpoint archive member {member.name!r}")
            if (member.issym() or member.islnk()) and os.path.isabs(member.linkname):
                raise ValueError(f"unsafe checkpoint archive link {member.name!r}")
        tar.extractall(target)  # members checked above
