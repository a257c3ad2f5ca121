"""Tests of tunery.space: typing, steps, distributions, encoding, grid, canonical keys."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunery.errors import SpecError, UserInputError
from tunery.model import ParameterSpec, ParameterType
from tunery.space import (
    SearchSpace,
    log_normal_parameters,
    normal_parameters,
)
from tunery.testing.suggest import (
    categorical_param,
    default_parameters,
    discrete_param,
    double_param,
    int_param,
    make_spec,
    make_trials,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- typing and steps


def test_double_step_values_are_rounded_to_the_step_decimals() -> None:
    space = SearchSpace([double_param("x", "0.1", "1", step="0.1")])
    values = [p["x"] for p in space.grid()]
    assert values == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert all(isinstance(v, float) for v in values)
    assert space.size() == 10


def test_double_step_never_goes_above_max_and_uses_min_decimals() -> None:
    space = SearchSpace([double_param("x", "0.05", "0.5", step="0.1")])
    assert [p["x"] for p in space.grid()] == [0.05, 0.15, 0.25, 0.35, 0.45]


def test_double_step_in_exponent_notation() -> None:
    space = SearchSpace([double_param("x", "0", "3e-3", step="1e-3")])
    assert [p["x"] for p in space.grid()] == [0.0, 0.001, 0.002, 0.003]


def test_int_default_step_and_explicit_step() -> None:
    assert [p["n"] for p in SearchSpace([int_param("n", "-1", "2")]).grid()] == [-1, 0, 1, 2]
    space = SearchSpace([int_param("n", "1", "10", step="4")])
    assert [p["n"] for p in space.grid()] == [1, 5, 9]
    assert all(type(p["n"]) is int for p in space.grid())


def test_discrete_values_are_ints_only_when_every_entry_is_an_integer() -> None:
    ints = SearchSpace([discrete_param("b", ["16", "32"])])
    assert [p["b"] for p in ints.grid()] == [16, 32]
    assert all(type(p["b"]) is int for p in ints.grid())
    floats = SearchSpace([discrete_param("b", ["1", "2.5"])])
    assert [p["b"] for p in floats.grid()] == [1.0, 2.5]
    assert all(type(p["b"]) is float for p in floats.grid())


def test_categorical_values_are_strings() -> None:
    space = SearchSpace([categorical_param("o", ["sgd", "adam"])])
    assert [p["o"] for p in space.grid()] == ["sgd", "adam"]


def test_size_is_none_for_a_double_without_step() -> None:
    space = SearchSpace([double_param("x", "0", "1"), int_param("n", "1", "3")])
    assert space.size() is None
    assert space.grid_size() is None
    with pytest.raises(SpecError) as info:
        list(space.grid())
    assert info.value.path == "spec.parameters[0].feasibleSpace.step"


@pytest.mark.parametrize(
    ("param", "path"),
    [
        (double_param("x", "1", "0"), "spec.parameters[0].feasibleSpace.min"),
        (double_param("x", "a", "1"), "spec.parameters[0].feasibleSpace.min"),
        (double_param("x", "0", "1", step="0"), "spec.parameters[0].feasibleSpace.step"),
        (
            double_param("x", "0", "1", distribution="logUniform"),
            "spec.parameters[0].feasibleSpace.min",
        ),
        (int_param("n", "1.5", "3"), "spec.parameters[0].feasibleSpace.min"),
        (int_param("n", "1", "3", step="-1"), "spec.parameters[0].feasibleSpace.step"),
        (discrete_param("d", ["1", "x"]), "spec.parameters[0].feasibleSpace.list[1]"),
        (categorical_param("c", []), "spec.parameters[0].feasibleSpace.list"),
        (
            ParameterSpec(
                "x",
                ParameterType.DOUBLE,
                double_param("x", "0", "1").feasible_space.__class__(max="1"),
            ),
            "spec.parameters[0].feasibleSpace.min",
        ),
    ],
)
def test_invalid_parameters_are_spec_errors_with_a_path(param: ParameterSpec, path: str) -> None:
    with pytest.raises(SpecError) as info:
        SearchSpace([param])
    assert info.value.path == path
    assert info.value.hint


def test_duplicate_names_and_empty_spaces_are_refused() -> None:
    with pytest.raises(SpecError, match="duplicate"):
        SearchSpace([int_param("n", "1", "2"), int_param("n", "1", "2")])
    with pytest.raises(SpecError):
        SearchSpace([])


def test_from_spec() -> None:
    space = SearchSpace.from_spec(make_spec(default_parameters()))
    assert space.names == tuple(p.name for p in default_parameters())
    assert space.dims == 6


# --------------------------------------------------------------------------- canonical keys


def test_canonical_ignores_float_noise_string_forms_and_number_forms() -> None:
    space = SearchSpace(
        [
            double_param("x", "0", "1", step="0.1"),
            int_param("n", "0", "10", step="2"),
            discrete_param("d", ["16", "32"]),
            categorical_param("c", ["a", "1"]),
        ]
    )
    a = space.canonical({"x": 0.3, "n": 4, "d": 32, "c": "1"})
    assert a == space.canonical({"x": 0.1 + 0.2, "n": 4.0, "d": 32.0, "c": 1})
    assert a == space.canonical({"x": "0.3", "n": "4", "d": "32", "c": "1"})
    assert a == space.canonical({"x": np.float64(0.3), "n": np.int64(4), "d": "32.0", "c": "1"})
    assert hash(a) == hash(space.canonical({"x": 0.3, "n": 4, "d": 32, "c": "1", "extra": 1}))


@pytest.mark.parametrize(
    "params",
    [
        {"x": 0.35, "n": 4},  # off the step
        {"x": 1.1, "n": 4},  # above max
        {"x": 0.3, "n": 3},  # int off its step
        {"x": 0.3, "n": 4.5},  # not an integer
        {"x": 0.3, "n": True},  # bools are not numbers
        {"x": "abc", "n": 4},
        {"x": float("nan"), "n": 4},
        {"x": 0.3},  # missing
    ],
)
def test_infeasible_values(params: dict[str, Any]) -> None:
    space = SearchSpace(
        [double_param("x", "0", "1", step="0.1"), int_param("n", "0", "10", step="2")]
    )
    assert not space.contains(params)
    assert space.try_canonical(params) is None
    with pytest.raises(UserInputError):
        space.canonical(params)


def test_contains_needs_exactly_the_space_names() -> None:
    space = SearchSpace([int_param("n", "0", "3")])
    assert space.contains({"n": 2})
    assert not space.contains({"n": 2, "m": 1})


def test_validate_value_and_from_strings() -> None:
    space = SearchSpace(
        [
            double_param("lr", "0", "1"),
            double_param("x", "0", "1", step="0.1"),
            int_param("n", "0", "10"),
            discrete_param("d", ["16", "32"]),
            categorical_param("c", ["a", "b"]),
        ]
    )
    assert space.validate_value("x", 0.30000000000000004) == 0.3
    assert space.validate_value("n", "7") == 7
    with pytest.raises(UserInputError, match="unknown parameter"):
        space.validate_value("nope", 1)
    with pytest.raises(UserInputError):
        space.validate_value("c", "z")
    typed = space.from_strings({"lr": "0.25", "x": "0.3", "n": "7", "d": "32", "c": "b"})
    assert typed == {"lr": 0.25, "x": 0.3, "n": 7, "d": 32, "c": "b"}
    assert [type(v) for v in typed.values()] == [float, float, int, int, str]


def test_history_keys_skip_trials_outside_the_space_and_use_the_cache() -> None:
    space = SearchSpace([int_param("n", "0", "3")])
    trials = make_trials([{"n": 1}, {"n": 9}, {"n": "2"}])
    assert space.history_keys(trials) == {(1,), (2,)}
    assert space.history_keys(trials) == {(1,), (2,)}  # cached path


# --------------------------------------------------------------------------- sampling


def test_sampling_is_deterministic_for_a_seed() -> None:
    space = SearchSpace(default_parameters())
    assert space.sample(rng(3), 20) == space.sample(rng(3), 20)
    assert space.sample(rng(3), 20) != space.sample(rng(4), 20)


def test_uniform_stepped_values_are_equally_likely() -> None:
    space = SearchSpace([int_param("n", "0", "3")])
    counts = Counter(p["n"] for p in space.sample(rng(), 40_000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(abs(c / 40_000 - 0.25) < 0.01 for c in counts.values())


def test_log_uniform_is_uniform_in_log_space() -> None:
    space = SearchSpace([double_param("x", "0.001", "1000", distribution="logUniform")])
    logs = np.log10([p["x"] for p in space.sample(rng(), 20_000)])
    assert logs.min() >= -3 and logs.max() <= 3
    assert abs(np.mean(logs < 0) - 0.5) < 0.02
    assert abs(np.mean(logs < -2) - 1 / 6) < 0.02


def test_normal_follows_katib_mapping_and_is_clipped() -> None:
    assert normal_parameters(0, 6) == (3.0, 1.0)
    assert log_normal_parameters(1, math.e**6) == pytest.approx((3.0, 1.0))
    space = SearchSpace([double_param("x", "0", "6", distribution="normal")])
    values = np.array([p["x"] for p in space.sample(rng(), 20_000)])
    assert values.min() >= 0 and values.max() <= 6
    assert abs(values.mean() - 3) < 0.05
    assert abs(values.std() - 1) < 0.05


def test_log_normal_is_normal_in_log_space() -> None:
    space = SearchSpace([double_param("x", "1", str(math.e**6), distribution="logNormal")])
    logs = np.log([p["x"] for p in space.sample(rng(), 20_000)])
    assert abs(logs.mean() - 3) < 0.05
    assert abs(logs.std() - 1) < 0.05


def test_stepped_normal_int() -> None:
    space = SearchSpace([int_param("n", "0", "12", step="2", distribution="normal")])
    counts = Counter(p["n"] for p in space.sample(rng(), 20_000))
    assert set(counts) <= {0, 2, 4, 6, 8, 10, 12}
    assert counts.most_common(1)[0][0] == 6


def test_sample_new_keys_avoids_excluded_and_exhausts() -> None:
    space = SearchSpace([int_param("n", "0", "9"), categorical_param("c", ["a", "b"])])
    exclude = {space.canonical({"n": n, "c": "a"}) for n in range(10)}
    keys = space.sample_new_keys(rng(), exclude, 15)
    assert len(keys) == 10
    assert len(set(keys)) == 10
    assert not set(keys) & exclude
    assert space.sample_new_keys(rng(), exclude | set(keys), 3) == []


def test_choose_remaining_follows_the_distribution() -> None:
    space = SearchSpace([int_param("n", "0", "12", step="2", distribution="normal")])
    first = Counter(space.choose_remaining(rng(seed), set(), 1)[0] for seed in range(400))
    assert first.most_common(1)[0][0] == (3,)  # the middle value, 6


def test_sample_new_keys_on_a_large_space_is_fast_and_distinct() -> None:
    space = SearchSpace([double_param("x", "0", "1"), int_param("n", "0", "1000000")])
    keys = space.sample_new_keys(rng(), set(), 1000)
    assert len(set(keys)) == 1000


# --------------------------------------------------------------------------- unit cube


def test_encode_decode_round_trip_and_layout() -> None:
    space = SearchSpace(
        [
            double_param("x", "0", "10"),
            double_param("lr", "0.001", "1", distribution="logUniform"),
            int_param("n", "0", "3"),
            categorical_param("c", ["a", "b"]),
        ]
    )
    x = space.encode({"x": 2.5, "lr": 0.01, "n": 1, "c": "b"})
    assert x == pytest.approx([0.25, 1 / 3, 0.375, 0.75])
    decoded = space.decode(x)
    assert decoded["lr"] == pytest.approx(0.01)
    assert {k: decoded[k] for k in ("x", "n", "c")} == {"x": 2.5, "n": 1, "c": "b"}


def test_decode_clips_and_handles_the_edges() -> None:
    space = SearchSpace([int_param("n", "0", "3"), double_param("x", "1", "2")])
    assert space.decode([0.0, 0.0]) == {"n": 0, "x": 1.0}
    assert space.decode([1.0, 1.0]) == {"n": 3, "x": 2.0}
    assert space.decode([-5, 7]) == {"n": 0, "x": 2.0}
    with pytest.raises(ValueError):
        space.keys_from_unit(np.zeros((2, 3)))


def test_encode_many_and_decode_many() -> None:
    space = SearchSpace(default_parameters())
    configs = space.sample(rng(), 50)
    assert space.decode_many(space.encode_many(configs)) == configs


# --------------------------------------------------------------------------- grid


def test_grid_order_is_katibs_names_sorted_last_fastest() -> None:
    space = SearchSpace([int_param("b", "1", "2"), categorical_param("a", ["x", "y"])])
    assert list(space.grid()) == [
        {"b": 1, "a": "x"},
        {"b": 2, "a": "x"},
        {"b": 1, "a": "y"},
        {"b": 2, "a": "y"},
    ]
    assert [space.flat_index(space.canonical(p)) for p in space.grid()] == [0, 1, 2, 3]
    assert [space.params_of(space.key_at(i)) for i in range(4)] == list(space.grid())


def test_grid_matches_katibs_arange() -> None:
    # Katib: np.arange(min, max + step, step), dropping a last point above max.
    for low, high, step in [("0", "1", "0.1"), ("-1", "1", "0.3"), ("0", "10", "2.5")]:
        space = SearchSpace([double_param("x", low, high, step=step)])
        katib = np.arange(float(low), float(high) + float(step), float(step))
        if katib[-1] > float(high):
            katib = katib[:-1]
        assert [p["x"] for p in space.grid()] == pytest.approx(list(katib))


def test_grid_keeps_max_when_float_noise_would_drop_it() -> None:
    # Katib's arange gives 0.7000000000000001 > 0.7 and drops it; the decimal grid keeps it.
    space = SearchSpace([double_param("x", "0.1", "0.7", step="0.2")])
    assert [p["x"] for p in space.grid()] == [0.1, 0.3, 0.5, 0.7]


# --------------------------------------------------------------------------- properties


def _number_text(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


@st.composite
def parameter_specs(draw: st.DrawFn, name: str) -> ParameterSpec:
    kind = draw(st.sampled_from(["double", "int", "discrete", "categorical"]))
    if kind in ("double", "int"):
        dist = draw(st.sampled_from([None, "uniform", "logUniform", "normal", "logNormal"]))
        log = dist in ("logUniform", "logNormal")
        if kind == "int":
            low_i = draw(st.integers(1 if log else -50, 50))
            high_i = low_i + draw(st.integers(0, 200))
            step_i = draw(st.sampled_from([None, "1", "2", "7"]))
            return int_param(name, str(low_i), str(high_i), step=step_i, distribution=dist)
        low = draw(st.floats(0.001 if log else -100, 100))
        width = draw(st.floats(0, 100))
        step = draw(st.sampled_from([None, None, "0.1", "0.25", "1", "0.003"]))
        return double_param(
            name, _number_text(low), _number_text(low + width), step=step, distribution=dist
        )
    if kind == "discrete":
        numbers = draw(
            st.lists(
                st.one_of(st.integers(-100, 100).map(str), st.floats(-100, 100).map(_number_text)),
                min_size=1,
                max_size=6,
                unique_by=float,
            )
        )
        return discrete_param(name, numbers)
    words = draw(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=6, unique=True))
    return categorical_param(name, words)


@st.composite
def spaces(draw: st.DrawFn) -> SearchSpace:
    n = draw(st.integers(1, 4))
    params = []
    for i in range(n):
        spec = draw(parameter_specs(f"p{i}"))
        fs = spec.feasible_space
        if fs.min is not None and fs.max is not None and float(fs.min) > float(fs.max):
            continue
        params.append(spec)
    if not params:
        params = [int_param("p", "0", "3")]
    return SearchSpace(params)


_FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(spaces(), st.integers(0, 2**32))
def test_samples_are_always_feasible_and_canonical(space: SearchSpace, seed: int) -> None:
    for params in space.sample(rng(seed), 20):
        assert space.contains(params)
        assert space.normalize(params) == params
        for param in space.parameters:
            value = params[param.name]
            if param.parameter_type is ParameterType.DOUBLE:
                assert type(value) is float
            elif param.parameter_type is ParameterType.INT:
                assert type(value) is int
            elif param.parameter_type is ParameterType.CATEGORICAL:
                assert type(value) is str


@_FAST
@given(spaces(), st.integers(0, 2**32))
def test_encode_decode_round_trip_on_canonical_values(space: SearchSpace, seed: int) -> None:
    for params in space.sample(rng(seed), 10):
        x = space.encode(params)
        assert x.shape == (space.dims,)
        assert np.all((x >= 0) & (x <= 1))
        back = space.decode(x)
        for param in space.parameters:
            a, b = params[param.name], back[param.name]
            if param.parameter_type is ParameterType.DOUBLE and param.feasible_space.step is None:
                assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
            else:
                assert a == b


@_FAST
@given(spaces(), st.lists(st.floats(0, 1), min_size=4, max_size=4))
def test_every_point_of_the_cube_decodes_to_a_feasible_configuration(
    space: SearchSpace, point: list[float]
) -> None:
    params = space.decode(point[: space.dims] + [0.5] * (space.dims - len(point)))
    assert space.contains(params)


@_FAST
@given(spaces())
def test_grid_enumerates_each_configuration_once(space: SearchSpace) -> None:
    size = space.size()
    if size is None or size > 2000:
        return
    configs = list(space.grid())
    assert len(configs) == size
    keys = [space.canonical(c) for c in configs]
    assert len(set(keys)) == size
    assert [space.flat_index(k) for k in keys] == list(range(size))
    assert all(space.contains(c) for c in configs)


def test_numerically_equal_discrete_entries_count_once() -> None:
    space = SearchSpace([discrete_param("d", ["1", "1.0", "2", "2"])])
    assert space.size() == 2
    assert list(space.grid()) == [{"d": 1}, {"d": 2}]
    assert space.canonical({"d": 1.0}) == space.canonical({"d": "1.0"}) == (0,)


def test_too_many_values_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="2\\*\\*53") as info:
        SearchSpace([int_param("n", "0", str(2**60))])
    with pytest.raises(SpecError, match="64-bit integer"):  # beyond an int64: refused earlier
        SearchSpace([int_param("n", "0", str(10**20))])
    assert info.value.path == "spec.parameters[0].feasibleSpace.max"
    space = SearchSpace([int_param("n", "0", str(2**52))])
    assert all(space.contains(p) for p in space.sample(rng(), 100))
