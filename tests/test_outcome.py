"""The last meaningful output line of a trial, and the words for experiments without results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tunery.model import Trial, TrialCondition
from tunery.outcome import (
    TAIL_BYTES,
    failure_warning,
    last_output_line,
    no_success_line,
    read_tail,
    with_output_line,
)


def _run_into(log: Path, *argv: str, cwd: Path | None = None) -> int:
    with open(log, "wb") as out:
        return subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd).returncode


def test_module_not_found_is_the_exception_line(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    script = "print('epoch=1 loss=0.5', flush=True)\nimport tunery_no_such_module_xyz\n"
    code = _run_into(log, sys.executable, "-c", script)
    assert code == 1
    line = last_output_line(log, ["loss"])
    assert line == "ModuleNotFoundError: No module named 'tunery_no_such_module_xyz'"


def test_missing_script_is_the_interpreters_complaint(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    code = _run_into(log, sys.executable, "train_missing.py", cwd=tmp_path)
    assert code == 2
    line = last_output_line(log)
    assert line is not None
    assert "can't open file" in line and "train_missing.py" in line and "Errno 2" in line


def test_traceback_frames_carets_and_metric_lines_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_text(
        "loading data\n"
        "Traceback (most recent call last):\n"
        '  File "/x/train.py", line 3, in <module>\n'
        "    main()\n"
        "    ^^^^^^\n"
        "RuntimeError: CUDA out of memory\n"
        "accuracy=0.1\n"
        "step=3 loss=2.5, lr=0.01\n"
        "\n"
        "   \n"
    )
    assert last_output_line(log, ["accuracy"]) == "RuntimeError: CUDA out of memory"


def test_a_progress_bar_keeps_its_last_state_and_escapes_go(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_bytes(b"\x1b[31mtraining 10%\rtraining 55%\x1b[0m\n")
    assert last_output_line(log) == "training 55%"


def test_long_lines_are_trimmed_and_nothing_meaningful_is_none(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_text("E" * 1000 + "\n")
    line = last_output_line(log)
    assert line is not None and len(line) == 200 and line.endswith("…")
    log.write_text("score=1\n\n")
    assert last_output_line(log, ["score"]) is None
    assert last_output_line(tmp_path / "absent.log") is None


def test_only_the_tail_is_read(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    early = "EarlyError: this is far before the tail\n"
    with open(log, "w") as fh:
        fh.write(early)
        fh.write(("x" * 99 + "\n") * (3 * TAIL_BYTES // 100))  # about 192 KiB of noise
        fh.write("score=0.5\n")
    lines = read_tail(log)
    assert sum(len(x) + 1 for x in lines) <= TAIL_BYTES
    assert early.strip() not in lines
    # the first (cut) line is dropped, whole lines are kept
    assert all(x == "x" * 99 for x in lines[:-2])
    assert last_output_line(log, ["score"]) == "x" * 99
    # a tail that is one cut line holds nothing
    log.write_text("y" * (TAIL_BYTES * 2))
    assert last_output_line(log) is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("exit code 1; see output.log", "exit code 1: Boom: it broke"),
        (
            "killed by SIGKILL (exit status 137); see output.log",
            "killed by SIGKILL (exit status 137): Boom: it broke",
        ),
        (
            "the trial ran longer than its timeout of 1s and was killed",
            "the trial ran longer than its timeout of 1s and was killed"
            "; last output: Boom: it broke",
        ),
    ],
)
def test_with_output_line(message: str, expected: str) -> None:
    assert with_output_line(message, "Boom: it broke") == expected
    assert with_output_line(message, None) == message


def _trial(index: int, status: TrialCondition, message: str | None = None) -> Trial:
    return Trial(
        name=f"e-{index:04d}",
        experiment="e",
        index=index,
        parameters={},
        status=status,
        reason="ExitCode" if status is TrialCondition.FAILED else None,
        message=message,
        completion_time=float(index),
    )


def test_no_success_line_and_failure_warning() -> None:
    failed = [
        _trial(1, TrialCondition.FAILED, "exit code 1: ModuleNotFoundError: No module named 'a'"),
        _trial(2, TrialCondition.METRICS_UNAVAILABLE, "never reported 'score'"),
        _trial(3, TrialCondition.FAILED, "exit code 2: can't open file"),
    ]
    line = no_success_line(failed)
    assert line == (
        "no trial succeeded: 2 Failed, 1 MetricsUnavailable "
        "(last: e-0003: exit code 2: can't open file)"
    )
    warning = failure_warning("e", failed)
    assert warning == (
        "experiment e: 3 of 3 trials failed, no trial succeeded; first failure: "
        "e-0001: exit code 1: ModuleNotFoundError: No module named 'a'"
    )
    ok = [*failed, _trial(4, TrialCondition.SUCCEEDED)]
    assert no_success_line(ok) is None
    assert failure_warning("e", ok) == (
        "experiment e: 3 of 4 trials failed; first failure: "
        "e-0001: exit code 1: ModuleNotFoundError: No module named 'a'"
    )
    assert failure_warning("e", [_trial(1, TrialCondition.SUCCEEDED)]) is None
    assert no_success_line([]) == "no trial succeeded: no trial ran"
    killed = [_trial(1, TrialCondition.KILLED, "stopped by the user")]
    assert (
        no_success_line(killed)
        == "no trial succeeded: 1 Killed (last: e-0001: stopped by the user)"
    )
    # a user's stop is no failure, unless trials failed before it
    assert no_success_line(killed, stopped=True) is None
    assert no_success_line([*killed, *failed], stopped=True) is not None
