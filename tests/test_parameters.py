"""Tests of :mod:`tunery.parameters`: one set of parameter rules for specs and spaces."""

from __future__ import annotations

import dataclasses

import pytest

from tunery.errors import SpecError
from tunery.model import ParameterSpec
from tunery.parameters import check_parameters
from tunery.space import SearchSpace
from tunery.spec.validate import validate_parameters
from tunery.testing.suggest import (
    categorical_param,
    discrete_param,
    double_param,
    int_param,
    make_spec,
)

BAD = [
    [double_param("x", "1", "0")],
    [double_param("x", "0", "nan")],
    [double_param("x", "0", "1", step="-0.1")],
    [double_param("x", "0", "1", distribution="logNormal")],
    [double_param("x", "-1e308", "1e308")],
    [int_param("n", "0", str(10**20))],
    [int_param("n", "0", "9", step="1.5")],
    [discrete_param("d", ["1", "two"])],
    [categorical_param("c", [])],
    [int_param("n", "1", "2"), int_param("n", "1", "3")],
    [],
]


@pytest.mark.parametrize("params", BAD, ids=range(len(BAD)))
def test_a_spec_and_a_space_refuse_alike(params: list[ParameterSpec]) -> None:
    """The same rule, path, message and hint, whether the spec or the space is checked."""
    errors = []
    for check in (
        check_parameters,
        lambda p: validate_parameters(dataclasses.replace(make_spec(BAD[0]), parameters=p)),
        SearchSpace,
    ):
        with pytest.raises(SpecError) as info:
            check(params)
        errors.append((info.value.path, info.value.message, info.value.hint))
    assert len(set(errors)) == 1, errors


def test_a_space_merges_repeated_list_values_a_spec_refuses() -> None:
    params = [discrete_param("d", ["1", "1.0", "2", "2"])]
    with pytest.raises(SpecError, match="duplicate value '2'"):
        check_parameters(params)
    check_parameters(params, merge_repeats=True)
    assert SearchSpace(params).size() == 2
