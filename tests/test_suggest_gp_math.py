"""Tests of the Gaussian-process maths (:mod:`tunery.suggest.gp_math`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunery.pareto import hypervolume
from tunery.suggest.gp_math import (
    GaussianProcess,
    default_theta,
    fit_theta,
    log_expected_improvement,
)
from tunery.suggest.gp_mo_math import (
    log_ehvi,
    log_probability_of_feasibility,
    nondominated_boxes,
)


def test_gp_posterior_interpolates_and_is_uncertain_away_from_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((20, 2)) * 0.8
    y = np.sin(6 * x[:, 0]) + x[:, 1]
    y = (y - y.mean()) / y.std()
    theta = np.log([0.3, 0.3, 1.0, 1e-6])
    gp = GaussianProcess(x, y, theta)
    mu, sd = gp.predict(x)
    assert np.abs(mu - y).max() < 1e-3
    assert sd.max() < 0.02
    _, far = gp.predict(np.array([[1.0, 1.0], [0.99, 0.95]]))
    assert far.min() > 0.3
    # Fitted hyperparameters reproduce the data too.
    fitted = GaussianProcess(x, y, fit_theta(x, y, [theta]))
    assert np.abs(fitted.predict(x)[0] - y).max() < 0.1


def test_fantasies_shrink_the_variance() -> None:
    x = np.array([[0.1], [0.9]])
    gp = GaussianProcess(x, np.array([0.0, 1.0]), np.log([0.2, 1.0, 1e-6]))
    before = gp.predict(np.array([[0.5]]))[1][0]
    gp.add(np.array([0.5]), 0.3)
    mu, sd = gp.predict(np.array([[0.5]]))
    assert sd[0] < 0.05 < before and abs(mu[0] - 0.3) < 1e-3


def _mixed_data(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    cont = rng.random((n, 2))
    category = rng.integers(0, 3, n)
    x = np.hstack([cont, np.eye(3)[category]])
    y = np.sin(4 * cont[:, 0]) + cont[:, 1] + np.array([0.0, 0.5, 1.0])[category]
    return x, (y - y.mean()) / y.std()


def test_a_categoricals_one_hot_columns_share_one_length_scale() -> None:
    x, y = _mixed_data()
    groups = np.array([0, 1, 2, 2, 2])
    theta = fit_theta(x, y, [default_theta(5)], groups=groups)
    assert len(theta) == 5 + 2
    assert theta[2] == theta[3] == theta[4]
    untied = fit_theta(x, y, [default_theta(5)])
    assert len({float(v) for v in untied[2:5]}) > 1


def test_one_group_per_column_is_the_untied_fit() -> None:
    x, y = _mixed_data()
    tied = fit_theta(x[:, :2], y, [default_theta(2)], groups=np.array([0, 1]))
    np.testing.assert_array_equal(tied, fit_theta(x[:, :2], y, [default_theta(2)]))


def test_the_shared_length_scale_has_its_own_prior() -> None:
    # All trials in one category: the data say nothing of that length scale, so the fit
    # lands on its prior's mode, ls = sqrt(b / a) for Gamma(a, b) on 1 / ls^2: 2 for a
    # categorical parameter (Gamma(2, 8)), 0.5 with the continuous prior (Gamma(2, 0.5)).
    x, y = _mixed_data()
    x[:, 2:] = [1.0, 0.0, 0.0]
    tied = fit_theta(x, y, [default_theta(5)], groups=np.array([0, 1, 2, 2, 2]))
    assert math.exp(tied[2]) == pytest.approx(2.0, rel=1e-3)
    untied = fit_theta(x, y, [default_theta(5)])
    assert math.exp(untied[2]) == pytest.approx(0.5, rel=1e-3)


def test_log_expected_improvement_is_finite_and_accurate() -> None:
    from scipy.stats import norm

    z = np.array([-1e4, -200.0, -30.0, -5.0, -1.0, 0.0, 3.0])
    value, d_mu, _ = log_expected_improvement(-z, np.ones_like(z), 0.0)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(d_mu))
    assert np.all(np.diff(value) > 0)
    mid = z >= -30
    naive = np.log(norm.pdf(z[mid]) + z[mid] * norm.cdf(z[mid]))
    assert np.allclose(value[mid], naive, rtol=1e-6)


# --------------------------------------------------------------------------- multi-objective


def _box_improvement(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Hypervolume improvement of each row of ``y`` over the boxes (a brute-force sum)."""
    lengths = np.maximum(0.0, upper[None] - np.maximum(lower[None], y[:, None, :]))
    return np.asarray(lengths.prod(axis=2).sum(axis=1))


@pytest.mark.parametrize("dims", [2, 3, 4])
def test_boxes_cover_exactly_what_the_front_leaves(dims: int) -> None:
    rng = np.random.default_rng(dims)
    front = rng.random((7, dims))
    ref = np.full(dims, 1.1)
    lower, upper = nondominated_boxes(front, ref)
    z = rng.random((50_000, dims)) * 1.1
    dominated = np.zeros(len(z), dtype=bool)
    for point in front:
        dominated |= np.all(z >= point, axis=1)
    inside = np.zeros(len(z), dtype=int)
    for low, high in zip(lower, upper, strict=True):
        inside += np.all((z > low) & (z < high), axis=1)
    # Every point below the reference is in exactly one box or dominated, never both.
    assert np.array_equal(inside, (~dominated).astype(int))


def test_boxes_match_the_hypervolume() -> None:
    rng = np.random.default_rng(5)
    front = rng.random((9, 3))
    ref = np.array([1.0, 1.2, 1.1])
    lower, upper = nondominated_boxes(front, ref)
    # The improvement of the ideal corner (0, 0, 0) is everything the front leaves.
    left = _box_improvement(np.zeros((1, 3)), lower, upper)[0]
    assert left == pytest.approx(float(np.prod(ref)) - hypervolume(front.tolist(), ref.tolist()))


def test_ehvi_matches_a_monte_carlo_estimate_in_2d() -> None:
    rng = np.random.default_rng(0)
    front = np.array([[0.1, 0.9], [0.3, 0.5], [0.6, 0.35], [0.9, 0.1], [0.7, 0.7]])
    ref = np.array([1.1, 1.1])
    lower, upper = nondominated_boxes(front, ref)
    mu = np.array([[0.2, 0.4], [0.5, 0.5], [0.05, 1.0], [0.8, 0.05], [1.5, 1.5]])
    sd = np.array([[0.1, 0.2], [0.3, 0.05], [0.02, 0.3], [0.2, 0.2], [0.4, 0.4]])
    exact = np.exp(log_ehvi(mu, sd, lower, upper))
    draws = rng.standard_normal((400_000, 2))
    for i in range(len(mu)):
        estimate = _box_improvement(mu[i] + sd[i] * draws, lower, upper)
        error = 4 * estimate.std() / math.sqrt(len(draws))
        assert abs(exact[i] - estimate.mean()) < error + 1e-9, (i, exact[i], estimate.mean())


def test_log_ehvi_stays_finite_and_ordered_far_behind_the_front() -> None:
    front = np.array([[0.0, 1.0], [1.0, 0.0]])
    lower, upper = nondominated_boxes(front, np.array([1.5, 1.5]))
    mu = np.array([[3.0, 3.0], [10.0, 10.0], [40.0, 40.0]])
    value = log_ehvi(mu, np.full_like(mu, 0.5), lower, upper)
    assert np.all(np.isfinite(value)) and np.all(np.diff(value) < 0)


def test_one_objective_ehvi_is_expected_improvement() -> None:
    lower, upper = nondominated_boxes(np.array([[0.2], [0.5]]), np.array([1.0]))
    mu = np.array([[0.0], [0.4], [2.0]])
    sd = np.array([[0.3], [0.1], [0.5]])
    expected = log_expected_improvement(mu[:, 0], sd[:, 0], 0.2)[0]
    assert np.allclose(log_ehvi(mu, sd, lower, upper), expected)


def test_probability_of_feasibility_is_the_product_of_normal_cdfs() -> None:
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    mu = rng.normal(size=(6, 3))
    sd = rng.random((6, 3)) + 0.1
    thresholds = np.array([0.0, -0.5, 1.0])
    brute = np.array(
        [math.prod(norm.cdf(thresholds[j], mu[i, j], sd[i, j]) for j in range(3)) for i in range(6)]
    )
    assert np.allclose(np.exp(log_probability_of_feasibility(mu, sd, thresholds)), brute)
    assert np.array_equal(
        log_probability_of_feasibility(mu[:, :0], sd[:, :0], thresholds[:0]), np.zeros(6)
    )


def test_a_reduced_front_bounds_the_improvement_from_above() -> None:
    rng = np.random.default_rng(2)
    angles = rng.random((40, 3))
    front = angles / np.linalg.norm(angles, axis=1, keepdims=True)  # all non-dominated
    ref = np.full(3, 1.1)
    exact = nondominated_boxes(front, ref)
    coarse = nondominated_boxes(front, ref, 64)
    assert len(exact[0]) > 64 >= len(coarse[0])
    mu = rng.random((50, 3))
    sd = rng.random((50, 3)) * 0.2 + 0.01
    assert np.all(log_ehvi(mu, sd, *coarse) >= log_ehvi(mu, sd, *exact) - 1e-9)
