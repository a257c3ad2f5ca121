"""LocalExecutor with real subprocesses: status, output, env, process trees, re-attach, GPUs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tunery.errors import TuneryError
from tunery.execute.base import Launch, RunState, RunStatus
from tunery.execute.local import (
    LocalExecutor,
    ResourcesImpossible,
    ResourcesUnavailable,
    process_start_ticks,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


def sh(script: str, *args: str) -> tuple[str, ...]:
    return ("/bin/sh", "-c", script, "trial", *args)


def launch(tmp: Path, name: str, argv: tuple[str, ...], **kw: Any) -> Launch:
    return Launch(trial_name=name, argv=argv, trial_dir=str(tmp / name), **kw)


def wait(ex: LocalExecutor, handle: Mapping[str, Any], limit: float = 10.0) -> RunStatus:
    deadline = time.monotonic() + limit
    while True:
        status = ex.poll(handle)
        if status.state is not RunState.RUNNING:
            return status
        assert time.monotonic() < deadline, "trial did not end"
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


def wait_gone(pid: int, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def read_pid(path: Path, limit: float = 5.0) -> int:
    deadline = time.monotonic() + limit
    while True:
        try:
            text = path.read_text().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.fixture
def ex() -> LocalExecutor:
    return LocalExecutor(gpus=[], grace=1.0)


# --------------------------------------------------------------------------- status


def test_exit_zero(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "ok", ("true",))).handle
    assert wait(ex, h) == RunStatus(RunState.SUCCEEDED, exit_code=0)


def test_exit_code(ex: LocalExecutor, tmp_path: Path) -> None:
    status = wait(ex, ex.start(launch(tmp_path, "three", sh("exit 3"))).handle)
    assert status.state is RunState.FAILED
    assert status.exit_code == 3
    assert status.reason == "ExitCode"
    assert status.message == "exit code 3; see output.log"


def test_killed_by_signal(ex: LocalExecutor, tmp_path: Path) -> None:
    status = wait(ex, ex.start(launch(tmp_path, "sig", sh("kill -SEGV $$"))).handle)
    assert status.state is RunState.FAILED
    assert status.reason == "Signal"
    assert status.exit_code == 128 + signal.SIGSEGV
    assert status.message is not None and "SIGSEGV" in status.message


def test_command_not_found(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "nf", ("no-such-command-tunery",))).handle
    status = wait(ex, h)
    assert status.exit_code == 127
    assert status.message is not None and "not found" in status.message
    assert "no-such-command-tunery" in Path(ex.output_path(h)).read_text()


def test_empty_argv_refused(ex: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(TuneryError):
        ex.start(launch(tmp_path, "empty", ()))


def test_bad_handle(ex: LocalExecutor) -> None:
    with pytest.raises(TuneryError):
        ex.poll({"executor": "fake", "trial_dir": "/tmp"})


def test_handle_format(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "fmt", ("true",), timeout=30.0)).handle
    assert json.loads(json.dumps(h)) == h
    assert h["trial_dir"] == str(tmp_path / "fmt")
    assert h["pgid"] == h["pid"]
    assert h["timeout"] == 30.0
    assert h["gpus"] == []
    assert abs(h["started_at"] - time.time()) < 5
    if os.path.exists("/proc/self/stat"):
        assert isinstance(h["start_ticks"], int)
    wait(ex, h)


# --------------------------------------------------------------------------- output, env, argv


def test_output_has_both_streams_in_order(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "streams", sh("echo out1; echo err1 >&2; echo out2"))).handle
    wait(ex, h)
    assert h["trial_dir"] + "/output.log" == ex.output_path(h)
    assert Path(ex.output_path(h)).read_text() == "out1\nerr1\nout2\n"


def test_output_is_fresh_per_start(ex: LocalExecutor, tmp_path: Path) -> None:
    wait(ex, ex.start(launch(tmp_path, "again", sh("echo first"))).handle)
    h = ex.start(launch(tmp_path, "again", sh("echo second"))).handle
    wait(ex, h)
    assert Path(ex.output_path(h)).read_text() == "second\n"


def test_env_and_cwd(ex: LocalExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNERY_TEST_INHERITED", "inherited")
    work = tmp_path / "work"
    work.mkdir()
    script = 'echo "$FOO|$TUNERY_TEST_INHERITED|$TUNERY_TRIAL_DIR"; pwd; read x || echo eof'
    h = ex.start(
        launch(tmp_path, "env", sh(script), env={"FOO": "bar"}, working_dir=str(work))
    ).handle
    wait(ex, h)
    lines = Path(ex.output_path(h)).read_text().splitlines()
    assert lines[0] == f"bar|inherited|{tmp_path / 'env'}"
    assert os.path.realpath(lines[1]) == os.path.realpath(work)
    assert lines[2] == "eof"  # stdin is /dev/null


def test_cwd_defaults_to_trial_dir(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "cwd", ("pwd",))).handle
    wait(ex, h)
    out = Path(ex.output_path(h)).read_text().strip()
    assert os.path.realpath(out) == os.path.realpath(tmp_path / "cwd")


def test_argv_is_passed_verbatim(ex: LocalExecutor, tmp_path: Path) -> None:
    args = ["a b", "it's", '"quoted"', "$HOME", "*", "`id`", "$(echo x)", "; exit 9", ""]
    h = ex.start(launch(tmp_path, "argv", ("printf", "[%s]\\n", *args))).handle
    assert wait(ex, h).state is RunState.SUCCEEDED
    lines = Path(ex.output_path(h)).read_text().splitlines()
    assert lines == [f"[{a}]" for a in args]


# --------------------------------------------------------------------------- trees


TREE = "sleep 1000 & echo $! > child.pid; wait"


def test_timeout_kills_the_tree(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "slow", sh(TREE), timeout=0.3)).handle
    child = read_pid(tmp_path / "slow" / "child.pid")
    assert ex.poll(h).state is RunState.RUNNING
    status = wait(ex, h)
    assert status.state is RunState.FAILED
    assert status.reason == "TrialTimeout"
    assert wait_gone(child)
    assert not alive(h["pid"])
    # A restarted executor still knows why it ended.
    assert LocalExecutor(gpus=[]).poll(h).reason == "TrialTimeout"


def test_stop_kills_the_tree_quickly(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "tree", sh(TREE))).handle
    child = read_pid(tmp_path / "tree" / "child.pid")
    started = time.monotonic()
    ex.stop(h)
    assert time.monotonic() - started < 0.9  # no need to sit out the grace period
    assert wait_gone(child)
    status = ex.poll(h)
    assert status.state is RunState.FAILED
    assert status.reason == "Stopped"
    ex.stop(h)  # idempotent


def test_stop_sigkills_after_grace(tmp_path: Path) -> None:
    ex = LocalExecutor(gpus=[], grace=0.3)
    # `sleep` inherits the ignored SIGTERM, so only SIGKILL ends it.
    h = ex.start(
        launch(tmp_path, "stubborn", sh("trap '' TERM; sleep 1000 & echo $! > c.pid; wait"))
    ).handle
    child = read_pid(tmp_path / "stubborn" / "c.pid")
    started = time.monotonic()
    ex.stop(h)
    assert 0.25 < time.monotonic() - started < 3
    assert wait_gone(child)
    assert ex.poll(h).state is RunState.FAILED


def test_leftover_background_processes_are_killed_at_the_end(
    ex: LocalExecutor, tmp_path: Path
) -> None:
    h = ex.start(launch(tmp_path, "leak", sh("sleep 1000 & echo $! > child.pid; exit 0"))).handle
    assert wait(ex, h).state is RunState.SUCCEEDED
    assert wait_gone(read_pid(tmp_path / "leak" / "child.pid"))


def test_stale_exit_code_is_ignored(ex: LocalExecutor, tmp_path: Path) -> None:
    trial_dir = tmp_path / "stale"
    trial_dir.mkdir()
    (trial_dir / "exitcode").write_text("0\n")
    h = ex.start(launch(tmp_path, "stale", sh("sleep 0.2; exit 6"))).handle
    assert ex.poll(h).state is RunState.RUNNING
    assert wait(ex, h).exit_code == 6


def test_wait_returns_when_a_trial_ends(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "w", sh("sleep 0.2"))).handle
    long = ex.start(launch(tmp_path, "long", sh("sleep 1000"))).handle
    started = time.monotonic()
    ex.wait([h, long], 5.0)
    assert time.monotonic() - started < 2.0
    assert ex.poll(h).state is RunState.SUCCEEDED
    ex.wait([], 0.01)
    ex.stop(long)


# --------------------------------------------------------------------------- re-attach


def test_reattach_from_a_new_executor(tmp_path: Path) -> None:
    a = LocalExecutor(gpus=[])
    h = json.loads(
        json.dumps(a.start(launch(tmp_path, "re", sh("sleep 0.3; echo bye; exit 7"))).handle)
    )
    del a  # the controller "dies" without waiting on its child
    b = LocalExecutor(gpus=[])
    assert b.poll(h).state is RunState.RUNNING
    status = wait(b, h)
    assert status.exit_code == 7
    assert status.reason == "ExitCode"
    assert Path(b.output_path(h)).read_text() == "bye\n"


def test_lost_when_dead_without_exit_code(ex: LocalExecutor, tmp_path: Path) -> None:
    h = ex.start(launch(tmp_path, "lost", ("true",))).handle
    wait(ex, h)
    os.unlink(tmp_path / "lost" / "exitcode")
    status = LocalExecutor(gpus=[]).poll(h)
    assert status.state is RunState.LOST


def test_lost_when_pid_was_reused(ex: LocalExecutor, tmp_path: Path) -> None:
    if not os.path.exists("/proc/self/stat"):
        pytest.skip("needs /proc")
    h = ex.start(launch(tmp_path, "reuse", sh("sleep 1000"))).handle
    # The handles of an earlier start of a trial whose pid is now another process's (or of
    # a start before a reboot): their start carried another token, which nothing carries now.
    fake = {**h, "start_ticks": h["start_ticks"] + 1, "token": "earlier-start"}
    assert LocalExecutor(gpus=[]).poll(fake).state is RunState.LOST
    other_boot = {**h, "boot_id": "not-this-boot", "token": "before-the-reboot"}
    assert LocalExecutor(gpus=[]).poll(other_boot).state is RunState.LOST
    assert ex.poll(h).state is RunState.RUNNING
    ex.stop(h)


def test_start_ticks_helper() -> None:
    if not os.path.exists("/proc/self/stat"):
        pytest.skip("needs /proc")
    assert process_start_ticks(os.getpid()) is not None
    assert process_start_ticks(2**22 + 12345) is None


CRASHER = textwrap.dedent(
    """
    import json, sys, time
    from tunery.execute.base import Launch
    from tunery.execute.local import LocalExecutor

    trial_dir, handle_file = sys.argv[1], sys.argv[2]
    ex = LocalExecutor(gpus=[])
    script = "sleep 0.5; echo survived; exit 5"
    handle = ex.start(Launch("crash", ("/bin/sh", "-c", script), trial_dir)).handle
    with open(handle_file + ".tmp", "w") as f:
        json.dump(handle, f)
    import os
    os.rename(handle_file + ".tmp", handle_file)
    time.sleep(1000)
    """
)


@pytest.mark.integration
def test_trial_survives_controller_sigkill(tmp_path: Path) -> None:
    handle_file = tmp_path / "handle.json"
    controller = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(tmp_path / "crash"), str(handle_file)],
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        deadline = time.monotonic() + 20
        while not handle_file.exists():
            assert controller.poll() is None, "the helper died before starting its trial"
            assert time.monotonic() < deadline, "the helper never wrote its handle"
            time.sleep(0.01)
    finally:
        controller.kill()
        controller.wait()
    h = json.loads(handle_file.read_text())
    assert alive(h["pid"]), "the trial died with its controller"
    restarted = LocalExecutor(gpus=[])
    status = wait(restarted, h)
    assert status.exit_code == 5
    assert Path(restarted.output_path(h)).read_text() == "survived\n"


# --------------------------------------------------------------------------- GPUs


GPU_SCRIPT = 'echo "[$CUDA_VISIBLE_DEVICES]"; sleep "$1"'


def gpu_launch(tmp: Path, name: str, n: int | None, seconds: float = 0.0) -> Launch:
    resources = {} if n is None else {"nvidia.com/gpu": str(n)}
    return launch(tmp, name, sh(GPU_SCRIPT, str(seconds)), resources=resources)


def visible(ex: LocalExecutor, h: Mapping[str, Any]) -> str:
    wait(ex, h)
    return Path(ex.output_path(h)).read_text().strip()


def test_gpu_pool(tmp_path: Path) -> None:
    ex = LocalExecutor(gpus=["0", "1", "2"])
    a = ex.start(gpu_launch(tmp_path, "a", 1, 0.3)).handle
    b = ex.start(gpu_launch(tmp_path, "b", 2, 0.3)).handle
    assert a["gpus"] == ["0"]
    assert b["gpus"] == ["1", "2"]
    assert ex.free_gpus() == []
    with pytest.raises(ResourcesUnavailable):
        ex.start(gpu_launch(tmp_path, "c", 1))
    none = ex.start(gpu_launch(tmp_path, "none", None)).handle
    assert visible(ex, none) == "[]"  # a pool is configured: no GPU for this one
    assert visible(ex, a) == "[0]"
    assert visible(ex, b) == "[1,2]"
    assert ex.free_gpus() == ["0", "1", "2"]
    c = ex.start(gpu_launch(tmp_path, "c", 2)).handle
    assert visible(ex, c) == "[0,1]"


def test_gpus_released_on_stop(tmp_path: Path) -> None:
    ex = LocalExecutor(gpus=["0"])
    h = ex.start(gpu_launch(tmp_path, "a", 1, 100)).handle
    assert ex.free_gpus() == []
    ex.stop(h)
    assert ex.free_gpus() == ["0"]


def test_gpus_impossible(tmp_path: Path) -> None:
    with pytest.raises(ResourcesImpossible, match="2 GPU"):
        LocalExecutor(gpus=["0"]).start(gpu_launch(tmp_path, "big", 2))
    with pytest.raises(ResourcesImpossible) as info:
        LocalExecutor(gpus=[]).start(gpu_launch(tmp_path, "nopool", 1))
    assert info.value.hint is not None and "TUNERY_GPUS" in info.value.hint
    with pytest.raises(TuneryError, match="whole number"):
        half = launch(tmp_path, "half", ("true",), resources={"nvidia.com/gpu": "1.5"})
        LocalExecutor(gpus=["0"]).start(half)


def test_no_pool_leaves_env_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    monkeypatch.delenv("TUNERY_GPUS", raising=False)
    ex = LocalExecutor()
    assert ex.gpus == ()
    assert visible(ex, ex.start(gpu_launch(tmp_path, "x", None)).handle) == "[7]"
    assert visible(ex, ex.start(gpu_launch(tmp_path, "zero", 0)).handle) == "[7]"


def test_pool_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNERY_GPUS", " 0, 3 ,")
    assert LocalExecutor().gpus == ("0", "3")


def test_restarted_executor_rebuilds_gpu_occupancy(tmp_path: Path) -> None:
    a = LocalExecutor(gpus=["0", "1"])
    h = a.start(gpu_launch(tmp_path, "a", 1, 0.4)).handle
    b = LocalExecutor(gpus=["0", "1"])
    b.adopt(h)
    assert b.free_gpus() == ["1"]
    c = LocalExecutor(gpus=["0", "1"])
    assert c.poll(h).state is RunState.RUNNING  # polling adopts too
    assert c.free_gpus() == ["1"]
    with pytest.raises(ResourcesUnavailable):
        c.start(gpu_launch(tmp_path, "two", 2))
    wait(c, h)
    assert c.free_gpus() == ["0", "1"]


def test_missing_working_dir(ex: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(TuneryError, match="working directory"):
        ex.start(launch(tmp_path, "wd", ("true",), working_dir=str(tmp_path / "nope")))


# --------------------------------------------------------------------------- runaway processes

#: Starts a daemon that leaves the trial's session and process group (setsid), writes its pid
#: to $1, then (with $2 = "wait") keeps the trial running.
DAEMON = 'setsid sh -c "echo \\$\\$ > $1; exec sleep 300" </dev/null >/dev/null 2>&1 & ' + (
    'while [ ! -s "$1" ]; do sleep 0.01; done; [ "$2" = wait ] && sleep 300; exit 0'
)


def _daemon_pid(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, "the daemon never started"
        time.sleep(0.01)
    return int(path.read_text())


@pytest.mark.parametrize("how", ["exit", "stop", "timeout", "new executor"])
def test_setsid_daemons_end_with_the_trial(ex: LocalExecutor, tmp_path: Path, how: str) -> None:
    pidfile = tmp_path / f"daemon-{how.replace(' ', '-')}"
    keep = "exit" if how in ("exit", "new executor") else "wait"
    timeout = 0.5 if how == "timeout" else None
    h = ex.start(launch(tmp_path, "d", sh(DAEMON, str(pidfile), keep), timeout=timeout)).handle
    daemon = _daemon_pid(pidfile)
    assert os.getpgid(daemon) != h["pgid"], "the daemon must have left the group"
    if how == "stop":
        ex.stop(h)
    elif how == "new executor":
        # a resumed controller's executor sees the trial's end and still ends the daemon
        while not (Path(h["trial_dir"]) / "exitcode").exists():  # never polled by the first one
            time.sleep(0.01)
        wait(LocalExecutor(gpus=[], grace=1.0), h)
    else:
        wait(ex, h)
    assert wait_gone(daemon), f"daemon {daemon} outlived the trial ({how})"


def test_sweep_finds_only_its_own_token(tmp_path: Path) -> None:
    from tunery.execute.sweep import TOKEN_ENV, marked, new_token, sweep

    mine, other = new_token(), new_token()
    procs = [
        subprocess.Popen(["sleep", "300"], env={**os.environ, TOKEN_ENV: token})
        for token in (mine, other)
    ]
    try:
        assert marked(mine) == [procs[0].pid]
        assert sweep(mine, grace=1.0) == [procs[0].pid]
        assert procs[0].wait(timeout=5) != 0
        assert procs[1].poll() is None
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_start_leaves_the_pid_file_so_a_new_controller_reattaches(tmp_path: Path) -> None:
    ex = LocalExecutor()
    created = time.time()
    started = ex.start(launch(tmp_path, "t", sh("sleep 0.5")))
    # Written by start itself, not only by the wrapper once it runs (a busy machine may not
    # have scheduled it yet): a controller that dies now leaves what the next one needs.
    assert (tmp_path / "t" / "pid").read_text() == f"{started.handle['pid']}\n"
    again = LocalExecutor().recover(launch(tmp_path, "t", sh("sleep 0.5")), created)
    assert again is not None and again.handle["pid"] == started.handle["pid"]
    assert wait(ex, started.handle).state is RunState.SUCCEEDED


def test_recover_waits_briefly_for_a_wrapper_that_has_not_written_its_pid(
    tmp_path: Path,
) -> None:
    trial = tmp_path / "t"
    trial.mkdir()
    created = time.time()
    (trial / "token").write_text("abc\n")  # what start writes before the process exists
    proc = subprocess.Popen(
        ["/bin/sh", "-c", f'sleep 0.3; echo $$ >"{trial}/pid"; sleep 1'], start_new_session=True
    )
    try:
        recovered = LocalExecutor().recover(launch(tmp_path, "t", sh("true")), created)
        assert recovered is not None and recovered.handle["pid"] == proc.pid
    finally:
        proc.kill()
        proc.wait()
    # No token written since the trial's creation: never started, no wait.
    (trial / "pid").unlink()
    began = time.monotonic()
    assert LocalExecutor().recover(launch(tmp_path, "t", sh("true")), created + 60) is None
    assert time.monotonic() - began < 1.0
