"""Tests of the sobol suggester."""

from __future__ import annotations

import numpy as np
import pytest

from tunery.errors import SpecError
from tunery.history import History
from tunery.space import SearchSpace
from tunery.suggest import create_suggester
from tunery.suggest.sobol import SobolSuggester
from tunery.testing.suggest import (
    categorical_param,
    double_param,
    int_param,
    make_spec,
    make_trials,
)


def params_of(assignments: list) -> list[dict]:
    return [dict(a.parameters) for a in assignments]


def test_points_follow_the_scrambled_sobol_sequence() -> None:
    params = [double_param("x", "0", "1"), double_param("y", "-1", "1")]
    spec = make_spec(params, "sobol", {"random_state": "4"})
    suggester = SobolSuggester(spec, None)
    batch = suggester.suggest(History.from_spec(spec, []), 8)
    points = np.array([[a.parameters["x"], (a.parameters["y"] + 1) / 2] for a in batch])
    # 8 Sobol points: one in each eighth of either axis (balance of a (t, m, s)-net)
    for axis in range(2):
        assert sorted(np.floor(points[:, axis] * 8).astype(int)) == list(range(8))
    assert suggester.dump_state() == {"drawn": 8}


def test_state_continues_the_sequence() -> None:
    params = [double_param("x", "0", "1"), int_param("n", "0", "1000")]
    spec = make_spec(params, "sobol")
    one = SobolSuggester(spec, 1)
    first = one.suggest(History.from_spec(spec, []), 6)
    history = make_trials(params_of(first))
    restored = SobolSuggester(spec, 1)
    restored.load_state(one.dump_state() or {})
    assert params_of(one.suggest(History.from_spec(spec, history), 4)) == params_of(
        restored.suggest(History.from_spec(spec, history), 4)
    )
    both = SobolSuggester(spec, 1).suggest(History.from_spec(spec, []), 10)
    assert params_of(both)[:6] == params_of(first)


def test_skips_points_already_tried_and_exhausts() -> None:
    params = [categorical_param("c", ["a", "b", "c"]), int_param("n", "1", "2")]
    spec = make_spec(params, "sobol")
    suggester = SobolSuggester(spec, 0)
    history: list = []
    seen: set = set()
    space = SearchSpace(params)
    while batch := suggester.suggest(History.from_spec(spec, history), 4):
        for a in batch:
            key = space.canonical(a.parameters)
            assert key not in seen
            seen.add(key)
        history += make_trials(params_of(batch), start=len(history) + 1)
    assert len(seen) == 6


def test_log_parameters_map_in_log_space() -> None:
    params = [double_param("lr", "0.0001", "1", distribution="logUniform")]
    spec = make_spec(params, "sobol")
    batch = SobolSuggester(spec, 0).suggest(History.from_spec(spec, []), 64)
    logs = np.log10([a.parameters["lr"] for a in batch])
    assert abs(np.mean(logs < -2) - 0.5) < 0.05


def test_settings() -> None:
    with pytest.raises(SpecError, match="unknown setting") as info:
        create_suggester(make_spec([int_param("n", "0", "3")], "sobol", {"sigma": "1"}), 0)
    assert info.value.path == "spec.algorithm.algorithmSettings[0]"
    with pytest.raises(SpecError, match="random_state"):
        create_suggester(make_spec([int_param("n", "0", "3")], "sobol", {"random_state": "x"}), 0)
