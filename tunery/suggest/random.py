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

This module also holds the settings helpers the other built-in suggesters share
(:func:`validate_settings`, :func:`check_random_state`, :func:`resolve_seed`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tunery.errors import SpecError
from tunery.model import Assignment, ExperimentSpec, Trial
from tunery.space import SearchSpace
from tunery.suggest.base import register

__all__ = [
    "DEFAULT_SEED",
    "RandomSuggester",
    "check_random_state",
    "resolve_seed",
    "validate",
    "validate_settings",
]

#: Seed used when neither ``random_state`` nor a seed argument is given.
DEFAULT_SEED = 0

#: At most 4,300 digits: Python reads no longer int (sys.get_int_max_str_digits).
_INTEGER = re.compile(r"^[+-]?\d{1,4300}$")

#: Checks a setting's value: None when fine, else ``(message, hint)``.
SettingCheck = Callable[[str], "tuple[str, str] | None"]


def check_random_state(value: str) -> tuple[str, str] | None:
    """Katib's rule for ``random_state``: an integer greater than or equal to zero."""
    if not _INTEGER.match(value.strip()):
        return (
            f"failed to validate random_state({value}): not an integer",
            'give a whole number, e.g. value: "42"',
        )
    if int(value) < 0:
        return (
            f"random_state should be greater than or equal to zero, not {value}",
            'give a whole number >= 0, e.g. value: "42"',
        )
    return None


def validate_settings(spec: ExperimentSpec, allowed: Mapping[str, SettingCheck]) -> None:
    """Katib's ValidateAlgorithmSettings loop: every setting known, every value valid."""
    algorithm = spec.algorithm.algorithm_name
    for i, setting in enumerate(spec.algorithm.algorithm_settings):
        # The setting's own index (base.setting_path names the first of a repeated name).
        path = f"spec.algorithm.algorithmSettings[{i}]"
        check = allowed.get(setting.name)
        if check is None:
            hint = (
                f"{algorithm} accepts only: {', '.join(sorted(allowed))}"
                if allowed
                else f"remove it: {algorithm} takes no settings"
            )
            raise SpecError(path, f"unknown setting {setting.name} for algorithm {algorithm}", hint)
        problem = check(setting.value)
        if problem is not None:
            raise SpecError(path, problem[0], problem[1])


def resolve_seed(spec: ExperimentSpec, seed: int | None) -> int:
    """The ``random_state`` setting, else ``seed``, else :data:`DEFAULT_SEED` (as a uint64)."""
    text = spec.algorithm.settings_dict().get("random_state")
    if text is not None and _INTEGER.match(text.strip()):
        return int(text) % (1 << 64)
    if seed is not None:
        return int(seed) % (1 << 64)
    return DEFAULT_SEED


def validate(spec: ExperimentSpec) -> None:
    """Katib's hyperopt ``_validate_random_setting``."""
    validate_settings(spec, {"random_state": check_random_state})


class RandomSuggester:
    """Random search without duplicates (stateless)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        self.space = SearchSpace.from_spec(spec)
        self.seed = resolve_seed(spec, seed)

    def suggest(self, history: Sequence[Trial], count: int) -> list[Assignment]:
        if count <= 0:
            return []
        tried = self.space.history_keys(history)
        rng = np.random.default_rng([self.seed, len(history)])
        keys = self.space.sample_new_keys(rng, tried, count)
        return [Assignment(self.space.params_of(key)) for key in keys]

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        """Nothing to restore: the suggester is stateless."""


register("random", RandomSuggester, validate)
