"""Katib's ``bayesianoptimization``: Gaussian-process Bayesian optimisation in numpy/scipy.

Katib runs this algorithm in its scikit-optimize service (``pkg/suggestion/v1beta1/skopt/``);
tunery implements its own GP instead, with the same settings.

Settings (validated like Katib's ``_validate_bayesianoptimization_setting``; a bad name or value
is a :class:`~tunery.errors.SpecError` at ``spec.algorithm.algorithmSettings[i]``):

- ``base_estimator``: ``GP`` (default), ``RF``, ``ET`` or ``GBRT``.  All are accepted; tunery
  has no tree surrogates and always models with its Gaussian process.
- ``n_initial_points`` (default 10, an integer ``>= 0``): the first trials follow a scrambled
  Sobol sequence.  At least two finished trials are needed before the GP takes over.
- ``acq_func``: ``gp_hedge`` (default), ``LCB``, ``EI``, ``PI``, ``EIps``, ``PIps``.  ``EI``
  is computed as log expected improvement (stable far from the incumbent); ``gp_hedge`` (skopt's
  portfolio of EI, PI and LCB) maps to log-EI, which is what the portfolio mostly picks and is
  the better default; ``EIps``/``PIps`` (per second) map to ``EI``/``PI``: tunery does not model
  trial duration.  ``LCB`` uses kappa 1.96 and ``PI`` xi 0.01 on the standardised objective
  (skopt's defaults).
- ``acq_optimizer``: ``auto`` (default) and ``lbfgs`` score dense candidates (1024 Sobol points
  plus 128 perturbations of each of the five best trials, every one rounded to a canonical
  configuration first) and refine the five best new ones with one batched L-BFGS-B run
  (analytic gradients); ``sampling`` scores the candidates only.
- ``random_state`` (an integer ``>= 0``): the seed.  Seed precedence: ``random_state``, else the
  ``seed`` argument, else :data:`~tunery.suggest.random.DEFAULT_SEED`.

The model
---------
- Inputs: each parameter's unit-cube coordinate from :class:`~tunery.space.SearchSpace`
  (log distributions in log space, steps and list entries as equal buckets; a ``discrete``
  list is ordinal by position).  ``categorical`` parameters are one-hot encoded (one column per
  value; the columns of a parameter share one length scale, with its own prior, see Kernel);
  the acquisition is optimised over the continuous
  relaxation of the other parameters with the categories held fixed, and every point is
  rounded to its step (decoded to a canonical configuration) and re-scored after optimisation.
- Outputs: finished trials with an objective (``Succeeded``, ``EarlyStopped``); a maximised
  objective is negated.  Values are standardised, warped with a Yeo-Johnson power transform
  (lambda by maximum likelihood on a grid over [-1, 2]) so that heavy tails do not flatten the
  model near the optimum, then standardised again.  Failed, killed and metrics-unavailable
  trials are ignored by the model (a failure is often unrelated to the parameters); like every
  trial they are never suggested again.
- Kernel: constant amplitude times a Matérn-5/2 kernel with one length scale per continuous
  column and one per categorical parameter (ARD), plus a noise term.  Hyperparameters are the
  MAP estimate (log marginal likelihood plus weak priors: ``Gamma(2, 0.5)`` on each inverse
  squared length scale, which keeps length scales near the size of the cube and away from
  "irrelevant" while data are few (a dimension-scaled log-normal prior made Hartmann6 runs
  stall with 40 trials); ``Gamma(2, 8)`` for a categorical parameter's, so that two of its
  values correlate about 0.83 until the data say otherwise, which sends the search to try
  another value near the best trial rather than anywhere (with one length scale per one-hot
  column and the continuous prior, runs stayed in the first good category); amplitude
  ``LogNormal(0, 1)``, noise variance ``LogNormal(-6, 2)``, noise at least 1e-6), found by
  L-BFGS-B with analytic gradients.  Restarts (a default and a random start) run on every call
  up to 16 points, then every fourth; other calls polish the previous fit (a warm start kept in
  the state); beyond 80 points the fit is only redone when the points grew by 10%, and a fresh
  fit on many points searches on a random subset of 64 first.  The Cholesky factorisation
  retries with growing jitter.
- History cap: at most :data:`MAX_GP_POINTS` trials feed the GP: the best half of the cap plus a
  seeded random subset of the rest, so a suggestion stays fast at thousands of trials.

Conditional parameters
----------------------
In a conditional space (``activeWhen``) an inactive dimension is NaN in the unit cube; its
feature is :data:`INACTIVE` (-0.5, outside the cube) for a continuous column and an all-zero
block for a one-hot one, so trials of one branch compare by that branch's parameters only and
the parents' values (one-hot or ordinal) tell branches apart.  Candidates are decoded through
the tree (parents first, inactive coordinates ignored) before scoring; perturbations of the best
trials draw a random value for a coordinate that was inactive; the L-BFGS-B refinement starts
from the decoded points and moves only their active columns.  The multi-objective and
constrained models take the same features.

Space-filling trials
--------------------
With one objective, after the initial design every :data:`SPACE_FILLING_EVERY`-th trial
(the 20th, 30th, ... with the default 10 initial points; a batch whose places in the order of
suggestion hold such numbers starts with that many) is the next untried point of the same
scrambled Sobol sequence instead of the model's choice.  A model fitted on few points can rule
a region out for good: on ``svr-diabetes`` in ``benchmarks/optimizers/`` three seeds of ten
saw only poor points of the RBF kernel in their design, settled on the linear kernel and spent
the rest of the budget there; the space-filling trials find the RBF kernel's narrow good
region on most of them (``docs/benchmarks.md`` has the measurements, elsewhere too).  SMAC
interleaves random configurations for the same reason.

Batches and pending trials
--------------------------
Trials still ``Created``/``Running`` and the points already chosen for the current batch are
added to the GP as fantasies (a Kriging believer: the fantasy value is the posterior mean,
raised to at least the incumbent so that a fantasy never improves the best value), which lowers
the posterior variance around them and spreads the batch.

No duplicates
-------------
A suggestion never repeats (canonically) a trial of the history, whatever its status, or
another suggestion of its batch: the best-scoring new configuration is taken, then the next
best candidates, then random new configurations.  A finite space ends: once every configuration
has been tried, ``suggest`` returns fewer or none.

Determinism and state
---------------------
Every random draw comes from a stream seeded by ``(seed, len(history), purpose)``; the only
state is the last fitted hyperparameters and the number of points they were fitted on
(``{"theta": [...], "fitted_at": n}``, a warm start), so a given seed, history and state always
give the same suggestions.

Several objectives and constraints
----------------------------------
An experiment with 2-4 objectives or with constraints is suggested by
:func:`tunery.suggest.gp_mo.suggest_multi`: one GP per objective and per constraint, log
expected hypervolume improvement times the probability of feasibility (see that module).  A
single unconstrained objective never goes there.

Speed
-----
The maths (acquisitions, the Gaussian process, its fit, the output warping) live in
:mod:`tunery.suggest.gp_math`; this module is the sampler around them.

While suggesting, BLAS is limited to one thread when ``threadpoolctl`` is importable (scikit-learn
installs it; tunery does not require it): the matrices are small, and an oversubscribed OpenBLAS
on a machine busy with trials was measured ten times slower.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import optimize

from tunery.history import History
from tunery.model import Assignment, ExperimentSpec, ParameterType
from tunery.settings import (
    INTEGER,
    SettingCheck,
    check_choice,
    check_random_state,
    resolve_seed,
    validate_settings,
)
from tunery.space import Key, SearchSpace
from tunery.suggest.base import register
from tunery.suggest.gp_math import (
    GaussianProcess,
    acquisition,
    default_theta,
    fit_theta,
    log_expected_improvement,
    warp,
)
from tunery.suggest.gp_mo import suggest_multi

__all__ = [
    "ACQ_FUNCS",
    "ACQ_OPTIMIZERS",
    "BASE_ESTIMATORS",
    "DEFAULT_N_INITIAL_POINTS",
    "MAX_GP_POINTS",
    "SPACE_FILLING_EVERY",
    "GPSuggester",
    "GaussianProcess",
    "log_expected_improvement",
    "validate",
]

FloatArray = npt.NDArray[np.float64]

BASE_ESTIMATORS = ("GP", "RF", "ET", "GBRT")
ACQ_FUNCS = ("gp_hedge", "LCB", "EI", "PI", "EIps", "PIps")
ACQ_OPTIMIZERS = ("auto", "sampling", "lbfgs")
#: Katib's (skopt's) default number of initial points.
DEFAULT_N_INITIAL_POINTS = 10
#: Most trials that feed the GP (the best half plus a random subset of the rest).
MAX_GP_POINTS = 200
#: After the initial design, every this-many-th trial (one objective) is the next point of the
#: Sobol sequence instead of the model's choice (see "Space-filling trials" above).
SPACE_FILLING_EVERY = 10

#: Up to this many GP points the hyperparameters are refitted (with restarts) on every call;
#: beyond, only when the points grew by _REFIT_GROWTH since the last fit (warm start).
_REFIT_ALWAYS = 80
_REFIT_GROWTH = 1.1
#: A fresh fit on more points first searches on a random subset of this size.
_SUBSET_FIT = 64
#: Beyond 16 points (up to _REFIT_ALWAYS), restarts run when the count is a multiple of this.
_RESTART_EVERY = 4
#: The feature of an inactive continuous dimension (conditional spaces): outside the unit cube.
INACTIVE = -0.5


# --------------------------------------------------------------------------- settings


def _check_n_initial_points(value: str) -> tuple[str, str] | None:
    if not INTEGER.match(value.strip()):
        return (
            f"failed to validate n_initial_points({value}): not an integer",
            'give a whole number >= 0, e.g. value: "10"',
        )
    if int(value) < 0:
        return (
            "n_initial_points should be great or equal than zero",
            'give a whole number >= 0, e.g. value: "10"',
        )
    return None


_BO = "Bayesian optimization"
_SETTINGS: dict[str, SettingCheck] = {
    "base_estimator": check_choice("base_estimator", BASE_ESTIMATORS, _BO),
    "n_initial_points": _check_n_initial_points,
    "acq_func": check_choice("acq_func", ACQ_FUNCS, _BO),
    "acq_optimizer": check_choice("acq_optimizer", ACQ_OPTIMIZERS, _BO),
    "random_state": check_random_state,
}


def validate(spec: ExperimentSpec) -> None:
    """Katib's skopt ``_validate_bayesianoptimization_setting``."""
    validate_settings(spec, _SETTINGS)


# --------------------------------------------------------------------------- the suggester

_THREADPOOLS: list[Any] = []


def _single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread while suggesting, when ``threadpoolctl`` is installed.

    The GP's matrices are small (at most a few hundred rows): threads buy nothing, and on a
    machine busy with trials an oversubscribed OpenBLAS runs ten times slower.  threadpoolctl
    (which scikit-learn installs) is optional: without it BLAS keeps its own settings.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - depends on the environment
        return contextlib.nullcontext()
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return cast(
        contextlib.AbstractContextManager[Any], _THREADPOOLS[0].limit(limits=1, user_api="blas")
    )


def _sobol_points(dims: int, seed: Sequence[int], n: int) -> FloatArray:
    from scipy.stats import qmc  # lazily: scipy.stats is slow to import

    rng = np.random.default_rng(list(seed))
    try:
        engine = qmc.Sobol(dims, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 calls it seed
        engine = qmc.Sobol(dims, scramble=True, seed=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(engine.random(n), dtype=np.float64)


class GPSuggester:
    """Gaussian-process Bayesian optimisation without duplicates (see the module docstring)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)
        settings = spec.algorithm.settings_dict()
        self.n_initial_points = int(
            settings.get("n_initial_points", str(DEFAULT_N_INITIAL_POINTS)).strip()
        )
        acq = settings.get("acq_func", "gp_hedge")
        self.acq_func = {"gp_hedge": "EI", "EIps": "EI", "PIps": "PI"}.get(acq, acq)
        self.refine = settings.get("acq_optimizer", "auto") != "sampling"
        self.theta: FloatArray | None = None
        self.fitted_at = 0
        #: The other models' warm starts, by slot (see :meth:`fit_model`).
        self.models: dict[int, tuple[FloatArray, int]] = {}
        # Feature layout: unit-cube dims that stay continuous, and one-hot blocks.
        self._cont: list[int] = []
        self._cats: list[tuple[int, int]] = []  # (dim, number of values)
        for i, (param, size) in enumerate(
            zip(self.space.parameters, self.space.parameter_sizes(), strict=True)
        ):
            if param.parameter_type is ParameterType.CATEGORICAL:
                self._cats.append((i, size or 1))
            else:
                self._cont.append(i)
        self.columns = len(self._cont) + sum(k for _, k in self._cats)
        #: A conditional space: inactive dimensions are NaN in the unit cube (see _features).
        self.conditional = self.space.conditional
        self._cont_columns = np.arange(len(self._cont), dtype=np.intp)
        # Each continuous column has its own length scale; a categorical's one-hot block one.
        groups = list(range(len(self._cont)))
        for index, (_dim, size) in enumerate(self._cats):
            groups += [len(self._cont) + index] * size
        self.groups = np.asarray(groups, dtype=np.intp)

    # ------------------------------------------------------------ features

    def _features(self, unit: FloatArray) -> FloatArray:
        """Feature rows of unit-cube points: continuous coordinates, then one-hot blocks.

        In a conditional space an inactive dimension (NaN in ``unit``) is the constant
        :data:`INACTIVE` outside the cube if continuous, an all-zero block if categorical.
        """
        out = np.zeros((len(unit), self.columns))
        if self.conditional:
            out[:, : len(self._cont)] = np.nan_to_num(unit[:, self._cont], nan=INACTIVE)
        else:
            out[:, : len(self._cont)] = unit[:, self._cont]
        column = len(self._cont)
        for dim, size in self._cats:
            values = unit[:, dim]
            rows = np.arange(len(unit))
            if self.conditional:
                rows = np.flatnonzero(~np.isnan(values))
                values = values[rows]
            index = np.minimum(np.floor(values * size), size - 1).astype(np.intp)
            out[rows, column + index] = 1.0
            column += size
        return out

    def _snap(self, unit: FloatArray) -> tuple[list[Key], FloatArray]:
        keys = self.space.keys_from_unit(unit)
        return keys, self.space.encode_keys(keys)

    # ------------------------------------------------------------ suggest

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        with _single_threaded_blas():
            return self._suggest(history, count)

    def _suggest(self, history: History, count: int) -> list[Assignment]:
        space = self.space
        tried = history.tried_keys
        size = space.size()
        if size is not None:
            count = min(count, size - len(tried))
            if count <= 0:
                return []
        observed = [
            (e.key, e.loss) for e in history.observed if e.key is not None and e.loss is not None
        ]
        pending = [e.key for e in history.active if e.key is not None]
        taken: set[Key] = set(tried)
        found: list[Key] = []
        initial = max(0, self.n_initial_points - len(history))
        if len(observed) < 2:
            initial = count
        if initial > 0:
            found += self._initial(taken, min(initial, count))
            taken.update(found)
        if len(observed) >= 2 and history.n_objectives == 1 and not history.n_constraints:
            first = len(history) + len(found)
            more = self._initial(taken, self._space_filling(first, count - len(found)))
            found += more
            taken.update(more)
        if len(found) < count and len(observed) >= 2:
            # (Fewer than two observations: the initial points were all there is to give.)
            rest = count - len(found)
            if history.n_objectives > 1 or history.n_constraints:
                found += suggest_multi(self, history, pending + found, taken, rest)
            else:
                found += self._bayes(history, observed, pending + found, taken, rest)
        return [Assignment(space.params_of(key)) for key in found]

    def _space_filling(self, first: int, count: int) -> int:
        """How many of the ``count`` trials numbered from ``first`` (0-based, in the order they
        are suggested) are space-filling: every :data:`SPACE_FILLING_EVERY`-th after the
        initial design."""
        every, start = SPACE_FILLING_EVERY, self.n_initial_points
        numbers = range(max(first, start), first + count)
        return sum(1 for n in numbers if (n - start) % every == every - 1)

    def _initial(self, taken: set[Key], count: int) -> list[Key]:
        """The next ``count`` untried points of the seeded Sobol sequence (stateless)."""
        found: list[Key] = []
        seen = set(taken)
        n = 16
        drawn = 0
        while len(found) < count and n <= 4096:
            keys = self.space.keys_from_unit(_sobol_points(self.space.dims, [self.seed, 0], n))
            for key in keys[drawn:]:
                if key not in seen:
                    seen.add(key)
                    found.append(key)
                    if len(found) == count:
                        break
            drawn = n
            n *= 4
        if len(found) < count:
            rng = np.random.default_rng([self.seed, 1, len(taken)])
            found += self.space.sample_new_keys(rng, seen, count - len(found))
        return found

    def _bayes(
        self,
        history: History,
        observed: list[tuple[Key, float]],
        pending: list[Key],
        taken: set[Key],
        count: int,
    ) -> list[Key]:
        space = self.space
        rng = np.random.default_rng([self.seed, 2, len(history)])
        values = np.array([v for _, v in observed], dtype=np.float64)
        keys = [k for k, _ in observed]
        if len(values) > MAX_GP_POINTS:
            order = np.argsort(values, kind="stable")
            keep = order[: MAX_GP_POINTS // 2]
            rest = rng.choice(order[MAX_GP_POINTS // 2 :], MAX_GP_POINTS - len(keep), False)
            chosen = np.sort(np.concatenate([keep, rest]))
            values = values[chosen]
            keys = [keys[i] for i in chosen]
        unit_obs = space.encode_keys(keys)
        x = self._features(unit_obs)
        y = warp(values)
        theta = self._fit(x, y, rng)
        gp = GaussianProcess(x, y, theta)
        best = float(y.min())
        best_unit = unit_obs[np.argsort(y, kind="stable")[:5]]
        for key in pending:
            point = self._features(space.encode_keys([key]))
            mu, _ = gp.predict(point)
            gp.add(point[0], max(float(mu[0]), best))
        found: list[Key] = []
        seen = set(taken)
        candidates = self._candidates(rng, best_unit)
        for _ in range(count):
            picked = self._next(gp, best, candidates, seen, rng)
            if picked is None:
                break
            found.append(picked)
            seen.add(picked)
            point = self._features(space.encode_keys([picked]))
            mu, _ = gp.predict(point)
            gp.add(point[0], max(float(mu[0]), best))
        if len(found) < count:
            more = space.sample_new_keys(rng, seen, count - len(found))
            found += more
        return found

    def _fit(self, x: FloatArray, y: FloatArray, rng: np.random.Generator) -> FloatArray:
        """MAP hyperparameters of the (first) objective's GP; see :meth:`fit_model`."""
        return self.fit_model(0, x, y, rng)

    def fit_model(
        self, slot: int, x: FloatArray, y: FloatArray, rng: np.random.Generator
    ) -> FloatArray:
        """MAP hyperparameters of model ``slot``, warm-started; refitted less often as it grows.

        Slot 0 is the (first) objective's GP (``theta``/``fitted_at`` of the state); the
        multi-objective and constrained models (:mod:`tunery.suggest.gp_mo`) number the other
        objectives, then the constraints, from 1.
        """
        if slot:
            previous, at = self.models.get(slot, (None, 0))
            self.theta, self.fitted_at, saved = previous, at, (self.theta, self.fitted_at)
            try:
                theta = self._fit_one(x, y, rng)
                self.models[slot] = (theta, self.fitted_at)
            finally:
                self.theta, self.fitted_at = saved
            return theta
        return self._fit_one(x, y, rng)

    def _fit_one(self, x: FloatArray, y: FloatArray, rng: np.random.Generator) -> FloatArray:
        n = len(y)
        default = default_theta(self.columns)
        warm = self.theta if self.theta is not None and len(self.theta) == len(default) else None
        if warm is not None and n > _REFIT_ALWAYS and n < self.fitted_at * _REFIT_GROWTH:
            return warm
        starts: list[FloatArray] = [] if warm is None else [warm]
        if warm is None or (n <= _REFIT_ALWAYS and (n <= 16 or n % _RESTART_EVERY == 0)):
            # Restarts (a default and a random one) while the data are few, then every
            # fourth call; the other calls polish the previous fit.
            random_start = default.copy()
            random_start[: self.columns] = rng.uniform(math.log(0.05), math.log(2.0), self.columns)
            starts += [default, random_start]
        if n > _SUBSET_FIT and warm is None:
            # A fresh fit on many points: search on a subset, then polish on all of them.
            subset = np.sort(rng.choice(n, _SUBSET_FIT, replace=False))
            starts = [fit_theta(x[subset], y[subset], starts, groups=self.groups)]
        maxiter = 100 if n <= _REFIT_ALWAYS else 30
        self.theta = fit_theta(x, y, starts, maxiter=maxiter, groups=self.groups)
        self.fitted_at = n
        return self.theta

    def _candidates(self, rng: np.random.Generator, best_unit: FloatArray) -> FloatArray:
        """Unit-cube candidates: Sobol points plus perturbations of the best trials."""
        dims = self.space.dims
        sobol = _sobol_points(dims, [self.seed, 3, int(rng.integers(1 << 30))], 1024)
        per = 128
        local = np.repeat(best_unit, per, axis=0)
        if self.conditional:
            # An inactive dimension gets a random value, used if a flip activates it.
            blank = np.isnan(local)
            local[blank] = rng.random(int(blank.sum()))
        scales = rng.choice(np.array([0.01, 0.05, 0.15, 0.3]), size=(len(local), 1))
        mask = rng.random(local.shape) < max(0.2, 1.0 / max(dims, 1))
        steps = rng.normal(size=local.shape) * scales
        local = np.clip(local + np.where(mask, steps, 0.0), 0.0, 1.0)
        for dim, _size in self._cats:
            flip = rng.random(len(local)) < max(0.1, 1.0 / max(dims, 1))
            local[flip, dim] = rng.random(int(flip.sum()))
        return np.vstack([sobol, local])

    def _score(self, gp: GaussianProcess, unit: FloatArray, best: float) -> FloatArray:
        mu, sd = gp.predict(self._features(unit))
        return acquisition(self.acq_func, mu, sd, best)[0]

    def _next(
        self,
        gp: GaussianProcess,
        best: float,
        candidates: FloatArray,
        seen: set[Key],
        rng: np.random.Generator,
    ) -> Key | None:
        keys, unit = self._snap(candidates)
        scores = self._score(gp, unit, best)
        order = np.argsort(-scores, kind="stable")
        fresh = [i for i in order if keys[i] not in seen]
        pool_keys = [keys[i] for i in fresh]
        pool_scores = [float(scores[i]) for i in fresh]
        if self.refine and self._cont and fresh:
            starts: list[int] = []
            start_keys: set[Key] = set()
            for i in fresh:
                if keys[i] not in start_keys:
                    start_keys.add(keys[i])
                    starts.append(i)
                if len(starts) == 5:
                    break
            # (A conditional space refines the snapped points: inactive dimensions NaN, held.)
            refined = self._refine(gp, best, (unit if self.conditional else candidates)[starts])
            r_keys, r_unit = self._snap(refined)
            r_scores = self._score(gp, r_unit, best)
            for key, score in zip(r_keys, r_scores, strict=True):
                if key not in seen:
                    pool_keys.append(key)
                    pool_scores.append(float(score))
        if not pool_keys:
            return None
        index = int(np.argmax(np.asarray(pool_scores)))
        return pool_keys[index]

    def _refine(self, gp: GaussianProcess, best: float, starts: FloatArray) -> FloatArray:
        """Multi-start L-BFGS-B of the acquisition over the continuous dims (categories fixed)."""
        cont = self._cont
        m = len(starts)
        c = len(cont)
        base = starts.copy()
        fixed = self._features(base)
        columns = self._cont_columns
        # Inactive dimensions (NaN, conditional spaces only) keep their constant feature.
        held = np.isnan(base[:, cont])
        base[:, cont] = np.where(held, 0.5, base[:, cont])
        hold = bool(held.any())

        def objective(z: FloatArray) -> tuple[float, FloatArray]:
            feats = fixed.copy()
            feats[:, :c] = (
                np.where(held, feats[:, :c], z.reshape(m, c)) if hold else z.reshape(m, c)
            )
            mu, sd, d_mu, d_sd = gp.predict_grad(feats, columns)
            value, a_mu, a_sd = acquisition(self.acq_func, mu, sd, best)
            grad = a_mu[:, None] * d_mu + a_sd[:, None] * d_sd
            if hold:
                grad = np.where(held, 0.0, grad)
            if not np.all(np.isfinite(value)):
                value = np.nan_to_num(value, nan=-1e10, neginf=-1e10)
                grad = np.nan_to_num(grad)
            return -float(value.sum()), -grad.ravel()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = optimize.minimize(
                objective,
                base[:, cont].ravel(),
                jac=True,
                method="L-BFGS-B",
                bounds=[(0.0, 1.0)] * (m * c),
                options={"maxiter": 60},
            )
        out = base.copy()
        out[:, cont] = np.clip(np.asarray(result.x).reshape(m, c), 0.0, 1.0)
        return out

    # ------------------------------------------------------------ state

    def dump_state(self) -> dict[str, Any] | None:
        theta = None if self.theta is None else [float(v) for v in self.theta]
        state: dict[str, Any] = {"theta": theta, "fitted_at": self.fitted_at}
        if self.models:
            # (Multi-objective or constrained only: a single objective's state is unchanged.)
            state["models"] = {
                str(slot): {"theta": [float(v) for v in t], "fitted_at": at}
                for slot, (t, at) in sorted(self.models.items())
            }
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        self.theta, self.fitted_at = self._theta_of(state)
        self.models = {}
        models = state.get("models")
        if isinstance(models, dict):
            for slot, entry in models.items():
                if isinstance(slot, str) and slot.isdigit() and int(slot) > 0:
                    theta, at = self._theta_of(entry if isinstance(entry, dict) else {})
                    if theta is not None:
                        self.models[int(slot)] = (theta, at)

    def _theta_of(self, state: dict[str, Any]) -> tuple[FloatArray | None, int]:
        theta = state.get("theta")
        fitted_at = state.get("fitted_at", 0)
        if (
            isinstance(theta, list)
            and len(theta) == self.columns + 2
            and all(isinstance(v, int | float) and math.isfinite(v) for v in theta)
        ):
            at = int(fitted_at) if isinstance(fitted_at, int) else 0
            return np.asarray([float(v) for v in theta], dtype=np.float64), at
        return None, 0


register("bayesianoptimization", GPSuggester, validate, multi_objective=True, conditional=True)
