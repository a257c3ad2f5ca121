"""Tests of the grid suggester (Katib's Optuna ``grid`` rules)."""

from __future__ import annotations

import pytest

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import TrialCondition
from tunery.space import SearchSpace
from tunery.suggest import create_suggester
from tunery.suggest.grid import GridSuggester
from tunery.testing.suggest import (
    categorical_param,
    double_param,
    int_param,
    make_spec,
    make_trials,
)

PARAMS = [
    double_param("lr", "0.1", "0.3", step="0.1"),
    categorical_param("opt", ["sgd", "adam"]),
    int_param("batch", "16", "32", step="16"),
]


def params_of(assignments: list) -> list[dict]:
    return [dict(a.parameters) for a in assignments]


def test_enumerates_in_katib_order_then_ends() -> None:
    spec = make_spec(PARAMS, "grid")
    suggester = create_suggester(spec, 0)
    history: list = []
    seen: list[dict] = []
    while batch := suggester.suggest(History.from_spec(spec, history), 5):
        seen += params_of(batch)
        history += make_trials(params_of(batch), start=len(history) + 1)
    assert seen == list(SearchSpace(PARAMS).grid())
    assert len(seen) == 12
    # names sorted: batch, lr, opt (opt fastest)
    assert seen[:3] == [
        {"lr": 0.1, "opt": "sgd", "batch": 16},
        {"lr": 0.1, "opt": "adam", "batch": 16},
        {"lr": 0.2, "opt": "sgd", "batch": 16},
    ]


def test_skips_history_and_resumes_from_it() -> None:
    spec = make_spec(PARAMS, "grid")
    grid = list(SearchSpace(PARAMS).grid())
    history = make_trials([grid[0], grid[2]], status=TrialCondition.RUNNING)
    history += make_trials([{"lr": "0.2", "opt": "sgd", "batch": "32"}], start=3)  # grid[8]
    batch = GridSuggester(spec).suggest(History.from_spec(spec, history), 3)
    assert params_of(batch) == [grid[1], grid[3], grid[4]]
    history += make_trials(params_of(batch), start=4)
    rest = GridSuggester(spec).suggest(
        History.from_spec(spec, history), 100
    )  # a fresh instance: no state needed
    assert params_of(rest) == [g for i, g in enumerate(grid) if i not in (0, 1, 2, 3, 4, 8)]


def test_double_without_step_is_refused_with_a_path() -> None:
    spec = make_spec([int_param("n", "1", "3"), double_param("x", "0", "1")], "grid")
    with pytest.raises(SpecError) as info:
        create_suggester(spec, 0)
    assert info.value.path == "spec.parameters[1].feasibleSpace.step"
    assert "step" in info.value.hint


def test_max_trial_count_may_not_exceed_the_grid() -> None:
    create_suggester(make_spec(PARAMS, "grid", max_trial_count=12), 0)
    with pytest.raises(
        SpecError, match=r"Max Trial Count: 13 > all possible search combinations: 12"
    ) as info:
        create_suggester(make_spec(PARAMS, "grid", max_trial_count=13), 0)
    assert info.value.path == "spec.maxTrialCount"


def test_settings() -> None:
    create_suggester(make_spec(PARAMS, "grid", {"random_state": "3"}), 0)
    with pytest.raises(SpecError, match="unknown setting foo for algorithm grid") as info:
        create_suggester(make_spec(PARAMS, "grid", [("random_state", "3"), ("foo", "1")]), 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[1]"


def test_large_grid_with_long_history_is_fast() -> None:
    params = [int_param("a", "0", "999"), int_param("b", "0", "999")]
    spec = make_spec(params, "grid")
    suggester = GridSuggester(spec)
    history = make_trials(params_of(suggester.suggest(History.from_spec(spec, []), 5000)))
    batch = suggester.suggest(History.from_spec(spec, history), 3)
    assert params_of(batch) == [{"a": 5, "b": 0}, {"a": 5, "b": 1}, {"a": 5, "b": 2}]


def test_grid_beyond_int64_positions() -> None:
    params = [int_param(name, "0", "65535") for name in ("a", "b", "c", "d", "e")]
    spec = make_spec(params, "grid")
    suggester = GridSuggester(spec)
    assert suggester.size == 2**80
    first = suggester.suggest(History.from_spec(spec, []), 2)
    history = make_trials(params_of(first))
    assert params_of(suggester.suggest(History.from_spec(spec, history), 1)) == [
        {"a": 0, "b": 0, "c": 0, "d": 0, "e": 2}
    ]


def test_a_conditional_grid_walks_the_tree_and_its_size_bounds_max_trials() -> None:
    from tunery.suggest import create_suggester
    from tunery.testing.suggest import make_spec, simulate, tiny_conditional_parameters

    spec = make_spec(tiny_conditional_parameters(), "grid", max_trial_count=6)
    _, batches = simulate(create_suggester(spec), spec, 4, 2)
    suggested = [dict(a.parameters) for batch in batches for a in batch]
    assert suggested == [
        {"c": "p", "n": 1},
        {"c": "p", "n": 2},
        {"c": "p", "n": 3},
        {"c": "p", "n": 4},
        {"c": "q", "m": 1},
        {"c": "q", "m": 2},
    ]
    with pytest.raises(SpecError, match="all possible search combinations: 6"):
        create_suggester(make_spec(tiny_conditional_parameters(), "grid", max_trial_count=7))
