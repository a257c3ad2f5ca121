"""Why a trial failed, and whether an experiment produced anything: the words users see.

* :func:`last_output_line` reads the tail of a trial's ``output.log`` (never more than
  :data:`TAIL_BYTES`) and picks its last *meaningful* line: not empty, not a metric line, not
  a Python traceback frame (``Traceback (most recent call last):``, ``  File "..."`` and the
  source line under it, a line of only ``^``/``~`` marks).  For a Python crash that is the
  exception (``ModuleNotFoundError: No module named 'sklearn'``); for a missing script,
  the interpreter's complaint.
* :func:`with_output_line` appends that line to the executor's message (the controller keeps
  the executor's reason, e.g. ``ExitCode``).
* :func:`no_success_line` / :func:`failure_warning` say that an experiment ended without a
  successful trial, or how many trials failed, whatever the experiment's Katib status.  Only
  trials that ran count: a warm-start seed (``is_seed``) is a known result, never a success
  of this experiment (the rule of :mod:`tunery.completion`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from tunery.model import Trial, TrialCondition, is_seed

#: At most this many bytes are read from the end of a log.
TAIL_BYTES = 64 * 1024
#: A picked line is cut to this many characters.
MAX_LINE_CHARS = 200

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CARETS = re.compile(r"[\s^~]+")
_FRAME = re.compile(r"\s*File \".*\", line \d+")
_KEY_VALUE = re.compile(r"[\w|.-]+\s*=\s*\S+")


class TrialsFailedWarning(UserWarning):
    """An experiment's trials failed (all of them, or some): their first failure says why."""


def read_tail(path: str | os.PathLike[str], limit: int = TAIL_BYTES) -> list[str]:
    """The last lines of the file at ``path`` within its last ``limit`` bytes ([] if absent).

    A line cut by the ``limit`` is dropped; bytes decode as UTF-8 with replacement; terminal
    escapes are removed and a carriage-return-redrawn line (a progress bar) keeps its last
    state.
    """
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(0, size - limit)
            fh.seek(start)
            data = fh.read(limit)
    except OSError:
        return []
    if start > 0:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
    lines = []
    for raw in data.decode("utf-8", errors="replace").split("\n"):
        line = _ANSI.sub("", raw).rstrip("\r")
        if "\r" in line:
            line = line.rsplit("\r", 1)[1]
        lines.append(line.rstrip())
    return lines


def is_metric_line(line: str, metric_names: Iterable[str] = ()) -> bool:
    """A line that reports metrics: ``name=value`` for a metric name, or only ``k=v`` pairs."""
    for name in metric_names:
        if re.search(rf"(?<![\w|-]){re.escape(name)}\s*=", line):
            return True
    tokens = [t for t in re.split(r"[\s,;]+", line.strip()) if t]
    joined = " ".join(tokens)
    pairs = _KEY_VALUE.findall(joined)
    return bool(pairs) and " ".join(pairs) == joined


def meaningful_lines(lines: Sequence[str], metric_names: Iterable[str] = ()) -> list[str]:
    """``lines`` without blanks, metric lines and Python traceback frames, in order."""
    names = tuple(metric_names)
    kept: list[str] = []
    after_frame = False
    for line in lines:
        was_frame, after_frame = after_frame, False
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("Traceback (most recent call last)"):
            continue
        if _FRAME.match(line) and line[:1].isspace():
            after_frame = True
            continue
        if was_frame and line.startswith("    "):
            continue  # the source line shown under a frame
        if _CARETS.fullmatch(line):
            continue
        if is_metric_line(stripped, names):
            continue
        kept.append(stripped)
    return kept


def shorten(text: str, limit: int = MAX_LINE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def last_output_line(
    path: str | os.PathLike[str], metric_names: Iterable[str] = (), limit: int = TAIL_BYTES
) -> str | None:
    """The last meaningful line of the log at ``path`` (trimmed), or None."""
    kept = meaningful_lines(read_tail(path, limit), metric_names)
    return shorten(kept[-1]) if kept else None


def with_output_line(message: str, line: str | None) -> str:
    """``message`` with the trial's last output line appended (``"exit code 1: <line>"``)."""
    if not line:
        return message
    head = re.sub(r"; see output\.log$", "", message)
    if head.startswith(("exit code", "killed by")):
        return f"{head}: {line}"
    return f"{head}; last output: {line}"


# --------------------------------------------------------------------------- experiments


def _succeeded(trial: Trial) -> bool:
    # EarlyStopped trials reported the objective and count as results (as in Katib); a
    # warm-start seed never ran.
    ok = trial.status in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)
    return ok and not is_seed(trial)


def _seeds_note(trials: Sequence[Trial]) -> str:
    seeded = sum(is_seed(t) for t in trials)
    if not seeded:
        return ""
    return f" (and {seeded} warm-start seed{'s' if seeded > 1 else ''}, not run)"


def _failed_in_order(trials: Sequence[Trial]) -> list[Trial]:
    failed = [t for t in trials if t.status.is_failed]
    return sorted(failed, key=lambda t: (t.completion_time or 0.0, t.index))


def _why(trial: Trial) -> str:
    return f"{trial.name}: {trial.message or trial.reason or trial.status.value}"


def no_success_line(trials: Sequence[Trial], *, stopped: bool = False) -> str | None:
    """None when a trial succeeded; else e.g. ``no trial succeeded: 4 Failed (last: ...)``.

    ``stopped``: the user stopped the experiment; that is no failure unless a trial failed.
    """
    if any(_succeeded(t) for t in trials):
        return None
    if stopped and not any(t.status.is_failed for t in trials):
        return None
    ran = [t for t in trials if not is_seed(t)]
    if not ran:
        return "no trial succeeded: no trial ran" + _seeds_note(trials)
    counts: dict[str, int] = {}
    for t in ran:
        counts[t.status.value] = counts.get(t.status.value, 0) + 1
    text = "no trial succeeded: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    failed = _failed_in_order(ran)
    last = failed[-1] if failed else max(ran, key=lambda t: t.completion_time or 0.0)
    return f"{text}{_seeds_note(trials)} (last: {_why(last)})"


def failure_warning(experiment: str, trials: Sequence[Trial]) -> str | None:
    """A warning naming how many trials failed and the first failure; None if none failed."""
    failed = _failed_in_order(trials)
    if not failed:
        return None
    ran = sum(not is_seed(t) for t in trials)  # a seed never ran, so never failed
    head = f"experiment {experiment}: {len(failed)} of {ran} trials failed"
    if not any(_succeeded(t) for t in trials):
        head += ", no trial succeeded"
    return f"{head}; first failure: {_why(failed[0])}"
