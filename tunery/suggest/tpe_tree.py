"""The TPE of a conditional (tree-structured) search space: one model per group of parameters.

:mod:`tunery.suggest.tpe` calls this module when its space has conditional parameters
(``activeWhen``); a space without them never comes here.

Groups
------
The parameters are cut into groups: with the joint model (``multivariate: "true"``, and always for
``multivariate-tpe``) the sets of parameters that are always active together
(:meth:`tunery.space.SearchSpace.groups`, Optuna's group decomposition); with one model per
parameter (``multivariate: "false"``, ``tpe``'s default on a conditional space) every parameter is
a group of its own.  A group's model sees only the trials where the group was active: its good and
bad sets are the split (the same rule as an unconditional space: the ``n_below`` best, or
:func:`tunery.suggest.motpe.split` with several objectives or constraints) of the observed trials
where it was active, plus the bad pseudo-observations (trials in flight, failed ones, the batch's
earlier picks) where it was active.  A trial where the group was inactive tells nothing of its
values and is not counted.

Sampling
--------
Groups are visited parents first (by the depth of their condition chain, then spec order).  A
group that is inactive under the values already chosen is skipped (its parameters stay absent);
an active one draws ``n_ei_candidates`` values from its good mixture and keeps the one of highest
``l(x) / g(x)`` of its own model.  So the choice among the branches is made by the model of
the group holding the parent parameter, and each branch's parameters by the model of that
branch's trials.  Two rules explore what ``l / g`` would leave to chance:

- *Branch floors*: a parent parameter's values are cut into branches by the children each
  activates (:meth:`tunery.space.SearchSpace.branches`).  With ``n`` tries of the group (its
  active trials of any status and the batch's picks) and ``k`` branches, a branch tried
  ``n_b`` times is chosen outright, before the candidates are scored, with probability
  ``BRANCH_FLOOR * max(0, 1 - k * n_b / n) / k``: nothing once each branch has an equal share.
- *Few tries*: a group with fewer tries than ``n_startup_trials``, none of them in the overall
  good group (the split of all the observed trials), draws its candidates from its prior and
  keeps the one of highest ``prior(x) / g(x)`` (away from the tries), instead of searching
  around the best of a few, mostly random and poor, tries.  A group of few tries that holds a
  good trial is modelled on its own tries as any other.

No duplicates: where the configuration so completed was tried, the search backs up
(depth first) to the next best candidate of the deepest group and completes it again, and so
on up to the root group, drawing at most :data:`MAX_EXPANSIONS` groups; when nothing new is
found, the caller draws again with eight times the candidates, then randomly (as for an
unconditional space).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tunery.history import Entry
from tunery.model import ExperimentSpec
from tunery.space import Key, SearchSpace

if TYPE_CHECKING:
    from tunery.suggest.tpe import TPESettings, _Mixture, _Model

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: ``split(entries)`` -> (good keys, bad observed keys, good kernels' weights or None).
#: Groups drawn for one suggestion at most (a depth-first search around taken configurations).
MAX_EXPANSIONS = 64
#: The exploration floor of the branches: at most this probability, shared by a parent's
#: branches in proportion to how far each is below an equal share of the tries.
BRANCH_FLOOR = 1.0

Splitter = Callable[[Sequence[Entry]], tuple[list[Key], list[Key], FloatArray | None]]


@dataclass
class _Branching:
    """A parent parameter of a group: its position and its branches (codes, unit values)."""

    dim: int
    codes: list[frozenset[int]]
    units: list[FloatArray]

    def floors(self, keys: Sequence[Key]) -> FloatArray:
        """Each branch's exploration probability given the tries ``keys`` (the group active)."""
        k = len(self.codes)
        values = [key[self.dim] for key in keys]
        tried = np.array([sum(v in c for v in values) for c in self.codes], dtype=np.float64)
        n = float(tried.sum())
        short = np.ones(k) if n == 0 else np.maximum(0.0, 1.0 - tried * k / n)
        return BRANCH_FLOOR / k * short


@dataclass
class _Group:
    dims: IntArray  # spec positions of the group's parameters
    model: _Model
    branching: list[_Branching]


@dataclass
class _Fitted:
    """A group's mixtures for one suggestion: good, and the bad observations' arrays."""

    good: _Mixture
    bad_x: FloatArray
    bad_c: IntArray
    tries: list[Key]  # the keys tried (any status, the batch's picks too) where it was active
    prior: _Mixture  # the group's prior alone: its draws while it has few tries
    in_good: bool  # active in a trial of the overall good group (the split of all trials)
    floors: list[FloatArray] = field(default_factory=list)  # per branching: see _Branching


def _depths(space: SearchSpace) -> dict[str, int]:
    """Each parameter's depth: 0 for an unconditional one, else 1 + its deepest parent's."""
    out: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in out:
            parents = space.parents(name)
            out[name] = 1 + max(depth(p) for p in parents) if parents else 0
        return out[name]

    for name in space.names:
        depth(name)
    return out


class TreeTPE:
    """Per-group TPE models over a conditional space (stateless)."""

    def __init__(
        self,
        spec: ExperimentSpec,
        space: SearchSpace,
        settings: TPESettings,
        model_type: type[_Model],
        multivariate: bool,
    ) -> None:
        self.space = space
        self.multivariate = multivariate
        self.settings = settings
        index = {name: i for i, name in enumerate(space.names)}
        if multivariate:
            named = [tuple(g) for g in space.groups()]
            covered = {n for g in named for n in g}
            named += [(n,) for n in space.names if n not in covered]
        else:
            named = [(n,) for n in space.names]
        depths = _depths(space)
        named.sort(key=lambda g: (max(depths[n] for n in g), min(index[n] for n in g)))
        self.groups = [
            _Group(
                np.array(sorted(index[n] for n in g), dtype=np.int64),
                model_type(spec, space, settings, [index[n] for n in g]),
                [
                    _Branching(index[n], [c for c, _ in b], [u for _, u in b])
                    for n in g
                    if len(b := space.branches(n)) > 1
                ],
            )
            for g in named
        ]

    @staticmethod
    def _active(key: Key, group: _Group) -> bool:
        return key[int(group.dims[0])] is not None

    def suggest(
        self,
        observed: Sequence[Entry],
        bad: Sequence[Key],
        split: Splitter,
        taken: set[Key],
        count: int,
        rng: np.random.Generator,
    ) -> list[Key]:
        """``count`` new keys, each a bad pseudo-observation of its groups for the next."""
        fitted: list[_Fitted] = []
        mv = self.multivariate
        overall_good = split(observed)[0] if observed else []
        for group in self.groups:
            entries = [e for e in observed if e.key is not None and self._active(e.key, group)]
            if entries:
                below, above, weights = split(entries)
            else:
                below, above, weights = [], [], None
            bad_keys = above + [k for k in bad if self._active(k, group)]
            good_x, good_c = group.model.split(below)
            bad_x, bad_c = group.model.split(bad_keys)
            good = group.model.mixture(good_x, good_c, mv, weights)
            empty_x, empty_c = group.model.split([])
            prior = group.model.mixture(empty_x, empty_c, mv)
            in_good = any(self._active(k, group) for k in overall_good)
            fitted.append(_Fitted(good, bad_x, bad_c, below + bad_keys, prior, in_good))
        m = self.settings.n_ei_candidates
        found: list[Key] = []
        for _ in range(count):
            for group, fit in zip(self.groups, fitted, strict=True):
                fit.floors = [b.floors(fit.tries) for b in group.branching]
            worse = [
                g.model.mixture(f.bad_x, f.bad_c, mv)
                for g, f in zip(self.groups, fitted, strict=True)
            ]
            key = self._pick(fitted, worse, m, taken, rng)
            if key is None:
                key = self._pick(fitted, worse, 8 * m, taken, rng)
            if key is None:
                fresh = self.space.sample_new_keys(rng, taken, 1)
                if not fresh:
                    break
                key = fresh[0]
            found.append(key)
            taken.add(key)
            for group, fit in zip(self.groups, fitted, strict=True):
                if self._active(key, group):
                    x, c = group.model.split([key])
                    fit.bad_x = np.vstack([fit.bad_x, x])
                    fit.bad_c = np.vstack([fit.bad_c, c])
                    fit.tries.append(key)
        return found

    def _pick(
        self,
        fitted: Sequence[_Fitted],
        worse: Sequence[_Mixture],
        m: int,
        taken: set[Key],
        rng: np.random.Generator,
    ) -> Key | None:
        """Parents first, each active group's best candidate; the next best where that is taken.

        A depth-first search: a group's candidates in score order, each completed by the groups
        below it; at most :data:`MAX_EXPANSIONS` groups are drawn (None: nothing new found).
        """
        budget = [MAX_EXPANSIONS]
        return self._descend(np.full(self.space.dims, 0.5), 0, fitted, worse, m, taken, rng, budget)

    def _descend(
        self,
        row: FloatArray,
        start: int,
        fitted: Sequence[_Fitted],
        worse: Sequence[_Mixture],
        m: int,
        taken: set[Key],
        rng: np.random.Generator,
        budget: list[int],
    ) -> Key | None:
        space = self.space
        key = space.keys_from_unit(row[None, :])[0]
        index = start
        while index < len(self.groups) and not self._active(key, self.groups[index]):
            index += 1
        if index == len(self.groups):
            return None if key in taken else key
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        group, fit, bad = self.groups[index], fitted[index], worse[index]
        model = group.model
        starting = len(fit.tries) < self.settings.n_startup_trials and not fit.in_good
        drawn = model.sample(fit.prior if starting else fit.good, rng, m, self.multivariate)
        rows = np.repeat(row[None, :], m, axis=0)
        rows[:, group.dims] = drawn[:, group.dims]
        for branching, floors in zip(group.branching, fit.floors, strict=True):
            if floors.sum() > 0.0 and rng.random() < floors.sum():
                units = branching.units[int(rng.choice(floors.size, p=floors / floors.sum()))]
                rows[:, branching.dim] = rng.choice(units, size=m)
        x, c = model.split(space.keys_from_unit(rows))
        # A group with few tries, none among the overall good trials: its prior stands for
        # ``l``, so the candidates go away from what was tried.
        score = model.log_density_joint(fit.prior if starting else fit.good, x, c)
        score -= model.log_density_joint(bad, x, c)
        for j in np.argsort(-score, kind="stable"):
            found = self._descend(rows[int(j)], index + 1, fitted, worse, m, taken, rng, budget)
            if found is not None:
                return found
        return None
