"""``asha`` for experiments with several objectives or with constraints: Pareto-aware rungs.

:mod:`tunery.stopping.asha` builds this rule instead of its single-objective one when the spec
has more than one objective or any constraint (one objective with no constraint keeps the
single-objective rule, decision for decision).  The rungs, the settings and the moment a trial
is judged are the same; what is compared changes:

- **A trial's point at a rung.**  For each objective, the first value of its metric the trial
  reported at or past the rung's step (NaN, infinite and missing values skipped), signed for
  minimisation; likewise for each constraint's metric, turned into violations (``value - max``,
  ``min - value``; ``<= 0`` is satisfied).  The trial enters the rung, and is judged, on the
  first controller tick at which one of its objectives has such a value; an objective or
  constraint without one yet is *missing* at that rung (a value arriving later fills it in,
  for the judgements of later trials; the trial itself is judged once per rung).
- **Who it is compared with.**  The objectives the newcomer has at the rung (``A``): it is
  compared on those only, with the trials of the rung that also have every objective of ``A``
  (itself included; ``n`` of them).  A metric reported only at the end therefore never takes
  part at the rungs, and a trial that reports only some objectives is not held to the others.
- **Its position.**  Infeasible at the rung (a constraint value known and violated) ranks after
  every feasible one, and among the infeasible by total violation (the sum of the positive
  violations), as in Deb's constrained domination; a constraint not reported yet counts as
  satisfied.  Feasible ones are ordered by non-dominated rank on ``A`` (:mod:`tunery.pareto`),
  then, within the newcomer's front, by crowding distance (larger first, NSGA-II's rule; with
  one objective compared, no tie-break).  The newcomer's position is the number of trials
  strictly ahead of it; it goes on when that is below ``max(1, n // reduction_factor)``, and
  is stopped otherwise.  Ties favour the newcomer, as in the single-objective rule, which this
  is on one objective.

The cost of a judgement grows with the trials the rung holds: the non-dominated ranks of the
``n`` trials compared cost ``O(n log n)`` with two objectives (``O(n^2)`` vectorised with more),
the crowding distances those of the newcomer's front only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tunery.history import History
from tunery.model import ExperimentSpec, ObjectiveType, Observation
from tunery.pareto import crowding_distance
from tunery.stopping.asha import parse_settings

__all__ = ["ParetoAsha"]

#: A trial's values at a rung: objectives' losses, then constraints' violations (None: missing).
Point = list[float | None]


@dataclass(frozen=True)
class _Slot:
    """One place in a point: which metric fills it and how its value is turned into a number."""

    metric: str
    #: Multiplies the value (-1 for a maximised objective or a min bound, else 1).
    sign: float
    #: Subtracted afterwards (a constraint's bound; 0 for an objective).
    offset: float
    #: An objective (True) or a constraint's violation (False).
    objective: bool

    def number(self, value: float) -> float:
        return self.sign * value - self.offset


@dataclass
class _Read:
    """How much of a trial's curve of one metric has been read."""

    size: int = 0
    last: Observation | None = None
    #: The next rung this metric has not given a value for yet.
    rung: int = 0


@dataclass
class _Track:
    """A trial: its metrics' reading, the rungs it has entered, its points there."""

    reads: dict[str, _Read] = field(default_factory=dict)
    #: The rungs entered (rung ``k`` is entered once an objective has a value there).
    rungs: int = 0
    stopped: bool = False
    points: list[Point] = field(default_factory=list)


def _slots(spec: ExperimentSpec) -> tuple[_Slot, ...]:
    objective = spec.objective
    slots = [
        _Slot(t.metric, -1.0 if t.type is ObjectiveType.MAXIMIZE else 1.0, 0.0, True)
        for t in objective.terms
    ]
    for c in objective.constraints:
        if c.min is not None:
            slots.append(_Slot(c.metric, -1.0, -c.min, False))  # min - value
        if c.max is not None:
            slots.append(_Slot(c.metric, 1.0, c.max, False))  # value - max
    return tuple(slots)


class ParetoAsha:
    """ASHA whose rungs rank trials by feasibility, non-dominated rank and crowding."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.settings = parse_settings(spec)
        self.slots = _slots(spec)
        self.metrics = tuple(dict.fromkeys(s.metric for s in self.slots))
        self._objectives = tuple(i for i, s in enumerate(self.slots) if s.objective)
        self._constraints = tuple(i for i, s in enumerate(self.slots) if not s.objective)
        #: rung index -> trial name -> its point there (the same list as the trial's).
        self._rungs: list[dict[str, Point]] = []
        self._tracks: dict[str, _Track] = {}

    def decide(self, history: History) -> dict[str, str]:
        """``{trial name: reason}`` for the running trials to stop now."""
        curves = {metric: history.curves_of(metric) for metric in self.metrics}
        for entry in history.entries:
            if entry.trial.status.is_completed:  # finished: enters rungs, judged no more
                self._advance(entry.trial.name, curves, judge=False)
        decisions: dict[str, str] = {}
        for trial in history.running_trials:
            reason = self._advance(trial.name, curves, judge=True)
            if reason is not None:
                decisions[trial.name] = reason
        return decisions

    def rung_sizes(self) -> list[int]:
        """How many trials entered each rung so far."""
        return [len(r) for r in self._rungs]

    # ------------------------------------------------------------------ reading

    def _advance(
        self,
        name: str,
        curves: Mapping[str, Mapping[str, Sequence[Observation]]],
        *,
        judge: bool,
    ) -> str | None:
        track = self._tracks.get(name)
        if track is None:
            track = self._tracks[name] = _Track()
        if track.stopped:  # what it reports after its stop enters no rung
            return None
        for metric in self.metrics:
            self._read(track, metric, curves[metric].get(name, ()))
        stop: str | None = None
        while track.rungs < len(track.points) and any(
            track.points[track.rungs][i] is not None for i in self._objectives
        ):
            k = track.rungs
            track.rungs += 1
            while len(self._rungs) <= k:
                self._rungs.append({})
            self._rungs[k][name] = track.points[k]
            if judge:
                stop = self._judge(k, name)
                if stop is not None:
                    track.stopped = True
                    break
        return stop

    def _read(self, track: _Track, metric: str, curve: Sequence[Observation]) -> None:
        read = track.reads.get(metric)
        if read is None:
            read = track.reads[metric] = _Read()
        if len(curve) < read.size or (read.size and curve[read.size - 1] is not read.last):
            # Not append-only (a long curve thinned): read it again; rungs given stay given.
            read.size = 0
        settings = self.settings
        for obs in curve[read.size :]:
            value = obs.value
            if value is None or not math.isfinite(value) or obs.metric_name != metric:
                continue
            while settings.judged(read.rung) and obs.step >= settings.rung_step(read.rung):
                while len(track.points) <= read.rung:
                    track.points.append([None] * len(self.slots))
                point = track.points[read.rung]
                for i, slot in enumerate(self.slots):
                    if slot.metric == metric and point[i] is None:
                        point[i] = slot.number(value)
                read.rung += 1
        read.size = len(curve)
        read.last = curve[-1] if curve else None

    # ------------------------------------------------------------------ the rule

    def _violation(self, point: Point) -> float:
        """The total known violation of a point (0: feasible or not known to be infeasible)."""
        total = 0.0
        for i in self._constraints:
            v = point[i]
            if v is not None and v > 0:
                total += v
        return total

    def _judge(self, k: int, name: str) -> str | None:
        rung = self._rungs[k]
        mine = rung[name]
        compared = [i for i in self._objectives if mine[i] is not None]
        others = [
            (other, point)
            for other, point in rung.items()
            if other != name and all(point[i] is not None for i in compared)
        ]
        n = len(others) + 1
        keep = max(1, n // self.settings.reduction_factor)
        violation = self._violation(mine)
        if violation > 0:
            ahead = sum(1 for _, p in others if self._violation(p) < violation)
            why = f"(infeasible: constraints violated by {violation:.6g} in all)"
        else:
            # The infeasible ones are behind it; the feasible ones are ranked with it.
            feasible = [_values(p, compared) for _, p in others if self._violation(p) == 0]
            ahead = _ahead([_values(mine, compared), *feasible])
            why = "by non-dominated rank" + (" and crowding distance" if len(compared) > 1 else "")
        if ahead < keep:
            return None
        step = self.settings.rung_step(k)
        shown = ", ".join(
            f"{self.slots[i].metric}={self.slots[i].sign * v:.6g}"
            for i in compared
            if (v := mine[i]) is not None
        )
        return (
            f"at rung {k} (step {step}) {shown} ranks {ahead + 1} of {n} {why}; only the best "
            f"{keep} go on (reduction_factor {self.settings.reduction_factor})"
        )


def _values(point: Point, indices: Sequence[int]) -> list[float]:
    """The point's values at ``indices`` (all known there)."""
    return [v for i in indices if (v := point[i]) is not None]


def _ahead(points: list[list[float]]) -> int:
    """How many of ``points`` are strictly ahead of ``points[0]``.

    Those of a front before its own; within its own front, those with a larger crowding
    distance (with more than one objective).
    """
    rank = ranks(points)
    mine = rank[0]
    ahead = sum(1 for r in rank if r < mine)
    if len(points[0]) > 1:
        front = [i for i, r in enumerate(rank) if r == mine]
        if len(front) > 2:
            crowding = crowding_distance([points[i] for i in front])
            ahead += sum(1 for c in crowding if c > crowding[0])
    return ahead


def ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Each point's non-dominated rank (0: the front; :func:`tunery.pareto.nondominated_ranks`).

    A point's rank is one more than the largest rank of the points dominating it.  With one or
    two objectives it costs ``O(n log n)`` (a sweep in lexicographic order, each front known by
    its last point); with more, one vectorised comparison with the points before it in
    lexicographic order (the only ones that can dominate it) per point.
    """
    n = len(points)
    if n == 0:
        return []
    if len(points[0]) == 1:
        index = {v: i for i, v in enumerate(sorted({p[0] for p in points}))}
        return [index[p[0]] for p in points]
    if len(points[0]) == 2:
        out = [0] * n
        # (f2, f1) of each front's last point, increasing with the rank: a point is dominated
        # by a front's last point exactly when that key is below its own.
        lasts: list[tuple[float, float]] = []
        for i in sorted(range(n), key=lambda j: (points[j][0], points[j][1])):
            key = (points[i][1], points[i][0])
            k = bisect.bisect_left(lasts, key)
            if k == len(lasts):
                lasts.append(key)
            else:
                lasts[k] = key
            out[i] = k
        return out
    array = np.asarray(points, dtype=float)
    order = np.lexsort(array.T[::-1])
    result = np.zeros(n, dtype=int)
    for position in range(1, n):
        i = order[position]
        before = order[:position]
        others = array[before]
        dominating = (others <= array[i]).all(axis=1) & (others < array[i]).any(axis=1)
        if dominating.any():
            result[i] = int(result[before[dominating]].max()) + 1
    return [int(r) for r in result]
