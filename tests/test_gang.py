"""The gang supervisor (tunery.gang) with real replica processes, alone and under LocalExecutor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tunery.execute.base import Launch, RunState
from tunery.execute.local import LocalExecutor
from tunery.gang import FULLWIDTH_EQUALS, split_devices
from tunery.spec.replicas import Replica, gang_argv, gang_spec, port_token

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

#: A replica that records its pid and environment in <dir>/<name>.json, then acts.
REPLICA = """
import json, os, sys, time
name, action = sys.argv[1], sys.argv[2]
keys = ["RANK", "MASTER_PORT", "OTHER_PORT", "CUDA_VISIBLE_DEVICES", "ONLY_MINE", "SHARED"]
record = {"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "cwd": os.getcwd(),
          "env": {k: os.environ.get(k) for k in keys}}
with open(os.path.join(os.environ["RECORD_DIR"], name + ".json"), "w") as fh:
    json.dump(record, fh)
print(f"{name} says loss=0.5", flush=True)
if action == "sleep":
    time.sleep(60)
elif action.startswith("exit"):
    time.sleep(0.3)
    sys.exit(int(action[4:]))
"""


def replica(
    name: str, action: str, tmp: Path, *, primary: bool = False, leader: bool = True, **kw: Any
) -> Replica:
    env = {"RECORD_DIR": str(tmp), **kw.pop("env", {})}
    return Replica(
        name=name,
        argv=(sys.executable, "-c", REPLICA, name, action),
        env=env,
        working_dir=str(tmp),
        resources={},
        primary=primary,
        leader=leader,
        node=name,
        **kw,
    )


def records(tmp: Path, names: list[str], limit: float = 20.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + limit
    while True:
        found = {}
        for n in names:
            try:
                found[n] = json.loads((tmp / f"{n}.json").read_text())
            except (OSError, ValueError):
                break
        if len(found) == len(names):
            return found
        assert time.monotonic() < deadline, f"replicas did not all start: {sorted(found)}"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def run_gang(
    reps: list[Replica], tmp: Path, env: dict[str, str] | None = None, linger: float = 5.0
) -> subprocess.Popen[bytes]:
    argv = gang_argv(sys.executable, gang_spec(reps, [str(tmp)] * len(reps), linger=linger))
    full_env = {**os.environ, "TUNERY_TRIAL_DIR": str(tmp), **(env or {})}
    return subprocess.Popen(argv, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_every_replica_starts_with_its_env_ports_and_devices(tmp_path: Path) -> None:
    port = port_token("master")
    reps = [
        replica(
            "master-0",
            "exit0",
            tmp_path,
            primary=True,
            env={"RANK": "0", "MASTER_PORT": port, "ONLY_MINE": "m"},
            gpus=1,
        ),
        replica(
            "worker-0",
            "exit0",
            tmp_path,
            env={"RANK": "1", "MASTER_PORT": port, "OTHER_PORT": port_token("w")},
        ),
        replica("worker-1", "exit0", tmp_path, env={"RANK": "2", "MASTER_PORT": port}, gpus=2),
    ]
    proc = run_gang(reps, tmp_path, {"CUDA_VISIBLE_DEVICES": "4,5,6", "SHARED": "s"})
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    got = records(tmp_path, ["master-0", "worker-0", "worker-1"])
    envs = {n: r["env"] for n, r in got.items()}
    assert [envs[n]["RANK"] for n in ("master-0", "worker-0", "worker-1")] == ["0", "1", "2"]
    ports = {envs[n]["MASTER_PORT"] for n in envs}
    assert len(ports) == 1 and ports.pop().isdigit()
    assert envs["worker-0"]["OTHER_PORT"].isdigit()
    assert envs["worker-0"]["OTHER_PORT"] != envs["worker-0"]["MASTER_PORT"]
    assert envs["master-0"]["ONLY_MINE"] == "m" and envs["worker-0"]["ONLY_MINE"] is None
    assert {e["SHARED"] for e in envs.values()} == {"s"}
    assert [envs[n]["CUDA_VISIBLE_DEVICES"] for n in ("master-0", "worker-0", "worker-1")] == [
        "4",
        "",
        "5,6",
    ]
    # One gang: the supervisor is every replica's parent, all in its process group.
    assert {r["ppid"] for r in got.values()} == {proc.pid}
    assert {r["pgid"] for r in got.values()} == {os.getpgid(0)}
    # Only the primary's output is the trial's; the others have logs of their own.
    text = out.decode()
    assert "master-0 says loss=0.5" in text and "worker-0 says" not in text
    assert "worker-1 says loss=0.5" in (tmp_path / "replicas" / "worker-1.log").read_text()


def test_split_devices_by_node() -> None:
    reps = [
        {"name": "node-0-0", "node": "node-0", "gpus": 2},
        {"name": "node-0-1", "node": "node-0", "gpus": 2},
        {"name": "node-1-0", "node": "node-1", "gpus": 1},
    ]
    assert split_devices(reps, "0,1,2") == {"node-0-0": "0,1", "node-0-1": "0,1", "node-1-0": "2"}
    assert split_devices(reps, None) == {}


def test_one_failing_replica_stops_the_others_and_fails_the_gang(tmp_path: Path) -> None:
    reps = [
        replica("master-0", "sleep", tmp_path, primary=True),
        replica("worker-0", "sleep", tmp_path),
        replica("worker-1", "exit3", tmp_path),
    ]
    proc = run_gang(reps, tmp_path)
    out, _ = proc.communicate(timeout=60)
    got = records(tmp_path, ["master-0", "worker-0", "worker-1"])
    assert proc.returncode == 3, out
    text = out.decode()
    assert "tunery: replica worker-1 exited with code 3; stopping the gang" in text
    # Its last lines are quoted, with no metric the collector could read.
    assert f"worker-1 says loss{FULLWIDTH_EQUALS}0.5" in text
    assert "worker-1 says loss=0.5" not in text
    assert not any(alive(r["pid"]) for r in got.values())


def test_leader_success_ends_the_gang_and_stops_servers(tmp_path: Path) -> None:
    reps = [
        replica("chief-0", "exit0", tmp_path, primary=True),
        replica("ps-0", "sleep", tmp_path, leader=False),
    ]
    proc = run_gang(reps, tmp_path, linger=0.2)
    out, _ = proc.communicate(timeout=60)
    got = records(tmp_path, ["chief-0", "ps-0"])
    assert proc.returncode == 0, out
    assert "stopping replicas still running: ps-0" in out.decode()
    assert not alive(got["ps-0"]["pid"])


def test_sigterm_to_the_supervisor_is_forwarded(tmp_path: Path) -> None:
    reps = [
        replica("master-0", "sleep", tmp_path, primary=True),
        replica("worker-0", "sleep", tmp_path),
    ]
    proc = run_gang(reps, tmp_path)
    got = records(tmp_path, ["master-0", "worker-0"])
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert not any(alive(r["pid"]) for r in got.values())


def _gang_launch(tmp: Path, timeout: float | None = None) -> Launch:
    reps = [
        replica("master-0", "sleep", tmp, primary=True),
        replica("worker-0", "sleep", tmp),
        replica("worker-1", "sleep", tmp),
    ]
    spec = gang_spec(reps, [str(tmp)] * 3)
    return Launch(
        trial_name="gang",
        argv=gang_argv(sys.executable, spec),
        trial_dir=str(tmp / "trial"),
        timeout=timeout,
        replicas=tuple(reps),
    )


def test_stop_through_the_local_executor_kills_every_replica(tmp_path: Path) -> None:
    ex = LocalExecutor(grace=2.0)
    handle = ex.start(_gang_launch(tmp_path)).handle
    got = records(tmp_path, ["master-0", "worker-0", "worker-1"])
    ex.stop(handle)
    status = ex.poll(handle)
    assert status.state is RunState.FAILED and status.reason == "Stopped"
    assert not any(alive(r["pid"]) for r in got.values())


def test_timeout_through_the_local_executor_kills_every_replica(tmp_path: Path) -> None:
    ex = LocalExecutor(grace=2.0)
    handle = ex.start(_gang_launch(tmp_path, timeout=1.0)).handle
    got = records(tmp_path, ["master-0", "worker-0", "worker-1"])
    deadline = time.monotonic() + 30
    while (status := ex.poll(handle)).state is RunState.RUNNING:
        assert time.monotonic() < deadline
        ex.wait([handle], 0.2)
    assert status.reason == "TrialTimeout"
    assert not any(alive(r["pid"]) for r in got.values())
    assert "master-0 says loss=0.5" in (tmp_path / "trial" / "output.log").read_text()
