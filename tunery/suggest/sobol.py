"""Katib's ``sobol`` algorithm: a quasi-random Sobol sequence over the unit cube.

Katib runs it in its Goptuna service (``pkg/suggestion/v1beta1/goptuna/``), which maps doubles
linearly, steps them, and treats discrete parameters as categorical.  tunery draws a scrambled
Sobol sequence (``scipy.stats.qmc.Sobol``, seeded) in ``[0, 1]^dims`` and decodes each point
through :class:`tunery.space.SearchSpace` (log distributions map in log space; lists and steps
take equal buckets).

Setting: ``random_state`` (an integer ``>= 0``) seeds the scrambling; Goptuna's service ignores
it and accepts any setting, tunery refuses unknown setting names like the other services.  Seed
precedence: ``random_state``, else the ``seed`` argument, else a fixed default.

State: ``{"drawn": n}``, the number of sequence points consumed, so that a resumed experiment
continues the same sequence.  Points that decode to a configuration already in the history (any
status) or in the batch are skipped (consumed, not suggested).  On a finite space the remaining
configurations are drawn directly once the sequence keeps hitting tried ones, and ``suggest``
returns none once every configuration has been tried.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.stats import qmc

from tunery.history import History
from tunery.model import Assignment, ExperimentSpec
from tunery.settings import check_random_state, resolve_seed, validate_settings
from tunery.space import ENUMERATION_LIMIT, Key, SearchSpace
from tunery.suggest.base import register

__all__ = ["SobolSuggester", "validate"]


def validate(spec: ExperimentSpec) -> None:
    """``random_state`` is the only setting."""
    validate_settings(spec, {"random_state": check_random_state})


def _sobol(dims: int, seed: int) -> qmc.Sobol:
    rng = np.random.default_rng(seed)
    try:
        return qmc.Sobol(dims, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15 calls it seed
        return qmc.Sobol(dims, scramble=True, seed=rng)


class SobolSuggester:
    """Scrambled Sobol sequence, decoded through the search space, without duplicates."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)
        self.drawn = 0
        self._engine: qmc.Sobol | None = None

    def _draw(self, n: int) -> list[Key]:
        if self._engine is None:
            self._engine = _sobol(self.space.dims, self.seed)
            if self.drawn:
                self._engine.fast_forward(self.drawn)
        with warnings.catch_warnings():
            # Balance wants powers of two; we draw what the controller asks for.
            warnings.simplefilter("ignore", UserWarning)
            points = self._engine.random(n)
        self.drawn += n
        return self.space.keys_from_unit(points)

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
        found: list[Key] = []
        taken: set[Key] = set()
        budget = max(64, 16 * count)
        used = 0
        while len(found) < count and used < budget:
            need = count - len(found)
            used += need
            for key in self._draw(need):
                if key not in tried and key not in taken:
                    taken.add(key)
                    found.append(key)
        if len(found) < count and size is not None and size <= ENUMERATION_LIMIT:
            rng = np.random.default_rng([self.seed, self.drawn])
            found += space.choose_remaining(rng, tried | taken, count - len(found))
        return [Assignment(space.params_of(key)) for key in found]

    def dump_state(self) -> dict[str, Any] | None:
        return {"drawn": self.drawn}

    def load_state(self, state: dict[str, Any]) -> None:
        self.drawn = int(state.get("drawn", 0))
        self._engine = None


register("sobol", SobolSuggester, validate, multi_objective=True, conditional=True)
