"""The ask/tell ``Optimizer``'s plain arguments checked: ``ask(n)``, steps, objective values,
settings' values, and a spec error's path said as the Optimizer's argument.

Every check raises a one-line :class:`~tunery.errors.UserInputError` (or
:class:`~tunery.errors.SpecError`) naming the argument; the input is quoted short.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunery.errors import SpecError, UserInputError

__all__ = [
    "MAX_ASK",
    "MAX_STEP",
    "argument_error",
    "ask_count",
    "check_step",
    "is_single_value",
    "objective_number",
    "quote",
    "setting_text",
    "whole_number",
]

#: The largest batch ``ask(n)`` hands out at once.
MAX_ASK = 256
#: The largest step ``report`` takes (the observations' step column is an INTEGER: 32 bits on
#: PostgreSQL).
MAX_STEP = 2**31 - 1


def whole_number(value: object) -> int | None:
    """``value`` as an int when it is a whole number (an int, numpy int, or a float like 2.0)."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, float | np.floating):
        number = float(value)
        return int(number) if math.isfinite(number) and number.is_integer() else None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def ask_count(n: object) -> int:
    count = whole_number(n)
    if count is None or not 1 <= count <= MAX_ASK:
        raise UserInputError(
            f"ask(n): n must be a whole number from 1 to {MAX_ASK}, not {quote(n)}",
            f"ask for at most {MAX_ASK} suggestions at a time",
        )
    return count


def check_step(step: object, verb: str) -> int:
    at = whole_number(step)
    if at is None or not 0 <= at <= MAX_STEP:
        raise UserInputError(
            f"{verb}(): step must be a whole number from 0 to {MAX_STEP}, not {quote(step)}",
            "pass the epoch or iteration number, or leave step out to count the reports",
        )
    return at


def is_single_value(value: object) -> bool:
    return value is None or not isinstance(value, Mapping | list | tuple)


def objective_number(value: object, verb: str) -> float | None:
    """The objective ``value`` as a float (NaN and infinities kept), or None.

    Anything ``float()`` takes except a string or a bool (a numpy or torch scalar is fine); an
    int beyond the float range is infinite, as its float would be.
    """
    if value is None:
        return None
    if not isinstance(value, str | bytes | bool | np.bool_):
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return math.inf if value > 0 else -math.inf  # type: ignore[operator]
        except (TypeError, ValueError):
            pass
    raise UserInputError(
        f"{verb}(): value must be a number or None, not {quote(value)}",
        "pass the objective as a float (NaN or None when it is unavailable)",
    )


def setting_text(value: object, argument: str, key: object) -> str:
    """A setting's value as the string a spec holds (``str``, as Katib's settings are)."""
    try:
        return str(value)
    except ValueError:  # an int of more digits than Python writes
        raise UserInputError(
            f"{argument}[{key!r}]: {quote(value)} is too large",
            "give the setting a value of at most a few digits",
        ) from None


def quote(value: object) -> str:
    """``repr(value)``, short (an error line quotes input, which may be huge)."""
    from tunery.errors import clip

    try:
        text = repr(value)
    except ValueError:  # an int of more digits than Python writes
        return f"an int of {value.bit_length()} bits"  # type: ignore[attr-defined]
    return clip(text)


def argument_error(
    exc: SpecError, parameters: list[str], settings: list[Any], stopping: list[Any]
) -> SpecError:
    """``exc`` with the path of the internal document said as the Optimizer's argument.

    ``spec.parameters[2].feasibleSpace.min`` -> ``parameters['lr'].feasibleSpace.min``,
    ``spec.algorithm.algorithmSettings[0]`` -> ``settings['r_l']``, and so on.
    """
    path = exc.path
    for prefix, names, argument in (
        ("spec.parameters", parameters, "parameters"),
        ("spec.trialTemplate.trialParameters", parameters, "parameters"),
        ("spec.algorithm.algorithmSettings", settings, "settings"),
        ("spec.earlyStopping.algorithmSettings", stopping, "early_stopping_settings"),
    ):
        if path == prefix or path.startswith(prefix + "."):
            path = argument + path[len(prefix) :]
            break
        if path.startswith(prefix + "["):
            index_text, _, rest = path[len(prefix) + 1 :].partition("]")
            try:
                name = names[int(index_text)]
            except (ValueError, IndexError):
                break
            if rest in (".name", ".value"):
                rest = ""  # the dict's key, or its value
            path = f"{argument}[{name!r}]{rest}"
            break
    else:
        for internal, argument in (
            ("spec.algorithm.algorithmName", "algorithm"),
            ("spec.earlyStopping.algorithmName", "early_stopping"),
            ("spec.earlyStopping", "early_stopping"),
            ("metadata.name", "name"),
            ("spec.objectives", "objectives"),
            ("spec.constraints", "constraints"),
            ("spec.objective", "objective"),
        ):
            if path == internal or path.startswith((internal + ".", internal + "[")):
                path = argument + path[len(internal) :]
                break
    try:  # the same class (AlgorithmNotAvailableError, ...)
        return type(exc)(path, exc.message, exc.hint)
    except TypeError:
        return SpecError(path, exc.message, exc.hint)
