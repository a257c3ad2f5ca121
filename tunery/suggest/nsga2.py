"""``nsga2``: the non-dominated sorting genetic algorithm II (Deb et al., 2002), for mixed spaces.

A tunery algorithm beyond Katib's list.  It tunes one objective (then it is an elitist genetic
algorithm) or several (``spec.objectives``), with or without ``spec.constraints``.

===================== ======================================= =================================
setting               value                                   default
===================== ======================================= =================================
``random_state``      integer ``>= 0``                        the seed argument, else 0
``population_size``   integer ``>= 2``                        from ``maxTrialCount``, else 20
``crossover_prob``    number in ``[0, 1]``                    0.9
``mutation_prob``     number in ``[0, 1]``: per parameter     ``1 / number of parameters``
``swapping_prob``     number in ``[0, 1]``: per list parameter 0.5
===================== ======================================= =================================

Generations
-----------
The suggester is stateless (but for a population size chosen from the budget): generations are
formed from the history each time.  The observed trials (completed with every objective value),
in creation order, are cut into generations of ``population_size``; a last, incomplete one does
not count yet.  The parents after a generation are the best ``population_size`` of the previous
parents and that generation (elitism), ranked by the constrained non-dominated sort below, ties
on a front broken by crowding distance (larger first), then by creation order.  Until one whole
generation has been observed, suggestions come from the initial population, a seeded Latin
hypercube of ``population_size`` points (trials past it, replacing failed ones, are random).
Each suggestion is labelled :data:`GENERATION_LABEL` with the number of whole generations
observed when it was bred (0: the initial population).  Left out, ``population_size`` follows
the budget (:func:`default_population_size`).

Suggestions (offspring) are bred from the current parents, so ``suggest(count)`` fills any batch
at once and free slots never wait for a generation to finish: two binary crowded tournaments pick
two parents; with probability ``crossover_prob`` they are crossed, else the first is copied; then
each parameter mutates with probability ``mutation_prob``.

- ``double`` and ``int`` parameters live in the unit cube of :class:`tunery.space.SearchSpace`
  (log distributions in log space): simulated binary crossover (SBX, distribution index 15,
  each dimension with probability 0.5, bounded to ``[0, 1]``) and polynomial mutation
  (distribution index 20, bounded).  A stepped value is decoded by rounding to its grid.
- ``discrete`` and ``categorical`` parameters: uniform crossover (each value taken from the
  second parent with probability ``swapping_prob``); mutation draws a value uniformly.

Conditional parameters (``activeWhen``): before crossing, a dimension inactive (NaN) in one
parent takes the other parent's value, and one inactive in both a uniform draw (a list's at a
bucket centre); the child is decoded through the tree, so whatever ends up inactive is absent.

Deb's feasibility rules (with ``spec.constraints``): a feasible trial beats an infeasible one;
among infeasible trials the one of lower total violation wins: the sum of each bound's excess
divided by that constraint's observed scale (:func:`violation_scales`), so that no constraint
swamps the others by its units; among feasible ones the non-dominated rank, then the crowding
distance decides.  A trial missing a constraint metric counts as infinitely violating.

``Failed``, ``MetricsUnavailable`` and ``Killed`` trials, finished trials without every
objective value, and trials in flight take no part in the generations; they only block their
configurations.  No duplicates: a child already tried or bred earlier in the batch is bred
again (at most 32 times), then a random configuration not tried yet is taken.  A finite space
ends: once every configuration has been tried ``suggest`` returns none.

Determinism: the random stream of each call is seeded by ``(seed, len(history))``, so a given
seed and history always give the same suggestions, and a resumed experiment continues
identically.  The only state saved is a population size chosen from the budget, so that a
budget extended later does not cut the generations anew.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tunery.history import Entry, History
from tunery.model import Assignment, ExperimentSpec, ParameterType
from tunery.pareto import constrained_ranks, crowding_distance
from tunery.settings import (
    SettingCheck,
    check_int,
    check_random_state,
    parse_fraction,
    resolve_seed,
    validate_settings,
)
from tunery.space import Key, SearchSpace
from tunery.suggest.base import register

__all__ = [
    "DEFAULT_CROSSOVER_PROB",
    "DEFAULT_POPULATION_SIZE",
    "DEFAULT_SWAPPING_PROB",
    "GENERATION_LABEL",
    "NSGA2Settings",
    "NSGA2Suggester",
    "crowded_tournament",
    "crowding",
    "default_population_size",
    "normalised",
    "polynomial_mutation",
    "sbx",
    "survivors",
    "uniform_crossover",
    "validate",
    "violation_scales",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Each point's signed constraint values (None: unknown), or None without constraints.
Violations = Sequence[Sequence[float] | None] | None

DEFAULT_POPULATION_SIZE = 20
#: The bounds of the population size chosen from the budget.
MIN_DEFAULT_POPULATION = 8
MAX_DEFAULT_POPULATION = 50
#: The label of each trial: the whole generations observed when it was bred (0: the initial
#: population).
GENERATION_LABEL = "tunery.dev/generation"
DEFAULT_CROSSOVER_PROB = 0.9
DEFAULT_SWAPPING_PROB = 0.5
#: SBX's distribution index (larger: children closer to their parents).
SBX_ETA = 15.0
#: Polynomial mutation's distribution index.
MUTATION_ETA = 20.0
#: Children bred for one suggestion before a random configuration is taken instead.
MAX_BREEDS = 32


# --------------------------------------------------------------------------- settings


def _check_probability(name: str) -> SettingCheck:
    def check(value: str) -> tuple[str, str] | None:
        if parse_fraction(value) is None:
            return (
                f"{name} should be a number in [0, 1], not {value!r}",
                'give a probability, e.g. value: "0.5"',
            )
        return None

    return check


_SETTINGS: Mapping[str, SettingCheck] = {
    "random_state": check_random_state,
    "population_size": check_int("population_size", 2, DEFAULT_POPULATION_SIZE),
    "crossover_prob": _check_probability("crossover_prob"),
    "mutation_prob": _check_probability("mutation_prob"),
    "swapping_prob": _check_probability("swapping_prob"),
}


def validate(spec: ExperimentSpec) -> None:
    """Every setting known and valid (one-line errors naming the setting)."""
    validate_settings(spec, _SETTINGS)


@dataclass(frozen=True)
class NSGA2Settings:
    """The parsed settings of a (validated) spec."""

    population_size: int | None = None  # None: :func:`default_population_size`
    crossover_prob: float = DEFAULT_CROSSOVER_PROB
    mutation_prob: float | None = None
    swapping_prob: float = DEFAULT_SWAPPING_PROB

    @classmethod
    def from_spec(cls, spec: ExperimentSpec) -> NSGA2Settings:
        values: dict[str, Any] = {}
        for setting in spec.algorithm.algorithm_settings:
            text = setting.value.strip()
            if setting.name == "population_size":
                values["population_size"] = int(text)
            elif setting.name in ("crossover_prob", "mutation_prob", "swapping_prob"):
                values[setting.name] = float(text)
        return cls(**values)


def default_population_size(max_trial_count: int | None, dims: int) -> int:
    """The population size when the setting is left out.

    With a budget (``maxTrialCount``): the square root of the budget, at least the number of
    parameters, within 8 to 50, so that the budget holds about as many generations as a
    generation holds trials (100 trials: 10 generations of 10).  Without one, 20.
    """
    if max_trial_count is None:
        return DEFAULT_POPULATION_SIZE
    size = max(round(math.sqrt(max_trial_count)), dims)
    return min(MAX_DEFAULT_POPULATION, max(MIN_DEFAULT_POPULATION, size))


# --------------------------------------------------------------------------- pure operators


def crowding(losses: FloatArray, ranks: IntArray) -> FloatArray:
    """Each point's crowding distance within its rank (``inf`` at the ends of a front)."""
    out = np.zeros(losses.shape[0])
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        out[members] = crowding_distance(losses[members].tolist())
    return out


def survivors(losses: FloatArray, violations: Violations, size: int) -> IntArray:
    """The indices of the best ``size`` points: rank, then crowding (larger), then position.

    ``violations`` as :func:`tunery.pareto.constrained_ranks` takes them (None: unconstrained).
    """
    ranks = np.asarray(constrained_ranks(losses.tolist(), violations), dtype=np.int64)
    crowd = crowding(losses, ranks)
    order = np.lexsort((np.arange(ranks.size), -crowd, ranks))
    return np.asarray(order[:size], dtype=np.int64)


def crowded_tournament(
    rng: np.random.Generator, ranks: IntArray, crowd: FloatArray, n: int
) -> IntArray:
    """``n`` winners of binary tournaments: lower rank, then larger crowding, else a coin."""
    size = ranks.size
    if size == 1:
        return np.zeros(n, dtype=np.int64)
    a = rng.integers(0, size, n)
    b = (a + rng.integers(1, size, n)) % size  # a different contestant
    coin = rng.random(n) < 0.5
    a_wins = (ranks[a] < ranks[b]) | (
        (ranks[a] == ranks[b]) & ((crowd[a] > crowd[b]) | ((crowd[a] == crowd[b]) & coin))
    )
    return np.asarray(np.where(a_wins, a, b), dtype=np.int64)


def sbx(
    rng: np.random.Generator,
    a: FloatArray,
    b: FloatArray,
    eta: float = SBX_ETA,
    per_dim: float = 0.5,
) -> FloatArray:
    """A child of ``a`` and ``b`` (points of ``[0, 1]^d``) by bounded simulated binary crossover.

    Each dimension is crossed with probability ``per_dim`` (else taken from ``a``); the spread
    factor's distribution is truncated so that the child stays in ``[0, 1]``.
    """
    d = a.size
    child = a.astype(np.float64).copy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    gap = hi - lo
    cross = (rng.random(d) < per_dim) & (gap > 1e-14)
    u = rng.random(d)
    pick_low = rng.random(d) < 0.5
    safe_gap = np.where(gap > 1e-14, gap, 1.0)
    # The lower child: beta from the distance to the lower bound.
    beta_low = 1.0 + 2.0 * lo / safe_gap
    beta_high = 1.0 + 2.0 * (1.0 - hi) / safe_gap
    out = np.empty(d)
    for j in range(d):
        if not cross[j]:
            continue
        beta = beta_low[j] if pick_low[j] else beta_high[j]
        alpha = 2.0 - beta ** (-(eta + 1.0))
        if u[j] <= 1.0 / alpha:
            beta_q = (u[j] * alpha) ** (1.0 / (eta + 1.0))
        else:
            beta_q = (1.0 / (2.0 - u[j] * alpha)) ** (1.0 / (eta + 1.0))
        mid = 0.5 * (lo[j] + hi[j])
        out[j] = mid - 0.5 * beta_q * gap[j] if pick_low[j] else mid + 0.5 * beta_q * gap[j]
    child[cross] = out[cross]
    return np.clip(child, 0.0, 1.0)


def polynomial_mutation(
    rng: np.random.Generator, x: FloatArray, prob: float, eta: float = MUTATION_ETA
) -> FloatArray:
    """``x`` (in ``[0, 1]^d``) with each coordinate mutated with probability ``prob``.

    Deb's bounded polynomial mutation: the perturbation shrinks near a bound, so the result
    stays in ``[0, 1]``.
    """
    d = x.size
    out = x.astype(np.float64).copy()
    mutate = rng.random(d) < prob
    u = rng.random(d)
    power = 1.0 / (eta + 1.0)
    for j in np.flatnonzero(mutate):
        v = out[j]
        if u[j] < 0.5:  # downwards: the room below is v
            val = 2.0 * u[j] + (1.0 - 2.0 * u[j]) * (1.0 - v) ** (eta + 1.0)
            delta_q = val**power - 1.0
        else:  # upwards: the room above is 1 - v
            val = 2.0 * (1.0 - u[j]) + 2.0 * (u[j] - 0.5) * v ** (eta + 1.0)
            delta_q = 1.0 - val**power
        out[j] = v + delta_q
    return np.clip(out, 0.0, 1.0)


def uniform_crossover(
    rng: np.random.Generator, a: FloatArray, b: FloatArray, swap: float
) -> FloatArray:
    """``a`` with each coordinate taken from ``b`` with probability ``swap``."""
    return np.where(rng.random(a.size) < swap, b, a).astype(np.float64)


# --------------------------------------------------------------------------- the suggester


@dataclass(frozen=True)
class Parents:
    """The current parent population: unit points, ranks and crowding distances."""

    points: FloatArray  # (n, dims)
    ranks: IntArray
    crowd: FloatArray
    generation: int


def violation_scales(violations: Violations) -> tuple[float, ...] | None:
    """Each constraint's observed scale: its largest excess over its bound among the points
    (1 where no point exceeds it); None without constraints."""
    if violations is None:
        return None
    known = [v for v in violations if v is not None]
    if not known:
        return None
    width = max(len(v) for v in known)
    scales = []
    for j in range(width):
        worst = max((v[j] for v in known if j < len(v) and math.isfinite(v[j])), default=0.0)
        scales.append(worst if worst > 0 else 1.0)
    return tuple(scales)


def normalised(violations: Violations, scales: Sequence[float] | None) -> Violations:
    """``violations`` with each constraint's value divided by its scale (signs kept, unknown
    vectors kept None), so that a constraint in large units does not swamp the others in
    Deb's total violation."""
    if violations is None or scales is None:
        return violations
    return [
        None if v is None else tuple(x / s for x, s in zip(v, scales, strict=False))
        for v in violations
    ]


def _arrays(
    entries: Sequence[Entry], constrained: bool, scales: Sequence[float] | None = None
) -> tuple[FloatArray, Violations]:
    """Losses ``(n, objectives)`` and (normalised) constraint values of observed entries."""
    losses = np.array([e.losses for e in entries], dtype=np.float64)
    if not constrained:
        return losses, None
    return losses, normalised([e.constraints for e in entries], scales)


class NSGA2Suggester:
    """NSGA-II over a mixed space (stateless: generations come from the history)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)
        self.settings = NSGA2Settings.from_spec(spec)
        given = self.settings.population_size
        self.population_size = (
            given
            if given is not None
            else default_population_size(spec.max_trial_count, self.space.dims)
        )
        kinds = [p.parameter_type for p in spec.parameters]
        lists = (ParameterType.DISCRETE, ParameterType.CATEGORICAL)
        self._list_dims = np.array([k in lists for k in kinds], dtype=bool)
        self._list_sizes = np.array([s or 1 for s in self.space.parameter_sizes()], dtype=np.int64)
        dims = max(1, self.space.dims)
        self.mutation_prob = (
            self.settings.mutation_prob if self.settings.mutation_prob is not None else 1.0 / dims
        )

    # ----------------------------------------------------------------- generations

    def parents(self, history: History) -> Parents | None:
        """The parents after the last whole generation observed (None: still the first)."""
        size = self.population_size
        observed = [e for e in history.observed if e.losses is not None]
        generations = len(observed) // size
        if generations == 0:
            return None
        constrained = history.n_constraints > 0
        # One scale per constraint, from every trial of the whole generations.
        scales = (
            violation_scales([e.constraints for e in observed[: generations * size]])
            if constrained
            else None
        )
        pool: list[Entry] = []
        for g in range(generations):
            pool = pool + observed[g * size : (g + 1) * size]
            losses, violations = _arrays(pool, constrained, scales)
            pool = [pool[int(i)] for i in survivors(losses, violations, size)]
        losses, violations = _arrays(pool, constrained, scales)
        ranks = np.asarray(constrained_ranks(losses.tolist(), violations), dtype=np.int64)
        keys = [e.key for e in pool if e.key is not None]
        return Parents(self.space.encode_keys(keys), ranks, crowding(losses, ranks), generations)

    # ----------------------------------------------------------------- breeding

    def breed(self, parents: Parents, rng: np.random.Generator) -> FloatArray:
        """One child of two tournament winners, in the unit cube."""
        first, second = crowded_tournament(rng, parents.ranks, parents.crowd, 2)
        a, b = parents.points[first], parents.points[second]
        if self.space.conditional:
            a, b = self._complete(a, b, rng)
        lists = self._list_dims
        child = a.copy()
        if rng.random() < self.settings.crossover_prob:
            numeric = ~lists
            if numeric.any():
                child[numeric] = sbx(rng, a[numeric], b[numeric])
            if lists.any():
                child[lists] = uniform_crossover(
                    rng, a[lists], b[lists], self.settings.swapping_prob
                )
        numeric = ~lists
        if numeric.any():
            child[numeric] = polynomial_mutation(rng, child[numeric], self.mutation_prob)
        if lists.any():
            redraw = rng.random(int(lists.sum())) < self.mutation_prob
            sizes = self._list_sizes[lists]
            fresh = (np.floor(rng.random(sizes.size) * sizes) + 0.5) / sizes
            child[lists] = np.where(redraw, fresh, child[lists])
        return child

    def _complete(
        self, a: FloatArray, b: FloatArray, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        """Two parents of a conditional space with their inactive dimensions (NaN) filled.

        A dimension inactive in one parent takes the other's value (so crossover keeps it);
        inactive in both, a uniform draw (used only if the child's branch makes it active).
        The child is decoded through the space, so whatever ends up inactive is dropped.
        """
        fresh = rng.random(a.size)
        sizes = self._list_sizes
        fresh = np.where(self._list_dims, (np.floor(fresh * sizes) + 0.5) / sizes, fresh)
        a_full = np.where(np.isnan(a), np.where(np.isnan(b), fresh, b), a)
        b_full = np.where(np.isnan(b), a_full, b)
        return a_full, b_full

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
        rng = np.random.default_rng([self.seed, len(history)])
        parents = self.parents(history)
        taken: set[Key] = set(tried)
        found: list[Key] = []
        if parents is not None:
            for _ in range(count):
                key = self._child(parents, taken, rng)
                if key is None:
                    break
                found.append(key)
                taken.add(key)
        else:
            found = self._initial(len(history), count, taken)
            taken.update(found)
        if len(found) < count:
            found += space.sample_new_keys(rng, taken, count - len(found))
        labels = {GENERATION_LABEL: str(0 if parents is None else parents.generation)}
        return [Assignment(space.params_of(key), labels=dict(labels)) for key in found]

    def _initial(self, start: int, count: int, taken: set[Key]) -> list[Key]:
        """Members ``start, start + 1, ...`` of the initial population not yet taken.

        The initial population is a Latin hypercube of ``population_size`` points (seeded): each
        double or int parameter has one point in each of ``population_size`` equal strata.
        Trials past it (failures replaced) are drawn at random by the caller.
        """
        from scipy.stats import qmc  # scipy.stats is slow to import: only when needed

        size = self.population_size
        if start >= size:
            return []
        design = qmc.LatinHypercube(d=max(1, self.space.dims), seed=self.seed).random(size)
        keys = self.space.keys_from_unit(design[start : start + count, : self.space.dims])
        out: list[Key] = []
        for key in keys:
            if key not in taken and key not in out:
                out.append(key)
        return out

    def _child(self, parents: Parents, taken: set[Key], rng: np.random.Generator) -> Key | None:
        """A bred configuration not in ``taken`` (None after :data:`MAX_BREEDS` tries)."""
        for _ in range(MAX_BREEDS):
            key = self.space.keys_from_unit(self.breed(parents, rng)[None, :])[0]
            if key not in taken:
                return key
        return None

    # ----------------------------------------------------------------- state

    def dump_state(self) -> dict[str, Any] | None:
        """The population size when it came from the budget (None when set): a budget
        extended later (``tunery edit``, resume) keeps the generations already cut."""
        if self.settings.population_size is not None:
            return None
        return {"population_size": self.population_size}

    def load_state(self, state: dict[str, Any]) -> None:
        """The population size chosen from the budget when the experiment began."""
        size = state.get("population_size")
        if self.settings.population_size is None and isinstance(size, int) and size >= 2:
            self.population_size = size


register("nsga2", NSGA2Suggester, validate, multi_objective=True, conditional=True)
