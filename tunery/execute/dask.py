"""The Dask executor: each trial is a subprocess on a worker of a Dask cluster.

Install ``tunery[dask]`` (here and on every scheduler and worker: tasks refer to this module by
name).  ``DaskExecutor("tcp://host:8786")`` (or ``dask://host:8786``) submits one Dask task per
trial; the task, :func:`run_attempt`, runs on a worker thread and starts the trial's argv under
the same kind of ``/bin/sh`` wrapper as the local executor, in its own session and process
group, in a directory on that worker::

    <root>/<experiment>/<trial>/<attempt id>/   output.log, pid, exitcode

``<root>`` is the executor's ``remote_root``, else ``$TUNERY_WORKER_DIR`` of the worker, else
``<tmp>/tunery-<user>/trials``.

**Events are the record.**  The task logs Dask events (kept by the scheduler) on the trial's
topic: ``start`` (worker, directory, pid, GPUs) when the process runs, ``end`` (exit status,
timeout, cancellation) when it is over.  A poll reads them; so a new controller process, with a
new Dask client, re-attaches to trials that ran or still run on the cluster through the handle
alone.  The first ``end`` of any attempt decides the trial's outcome.

**Live output.**  Each poll pulls the new complete lines of the running attempt's
``output.log`` from its worker (a small function run there with ``Client.run``) and appends
them to the controller's local ``<trial_dir>/output.log``, which :meth:`output_path` names, so
the collectors read metric lines while the trial runs.  Mirror progress is kept in
``<trial_dir>/dask-mirror.json``.

**Worker loss.**  When a worker dies, the scheduler runs the task again on another worker (up
to its ``allowed-failures``, 3 by default); each run is an *attempt* with its own directory.
The mirror then writes one note line (``tunery: worker ... was lost ...``) and continues with
the new attempt's output from the line where the lost attempt stopped, so metric lines are
never collected twice (a deterministic trial gives the same log as an uninterrupted run).  More
than ``retries`` lost attempts, or the scheduler giving up (``KilledWorker``), fail the trial
with reason ``WorkerLost`` and a message naming the workers.  The wrapper holds the read end
of a pipe whose write end only the worker holds: if the worker process dies, the trial's whole
process group is killed, so a lost attempt never runs on as an orphan.

**Resources.**  ``nvidia.com/gpu: N`` becomes the Dask resource ``GPU=N``: such a trial runs
only on a worker started with ``--resources GPU=M`` (M >= N), and the task picks N concrete
device ids there, free of the worker's other trials, for ``CUDA_VISIBLE_DEVICES``.  Device ids
are the worker's ``$TUNERY_GPUS``, else its ``$CUDA_VISIBLE_DEVICES``, else ``0..M-1``.  Trials
without GPUs on a worker with GPUs get ``CUDA_VISIBLE_DEVICES=""``.  ``cpu`` and ``memory``
become the resources ``CPU`` (cores) and ``MEMORY`` (bytes) only when some worker of the
cluster declares that resource name; otherwise a worker runs as many trials at once as it has
threads (``--nthreads``).

**Stop and timeout.**  :meth:`DaskExecutor.stop` records the outcome locally, cancels the
task, and sends SIGTERM (SIGKILL after ``grace`` seconds) to the attempt's process group on
its worker; the task also kills its trial when it sees itself cancelled.  A trial's timeout is
enforced by the task on the worker.

The handle: ``{"executor": "dask", "version", "scheduler", "key", "topic", "trial_dir",
"trial_name", "started_at", "timeout", "retries"}``.  Local files in ``trial_dir``:
``output.log`` (the mirror), ``dask-mirror.json``, ``dask-status.json`` (the final status once
known).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import json
import logging
import math
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tunery.errors import MissingExtraError, TuneryError, UserInputError
from tunery.execute.base import Launch, ResourcesImpossible, RunState, RunStatus
from tunery.execute.local import group_alive, killpg_quietly
from tunery.execute.sweep import TOKEN_ENV, new_token, sweep

log = logging.getLogger(__name__)

OUTPUT_LOG = "output.log"
EXIT_CODE_FILE = "exitcode"
PID_FILE = "pid"
MIRROR_STATE = "dask-mirror.json"
STATUS_FILE = "dask-status.json"
GPU_RESOURCE = "nvidia.com/gpu"
HANDLE_VERSION = 1
#: Largest piece of a remote log fetched by one call.
CHUNK = 4 << 20
#: Bytes of the end of its log a finished task returns.
TAIL = 64 << 10
#: Seconds between two looks at the cluster for one running trial (when its task is tracked).
RECHECK = 0.25
#: Seconds a connection to the scheduler may take, unless Dask's own
#: ``distributed.comm.timeouts.connect`` is configured
#: (``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).
CONNECT_TIMEOUT = 10.0

_URL_HINT = "use --executor local, or --executor dask://HOST:PORT (a running Dask scheduler)"

# $1 is the trial directory; the rest is the user's argv, run verbatim as "$@".  stdin is the
# read end of a pipe whose write end only the worker's task holds: it moves to fd 3 and a
# watcher waits for EOF on it, then kills the whole process group.  EOF comes when the task
# closes its end after the trial ended (killing leftovers) or when the worker process dies
# (killing an orphaned trial).  The command itself gets /dev/null and no fd 3.
_WRAPPER = (
    'd=$1; shift; exec 3<&0 </dev/null; echo $$ >"$d/pid"; '
    "(read _ <&3; kill -KILL 0) & "
    '"$@" 3<&-; c=$?; echo $c >"$d/exitcode"; exit $c'
)
_SH = "/bin/sh"


# --------------------------------------------------------------------------- URLs


def scheduler_address(url: str) -> str:
    """``dask://host:port`` (or ``tcp://``, ``tls://``) as the address a Dask client takes."""
    text = url.strip()
    m = re.fullmatch(r"(dask|tcp|tls)://([^/\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/?", text)
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise UserInputError(f"--executor {url!r} is not an executor URL", _URL_HINT)
    scheme = "tcp" if m.group(1) == "dask" else m.group(1)
    return f"{scheme}://{m.group(2)}:{int(m.group(3))}"


#: The experiment annotation that names where its trials run (``--executor`` overrides it).
EXECUTOR_ANNOTATION = "tunery.dev/executor"

#: Seconds ``start`` waits for the scheduler to hold a submitted task.
SUBMIT_TIMEOUT = 10.0


def executor_url_of(annotations: Mapping[str, str], given: str | None = None) -> str:
    """``given`` (a command-line or SDK choice), else the experiment's annotation, else local."""
    if given is not None and given.strip():
        return given
    return annotations.get(EXECUTOR_ANNOTATION, "").strip() or "local"


def open_executor(url: str | None, *, gpus: Sequence[str] | None = None) -> Any:
    """The executor named by ``url``: ``local`` (or None) or ``dask://HOST:PORT``.

    ``gpus`` is the local executor's GPU pool (a Dask cluster's GPUs are the workers').
    """
    if url is None or url.strip() in ("", "local"):
        from tunery.execute.local import LocalExecutor

        return LocalExecutor(gpus=gpus)
    return DaskExecutor(scheduler_address(url))


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingExtraError("distributed", "dask") from None
    return distributed


# --------------------------------------------------------------------------- resources


def _quantity(raw: str, what: str) -> float:
    """A Kubernetes quantity ("500m", "2", "2Gi", "1e9", "512M") as a number."""
    text = str(raw).strip()
    m = re.fullmatch(r"([+]?[0-9.]+(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?", text)
    if m is None:
        raise TuneryError(f"invalid {what} quantity {raw!r}", "use Kubernetes units: 500m, 2, 4Gi")
    try:
        value = float(m.group(1))
    except ValueError:
        raise TuneryError(f"invalid {what} quantity {raw!r}") from None
    factors = {
        None: 1.0,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
        "Ki": 2.0**10,
        "Mi": 2.0**20,
        "Gi": 2.0**30,
        "Ti": 2.0**40,
        "Pi": 2.0**50,
        "Ei": 2.0**60,
    }
    result = value * factors[m.group(2)]
    if not math.isfinite(result):
        raise TuneryError(f"invalid {what} quantity {raw!r}")
    return result


def dask_resources(resources: Mapping[str, str], declared: Iterable[str] = ()) -> dict[str, float]:
    """Dask task resources for a trial's Katib ``resources.limits``.

    GPUs always map (``GPU``); ``cpu`` -> ``CPU`` and ``memory`` -> ``MEMORY`` (bytes) only if
    ``declared`` (the resource names the cluster's workers declare) holds that name.
    """
    result: dict[str, float] = {}
    declared = set(declared)
    raw = resources.get(GPU_RESOURCE)
    if raw is not None:
        gpus = _quantity(raw, GPU_RESOURCE)
        if gpus < 0 or gpus != int(gpus):
            raise TuneryError(
                f"invalid {GPU_RESOURCE} request {raw!r}",
                "ask for a whole number of GPUs, e.g. nvidia.com/gpu: 1",
            )
        if gpus:
            result["GPU"] = gpus
    for name, target in (("cpu", "CPU"), ("memory", "MEMORY")):
        raw = resources.get(name)
        if raw is not None and target in declared:
            value = _quantity(raw, name)
            if value > 0:
                result[target] = value
    return result


# --------------------------------------------------------------------------- worker side

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


def _read_code(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    if not text.endswith("\n"):
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


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
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (spec.get("env") or {}).items()})
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
                    [_SH, "-c", _WRAPPER, "tunery-trial", rdir, *spec["argv"]],
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
        code = _read_code(os.path.join(rdir, EXIT_CODE_FILE))
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
        worker.log_event(topic, end)
        # The result (not the event, which the scheduler keeps) carries the log's tail, so the
        # controller usually needs no extra call to mirror the last lines.
        tail, size = _tail(log_path, TAIL)
        return {**end, "tail": tail, "size": size}
    finally:
        _give_gpus(rdir)


def _tail(path: str, limit: int) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - limit))
            return f.read(limit), size
    except OSError:
        return b"", 0


def read_remote(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    """(bytes of ``path`` from ``offset``, at most ``limit``; the file's size) on a worker."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(offset)
            return f.read(limit), size
    except FileNotFoundError:
        return b"", 0


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


# --------------------------------------------------------------------------- controller side


@dataclass(frozen=True)
class _Handle:
    scheduler: str
    key: str
    topic: str
    trial_dir: str
    trial_name: str
    started_at: float
    timeout: float | None
    retries: int

    @classmethod
    def parse(cls, handle: Mapping[str, Any]) -> _Handle:
        if handle.get("executor") != "dask":
            raise TuneryError(
                f"not a Dask executor handle: {dict(handle)!r}",
                "the trial was started by another executor kind; resume with that --executor",
            )
        try:
            timeout = handle.get("timeout")
            return cls(
                scheduler=str(handle["scheduler"]),
                key=str(handle["key"]),
                topic=str(handle["topic"]),
                trial_dir=str(handle["trial_dir"]),
                trial_name=str(handle.get("trial_name", "")),
                started_at=float(handle.get("started_at", 0.0)),
                timeout=None if timeout is None else float(timeout),
                retries=int(handle.get("retries", 2)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TuneryError(f"not a Dask executor handle: {dict(handle)!r}") from exc

    def path(self, name: str) -> str:
        return os.path.join(self.trial_dir, name)


@dataclass
class _Mirror:
    """How far the local output.log mirrors the remote attempts."""

    key: str
    attempt: str | None = None  # the attempt being mirrored
    index: int = 0  # its number (1-based)
    offset: int = 0  # bytes of its remote log consumed
    seen: int = 0  # lines of its remote log consumed
    covered: int = 0  # lines of earlier attempts mirrored (a retry skips that many)
    size: int | None = None  # the local mirror's size after our last append
    done: bool = False
    submitted_at: float = 0.0


def _topic(trial_dir: str) -> str:
    digest = hashlib.sha1(os.path.abspath(trial_dir).encode()).hexdigest()[:16]
    return f"tunery-trial-{digest}"


def _write_json(path: str, data: Mapping[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def status_of_end(end: Mapping[str, Any]) -> RunStatus:
    """The trial status an attempt's ``end`` event stands for."""
    code = end.get("exit_code")
    where = f"see {OUTPUT_LOG}"
    if end.get("timed_out"):
        return RunStatus(
            RunState.FAILED,
            exit_code=code,
            reason="TrialTimeout",
            message=f"the trial ran longer than its timeout of {float(end['timeout']):g}s "
            "and was killed",
        )
    if code is None:
        sig = end.get("signal")
        if end.get("cancelled"):
            return RunStatus(RunState.FAILED, reason="Stopped", message="the trial was stopped")
        if sig:
            return RunStatus(
                RunState.FAILED,
                exit_code=128 + int(sig),
                reason="Signal",
                message=f"the trial's process group was killed by {_signal_name(int(sig))}",
            )
        return RunStatus(
            RunState.LOST,
            reason="TrialLost",
            message=f"the trial's process left no exit status on worker {end.get('worker')}",
        )
    code = int(code)
    if code == 0:
        return RunStatus(RunState.SUCCEEDED, exit_code=0)
    if end.get("cancelled"):
        return RunStatus(
            RunState.FAILED, exit_code=code, reason="Stopped", message="the trial was stopped"
        )
    if code > 128 and code - 128 < signal.NSIG:
        return RunStatus(
            RunState.FAILED,
            exit_code=code,
            reason="Signal",
            message=f"killed by {_signal_name(code - 128)} (exit status {code}); {where}",
        )
    hint = {126: " (not executable?)", 127: " (command not found?)"}.get(code, "")
    return RunStatus(
        RunState.FAILED,
        exit_code=code,
        reason="ExitCode",
        message=f"exit code {code}{hint}; {where}",
    )


def _status_json(status: RunStatus, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "state": status.state.value,
        "exit_code": status.exit_code,
        "reason": status.reason,
        "message": status.message,
    }


class DaskExecutor:
    """Runs trials as subprocesses on the workers of a Dask cluster (see the module docstring).

    ``retries``: how many times a trial whose worker died is run again elsewhere (the
    scheduler's ``allowed-failures`` caps it too).  ``grace``: seconds between SIGTERM and
    SIGKILL on stop and timeout.  ``remote_root``: the trial directories' root on the workers.
    """

    def __init__(
        self,
        address: str,
        *,
        retries: int = 2,
        grace: float = 5.0,
        remote_root: str | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        distributed = _distributed()
        if connect_timeout is None:
            connect_timeout = _configured_connect_timeout()
        self.address = scheduler_address(address)
        self.retries = max(0, int(retries))
        self.grace = grace
        self.remote_root = remote_root
        try:
            self.client: Any = distributed.Client(
                self.address, timeout=connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise UserInputError(
                f"--executor: cannot reach the Dask scheduler at {self.address} ({exc})",
                "start one with `dask scheduler` (and workers with `dask worker "
                f"{self.address}`), or check the address",
            ) from None
        #: Futures of the tasks this instance submitted or re-attached to, by key.
        self._futures: dict[str, Any] = {}
        self._mirrors: dict[str, _Mirror] = {}
        #: When each tracked trial was last looked at on the cluster (monotonic).
        self._checked: dict[str, float] = {}
        self._declared: tuple[float, set[str], list[dict[str, float]]] | None = None

    def close(self) -> None:
        """Close the Dask client (running trials go on: re-attach with a new executor)."""
        self._futures.clear()
        with contextlib.suppress(Exception):
            self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ protocol

    def start(self, launch: Launch) -> dict[str, Any]:
        if not launch.argv:
            raise TuneryError(f"trial {launch.trial_name} has an empty command")
        distributed = _distributed()
        declared, workers = self._cluster_resources()
        resources = dask_resources(launch.resources, declared)
        if resources and workers and not any(_fits(resources, w) for w in workers):
            have = ", ".join(sorted({f"{k}={v:g}" for w in workers for k, v in w.items()})) or (
                "none"
            )
            raise ResourcesImpossible(
                f"trial {launch.trial_name} needs {_fmt_resources(resources)} but no worker of "
                f"{self.address} has that much (worker resources: {have})",
                "start workers with e.g. `dask worker --resources GPU=1 ...`, or lower the "
                "trial's resources.limits",
            )
        trial_dir = os.path.abspath(launch.trial_dir)
        os.makedirs(trial_dir, exist_ok=True)
        for name in (MIRROR_STATE, STATUS_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(trial_dir, name))
        topic = _topic(trial_dir)
        key = f"tunery-{launch.trial_name}-{uuid.uuid4().hex[:12]}"
        now = time.time()
        experiment = os.path.basename(os.path.dirname(trial_dir)) or "experiment"
        spec = {
            "key": key,
            "topic": topic,
            "argv": list(launch.argv),
            "env": dict(launch.env),
            "working_dir": launch.working_dir,
            "timeout": launch.timeout,
            "gpus": int(resources.get("GPU", 0)),
            "grace": self.grace,
            "remote_root": self.remote_root,
            "experiment": experiment,
            "trial": launch.trial_name,
        }
        # A fresh mirror per start: the collector reads it from offset 0, so output of an
        # earlier run of a trial of the same name must never be in it.
        with open(os.path.join(trial_dir, OUTPUT_LOG), "wb") as out:
            size = out.tell()
        mirror = _Mirror(key=key, size=size, submitted_at=now)
        # Saved before the task exists: recover() finds the key of a trial whose handle was
        # never saved.
        _write_json(os.path.join(trial_dir, MIRROR_STATE), asdict(mirror))
        self._mirrors[trial_dir] = mirror
        future = self.client.submit(
            run_attempt, spec, key=key, resources=resources or None, pure=False
        )
        distributed.fire_and_forget(future)  # runs on even if this controller goes away
        self._futures[key] = future
        self._checked[key] = time.monotonic()
        # Submitting is asynchronous: make sure the scheduler holds the task before its handle
        # is handed out, so that a controller that saves the handle and dies, or another one
        # that re-attaches through it, finds the task.
        deadline = time.monotonic() + SUBMIT_TIMEOUT
        delay = 0.002
        while self._task_state(key) is None:
            if time.monotonic() > deadline:
                log.warning("the scheduler %s has not acknowledged task %s", self.address, key)
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        log.debug("submitted trial %s as %s to %s", launch.trial_name, key, self.address)
        return {
            "executor": "dask",
            "version": HANDLE_VERSION,
            "scheduler": self.address,
            "key": key,
            "topic": topic,
            "trial_dir": trial_dir,
            "trial_name": launch.trial_name,
            "started_at": now,
            "timeout": launch.timeout,
            "retries": self.retries,
        }

    def poll(self, handle: Mapping[str, Any]) -> RunStatus:
        h = _Handle.parse(handle)
        known = self._known_status(h)
        if known is not None:
            return known
        if h.scheduler != self.address:
            return self._final(
                h,
                RunStatus(
                    RunState.LOST,
                    reason="TrialLost",
                    message=f"the trial was started on the Dask scheduler {h.scheduler}, "
                    f"not {self.address}",
                ),
            )
        try:
            return self._poll(h)
        except Exception as exc:  # the scheduler is out of reach: try again at the next poll
            log.warning(
                "trial %s: cannot poll the Dask cluster: %s", h.trial_name, exc, exc_info=True
            )
            return RunStatus(RunState.RUNNING)

    def stop(self, handle: Mapping[str, Any]) -> None:
        h = _Handle.parse(handle)
        if self._known_status(h) is not None:
            self._forget(h)
            return
        if h.scheduler != self.address:
            self.poll(handle)
            return
        events = self._events(h)
        if any(e["event"] == "end" for e in events):
            self._decide(h, events)
            return
        stopped = RunStatus(RunState.FAILED, reason="Stopped", message="the trial was stopped")
        _write_json(h.path(STATUS_FILE), _status_json(stopped, h.key))
        with contextlib.suppress(Exception):
            # Before the cancellation: a task that starts anyway reads it and does not run.
            self.client.log_event(h.topic, {"event": "stop", "key": h.key, "time": time.time()})
        with contextlib.suppress(Exception):
            self.client.cancel([self._future(h, create=True)], force=True)
        for start in (e for e in events if e["event"] == "start"):
            self._kill_attempt(start)
        with contextlib.suppress(Exception):
            self._pull_all(h, self._events(h))
        self._final(h, stopped)

    def output_path(self, handle: Mapping[str, Any]) -> str:
        return os.path.join(str(handle["trial_dir"]), OUTPUT_LOG)

    # ------------------------------------------------------------------ extras

    def adopt(self, handle: Mapping[str, Any]) -> None:
        """Track a re-attached trial's task (so :meth:`wait` wakes up when it ends)."""
        with contextlib.suppress(Exception):
            h = _Handle.parse(handle)
            if h.scheduler == self.address and self._known_status(h) is None:
                self._future(h, create=True)

    def recover(self, launch: Launch, not_before: float | None = None) -> dict[str, Any] | None:
        """The handle of a trial submitted from ``launch`` whose handle was never saved."""
        trial_dir = os.path.abspath(launch.trial_dir)
        topic = _topic(trial_dir)
        state = _read_json(os.path.join(trial_dir, MIRROR_STATE))
        if state is None or not state.get("key"):
            return None
        submitted_at = float(state.get("submitted_at") or 0.0)
        if not_before is not None and submitted_at < not_before - 1.0:
            return None  # a leftover of an earlier experiment of the same name
        key = str(state["key"])
        events = [msg for _t, msg in self.client.get_events(topic) if isinstance(msg, dict)]
        ran = any(e.get("key") == key and e.get("event") == "start" for e in events)
        if not ran and self._task_state(key) is None:
            return None  # the controller died before the task was submitted: start afresh
        log.info("recovered trial %s: Dask task %s", launch.trial_name, key)
        return {
            "executor": "dask",
            "version": HANDLE_VERSION,
            "scheduler": self.address,
            "key": key,
            "topic": topic,
            "trial_dir": trial_dir,
            "trial_name": launch.trial_name,
            "started_at": submitted_at,
            "timeout": launch.timeout,
            "retries": self.retries,
        }

    def wait(self, handles: Iterable[Mapping[str, Any]], timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, returning early when one of the trials' tasks ends."""
        futures = []
        for handle in handles:
            future = self._futures.get(str(handle.get("key")))
            if future is not None:
                futures.append(future)
        if not futures:
            time.sleep(max(0.0, timeout))
            return
        if any(f.done() for f in futures):
            return
        distributed = _distributed()
        try:
            with self.client.as_current():
                distributed.wait(
                    futures, timeout=max(0.001, timeout), return_when="FIRST_COMPLETED"
                )
        except TimeoutError:
            pass  # nothing ended

    def attempts(self, handle: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The trial's attempts so far: worker, directory, start and end events."""
        h = _Handle.parse(handle)
        events = self._events(h)
        ends = {e["attempt"]: e for e in events if e["event"] == "end"}
        return [
            {"start": e, "end": ends.get(e["attempt"])} for e in events if e["event"] == "start"
        ]

    # ------------------------------------------------------------------ internals

    def _poll(self, h: _Handle) -> RunStatus:
        tracked = self._futures.get(h.key)
        if tracked is not None:
            if tracked.status == "pending":
                if time.monotonic() - self._checked.get(h.key, 0.0) < RECHECK:
                    return RunStatus(RunState.RUNNING)
            elif tracked.status == "finished":
                done = self._finish_from_result(h, tracked)
                if done is not None:
                    return done
        self._checked[h.key] = time.monotonic()
        events = self._events(h)
        if any(e["event"] == "end" for e in events):
            return self._decide(h, events)
        starts = [e for e in events if e["event"] == "start"]
        future = self._future(h, create=True)
        if future is None:
            # The scheduler does not know the task: it ended just now, or it is gone.
            events = self._events(h)
            if any(e["event"] == "end" for e in events):
                return self._decide(h, events)
            starts = [e for e in events if e["event"] == "start"]
            if starts:
                return self._final(h, self._worker_lost(h, starts, gave_up="the scheduler"))
            return self._final(
                h,
                RunStatus(
                    RunState.LOST,
                    reason="TrialLost",
                    message=f"the Dask scheduler {self.address} does not know the trial's "
                    "task (was it restarted?)",
                ),
            )
        if future.status == "error":
            return self._final(h, self._task_error(h, future, starts))
        if future.status == "cancelled":
            return self._final(
                h,
                RunStatus(
                    RunState.FAILED,
                    reason="Stopped",
                    message="the trial's Dask task was cancelled",
                ),
            )
        if future.status == "finished":
            # The end event travels before the task's result: read the events again.
            events = self._events(h)
            if any(e["event"] == "end" for e in events):
                return self._decide(h, events)
        if starts:
            alive = self._pull(h, starts)
            lost = len(starts) - (1 if alive else 0)
            if lost > h.retries:
                if alive:
                    self._kill_attempt(starts[-1])
                with contextlib.suppress(Exception):
                    self.client.cancel([future], force=True)
                return self._final(h, self._worker_lost(h, starts, gave_up="tunery"))
        return RunStatus(RunState.RUNNING)

    def _finish_from_result(self, h: _Handle, future: Any) -> RunStatus | None:
        """The final status from a finished task's result (its end, its log's tail), if the
        mirror needs nothing else; None: take the long way (events, remote reads)."""
        try:
            end = future.result(timeout=30)
        except Exception:
            return None
        if not isinstance(end, dict) or end.get("event") != "end":
            return None
        mirror = self._load_mirror(h)
        if mirror.attempt not in (None, end["attempt"]):
            return None  # a retry happened: the long way writes the note
        if not mirror.done:
            tail, size = bytes(end.get("tail") or b""), int(end.get("size") or 0)
            begin = size - len(tail)
            if mirror.attempt is None:
                self._switch(h, mirror, [end])
            if mirror.offset < begin:
                return None
            self._consume(h, mirror, tail[mirror.offset - begin :])
            mirror.done = True
            self._append(h, mirror, b"")
        return self._final(h, status_of_end(end))

    def _decide(self, h: _Handle, events: list[dict[str, Any]]) -> RunStatus:
        """The trial's outcome: the first attempt that ended decides.

        A later run of the task (its worker died after the trial had ended) is not the
        trial's: it is killed.
        """
        starts = [e for e in events if e["event"] == "start"]
        ends = [e for e in events if e["event"] == "end"]
        self._pull_all(h, events)
        first = ends[0]
        for start in starts:
            if start["attempt"] != first["attempt"] and not _ended(start, ends):
                self._kill_attempt(start)
        return self._final(h, status_of_end(first))

    def _events(self, h: _Handle) -> list[dict[str, Any]]:
        return [
            msg
            for _t, msg in self.client.get_events(h.topic)
            if isinstance(msg, dict) and msg.get("key") == h.key and "event" in msg
        ]

    def _task_state(self, key: str) -> str | None:
        """The scheduler's state of task ``key``; None if it does not know it."""
        states = self.client.sync(self.client.scheduler.get_task_status, keys=[key])
        state = states.get(key)
        return None if state is None else str(state)

    def _worker_alive(self, address: str) -> bool:
        return bool(self.client.nthreads([address]))

    def _future(self, h: _Handle, *, create: bool = False) -> Any:
        future = self._futures.get(h.key)
        if future is None and create:
            state = self._task_state(h.key)
            if state is not None:
                future = _distributed().Future(h.key, self.client)
                self._futures[h.key] = future
        return future

    def _known_status(self, h: _Handle) -> RunStatus | None:
        data = _read_json(h.path(STATUS_FILE))
        if data is None or data.get("key") != h.key:
            return None
        return RunStatus(
            RunState(data["state"]),
            exit_code=data.get("exit_code"),
            reason=data.get("reason"),
            message=data.get("message"),
        )

    def _final(self, h: _Handle, status: RunStatus) -> RunStatus:
        """Record the final status (later polls, and new executors, return it)."""
        known = self._known_status(h)
        if known is not None:
            status = known
        else:
            _write_json(h.path(STATUS_FILE), _status_json(status, h.key))
        self._forget(h)
        return status

    def _forget(self, h: _Handle) -> None:
        self._futures.pop(h.key, None)
        self._checked.pop(h.key, None)
        self._mirrors.pop(h.trial_dir, None)

    def _task_error(self, h: _Handle, future: Any, starts: list[dict[str, Any]]) -> RunStatus:
        try:
            exc = future.exception(timeout=5)
        except Exception as err:
            exc = err
        if type(exc).__name__ == "KilledWorker":
            return self._worker_lost(h, starts, gave_up="the scheduler")
        return RunStatus(
            RunState.FAILED,
            reason="ExecutorError",
            message=f"the trial's Dask task failed: {type(exc).__name__}: {exc}",
        )

    def _worker_lost(self, h: _Handle, starts: list[dict[str, Any]], gave_up: str) -> RunStatus:
        workers = ", ".join(str(s["worker"]) for s in starts) or "unknown"
        return RunStatus(
            RunState.FAILED,
            reason="WorkerLost",
            message=f"the trial's worker died during each of its {len(starts)} attempt(s) "
            f"({workers}); {gave_up} gave up after {h.retries} retr"
            f"{'y' if h.retries == 1 else 'ies'}",
        )

    def _kill_attempt(self, start: Mapping[str, Any]) -> None:
        worker = str(start["worker"])
        try:
            if self._worker_alive(worker):
                self.client.run(kill_remote, int(start["pid"]), self.grace, workers=[worker])
        except Exception as exc:
            log.debug("cannot kill attempt %s on %s: %s", start.get("attempt"), worker, exc)

    def _cluster_resources(self) -> tuple[set[str], list[dict[str, float]]]:
        now = time.monotonic()
        if self._declared is None or now - self._declared[0] > 5.0:
            info = self.client.scheduler_info()
            workers = [
                {str(k): float(v) for k, v in (w.get("resources") or {}).items()}
                for w in info.get("workers", {}).values()
            ]
            declared = {k for w in workers for k in w}
            self._declared = (now, declared, workers)
        return self._declared[1], self._declared[2]

    # ------------------------------------------------------------------ the mirror

    def _load_mirror(self, h: _Handle) -> _Mirror:
        mirror = self._mirrors.get(h.trial_dir)
        if mirror is not None and mirror.key == h.key:
            return mirror
        data = _read_json(h.path(MIRROR_STATE))
        mirror = _Mirror(key=h.key)
        if data is not None and data.get("key") == h.key:
            with contextlib.suppress(TypeError):
                mirror = _Mirror(**data)
        local = h.path(OUTPUT_LOG)
        if mirror.size is None:
            mirror.size = _size(local)
        elif _size(local) > mirror.size:
            # Bytes appended after the state was last saved (a crash): they come again.
            with open(local, "r+b") as f:
                f.truncate(mirror.size)
        self._mirrors[h.trial_dir] = mirror
        return mirror

    def _append(self, h: _Handle, mirror: _Mirror, data: bytes) -> None:
        if data:
            with open(h.path(OUTPUT_LOG), "ab") as f:
                f.write(data)
            mirror.size = (mirror.size or 0) + len(data)
        _write_json(h.path(MIRROR_STATE), asdict(mirror))

    def _switch(self, h: _Handle, mirror: _Mirror, starts: list[dict[str, Any]]) -> None:
        """Start mirroring the latest attempt (after a lost one: a note, and skip its lines)."""
        current = starts[-1]
        note = b""
        if mirror.attempt is not None:
            previous = next((s for s in starts if s["attempt"] == mirror.attempt), None)
            lost_on = previous["worker"] if previous else "unknown"
            mirror.covered = max(mirror.covered, mirror.seen)
            text = (
                f"tunery: worker {lost_on} was lost during attempt {mirror.index} "
                f"(WorkerLost); attempt {len(starts)} of at most {h.retries + 1} runs on "
                f"worker {current['worker']}; its first {mirror.covered} output lines "
                "were shown above already\n"
            )
            log.warning("trial %s: %s", h.trial_name, text[len("tunery: ") :].strip())
            note = text.encode()
        mirror.attempt = current["attempt"]
        mirror.index = len(starts)
        mirror.offset = 0
        mirror.seen = 0
        self._append(h, mirror, note)

    def _consume(self, h: _Handle, mirror: _Mirror, data: bytes) -> None:
        """Append remote bytes to the mirror, less the lines an earlier attempt showed."""
        out = []
        for line in data.splitlines(keepends=True):
            complete = line.endswith(b"\n")
            if mirror.seen < mirror.covered:
                mirror.seen += 1 if complete else 0
                continue
            if complete:
                mirror.seen += 1
            out.append(line)
        mirror.offset += len(data)
        self._append(h, mirror, b"".join(out))

    def _pull(self, h: _Handle, starts: list[dict[str, Any]], *, final: bool = False) -> bool:
        """Mirror new output of the latest attempt; False if its worker cannot be reached."""
        mirror = self._load_mirror(h)
        if mirror.done:
            return True
        current = starts[-1]
        if mirror.attempt != current["attempt"]:
            self._switch(h, mirror, starts)
        path = os.path.join(str(current["dir"]), OUTPUT_LOG)
        if not self._worker_alive(str(current["worker"])):
            return False
        while True:
            try:
                replies = self.client.run(
                    read_remote, path, mirror.offset, CHUNK, workers=[current["worker"]]
                )
                data, size = replies[current["worker"]]
            except Exception as exc:
                log.debug("trial %s: cannot read %s: %s", h.trial_name, path, exc)
                return False
            if not final:
                data = data[: data.rfind(b"\n") + 1]
            if not data:
                break
            self._consume(h, mirror, data)
            if mirror.offset >= size:
                break
        if final:
            mirror.done = True
            self._append(h, mirror, b"")
        return True

    def _pull_all(self, h: _Handle, events: list[dict[str, Any]]) -> None:
        """Mirror the rest of the output of the attempt that ended (the trial's outcome)."""
        starts = [e for e in events if e["event"] == "start"]
        ends = [e for e in events if e["event"] == "end"]
        if ends:
            # Only the deciding attempt's output is mirrored to its end.
            starts = [s for s in starts if s["attempt"] != ends[0]["attempt"]] + [
                s for s in starts if s["attempt"] == ends[0]["attempt"]
            ]
        if starts:
            self._pull(h, starts, final=True)


def _ended(start: Mapping[str, Any], ends: Sequence[Mapping[str, Any]]) -> bool:
    return any(e["attempt"] == start["attempt"] for e in ends)


def _configured_connect_timeout() -> float:
    import dask.config
    from dask.utils import parse_timedelta

    value = dask.config.get("distributed.comm.timeouts.connect", None)
    if value in (None, "30s"):  # Dask's default: too long for a command line's answer
        return CONNECT_TIMEOUT
    return float(parse_timedelta(value, default="s") or CONNECT_TIMEOUT)


def _fits(need: Mapping[str, float], have: Mapping[str, float]) -> bool:
    return all(have.get(k, 0.0) >= v for k, v in need.items())


def _fmt_resources(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items()))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


__all__ = [
    "DaskExecutor",
    "dask_resources",
    "open_executor",
    "read_remote",
    "run_attempt",
    "scheduler_address",
    "status_of_end",
]
