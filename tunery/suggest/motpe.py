"""The good/bad split of multi-objective and constrained TPE (MOTPE, c-TPE), in numpy.

:mod:`tunery.suggest.tpe` splits the observations of a single unconstrained objective by loss
(the best ``n_below`` are "good").  With several objectives or with constraints it asks
:func:`split` here, which orders the observations as follows and takes the first ``n_below``:

1. Feasible observations first (every constraint satisfied), infeasible ones after them ordered
   by total violation (the sum of each bound's excess; a missing constraint metric counts as an
   infinite violation), as Optuna's constraints approach does.  So the good group holds only
   feasible points while there are enough of them, and the least violating ones otherwise; every
   infeasible observation beyond that is "bad", so the search learns where the infeasible region
   lies.
2. Among the feasible ones with one objective: by loss.  With several: by non-dominated rank
   (whole fronts while they fit, as MOTPE does); the front that does not fit whole is cut by
   hypervolume: the point of smallest hypervolume contribution is dropped, one at a time,
   until the rest fits (a greedy hypervolume subset; exact contributions in O(n log n) for two
   objectives).  A front of more than :data:`MAX_HV_FRONT` points (24 with three objectives,
   10 with four), and with five or more objectives any front, is cut by crowding distance
   instead, as NSGA-II does.

The weights of the good group's kernels (MOTPE): each good point weighs its hypervolume
contribution to the good group's feasible front, relative to the largest one, at least
:data:`MIN_WEIGHT`; points off that front (and infeasible ones) weigh :data:`MIN_WEIGHT`.
Where the front is too large for exact contributions (the limits above), every front point
weighs 1.  The
reference point is :func:`tunery.pareto.reference_point` of the good group's feasible losses.
With one objective (constrained or not) every good point weighs the same, as in TPE.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tunery.pareto import (
    crowding_distance,
    hypervolume_contributions,
    non_dominated,
    reference_point,
)

__all__ = ["MAX_HV_FRONT", "MIN_WEIGHT", "contributions", "split"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The smallest weight of a good point, relative to the largest (MOTPE's contributions).
MIN_WEIGHT = 0.05
#: Larger last fronts of three or four objectives are cut by crowding distance (greedy
#: hypervolume costs too much there), by number of objectives.
MAX_HV_FRONT = {3: 24, 4: 10}
#: Most objectives whose hypervolume is computed exactly.
MAX_HV_OBJECTIVES = 4


def contributions(points: FloatArray, reference: Sequence[float]) -> FloatArray:
    """Each point's hypervolume contribution (points of one front, all inside ``reference``).

    Two objectives: the exact rectangle each point alone dominates, in O(n log n); more:
    :func:`tunery.pareto.hypervolume_contributions`.
    """
    n, m = points.shape
    if m != 2:
        return np.asarray(hypervolume_contributions(points.tolist(), reference), dtype=np.float64)
    order = np.lexsort((points[:, 1], points[:, 0]))
    x, y = points[order, 0], points[order, 1]
    right = np.append(x[1:], reference[0])
    above = np.insert(y[:-1], 0, reference[1])
    out = np.empty(n)
    out[order] = np.maximum(right - x, 0.0) * np.maximum(above - y, 0.0)
    return out


def _cut_front(points: FloatArray, keep: int) -> IntArray:
    """Indices (into ``points``, one front) of the ``keep`` points that stay."""
    n, m = points.shape
    if keep >= n:
        return np.arange(n, dtype=np.int64)
    if keep <= 0:
        return np.empty(0, dtype=np.int64)
    if m == 1:
        return np.asarray(np.argsort(points[:, 0], kind="stable")[:keep], dtype=np.int64)
    if m > MAX_HV_OBJECTIVES or (m > 2 and n > MAX_HV_FRONT[m]):
        crowd = np.asarray(crowding_distance(points.tolist()), dtype=np.float64)
        order = np.lexsort((np.arange(n), -crowd))
        return np.sort(order[:keep]).astype(np.int64)
    reference = reference_point(points.tolist())
    alive = list(range(n))
    while len(alive) > keep:
        alive.pop(int(np.argmin(contributions(points[alive], reference))))
    return np.asarray(alive, dtype=np.int64)


def _feasible_order(losses: FloatArray, n_below: int) -> IntArray:
    """The good part of the feasible ``losses`` first (see the module docstring), then the rest.

    Fronts are peeled only until ``n_below`` points are chosen; the rest follow in their order
    (only the first ``n_below`` matter to the split).
    """
    n, m = losses.shape
    if m == 1 or n == 0:
        return np.asarray(np.argsort(losses[:, 0], kind="stable"), dtype=np.int64)
    chosen: list[int] = []
    remaining = np.arange(n)
    while len(chosen) < n_below and remaining.size:
        front = remaining[non_dominated(losses[remaining].tolist())]
        room = n_below - len(chosen)
        if front.size <= room:
            chosen += front.tolist()
        else:
            chosen += front[_cut_front(losses[front], room)].tolist()
        remaining = remaining[~np.isin(remaining, front)]
    picked = set(chosen)
    rest = [i for i in range(n) if i not in picked]
    return np.asarray(chosen + rest, dtype=np.int64)


def _weights(losses: FloatArray, feasible: npt.NDArray[np.bool_]) -> FloatArray:
    """MOTPE's weights of the good points (largest 1, none below :data:`MIN_WEIGHT`)."""
    n, m = losses.shape
    weights = np.full(n, MIN_WEIGHT)
    good = np.flatnonzero(feasible)
    if m == 1 or good.size == 0:
        return np.ones(n)
    front = good[non_dominated(losses[good].tolist())]
    if front.size == 1 or m > MAX_HV_OBJECTIVES or (m > 2 and front.size > MAX_HV_FRONT[m]):
        weights[front] = 1.0
        return weights
    reference = reference_point(losses[front].tolist())
    gains = contributions(losses[front], reference)
    top = float(gains.max()) if gains.size else 0.0
    if not np.isfinite(top) or top <= 0.0:
        weights[front] = 1.0
        return weights
    weights[front] = np.maximum(gains / top, MIN_WEIGHT)
    return weights


def split(
    losses: FloatArray, violation: FloatArray | None, n_below: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """``(good indices, bad indices, good weights)`` of ``n`` observations.

    ``losses`` is ``(n, objectives)`` (signed for minimisation); ``violation`` the total
    violation of each (None: no constraints).  The weights are one per good index, in its
    order (the largest 1).
    """
    n = losses.shape[0]
    if violation is None:
        violation = np.zeros(n)
    feasible = np.flatnonzero(violation <= 0.0)
    infeasible = np.flatnonzero(violation > 0.0)
    infeasible = infeasible[np.argsort(violation[infeasible], kind="stable")]
    order = np.concatenate(
        [feasible[_feasible_order(losses[feasible], n_below)], infeasible]
    ).astype(np.int64)
    below, above = order[:n_below], order[n_below:]
    weights = _weights(losses[below], violation[below] <= 0.0)
    return below, above, weights
