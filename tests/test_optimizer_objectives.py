"""Ask/tell with several objectives and constraints (tunery/optimizer_objectives.py and the
Optimizer's use of it): the arguments, ``tell(s, [v1, v2])`` and ``tell(s, {metrics})``, the
front, feasibility, persistence, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunery
from tunery import search as S
from tunery.errors import TuneryError
from tunery.model import TrialCondition
from tunery.pareto import non_dominated


def mo(**kwargs: object) -> tunery.Optimizer:
    return tunery.Optimizer(
        {"x": S.double(0.0, 1.0)},
        algorithm="random",
        objectives=[("acc", "maximize"), {"metric": "lat", "direction": "minimize"}],
        constraints=[{"metric": "mem", "max": 0.8}],
        seed=3,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_front_is_the_non_dominated_feasible_results() -> None:
    opt = mo()
    for i in range(30):
        s = opt.ask()
        x = s.params["x"]
        if i % 2:
            opt.tell(s, {"acc": x, "lat": (x - 0.3) ** 2, "mem": x})
        else:  # a list: the constraint's metric is missing, so the result is not feasible
            opt.tell(s, [x, (x - 0.3) ** 2])
    spec = opt.spec.objective
    assert spec.is_multi and [c.metric for c in spec.constraints] == ["mem"]
    feasible = [
        t
        for i, t in enumerate(opt.trials)
        if i % 2 and t.parameters["x"] <= 0.8  # type: ignore[operator]
    ]
    losses = [(-t.metrics["acc"].max, t.metrics["lat"].min) for t in feasible]  # type: ignore[operator]
    expected = [feasible[i].name for i in non_dominated(losses)]
    front = opt.best_trials
    assert [b.id for b in front] == expected and front
    for b in front:
        x = b.params["x"]
        assert b.values == pytest.approx((x, (x - 0.3) ** 2)) and b.value == b.values[0]  # type: ignore[index,operator]
    with pytest.raises(TuneryError, match="best_trials"):
        _ = opt.best


def test_tell_checks_the_shape_of_a_result_in_one_line() -> None:
    opt = mo()
    s = opt.ask()
    for value, words in (
        (0.5, "2 objectives need a list or a dict"),
        ([0.5], "1 values for 2 objectives"),
        ({"acc": 0.5}, "the result has no 'lat'"),
        ({"acc": 0.5, "lat": "fast"}, "value['lat'] must be a number"),
        ([0.5, None], "value[1] must be a number"),
    ):
        with pytest.raises(TuneryError) as info:
            opt.tell(s, value)
        assert words in str(info.value) and "\n" not in str(info.value)
    assert opt.trials[0].status is TrialCondition.RUNNING  # nothing recorded
    opt.tell(s, [0.5, float("nan")])  # a non-finite objective: a failure
    assert opt.trials[0].status is TrialCondition.FAILED
    s = opt.ask()
    opt.tell(s, None)
    assert opt.trials[1].status is TrialCondition.FAILED


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"objectives": "acc"}, "objectives must be a list"),
        ({"objectives": []}, "at least one objective"),
        ({"objectives": [("acc",)]}, "objectives[0] must be a (metric, direction) pair"),
        ({"objectives": [("acc", "up")]}, "objectives[0].direction: invalid direction 'up'"),
        (
            {"objectives": [("a", "minimize"), ("a", "maximize")]},
            "objectives[1].metric: metric 'a' is already",
        ),
        ({"constraints": [("mem", 2, 1)]}, "constraints[0].min: (2) must not exceed max (1)"),
        ({"constraints": "mem"}, "constraints must be a list"),
        (
            {"objective": "maximize", "objectives": [("a", "maximize")]},
            "give objective= or objectives=",
        ),
        (
            {"algorithm": "cmaes", "objectives": [("a", "minimize"), ("b", "minimize")]},
            "algorithm: algorithm cmaes cannot tune 2 objectives",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs: dict[str, object], words: str) -> None:
    args: dict[str, object] = {"algorithm": "random", **kwargs}
    with pytest.raises(TuneryError) as info:
        tunery.Optimizer({"x": S.double(0.0, 1.0), "y": S.double(0.0, 1.0)}, **args)  # type: ignore[arg-type]
    assert words in str(info.value) and "\n" not in str(info.value)


def test_single_objective_with_a_constraint_picks_the_best_feasible() -> None:
    opt = tunery.Optimizer(
        {"x": S.double(0.0, 1.0)},
        algorithm="random",
        objectives=[("loss", "minimize")],
        constraints=[("x_used", 0.5, None)],
    )
    for _ in range(12):
        s = opt.ask()
        x = s.params["x"]
        opt.tell(s, {"loss": x, "x_used": x})
    best = opt.best
    feasible = [t.parameters["x"] for t in opt.trials if t.parameters["x"] >= 0.5]  # type: ignore[operator]
    assert best is not None and best.value == min(feasible)  # type: ignore[type-var]


def test_a_stored_multi_objective_study_resumes_with_its_front(tmp_path: Path) -> None:
    db = str(tmp_path / "mo.db")
    with mo(storage=db, name="study") as opt:
        for _ in range(6):
            s = opt.ask()
            x = s.params["x"]
            opt.tell(s, {"acc": x, "lat": (x - 0.3) ** 2, "mem": x})
        before = [b.id for b in opt.best_trials]
    again = mo(storage=db, name="study")
    assert [b.id for b in again.best_trials] == before
    stored = tunery.Client(db).get_experiment("study")
    assert stored.spec.objective.is_multi
    again.close()
