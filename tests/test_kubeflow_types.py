"""Kubeflow's optimizer types, locally (tunery/kubeflow/types.py)."""

from __future__ import annotations

import pytest

from tunery.kubeflow.types import (
    Algorithm,
    ChoiceParameter,
    CustomTrainer,
    Direction,
    GridSearch,
    Objective,
    RandomSearch,
    Search,
    TrainJobTemplate,
)
from tunery.model import Distribution, ParameterType


def test_search_helpers_give_tunery_parameters() -> None:
    uniform = Search.uniform(0.1, 0.5).named("lr")
    assert uniform.parameter_type == ParameterType.DOUBLE
    assert (uniform.feasible_space.min, uniform.feasible_space.max) == ("0.1", "0.5")
    assert uniform.feasible_space.distribution == Distribution.UNIFORM
    log = Search.loguniform(1e-4, 1e-1).named("lr")
    assert log.feasible_space.distribution == Distribution.LOG_UNIFORM
    choice = Search.choice(["adam", "sgd"])
    assert choice.named("opt").feasible_space.list == ("adam", "sgd")
    assert not choice.literal_values


@pytest.mark.parametrize(
    ("values", "literal"),
    [
        ([16, 32], True),
        ([True, False], True),
        ([0.5, 1], True),
        (["a", 1], False),
        ([float("nan"), 1.0], False),
    ],
)
def test_choice_remembers_literal_values(values: list[object], literal: bool) -> None:
    choice = Search.choice(values)
    assert isinstance(choice, ChoiceParameter)
    assert choice.literal_values is literal
    assert choice.feasible_space.list == tuple(str(v) for v in values)


def test_choice_needs_values() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        Search.choice([])


def test_objective_direction_from_a_string() -> None:
    assert Objective("acc", "maximize").direction is Direction.MAXIMIZE
    assert Objective("acc", "Maximize").direction is Direction.MAXIMIZE
    with pytest.raises(ValueError):
        Objective("acc", "upwards")


def test_algorithms_name_and_settings() -> None:
    assert (RandomSearch().algorithm_name, RandomSearch().settings()) == ("random", {})
    assert RandomSearch(5).settings() == {"random_state": 5}
    assert (GridSearch().algorithm_name, GridSearch().settings()) == ("grid", {})
    tpe = Algorithm("tpe", {"n_startup_trials": 5})
    assert (tpe.algorithm_name, tpe.settings()) == ("tpe", {"n_startup_trials": 5})


def test_train_job_template_reads_like_a_mapping() -> None:
    template = TrainJobTemplate(trainer=CustomTrainer(func=print))
    assert dict(template) == {"trainer": template.trainer, "runtime": None, "initializer": None}
