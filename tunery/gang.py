"""The gang supervisor: the replicas of a distributed trial as one process.

``python -m tunery.gang '<json>'`` (the spec is built by :func:`tunery.spec.replicas.gang_spec`)
is a trial's command when its template has several replicas (:mod:`tunery.spec.replicas`).  To
an executor it is one process; it

* chooses a free port on 127.0.0.1 for every ``{tunery.port.NAME}`` token and fills it in the
  replicas' argv and env;
* splits the trial's ``CUDA_VISIBLE_DEVICES`` (the executor's devices for the whole trial) among
  the replicas' nodes by their ``nvidia.com/gpu`` requests (processes of one node share them);
* starts every replica as a child in its own (the trial's) process group, so an executor's
  kill of the trial's group ends them all; with its env on top of the inherited one and its working
  directory;
* passes the primary replica's stdout+stderr straight to its own stdout (the trial's
  ``output.log``: metrics come only from the primary); the others write
  ``$TUNERY_TRIAL_DIR/replicas/<name>.log``;
* when a replica fails (non-zero exit or a signal) before the gang has succeeded, prints one
  line (``tunery: replica worker-1 exited with code 3; stopping the gang``) and the last lines
  of that replica's log, stops the others (SIGTERM, SIGKILL after a grace) and exits with the
  replica's status (128+N for signal N);
* succeeds when every *leader* replica has exited 0: the others get ``linger`` seconds to end on
  their own (parameter servers never do), are then stopped, and the gang exits 0;
* forwards SIGTERM/SIGINT/SIGHUP to the replicas, and then ends like them.

Lines it prints are prefixed ``tunery:``; replica log lines it quotes show ``=`` as U+FF1D
(fullwidth equals), so the StdOut collector never takes a non-primary replica's metric.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from tunery.spec.replicas import PORT_TOKEN

#: Seconds between SIGTERM and SIGKILL when stopping replicas.
GRACE = 5.0
#: Lines of a failed replica's log quoted in the trial's output.
TAIL_LINES = 10
REPLICA_LOG_DIR = "replicas"  # tunery.launch.REPLICAS_DIR
#: Shown for ``=`` in quoted replica log lines (no metric is ever read from them).
FULLWIDTH_EQUALS = "\uff1d"


@dataclass
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: str | None
    primary: bool
    leader: bool
    log: IO[bytes] | None


def free_ports(names: list[str]) -> dict[str, int]:
    """A distinct free TCP port on 127.0.0.1 for each name (all held open while choosing)."""
    sockets: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for name in names:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports[name] = s.getsockname()[1]
    finally:
        for s in sockets:
            s.close()
    return ports


def _fill(text: str, ports: Mapping[str, int]) -> str:
    return PORT_TOKEN.sub(lambda m: str(ports.get(m.group(1), m.group(0))), text)


def split_devices(replicas: list[Mapping[str, Any]], visible: str | None) -> dict[str, str]:
    """``CUDA_VISIBLE_DEVICES`` per replica name: the trial's devices, node by node in order.

    None when the executor set no ``CUDA_VISIBLE_DEVICES`` (no GPU pool): replicas inherit.
    """
    if visible is None:
        return {}
    devices = [d for d in visible.split(",") if d.strip()]
    by_node: dict[str, list[str]] = {}
    out: dict[str, str] = {}
    for r in replicas:
        node = str(r.get("node") or r["name"])
        if node not in by_node:
            wanted = int(r.get("gpus") or 0)
            by_node[node], devices = devices[:wanted], devices[wanted:]
        out[str(r["name"])] = ",".join(by_node[node])
    return out


def _say(text: str) -> None:
    sys.stdout.write(f"tunery: {text}\n")
    sys.stdout.flush()


def _tail(path: str | None, lines: int = TAIL_LINES) -> list[str]:
    if path is None:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read()
    except OSError:
        return []
    text = data.decode(errors="replace").splitlines()
    return text[-lines:]


def _describe(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def _status(code: int) -> int:
    return 128 - code if code < 0 else code


class Gang:
    def __init__(self, spec: Mapping[str, Any], *, grace: float = GRACE) -> None:
        self.spec = spec
        self.grace = grace
        self.linger = float(spec.get("linger", 5.0))
        self.children: list[_Child] = []
        self.signalled: int | None = None

    # ------------------------------------------------------------------ start

    def start(self) -> None:
        replicas = list(self.spec["replicas"])
        ports = free_ports(list(self.spec.get("ports") or []))
        devices = split_devices(replicas, os.environ.get("CUDA_VISIBLE_DEVICES"))
        trial_dir = os.environ.get("TUNERY_TRIAL_DIR") or os.getcwd()
        log_dir = os.path.join(trial_dir, REPLICA_LOG_DIR)
        for r in replicas:
            name = str(r["name"])
            env = dict(os.environ)
            env.update({k: _fill(str(v), ports) for k, v in (r.get("env") or {}).items()})
            if name in devices:
                env["CUDA_VISIBLE_DEVICES"] = devices[name]
            argv = [_fill(str(a), ports) for a in r["argv"]]
            primary = bool(r.get("primary"))
            log: IO[bytes] | None = None
            log_path: str | None = None
            if not primary:
                os.makedirs(log_dir, exist_ok=True)
                log_path = os.path.join(log_dir, f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.log")
                log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=r.get("cwd") or None,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log if log is not None else None,
                    stderr=subprocess.STDOUT,
                )
            except OSError as exc:
                if log is not None:
                    log.close()
                _say(f"replica {name} could not start: {exc}; stopping the gang")
                self.stop()
                raise SystemExit(127 if isinstance(exc, FileNotFoundError) else 126) from None
            self.children.append(
                _Child(name, proc, log_path, primary, bool(r.get("leader", True)), log)
            )

    # ------------------------------------------------------------------ run

    def run(self) -> int:
        """Wait for the gang's outcome; the exit status of the supervisor."""
        succeeded_at: float | None = None
        while True:
            if self.signalled is not None:
                self.stop(forward=self.signalled)
                return 128 + self.signalled
            running = False
            for child in self.children:
                code = child.proc.poll()
                if code is None:
                    running = True
                    continue
                if code != 0 and succeeded_at is None:
                    self._report_failure(child, code)
                    self.stop()
                    return _status(code)
            if not running:
                return 0
            if succeeded_at is None and all(
                c.proc.returncode == 0 for c in self.children if c.leader
            ):
                succeeded_at = time.monotonic()
            if succeeded_at is not None and time.monotonic() - succeeded_at >= self.linger:
                left = [c.name for c in self.children if c.proc.returncode is None]
                _say(f"the gang succeeded; stopping replicas still running: {', '.join(left)}")
                self.stop()
                return 0
            time.sleep(0.05)

    def _report_failure(self, child: _Child, code: int) -> None:
        _say(f"replica {child.name} {_describe(code)}; stopping the gang")
        if child.log is not None:
            child.log.flush()
        lines = _tail(child.log_path)
        if lines:
            _say(f"last lines of {REPLICA_LOG_DIR}/{os.path.basename(child.log_path or '')}:")
            for line in lines:
                sys.stdout.write(f"  | {line.replace('=', FULLWIDTH_EQUALS)}\n")
            sys.stdout.flush()

    def stop(self, forward: int | None = None) -> None:
        """Stop every running replica: ``forward`` (or SIGTERM), SIGKILL after the grace."""
        sig = forward if forward is not None else signal.SIGTERM
        for child in self.children:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(sig)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            if all(c.proc.poll() is not None for c in self.children):
                break
            time.sleep(0.02)
        for child in self.children:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.kill()
                child.proc.wait()

    def close(self) -> None:
        for child in self.children:
            if child.log is not None:
                child.log.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m tunery.gang '<gang spec JSON>'\n")
        return 2
    spec = json.loads(args[0])
    gang = Gang(spec)

    def on_signal(signum: int, _frame: Any) -> None:
        if gang.signalled is None:
            gang.signalled = signum

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        gang.start()
        return gang.run()
    finally:
        gang.close()


if __name__ == "__main__":
    sys.exit(main())
