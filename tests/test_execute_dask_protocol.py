"""The Dask executor's addresses, resources and end events (no cluster needed)."""

from __future__ import annotations

import pytest

from tunery.errors import TuneryError, UserInputError
from tunery.execute.base import RunState
from tunery.execute.dask_protocol import dask_resources, scheduler_address, status_of_end


def test_scheduler_address() -> None:
    assert scheduler_address("dask://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert scheduler_address("tcp://sched:8786/") == "tcp://sched:8786"
    assert scheduler_address("tls://sched:8786") == "tls://sched:8786"
    for bad in ("dask://host", "http://h:1", "dask://h:0", "dask://h:99999", "h:8786", ""):
        with pytest.raises(UserInputError, match="--executor"):
            scheduler_address(bad)


def test_dask_resources() -> None:
    assert dask_resources({}) == {}
    assert dask_resources({"nvidia.com/gpu": "2", "cpu": "500m", "memory": "2Gi"}) == {"GPU": 2.0}
    got = dask_resources({"cpu": "500m", "memory": "2Gi"}, declared=["CPU", "MEMORY"])
    assert got == {"CPU": 0.5, "MEMORY": 2.0 * 2**30}
    assert dask_resources({"nvidia.com/gpu": "0"}) == {}
    for bad in ({"nvidia.com/gpu": "1.5"}, {"nvidia.com/gpu": "x"}, {"cpu": "lots"}):
        with pytest.raises(TuneryError):
            dask_resources(bad, declared=["CPU"])


def test_status_of_end() -> None:
    worker = {"worker": "tcp://w:1", "timeout": 2.0}
    assert status_of_end({**worker, "exit_code": 0}).state is RunState.SUCCEEDED
    assert status_of_end({**worker, "exit_code": 3}).reason == "ExitCode"
    timed = status_of_end({**worker, "exit_code": 143, "timed_out": True})
    assert (timed.reason, timed.exit_code) == ("TrialTimeout", 143)
    assert "timeout of 2s" in (timed.message or "")
    assert status_of_end({**worker, "exit_code": None, "cancelled": True}).reason == "Stopped"
    assert status_of_end({**worker, "exit_code": 1, "cancelled": True}).reason == "Stopped"
    killed = status_of_end({**worker, "exit_code": None, "signal": 9})
    assert (killed.reason, killed.exit_code) == ("Signal", 137)
    lost = status_of_end({**worker, "exit_code": None})
    assert lost.state is RunState.LOST and "tcp://w:1" in (lost.message or "")
