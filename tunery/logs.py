"""Trial output logs: where a trial's log is, and reading it line by line (once or following it).

Shared by ``tunery logs`` (:mod:`tunery.cli._logs`) and the SDKs (``KatibClient.get_job_logs``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["OUTPUT_LOG", "POLL_S", "LineReader", "follow_lines", "log_path", "tail_offset"]

#: The name of a trial's output log in its directory (what the executors write).
OUTPUT_LOG = "output.log"
#: How often a follower looks at the files and the store, in seconds.
POLL_S = 0.2


def log_path(experiment: Any, trial: Any) -> str | None:
    """Where ``trial``'s output log is: its executor's trial directory (the handle), else
    ``<runs_dir>/<experiment>/<trial>/output.log``; None when the experiment has no runs
    directory (an ask/tell experiment)."""
    handle = trial.handle or {}
    if handle.get("trial_dir"):
        return os.path.join(str(handle["trial_dir"]), OUTPUT_LOG)
    if experiment.runs_dir:
        key = getattr(experiment, "key", None) or experiment.name
        return os.path.join(experiment.runs_dir, key, trial.name, OUTPUT_LOG)
    return None


def tail_offset(path: str, lines: int | None) -> int:
    """The byte offset of the last ``lines`` lines of ``path`` (None: the whole file)."""
    if lines is None:
        return 0
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            if lines <= 0:
                return end
            pos, found, block = end, 0, 65536
            while pos > 0:
                start = max(0, pos - block)
                fh.seek(start)
                data = fh.read(pos - start)
                # Each newline but the file's last byte starts a line: the k-th from the
                # end starts the last k lines.
                cut = len(data) - 1 if pos == end else len(data)
                while cut > 0:
                    cut = data.rfind(b"\n", 0, cut)
                    if cut < 0:
                        break
                    found += 1
                    if found == lines:
                        return start + cut + 1
                pos = start
            return 0
    except OSError:
        return 0


class LineReader:
    """One log file read from ``offset`` on, in complete lines."""

    def __init__(self, path: str | None, offset: int = 0) -> None:
        self.path, self.offset = path, offset
        self.partial = b""

    def lines(self, final: bool = False) -> list[str]:
        """The complete lines written since the last call (``final``: the last line even
        without its newline)."""
        data = b""
        if self.path is not None:
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(self.offset)
                    data = fh.read()
            except OSError:
                data = b""
        self.offset += len(data)
        data = self.partial + data
        parts = data.split(b"\n")
        self.partial = parts.pop()
        if final and self.partial:
            parts.append(self.partial)
            self.partial = b""
        return [p.decode("utf-8", errors="replace").rstrip("\r") for p in parts]


def follow_lines(store: Any, experiment: Any, trial: Any, follow: bool) -> Iterator[str]:
    """The lines of ``trial``'s output log; with ``follow``, also those it writes until it ends
    (the store says when)."""
    reader = LineReader(log_path(experiment, trial))
    if not follow:
        yield from reader.lines(final=True)
        return
    while True:
        # The status first: whatever the trial wrote before it ended is in the file by now.
        key = getattr(experiment, "key", None) or experiment.name
        current = store.get_trial(key, trial.name)
        ended = not current.status.is_active
        if reader.path is None or not os.path.isfile(reader.path):
            reader.path = log_path(experiment, current)
        yield from reader.lines(final=ended)
        if ended:
            return
        time.sleep(POLL_S)
