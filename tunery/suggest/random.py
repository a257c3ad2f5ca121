"""Katib's ``random`` algorithm: independent draws from each parameter's distribution.

Katib runs it in its hyperopt service (``pkg/suggestion/v1beta1/hyperopt/service.py``): the only
setting is ``random_state``, an integer ``>= 0``; any other setting name is refused
("unknown setting ... for algorithm random").  Distributions follow
``hyperopt/base_service.py`` (see :mod:`tunery.space`).

Unlike Katib, tunery never suggests a configuration already in the history (any status) or
twice in one batch.  A finite space ends: once every configuration has been tried, ``suggest``
returns fewer or none, and the experiment ends with ``ExperimentSuggestionEndReached``.

Seed precedence: the ``random_state`` setting, else the ``seed`` argument, else
:data:`DEFAULT_SEED`.  The suggester is stateless: each call draws from a stream seeded by
``(seed, len(history))``, so a given seed and history always give the same suggestions, and a
restarted controller continues without any saved state.

The settings helpers (:func:`~tunery.settings.validate_settings`,
:func:`~tunery.settings.check_random_state`, :func:`~tunery.settings.resolve_seed`) live in
:mod:`tunery.settings`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunery.history import History
from tunery.model import Assignment, ExperimentSpec
from tunery.settings import DEFAULT_SEED, check_random_state, resolve_seed, validate_settings
from tunery.space import SearchSpace
from tunery.suggest.base import register

__all__ = ["DEFAULT_SEED", "RandomSuggester", "resolve_seed", "validate"]


def validate(spec: ExperimentSpec) -> None:
    """Katib's hyperopt ``_validate_random_setting``."""
    validate_settings(spec, {"random_state": check_random_state})


class RandomSuggester:
    """Random search without duplicates (stateless)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)

    def suggest(self, history: History, count: int) -> list[Assignment]:
        if count <= 0:
            return []
        rng = np.random.default_rng([self.seed, len(history)])
        keys = self.space.sample_new_keys(rng, history.tried_keys, count)
        return [Assignment(self.space.params_of(key)) for key in keys]

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore: the suggester is stateless."""


register("random", RandomSuggester, validate, multi_objective=True, conditional=True)
