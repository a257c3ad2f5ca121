"""The executor contract suite over LocalExecutor and FakeExecutor."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tunery.clock import FakeClock
from tunery.execute import base as base_module
from tunery.execute.base import Launch, ResourcesUnavailable, RunState, RunStatus, copy_checkpoint
from tunery.testing.executor import (
    ExecutorContract,
    ExecutorHarness,
    FakeExecutor,
    FakeHarness,
    LocalHarness,
    TrialScript,
)


@pytest.fixture(params=["local", "fake"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> ExecutorHarness:
    if request.param == "local":
        return LocalHarness(str(tmp_path))
    return FakeHarness(str(tmp_path))


class TestExecutorContract(ExecutorContract):
    pass


# --------------------------------------------------------------------------- FakeExecutor


def fake_launch(tmp: Path, name: str, timeout: float | None = None) -> Launch:
    return Launch(
        trial_name=name,
        argv=("train", f"--name={name}"),
        trial_dir=str(tmp / name),
        timeout=timeout,
    )


def test_fake_writes_lines_as_time_passes(tmp_path: Path) -> None:
    clock = FakeClock()
    script = TrialScript(duration=10, lines=[(0, "loss=3"), (5, "loss=2"), (9.5, "loss=1")])
    ex = FakeExecutor(clock, script)
    h = ex.start(fake_launch(tmp_path, "t")).handle
    out = Path(ex.output_path(h))
    assert ex.poll(h).state is RunState.RUNNING
    assert out.read_text() == "loss=3\n"
    clock.advance(5)
    ex.poll(h)
    assert out.read_text() == "loss=3\nloss=2\n"
    # A restarted executor appends only what is missing.
    clock.advance(5)
    assert FakeExecutor(clock).poll(json.loads(json.dumps(h))).state is RunState.SUCCEEDED
    assert out.read_text() == "loss=3\nloss=2\nloss=1\n"
    assert ex.poll(h).state is RunState.SUCCEEDED
    assert out.read_text() == "loss=3\nloss=2\nloss=1\n"


def test_fake_stop_cuts_output(tmp_path: Path) -> None:
    clock = FakeClock()
    ex = FakeExecutor(clock, TrialScript(duration=10, lines=[(1, "a"), (8, "b")]))
    h = ex.start(fake_launch(tmp_path, "t")).handle
    clock.advance(2)
    ex.stop(h)
    clock.advance(20)
    status = ex.poll(h)
    assert status.state is RunState.FAILED and status.reason == "Stopped"
    assert Path(ex.output_path(h)).read_text() == "a\n"
    assert ex.stops == [h["trial_dir"]]


def test_fake_timeout_lost_and_signal(tmp_path: Path) -> None:
    clock = FakeClock()
    scripts = {
        "slow": TrialScript(duration=100),
        "lost": TrialScript(duration=1, lost=True),
        "segv": TrialScript(duration=1, exit_code=139),
    }
    ex = FakeExecutor(clock, lambda launch: scripts[launch.trial_name])
    slow = ex.start(fake_launch(tmp_path, "slow", timeout=10)).handle
    lost = ex.start(fake_launch(tmp_path, "lost")).handle
    segv = ex.start(fake_launch(tmp_path, "segv")).handle
    clock.advance(9)
    assert ex.poll(slow).state is RunState.RUNNING
    clock.advance(2)
    assert ex.poll(slow).reason == "TrialTimeout"
    assert ex.poll(lost).state is RunState.LOST
    assert ex.poll(segv).reason == "Signal"


def test_fake_max_running(tmp_path: Path) -> None:
    clock = FakeClock()
    ex = FakeExecutor(clock, TrialScript(duration=1), max_running=2)
    a = ex.start(fake_launch(tmp_path, "a")).handle
    ex.start(fake_launch(tmp_path, "b"))
    with pytest.raises(ResourcesUnavailable):
        ex.start(fake_launch(tmp_path, "c"))
    clock.advance(1)
    ex.poll(a)
    assert ex.running() == 1
    ex.start(fake_launch(tmp_path, "c"))
    assert [launch.trial_name for launch in ex.launches] == ["a", "b", "c"]


def test_fake_scales_to_thousands(tmp_path: Path) -> None:
    clock = FakeClock()

    def script(launch: Launch) -> TrialScript:
        n = int(launch.trial_name[1:])
        return TrialScript(duration=1 + n % 7, exit_code=n % 3, lines=[(0.5, f"loss={n}")])

    ex = FakeExecutor(clock, script)
    started = time.perf_counter()
    handles = [ex.start(fake_launch(tmp_path, f"t{i}")).handle for i in range(2000)]
    done: dict[int, RunStatus] = {}
    while len(done) < len(handles):
        for i, h in enumerate(handles):
            if i not in done:
                status = ex.poll(h)
                if status.state is not RunState.RUNNING:
                    done[i] = status
        clock.advance(1)
    assert time.perf_counter() - started < 10
    assert all(done[i].exit_code == i % 3 for i in done)
    assert Path(ex.output_path(handles[1234])).read_text() == "loss=1234\n"


# ----------------------------------------------------- checkpoints (from test_suggest_pbt.py)


def test_copy_checkpoint_copies_atomically_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "checkpoints" / "e-0001"
    (parent / "sub").mkdir(parents=True)
    (parent / "model.bin").write_bytes(b"x" * 1000)
    (parent / "sub" / "state.json").write_text('{"step": 3}')
    child = tmp_path / "checkpoints" / "e-0006"

    # A crash in the middle of the copy, or before the rename, leaves no directory under the
    # child's name.
    def half_copy(src: str, dst: str, **kwargs: Any) -> None:
        os.makedirs(dst)
        shutil.copy2(os.path.join(src, "model.bin"), dst)
        raise OSError("disk on fire")

    def no_rename(src: str, dst: str) -> None:
        raise OSError("power cut")

    for name, crash in (("copytree", half_copy), ("rename", no_rename)):
        with monkeypatch.context() as m:
            m.setattr(base_module.shutil if name == "copytree" else base_module.os, name, crash)
            with pytest.raises(OSError):
                copy_checkpoint(str(parent), str(child))
        assert not child.exists()
        assert (tmp_path / "checkpoints" / "e-0006.partial").exists()  # the half copy, aside

    copy_checkpoint(str(parent), str(child))
    assert (child / "model.bin").read_bytes() == b"x" * 1000
    assert (child / "sub" / "state.json").read_text() == '{"step": 3}'
    assert not (tmp_path / "checkpoints" / "e-0006.partial").exists()

    # Idempotent: a directory in place (the trial may have written to it) is kept.
    (child / "mine").write_text("progress")
    (parent / "model.bin").write_bytes(b"changed")
    copy_checkpoint(str(parent), str(child), time.time() - 10)
    assert (child / "mine").exists() and (child / "model.bin").read_bytes() == b"x" * 1000

    # One older than the trial is a leftover of an earlier experiment of the same name.
    copy_checkpoint(str(parent), str(child), time.time() + 3600)
    assert not (child / "mine").exists() and (child / "model.bin").read_bytes() == b"changed"

    # No parent (generation 0), or a parent that never started: an empty directory.
    copy_checkpoint(None, str(tmp_path / "checkpoints" / "e-0002"))
    copy_checkpoint(str(tmp_path / "nothing"), str(tmp_path / "checkpoints" / "e-0007"))
    assert list((tmp_path / "checkpoints" / "e-0002").iterdir()) == []
    assert list((tmp_path / "checkpoints" / "e-0007").iterdir()) == []


def test_base_defaults_through_the_fake_executor(tmp_path: Path) -> None:
    clock = FakeClock()
    ex = FakeExecutor(clock)
    launch = Launch("t", ("fake",), str(tmp_path / "t"))
    assert ex.recover(launch, 0.0) is None  # a trial without a saved handle never started
    started = ex.start(launch)
    assert started.started_at == clock.now() == started.handle["started_at"]
    ex.adopt(started.handle)  # nothing to take into account
    before = clock.now()
    ex.wait([started.handle], 2.5, clock)  # sleeps on the given clock
    assert clock.now() == before + 2.5
    assert ex.reopen_url(started.handle) == "fake"
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "w.bin").write_bytes(b"w")
    ex.prepare_checkpoint(str(parent), str(tmp_path / "child"))  # the local, atomic copy
    assert (tmp_path / "child" / "w.bin").read_bytes() == b"w"
    ex.close()
