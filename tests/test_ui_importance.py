"""Parameter importance: raw epsilon-squared per parameter, and shares that sum to 1."""

from __future__ import annotations

import random

import pytest

from tunery.model import FeasibleSpace, ParameterSpec, ParameterType
from tunery.ui.importance import MIN_TRIALS, mean_ranks, parameter_importance


def _double(name: str) -> ParameterSpec:
    return ParameterSpec(name, ParameterType.DOUBLE, FeasibleSpace(min="0", max="1"))


def test_shares_sum_to_one_where_the_raw_values_do_not() -> None:
    rng = random.Random(3)
    xs = [rng.random() for _ in range(60)]
    # b follows a (as an optimizer's samples often do): both explain nearly everything alone.
    assignments = [{"a": x, "b": x + rng.random() * 0.01, "c": rng.random()} for x in xs]
    objective = [(x - 0.3) ** 2 for x in xs]
    result = parameter_importance(
        [_double("a"), _double("b"), _double("c")], assignments, objective
    )
    assert result is not None
    assert sum(i.importance for i in result) > 1.5  # the raw shares overlap
    assert sum(i.normalized for i in result) == pytest.approx(1)
    assert {i.name for i in result[:2]} == {"a", "b"} and result[2].name == "c"
    assert result[2].normalized < 0.1
    for i in result:
        assert i.normalized == pytest.approx(i.importance / sum(j.importance for j in result))


def test_nothing_explained_gives_zero_shares_and_too_few_trials_none() -> None:
    assignments = [{"a": float(i % 2)} for i in range(20)]
    result = parameter_importance([_double("a")], assignments, [1.0] * 20)
    assert result is not None and [i.normalized for i in result] == [0.0]
    assert parameter_importance([_double("a")], assignments[:3], [1.0, 2.0, 3.0]) is None
    assert MIN_TRIALS > 3


def test_equal_objectives_share_a_rank() -> None:
    # A parameter that follows the trial order, over an objective that never changes: nothing
    # to explain (ranks by order would make it look important).
    assignments = [{"a": float(i)} for i in range(30)]
    result = parameter_importance([_double("a")], assignments, [0.5] * 30)
    assert result is not None and [i.importance for i in result] == [0.0]
    assert list(mean_ranks([3.0, 1.0, 3.0, 2.0])) == [2.5, 0.0, 2.5, 1.0]


def test_a_conditional_parameter_is_assessed_on_the_trials_where_it_was_active() -> None:
    rng = random.Random(5)
    model = ParameterSpec("model", ParameterType.CATEGORICAL, FeasibleSpace(list=("a", "b")))
    x = ParameterSpec(
        "x", ParameterType.DOUBLE, FeasibleSpace(min="0", max="1"), (("model", ("a",)),)
    )
    noise = ParameterSpec(
        "noise", ParameterType.DOUBLE, FeasibleSpace(min="0", max="1"), (("model", ("b",)),)
    )
    assignments: list[dict[str, object]] = []
    objective: list[float] = []
    for i in range(400):
        if i % 2:
            value = rng.random()
            assignments.append({"model": "a", "x": value})
            objective.append(value)  # x decides the result within its branch
        else:
            assignments.append({"model": "b", "noise": rng.random()})
            objective.append(0.5 + rng.random() * 0.01)
    result = parameter_importance([model, x, noise], assignments, objective)
    assert result is not None
    by = {i.name: i.importance for i in result}
    assert by["x"] > 0.8 and by["noise"] < 0.1
    # Too few trials where it was active: not assessed.
    few = [a for a in assignments if a["model"] == "b"][:30] + [assignments[1]] * 3
    values = [0.5] * 30 + [1.0, 2.0, 3.0]
    result = parameter_importance([model, x, noise], few, values)
    assert result is not None and {i.name: i.importance for i in result}["x"] == 0.0
