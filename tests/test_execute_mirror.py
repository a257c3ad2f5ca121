"""The mirror of a remote append-only file, over a real file standing for the remote one."""

from __future__ import annotations

from pathlib import Path

from tunery.execute.mirror import Mirror, read_file


def reader(path: Path, calls: list[int] | None = None):  # type: ignore[no-untyped-def]
    def read(offset: int, limit: int) -> tuple[bytes, int]:
        if calls is not None:
            calls.append(offset)
        return read_file(str(path), offset, limit)

    return read


def test_complete_lines_while_running_the_rest_at_the_end(tmp_path: Path) -> None:
    remote = tmp_path / "remote.log"
    local, state = tmp_path / "out.log", str(tmp_path / "state.json")
    mirror = Mirror.fresh(str(local), state, "k1")
    mirror.switch("a1", 1)
    remote.write_bytes(b"one\ntw")
    mirror.pull(reader(remote))
    assert local.read_bytes() == b"one\n"
    with remote.open("ab") as f:
        f.write(b"o\nthree")
    mirror.pull(reader(remote), chunk=4)  # several reads
    assert local.read_bytes() == b"one\ntwo\n"
    mirror.pull(reader(remote), final=True)
    assert local.read_bytes() == b"one\ntwo\nthree" and mirror.done
    calls: list[int] = []
    mirror.pull(reader(remote, calls), final=True)
    assert calls == []  # done: nothing read again


def test_a_new_process_goes_on_and_cuts_unsaved_bytes(tmp_path: Path) -> None:
    remote = tmp_path / "remote.log"
    local, state = tmp_path / "out.log", str(tmp_path / "state.json")
    mirror = Mirror.fresh(str(local), state, "k1")
    mirror.switch("a1", 1)
    remote.write_bytes(b"a\nb\n")
    mirror.pull(reader(remote))
    with local.open("ab") as f:
        f.write(b"b\n")  # appended by a controller that died before saving its state
    again = Mirror.load(str(local), state, "k1")
    assert local.read_bytes() == b"a\nb\n"
    with remote.open("ab") as f:
        f.write(b"c\n")
    again.pull(reader(remote))
    assert local.read_bytes() == b"a\nb\nc\n"
    # Another key (a new start of the trial) starts from nothing.
    assert Mirror.load(str(local), state, "k2").state.attempt is None


def test_a_retried_attempt_skips_the_lines_already_shown(tmp_path: Path) -> None:
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    local, state = tmp_path / "out.log", str(tmp_path / "state.json")
    mirror = Mirror.fresh(str(local), state, "k1")
    mirror.switch("a1", 1, b"never shown\n")  # no note before the first attempt
    first.write_bytes(b"loss=1\nloss=2\n")
    mirror.pull(reader(first))
    mirror.switch("a2", 2, b"note\n")
    second.write_bytes(b"loss=1\nloss=2\nloss=3\n")
    mirror.pull(reader(second), final=True)
    assert local.read_bytes() == b"loss=1\nloss=2\nnote\nloss=3\n"


def test_take_tail(tmp_path: Path) -> None:
    local, state = tmp_path / "out.log", str(tmp_path / "state.json")
    mirror = Mirror.fresh(str(local), state, "k1")
    mirror.switch("a1", 1)
    mirror.consume(b"a\nb\n")
    assert not mirror.take_tail(b"d\n", 8)  # the tail does not reach back to offset 4
    assert mirror.take_tail(b"b\nc\nd", 7)  # the remote file is a\nb\nc\nd
    assert local.read_bytes() == b"a\nb\nc\nd" and mirror.done
    assert read_file(str(tmp_path / "missing"), 0, 10) == (b"", 0)
