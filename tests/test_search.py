"""Search-space helpers of the Python API."""

from __future__ import annotations

import pytest

import tunery
from tunery.errors import UserInputError
from tunery.search import split_parameters


def returns_value(parameters: dict) -> float:  # type: ignore[type-arg]
    return 1.0


def test_search_helpers_and_bad_input() -> None:
    p = tunery.search.double(1e-4, 1e-1, log=True).named("lr")
    assert p.feasible_space.min == "0.0001" and p.feasible_space.distribution.value == "logUniform"
    assert tunery.search.int(1, 4).named("n").feasible_space.max == "4"
    with pytest.raises(UserInputError):
        tunery.search.int(1.5, 4)  # type: ignore[arg-type]
    with pytest.raises(UserInputError):
        tunery.search.categorical([])
    with pytest.raises(UserInputError, match="no parameter to search"):
        tunery.tune(returns_value, {"x": 1}, "value")
    with pytest.raises(UserInputError, match="lambda"):
        tunery.tune(lambda p: 1, {"x": tunery.search.double(0, 1)}, "value")  # type: ignore[arg-type, return-value]


def test_split_parameters_accepts_katib_dicts_and_fixed_values() -> None:
    searched, fixed = split_parameters(
        {
            "lr": {"parameterType": "double", "feasibleSpace": {"min": "0.01", "max": "0.1"}},
            "opt": tunery.search.categorical(["adam", "sgd"]),
            "epochs": 5,
        }
    )
    assert [p.name for p in searched] == ["lr", "opt"]
    assert searched[0].feasible_space.max == "0.1"
    assert fixed == {"epochs": 5}
