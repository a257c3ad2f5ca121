"""A real Dask cluster of local processes for tests and benchmarks.

``with LocalDaskCluster(root, [WorkerSpec("a"), WorkerSpec("b", resources={"GPU": 1})]) as c:``
starts ``dask scheduler`` and one ``dask worker`` process per spec (no nanny, so that killing a
worker's process kills the worker) on 127.0.0.1 with no dashboards, waits until every worker
has joined, and stops them all on exit.  ``c.address`` is the scheduler's address,
``c.workers[name]`` a worker's address, ``c.kill(name)`` sends it SIGKILL.  Each worker's
``TUNERY_WORKER_DIR`` is ``<root>/<name>``; logs go to ``<root>/*.log``.

Needs the ``dask`` extra.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LocalDaskCluster", "WorkerSpec"]


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    nthreads: int = 1
    #: Dask worker resources, e.g. {"GPU": 1}.
    resources: Mapping[str, float] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


def _dask_cli(*args: str) -> list[str]:
    # `python -m distributed.cli.dask_*` is what the `dask scheduler|worker` commands run;
    # going through sys.executable needs no PATH.
    return [sys.executable, "-m", *args]


class LocalDaskCluster:
    """A scheduler and workers as subprocesses; see the module docstring."""

    def __init__(
        self,
        root: str,
        workers: Sequence[WorkerSpec] = (WorkerSpec("w1"), WorkerSpec("w2")),
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.root = os.path.abspath(root)
        self.specs = list(workers)
        self.timeout = timeout
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.address = ""
        self.workers: dict[str, str] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[Any] = []

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalDaskCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> None:
        out = open(os.path.join(self.root, f"{name}.log"), "ab")  # noqa: SIM115
        self._logs.append(out)
        self._procs[name] = subprocess.Popen(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        os.makedirs(self.root, exist_ok=True)
        sched_file = os.path.join(self.root, "scheduler.json")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sched_file)
        self._spawn(
            "scheduler",
            _dask_cli(
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                sched_file,
            ),
            self.env,
        )
        deadline = time.monotonic() + self.timeout
        while True:
            info = _read_json(sched_file)
            if info is not None and info.get("address"):
                self.address = str(info["address"])
                break
            self._check("scheduler")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start; see {self.root}")
            time.sleep(0.05)
        for spec in self.specs:
            self.start_worker(spec, wait=False)
        self.wait_for_workers([s.name for s in self.specs])

    def start_worker(self, spec: WorkerSpec, *, wait: bool = True) -> str:
        """Start (or restart) the worker of ``spec``; its address once joined if ``wait``."""
        env = dict(self.env)
        env["TUNERY_WORKER_DIR"] = os.path.join(self.root, spec.name)
        env.update(spec.env)
        argv = _dask_cli(
            "distributed.cli.dask_worker",
            self.address,
            "--host",
            "127.0.0.1",
            "--name",
            spec.name,
            "--nthreads",
            str(spec.nthreads),
            "--no-nanny",
            "--no-dashboard",
            "--local-directory",
            os.path.join(self.root, "scratch"),
        )
        if spec.resources:
            argv += ["--resources", ",".join(f"{k}={v:g}" for k, v in spec.resources.items())]
        if spec not in self.specs:
            self.specs.append(spec)
        self._spawn(spec.name, argv, env)
        if wait:
            self.wait_for_workers([spec.name])
            return self.workers[spec.name]
        return ""

    def wait_for_workers(self, names: Sequence[str]) -> None:
        from distributed import Client

        deadline = time.monotonic() + self.timeout
        with Client(self.address, timeout=self.timeout, set_as_default=False) as client:
            while True:
                info = client.scheduler_info()
                joined = {
                    str(w.get("name")): str(addr) for addr, w in info.get("workers", {}).items()
                }
                if all(n in joined for n in names):
                    self.workers.update({n: joined[n] for n in names})
                    return
                for n in names:
                    self._check(n)
                if time.monotonic() > deadline:
                    missing = [n for n in names if n not in joined]
                    raise RuntimeError(f"Dask workers {missing} did not join; see {self.root}")
                time.sleep(0.05)

    def _check(self, name: str) -> None:
        proc = self._procs[name]
        if proc.poll() is not None:
            raise RuntimeError(
                f"dask {name} exited with status {proc.returncode}; see "
                f"{os.path.join(self.root, name + '.log')}"
            )

    def kill(self, name: str) -> None:
        """SIGKILL a worker's process (a machine or worker crash)."""
        proc = self._procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.workers.pop(name, None)

    def pid(self, name: str) -> int:
        return self._procs[name].pid

    def stop(self) -> None:
        """Stop workers, then the scheduler (SIGTERM, then SIGKILL after 3 s)."""
        order = [n for n in self._procs if n != "scheduler"]
        if "scheduler" in self._procs:
            order.append("scheduler")
        for name in order:
            proc = self._procs[name]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name in order:
            proc = self._procs[name]
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self._procs.clear()
        for out in self._logs:
            out.close()
        self._logs.clear()


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
