"""The trial-side stop channel: how early stopping asks a trial to end on its own.

When the controller's early stopping (medianstop, asha) decides to stop a running trial, it
first saves the outcome it will give the trial (``pending_outcome``, see "Crash safety" in
docs/architecture.md), then writes the trial's **stop marker**, ``<trial dir>/stop-requested``
(named to the trial in :envvar:`TUNERY_STOP_FILE` by the launcher), and gives the trial a grace
period (:envvar:`TUNERY_STOP_GRACE` seconds, 10 by default) to exit on its own: a framework
callback sees the marker (:func:`should_stop`, ``tunery.should_stop()``), ends training and the
script returns.  Only a trial that listens is asked: the first :func:`should_stop` call
creates ``<trial dir>/stop-listening``; a trial that never checks is stopped at once, as
before (no grace period spent on a script that would not notice).  A trial that ends after
the marker, with any exit code, is ``EarlyStopped``; one that is still running when the grace
period is over is killed as before (SIGTERM, then SIGKILL).  Only executors whose trials see
the controller's trial directory use the marker (``Executor.stop_channel``: the local
executor); the others are stopped at once, as before.

This module imports nothing of tunery but its errors: the launcher, the controller and the
trial share it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, TypeGuard

from tunery.errors import UserInputError

__all__ = [
    "ASKED_AT",
    "DEFAULT_GRACE",
    "GRACE_ENV",
    "LISTEN_FILE",
    "STOP_FILE",
    "STOP_FILE_ENV",
    "asked_outcome",
    "ended",
    "grace_from_env",
    "grace_is_over",
    "grace_over",
    "killed",
    "listen_file",
    "listens",
    "request_stop",
    "should_stop",
    "stop_file",
    "was_asked",
]

#: Environment variable naming the trial's stop marker (set by the launcher).
STOP_FILE_ENV = "TUNERY_STOP_FILE"
#: The marker's name in the trial directory.
STOP_FILE = "stop-requested"
#: Created by the trial in its trial directory when it first checks the marker.
LISTEN_FILE = "stop-listening"
#: Environment variable of the controller: seconds a trial asked to stop has to end on its own.
GRACE_ENV = "TUNERY_STOP_GRACE"
#: The grace period's default, in seconds.
DEFAULT_GRACE = 10.0


def stop_file(trial_dir: str) -> str:
    """The stop marker's path in ``trial_dir``."""
    return os.path.join(os.path.abspath(trial_dir), STOP_FILE)


def listen_file(stop_path: str) -> str:
    """The file a trial creates the first time it checks its stop marker, next to it."""
    return os.path.join(os.path.dirname(stop_path), LISTEN_FILE)


#: The stop marker this process has said it listens to (created its listen file for).
_listening: str | None = None


def should_stop() -> bool:
    """Whether the experiment's early stopping asked this trial to stop.

    True once the controller wrote the trial's stop marker (the file named in
    :envvar:`TUNERY_STOP_FILE`); the trial then has the grace period to end on its own (any
    exit code: it ends ``EarlyStopped``), after which it is killed.  The first call also tells
    the controller that the trial listens (a trial that never asks is stopped at once, as
    before).  False outside a trial tunery runs.  One ``stat`` per call.
    """
    global _listening
    path = os.environ.get(STOP_FILE_ENV)
    if not path:
        return False
    if _listening != path:
        _listening = path
        try:
            with open(listen_file(path), "a", encoding="utf-8"):
                pass
        except OSError:
            pass  # the controller then stops the trial at once, as before
    return os.path.exists(path)


def listens(trial_dir: str) -> bool:
    """Whether the trial of ``trial_dir`` has checked its stop marker (it can be asked)."""
    return os.path.exists(os.path.join(os.path.abspath(trial_dir), LISTEN_FILE))


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

    Raises :class:`~tunery.errors.UserInputError` naming the variable when it is not a
    number of 0 or more.
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
        raise UserInputError(
            f"{GRACE_ENV}={text!r}: the grace period must be a number of seconds, 0 or more",
            f"e.g. {GRACE_ENV}=30 (0 stops trials at once)",
        )
    return value


# --------------------------------------------------------------------------- the controller's side

#: The key of a trial's pending outcome that says its stop marker was written (and when).
ASKED_AT = "askedAt"


def asked_outcome(status: str, reason: str, message: str, now: float) -> dict[str, object]:
    """The pending outcome of a trial asked to stop at ``now`` (its marker about to be
    written): the outcome it gets when it ends, whatever its exit code."""
    return {"status": status, "reason": reason, "message": message, ASKED_AT: now}


def was_asked(pending: Mapping[str, Any] | None) -> TypeGuard[Mapping[str, Any]]:
    """Whether a trial's pending outcome says it was asked to stop through its marker."""
    return bool(pending) and ASKED_AT in pending  # type: ignore[operator]


def grace_is_over(pending: Mapping[str, Any] | None, now: float, grace: float) -> bool:
    """Whether a trial asked to stop has had its grace period (then it is killed)."""
    if not was_asked(pending):
        return False
    try:
        return now - float(pending[ASKED_AT]) >= grace
    except (TypeError, ValueError):
        return True


def grace_over(trial: Any, now: float, grace: float) -> bool:
    """:func:`grace_is_over` of a trial (anything with a ``pending_outcome``)."""
    return grace_is_over(trial.pending_outcome, now, grace)


def ended(pending: Mapping[str, Any]) -> dict[str, str]:
    """The outcome of a trial that ended after its marker was written, within the grace."""
    return {
        "status": str(pending["status"]),
        "reason": str(pending["reason"]),
        "message": f"{pending['message']} (the trial ended on its own when asked to stop)",
    }


def killed(pending: Mapping[str, Any], now: float) -> dict[str, str]:
    """The outcome of a trial asked to stop that was killed while still running."""
    try:
        after = f" {max(0.0, now - float(pending[ASKED_AT])):.0f} s"
    except (TypeError, ValueError):
        after = ""
    return {
        "status": str(pending["status"]),
        "reason": str(pending["reason"]),
        "message": f"{pending['message']} (killed: still running{after} after it was asked "
        "to stop)",
    }
