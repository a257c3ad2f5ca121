"""The settings kit every algorithm and early stopper checks its settings with.

Katib hands each algorithm its settings as ``{name, value}`` strings and validates them in the
algorithm's service (``ValidateAlgorithmSettings``): every name must be known to the algorithm
and every value valid.  :func:`validate_settings` is that loop for the search algorithms
(``spec.algorithm.algorithmSettings``); a :data:`SettingCheck` checks one value and returns
``(message, hint)`` for the :class:`~tunery.errors.SpecError`, or None when the value is fine.
The checks shared by several algorithms (``random_state``, whole numbers, choices, numbers) are
here, with Katib's messages; an algorithm's own checks stay in its module.

Seeds: :func:`resolve_seed` is the one precedence rule (the ``random_state`` setting, else the
seed argument, else :data:`DEFAULT_SEED`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from tunery.errors import SpecError
from tunery.model import ExperimentSpec

__all__ = [
    "DEFAULT_SEED",
    "INTEGER",
    "NUMBER",
    "SettingCheck",
    "check_choice",
    "check_int",
    "check_random_state",
    "parse_float",
    "parse_fraction",
    "resolve_seed",
    "validate_settings",
]

#: Seed used when neither ``random_state`` nor a seed argument is given.
DEFAULT_SEED = 0

#: A whole number setting; at most 4,300 digits: Python reads no longer int
#: (sys.get_int_max_str_digits).
INTEGER = re.compile(r"^[+-]?\d{1,4300}$")
#: A decimal number setting (no ``nan``/``inf`` spelling).
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

#: Checks a setting's value: None when fine, else ``(message, hint)``.
SettingCheck = Callable[[str], "tuple[str, str] | None"]


def check_random_state(value: str) -> tuple[str, str] | None:
    """Katib's rule for ``random_state``: an integer greater than or equal to zero."""
    if not INTEGER.match(value.strip()):
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


def check_int(name: str, minimum: int, example: int | None = None) -> SettingCheck:
    """A whole number ``>= minimum``, with Katib's hyperopt/Optuna messages for 0 and 1;
    ``example`` is the value the hint offers (default ``max(minimum, 10)``)."""
    shown = max(minimum, 10) if example is None else example
    hint = f'give a whole number >= {minimum}, e.g. value: "{shown}"'

    def check(value: str) -> tuple[str, str] | None:
        if not INTEGER.match(value.strip()):
            return (f"failed to validate {name}({value}): not an integer", hint)
        if int(value) < minimum:
            relation = (
                "greater than zero"
                if minimum == 1
                else "greater than or equal to zero"
                if minimum == 0
                else f"at least {minimum}"
            )
            return (f"{name} should be {relation}, not {value}", hint)
        return None

    return check


def check_choice(
    name: str, choices: Sequence[str], algorithm: str, shown: Sequence[str] | None = None
) -> SettingCheck:
    """One of ``choices`` exactly: "NAME VALUE is not supported in ALGORITHM".

    ``shown`` lists the choices the hint offers (default: all of them).
    """

    def check(value: str) -> tuple[str, str] | None:
        if value in choices:
            return None
        return (
            f"{name} {value} is not supported in {algorithm}",
            f"use one of: {', '.join(choices if shown is None else shown)}",
        )

    return check


def parse_float(value: str) -> float | None:
    """The finite number ``value`` spells (Python's float syntax), else None."""
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_fraction(value: str) -> float | None:
    """:func:`parse_float` when it lies in ``[0, 1]``, else None."""
    number = parse_float(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None


def validate_settings(spec: ExperimentSpec, allowed: Mapping[str, SettingCheck]) -> None:
    """Katib's ValidateAlgorithmSettings loop: every setting known, every value valid."""
    algorithm = spec.algorithm.algorithm_name
    for i, setting in enumerate(spec.algorithm.algorithm_settings):
        # The setting's own index (suggest.base.setting_path names the first of a repeated
        # name).
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
    if text is not None and INTEGER.match(text.strip()):
        return int(text) % (1 << 64)
    if seed is not None:
        return int(seed) % (1 << 64)
    return DEFAULT_SEED
