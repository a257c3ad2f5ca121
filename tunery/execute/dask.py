"""The Dask executor: each trial is a subprocess on a worker of a Dask cluster.

Install ``tunery[dask]`` (here and on every scheduler and worker: tasks refer to
:mod:`tunery.execute.dask_worker` by name).  ``DaskExecutor("tcp://host:8786")`` (or
``dask://host:8786``) submits one Dask task per trial; the task,
:func:`~tunery.execute.dask_worker.run_attempt`, runs on a worker thread and starts the trial's
argv under the same kind of ``/bin/sh`` wrapper as the local executor, in its own session and
process group, in a directory on that worker::

    <root>/<experiment>/<trial>/<attempt id>/   output.log, pid, exitcode, metrics/, checkpoint/

``<root>`` is the executor's ``remote_root``, else ``$TUNERY_WORKER_DIR`` of the worker, else
``<tmp>/tunery-<user>/trials``.  That directory stands for the controller's trial directory:
paths under it in the trial's command, environment and working directory are rewritten to the
attempt's, so a trial needs no disk shared with the controller (:mod:`~tunery.execute.dask_worker`).

**Events are the record.**  The task logs Dask events (kept by the scheduler) on the trial's
topic: ``start`` (worker, directory, pid, GPUs) when the process runs, ``end`` (exit status,
timeout, cancellation) when it is over.  A poll reads them; so a new controller process, with a
new Dask client, re-attaches to trials that ran or still run on the cluster through the handle
alone.  The first ``end`` of any attempt decides the trial's outcome.

**Live output.**  Each poll pulls the new complete lines of the running attempt's
``output.log`` from its worker (a small function run there with ``Client.run``) and appends
them to the controller's local ``<trial_dir>/output.log``, which :meth:`output_path` names, so
the collectors read metric lines while the trial runs.  Mirror progress is kept in
``<trial_dir>/dask-mirror.json`` (:mod:`tunery.execute.mirror`).  A ``File`` collector's
metrics file is mirrored the same way (``dask-metrics-mirror.json``); a ``TensorFlowEvent``
directory is not: the trial writes it in place, on a file system the controller shares.

**Checkpoints (pbt).**  A trial's checkpoint directory is ``checkpoint/`` of its attempt
directory; the task records where it is in a ``checkpoint`` event.  Before a child starts,
:meth:`DaskExecutor.prepare_checkpoint` fetches the parent's as a tar from the worker that ran
it (at most ``checkpoint_limit`` bytes: more is refused in one line) into the child's
checkpoint directory on the controller, and :meth:`DaskExecutor.start` ships that directory
with the child's task, which unpacks it into its own before the trial starts.

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
"trial_name", "started_at", "timeout", "retries"}`` and ``"metrics"`` (the mirrored metrics
file) when there is one.  Local files in ``trial_dir``:
``output.log`` (the mirror), ``dask-mirror.json``, ``dask-status.json`` (the final status once
known).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tunery.clock import Clock, SystemClock
from tunery.errors import TuneryError, UserInputError
from tunery.execute._process import OUTPUT_LOG
from tunery.execute.base import (
    ExecutorBase,
    Launch,
    ResourcesImpossible,
    RunState,
    RunStatus,
    Started,
    checkpoint_in_place,
    copy_checkpoint,
)
from tunery.execute.dask_protocol import (
    DaskHandle,
    configured_connect_timeout,
    dask_resources,
    distributed_module,
    ended,
    fits,
    fmt_resources,
    scheduler_address,
    status_json,
    status_of_end,
    topic_of,
)
from tunery.execute.dask_worker import (
    kill_remote,
    pack_dir,
    read_remote,
    run_attempt,
    unpack,
)
from tunery.execute.mirror import Mirror, read_json, write_json

log = logging.getLogger(__name__)

MIRROR_STATE = "dask-mirror.json"
#: The mirror of a File collector's metrics file (its own progress).
METRICS_MIRROR_STATE = "dask-metrics-mirror.json"
STATUS_FILE = "dask-status.json"
HANDLE_VERSION = 1
#: Seconds between two looks at the cluster for one running trial (when its task is tracked).
RECHECK = 0.25
#: Seconds ``start`` waits for the scheduler to hold a submitted task.
SUBMIT_TIMEOUT = 10.0
#: Bytes of files a checkpoint directory shipped to a trial may hold (``checkpoint_limit``).
CHECKPOINT_LIMIT = 256 << 20


class DaskExecutor(ExecutorBase):
    """Runs trials as subprocesses on the workers of a Dask cluster (see the module docstring).

    ``retries``: how many times a trial whose worker died is run again elsewhere (the
    scheduler's ``allowed-failures`` caps it too).  ``grace``: seconds between SIGTERM and
    SIGKILL on stop and timeout.  ``remote_root``: the trial directories' root on the workers.
    ``checkpoint_limit``: the most bytes a checkpoint directory handed to a trial may hold.
    """

    scheme = "dask"

    @classmethod
    def check_url(cls, url: str) -> None:
        scheduler_address(url)

    @classmethod
    def from_url(cls, url: str, *, gpus: Sequence[str] | None = None) -> DaskExecutor:
        return cls(url)

    @classmethod
    def reopen_url(cls, handle: Mapping[str, Any]) -> str:
        return str(handle["scheduler"])

    def __init__(
        self,
        address: str,
        *,
        retries: int = 2,
        grace: float = 5.0,
        remote_root: str | None = None,
        connect_timeout: float | None = None,
        checkpoint_limit: int = CHECKPOINT_LIMIT,
    ) -> None:
        distributed = distributed_module()
        if connect_timeout is None:
            connect_timeout = configured_connect_timeout()
        self.address = scheduler_address(address)
        self.retries = max(0, int(retries))
        self.grace = grace
        self.remote_root = remote_root
        self.checkpoint_limit = checkpoint_limit
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
        #: Mirrors of output logs and metrics files, by local path.
        self._mirrors: dict[str, Mirror] = {}
        #: When each tracked trial was last looked at on the cluster (monotonic).
        self._checked: dict[str, float] = {}
        self._declared: tuple[float, set[str], list[dict[str, float]]] | None = None

    def close(self) -> None:
        """Close the Dask client (running trials go on: re-attach with a new executor)."""
        self._futures.clear()
        with contextlib.suppress(Exception):
            self.client.close()

    # ------------------------------------------------------------------ protocol

    def start(self, launch: Launch) -> Started:
        if not launch.argv:
            raise TuneryError(f"trial {launch.trial_name} has an empty command")
        distributed = distributed_module()
        declared, workers = self._cluster_resources()
        resources = dask_resources(launch.resources, declared)
        if resources and workers and not any(fits(resources, w) for w in workers):
            have = ", ".join(sorted({f"{k}={v:g}" for w in workers for k, v in w.items()})) or (
                "none"
            )
            raise ResourcesImpossible(
                f"trial {launch.trial_name} needs {fmt_resources(resources)} but no worker of "
                f"{self.address} has that much (worker resources: {have})",
                "start workers with e.g. `dask worker --resources GPU=1 ...`, or lower the "
                "trial's resources.limits",
            )
        trial_dir = os.path.abspath(launch.trial_dir)
        checkpoint = self._checkpoint_tar(launch)
        os.makedirs(trial_dir, exist_ok=True)
        for name in (MIRROR_STATE, METRICS_MIRROR_STATE, STATUS_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(trial_dir, name))
        topic = topic_of(trial_dir)
        key = f"tunery-{launch.trial_name}-{uuid.uuid4().hex[:12]}"
        now = time.time()
        experiment = os.path.basename(os.path.dirname(trial_dir)) or "experiment"
        spec: dict[str, Any] = {
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
            # The worker stands its attempt's directory for these (tunery.execute.dask_worker).
            "trial_dir": trial_dir,
            "fresh_dirs": list(launch.fresh_dirs),
        }
        metrics = _mirrored_metrics(launch, trial_dir)
        if metrics is not None:
            spec["metrics_path"] = metrics
        elif launch.metrics_is_dir:
            # TensorFlowEvent directories are not mirrored: the trial writes them in place (a
            # file system shared with the controller).
            spec["shared_dirs"] = [os.path.abspath(d) for d in launch.fresh_dirs]
        if launch.checkpoint_dir:
            spec["checkpoint_dir"] = os.path.abspath(launch.checkpoint_dir)
            spec["checkpoint_topic"] = topic_of(os.path.abspath(launch.checkpoint_dir))
            spec["checkpoint_tar"] = checkpoint
        # A fresh mirror per start: the collector reads it from offset 0, so output of an
        # earlier run of a trial of the same name must never be in it.  Saved before the task
        # exists: recover() finds the key of a trial whose handle was never saved.
        self._mirrors[_log(trial_dir)] = Mirror.fresh(
            _log(trial_dir), os.path.join(trial_dir, MIRROR_STATE), key, submitted_at=now
        )
        if metrics is not None:
            self._mirrors[metrics] = Mirror.fresh(
                metrics, os.path.join(trial_dir, METRICS_MIRROR_STATE), key
            )
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
        return Started(self._handle(launch, key, now), now)

    def _handle(self, launch: Launch, key: str, started_at: float) -> dict[str, Any]:
        trial_dir = os.path.abspath(launch.trial_dir)
        handle = {
            "executor": "dask",
            "version": HANDLE_VERSION,
            "scheduler": self.address,
            "key": key,
            "topic": topic_of(trial_dir),
            "trial_dir": trial_dir,
            "trial_name": launch.trial_name,
            "started_at": started_at,
            "timeout": launch.timeout,
            "retries": self.retries,
        }
        metrics = _mirrored_metrics(launch, trial_dir)
        if metrics is not None:
            handle["metrics"] = metrics
        return handle

    def poll(self, handle: Mapping[str, Any]) -> RunStatus:
        h = DaskHandle.parse(handle)
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
        h = DaskHandle.parse(handle)
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
        write_json(h.path(STATUS_FILE), status_json(stopped, h.key))
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
            h = DaskHandle.parse(handle)
            if h.scheduler == self.address and self._known_status(h) is None:
                self._future(h, create=True)

    def recover(self, launch: Launch, not_before: float | None = None) -> Started | None:
        """The trial submitted from ``launch`` whose handle was never saved."""
        trial_dir = os.path.abspath(launch.trial_dir)
        topic = topic_of(trial_dir)
        state = read_json(os.path.join(trial_dir, MIRROR_STATE))
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
        return Started(self._handle(launch, key, submitted_at), submitted_at)

    def wait(
        self, handles: Iterable[Mapping[str, Any]], timeout: float, clock: Clock | None = None
    ) -> None:
        """Sleep up to ``timeout`` seconds, returning early when one of the trials' tasks ends
        (on the system clock; another clock only sleeps)."""
        if clock is not None and not isinstance(clock, SystemClock):
            super().wait(handles, timeout, clock)
            return
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
        distributed = distributed_module()
        try:
            with self.client.as_current():
                distributed.wait(
                    futures, timeout=max(0.001, timeout), return_when="FIRST_COMPLETED"
                )
        except TimeoutError:
            pass  # nothing ended

    def attempts(self, handle: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The trial's attempts so far: worker, directory, start and end events."""
        h = DaskHandle.parse(handle)
        events = self._events(h)
        ends = {e["attempt"]: e for e in events if e["event"] == "end"}
        return [
            {"start": e, "end": ends.get(e["attempt"])} for e in events if e["event"] == "start"
        ]

    # ------------------------------------------------------------------ internals

    def _poll(self, h: DaskHandle) -> RunStatus:
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

    def _finish_from_result(self, h: DaskHandle, future: Any) -> RunStatus | None:
        """The final status from a finished task's result (its end, its files' tails), if the
        mirrors need nothing else; None: take the long way (events, remote reads)."""
        try:
            end = future.result(timeout=30)
        except Exception:
            return None
        if not isinstance(end, dict) or end.get("event") != "end":
            return None
        tails = {OUTPUT_LOG: ("tail", "size"), "metrics": ("metrics_tail", "metrics_size")}
        for mirror, remote in self._mirrors_of(h):
            if mirror.state.attempt not in (None, end["attempt"]):
                return None  # a retry happened: the long way writes the note
            if mirror.done:
                continue
            tail, size = tails[OUTPUT_LOG if remote == OUTPUT_LOG else "metrics"]
            if mirror.state.attempt is None:
                self._switch(h, mirror, [end], remote == OUTPUT_LOG)
            if not mirror.take_tail(bytes(end.get(tail) or b""), int(end.get(size) or 0)):
                return None
        return self._final(h, status_of_end(end))

    def _decide(self, h: DaskHandle, events: list[dict[str, Any]]) -> RunStatus:
        """The trial's outcome: the first attempt that ended decides.

        A later run of the task (its worker died after the trial had ended) is not the
        trial's: it is killed.
        """
        starts = [e for e in events if e["event"] == "start"]
        ends = [e for e in events if e["event"] == "end"]
        self._pull_all(h, events)
        first = ends[0]
        for start in starts:
            if start["attempt"] != first["attempt"] and not ended(start, ends):
                self._kill_attempt(start)
        return self._final(h, status_of_end(first))

    def _events(self, h: DaskHandle) -> list[dict[str, Any]]:
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

    def _future(self, h: DaskHandle, *, create: bool = False) -> Any:
        future = self._futures.get(h.key)
        if future is None and create:
            state = self._task_state(h.key)
            if state is not None:
                future = distributed_module().Future(h.key, self.client)
                self._futures[h.key] = future
        return future

    def _known_status(self, h: DaskHandle) -> RunStatus | None:
        data = read_json(h.path(STATUS_FILE))
        if data is None or data.get("key") != h.key:
            return None
        return RunStatus(
            RunState(data["state"]),
            exit_code=data.get("exit_code"),
            reason=data.get("reason"),
            message=data.get("message"),
        )

    def _final(self, h: DaskHandle, status: RunStatus) -> RunStatus:
        """Record the final status (later polls, and new executors, return it)."""
        known = self._known_status(h)
        if known is not None:
            status = known
        else:
            write_json(h.path(STATUS_FILE), status_json(status, h.key))
        self._forget(h)
        return status

    def _forget(self, h: DaskHandle) -> None:
        self._futures.pop(h.key, None)
        self._checked.pop(h.key, None)
        self._mirrors.pop(_log(h.trial_dir), None)
        if h.metrics:
            self._mirrors.pop(h.metrics, None)

    def _task_error(self, h: DaskHandle, future: Any, starts: list[dict[str, Any]]) -> RunStatus:
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

    def _worker_lost(self, h: DaskHandle, starts: list[dict[str, Any]], gave_up: str) -> RunStatus:
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

    # ------------------------------------------------------------------ the mirrors

    def _mirrors_of(self, h: DaskHandle) -> list[tuple[Mirror, str]]:
        """The trial's mirrors: (mirror, its remote file's path in an attempt's directory)."""
        found = [(self._mirror(h, _log(h.trial_dir), MIRROR_STATE), OUTPUT_LOG)]
        if h.metrics:
            remote = os.path.relpath(h.metrics, h.trial_dir)
            found.append((self._mirror(h, h.metrics, METRICS_MIRROR_STATE), remote))
        return found

    def _mirror(self, h: DaskHandle, local: str, state: str) -> Mirror:
        mirror = self._mirrors.get(local)
        if mirror is None or mirror.key != h.key:
            mirror = self._mirrors[local] = Mirror.load(local, h.path(state), h.key)
        return mirror

    def _switch(
        self, h: DaskHandle, mirror: Mirror, starts: list[dict[str, Any]], log_note: bool
    ) -> None:
        """Start mirroring the latest attempt (after a lost one: a note in the output log, and
        skip its lines)."""
        current = starts[-1]
        note = b""
        state = mirror.state
        if state.attempt is not None and log_note:
            previous = next((s for s in starts if s["attempt"] == state.attempt), None)
            lost_on = previous["worker"] if previous else "unknown"
            text = (
                f"tunery: worker {lost_on} was lost during attempt {state.index} "
                f"(WorkerLost); attempt {len(starts)} of at most {h.retries + 1} runs on "
                f"worker {current['worker']}; its first {max(state.covered, state.seen)} "
                "output lines were shown above already\n"
            )
            log.warning("trial %s: %s", h.trial_name, text[len("tunery: ") :].strip())
            note = text.encode()
        mirror.switch(current["attempt"], len(starts), note)

    def _pull(self, h: DaskHandle, starts: list[dict[str, Any]], *, final: bool = False) -> bool:
        """Mirror new output of the latest attempt; False if its worker cannot be reached."""
        mirrors = [(m, remote) for m, remote in self._mirrors_of(h) if not m.done]
        if not mirrors:
            return True
        current = starts[-1]
        worker = str(current["worker"])
        for mirror, remote in mirrors:
            if mirror.state.attempt != current["attempt"]:
                self._switch(h, mirror, starts, remote == OUTPUT_LOG)
        if not self._worker_alive(worker):
            return False
        for mirror, remote in mirrors:
            path = os.path.join(str(current["dir"]), remote)

            def read(offset: int, limit: int, path: str = path) -> tuple[bytes, int]:
                replies = self.client.run(read_remote, path, offset, limit, workers=[worker])
                data, size = replies[worker]
                return bytes(data), int(size)

            try:
                mirror.pull(read, final=final)
            except Exception as exc:
                log.debug("trial %s: cannot read %s: %s", h.trial_name, path, exc)
                return False
        return True

    def _pull_all(self, h: DaskHandle, events: list[dict[str, Any]]) -> None:
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

    # ------------------------------------------------------------------ checkpoints

    def prepare_checkpoint(
        self, parent_dir: str | None, trial_dir: str, not_before: float | None = None
    ) -> None:
        """Stage the trial's checkpoint directory on this machine: a copy of the parent's
        checkpoint fetched from the worker that wrote it, else (:func:`copy_checkpoint`) one
        of a local parent directory, else empty.  :meth:`start` ships it with the task."""
        if checkpoint_in_place(trial_dir, not_before):
            return
        fetched = self._fetch_checkpoint(parent_dir) if parent_dir else None
        if fetched is None:
            copy_checkpoint(parent_dir, trial_dir, not_before)
            return
        staging = trial_dir + ".fetched"
        if os.path.lexists(staging):
            shutil.rmtree(staging)
        unpack(fetched, staging)
        copy_checkpoint(staging, trial_dir, not_before)
        shutil.rmtree(staging, ignore_errors=True)

    def _fetch_checkpoint(self, parent_dir: str) -> bytes | None:
        """The tar of the checkpoint the parent's deciding attempt left on its worker; None
        when the cluster knows of none (or its worker is gone)."""
        events = [
            msg
            for _t, msg in self.client.get_events(topic_of(os.path.abspath(parent_dir)))
            if isinstance(msg, dict) and msg.get("event") == "checkpoint"
        ]
        if not events:
            return None
        # The latest run of the parent; its first attempt to end decided it.
        latest = max(events, key=lambda e: float(e.get("time") or 0.0))["key"]
        found = next(e for e in events if e["key"] == latest)
        worker = str(found["worker"])
        if not self._worker_alive(worker):
            log.warning("the worker %s holding the checkpoint of %s is gone", worker, parent_dir)
            return None
        reply = self.client.run(
            pack_dir, str(found["path"]), self.checkpoint_limit, workers=[worker]
        )[worker]
        if "tar" not in reply:
            raise TuneryError(
                f"the parent checkpoint {found['path']} on worker {worker} holds "
                f"{int(reply['size'])} bytes, more than the limit of {self.checkpoint_limit}",
                "keep checkpoints smaller, or raise DaskExecutor(checkpoint_limit=...)",
            )
        return bytes(reply["tar"])

    def _checkpoint_tar(self, launch: Launch) -> bytes | None:
        """The staged checkpoint directory of ``launch`` as a tar for its task (None: none)."""
        if not launch.checkpoint_dir or not os.path.isdir(launch.checkpoint_dir):
            return None
        packed = pack_dir(launch.checkpoint_dir, self.checkpoint_limit)
        if "tar" not in packed:
            raise TuneryError(
                f"the checkpoint {launch.checkpoint_dir} of trial {launch.trial_name} holds "
                f"{int(packed['size'])} bytes, more than the limit of {self.checkpoint_limit}",
                "keep checkpoints smaller, or raise DaskExecutor(checkpoint_limit=...)",
            )
        return bytes(packed["tar"])


def _log(trial_dir: str) -> str:
    return os.path.join(trial_dir, OUTPUT_LOG)


def _mirrored_metrics(launch: Launch, trial_dir: str) -> str | None:
    """The metrics file the mirror carries: a File collector's, in the trial directory."""
    if not launch.metrics_path or launch.metrics_is_dir:
        return None
    path = os.path.abspath(launch.metrics_path)
    if os.path.commonpath([path, trial_dir]) != trial_dir:
        return None  # a relative path (native form): the working directory's business
    return path


__all__ = [
    "DaskExecutor",
    "dask_resources",
    "read_remote",
    "run_attempt",
    "scheduler_address",
    "status_of_end",
]
