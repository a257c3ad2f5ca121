"""The executor contract suite over LocalExecutor and FakeExecutor."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tunery.clock import FakeClock
from tunery.execute.base import Launch, ResourcesUnavailable, RunState, RunStatus
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
    h = ex.start(fake_launch(tmp_path, "t"))
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
    h = ex.start(fake_launch(tmp_path, "t"))
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
    slow = ex.start(fake_launch(tmp_path, "slow", timeout=10))
    lost = ex.start(fake_launch(tmp_path, "lost"))
    segv = ex.start(fake_launch(tmp_path, "segv"))
    clock.advance(9)
    assert ex.poll(slow).state is RunState.RUNNING
    clock.advance(2)
    assert ex.poll(slow).reason == "TrialTimeout"
    assert ex.poll(lost).state is RunState.LOST
    assert ex.poll(segv).reason == "Signal"


def test_fake_max_running(tmp_path: Path) -> None:
    clock = FakeClock()
    ex = FakeExecutor(clock, TrialScript(duration=1), max_running=2)
    a = ex.start(fake_launch(tmp_path, "a"))
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
    handles = [ex.start(fake_launch(tmp_path, f"t{i}")) for i in range(2000)]
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
