"""Tests of :mod:`tunery.pareto`: fronts, ranks, crowding, exact hypervolume, vs brute force."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunery.pareto import (
    constrained_front,
    constrained_ranks,
    crowding_distance,
    dominates,
    hypervolume,
    hypervolume_contributions,
    non_dominated,
    nondominated_ranks,
    reference_point,
)


def points_of(
    dimensions: int, *, max_size: int = 8, low: int = 0, high: int = 6
) -> st.SearchStrategy:
    """Small integer points (many ties and duplicates), as floats."""
    coordinate = st.integers(low, high).map(float)
    return st.lists(st.tuples(*[coordinate] * dimensions).map(list), min_size=0, max_size=max_size)


def brute_dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def brute_front(points: list[list[float]]) -> list[int]:
    return [
        i
        for i, p in enumerate(points)
        if not any(brute_dominates(q, p) for j, q in enumerate(points) if j != i)
    ]


def brute_hypervolume(points: list[list[float]], reference: list[float]) -> float:
    """Sum of the grid cells (between consecutive distinct coordinates) that some point
    dominates: exact for any finite set."""
    d = len(reference)
    axes = []
    for k in range(d):
        values = sorted({p[k] for p in points if p[k] < reference[k]} | {reference[k]})
        axes.append(values)
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        low = [axes[k][c] for k, c in enumerate(cell)]
        if any(all(p[k] <= low[k] for k in range(d)) for p in points):
            total += math.prod(axes[k][c + 1] - axes[k][c] for k, c in enumerate(cell))
    return total


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda d: points_of(d, max_size=12)))
def test_non_dominated_is_exactly_the_brute_force_front(points: list[list[float]]) -> None:
    assert non_dominated(points) == brute_front(points)


def test_equal_points_are_all_kept_and_dominates_is_strict() -> None:
    points = [[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0]]
    assert non_dominated(points) == [0, 1, 2]
    assert dominates([1, 2], [2, 2]) and not dominates([1, 2], [1, 2])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3).flatmap(lambda d: points_of(d, max_size=10)))
def test_ranks_peel_fronts(points: list[list[float]]) -> None:
    ranks = nondominated_ranks(points)
    assert len(ranks) == len(points)
    if not points:
        return
    assert [i for i, r in enumerate(ranks) if r == 0] == non_dominated(points)
    assert set(ranks) == set(range(max(ranks) + 1))  # no gaps
    for i, j in itertools.permutations(range(len(points)), 2):
        if brute_dominates(points[i], points[j]):
            assert ranks[i] < ranks[j]
    # Every point of rank r > 0 is dominated by some point of rank r - 1.
    for j, r in enumerate(ranks):
        if r:
            assert any(
                ranks[i] == r - 1 and brute_dominates(points[i], points[j])
                for i in range(len(points))
            )


def test_crowding_distance_extremes_are_infinite_and_inner_points_measured() -> None:
    points = [[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]]
    d = crowding_distance(points)
    assert d[0] == d[3] == math.inf
    # [1,3]: neighbours [0,4] and [3,1]: (3-0)/4 + (4-1)/4 = 1.5; [3,1]: (4-1)/4 + (3-0)/4.
    assert d[1] == pytest.approx(1.5) and d[2] == pytest.approx(1.5)
    assert crowding_distance([[1.0, 1.0], [2.0, 0.0]]) == [math.inf, math.inf]
    assert crowding_distance([]) == []


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3).flatmap(lambda d: points_of(d, max_size=9)))
def test_crowding_distance_is_non_negative_with_infinite_extremes(
    points: list[list[float]],
) -> None:
    d = crowding_distance(points)
    assert len(d) == len(points) and all(x >= 0 for x in d)
    if len(points) >= 1:
        assert any(x == math.inf for x in d)


@pytest.mark.parametrize("dimensions", [1, 2, 3, 4])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_hypervolume_equals_the_brute_force_volume(dimensions: int, data: st.DataObject) -> None:
    points = data.draw(points_of(dimensions, max_size=7 if dimensions == 4 else 9))
    reference = data.draw(
        st.lists(st.integers(0, 7).map(float), min_size=dimensions, max_size=dimensions)
    )
    expected = brute_hypervolume(points, reference)
    assert hypervolume(points, reference) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("dimensions", [2, 3, 4])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hypervolume_of_real_points_equals_the_brute_force_volume(
    dimensions: int, data: st.DataObject
) -> None:
    coordinate = st.floats(0, 1, allow_nan=False, allow_subnormal=False)
    points = data.draw(
        st.lists(st.lists(coordinate, min_size=dimensions, max_size=dimensions), max_size=6)
    )
    reference = [1.1] * dimensions
    expected = brute_hypervolume(points, reference)
    assert hypervolume(points, reference) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_hypervolume_known_values() -> None:
    assert hypervolume([[1.0, 2.0], [2.0, 1.0]], [3.0, 3.0]) == 3.0
    assert hypervolume([[0.0, 0.0, 0.0]], [1.0, 2.0, 3.0]) == 6.0
    assert hypervolume([], [1.0, 1.0]) == 0.0
    # A point not strictly inside the reference adds nothing.
    assert hypervolume([[1.0, 0.0], [3.0, 0.0]], [2.0, 1.0]) == 1.0
    with pytest.raises(ValueError, match="reference point needs 2"):
        hypervolume([[1.0, 1.0]], [2.0])


@pytest.mark.parametrize("dimensions", [2, 3, 4])
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_contributions_are_the_volume_lost_without_each_point(
    dimensions: int, data: st.DataObject
) -> None:
    points = data.draw(points_of(dimensions, max_size=6))
    reference = [7.0] * dimensions
    contributions = hypervolume_contributions(points, reference)
    total = hypervolume(points, reference)
    for i, c in enumerate(contributions):
        rest = points[:i] + points[i + 1 :]
        assert c == pytest.approx(total - hypervolume(rest, reference), abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4).flatmap(lambda d: points_of(d)))
def test_reference_point_is_strictly_dominated_by_the_front(points: list[list[float]]) -> None:
    if not points:
        with pytest.raises(ValueError):
            reference_point(points)
        return
    reference = reference_point(points)
    for i in non_dominated(points):
        assert all(x < r for x, r in zip(points[i], reference, strict=True))


def test_reference_point_rule() -> None:
    # Nadir of the front (3, 4) plus 10% of its range (2, 3); the dominated point is ignored.
    assert reference_point([[1.0, 4.0], [3.0, 1.0], [5.0, 5.0]]) == pytest.approx((3.2, 4.3))
    # No range: 10% of max(1, |nadir|).
    assert reference_point([[-20.0, 0.5]]) == pytest.approx((-18.0, 0.6))


def test_constrained_front_is_the_front_of_the_feasible_points() -> None:
    losses = [[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]]
    violations: list[list[float] | None] = [[0.5], [0.0], [-1.0], None]
    assert constrained_front(losses, violations) == [1, 2]
    assert constrained_front(losses, None) == [0]
    assert constrained_front(losses, [[1.0], [1.0], None, None]) == []
    ranks = constrained_ranks(losses, [[0.5], [0.0], [-1.0], None])
    assert ranks[1] == ranks[2] == 0 and ranks[0] == 1 and ranks[3] == 2


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda d: st.lists(
            st.tuples(
                st.tuples(*[st.integers(0, 5).map(float)] * d).map(list),
                st.one_of(
                    st.none(), st.lists(st.integers(-2, 2).map(float), min_size=1, max_size=2)
                ),
            ),
            max_size=10,
        )
    )
)
def test_constrained_front_is_the_brute_force_feasible_front(
    pairs: list[tuple[list[float], list[float] | None]],
) -> None:
    losses = [p for p, _ in pairs]
    violations = [v for _, v in pairs]
    feasible = [i for i, v in enumerate(violations) if v is not None and all(x <= 0 for x in v)]
    expected = [
        i
        for i in feasible
        if not any(brute_dominates(losses[j], losses[i]) for j in feasible if j != i)
    ]
    assert constrained_front(losses, violations) == expected
