"""Bounded learning curves: which of a trial's observations are kept when it reports a flood.

A trial may print a metric line millions of times.  Its metric summaries (min, max, latest)
are always computed from every value; what is bounded is the *curve*, the observations stored
per trial and metric (and the controller's copy of it for early stopping):

* the first ``limit`` observations are kept, every one of them;
* past that, the first ``limit // 2`` (the *head*) stay for good, and the rest of the curve
  (the *tail*) is a uniform sample: tail observation ``t`` (0-based, counted from the end of
  the head) is kept when ``t`` is a multiple of the *stride*, the smallest power of two that
  keeps at most ``limit - limit // 2`` of them.  When the stride doubles, every second kept
  tail observation is deleted.

So at most ``limit`` observations are stored per trial and metric, whatever the trial prints,
and which ones are stored depends only on how many were reported (never on how the lines were
read, in how many chunks, nor on a controller restart in between): with the default limit of
10,000, a metric reported 1,000,000 times keeps its first 5,000 points and then every 256th.
A trial whose curve was thinned gets the label :data:`THINNED_LABEL` naming the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tunery.model import Observation

__all__ = ["OBSERVATION_LIMIT", "THINNED_LABEL", "Thinning", "downsample"]

#: Observations stored per trial and metric at most (all of them up to this count).
OBSERVATION_LIMIT = 10_000
#: Label of a trial with a thinned curve; its value names the metrics, comma-separated.
THINNED_LABEL = "tunery.dev/observations-thinned"


@dataclass(frozen=True)
class Thinning:
    """The rule for one limit (see the module docstring)."""

    limit: int = OBSERVATION_LIMIT

    def __post_init__(self) -> None:
        if self.limit < 2:
            raise ValueError(f"the observation limit must be at least 2, not {self.limit}")

    @property
    def head(self) -> int:
        """Observations at the start that are always kept."""
        return self.limit // 2

    @property
    def capacity(self) -> int:
        """Tail observations kept at most."""
        return self.limit - self.head

    def stride(self, count: int) -> int:
        """The tail's stride once ``count`` observations have been reported (1: nothing dropped)."""
        if count <= self.limit:
            return 1
        tail = count - self.head
        stride = 2
        while -(-tail // stride) > self.capacity:
            stride *= 2
        return stride

    def advance(self, before: int, added: int) -> tuple[int, int]:
        """``(stride, every)`` when ``added`` observations follow ``before`` earlier ones.

        ``stride`` decides which of the new ones are kept (:meth:`kept`); the tail kept so far
        is thinned to one in ``every`` (1: it stays as it is), before the new ones join it.
        """
        old, new = self.stride(before), self.stride(before + added)
        return new, new // old

    def kept(self, ordinal: int, stride: int) -> bool:
        """Whether observation ``ordinal`` (0-based) is kept under ``stride``."""
        return ordinal < self.head or (ordinal - self.head) % stride == 0

    def stored(self, count: int) -> int:
        """How many observations are kept after ``count`` were reported."""
        if count <= self.limit:
            return count
        return self.head + -(-(count - self.head) // self.stride(count))

    def thinned(self, count: int) -> bool:
        """Whether some of ``count`` reported observations are no longer kept."""
        return count > self.limit


def downsample(points: Iterable[Observation], count: int, max_points: int) -> list[Observation]:
    """At most ``max_points`` (at least 4) of the ``count`` ``points``, for drawing a curve.

    All of them when there are few enough; else the first and the last, and of each stretch of
    consecutive points in between, the lowest and the highest value (in their order; the
    stretch's first point when it has no value), so spikes stay visible.  Reads ``points``
    once, keeping only what it returns.
    """
    max_points = max(4, max_points)
    if count <= max_points:
        return list(points)
    stretches = (max_points - 2) // 2
    size = -(-(count - 2) // stretches)
    out: list[Observation] = []
    # The current stretch: its index, first point, lowest and highest (position, point).
    current = -1
    first: tuple[int, Observation] | None = None
    low: tuple[int, Observation] | None = None
    high: tuple[int, Observation] | None = None
    last: tuple[int, Observation] | None = None

    def flush(until: int) -> None:
        """Append the current stretch's points at positions before ``until``."""
        kept = {p[0]: p[1] for p in (low, high) if p is not None}
        if not kept and first is not None:
            kept = {first[0]: first[1]}
        out.extend(point for i, point in sorted(kept.items()) if i < until)

    for i, point in enumerate(points):
        last = (i, point)
        if i == 0:
            out.append(point)
            continue
        stretch = min((i - 1) // size, stretches - 1)
        if stretch != current:
            flush(i)
            current, first, low, high = stretch, (i, point), None, None
        value = point.value
        if value is not None:
            if low is None or value < low[1].value:  # type: ignore[operator]
                low = (i, point)
            if high is None or value > high[1].value:  # type: ignore[operator]
                high = (i, point)
    if last is not None and last[0] > 0:
        flush(last[0])
        out.append(last[1])
    return out
