"""Ask/tell."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import tunery
from tunery.errors import LeaseHeldError, UserInputError
from tunery.model import TrialCondition


def branin(x: float, y: float) -> float:
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )


SPACE = {"x": tunery.search.double(-5, 10), "y": tunery.search.double(0, 15)}


def test_ask_tell_loop_finds_a_good_point() -> None:
    opt = tunery.Optimizer(SPACE, algorithm="random", objective="minimize", seed=1)
    assert opt.best is None
    for _ in range(60):
        s = opt.ask()
        assert -5 <= s.params["x"] <= 10 and 0 <= s.params["y"] <= 15
        opt.tell(s, branin(**s.params))
    best = opt.best
    assert best is not None and best.value == min(t.objective for t in opt.trials)  # type: ignore[type-var]
    assert best.value < 5


def test_batches_failures_fixed_values_and_misuse() -> None:
    opt = tunery.Optimizer(
        {"n": tunery.search.int(1, 3), "mode": tunery.search.categorical(["a", "b"]), "k": 7},
        algorithm="random",
        objective="maximize",
    )
    batch = opt.ask(4)
    assert len({(s.params["n"], s.params["mode"]) for s in batch}) == 4
    assert all(s.params["k"] == 7 for s in batch)
    opt.tell(batch[0], 1.0)
    opt.tell(batch[1], None)
    opt.tell(batch[2].id, float("nan"))
    opt.tell(batch[3], 5.0, failed=True)
    statuses = [t.status for t in opt.trials]
    assert statuses == [TrialCondition.SUCCEEDED] + [TrialCondition.FAILED] * 3
    assert opt.best is not None and opt.best.id == batch[0].id
    with pytest.raises(UserInputError, match="already told"):
        opt.tell(batch[0], 2.0)
    with pytest.raises(UserInputError, match="unknown suggestion"):
        opt.tell("nope", 1.0)
    rest = opt.ask(10)
    assert len(rest) == 2  # 6 configurations in all
    with pytest.raises(UserInputError, match="exhausted"):
        opt.ask()
    with pytest.raises(UserInputError, match="objective"):
        tunery.Optimizer(SPACE, algorithm="random", objective="up")


def test_storage_persists_and_resumes_identically(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")

    def run(opt: tunery.Optimizer, n: int) -> list[dict]:  # type: ignore[type-arg]
        out = []
        for _ in range(n):
            s = opt.ask()
            opt.tell(s, branin(**s.params))
            out.append(s.params)
        return out

    straight = run(tunery.Optimizer(SPACE, algorithm="sobol", seed=3), 10)
    first = tunery.Optimizer(SPACE, algorithm="sobol", seed=3, storage=db, name="study")
    part = run(first, 6)
    with pytest.raises(LeaseHeldError):
        tunery.Optimizer(SPACE, algorithm="sobol", seed=3, storage=db, name="study")
    first.close()
    with tunery.Optimizer(SPACE, algorithm="sobol", seed=3, storage=db, name="study") as again:
        assert len(again.trials) == 6
        part += run(again, 4)
    assert part == straight
    client = tunery.Client(db)
    trials = client.list_trials("study")
    assert len(trials) == 10 and all(t.status is TrialCondition.SUCCEEDED for t in trials)
    assert client.get_optimal_hyperparameters("study")["objective"] == min(  # type: ignore[index]
        t.objective
        for t in trials  # type: ignore[type-var]
    )
    with pytest.raises(UserInputError, match="another search space"):
        tunery.Optimizer(SPACE, algorithm="random", storage=db, name="study")
