"""How often the controller reads a running trial's metric lines (:class:`ReadPacer`)."""

from __future__ import annotations

__all__ = ["ReadPacer"]


class ReadPacer:
    """Each running trial is read at most once per poll interval.

    A tick comes every poll interval, and also at once when any trial ends (Linux pidfds).
    Reading every running trial at each of those wakes cost one transaction per running trial
    per trial end (with many short trials in parallel, most of the controller's writes); now a
    running trial's new lines wait at most one poll interval, as with no early wake.  Nothing
    is lost or late at a trial's end: its final read takes every line left.  A read cut short
    by its time bound is no read: the trial is read again at the next tick.  (One float per
    trial started by this controller is kept: the ledger keeps every trial in memory anyway.)
    """

    #: Wakes are timed on the monotonic clock, reads on the controller's: a little slack.
    SLACK = 0.9

    def __init__(self, interval: float) -> None:
        self.interval = interval * self.SLACK
        self._read_at: dict[str, float] = {}

    def started(self, name: str, now: float) -> None:
        """A trial just started: it has nothing to read yet."""
        self._read_at[name] = now

    def due(self, name: str, now: float) -> bool:
        last = self._read_at.get(name)
        return last is None or now - last >= self.interval

    def read(self, name: str, now: float, *, complete: bool) -> None:
        if complete:
            self._read_at[name] = now
        else:
            self._read_at.pop(name, None)
