"""Search-space helpers of the Python API."""

from __future__ import annotations

from collections.abc import Callable

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


def model_space() -> dict[str, object]:
    s = tunery.search
    return {
        "model": s.categorical(
            {
                "svm": {
                    "C": s.double(1e-3, 1e3, log=True),
                    "kernel": s.categorical({"rbf": {}, "poly": {"degree": s.int(2, 5)}}),
                },
                "rf": {"depth": s.int(2, 12)},
                "lr": {"C": s.double(1e-3, 1e3, log=True)},
                "knn": None,
            }
        ),
        "epochs": 3,
    }


def test_nested_categorical_branches_become_conditions_any_depth() -> None:
    searched, fixed = split_parameters(model_space())
    assert fixed == {"epochs": 3}
    assert [(p.name, p.active_when) for p in searched] == [
        ("model", ()),
        ("C", (("model", ("svm", "lr")),)),  # the same space under two values: one parameter
        ("kernel", (("model", ("svm",)),)),
        ("degree", (("kernel", ("poly",)),)),
        ("depth", (("model", ("rf",)),)),
    ]
    assert searched[0].feasible_space.list == ("svm", "rf", "lr", "knn")
    # A plain list is unchanged: no branches, no conditions.
    plain, _ = split_parameters({"opt": tunery.search.categorical(["adam", "sgd"])})
    assert plain[0].active_when == () and tunery.search.categorical(["a"]).branches == ()


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (lambda: {"m": tunery.search.categorical({"a": 3})}, "the branch of 'a' must be a dict"),
        (
            lambda: {"m": tunery.search.categorical({"a": {"k": 3}})},
            "'k' under m='a' is not a search",
        ),
        (
            lambda: {"m": tunery.search.categorical({"a": {"x": tunery.search.int(1, 2)}}), "x": 1},
            "'x' is both a top-level parameter",
        ),
        (
            lambda: {
                "m": tunery.search.categorical(
                    {"a": {"x": tunery.search.int(1, 2)}, "b": {"x": tunery.search.int(1, 3)}}
                )
            },
            "'x' appears twice",
        ),
    ],
)
def test_bad_branches_are_one_line_errors(
    space: Callable[[], dict[str, object]], message: str
) -> None:
    with pytest.raises(UserInputError, match=message) as info:
        split_parameters(space())
    assert info.value.hint and "\n" not in str(info.value)
