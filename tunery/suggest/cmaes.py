"""Katib's ``cmaes``: the covariance matrix adaptation evolution strategy, on the ``cmaes`` package.

Katib runs ``cmaes`` in its Goptuna service (``pkg/suggestion/v1beta1/goptuna/``, the default
image) and, in some installs, in its Optuna service (``pkg/suggestion/v1beta1/optuna/``).
tunery accepts the settings of both, validated like Katib's Optuna service validates them (a
bad name or value is a :class:`~tunery.errors.SpecError` at
``spec.algorithm.algorithmSettings[i]``):

==================== =============================================== ==========================
setting              value                                           default
==================== =============================================== ==========================
``random_state``     integer ``>= 0``                                the seed argument, else 0
``sigma``            number ``>= 0``: the initial step size, in the  ``1/6``
                     unit cube (each parameter's range is 1); ``0``
                     means the default, as in Goptuna
``restart_strategy`` ``none`` (or ``None``), ``ipop`` or ``bipop``   ``none``
==================== =============================================== ==========================

Like Katib (both services), the search space needs at least two ``double``/``int`` parameters
("cmaes only supports two or more dimensional continuous search space"); the error names
``spec.parameters``.  Unknown setting names are refused (Katib's Optuna service refuses them;
its Goptuna service ignores them).  Goptuna applies ``sigma`` on the parameters' own scale;
tunery, like Katib's Optuna service, in the unit cube.

The method
----------
CMA-ES runs in the unit cube of :class:`tunery.space.SearchSpace`, one dimension per ``double``,
``int`` and ``discrete`` parameter (log distributions in log space; a stepped, integer or listed
value owns an equal-width bucket, a ``discrete`` list is ordinal by position), with bounds
``[0, 1]``.  It starts at the centre with step size ``sigma`` (the default ``1/6`` puts the
range's ends three standard deviations away, which is also Katib's ``normal`` distribution); the
population size is ``4 + floor(3 ln n)`` for ``n`` dimensions, or ``parallelTrialCount`` when
that is larger, so that a generation is what runs at once.  A sampled point is decoded to a
configuration by rounding to the step, int or list entry, and the point told to CMA-ES is the
configuration evaluated (a rounded value at the centre of its bucket, as Optuna's sampler tells
it).  ``categorical`` parameters cannot be searched by CMA-ES: each member draws them uniformly
at random, independently (what Katib's Goptuna and Optuna samplers do too).  A maximised
objective is negated.

The ``cmaes`` package (:class:`cmaes.CMA`) keeps the distribution and updates it; tunery draws the
members, matches them to trials and tells each finished generation:

- ``suggest`` hands out members of the current generation.  When more are asked for than the
  generation still needs (more free slots than members left, or killed members to replace),
  extra members are drawn from the same distribution, so that slots never wait for a
  generation to finish (Goptuna and Optuna do the same).
- Members are matched to trials by canonical configuration.  Once ``population size`` members
  have finished (``Succeeded``/``EarlyStopped`` with an objective value, or ``Failed``,
  ``MetricsUnavailable``, or finished without a value) the first ``population size`` of them, in
  the order they were drawn, are told and the next generation starts; members still running
  then are not told.  A failed member is told a value worse than every value of its generation,
  so the search moves away from configurations that crash.  ``Killed`` members do not count: an
  extra member takes their place.  Trials that are no member (a previous generation's late
  members, trials created by other means) only block their configuration.
- ``restart_strategy``: when the ``cmaes`` package's termination criteria fire after a
  generation, ``ipop`` restarts from a uniformly random point with twice the population size;
  ``bipop`` alternates such large-population restarts with small-population ones (population
  ``floor(p0 * 2 ** (k * u ** 2))`` and step size ``sigma * 10 ** (-2 u)``, ``u`` uniform in
  ``[0, 1)``, ``k`` the large restarts so far) whenever the small regime has used fewer
  evaluations.  With ``none`` the search just goes on.

Warm start
----------
Results the history holds before the first generation (seeds of a warm start, from another
experiment, a CSV or ``add_trial``: ``docs/warm-starts.md``) set where CMA-ES starts, as
WS-CMA-ES (Nomura et al., 2021) does in spirit: the mean of the best 10% of them (at least one),
with a step size of their spread (the root of the mean variance per dimension plus ``0.1²``),
never above ``sigma``.  Without any, it starts at the centre.  Those results are no members: no
generation is told them.

No duplicates
-------------
A member whose configuration (after rounding, with its categorical draw) equals a trial of the
history, whatever its status, or another member handed out, is drawn again: up to 16 draws from
the distribution, then 16 from the same distribution widened 2, 4, 8 and 16 times around its
mean, then a random configuration not tried yet.  When every configuration of a finite space has
been tried ``suggest`` returns fewer or none, and the experiment ends with
``ExperimentSuggestionEndReached``.

Determinism and state
---------------------
Each member is drawn from a stream seeded by ``(seed, restarts, generation, member)``, the seed
being ``random_state``, else the seed argument, else 0.  The state blob holds the ``cmaes``
optimiser's own state (mean, step size, covariance, evolution paths, generation; arrays as JSON
lists, never pickled), the members of the current generation and the restart counters, so a
resumed experiment continues the same search, identically.  A generation drawn by a controller
that crashed before it saved the state is lost: its trials only block their configurations.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import (
    Assignment,
    ExperimentSpec,
    ParameterType,
)
from tunery.settings import (
    SettingCheck,
    check_choice,
    check_random_state,
    resolve_seed,
    validate_settings,
)
from tunery.space import Key, SearchSpace
from tunery.suggest.base import register

__all__ = [
    "DEFAULT_SIGMA",
    "RESTART_STRATEGIES",
    "CMAESSuggester",
    "validate",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: The initial step size in the unit cube when ``sigma`` is not set (or ``0``).
DEFAULT_SIGMA = 1.0 / 6.0
#: Accepted ``restart_strategy`` values (Katib's Optuna service writes ``None`` too).
RESTART_STRATEGIES = ("none", "None", "ipop", "bipop")
#: Population growth factor of a large restart.
INC_POPSIZE = 2
#: Draws from the distribution before it is widened for a configuration not tried yet.
_PLAIN_DRAWS = 16
#: Warm start (WS-CMA-ES's defaults): the share of the known results the first mean is taken
#: from, and the spread added to theirs.
WARM_GAMMA = 0.1
WARM_ALPHA = 0.1

#: Widening factors around the mean, and draws at each.
_WIDEN = (2.0, 4.0, 8.0, 16.0)
_WIDE_DRAWS = 4
#: Told values are clipped to this magnitude (the package keeps their range).
_VALUE_LIMIT = 1e300
_STATE_VERSION = 1


# --------------------------------------------------------------------------- settings


def _check_sigma(value: str) -> tuple[str, str] | None:
    try:
        number = float(value.strip())
    except ValueError:
        return (f"failed to validate sigma({value}): not a number", 'e.g. value: "0.2"')
    if not math.isfinite(number):
        return (f"failed to validate sigma({value}): not a finite number", 'e.g. value: "0.2"')
    if number < 0.0:
        return (
            f"sigma should be greater than or equal to zero, not {value}",
            'give the initial step size in the unit cube, e.g. value: "0.2" (0: the default)',
        )
    return None


_SETTINGS: Mapping[str, SettingCheck] = {
    "random_state": check_random_state,
    "sigma": _check_sigma,
    "restart_strategy": check_choice(
        "restart_strategy", RESTART_STRATEGIES, "CMAES optimization", ("none", "ipop", "bipop")
    ),
}


def validate(spec: ExperimentSpec) -> None:
    """Katib's ``_validate_cmaes_setting`` (Optuna service) and Goptuna's parameter rule."""
    validate_settings(spec, _SETTINGS)
    numeric = sum(
        1 for p in spec.parameters if p.parameter_type in (ParameterType.DOUBLE, ParameterType.INT)
    )
    if numeric < 2:
        raise SpecError(
            "spec.parameters",
            "cmaes only supports two or more dimensional continuous search space "
            f"(this one has {numeric} double/int parameter{'s' if numeric != 1 else ''})",
            "give at least two double or int parameters, or use another algorithm (e.g. tpe)",
        )


# --------------------------------------------------------------------------- optimiser state


def _encode(value: Any) -> Any:
    """One attribute of the package's state as JSON (arrays tagged with dtype and shape)."""
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} of the cmaes state")


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "ndarray" in value:
        array = np.asarray(value["ndarray"], dtype=np.dtype(value["dtype"]))
        return array.reshape(tuple(value["shape"]))
    return value


def _new_cma(mean: FloatArray, sigma: float, popsize: int, seed: int) -> Any:
    from cmaes import CMA  # lazily: the package imports scipy.stats

    n = len(mean)
    optimizer = CMA(
        mean=mean,
        sigma=sigma,
        bounds=np.tile(np.array([0.0, 1.0]), (n, 1)),
        n_max_resampling=10 * n,
        seed=seed,
        population_size=popsize,
    )
    # The package leaves the history of generation values uninitialised (np.empty) until it
    # is filled; zeros keep the stored state deterministic and valid JSON.
    funhist = getattr(optimizer, "_funhist_values", None)
    if isinstance(funhist, np.ndarray):
        funhist[:] = 0.0
    return optimizer


def _dump_cma(optimizer: Any) -> dict[str, Any]:
    return {name: _encode(value) for name, value in optimizer.__getstate__().items()}


def _load_cma(stored: Mapping[str, Any], template: Any = None) -> Any:
    """The optimiser of a stored state.

    With a ``template`` (a fresh optimiser of the same shape), only the template's attributes
    are taken from ``stored``, and the template's own values fill any the state lacks (a state
    written by another version of the package).
    """
    from cmaes import CMA

    if template is None:
        state = {name: _decode(value) for name, value in stored.items()}
    else:
        state = template.__getstate__()
        for name in state:
            if name in stored:
                state[name] = _decode(stored[name])
    optimizer = CMA.__new__(CMA)
    optimizer.__setstate__(state)
    return optimizer


# --------------------------------------------------------------------------- the suggester


@dataclass
class _Member:
    """A member of the current generation: its point (CMA coordinates) and configuration."""

    x: FloatArray
    key: Key


def _seed32(*entropy: int) -> int:
    return int(np.random.SeedSequence(list(entropy)).generate_state(1)[0])


class CMAESSuggester:
    """CMA-ES over the unit cube, categorical parameters drawn at random, no duplicates."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)
        settings = spec.algorithm.settings_dict()
        sigma = float(settings.get("sigma", "0").strip() or 0.0)
        self.sigma0 = sigma if sigma > 0.0 else DEFAULT_SIGMA
        strategy = settings.get("restart_strategy", "none")
        self.restart_strategy = "none" if strategy == "None" else strategy
        self._cma_dims = [
            i
            for i, p in enumerate(self.space.parameters)
            if p.parameter_type is not ParameterType.CATEGORICAL
        ]
        self._cat_dims = [
            i
            for i, p in enumerate(self.space.parameters)
            if p.parameter_type is ParameterType.CATEGORICAL
        ]
        n = len(self._cma_dims)
        self.popsize0 = max(4 + math.floor(3 * math.log(max(n, 1))), spec.parallel_trial_count)
        self._reset()

    def _reset(self) -> None:
        self._optimizer: Any = None
        self._members: list[_Member] = []
        self._restarts = 0
        self._large_restarts = 0
        self._evals_small = 0
        self._evals_large = 0
        self._regime = "large"

    # ----------------------------------------------------------------- optimiser

    def _cma(self) -> Any:
        if self._optimizer is None:
            n = len(self._cma_dims)
            self._optimizer = _new_cma(
                np.full(n, 0.5), self.sigma0, self.popsize0, _seed32(self.seed, 0)
            )
        return self._optimizer

    def _warm_start(self, history: History) -> None:
        """Before the first generation, start from the results already known (warm-start
        seeds: ``tunery.warmstart``), as WS-CMA-ES does: the mean of the best ``WARM_GAMMA``
        of them, the step size their spread (plus ``WARM_ALPHA``), at most ``sigma``."""
        if self._optimizer is not None or not self._cma_dims:
            return
        known = sorted(
            (e for e in history.observed if e.key is not None and e.loss is not None),
            key=lambda e: e.loss or 0.0,
        )
        if not known:
            return
        top = known[: max(1, math.ceil(WARM_GAMMA * len(known)))]
        points = self.space.encode_keys([e.key for e in top if e.key is not None])
        points = points[:, self._cma_dims]
        spread = math.sqrt(float(points.var(axis=0).mean()) + WARM_ALPHA**2)
        self._optimizer = _new_cma(
            points.mean(axis=0),
            min(self.sigma0, spread),
            self.popsize0,
            _seed32(self.seed, 0),
        )

    def _restart(self) -> None:
        """IPOP/BIPOP: a new optimiser at a random point, population by the strategy."""
        old = self._optimizer
        evals = int(old.population_size) * int(old.generation)
        self._restarts += 1
        rng = np.random.default_rng([self.seed, self._restarts, 1])
        sigma = self.sigma0
        if self.restart_strategy == "ipop":
            popsize = int(old.population_size) * INC_POPSIZE
        else:
            if self._regime == "small":
                self._evals_small += evals
            else:
                self._evals_large += evals
            if self._evals_small < self._evals_large:
                self._regime = "small"
                u = float(rng.random())
                multiplier = INC_POPSIZE**self._large_restarts
                popsize = max(2, math.floor(self.popsize0 * multiplier ** (u * u)))
                sigma = self.sigma0 * 10.0 ** (-2.0 * float(rng.random()))
            else:
                self._regime = "large"
                self._large_restarts += 1
                popsize = self.popsize0 * INC_POPSIZE**self._large_restarts
        mean = rng.random(len(self._cma_dims))
        log.debug("cmaes restart %d: population %d, sigma %g", self._restarts, popsize, sigma)
        self._optimizer = _new_cma(mean, sigma, popsize, _seed32(self.seed, self._restarts))
        self._members = []

    def _tell_if_done(self, outcomes: Mapping[Key, tuple[bool, float | None]]) -> None:
        """Tell the generation once ``population size`` members have finished."""
        optimizer = self._cma()
        finished: list[tuple[FloatArray, float | None]] = []
        for member in self._members:
            outcome = outcomes.get(member.key)
            if outcome is not None and outcome[0]:
                finished.append((member.x, outcome[1]))
        popsize = int(optimizer.population_size)
        if len(finished) < popsize:
            return
        chosen = finished[:popsize]
        values = [v for _, v in chosen if v is not None]
        if values:
            worst, best = max(values), min(values)
            penalty = worst + max(worst - best, abs(worst), 1.0)
        else:
            penalty = 0.0
        penalty = min(penalty, _VALUE_LIMIT)
        solutions = [(x.copy(), penalty if v is None else v) for x, v in chosen]
        optimizer.tell(solutions)
        self._members = []
        if self.restart_strategy != "none" and optimizer.should_stop():
            self._restart()

    def _outcomes(self, history: History) -> dict[Key, tuple[bool, float | None]]:
        """Per member configuration: (finished, value); killed or running -> not finished."""
        members = {m.key for m in self._members}
        out: dict[Key, tuple[bool, float | None]] = {}
        for entry in history.entries:
            key = entry.key
            if key is None or key not in members:
                continue
            previous = out.get(key)
            if previous is not None and previous[0] and previous[1] is not None:
                continue  # a repeated configuration: its first value counts
            if entry.observed and entry.loss is not None:
                out[key] = (True, float(np.clip(entry.loss, -_VALUE_LIMIT, _VALUE_LIMIT)))
            elif entry.completed or entry.trial.status.is_failed:
                out[key] = (True, None)
            elif previous is None:
                out[key] = (False, None)
        return out

    # ----------------------------------------------------------------- suggest

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        space = self.space
        tried = history.tried_keys
        size = space.size()
        if size is not None:
            count = min(count, size - len(tried))
            if count <= 0:
                return []
        self._warm_start(history)
        self._tell_if_done(self._outcomes(history))
        taken = set(tried)
        found: list[Key] = []
        # Members drawn earlier whose trials were never created go out first.
        for member in self._members:
            if len(found) == count:
                break
            if member.key not in taken:
                taken.add(member.key)
                found.append(member.key)
        while len(found) < count:
            drawn = self._draw(taken)
            if drawn is None:
                break
            self._members.append(drawn)
            taken.add(drawn.key)
            found.append(drawn.key)
        # The package's state is not exactly what it pickles (the covariance is stored as its
        # upper triangle); passing it through its own state after every call keeps a live
        # suggester and one restored from dump_state bit for bit the same.
        self._optimizer = _load_cma(_dump_cma(self._optimizer))
        return [Assignment(space.params_of(key)) for key in found]

    def _draw(self, taken: set[Key]) -> _Member | None:
        """A new member whose configuration is not in ``taken`` (None: the space is spent)."""
        optimizer = self._cma()
        index = len(self._members)
        entropy = (self.seed, self._restarts, int(optimizer.generation), index)
        optimizer.reseed_rng(_seed32(*entropy, 0))
        rng = np.random.default_rng([*entropy, 1])
        mean = np.array(optimizer.mean, dtype=np.float64)
        scales = [1.0] * _PLAIN_DRAWS + [s for s in _WIDEN for _ in range(_WIDE_DRAWS)]
        found: Key | None = None
        for scale in scales:
            x = np.asarray(optimizer.ask(), dtype=np.float64)
            if scale != 1.0:
                x = np.clip(mean + scale * (x - mean), 0.0, 1.0)
            key = self._configuration(x, rng)
            if key not in taken:
                found = key
                break
        if found is None:
            fresh = self.space.sample_new_keys(rng, taken, 1)
            if not fresh:
                return None
            found = fresh[0]
        # The point told is the configuration evaluated (a stepped value at its bucket's centre).
        unit = self.space.encode_keys([found])[0]
        return _Member(unit[self._cma_dims], found)

    def _configuration(self, x: FloatArray, rng: np.random.Generator) -> Key:
        unit = np.empty(self.space.dims)
        unit[self._cma_dims] = x
        if self._cat_dims:
            unit[self._cat_dims] = rng.random(len(self._cat_dims))
        return self.space.keys_from_unit(unit[None, :])[0]

    # ----------------------------------------------------------------- state

    def dump_state(self) -> dict[str, Any] | None:
        return {
            "version": _STATE_VERSION,
            "cmaes": None if self._optimizer is None else _dump_cma(self._optimizer),
            "members": [{"x": m.x.tolist(), "key": list(m.key)} for m in self._members],
            "restarts": self._restarts,
            "large_restarts": self._large_restarts,
            "evals_small": self._evals_small,
            "evals_large": self._evals_large,
            "regime": self._regime,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._reset()
        try:
            self._load(state)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("cmaes: ignoring an unreadable algorithm state (%s); starting afresh", exc)
            self._reset()

    def _load(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"state version {state.get('version')!r}")
        n = len(self._cma_dims)
        stored = state.get("cmaes")
        if stored is not None:
            popsize = _decode(stored["_popsize"])
            template = _new_cma(np.full(n, 0.5), self.sigma0, int(popsize), 0)
            optimizer = _load_cma(stored, template)
            if optimizer.dim != n or len(optimizer.mean) != n:
                raise ValueError("the state has another number of dimensions")
            self._optimizer = optimizer
        members: list[_Member] = []
        for entry in state.get("members", []):
            x = np.asarray(entry["x"], dtype=np.float64)
            key = tuple(entry["key"])
            if x.shape != (n,) or len(key) != self.space.dims:
                raise ValueError("a member of another shape")
            members.append(_Member(x, key))
        self._members = members
        self._restarts = int(state.get("restarts", 0))
        self._large_restarts = int(state.get("large_restarts", 0))
        self._evals_small = int(state.get("evals_small", 0))
        self._evals_large = int(state.get("evals_large", 0))
        regime = state.get("regime", "large")
        self._regime = regime if regime in ("small", "large") else "large"


register("cmaes", CMAESSuggester, validate)
