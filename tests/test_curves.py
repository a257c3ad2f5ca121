"""``tunery.curves``: the early stoppers' copy of the curves, per metric, thinned as stored."""

from __future__ import annotations

from dataclasses import replace

from tunery.curves import CurveBook, stopping_metrics
from tunery.model import (
    Constraint,
    MetricStrategyType,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Observation,
)


def obs(trial: str, metric: str, step: int, value: float = 1.0) -> Observation:
    return Observation(trial, metric, value, step)


def test_stopping_metrics_are_the_objectives_then_the_constraints_once() -> None:
    single = Objective(ObjectiveType.MINIMIZE, "loss", additional_metric_names=("acc",))
    assert stopping_metrics(single) == ("loss",)
    terms = (
        ObjectiveTerm("acc", ObjectiveType.MAXIMIZE, None, MetricStrategyType.MAX),
        ObjectiveTerm("lat", ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
    )
    multi = replace(
        Objective(ObjectiveType.MAXIMIZE, "acc"),
        terms=terms,
        constraints=(Constraint("mem", None, 1.0), Constraint("lat", 0.0, None)),
    )
    assert stopping_metrics(multi) == ("acc", "lat", "mem")


def test_a_book_keeps_its_metrics_only_by_metric_and_trial() -> None:
    book = CurveBook(["acc", "lat", "acc"])
    assert book.metrics == ("acc", "lat")
    book.extend([obs("a", "acc", 1), obs("a", "loss", 1), obs("b", "lat", 1), obs("a", "acc", 2)])
    assert book.by_metric == {
        "acc": {"a": [obs("a", "acc", 1), obs("a", "acc", 2)]},
        "lat": {"b": [obs("b", "lat", 1)]},
    }
    assert book.first is book.by_metric["acc"]


def test_a_read_thins_each_metric_as_the_store_did_then_appends() -> None:
    book = CurveBook(["acc", "lat"])
    book.extend(obs("a", m, s) for m in ("acc", "lat") for s in range(6))
    book.add("a", [obs("a", "acc", 6), obs("a", "lat", 6)], {"acc": (2, 2), "mem": (0, 2)})
    assert [o.step for o in book.by_metric["acc"]["a"]] == [0, 1, 2, 4, 6]
    assert [o.step for o in book.by_metric["lat"]["a"]] == list(range(7))
    book.add("new", [obs("new", "lat", 0)], {"lat": (0, 2)})  # nothing kept yet: nothing thinned
    assert [o.step for o in book.by_metric["lat"]["new"]] == [0]
