"""A local copy of a remote, append-only file: how a remote executor satisfies ``output_path``.

A remote executor's trial writes its ``output.log`` (and a ``File`` collector's metrics file)
where it runs; the collectors read local files.  A :class:`Mirror` appends the new bytes of
the remote file to a local file, through any ``read_remote(offset, limit) -> (bytes, size)``
callable (the Dask executor runs :func:`read_file` on the trial's worker), and keeps its
progress in a small JSON state file next to it, so a new controller process goes on where the
last one stopped: bytes appended after the state was last saved (a crash) are cut off and come
again.

A trial may run several times (*attempts*: its worker died and it ran again elsewhere).
:meth:`Mirror.switch` starts mirroring a new attempt after a note line; the new attempt's
first lines, as many as the earlier attempts showed, are skipped, so metric lines are never
collected twice (a deterministic trial gives the same file as an uninterrupted run).  Only
complete lines are copied while the trial runs; the rest once it has ended (``final``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CHUNK", "Mirror", "MirrorState", "ReadRemote", "read_file"]

#: Largest piece of a remote file fetched by one call.
CHUNK = 4 << 20

#: ``read_remote(offset, limit)``: (at most ``limit`` bytes of the remote file from ``offset``,
#: the remote file's size).  It raises when the remote side cannot be reached.
ReadRemote = Callable[[int, int], tuple[bytes, int]]


@dataclass
class MirrorState:
    """How far the local file mirrors the remote attempts."""

    key: str
    attempt: str | None = None  # the attempt being mirrored
    index: int = 0  # its number (1-based)
    offset: int = 0  # bytes of its remote file consumed
    seen: int = 0  # lines of its remote file consumed
    covered: int = 0  # lines of earlier attempts mirrored (a retry skips that many)
    size: int | None = None  # the local file's size after our last append
    done: bool = False
    submitted_at: float = 0.0


class Mirror:
    """Keeps ``local`` a copy of the remote file of the current attempt; state in
    ``state_file`` (see the module docstring)."""

    def __init__(self, local: str, state_file: str, state: MirrorState) -> None:
        self.local = local
        self.state_file = state_file
        self.state = state

    @classmethod
    def fresh(cls, local: str, state_file: str, key: str, submitted_at: float = 0.0) -> Mirror:
        """A new, empty mirror (the local file truncated), its state saved."""
        os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
        with open(local, "wb") as out:
            size = out.tell()
        mirror = cls(local, state_file, MirrorState(key=key, size=size, submitted_at=submitted_at))
        mirror.save()
        return mirror

    @classmethod
    def load(cls, local: str, state_file: str, key: str) -> Mirror:
        """The mirror of ``key`` as its state file left it (a new one if there is none)."""
        data = read_json(state_file)
        state = MirrorState(key=key)
        if data is not None and data.get("key") == key:
            with contextlib.suppress(TypeError):
                state = MirrorState(**data)
        if state.size is None:
            state.size = _size(local)
        elif _size(local) > state.size:
            # Bytes appended after the state was last saved (a crash): they come again.
            with open(local, "r+b") as f:
                f.truncate(state.size)
        return cls(local, state_file, state)

    @property
    def key(self) -> str:
        return self.state.key

    @property
    def done(self) -> bool:
        return self.state.done

    def save(self) -> None:
        write_json(self.state_file, asdict(self.state))

    def append(self, data: bytes) -> None:
        """Append ``data`` to the local file and save the state."""
        if data:
            with open(self.local, "ab") as f:
                f.write(data)
            self.state.size = (self.state.size or 0) + len(data)
        self.save()

    def switch(self, attempt: str, index: int, note: bytes = b"") -> None:
        """Mirror attempt ``attempt`` (number ``index``) from its start; after an earlier
        attempt, ``note`` first and the lines that attempt showed skipped."""
        state = self.state
        if state.attempt is not None:
            state.covered = max(state.covered, state.seen)
        else:
            note = b""
        state.attempt = attempt
        state.index = index
        state.offset = 0
        state.seen = 0
        self.append(note)

    def consume(self, data: bytes) -> None:
        """Append remote bytes to the local file, less the lines an earlier attempt showed."""
        state = self.state
        out = []
        for line in data.splitlines(keepends=True):
            complete = line.endswith(b"\n")
            if state.seen < state.covered:
                state.seen += 1 if complete else 0
                continue
            if complete:
                state.seen += 1
            out.append(line)
        state.offset += len(data)
        self.append(b"".join(out))

    def pull(self, read: ReadRemote, *, final: bool = False, chunk: int = CHUNK) -> None:
        """Copy the remote file's new bytes (complete lines only unless ``final``, which also
        marks the mirror done).  Exceptions of ``read`` propagate (the remote is out of reach)."""
        if self.state.done:
            return
        while True:
            data, size = read(self.state.offset, chunk)
            if not final:
                data = data[: data.rfind(b"\n") + 1]
            if not data:
                break
            self.consume(data)
            if self.state.offset >= size:
                break
        if final:
            self.finish()

    def take_tail(self, tail: bytes, size: int) -> bool:
        """End the mirror with the last ``len(tail)`` bytes of a remote file of ``size``
        bytes; False (nothing done) when the tail does not reach back to what is mirrored."""
        if self.state.done:
            return True
        begin = size - len(tail)
        if self.state.offset < begin:
            return False
        self.consume(tail[self.state.offset - begin :])
        self.finish()
        return True

    def finish(self) -> None:
        self.state.done = True
        self.append(b"")


def read_file(path: str, offset: int, limit: int) -> tuple[bytes, int]:
    """(bytes of ``path`` from ``offset``, at most ``limit``; the file's size); a missing
    file reads as empty.  Runs where the file is (a Dask worker)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(offset)
            return f.read(limit), size
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return b"", 0


def tail_of(path: str, limit: int) -> tuple[bytes, int]:
    """(the last ``limit`` bytes of ``path``, its size); a missing file reads as empty."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - limit))
            return f.read(limit), size
    except OSError:
        return b"", 0


def write_json(path: str, data: Mapping[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
