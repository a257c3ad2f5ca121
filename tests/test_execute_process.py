"""What the local and the Dask executor share: exit-status files and their meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunery.errors import TuneryError
from tunery.execute._process import gpu_request, read_code, status_from_exit
from tunery.execute.base import RunState


def test_read_code_trusts_only_complete_values(tmp_path: Path) -> None:
    path = tmp_path / "exitcode"
    assert read_code(str(path)) is None
    path.write_text("13")
    assert read_code(str(path)) is None  # not completely written yet
    path.write_text("13\n")
    assert read_code(str(path)) == 13
    path.write_text("x\n")
    assert read_code(str(path)) is None


def test_gpu_request() -> None:
    assert gpu_request({}) == 0
    assert gpu_request({"nvidia.com/gpu": "2"}) == 2
    assert gpu_request({"nvidia.com/gpu": " 1.0 "}) == 1
    for bad in ("1.5", "-1", "x", "inf"):
        with pytest.raises(TuneryError, match="whole number of GPUs"):
            gpu_request({"nvidia.com/gpu": bad})


@pytest.mark.parametrize(
    ("kwargs", "state", "reason", "exit_code", "says"),
    [
        ({"code": 0}, RunState.SUCCEEDED, None, 0, None),
        ({"code": 3}, RunState.FAILED, "ExitCode", 3, "exit code 3; see output.log"),
        ({"code": 127}, RunState.FAILED, "ExitCode", 127, "(command not found?)"),
        ({"code": 137}, RunState.FAILED, "Signal", 137, "killed by SIGKILL (exit status 137)"),
        ({"code": 1, "stopped": True}, RunState.FAILED, "Stopped", 1, "was stopped"),
        ({"code": 0, "stopped": True}, RunState.SUCCEEDED, None, 0, None),
        ({"code": None, "stopped": True}, RunState.FAILED, "Stopped", None, "was stopped"),
        ({"code": None, "signal": 15}, RunState.FAILED, "Signal", 143, "killed by SIGTERM"),
        ({"code": None, "lost": "gone"}, RunState.LOST, "TrialLost", None, "gone"),
        (
            {"code": 143, "timed_out": True, "timeout": 1.5},
            RunState.FAILED,
            "TrialTimeout",
            143,
            "timeout of 1.5s and was killed",
        ),
    ],
)
def test_status_from_exit(
    kwargs: dict[str, object],
    state: RunState,
    reason: str | None,
    exit_code: int | None,
    says: str | None,
) -> None:
    code = kwargs.pop("code")
    status = status_from_exit(code, **kwargs)  # type: ignore[arg-type]
    assert (status.state, status.reason, status.exit_code) == (state, reason, exit_code)
    if says is not None:
        assert says in (status.message or "")
