"""The maths of tunery's Gaussian-process Bayesian optimisation (:mod:`tunery.suggest.gp`).

Pure numpy/scipy, no search space and no trials: acquisition functions (log expected
improvement, probability of improvement, lower confidence bound) with their derivatives, the
Matérn-5/2 Gaussian process with fantasy updates, the MAP fit of its hyperparameters, and the
output warping (standardise, Yeo-Johnson, standardise).  :mod:`tunery.suggest.gp` is the sampler
that turns trials into the inputs of these functions and their outputs into suggestions; see its
docstring for the model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import linalg, optimize, special

__all__ = [
    "GaussianProcess",
    "acquisition",
    "default_theta",
    "fit_theta",
    "log_expected_improvement",
    "log_h",
    "warp",
]

FloatArray = npt.NDArray[np.float64]

_SQRT5 = math.sqrt(5.0)
_LCB_KAPPA = 1.96
_PI_XI = 0.01
_MIN_NOISE = 1e-6
_JITTER = 1e-8

# Bounds of the hyperparameters (log scale) and their priors (mean, sd of the log).
_LOG_LS_BOUNDS = (math.log(5e-3), math.log(50.0))
_LOG_AMP_BOUNDS = (math.log(5e-2), math.log(20.0))
_LOG_NOISE_BOUNDS = (math.log(_MIN_NOISE), math.log(1.0))
_AMP_PRIOR = (0.0, 1.0)
_NOISE_PRIOR = (-6.0, 2.0)
#: Gamma(shape, rate) prior on ``1 / length_scale**2``: mode at length scale 0.5 (unit cube).
_LS_GAMMA = (2.0, 0.5)
#: The rate of that prior for a categorical parameter's one length scale (its one-hot columns
#: share it): mode at length scale sqrt(8), so that before the data say otherwise two
#: categories correlate about 0.83 (a change of category moves two columns by 1: r = 0.5).
#: With the continuous prior (correlation 0.14) a category tried only in poor places looked
#: as good as unknown everywhere, and runs stayed in the first good category
#: (docs/benchmarks.md, issue 19).
_CATEGORY_GAMMA_RATE = 8.0


# --------------------------------------------------------------------------- acquisition maths

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_2 = 0.5 * math.log(math.pi / 2.0)
_INV_SQRT_EPS = 1.0 / math.sqrt(np.finfo(np.float64).eps)


def _log1mexp(x: FloatArray) -> FloatArray:
    """``log(1 - exp(x))`` for ``x < 0``, accurately."""
    return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _log_h(z: FloatArray) -> FloatArray:
    """``log(phi(z) + z * Phi(z))``, stable for very negative ``z`` (Ament et al. 2023)."""
    out = np.empty_like(z)
    mid = z > -1.0
    zm = z[mid]
    out[mid] = np.log(
        np.maximum(special.ndtr(zm) * zm + np.exp(-0.5 * zm * zm) / 2.5066282746310002, 1e-300)
    )
    far = z <= -_INV_SQRT_EPS
    tail = ~mid & ~far
    zt = z[tail]
    inner = np.log(special.erfcx(-zt / math.sqrt(2.0)) * np.abs(zt)) + _LOG_SQRT_PI_2
    out[tail] = -0.5 * zt * zt - _LOG_SQRT_2PI + _log1mexp(np.minimum(inner, -1e-300))
    zf = z[far]
    out[far] = -0.5 * zf * zf - _LOG_SQRT_2PI - 2.0 * np.log(np.abs(zf))
    return out


#: ``log(phi(z) + z * Phi(z))`` (the log of EI's ``h``), public for the multi-objective maths.
log_h = _log_h


def log_expected_improvement(
    mu: FloatArray, sigma: FloatArray, best: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Log EI of minimisation below ``best``, and its derivatives by ``mu`` and ``sigma``."""
    z = (best - mu) / sigma
    log_h = _log_h(z)
    # h'(z) = Phi(z), so d log h / dz = Phi(z) / h(z), computed in log space.
    ratio = np.exp(special.log_ndtr(z) - log_h)
    value = np.log(sigma) + log_h
    d_mu = -ratio / sigma
    d_sigma = 1.0 / sigma - ratio * z / sigma
    return value, d_mu, d_sigma


def acquisition(
    kind: str, mu: FloatArray, sigma: FloatArray, best: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """An acquisition to maximise, with derivatives by ``mu`` and ``sigma``."""
    if kind == "LCB":
        return -(mu - _LCB_KAPPA * sigma), -np.ones_like(mu), np.full_like(sigma, _LCB_KAPPA)
    if kind == "PI":
        z = (best - _PI_XI - mu) / sigma
        value = special.log_ndtr(z)
        ratio = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - value)
        return value, -ratio / sigma, -ratio * z / sigma
    return log_expected_improvement(mu, sigma, best)


# --------------------------------------------------------------------------- the GP


def _matern(r: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Matérn-5/2 correlation of scaled distances, and ``(5/3)(1 + sqrt5 r) exp(-sqrt5 r)``.

    The second array ``g`` gives the derivatives: ``dk/d(r^2) = -g/2``.
    """
    e = np.exp(-_SQRT5 * r)
    poly = 1.0 + _SQRT5 * r
    return (poly + (5.0 / 3.0) * r * r) * e, (5.0 / 3.0) * poly * e


def _cholesky(matrix: FloatArray) -> FloatArray:
    """Lower Cholesky factor, retrying with growing jitter on the diagonal."""
    jitter = _JITTER
    scale = float(np.mean(np.diag(matrix))) or 1.0
    for _ in range(8):
        try:
            return np.asarray(linalg.cholesky(matrix, lower=True, check_finite=False))
        except linalg.LinAlgError:
            matrix = matrix + np.eye(len(matrix)) * jitter * scale
            jitter *= 10.0
    return np.asarray(linalg.cholesky(matrix + np.eye(len(matrix)) * 1e-2 * scale, lower=True))


class GaussianProcess:
    """An exact GP with a Matérn-5/2 ARD kernel, for inputs in the unit cube (zero mean).

    ``theta`` holds ``log`` length scales (one per column), then ``log`` amplitude and ``log``
    noise variance.  Fantasy points (:meth:`add`) extend the Cholesky factor incrementally.
    """

    def __init__(self, x: FloatArray, y: FloatArray, theta: FloatArray) -> None:
        self.theta = np.asarray(theta, dtype=np.float64)
        columns = x.shape[1]
        self.inv_ls2 = np.exp(-2.0 * self.theta[:columns])
        self.amp = float(np.exp(self.theta[columns]))
        self.noise = float(np.exp(self.theta[columns + 1]))
        self.x = np.array(x, dtype=np.float64)
        self.y = np.array(y, dtype=np.float64)
        k = self.amp * _matern(np.sqrt(self._sq_dist(self.x, self.x)))[0]
        k[np.diag_indices_from(k)] += self.noise + _JITTER
        self.chol = _cholesky(k)
        self._solve()

    def _solve(self) -> None:
        self.alpha = linalg.cho_solve((self.chol, True), self.y, check_finite=False)

    def _sq_dist(self, a: FloatArray, b: FloatArray) -> FloatArray:
        sa = a * np.sqrt(self.inv_ls2)
        sb = b * np.sqrt(self.inv_ls2)
        d = (sa * sa).sum(1)[:, None] + (sb * sb).sum(1)[None, :] - 2.0 * sa @ sb.T
        return np.maximum(d, 0.0)

    def predict(self, points: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Posterior mean and standard deviation of the latent function."""
        r = np.sqrt(self._sq_dist(points, self.x))
        k = self.amp * _matern(r)[0]
        mu = k @ self.alpha
        v = linalg.solve_triangular(self.chol, k.T, lower=True, check_finite=False)
        var = np.maximum(self.amp - (v * v).sum(0), 1e-12)
        return mu, np.sqrt(var)

    def predict_grad(
        self, points: FloatArray, columns: npt.NDArray[np.intp]
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Mean, sd, and their gradients by the given input columns (shape ``(m, c)``)."""
        r = np.sqrt(self._sq_dist(points, self.x))
        corr, g = _matern(r)
        k = self.amp * corr
        mu = k @ self.alpha
        w = linalg.cho_solve((self.chol, True), k.T, check_finite=False)  # (n, m)
        var = self.amp - (k * w.T).sum(1)
        var_ok = var > 1e-12
        sd = np.sqrt(np.maximum(var, 1e-12))
        # dk/dx_d = -amp * g * (x_d - X_d) * inv_ls2_d
        dk_common = -self.amp * g  # (m, n)
        d_mu = np.empty((len(points), len(columns)))
        d_var = np.empty_like(d_mu)
        for j, c in enumerate(columns):
            diff = (points[:, c][:, None] - self.x[:, c][None, :]) * self.inv_ls2[c]
            dk = dk_common * diff
            d_mu[:, j] = dk @ self.alpha
            d_var[:, j] = -2.0 * (dk * w.T).sum(1)
        d_sd = np.where(var_ok[:, None], d_var / (2.0 * sd[:, None]), 0.0)
        return mu, sd, d_mu, d_sd

    def add(self, point: FloatArray, value: float) -> None:
        """Condition on one more (fantasy) observation, extending the Cholesky factor."""
        point = point.reshape(1, -1)
        k = self.amp * _matern(np.sqrt(self._sq_dist(point, self.x)))[0][0]
        l_row = linalg.solve_triangular(self.chol, k, lower=True, check_finite=False)
        diag = self.amp + self.noise + _JITTER - float(l_row @ l_row)
        n = len(self.y)
        chol = np.zeros((n + 1, n + 1))
        chol[:n, :n] = self.chol
        chol[n, :n] = l_row
        chol[n, n] = math.sqrt(max(diag, _JITTER * self.amp))
        self.chol = chol
        self.x = np.vstack([self.x, point])
        self.y = np.append(self.y, value)
        self._solve()


def default_theta(columns: int) -> FloatArray:
    return np.concatenate([np.full(columns, math.log(0.5)), [0.0, math.log(1e-3)]])


def _bounds(columns: int) -> list[tuple[float, float]]:
    return [_LOG_LS_BOUNDS] * columns + [_LOG_AMP_BOUNDS, _LOG_NOISE_BOUNDS]


def _neg_log_posterior(
    theta: FloatArray, sq_diffs: FloatArray, y: FloatArray, rates: FloatArray
) -> tuple[float, FloatArray]:
    """Negative log marginal likelihood plus negative log prior, and its gradient.

    ``sq_diffs`` holds one squared-difference matrix per length scale; ``rates`` the rate of
    each length scale's Gamma prior.
    """
    columns = sq_diffs.shape[0]
    n = len(y)
    inv_ls2 = np.exp(-2.0 * theta[:columns])
    amp = math.exp(theta[columns])
    noise = math.exp(theta[columns + 1])
    r2 = np.tensordot(inv_ls2, sq_diffs, axes=1)
    corr, g = _matern(np.sqrt(r2))
    kf = amp * corr
    k = kf.copy()
    k[np.diag_indices_from(k)] += noise + _JITTER
    try:
        chol = linalg.cholesky(k, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = linalg.cho_solve((chol, True), y, check_finite=False)
    k_inv, info = linalg.lapack.dpotri(chol, lower=1)
    if info != 0:
        return 1e10, np.zeros_like(theta)
    k_inv = np.tril(k_inv) + np.tril(k_inv, -1).T
    nll = (
        0.5 * float(y @ alpha)
        + float(np.log(np.diag(chol)).sum())
        + 0.5 * n * math.log(2 * math.pi)
    )
    w = np.outer(alpha, alpha) - k_inv
    grad = np.empty_like(theta)
    # dK/dlog ls_d = amp * g * sq_diff_d * inv_ls2_d
    grad[:columns] = -0.5 * np.tensordot(sq_diffs, w * (amp * g), axes=([1, 2], [0, 1])) * inv_ls2
    grad[columns] = -0.5 * float((w * kf).sum())
    grad[columns + 1] = -0.5 * noise * float(np.trace(w))
    # Priors: log-normal on length scales, amplitude and noise.
    log_ls = theta[:columns]
    # Gamma(a, b) on each inverse squared length scale, as a density of log length scale.
    a, b = _LS_GAMMA[0], rates
    decay = np.exp(-2.0 * log_ls)
    nlp = float((2.0 * a * log_ls + b * decay).sum())
    grad[:columns] += 2.0 * a - 2.0 * b * decay
    for index, (mean, sd) in ((columns, _AMP_PRIOR), (columns + 1, _NOISE_PRIOR)):
        nlp += 0.5 * float((theta[index] - mean) / sd) ** 2
        grad[index] += (theta[index] - mean) / sd**2
    return nll + nlp, grad


def fit_theta(
    x: FloatArray,
    y: FloatArray,
    starts: Sequence[FloatArray],
    *,
    maxiter: int = 200,
    groups: npt.NDArray[np.intp] | None = None,
) -> FloatArray:
    """MAP hyperparameters by L-BFGS-B from each start; the best result.

    ``groups`` (one entry per input column) ties columns to one length scale: the columns of
    group ``g`` share it, and a group of several columns (a categorical parameter's one-hot
    block) has the categorical prior (:data:`_CATEGORY_GAMMA_RATE`).  The result, like the
    starts, has one length scale per column.
    """
    columns = x.shape[1]
    sq_diffs = (x.T[:, :, None] - x.T[:, None, :]) ** 2
    rates = np.full(columns, _LS_GAMMA[1])
    if groups is not None and len(groups) == columns and int(groups.max()) + 1 < columns:
        _, first, sizes = np.unique(groups, return_index=True, return_counts=True)
        n_groups = len(first)
        summed = sq_diffs[first]  # (a copy) the shared groups' sums replace their first column
        for g in np.flatnonzero(sizes > 1):
            summed[g] = sq_diffs[groups == g].sum(axis=0)
        rates = np.where(sizes > 1, _CATEGORY_GAMMA_RATE, _LS_GAMMA[1])
        reduced = [np.concatenate([np.asarray(t)[first], np.asarray(t)[columns:]]) for t in starts]
        theta = _fit(summed, y, reduced, rates, maxiter)
        return np.concatenate([theta[groups], theta[n_groups:]])
    return _fit(sq_diffs, y, starts, rates, maxiter)


def _fit(
    sq_diffs: FloatArray,
    y: FloatArray,
    starts: Sequence[FloatArray],
    rates: FloatArray,
    maxiter: int,
) -> FloatArray:
    columns = sq_diffs.shape[0]
    bounds = _bounds(columns)
    low = np.array([b[0] for b in bounds])
    high = np.array([b[1] for b in bounds])
    best_theta = np.clip(np.asarray(starts[0], dtype=np.float64), low, high)
    best_value = math.inf
    for start in starts:
        start = np.clip(np.asarray(start, dtype=np.float64), low, high)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = optimize.minimize(
                _neg_log_posterior,
                start,
                args=(sq_diffs, y, rates),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": maxiter},
            )
        value = float(result.fun)
        if math.isfinite(value) and value < best_value:
            best_value = value
            best_theta = np.clip(np.asarray(result.x, dtype=np.float64), low, high)
    return best_theta


# --------------------------------------------------------------------------- output warping


_YJ_LAMBDAS = np.linspace(-1.0, 2.0, 31)


def _yeo_johnson(y: FloatArray, lmbdas: FloatArray) -> FloatArray:
    """Yeo-Johnson transforms of ``y`` (shape ``(n,)``) for each lambda: ``(len(lmbdas), n)``."""
    lm = lmbdas[:, None]
    pos = y >= 0
    lp = np.log1p(np.abs(y))[None, :]
    near0 = np.abs(lm) < 1e-8
    near2 = np.abs(lm - 2.0) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        up = np.where(near0, lp, np.expm1(lm * lp) / np.where(near0, 1.0, lm))
        l2 = 2.0 - lm
        down = np.where(near2, -lp, -np.expm1(l2 * lp) / np.where(near2, 1.0, l2))
    return np.where(pos[None, :], up, down)


def warp(values: FloatArray) -> FloatArray:
    """Standardise, Yeo-Johnson (lambda by ML on a grid in [-1, 2]), standardise again."""
    y = np.asarray(values, dtype=np.float64)
    peak = float(np.abs(y).max()) if len(y) else 0.0
    if 1e150 < peak < math.inf:
        y = y / peak  # (standardising does not mind; the variance of values near 1e308 would)
    sd = float(y.std())
    if len(y) < 2 or sd <= 0 or not math.isfinite(sd):
        return np.zeros_like(y)
    y = (y - y.mean()) / sd
    if len(y) >= 6:
        transformed = _yeo_johnson(y, _YJ_LAMBDAS)
        variances = transformed.var(axis=1)
        jacobian = (np.sign(y) * np.log1p(np.abs(y))).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            llf = -0.5 * len(y) * np.log(variances) + (_YJ_LAMBDAS - 1.0) * jacobian
        llf = np.where(np.isfinite(llf) & (variances > 0), llf, -np.inf)
        if np.isfinite(llf).any():
            best = transformed[int(np.argmax(llf))]
            sd = float(best.std())
            if sd > 0 and math.isfinite(sd):
                y = (best - best.mean()) / sd
    return np.asarray(y, dtype=np.float64)
