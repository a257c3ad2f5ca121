"""Katib's ``katib.search``: search-space helpers with Katib's argument names.

Each returns a :class:`~tunery.katib.models.V1beta1ParameterSpec` (bounds as strings), what
``KatibClient.tune(parameters=...)`` and a ``V1beta1ExperimentSpec`` accept::

    parameters = {
        "lr": katib.search.double(min=0.01, max=0.05),
        "epochs": katib.search.int(min=10, max=20),
        "optimizer": katib.search.categorical(list=["sgd", "adam"]),
    }
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from tunery.katib.models import V1beta1FeasibleSpace, V1beta1ParameterSpec
from tunery.katib.tuning import KatibValueError

__all__ = ["categorical", "double", "int"]


def _text(value: Any, what: str, kind: str) -> str:
    if isinstance(value, bool) or not isinstance(value, builtins.int | float | str):
        raise KatibValueError(f"katib.search.{kind} {what} must be a number, not {value!r}")
    return str(value)


def double(min: float, max: float, step: float | None = None) -> V1beta1ParameterSpec:
    """A float sampled uniformly between ``min`` and ``max``."""
    space = V1beta1FeasibleSpace(min=_text(min, "min", "double"), max=_text(max, "max", "double"))
    if step is not None:
        space.step = _text(step, "step", "double")
    return V1beta1ParameterSpec(parameter_type="double", feasible_space=space)


def int(
    min: builtins.int, max: builtins.int, step: builtins.int | None = None
) -> V1beta1ParameterSpec:
    """An integer sampled uniformly between ``min`` and ``max``."""
    space = V1beta1FeasibleSpace(min=_text(min, "min", "int"), max=_text(max, "max", "int"))
    if step is not None:
        space.step = _text(step, "step", "int")
    return V1beta1ParameterSpec(parameter_type="int", feasible_space=space)


def categorical(list: Sequence[Any]) -> V1beta1ParameterSpec:
    """One of the values of ``list`` (passed to the objective as strings)."""
    if isinstance(list, str) or not isinstance(list, Sequence) or not list:
        raise KatibValueError(
            "katib.search.categorical needs a non-empty list of values",
            'e.g. katib.search.categorical(list=["sgd", "adam"])',
        )
    return V1beta1ParameterSpec(
        parameter_type="categorical",
        feasible_space=V1beta1FeasibleSpace(list=[str(v) for v in list]),
    )
