"""Finding a trial's processes by the token in their environment (``/proc/<pid>/environ``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tunery.execute.sweep import _ENVIRON_READ, TOKEN_ENV, marked, new_token, sweep

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")


def _sleeper(token: str, padding: int) -> subprocess.Popen[bytes]:
    # The token last, after ``padding`` bytes of other variables: a read of the environment
    # must go on past its first chunk to see it.
    env = {"PATH": os.environ.get("PATH", "")}
    for i in range(0, padding, 100_000):  # one string may hold at most 128 KiB
        env[f"PAD{i}"] = "x" * min(100_000, padding - i)
    env[TOKEN_ENV] = token
    proc = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    # Popen returns once the exec began; the kernel shows the new environment in /proc a
    # moment later (when the program's stack is set up).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/environ", "rb") as fh:
            if fh.read().endswith(token.encode() + b"\0"):
                return proc
        time.sleep(0.005)
    raise AssertionError(f"{proc.pid} never showed its environment")


@pytest.mark.parametrize("padding", [0, 3 * _ENVIRON_READ + 17])
def test_marked_finds_the_token_wherever_it_is_in_the_environment(padding: int) -> None:
    token = new_token()
    proc = _sleeper(token, padding)
    try:
        assert marked(token) == [proc.pid]
        assert marked(new_token()) == []
        assert marked(token[:-1]) == []  # the whole value, not a prefix
    finally:
        proc.kill()
        proc.wait()


def test_sweep_ends_the_marked_processes_only() -> None:
    token, other = new_token(), new_token()
    mine, theirs = _sleeper(token, 0), _sleeper(other, 0)
    try:
        assert sweep(token) == [mine.pid]
        assert mine.wait(timeout=10) != 0
        assert theirs.poll() is None
        assert marked(token) == []
    finally:
        for proc in (mine, theirs):
            proc.kill()
            proc.wait()


def test_marked_never_names_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    token = new_token()
    monkeypatch.setenv(TOKEN_ENV, token)  # os.environ only: /proc/self/environ is unchanged
    code = f"import os, sys; from tunery.execute.sweep import marked; print(marked({token!r}))"
    env = {**os.environ, TOKEN_ENV: token}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
