"""Pareto maths for multi-objective experiments (pure; every objective minimised).

A point is a sequence of losses, one per objective, lower better (:mod:`tunery.history` signs
them: a maximised objective's loss is its negated value).  ``a`` *dominates* ``b`` when it is no
worse in every objective and strictly better in at least one; equal points do not dominate each
other, so duplicates of a front point are all on the front.

- :func:`non_dominated`: the indices of the front.
- :func:`nondominated_ranks`: 0 for the front, 1 for the front of what remains, and so on.
- :func:`crowding_distance`: NSGA-II's crowding distance of each point of a set.
- :func:`hypervolume`: the exact volume dominated by the points and bounded by a reference
  point (a 2-D sweep; 3 or more dimensions by slicing along the last objective, exact).
- :func:`hypervolume_contributions`: what each point alone adds to the hypervolume.
- :func:`reference_point`: the default reference point (the rule in its docstring).
- :func:`constrained_front` / :func:`constrained_ranks`: the feasible-first rule for
  constrained problems (a violation vector is feasible when every entry is ``<= 0``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "constrained_front",
    "constrained_ranks",
    "crowding_distance",
    "dominates",
    "hypervolume",
    "hypervolume_contributions",
    "is_feasible",
    "non_dominated",
    "nondominated_ranks",
    "reference_point",
    "total_violation",
]

Point = Sequence[float]


def _array(points: Sequence[Point]) -> NDArray[np.float64]:
    array = np.asarray(points, dtype=float)
    if array.size == 0:
        return array.reshape(0, array.shape[1] if array.ndim == 2 else 0)
    if array.ndim != 2:
        raise ValueError("points must be a sequence of equally long sequences of numbers")
    if not np.isfinite(array).all():
        raise ValueError("points must be finite numbers")
    return array


def dominates(a: Point, b: Point) -> bool:
    """Whether ``a`` is no worse than ``b`` in every objective and better in one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def _dominated_mask(array: NDArray[np.float64]) -> NDArray[np.bool_]:
    """For each row, whether another row dominates it.

    A point that dominates another comes before it in lexicographic order, and whatever is
    dominated is dominated by a member of the front; so one pass in that order, comparing each
    point with the front found so far, is exact and costs O(n x front size).
    """
    n = len(array)
    dominated = np.ones(n, dtype=bool)
    if n == 0:
        return dominated
    order = np.lexsort(array.T[::-1])
    front = np.empty_like(array)
    size = 0
    for i in order:
        row = array[i]
        if size:
            members = front[:size]
            if bool(((members <= row).all(axis=1) & (members < row).any(axis=1)).any()):
                continue
        front[size] = row
        size += 1
        dominated[i] = False
    return dominated


def non_dominated(points: Sequence[Point]) -> list[int]:
    """The indices (ascending) of the points no other point dominates."""
    array = _array(points)
    if len(array) == 0:
        return []
    return [int(i) for i in np.flatnonzero(~_dominated_mask(array))]


def nondominated_ranks(points: Sequence[Point]) -> list[int]:
    """Each point's non-dominated rank: 0 for the front, then the front of the rest, ..."""
    array = _array(points)
    ranks = [-1] * len(array)
    remaining = np.arange(len(array))
    rank = 0
    while len(remaining):
        mask = _dominated_mask(array[remaining])
        for i in remaining[~mask]:
            ranks[int(i)] = rank
        remaining = remaining[mask]
        rank += 1
    return ranks


def crowding_distance(points: Sequence[Point]) -> list[float]:
    """NSGA-II's crowding distance of each point within the set given (usually one front).

    Per objective, the points are sorted; the two extremes get infinity and every other point
    adds the gap between its neighbours divided by the objective's range (an objective on which
    all points agree adds nothing).  Sets of one or two points are all infinite.
    """
    array = _array(points)
    n = len(array)
    if n == 0:
        return []
    if n <= 2:
        return [math.inf] * n
    distance = np.zeros(n)
    for m in range(array.shape[1]):
        order = np.argsort(array[:, m], kind="stable")
        values = array[order, m]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = math.inf
        if span <= 0:
            continue
        gaps = (values[2:] - values[:-2]) / span
        distance[order[1:-1]] += gaps
    return [float(d) for d in distance]


def _hv2(array: NDArray[np.float64], reference: NDArray[np.float64]) -> float:
    """Exact 2-D hypervolume of points that all strictly dominate the reference."""
    order = np.lexsort((array[:, 1], array[:, 0]))
    volume = 0.0
    best_y = reference[1]
    for x, y in array[order]:
        if y < best_y:
            volume += (reference[0] - x) * (best_y - y)
            best_y = y
    return float(volume)


def _hv(array: NDArray[np.float64], reference: NDArray[np.float64]) -> float:
    n, d = array.shape
    if n == 0:
        return 0.0
    if d == 1:
        return float(reference[0] - array[:, 0].min())
    if n == 1:
        return float(np.prod(reference - array[0]))
    if d == 2:
        return _hv2(array, reference)
    # Slice along the last objective: between consecutive levels, the dominated region's
    # cross-section is the (d-1)-D hypervolume of the points at or below the slice's start.
    array = array[~_dominated_mask(array)] if n > 1 else array
    order = np.argsort(array[:, -1], kind="stable")
    array = array[order]
    levels = [*array[:, -1].tolist(), float(reference[-1])]
    volume = 0.0
    for i in range(len(array)):
        depth = levels[i + 1] - levels[i]
        if depth <= 0:
            continue
        volume += depth * _hv(array[: i + 1, :-1], reference[:-1])
    return float(volume)


def _inside(array: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.bool_]:
    return np.asarray((array < reference).all(axis=1), dtype=bool)


def _reference(reference: Point, dimensions: int) -> NDArray[np.float64]:
    ref = np.asarray(reference, dtype=float)
    if ref.ndim != 1 or (dimensions and len(ref) != dimensions):
        raise ValueError(f"the reference point needs {dimensions} coordinates, got {len(ref)}")
    if not np.isfinite(ref).all():
        raise ValueError("the reference point must be finite")
    return ref


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """The volume dominated by ``points`` and bounded by ``reference`` (exact).

    Points that do not strictly dominate the reference in every objective add nothing and are
    ignored.  Cost: O(n log n) in 2-D, O(n^2 log n) in 3-D, O(n^3 log n) in 4-D.
    """
    array = _array(points)
    ref = _reference(reference, array.shape[1] if array.size else 0)
    if len(array) == 0:
        return 0.0
    array = array[_inside(array, ref)]
    if len(array) == 0:
        return 0.0
    return _hv(array[~_dominated_mask(array)], ref)


def hypervolume_contributions(points: Sequence[Point], reference: Point) -> list[float]:
    """Each point's exclusive contribution: the hypervolume of all minus that of all but it.

    A dominated point, a duplicate of another point and a point outside the reference
    contribute 0.
    """
    array = _array(points)
    n = len(array)
    if n == 0:
        return []
    ref = _reference(reference, array.shape[1])
    contributions = [0.0] * n
    inside = _inside(array, ref)
    candidates = np.flatnonzero(inside)
    if len(candidates) == 0:
        return contributions
    sub = array[candidates]
    front = candidates[~_dominated_mask(sub)]
    total = _hv(array[front], ref)
    for i in front:
        rest = candidates[candidates != i]
        if any((array[j] == array[i]).all() for j in rest):
            continue  # a duplicate: removing one copy changes nothing
        # (The points it alone dominated count again without it.)
        remaining = array[rest]
        if len(remaining):
            remaining = remaining[~_dominated_mask(remaining)]
        contributions[int(i)] = max(0.0, total - _hv(remaining, ref))
    return contributions


def reference_point(points: Sequence[Point], margin: float = 0.1) -> tuple[float, ...]:
    """The default reference point of a set of losses.

    The nadir of the front (per objective, the worst loss among the non-dominated points) plus
    ``margin`` times the front's range on that objective; where the front has no range (one
    point, or all equal there), ``margin`` times ``max(1, |nadir|)``.  Every front point then
    strictly dominates the reference, so each adds to the hypervolume.
    """
    array = _array(points)
    if len(array) == 0:
        raise ValueError("a reference point needs at least one point")
    front = array[~_dominated_mask(array)]
    nadir = front.max(axis=0)
    span = nadir - front.min(axis=0)
    pad = np.where(span > 0, margin * span, margin * np.maximum(1.0, np.abs(nadir)))
    return tuple(float(v) for v in nadir + pad)


def is_feasible(violations: Sequence[float] | None) -> bool:
    """Whether a violation vector is satisfied (every entry ``<= 0``); None (unknown) is not."""
    return violations is not None and all(v <= 0 for v in violations)


def total_violation(violations: Sequence[float] | None) -> float:
    """The sum of the positive violations (infinity when unknown)."""
    if violations is None:
        return math.inf
    return float(sum(v for v in violations if v > 0))


def constrained_front(
    losses: Sequence[Point], violations: Sequence[Sequence[float] | None] | None = None
) -> list[int]:
    """The feasible-first front: the non-dominated points among the feasible ones.

    ``violations[i]`` is point ``i``'s constraint vector (``<= 0`` satisfied, None unknown);
    ``violations`` None means no constraints.  No feasible point, no front (empty list).
    """
    if violations is None:
        return non_dominated(losses)
    if len(violations) != len(losses):
        raise ValueError("losses and violations must be equally long")
    feasible = [i for i, v in enumerate(violations) if is_feasible(v)]
    return [feasible[i] for i in non_dominated([losses[i] for i in feasible])]


def constrained_ranks(
    losses: Sequence[Point], violations: Sequence[Sequence[float] | None] | None = None
) -> list[int]:
    """Deb's constrained-domination ranks: feasible points first, by non-dominated rank;
    then the infeasible ones, ranked after every feasible rank by total violation (equal
    violations share a rank; unknown violations last)."""
    if violations is None:
        return nondominated_ranks(losses)
    if len(violations) != len(losses):
        raise ValueError("losses and violations must be equally long")
    feasible = [i for i, v in enumerate(violations) if is_feasible(v)]
    ranks = [0] * len(losses)
    feasible_ranks = nondominated_ranks([losses[i] for i in feasible])
    for i, r in zip(feasible, feasible_ranks, strict=True):
        ranks[i] = r
    start = max(feasible_ranks) + 1 if feasible_ranks else 0
    infeasible = [i for i, v in enumerate(violations) if not is_feasible(v)]
    levels = sorted({total_violation(violations[i]) for i in infeasible})
    level_rank = {level: start + k for k, level in enumerate(levels)}
    for i in infeasible:
        ranks[i] = level_rank[total_violation(violations[i])]
    return ranks
