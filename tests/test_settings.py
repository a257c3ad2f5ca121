"""Tests of :mod:`tunery.settings`: the settings kit algorithms and stoppers share."""

from __future__ import annotations

import pytest

from tunery.errors import SpecError
from tunery.settings import (
    DEFAULT_SEED,
    INTEGER,
    NUMBER,
    check_choice,
    check_int,
    check_random_state,
    parse_float,
    parse_fraction,
    resolve_seed,
    validate_settings,
)
from tunery.testing.suggest import default_parameters, make_spec


def test_patterns() -> None:
    assert INTEGER.match("-12") and INTEGER.match("+3") and not INTEGER.match("1.0")
    assert not INTEGER.match("1" * 4301)
    assert NUMBER.match("1e-3") and NUMBER.match(".5") and not NUMBER.match("nan")


def test_random_state_messages() -> None:
    assert check_random_state("42") is None
    assert check_random_state("x") == (
        "failed to validate random_state(x): not an integer",
        'give a whole number, e.g. value: "42"',
    )
    problem = check_random_state("-1")
    assert problem is not None and problem[0].endswith("not -1")


def test_check_int_and_choice() -> None:
    at_least_one = check_int("n_ei_candidates", 1)
    assert at_least_one("3") is None
    assert at_least_one("0") == (
        "n_ei_candidates should be greater than zero, not 0",
        'give a whole number >= 1, e.g. value: "10"',
    )
    assert check_int("n", 0)("-1") is not None and check_int("n", 0)("a") is not None
    choose = check_choice("acq_func", ("EI", "PI"), "Bayesian optimization")
    assert choose("EI") is None
    assert choose("UCB") == (
        "acq_func UCB is not supported in Bayesian optimization",
        "use one of: EI, PI",
    )
    shown = check_choice("s", ("a", "A"), "X", ("a",))("b")
    assert shown is not None and shown[1] == "use one of: a"


def test_parse_float_and_fraction() -> None:
    assert parse_float(" 0.5 ") == 0.5
    assert parse_float("inf") is None and parse_float("x") is None
    assert parse_fraction("1") == 1.0 and parse_fraction("1.5") is None


def test_validate_settings_names_the_setting() -> None:
    spec = make_spec(default_parameters(), "random", [("random_state", "1"), ("nope", "2")])
    with pytest.raises(SpecError, match="unknown setting nope for algorithm random") as info:
        validate_settings(spec, {"random_state": check_random_state})
    assert info.value.path == "spec.algorithm.algorithmSettings[1]"
    assert info.value.hint == "random accepts only: random_state"
    with pytest.raises(SpecError, match="takes no settings"):
        validate_settings(spec, {})


def test_resolve_seed_precedence() -> None:
    plain = make_spec(default_parameters())
    assert resolve_seed(plain, None) == DEFAULT_SEED
    assert resolve_seed(plain, -1) == (1 << 64) - 1
    assert resolve_seed(make_spec(default_parameters(), "random", {"random_state": "7"}), 3) == 7
