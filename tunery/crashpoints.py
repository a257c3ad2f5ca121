"""Named crash points: ``kill -9`` of this process at a chosen point, for crash tests.

With ``TUNERY_CRASH_AT=NAME:N`` in the environment, the N-th time (1-based) this process
reaches :func:`crashpoint` ``NAME`` it sends itself SIGKILL — a real crash at a precise place
(between two writes, inside a transaction before its commit), which a test then resumes from
and checks the invariants of (``tests/test_crashpoints.py``).  Without the variable a crash
point costs one comparison.  Points: see :data:`POINTS`.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "POINTS", "crashpoint"]

ENV = "TUNERY_CRASH_AT"

#: Every crash point, where it is.
POINTS = {
    "store.commit": "inside every write transaction of the store, just before its commit",
    "controller.trials_created": "after new trial rows are stored, before any starts",
    "controller.trial_started": "after a trial's process started, before its handle is saved",
    "controller.trial_running": "after a started trial's handle is saved",
    "controller.metrics_collected": "after new observations of a running trial are stored",
    "controller.trial_finished": "after a trial's final status is stored",
    "controller.stopping": "after stopping outcomes are saved, before processes are stopped",
    "controller.stop_asked": "after an early-stopped trial's outcome is saved, before its stop "
    "marker is written (tunery.stopfile)",
}


def _parse(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, count = value.partition(":")
    return name, int(count) if count.isdigit() and int(count) > 0 else 1


_TARGET = _parse(os.environ.get(ENV))
_seen = 0


def crashpoint(name: str) -> None:
    """SIGKILL this process if ``name`` is the configured crash point, reached N times."""
    global _seen
    if _TARGET is None or name != _TARGET[0]:
        return
    _seen += 1
    if _seen == _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
