"""Tests of the multi-objective test problems (:mod:`tunery.testing.multiobjective`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunery.space import SearchSpace
from tunery.testing import multiobjective as mo


def _point(n: int, first: float, rest: float) -> dict[str, float]:
    return {f"x{i}": first if i == 0 else rest for i in range(n)}


@pytest.mark.parametrize(
    ("problem", "f2"),
    [
        (mo.zdt1(5), lambda f1: 1 - math.sqrt(f1)),
        (mo.zdt2(5), lambda f1: 1 - f1**2),
        (mo.zdt3(5), lambda f1: 1 - math.sqrt(f1) - f1 * math.sin(10 * math.pi * f1)),
    ],
)
def test_zdt_fronts(problem: mo.Problem, f2: object) -> None:
    for f1 in (0.0, 0.25, 0.9):
        metrics = problem.metrics(_point(5, f1, 0.0))  # g = 1: on the Pareto front
        assert metrics["f1"] == f1 and metrics["f2"] == pytest.approx(f2(f1))  # type: ignore[operator]


def test_zdt1_off_its_front() -> None:
    # x1..x4 = 1: g = 1 + 9 = 10, f2 = g * (1 - sqrt(f1 / g)).
    assert mo.zdt1(5).metrics(_point(5, 0.5, 1.0))["f2"] == pytest.approx(10 * (1 - 0.05**0.5))


def test_dtlz2_front_is_the_unit_sphere() -> None:
    problem = mo.dtlz2(6)
    rng = np.random.default_rng(0)
    for _ in range(5):
        params = {f"x{i}": float(v) for i, v in enumerate(rng.random(6))}
        params.update({f"x{i}": 0.5 for i in range(2, 6)})
        values = problem.metrics(params)
        assert sum(v * v for v in values.values()) == pytest.approx(1.0)


def test_constraints_and_hypervolume() -> None:
    problem = mo.constrained_zdt1(5)
    space = SearchSpace(problem.parameters)
    trials = [
        mo.trial_of(problem, i + 1, p)
        for i, p in enumerate(space.sample(np.random.default_rng(1), 4000))
    ]
    share = float(np.mean(mo.feasible(problem, trials)))
    assert share == pytest.approx(0.6**3 / 6, abs=0.01)  # P(sum of 3 uniforms <= 0.6)
    # Only feasible trials count towards the hypervolume.
    best = mo.trial_of(problem, 1, _point(5, 0.0, 0.0))  # f = (0, 1), load 0: feasible
    assert mo.hypervolume_of(problem, [best]) == pytest.approx(1.1 * 10.0)
    heavy = mo.trial_of(problem, 2, {**_point(5, 0.0, 0.0), "x1": 0.7})  # load 0.7: infeasible
    assert mo.hypervolume_of(problem, [heavy]) == 0.0
    assert mo.violations_of(problem, heavy) == pytest.approx((0.1,))
