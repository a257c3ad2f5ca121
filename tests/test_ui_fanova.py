"""The fANOVA-style importance: a seeded random forest's first-order variance shares."""

from __future__ import annotations

import math
import random

import pytest

from tunery.model import Distribution, FeasibleSpace, ParameterSpec, ParameterType
from tunery.ui.fanova import fanova_importance
from tunery.ui.importance import parameter_importance


def _double(name: str, log: bool = False) -> ParameterSpec:
    dist = Distribution.LOG_UNIFORM if log else None
    return ParameterSpec(name, ParameterType.DOUBLE, FeasibleSpace("1e-5", "1", None, (), dist))


def _data(n: int, seed: int = 5) -> tuple[list[dict[str, float | str]], list[float]]:
    rng = random.Random(seed)
    rows: list[dict[str, float | str]] = []
    y = []
    for _ in range(n):
        lr = 10 ** rng.uniform(-5, 0)
        row: dict[str, float | str] = {
            "lr": lr,
            "width": rng.random(),
            "noise": rng.random(),
            "opt": rng.choice(["sgd", "adam"]),
        }
        rows.append(row)
        y.append((math.log10(lr) + 2.5) ** 2 + 0.5 * float(row["width"]) + (row["opt"] == "sgd"))
    return rows, y


SPACE = [
    _double("lr", log=True),
    _double("width"),
    _double("noise"),
    ParameterSpec("opt", ParameterType.CATEGORICAL, FeasibleSpace(list=("sgd", "adam"))),
]


def test_the_parameter_that_matters_most_comes_first_and_noise_last() -> None:
    rows, y = _data(200)
    shares = dict(zip([p.name for p in SPACE], fanova_importance(SPACE, rows, y), strict=True))
    assert all(0 <= v <= 1 for v in shares.values())
    assert max(shares, key=lambda k: shares[k]) == "lr"
    assert shares["noise"] < shares["width"] < shares["lr"]
    assert shares["noise"] < 0.05
    # Seeded: the same trials give the same answer.
    assert fanova_importance(SPACE, rows, y) == fanova_importance(SPACE, rows, y)


def test_a_constant_objective_or_missing_values_give_zero() -> None:
    rows, _ = _data(20)
    assert fanova_importance(SPACE, rows, [1.0] * 20) == [0.0] * 4
    rows[0] = {k: v for k, v in rows[0].items() if k != "noise"}
    shares = fanova_importance(SPACE, rows, _data(20)[1])
    assert shares[2] == 0.0 and shares[0] > 0


def test_through_parameter_importance_shares_sum_to_one() -> None:
    rows, y = _data(60)
    result = parameter_importance(SPACE, rows, y, "fanova")
    assert result is not None and result[0].name == "lr"
    assert sum(i.normalized for i in result) == pytest.approx(1)
    with pytest.raises(ValueError, match="fanova"):
        parameter_importance(SPACE, rows, y, "shap")
