"""tunery.logs: a trial's log read in complete lines (following a real trial's log is tested
through KatibClient.get_job_logs in tests/test_katib_client.py and `tunery logs -f`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from tunery.logs import LineReader, log_path


def test_line_reader_returns_complete_lines_and_the_last_one_when_final(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    reader = LineReader(str(path))
    assert reader.lines() == []  # no file yet
    path.write_bytes(b"one\r\ntw")
    assert reader.lines() == ["one"]
    with path.open("ab") as fh:
        fh.write(b"o\nthree \xff")
    assert reader.lines() == ["two"]
    assert reader.lines(final=True) == ["three \ufffd"]
    assert reader.lines(final=True) == []


def test_log_path_uses_the_handle_then_the_experiments_key(tmp_path: Path) -> None:
    exp = SimpleNamespace(name="twin", key="team.twin", runs_dir=str(tmp_path))
    trial = SimpleNamespace(name="team.twin-0001", handle=None)
    assert log_path(exp, trial) == str(tmp_path / "team.twin" / "team.twin-0001" / "output.log")
    moved = SimpleNamespace(name="t", handle={"trial_dir": "/elsewhere/t"})
    assert log_path(exp, moved) == "/elsewhere/t/output.log"
    assert log_path(SimpleNamespace(name="x", runs_dir=None), trial) is None
