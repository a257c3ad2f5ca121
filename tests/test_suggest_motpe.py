"""Tests of :mod:`tunery.suggest.motpe`: the good/bad split of MOTPE and constrained TPE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunery.pareto import hypervolume_contributions, nondominated_ranks, reference_point
from tunery.suggest.motpe import MIN_WEIGHT, contributions, split


def _front(points: list[list[float]]) -> np.ndarray:
    ranks = nondominated_ranks(points)
    return np.array([p for p, r in zip(points, ranks, strict=True) if r == 0])


@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 20)).map(lambda t: [float(t[0]), float(t[1])]),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=200, deadline=None)
def test_fast_2d_contributions_match_the_exact_ones(points: list[list[float]]) -> None:
    front = _front(points)
    reference = reference_point(front.tolist())
    expected = hypervolume_contributions(front.tolist(), reference)
    assert np.allclose(contributions(front, reference), expected)


def test_single_objective_unconstrained_is_the_plain_tpe_split() -> None:
    losses = np.array([[3.0], [1.0], [2.0], [1.0], [0.5]])
    below, above, weights = split(losses, None, 2)
    assert below.tolist() == [4, 1]  # stable: the first of two equal losses first
    assert above.tolist() == [3, 2, 0]
    assert weights.tolist() == [1.0, 1.0]


def test_feasible_first_then_least_violating() -> None:
    losses = np.array([[0.0], [5.0], [1.0], [4.0], [-1.0]])
    violation = np.array([2.0, 0.0, 0.5, 0.0, np.inf])
    below, above, _ = split(losses, violation, 3)
    # The two feasible ones by loss, then the least violating, although it has a worse loss
    # than the infeasible points of the bad group.
    assert below.tolist() == [3, 1, 2]
    assert above.tolist() == [0, 4]


def test_infeasible_never_good_while_feasible_suffice() -> None:
    rng = np.random.default_rng(3)
    losses = rng.random((40, 2))
    violation = np.where(rng.random(40) < 0.5, rng.random(40), 0.0)
    below, above, weights = split(losses, violation, 4)
    assert (violation[below] <= 0).all()
    # The bad group's infeasible points come ordered by violation after the feasible ones.
    bad_violation = violation[above]
    infeasible = bad_violation[bad_violation > 0]
    assert infeasible.tolist() == sorted(infeasible.tolist())
    assert weights.max() == 1.0 and weights.min() >= MIN_WEIGHT


def test_multi_objective_takes_whole_fronts_first() -> None:
    losses = np.array(
        [
            [1.0, 4.0],  # front
            [2.0, 2.0],  # front
            [4.0, 1.0],  # front
            [2.5, 2.5],  # rank 1
            [5.0, 5.0],  # rank 2
            [3.0, 3.0],  # rank 2
        ]
    )
    below, above, _ = split(losses, None, 4)
    assert sorted(below.tolist()) == [0, 1, 2, 3]
    assert sorted(above.tolist()) == [4, 5]


def test_a_front_too_large_is_cut_by_hypervolume_contribution() -> None:
    # One front of five; the reference point is (1.1, 1.1).  Contributions: 0.01, 0.22,
    # 0.0075, 0.0045, 0.029: point 3 goes first; then point 2 adds (1 - 0.5) * 0.15 = 0.075
    # and point 0 still 0.01, so point 0 goes.
    losses = np.array([[0.0, 1.0], [0.1, 0.45], [0.5, 0.3], [0.55, 0.29], [1.0, 0.0]])
    below, above, _ = split(losses, None, 3)
    assert below.tolist() == [1, 2, 4]
    assert sorted(above.tolist()) == [0, 3]


def test_weights_follow_hypervolume_contribution() -> None:
    losses = np.array([[0.0, 1.0], [0.5, 0.5], [0.51, 0.49], [1.0, 0.0], [2.0, 2.0]])
    below, _, weights = split(losses, None, 5)
    by_index = dict(zip(below.tolist(), weights.tolist(), strict=True))
    assert by_index[4] == MIN_WEIGHT  # dominated
    assert max(by_index.values()) == 1.0
    assert by_index[2] < by_index[0]  # a crowded point weighs less than an extreme one


@pytest.mark.parametrize("objectives", [2, 3, 5])
def test_split_is_a_partition(objectives: int) -> None:
    rng = np.random.default_rng(objectives)
    losses = rng.random((60, objectives))
    violation = np.where(rng.random(60) < 0.3, rng.random(60), 0.0)
    for n_below in (1, 6, 25, 60):
        below, above, weights = split(losses, violation, n_below)
        assert len(below) == n_below == len(weights)
        assert sorted([*below.tolist(), *above.tolist()]) == list(range(60))
        assert np.isfinite(weights).all() and weights.max() == 1.0
