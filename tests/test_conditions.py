"""Conditional parameters: the tree search space (tunery.conditions) and its rules."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tunery.conditions import ConditionalSpace
from tunery.errors import SpecError, UserInputError
from tunery.model import ParameterSpec
from tunery.parameters import check_conditions
from tunery.space import SearchSpace
from tunery.testing.suggest import (
    categorical_param,
    conditional_parameters,
    default_parameters,
    discrete_param,
    double_param,
    int_param,
    tiny_conditional_parameters,
)


def when(param: ParameterSpec, *conditions: tuple[str, tuple[str, ...]]) -> ParameterSpec:
    return ParameterSpec(param.name, param.parameter_type, param.feasible_space, conditions)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace(conditional_parameters())


def test_a_space_with_conditions_is_conditional_and_others_are_not(space: SearchSpace) -> None:
    assert isinstance(space, ConditionalSpace) and space.conditional
    plain = SearchSpace(default_parameters())
    assert type(plain) is SearchSpace and not plain.conditional
    assert plain.groups() == [plain.names]
    assert plain.active_mask(plain.sample_keys(np.random.default_rng(0), 3)).all()


def test_tree_size_counts_each_inactive_subtree_once(space: SearchSpace) -> None:
    # svm: C (1000 values) x kernel (rbf: 1, poly: 4 degrees) = 5000; rf: 11 depths; knn: 1;
    # times seed_k (3 values).
    assert space.size() == space.grid_size() == (1000 * 5 + 11 + 1) * 3
    grid = list(space.grid())
    assert len(grid) == space.size()
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)
    assert all(space.contains(p) for p in grid)
    assert SearchSpace(tiny_conditional_parameters()).size() == 6


def test_grid_enumerates_the_tree_not_the_product() -> None:
    tiny = SearchSpace(tiny_conditional_parameters())
    grid = list(tiny.grid())
    # Katib's order (names sorted: c, m, n; the last fastest), an inactive one before values.
    assert grid == [
        {"c": "p", "n": 1},
        {"c": "p", "n": 2},
        {"c": "p", "n": 3},
        {"c": "p", "n": 4},
        {"c": "q", "m": 1},
        {"c": "q", "m": 2},
    ]
    for flat, params in enumerate(grid):
        key = tiny.canonical(params)
        assert tiny.flat_index(key) == flat and tiny.key_at(flat) == key


def test_a_continuous_parameter_in_a_branch_makes_the_space_infinite() -> None:
    params = [
        categorical_param("model", ["a", "b"]),
        when(double_param("x", "0", "1"), ("model", ("a",))),
    ]
    space = SearchSpace(params)
    assert space.size() is None
    with pytest.raises(SpecError, match="no grid"):
        list(space.grid())


def test_samples_hold_only_the_active_parameters(space: SearchSpace) -> None:
    keys = space.sample_keys(np.random.default_rng(1), 600)
    models = Counter()
    for key in keys:
        params = space.params_of(key)
        models[params["model"]] += 1
        assert space.contains(params)
        expected = {"model", "seed_k"}
        if params["model"] == "svm":
            expected |= {"C", "kernel"} | ({"degree"} if params["kernel"] == "poly" else set())
        elif params["model"] == "rf":
            expected.add("depth")
        assert set(params) == expected
        assert all(
            (code is None) == (name not in params)
            for name, code in zip(space.names, key, strict=True)
        )
    assert set(models) == {"svm", "rf", "knn"} and min(models.values()) > 150


def test_sample_new_keys_exhausts_a_tiny_tree() -> None:
    tiny = SearchSpace(tiny_conditional_parameters())
    rng = np.random.default_rng(2)
    keys = tiny.sample_new_keys(rng, set(), 10)
    assert len(keys) == 6 == len(set(keys))
    assert tiny.sample_new_keys(rng, set(keys), 3) == []
    assert sorted(tiny.choose_remaining(rng, set(keys[:4]), 5), key=str) == sorted(
        keys[4:], key=str
    )


def test_canonical_needs_active_values_and_ignores_inactive_ones(space: SearchSpace) -> None:
    key = space.canonical({"model": "rf", "depth": 4, "seed_k": 2, "C": 5.0, "kernel": "x"})
    assert space.params_of(key) == {"model": "rf", "depth": 4, "seed_k": 2}
    assert key[space.names.index("C")] is None
    with pytest.raises(UserInputError, match="'depth' has no value"):
        space.canonical({"model": "rf", "seed_k": 2})
    with pytest.raises(UserInputError, match="'degree' has no value"):
        space.canonical({"model": "svm", "C": 1.0, "kernel": "poly", "seed_k": 1})
    # contains: exactly the active names.
    assert space.contains({"model": "rf", "depth": 4, "seed_k": 2})
    assert not space.contains({"model": "rf", "depth": 4, "seed_k": 2, "C": 5.0})
    assert space.normalize({"model": "knn", "seed_k": "3", "depth": 2}) == {
        "model": "knn",
        "seed_k": 3,
    }


def test_is_active_follows_the_chain(space: SearchSpace) -> None:
    assert space.is_active("degree", {"model": "svm", "kernel": "poly"})
    assert not space.is_active("degree", {"model": "rf", "kernel": "poly"})
    assert not space.is_active("degree", {"model": "svm", "kernel": "rbf"})
    assert not space.is_active("degree", {"kernel": "poly"})
    assert space.is_active("seed_k", {})
    assert space.parents("degree") == ("kernel",) and space.parents("model") == ()


def test_groups_gather_the_parameters_active_together(space: SearchSpace) -> None:
    assert space.groups() == [("model", "seed_k"), ("C", "kernel"), ("degree",), ("depth",)]


def test_branches_cut_a_parents_values_by_the_children_they_activate() -> None:
    params = [
        categorical_param("model", ["svm", "rf", "logistic", "knn"]),
        when(double_param("c", "0.1", "1"), ("model", ("svm", "logistic"))),
        when(int_param("depth", "1", "5"), ("model", ("rf",))),
        when(int_param("k", "1", "9"), ("depth", ("1", "2"))),
    ]
    space = SearchSpace(params)
    model = space.branches("model")
    assert [sorted(codes) for codes, _ in model] == [[0, 2], [1], [3]]  # knn: no children
    for codes, units in model:
        assert units.tolist() == [(code + 0.5) / 4 for code in sorted(codes)]
        assert {k[0] for k in space.keys_from_unit([[u, 0.5, 0.5, 0.5] for u in units])} == codes
    assert [sorted(codes) for codes, _ in space.branches("depth")] == [[0, 1], [2, 3, 4]]
    assert space.branches("c") == [] and space.branches("k") == []  # no children
    assert SearchSpace(default_parameters()).branches("lr") == []


def test_encode_puts_nan_in_inactive_dimensions_and_decode_ignores_them(
    space: SearchSpace,
) -> None:
    keys = space.sample_keys(np.random.default_rng(3), 50)
    unit = space.encode_keys(keys)
    mask = space.active_mask(keys)
    assert np.array_equal(np.isnan(unit), ~mask)
    assert np.nanmin(unit) >= 0 and np.nanmax(unit) <= 1
    assert space.keys_from_unit(unit) == keys
    # Whatever the inactive coordinates hold, they are ignored.
    noisy = np.where(np.isnan(unit), np.random.default_rng(4).random(unit.shape), unit)
    assert space.keys_from_unit(noisy) == keys
    # Any point decodes to a configuration of the tree.
    points = np.random.default_rng(5).random((200, space.dims))
    assert all(space.contains(space.params_of(k)) for k in space.keys_from_unit(points))


def test_a_discrete_or_int_parent_matches_values_as_numbers() -> None:
    params = [
        discrete_param("batch", ["16", "32"]),
        int_param("layers", "1", "3"),
        when(
            double_param("lr", "0.1", "1", step="0.1"), ("batch", ("32.0",)), ("layers", ("2", "3"))
        ),
    ]
    space = SearchSpace(params)
    assert space.is_active("lr", {"batch": 32, "layers": 3})
    assert not space.is_active("lr", {"batch": 16, "layers": 3})
    assert not space.is_active("lr", {"batch": 32, "layers": 1})
    assert space.size() == 2 * 3 + 2 * 10 - 2  # (32, 2|3) branch has 10 lr values each


@pytest.mark.parametrize(
    ("parameters", "path", "message"),
    [
        (
            [categorical_param("a", ["x"]), when(int_param("b", "1", "2"), ("nope", ("x",)))],
            "spec.parameters[1].activeWhen.nope",
            "unknown parameter 'nope'",
        ),
        (
            [when(categorical_param("a", ["x"]), ("a", ("x",)))],
            "spec.parameters[0].activeWhen.a",
            "depends on itself",
        ),
        (
            [double_param("lr", "0", "1"), when(int_param("b", "1", "2"), ("lr", ("0.5",)))],
            "spec.parameters[1].activeWhen.lr",
            "is a double; a condition needs a categorical, discrete or int parameter",
        ),
        (
            [categorical_param("a", ["x", "y"]), when(int_param("b", "1", "2"), ("a", ("z",)))],
            "spec.parameters[1].activeWhen.a[0]",
            "'z' is not a value of 'a'",
        ),
        (
            [int_param("n", "1", "9", step="2"), when(int_param("b", "1", "2"), ("n", ("4",)))],
            "spec.parameters[1].activeWhen.n[0]",
            "'4' is not a value of 'n'",
        ),
        (
            [categorical_param("a", ["x"]), when(int_param("b", "1", "2"), ("a", ()))],
            "spec.parameters[1].activeWhen.a",
            "lists no value",
        ),
        (
            [
                when(categorical_param("a", ["x"]), ("c", ("x",))),
                when(categorical_param("b", ["x"]), ("a", ("x",))),
                when(categorical_param("c", ["x"]), ("b", ("x",))),
            ],
            "spec.parameters[1].activeWhen.a",
            "conditions form a cycle (each depends on the next): a -> c -> b -> a",
        ),
    ],
)
def test_bad_conditions_are_one_line_errors(
    parameters: list[ParameterSpec], path: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        check_conditions(parameters)
    assert info.value.path == path
    assert message in str(info.value)
    assert info.value.hint and "\n" not in str(info.value)
    with pytest.raises(SpecError):
        SearchSpace(parameters)  # the space refuses what the spec would
