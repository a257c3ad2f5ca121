"""Katib's ``tpe`` and ``multivariate-tpe``: Tree-structured Parzen Estimators, in numpy.

Katib runs ``tpe`` in its hyperopt service (``pkg/suggestion/v1beta1/hyperopt/service.py``) and
``multivariate-tpe`` (and, in some installs, ``tpe`` too) in its Optuna service
(``pkg/suggestion/v1beta1/optuna/service.py``).  tunery accepts the settings of both services
for both names, validated as Katib validates them, plus one of its own:

===================== ======================================= =================================
setting               value                                   default
===================== ======================================= =================================
``random_state``      integer ``>= 0``                        the seed argument, else 0
``n_startup_trials``  integer ``>= 0`` (Optuna service)       10 (Optuna's default)
``n_ei_candidates``   integer ``> 0`` (Optuna service)        24 (Optuna's and hyperopt's)
``n_EI_candidates``   integer ``> 0`` (hyperopt's spelling)   same setting as the above
``gamma``             float in ``(0, 1)`` (hyperopt service)  Optuna's rule (see below)
``prior_weight``      float ``> 0`` (hyperopt service)        1.0
``multivariate``      ``"true"`` or ``"false"`` (tunery)      ``"true"``; ``"false"`` for
                                                              ``tpe`` on a conditional space
===================== ======================================= =================================

Katib's Optuna service accepts ``n_ei_candidates: "0"``, which Optuna cannot run; tunery refuses
it.  ``gamma``/``prior_weight`` are also accepted for ``multivariate-tpe`` (Katib's Optuna
service refuses them there; a Katib-valid spec is still valid here).

One model for both names
------------------------
Both names model the parameters jointly by default (``multivariate: "true"``), as Optuna's
``TPESampler`` does by default since Optuna 5 (so Katib's Optuna service would too, were it to
leave Optuna 3.3): on ``benchmarks/optimizers`` (15 seeds, 100 evaluations) the joint model
scores 88.3 sequentially and 88.5 in batches of 4 against 69.6 and 67.7 for one model per
parameter.  ``tpe`` with ``multivariate: "false"`` is the classic TPE of hyperopt and Optuna < 5,
which treats each parameter on its own; ``multivariate-tpe`` refuses ``"false"``.

On a conditional space (``activeWhen``) ``tpe`` defaults to one model per parameter, each
modelled on the trials where it was active (the same tree sampler, see
:mod:`tunery.suggest.tpe_tree`): on ``benchmarks/optimizers/conditional.py`` it beats the joint
model at 50 and 100 evaluations on both problems (docs/benchmarks.md, "Conditional
parameters").  ``multivariate: "true"`` keeps the joint model there; ``multivariate-tpe`` is
always joint.

The method
----------
Observations are the trials that finished with an objective value (``Succeeded`` and
``EarlyStopped``).  The ``n_below`` best of the ``n`` observations form the "good" group; with
``gamma`` set, ``n_below = min(ceil(gamma * sqrt(n)), 25)`` as in hyperopt, otherwise
``min(ceil(0.1 * n), 25)`` as in Optuna.  The other observations form the "bad" group, together
with:

- trials in flight (``Created``/``Running``) and the points already picked in the same
  ``suggest`` call: the *constant liar*, each counted as a bad observation, so a batch spreads
  out instead of collapsing onto one point;
- ``Failed`` and ``MetricsUnavailable`` trials, and finished trials without a finite objective:
  counted as bad (worst) observations, so the search moves away from regions that crash.

``Killed`` trials are ignored (they only block their configuration from being suggested again).

Each group is a Parzen mixture: one kernel per point plus a prior kernel of weight
``prior_weight`` (each point weighs 1).  Numeric dimensions (``double`` and ``int``, with or
without step) live in the unit cube of :class:`tunery.space.SearchSpace` (log distributions in
log space) and use Gaussian kernels truncated to ``[0, 1]``; the prior kernel is centred with
width 1 (``uniform``, ``logUniform``) or 1/6 (``normal``, ``logNormal``: Katib's sigma).  List
dimensions (``discrete``, ``categorical``) use a categorical kernel: a point of value ``c`` gives
``c`` weight 1 and every value ``prior_weight / (n + 1)`` (normalised; ``n`` points in the
group), so the smoothing fades as the group grows; the prior kernel is uniform.

The *neighbour width* of a point along a numeric dimension is half the larger gap to its
neighbours among the group's points and the centre of the range, that gap first clipped to
``[1 / min(100, n + 2), 1]``; never below half a grid bucket of a stepped parameter.

- The joint model (the default) uses one kernel per point over all dimensions, of width
  ``max(0.1 * n ** (-1 / (d + 4)), neighbour width)`` in each dimension (a Scott-like rule,
  ``d`` numeric dimensions, widened where the group's points are sparse: early on, the few good
  points get broad kernels and the search explores; as the group fills up, the Scott-like floor
  keeps it from collapsing onto one point), draws ``n_ei_candidates`` whole configurations from
  ``l`` and keeps the one of highest joint ``l(x) / g(x)``.
- One model per parameter (``multivariate: "false"``): neighbour widths.  ``n_ei_candidates``
  values of each parameter are drawn from the good mixture ``l`` and, per parameter, the one of
  highest ``l(x) / g(x)`` (good over bad marginal density) is kept.

The neighbour widths are half of what hyperopt and Optuna use: on the synthetic problems of
``benchmarks/optimizers`` (60 evaluations, 20 seeds) the narrower kernels find better optima,
multimodal ones (Ackley, Levy) included.  Taking the larger of the two widths in the joint
model made the SVC problem of that suite (a long ridge of near-best values, the best in a small
corner) reliable: 95 and 100 against 87 and 75 with the Scott-like rule alone (40 seeds,
sequential and batches of 4; Optuna's TPE 80 and 75).

Several objectives (``spec.objectives``) and constraints (``spec.constraints``): only the split
into good and bad observations and the good kernels' weights change, as
:func:`tunery.suggest.motpe.split` says (feasible first, then by non-dominated rank and
hypervolume contribution, MOTPE's weights); one unconstrained objective runs the split above.

Conditional parameters (``activeWhen``): one model per group of co-active parameters, each on
the trials where it was active, sampled parents first; see :mod:`tunery.suggest.tpe_tree`.

Sampled stepped values are rounded to their grid before they are scored.  Until
``n_startup_trials`` trials exist (any status) or while no trial has an objective value,
suggestions are quasi-random: a scrambled Sobol sequence (seeded) at the position of the trial,
mapped through the parameters' distributions.

No duplicates: a candidate whose canonical key is in the history (any status) or earlier in the
batch is skipped for the next best; when every candidate is taken, a second, larger round is
drawn, and then random new configurations.  A finite space ends: once every configuration has
been tried ``suggest`` returns none.

Determinism: the random stream of each call is seeded by ``(seed, len(history))``, the seed
being ``random_state``, else the seed argument, else 0.  The suggester is stateless, so a
resumed experiment continues identically without saved state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from tunery.errors import SpecError
from tunery.history import Entry, History
from tunery.model import (
    Assignment,
    Distribution,
    ExperimentSpec,
    ParameterType,
    TrialCondition,
)
from tunery.pareto import total_violation
from tunery.settings import (
    SettingCheck,
    check_int,
    check_random_state,
    parse_float,
    resolve_seed,
    validate_settings,
)
from tunery.space import Key, SearchSpace
from tunery.suggest import motpe
from tunery.suggest.base import register, setting_path
from tunery.suggest.tpe_tree import TreeTPE

__all__ = [
    "DEFAULT_N_EI_CANDIDATES",
    "DEFAULT_N_STARTUP_TRIALS",
    "DEFAULT_PRIOR_WEIGHT",
    "TPESettings",
    "TPESuggester",
    "validate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_N_STARTUP_TRIALS = 10
DEFAULT_N_EI_CANDIDATES = 24
DEFAULT_PRIOR_WEIGHT = 1.0
#: Most points in the good group (hyperopt's and Optuna's cap).
MAX_BELOW = 25
#: Scale of the multivariate kernel widths.
SCOTT_SCALE = 0.1
#: Scale of the independent kernel widths (of the larger neighbour gap).
NEIGHBOUR_SCALE = 0.5

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- settings


def _check_gamma(value: str) -> tuple[str, str] | None:
    number = parse_float(value)
    if number is None:
        return (f"failed to validate gamma({value}): not a number", 'e.g. value: "0.25"')
    if not 0.0 < number < 1.0:
        return ("gamma should be in the range of (0, 1)", 'e.g. value: "0.25"')
    return None


def _check_prior_weight(value: str) -> tuple[str, str] | None:
    number = parse_float(value)
    if number is None:
        return (f"failed to validate prior_weight({value}): not a number", 'e.g. value: "1.0"')
    if not number > 0.0:
        return ("prior_weight should be greater than zero", 'e.g. value: "1.0"')
    return None


_BOOLEANS = {"true": True, "false": False}


def _check_multivariate(value: str) -> tuple[str, str] | None:
    if value.strip().lower() not in _BOOLEANS:
        return (
            f"failed to validate multivariate({value}): not a boolean",
            'give "true" (one joint model, the default) or "false" (one model per parameter)',
        )
    return None


_SETTINGS: Mapping[str, SettingCheck] = {
    "random_state": check_random_state,
    "n_startup_trials": check_int("n_startup_trials", 0),
    "n_ei_candidates": check_int("n_ei_candidates", 1),
    "n_EI_candidates": check_int("n_EI_candidates", 1),
    "gamma": _check_gamma,
    "prior_weight": _check_prior_weight,
    "multivariate": _check_multivariate,
}


def validate(spec: ExperimentSpec) -> None:
    """Katib's ``_validate_tpe_setting`` of its hyperopt and Optuna services, together.

    Plus tunery's ``multivariate`` setting, which ``multivariate-tpe`` cannot turn off.
    """
    validate_settings(spec, _SETTINGS)
    if (
        spec.algorithm.algorithm_name == "multivariate-tpe"
        and TPESettings.from_spec(spec).multivariate is False
    ):
        raise SpecError(
            setting_path(spec, "multivariate"),
            "multivariate-tpe always models the parameters jointly: multivariate false "
            "contradicts it",
            'remove the setting, or use algorithmName: tpe with multivariate: "false" for '
            "one model per parameter",
        )


@dataclass(frozen=True)
class TPESettings:
    """The parsed settings of a (validated) spec."""

    n_startup_trials: int = DEFAULT_N_STARTUP_TRIALS
    n_ei_candidates: int = DEFAULT_N_EI_CANDIDATES
    gamma: float | None = None
    prior_weight: float = DEFAULT_PRIOR_WEIGHT
    #: None: not set (joint, except ``tpe`` on a conditional space: see :meth:`joint`)
    multivariate: bool | None = None

    @classmethod
    def from_spec(cls, spec: ExperimentSpec) -> TPESettings:
        values: dict[str, Any] = {}
        for setting in spec.algorithm.algorithm_settings:
            text = setting.value.strip()
            if setting.name == "n_startup_trials":
                values["n_startup_trials"] = int(text)
            elif setting.name in ("n_ei_candidates", "n_EI_candidates"):
                values["n_ei_candidates"] = int(text)
            elif setting.name == "gamma":
                values["gamma"] = float(text)
            elif setting.name == "prior_weight":
                values["prior_weight"] = float(text)
            elif setting.name == "multivariate":
                values["multivariate"] = _BOOLEANS[text.lower()]
        return cls(**values)

    def joint(self, algorithm: str, conditional: bool) -> bool:
        """Whether the parameters are modelled jointly (the default unless ``tpe`` runs on a
        conditional space, where one model per parameter measured better)."""
        if self.multivariate is not None:
            return self.multivariate
        return not (conditional and algorithm == "tpe")

    def n_below(self, n: int) -> int:
        """Size of the good group among ``n`` observations (at least 1)."""
        if self.gamma is not None:
            below = math.ceil(self.gamma * math.sqrt(n))
        else:
            below = math.ceil(0.1 * n)
        return max(1, min(below, MAX_BELOW, n))


# --------------------------------------------------------------------------- Parzen mixtures


def _logsumexp(values: FloatArray, axis: int) -> FloatArray:
    """``log(sum(exp(values)))`` along ``axis`` (scipy's is slow on small arrays)."""
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    total = np.sum(np.exp(values - top), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.squeeze(np.log(total) + top, axis=axis)


@dataclass
class _Mixture:
    """Kernels of a group of points plus the prior kernel (the last component)."""

    mus: FloatArray  # (k, numeric dims), unit coordinates
    sigmas: FloatArray  # (k, numeric dims)
    log_z: FloatArray  # (k, numeric dims): log of each truncated kernel's mass in [0, 1]
    cats: IntArray  # (k, list dims); -1 for the prior kernel (uniform)
    log_w: FloatArray  # (k,)
    log_hit: FloatArray  # (list dims,): log probability of a point's own value
    log_miss: FloatArray  # (list dims,): log probability of each other value
    keep: FloatArray  # (list dims,): probability of drawing a point's own value outright

    #: ``(k,)``: each kernel's log weight plus its terms that do not depend on a point (the
    #: numeric normalisations, the categorical kernels' values at a miss, the prior kernel's
    #: uniform ones); :meth:`_Model.log_density_joint` adds the rest.
    log_const: FloatArray


class _Model:
    """What the TPE knows of the space: which dimensions are numeric, their priors and grids."""

    def __init__(
        self,
        spec: ExperimentSpec,
        space: SearchSpace,
        settings: TPESettings,
        dims: Sequence[int] | None = None,
    ) -> None:
        """``dims``: the dimensions modelled (spec order), every one by default."""
        self.space = space
        self.settings = settings
        sizes = space.parameter_sizes()
        num: list[int] = []
        cat: list[int] = []
        prior_sigma: list[float] = []
        min_sigma: list[float] = []
        self.normal_dims: list[int] = []
        for i, param in enumerate(spec.parameters):
            if dims is not None and i not in dims:
                continue
            ptype = param.parameter_type
            if ptype in (ParameterType.DISCRETE, ParameterType.CATEGORICAL):
                cat.append(i)
                continue
            num.append(i)
            dist = param.feasible_space.distribution or Distribution.UNIFORM
            normal = dist in (Distribution.NORMAL, Distribution.LOG_NORMAL)
            if normal:
                self.normal_dims.append(i)
            prior_sigma.append(1.0 / 6.0 if normal else 1.0)
            size = sizes[i]
            min_sigma.append(0.5 / size if size is not None else 0.0)
        self.num = np.array(num, dtype=np.int64)
        self.cat = np.array(cat, dtype=np.int64)
        self.prior_sigma = np.array(prior_sigma, dtype=np.float64)
        self.grid_sigma = np.array(min_sigma, dtype=np.float64)
        self.n_choices = np.array([sizes[i] or 1 for i in cat], dtype=np.int64)
        self.log_cat_prior = -np.log(self.n_choices.astype(np.float64))

    # ----------------------------------------------------------------- building

    def mixture(
        self,
        points: FloatArray,
        codes: IntArray,
        multivariate: bool,
        weights: FloatArray | None = None,
    ) -> _Mixture:
        """The Parzen mixture of a group (``points``: numeric unit coordinates, ``codes``).

        Each point's kernel weighs 1, or its share of ``n`` under ``weights`` (MOTPE).
        """
        n = points.shape[0]
        dn = self.num.size
        pw = self.settings.prior_weight
        if n == 0:
            sigmas = np.empty((0, dn))
        elif multivariate:
            # The Scott-like width, or wider where the group's points are sparse along a
            # dimension (few points, early on): at least the independent model's width.
            scott = SCOTT_SCALE * n ** (-1.0 / (dn + 4)) if dn else 1.0
            sigmas = np.maximum(scott, self._neighbour_widths(points))
        else:
            sigmas = self._neighbour_widths(points)
        mus = np.vstack([points, np.full((1, dn), 0.5)])
        sigmas = np.vstack([sigmas, self.prior_sigma[None, :]])
        log_z = np.log(np.maximum(ndtr((1.0 - mus) / sigmas) - ndtr(-mus / sigmas), 1e-300))
        cats = np.vstack([codes, np.full((1, self.cat.size), -1, dtype=np.int64)])
        own = np.ones(n) if weights is None else weights * (n / float(np.sum(weights)))
        weights = np.append(own, pw)
        # A point's categorical kernel: weight 1 on its own value, and a smoothing weight that
        # shrinks as the group grows on every value.
        k = self.n_choices.astype(np.float64)
        eps = np.full(k.shape, pw / (n + 1.0))
        total = 1.0 + k * eps
        log_w = np.log(weights / weights.sum())
        log_miss = np.log(eps / total)
        log_const = log_w - (np.log(sigmas) + _LOG_SQRT_2PI + log_z).sum(axis=1)
        if self.cat.size:
            miss = np.repeat(log_miss[None, :], n + 1, axis=0)
            miss[-1] = self.log_cat_prior
            log_const += miss.sum(axis=1)
        return _Mixture(
            mus,
            sigmas,
            log_z,
            cats,
            log_w,
            np.log((1.0 + eps) / total),
            log_miss,
            1.0 / total,
            log_const,
        )

    def _neighbour_widths(self, points: FloatArray) -> FloatArray:
        """Per dimension: the larger gap to a neighbour among the points and the centre, clipped.

        The centre of the range (the prior's) counts as a neighbour; the ends of the range do
        not, so a lone point at an end gets the width of its one gap.
        """
        n, dn = points.shape
        anchored = np.vstack([points, np.full((1, dn), 0.5)])
        # (Sorted along contiguous rows of the transpose: the same order, a faster sort.)
        order = np.argsort(anchored.T, axis=1, kind="stable").T
        ordered = np.take_along_axis(anchored, order, axis=0)
        gaps = np.diff(ordered, axis=0)
        left = np.vstack([gaps[:1], gaps])
        right = np.vstack([gaps, gaps[-1:]])
        widths = np.empty_like(ordered)
        np.put_along_axis(widths, order, np.maximum(left, right), axis=0)
        clipped = NEIGHBOUR_SCALE * np.clip(widths[:n], 1.0 / min(100.0, n + 2.0), 1.0)
        return np.maximum(clipped, self.grid_sigma[None, :])

    # ----------------------------------------------------------------- densities

    def log_kernels(
        self, mixture: _Mixture, x: FloatArray, c: IntArray
    ) -> tuple[FloatArray, FloatArray]:
        """Log kernel values: numeric ``(m, k, dn)`` and categorical ``(m, k, dc)``."""
        z = (x[:, None, :] - mixture.mus[None, :, :]) / mixture.sigmas[None, :, :]
        num = -0.5 * z * z - np.log(mixture.sigmas)[None] - _LOG_SQRT_2PI - mixture.log_z[None]
        hit = c[:, None, :] == mixture.cats[None, :, :]
        cat = np.where(hit, mixture.log_hit[None, None, :], mixture.log_miss[None, None, :])
        cat[:, -1, :] = self.log_cat_prior[None, :]
        return num, cat

    def log_density_joint(self, mixture: _Mixture, x: FloatArray, c: IntArray) -> FloatArray:
        """Joint log density of ``m`` points, shape ``(m,)``.

        The terms that do not depend on the points (each kernel's normalisation and weight) are
        summed once per mixture; per point and kernel only the squared distance is computed,
        in place, so a large bad group costs few passes over an ``(m, k, dn)`` array.
        """
        per_kernel = np.broadcast_to(mixture.log_const, (x.shape[0], mixture.log_w.size)).copy()
        if self.num.size:
            z = x[:, None, :] - mixture.mus[None, :, :]
            z /= mixture.sigmas[None, :, :]
            z *= z
            per_kernel -= 0.5 * z.sum(axis=2)
        if self.cat.size:
            hit = c[:, None, :] == mixture.cats[None, :, :]
            gain = (mixture.log_hit - mixture.log_miss)[None, None, :]
            per_kernel += np.where(hit, gain, 0.0).sum(axis=2)
        return _logsumexp(per_kernel, axis=1)

    def log_density_marginal(self, mixture: _Mixture, x: FloatArray, c: IntArray) -> FloatArray:
        """Per-dimension marginal log densities, shape ``(m, dims)`` in spec order."""
        num, cat = self.log_kernels(mixture, x, c)
        out = np.empty((x.shape[0], self.space.dims))
        log_w = mixture.log_w[None, :, None]
        if self.num.size:
            out[:, self.num] = _logsumexp(num + log_w, axis=1)
        if self.cat.size:
            out[:, self.cat] = _logsumexp(cat + log_w, axis=1)
        return out

    # ----------------------------------------------------------------- sampling

    def sample(
        self, mixture: _Mixture, rng: np.random.Generator, m: int, multivariate: bool
    ) -> FloatArray:
        """``m`` unit-cube points drawn from the mixture, shape ``(m, dims)``."""
        k = mixture.log_w.size
        p = np.exp(mixture.log_w)
        p = p / p.sum()
        dn, dc = self.num.size, self.cat.size
        width = 1 if multivariate else dn + dc
        comp = rng.choice(k, size=(m, width), p=p)
        comp_num = np.broadcast_to(comp[:, :1], (m, dn)) if multivariate else comp[:, :dn]
        comp_cat = np.broadcast_to(comp[:, :1], (m, dc)) if multivariate else comp[:, dn:]
        out = np.full((m, self.space.dims), np.nan)  # unmodelled dimensions: NaN
        if dn:
            cols = np.arange(dn)[None, :]
            mu = mixture.mus[comp_num, cols]
            sigma = mixture.sigmas[comp_num, cols]
            lo, hi = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
            u = lo + rng.random((m, dn)) * (hi - lo)
            u = np.clip(u, 1e-300, 1.0 - 1e-16)
            out[:, self.num] = np.clip(mu + sigma * ndtri(u), 0.0, 1.0)
        if dc:
            cols = np.arange(dc)[None, :]
            own = mixture.cats[comp_cat, cols]
            uniform = np.floor(rng.random((m, dc)) * self.n_choices[None, :]).astype(np.int64)
            keep = rng.random((m, dc)) < mixture.keep[None, :]
            codes = np.where((own >= 0) & keep, own, uniform)
            out[:, self.cat] = (codes + 0.5) / self.n_choices[None, :]
        return out

    def split(self, keys: Sequence[Key]) -> tuple[FloatArray, IntArray]:
        """Numeric unit coordinates and list codes of canonical keys."""
        if not keys:
            return np.empty((0, self.num.size)), np.empty((0, self.cat.size), dtype=np.int64)
        unit = self.space.encode_keys(keys)
        if not self.cat.size:
            return unit[:, self.num], np.empty((len(keys), 0), dtype=np.int64)
        # List codes are exact: index i of n encodes to (i + 0.5) / n.
        codes = np.floor(unit[:, self.cat] * self.n_choices[None, :]).astype(np.int64)
        return unit[:, self.num], np.minimum(codes, self.n_choices[None, :] - 1)


# --------------------------------------------------------------------------- the suggester


class TPESuggester:
    """Tree-structured Parzen Estimator, independent or multivariate (stateless)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)
        self.settings = TPESettings.from_spec(spec)
        self.multivariate = self.settings.joint(
            spec.algorithm.algorithm_name, self.space.conditional
        )
        self._model = _Model(spec, self.space, self.settings)
        #: A conditional space's per-group models (None: one model of every parameter).
        self._tree = (
            TreeTPE(spec, self.space, self.settings, _Model, self.multivariate)
            if self.space.conditional
            else None
        )

    # ----------------------------------------------------------------- history

    @staticmethod
    def _observations(history: History) -> tuple[list[Entry], list[Key]]:
        """(observed entries with a key, bad pseudo-observation keys) in the history's order.

        Bad: every trial in the space neither observed nor killed (in flight, failed, or
        finished without a finite objective).  One pass over the trials.
        """
        observed: list[Entry] = []
        bad: list[Key] = []
        killed = TrialCondition.KILLED
        for e in history.entries:
            if e.key is None:
                continue
            if e.observed:
                observed.append(e)
            elif e.trial.status is not killed:
                bad.append(e.key)
        return observed, bad

    def _split(
        self, history: History, entries: Sequence[Entry] | None = None
    ) -> tuple[list[Key], list[Key], FloatArray | None]:
        """(good keys, bad observed keys, the good kernels' weights or None: all equal).

        One unconstrained objective: the ``n_below`` lowest losses are good.  Several
        objectives or constraints: :func:`tunery.suggest.motpe.split`.  ``entries``: the
        observed entries to split (all of them by default; a conditional space's groups split
        the trials where they were active).
        """
        if entries is None:
            entries = history.observed
        keys = [e.key for e in entries if e.key is not None]
        n_below = self.settings.n_below(len(keys))
        if history.n_objectives <= 1 and history.n_constraints == 0:
            losses = [e.loss for e in entries if e.loss is not None]
            order = np.argsort(np.asarray(losses), kind="stable")
            return (
                [keys[i] for i in order[:n_below]],
                [keys[i] for i in order[n_below:]],
                None,
            )
        matrix = np.array([e.losses for e in entries], dtype=np.float64)
        violation = None
        if history.n_constraints:
            violation = np.array([total_violation(e.constraints) for e in entries])
        below, above, weights = motpe.split(matrix, violation, n_below)
        return (
            [keys[int(i)] for i in below],
            [keys[int(i)] for i in above],
            None if history.n_objectives <= 1 else weights,
        )

    # ----------------------------------------------------------------- suggest

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        space = self.space
        observed, bad = self._observations(history)
        tried = history.tried_keys
        size = space.size()
        if size is not None:
            count = min(count, size - len(tried))
            if count <= 0:
                return []
        rng = np.random.default_rng([self.seed, len(history)])
        taken = set(tried)
        found: list[Key] = []
        n_startup = max(0, self.settings.n_startup_trials - len(history))
        if n_startup or not observed:
            startup = count if not observed else min(count, n_startup)
            found = self._startup(len(history), startup, taken, rng)
            taken.update(found)
        if len(found) < count and observed and self._tree is not None:
            found += self._tree.suggest(
                observed,
                bad + found,
                lambda entries: self._split(history, entries),
                taken,
                count - len(found),
                rng,
            )
        elif len(found) < count and observed:
            below, above, weights = self._split(history, observed)
            found += self._tpe(below, above + bad + found, weights, taken, count - len(found), rng)
        return [Assignment(space.params_of(key)) for key in found]

    def _startup(
        self, position: int, count: int, taken: set[Key], rng: np.random.Generator
    ) -> list[Key]:
        """Quasi-random keys: the Sobol points at ``position`` onwards, then random ones."""
        from scipy.stats import qmc  # lazily: scipy.stats is slow to import

        space = self.space
        try:
            engine = qmc.Sobol(space.dims, scramble=True, rng=np.random.default_rng(self.seed))
        except TypeError:  # scipy < 1.15 calls it seed
            engine = qmc.Sobol(space.dims, scramble=True, seed=np.random.default_rng(self.seed))
        if position:
            engine.fast_forward(position)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance wants powers of two
            points = engine.random(count)
        for i in self._model.normal_dims:  # Katib's normal: sigma = range / 6
            points[:, i] = 0.5 + ndtri(np.clip(points[:, i], 1e-12, 1 - 1e-12)) / 6.0
        found: list[Key] = []
        local = set(taken)
        for key in space.keys_from_unit(points):
            if key not in local:
                local.add(key)
                found.append(key)
        if len(found) < count:
            found += space.sample_new_keys(rng, local, count - len(found))
        return found

    def _tpe(
        self,
        below: list[Key],
        above: list[Key],
        weights: FloatArray | None,
        taken: set[Key],
        count: int,
        rng: np.random.Generator,
    ) -> list[Key]:
        """``count`` keys by TPE, each new one a bad pseudo-observation for the next."""
        model = self._model
        mv = self.multivariate
        below_x, below_c = model.split(below)
        above_x, above_c = model.split(above)
        good = model.mixture(below_x, below_c, mv, weights)
        m = self.settings.n_ei_candidates
        found: list[Key] = []
        for _ in range(count):
            worse = model.mixture(above_x, above_c, mv)
            key = self._pick(good, worse, m, taken, rng)
            if key is None:
                key = self._pick(good, worse, 8 * m, taken, rng)
            if key is None:
                fresh = self.space.sample_new_keys(rng, taken, 1)
                if not fresh:
                    break
                key = fresh[0]
            found.append(key)
            taken.add(key)
            x, c = model.split([key])
            above_x = np.vstack([above_x, x])
            above_c = np.vstack([above_c, c])
        return found

    def _pick(
        self, good: _Mixture, worse: _Mixture, m: int, taken: set[Key], rng: np.random.Generator
    ) -> Key | None:
        """The candidate of highest ``l/g`` not in ``taken`` (None when all are taken)."""
        model = self._model
        space = self.space
        keys = space.keys_from_unit(model.sample(good, rng, m, self.multivariate))
        x, c = model.split(keys)
        ranked: list[Key] = []
        if self.multivariate:
            score = model.log_density_joint(good, x, c) - model.log_density_joint(worse, x, c)
        else:
            per_dim = model.log_density_marginal(good, x, c) - model.log_density_marginal(
                worse, x, c
            )
            best = np.argmax(per_dim, axis=0)
            ranked.append(tuple(keys[int(j)][d] for d, j in enumerate(best)))
            score = per_dim.sum(axis=1)
        for j in np.argsort(-score, kind="stable"):
            ranked.append(keys[int(j)])
        for key in ranked:
            if key not in taken:
                return key
        return None

    # ----------------------------------------------------------------- state

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore: the suggester is stateless."""


register("tpe", TPESuggester, validate, multi_objective=True, conditional=True)
register("multivariate-tpe", TPESuggester, validate, multi_objective=True, conditional=True)
