"""Tests of the random suggester (Katib's hyperopt ``random``)."""

from __future__ import annotations

import pytest

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import TrialCondition
from tunery.space import SearchSpace
from tunery.suggest import create_suggester
from tunery.suggest.random import DEFAULT_SEED, RandomSuggester, resolve_seed
from tunery.testing.suggest import (
    categorical_param,
    default_parameters,
    double_param,
    int_param,
    make_spec,
    make_trials,
)


def params_of(assignments: list) -> list[dict]:
    return [dict(a.parameters) for a in assignments]


def test_random_state_setting_wins_over_the_seed_argument() -> None:
    spec = make_spec(default_parameters(), "random", {"random_state": "5"})
    assert resolve_seed(spec, 99) == 5
    assert resolve_seed(make_spec(default_parameters()), 99) == 99
    assert resolve_seed(make_spec(default_parameters()), None) == DEFAULT_SEED
    a = create_suggester(spec, 1).suggest(History.from_spec(spec, []), 5)
    b = create_suggester(spec, 2).suggest(History.from_spec(spec, []), 5)
    assert params_of(a) == params_of(b)
    plain = make_spec(default_parameters())
    assert params_of(
        create_suggester(plain, 1).suggest(History.from_spec(plain, []), 5)
    ) != params_of(create_suggester(plain, 2).suggest(History.from_spec(plain, []), 5))
    assert params_of(
        create_suggester(plain, None).suggest(History.from_spec(plain, []), 5)
    ) == params_of(create_suggester(plain, DEFAULT_SEED).suggest(History.from_spec(plain, []), 5))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"random_state": "-1"}, "greater than or equal to zero"),
        ({"random_state": "abc"}, "failed to validate random_state"),
        ({"gamma": "0.5"}, "unknown setting gamma for algorithm random"),
    ],
)
def test_settings_are_validated_like_katib(settings: dict[str, str], message: str) -> None:
    spec = make_spec(default_parameters(), "random", [("random_state", "1"), *settings.items()])
    with pytest.raises(SpecError, match=message) as info:
        create_suggester(spec, 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[1]"
    assert info.value.hint


def test_never_repeats_history_of_any_status_and_ends_a_finite_space() -> None:
    params = [categorical_param("c", ["a", "b"]), int_param("n", "1", "5")]
    spec = make_spec(params)
    space = SearchSpace(params)
    history = make_trials([{"c": "a", "n": n} for n in range(1, 6)], status=TrialCondition.FAILED)
    history += make_trials([{"c": "b", "n": 1}], start=6, status=TrialCondition.RUNNING)
    suggester = RandomSuggester(spec, 3)
    batch = suggester.suggest(History.from_spec(spec, history), 10)
    assert sorted((a.parameters["c"], a.parameters["n"]) for a in batch) == [
        ("b", 2),
        ("b", 3),
        ("b", 4),
        ("b", 5),
    ]
    history += make_trials(params_of(batch), start=7)
    assert suggester.suggest(History.from_spec(spec, history), 3) == []
    assert len(space.history_keys(history)) == 10


def test_honours_steps_and_distributions() -> None:
    params = [
        double_param("lr", "0.0001", "1", distribution="logUniform"),
        double_param("x", "0", "1", step="0.05"),
        int_param("n", "10", "100", step="10", distribution="normal"),
    ]
    space = SearchSpace(params)
    spec = make_spec(params)
    batch = RandomSuggester(spec, 0).suggest(History.from_spec(spec, []), 200)
    assert len(batch) == 200
    assert all(space.contains(a.parameters) for a in batch)
    lrs = [a.parameters["lr"] for a in batch]
    assert sum(lr < 0.01 for lr in lrs) > 60  # half the log range lies below 0.01
    assert {a.parameters["x"] for a in batch} <= {round(0.05 * k, 2) for k in range(21)}


def test_large_history() -> None:
    # Its speed is measured by benchmarks/optimizers/latency.py, not here.
    params = [double_param("x", "0", "1"), int_param("n", "0", "1000")]
    spec = make_spec(params)
    suggester = RandomSuggester(spec, 0)
    history = make_trials(params_of(suggester.suggest(History.from_spec(spec, []), 5000)))
    space = SearchSpace(params)
    batch = suggester.suggest(History.from_spec(spec, history), 10)
    keys = {space.canonical(a.parameters) for a in batch}
    assert len(keys) == 10 and not keys & space.history_keys(history)


def test_nearly_exhausted_finite_space_draws_from_what_is_left() -> None:
    params = [int_param("n", "0", "9999")]
    spec = make_spec(params)
    history = make_trials([{"n": n} for n in range(10_000) if n != 4242])
    batch = RandomSuggester(spec, 0).suggest(History.from_spec(spec, history), 3)
    assert params_of(batch) == [{"n": 4242}]


def test_stateless() -> None:
    suggester = RandomSuggester(make_spec(default_parameters()), 0)
    assert suggester.dump_state() is None
    suggester.load_state({})
