"""The trial-side stop channel: how early stopping asks a trial to end on its own.

When the controller's early stopping (medianstop, asha) decides to stop a running trial, it
first saves the outcome it will give the trial (``pending_outcome``, see "Crash safety" in
docs/architecture.md), then writes the trial's **stop marker**, ``<trial dir>/stop-requested``
(named to the trial in :envvar:`TUNERY_STOP_FILE` by the launcher), and gives the trial a grace
period (:envvar:`TUNERY_STOP_GRACE` seconds, 10 by default) to exit on its own: a framework
callback sees the marker (:func:`should_stop`, ``tunery.should_stop()``), ends training and the
script returns.  A trial that ends after the marker, with any exit code, is ``EarlyStopped``;
one that is still running when the grace period is over is killed as before (SIGTERM, then
SIGKILL).  Only executors whose trials see the controller's trial directory use the marker
(``Executor.stop_channel``: the local executor); the others are stopped at once, as before.

This module imports nothing of tunery: the launcher, the controller and the trial share it.
"""

from __future__ import annotations

import math
import os

__all__ = [
    "DEFAULT_GRACE",
    "GRACE_ENV",
    "STOP_FILE",
    "STOP_FILE_ENV",
    "grace_from_env",
    "request_stop",
    "should_stop",
    "stop_file",
]

#: Environment variable naming the trial's stop marker (set by the launcher).
STOP_FILE_ENV = "TUNERY_STOP_FILE"
#: The marker's name in the trial directory.
STOP_FILE = "stop-requested"
#: Environment variable of the controller: seconds a trial asked to stop has to end on its own.
GRACE_ENV = "TUNERY_STOP_GRACE"
#: The grace period's default, in seconds.
DEFAULT_GRACE = 10.0


def stop_file(trial_dir: str) -> str:
    """The stop marker's path in ``trial_dir``."""
    return os.path.join(os.path.abspath(trial_dir), STOP_FILE)


def should_stop() -> bool:
    """Whether the experiment's early stopping asked this trial to stop.

    True once the controller wrote the trial's stop marker (the file named in
    :envvar:`TUNERY_STOP_FILE`); the trial then has the grace period to end on its own (any
    exit code: it ends ``EarlyStopped``), after which it is killed.  False outside a trial
    tunery runs.  One ``stat`` per call.
    """
    path = os.environ.get(STOP_FILE_ENV)
    return bool(path) and os.path.exists(path)  # type: ignore[arg-type]


def request_stop(path: str, message: str) -> bool:
    """Write the stop marker at ``path`` (its text: why); False when it cannot be written."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(" ".join(message.split()) + "\n")
        os.replace(tmp, path)  # the marker appears whole
    except OSError:
        return False
    return True


def grace_from_env(environ: dict[str, str] | None = None) -> float:
    """The grace period from :envvar:`TUNERY_STOP_GRACE` (seconds; 0 turns the marker off).

    Raises ValueError with a one-line message naming the variable when it is not a
    non-negative number.
    """
    env = os.environ if environ is None else environ
    text = env.get(GRACE_ENV, "").strip()
    if not text:
        return DEFAULT_GRACE
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{GRACE_ENV}={text!r}: the grace period must be a number of seconds of 0 or more "
            f"(e.g. {GRACE_ENV}=30; 0 stops trials at once)"
        )
    return value
