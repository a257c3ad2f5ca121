"""Tests of the Gaussian-process maths (:mod:`tunery.suggest.gp_math`)."""

from __future__ import annotations

import numpy as np

from tunery.suggest.gp_math import GaussianProcess, fit_theta, log_expected_improvement


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


def test_log_expected_improvement_is_finite_and_accurate() -> None:
    from scipy.stats import norm

    z = np.array([-1e4, -200.0, -30.0, -5.0, -1.0, 0.0, 3.0])
    value, d_mu, _ = log_expected_improvement(-z, np.ones_like(z), 0.0)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(d_mu))
    assert np.all(np.diff(value) > 0)
    mid = z >= -30
    naive = np.log(norm.pdf(z[mid]) + z[mid] * norm.cdf(z[mid]))
    assert np.allclose(value[mid], naive, rtol=1e-6)
