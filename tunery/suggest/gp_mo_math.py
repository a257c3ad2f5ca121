"""The maths of the multi-objective and constrained Gaussian-process acquisition.

Pure numpy/scipy over arrays, all minimisation; :mod:`tunery.suggest.gp_mo` is the sampler that
feeds it.

- :func:`nondominated_boxes`: the region below a reference point that no point of a front
  dominates, as disjoint axis-aligned boxes (lower corners may be ``-inf``).  For ``M``
  objectives the boxes are the cells of the grid that the front's coordinates draw on the first
  ``M - 1`` objectives, each extended from ``-inf`` up to the lowest last objective of the
  front points that dominate the cell: ``m + 1`` boxes for 2 objectives (the classic sweep),
  at most ``(m + 1) ** (M - 1)`` in general.
- :func:`log_ehvi`: the exact expected hypervolume improvement of independent Gaussian
  predictions over those boxes, in log space.  Within a box ``[l, u]`` the improvement of a
  point ``y`` is ``prod_d max(0, u_d - max(l_d, y_d))``, and with independent coordinates its
  expectation is ``prod_d (g_d(u_d) - g_d(l_d))`` where ``g(a) = E[(a - Y)^+] =
  sigma * h((a - mu) / sigma)``, ``h(z) = phi(z) + z Phi(z)``.  Every factor is taken in log
  space (``log g(u) + log(1 - exp(log g(l) - log g(u)))``) and the boxes are summed with
  log-sum-exp, so a candidate far behind the front still gets a finite, ordered score instead
  of an improvement that underflows to zero (the idea of BoTorch's log-EHVI).
- :func:`log_probability_of_feasibility`: ``sum_j log P(c_j <= t_j)`` of independent Gaussian
  constraint predictions.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from tunery.pareto import non_dominated
from tunery.suggest.gp_math import log_h

__all__ = [
    "MAX_BOXES",
    "log_ehvi",
    "log_probability_of_feasibility",
    "nondominated_boxes",
]

FloatArray = npt.NDArray[np.float64]

#: Most boxes a decomposition may have: a larger front (4 objectives) is reduced first.
MAX_BOXES = 4096
#: Candidates x boxes x objectives evaluated at once by :func:`log_ehvi` (bounds its memory).
_CHUNK = 1 << 20


def _reduce(front: FloatArray, ref: FloatArray, most: int) -> FloatArray:
    """At most ``most`` points of ``front``: greedily the ones with the largest own boxes.

    Used when a front is too large for the boxes allowed (a 4-objective front; the coarse
    first pass of :class:`~tunery.suggest.gp_mo._Models`): keeping the
    points whose dominated box ``[p, ref]`` is largest keeps the bulk of the dominated volume.
    """
    volume = np.prod(ref - front, axis=1)
    order = np.argsort(-volume, kind="stable")
    return front[np.sort(order[:most])]


def nondominated_boxes(
    front: FloatArray, ref: FloatArray, most: int = MAX_BOXES
) -> tuple[FloatArray, FloatArray]:
    """Disjoint boxes ``(lower, upper)`` covering the part of ``[-inf, ref]`` the front leaves.

    ``front`` is ``(m, M)`` (any points: dominated ones and points beyond ``ref`` are dropped);
    a front that would need more than ``most`` boxes is reduced first (then the boxes cover a
    superset: the improvement they give is an upper bound);
    ``lower`` may hold ``-inf``.  See the module docstring for the construction.
    """
    ref = np.asarray(ref, dtype=np.float64)
    dims = len(ref)
    front = np.asarray(front, dtype=np.float64).reshape(-1, dims)
    front = front[np.all(front < ref, axis=1)]
    if len(front):
        front = np.unique(front[non_dominated(front.tolist())], axis=0)
    if dims == 1:
        top = front[:, 0].min() if len(front) else ref[0]
        return np.array([[-np.inf]]), np.array([[min(top, ref[0])]])
    per_cell = len(front) + 1
    if per_cell ** (dims - 1) > most:
        front = _reduce(front, ref, max(1, int(most ** (1.0 / (dims - 1)) + 1e-9) - 1))
    # Grid edges on the first M - 1 objectives: -inf, the front's values, the reference.
    edges = [np.concatenate([[-np.inf], np.unique(front[:, d]), [ref[d]]]) for d in range(dims - 1)]
    grids = np.meshgrid(*(np.arange(len(e) - 1) for e in edges), indexing="ij")
    cells = np.stack([g.ravel() for g in grids], axis=1)  # (cells, M - 1) grid indices
    low = np.stack([edges[d][cells[:, d]] for d in range(dims - 1)], axis=1)
    high = np.stack([edges[d][cells[:, d] + 1] for d in range(dims - 1)], axis=1)
    # Points that dominate the whole cell in the first M - 1 objectives cap the last one.
    top = np.full(len(cells), ref[-1])
    if len(front):
        covering = np.all(front[None, :, : dims - 1] <= low[:, None, :], axis=2)
        capped = np.where(covering, front[None, :, -1], np.inf).min(axis=1)
        top = np.minimum(top, capped)
    lower = np.column_stack([low, np.full(len(cells), -np.inf)])
    upper = np.column_stack([high, top])
    nonempty = np.all(upper > lower, axis=1)
    return lower[nonempty], upper[nonempty]


def _log_g(bound: FloatArray, mu: FloatArray, sigma: FloatArray) -> FloatArray:
    """``log E[(bound - Y)^+]`` for ``Y ~ N(mu, sigma)``, ``-inf`` where ``bound`` is ``-inf``."""
    with np.errstate(invalid="ignore"):
        z = (bound - mu) / sigma
    finite = np.isfinite(z)
    out = np.full(z.shape, -np.inf)
    out[finite] = np.log(np.broadcast_to(sigma, z.shape)[finite]) + log_h(z[finite])
    return out


def log_ehvi(mu: FloatArray, sigma: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Log expected hypervolume improvement of predictions ``(n, M)`` over the boxes ``(k, M)``.

    Exact for independent Gaussian coordinates (see the module docstring).
    """
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-9)
    # A box's factor on objective d depends only on its (lower, upper) pair there, and boxes
    # share few pairs (grid cells): compute each pair's factor once, then gather.
    pairs: list[tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]] = []
    for d in range(lower.shape[1]):
        unique, inverse = np.unique(
            np.stack([lower[:, d], upper[:, d]], axis=1), axis=0, return_inverse=True
        )
        pairs.append((unique[:, 0], unique[:, 1], inverse.reshape(-1)))
    step = max(1, _CHUNK // max(1, lower.size))
    parts = [
        _log_ehvi_chunk(mu[i : i + step], sigma[i : i + step], pairs)
        for i in range(0, len(mu), step)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _log_ehvi_chunk(
    mu: FloatArray,
    sigma: FloatArray,
    pairs: list[tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]],
) -> FloatArray:
    terms: FloatArray | None = None
    for d, (low, high, inverse) in enumerate(pairs):
        m = mu[:, d : d + 1]
        s = sigma[:, d : d + 1]
        log_gu = _log_g(high[None, :], m, s)
        log_gl = _log_g(low[None, :], m, s)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.minimum(log_gl - log_gu, 0.0)
            # log(1 - exp(diff)), -inf where the box has no width (diff == 0).
            factor = np.where(
                diff > -math.log(2.0), np.log(-np.expm1(diff)), np.log1p(-np.exp(diff))
            )
        factor = log_gu + np.where(np.isneginf(log_gl), 0.0, factor)
        gathered = factor[:, inverse]
        terms = gathered if terms is None else terms + gathered
    assert terms is not None
    peak = terms.max(axis=1)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(
            peak + np.log(np.exp(terms - peak[:, None]).sum(axis=1)), dtype=np.float64
        )


def log_probability_of_feasibility(
    mu: FloatArray, sigma: FloatArray, thresholds: FloatArray
) -> FloatArray:
    """``sum_j log P(c_j <= thresholds_j)`` for predictions ``(n, J)``; zeros when ``J == 0``."""
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim < 2 or mu.shape[1] == 0:
        return np.zeros(len(mu))
    sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-9)
    z = (np.asarray(thresholds, dtype=np.float64)[None, :] - mu) / sigma
    return np.asarray(special.log_ndtr(z).sum(axis=1), dtype=np.float64)
