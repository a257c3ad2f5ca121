"""Tests of :mod:`tunery.objectives`: values, violations, feasibility, best and the front."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunery import model
from tunery.model import (
    Constraint,
    MetricStrategy,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Trial,
    TrialCondition,
)
from tunery.objectives import (
    best_trial,
    feasibility,
    front_summary,
    goals_met,
    is_feasible,
    objective_losses,
    objective_values,
    pareto_front,
    violations,
)
from tunery.pareto import hypervolume

MAX, MIN = ObjectiveType.MAXIMIZE, ObjectiveType.MINIMIZE
S = TrialCondition


def two(constraints: tuple[Constraint, ...] = (), **goals: float) -> Objective:
    terms = (
        ObjectiveTerm("acc", MAX, goals.get("acc"), MetricStrategyType.MAX),
        ObjectiveTerm("lat", MIN, goals.get("lat"), MetricStrategyType.LATEST),
    )
    return Objective(MAX, "acc", goals.get("acc"), terms=terms, constraints=constraints)


def summary(*values: float) -> MetricSummary:
    s = MetricSummary()
    for v in values:
        s = s.add(v)
    return s


def trial(
    i: int, status: TrialCondition = S.SUCCEEDED, objective: float | None = None, **metrics: object
) -> Trial:
    summaries = {k: summary(*(v if isinstance(v, tuple) else (v,))) for k, v in metrics.items()}
    if objective is None and "acc" in summaries:
        objective = summaries["acc"].max
    return Trial(f"t-{i}", "e", i, {}, status=status, metrics=summaries, objective=objective)


def test_values_follow_each_objectives_strategy() -> None:
    t = trial(1, acc=(0.5, 0.9, 0.7), lat=(30.0, 10.0, 20.0))
    assert objective_values(two(), t) == (0.9, 20.0)  # max of acc, latest of lat
    assert objective_losses(two(), t) == (-0.9, 20.0)
    assert objective_values(two(), trial(2, acc=0.5)) is None  # lat missing
    assert objective_values(two(), trial(3, acc=0.5, lat=math.nan)) is None  # not finite


def test_violations_are_signed_min_first_and_none_when_unknown() -> None:
    obj = two((Constraint("mem", max=512.0), Constraint("rec", min=0.2, max=0.9)))
    t = trial(1, acc=0.5, lat=1.0, mem=600.0, rec=0.1)
    assert violations(obj, t) == pytest.approx((88.0, 0.1, -0.8))
    assert feasibility(obj, t) is False and not is_feasible(obj, t)
    ok = trial(2, acc=0.5, lat=1.0, mem=512.0, rec=0.9)
    assert feasibility(obj, ok) is True and is_feasible(obj, ok)
    unknown = trial(3, acc=0.5, lat=1.0, mem=100.0)
    assert violations(obj, unknown) is None
    assert feasibility(obj, unknown) is None and not is_feasible(obj, unknown)
    assert feasibility(two(), ok) is None and is_feasible(two(), ok)  # no constraints
    assert violations(two(), ok) == ()


def test_constraints_read_the_latest_value_unless_a_strategy_names_the_metric() -> None:
    t = trial(1, acc=0.5, lat=1.0, mem=(900.0, 100.0))
    assert feasibility(two((Constraint("mem", max=512.0),)), t) is True
    peak = Objective(
        MAX,
        "acc",
        terms=two().terms,
        metric_strategies=(MetricStrategy("mem", MetricStrategyType.MAX),),
        constraints=(Constraint("mem", max=512.0),),
    )
    assert feasibility(peak, t) is False


def test_single_objective_best_is_the_best_feasible_trial() -> None:
    obj = Objective(MIN, "loss", constraints=(Constraint("mem", max=10.0),))
    trials = [
        Trial("a", "e", 1, {}, S.SUCCEEDED, objective=0.1, metrics={"mem": summary(20.0)}),
        Trial("b", "e", 2, {}, S.SUCCEEDED, objective=0.3, metrics={"mem": summary(5.0)}),
        Trial("c", "e", 3, {}, S.FAILED, objective=0.0, metrics={"mem": summary(1.0)}),
        Trial("d", "e", 4, {}, S.EARLY_STOPPED, objective=0.2, metrics={"mem": summary(9.0)}),
        Trial("e", "e", 5, {}, S.SUCCEEDED, objective=0.05),  # no mem: not feasible
    ]
    assert best_trial(obj, trials).name == "d"  # type: ignore[union-attr]
    assert model.best_trial(obj, trials).name == "d"  # type: ignore[union-attr]
    unconstrained = Objective(MIN, "loss")
    assert model.best_trial(unconstrained, trials).name == "e"  # type: ignore[union-attr]
    infeasible = [trials[0], trials[4]]
    assert best_trial(obj, infeasible) is None and pareto_front(obj, infeasible) == []


def test_multi_objective_front_and_its_representative_best() -> None:
    trials = [
        trial(1, acc=0.9, lat=50.0),
        trial(2, acc=0.8, lat=10.0),
        trial(3, acc=0.7, lat=60.0),  # dominated by both
        trial(4, acc=0.95, lat=80.0),
        trial(5, S.RUNNING, acc=0.99, lat=1.0),  # not completed
        trial(6, acc=0.8, lat=10.0),  # a tie with t-2: kept
    ]
    front = pareto_front(two(), trials)
    assert [t.name for t in front] == ["t-1", "t-2", "t-4", "t-6"]
    assert best_trial(two(), trials).name == "t-4"  # type: ignore[union-attr]
    constrained = two((Constraint("lat", max=70.0),))
    assert [t.name for t in pareto_front(constrained, trials)] == ["t-1", "t-2", "t-6"]


def test_goals_need_every_goal_and_feasibility() -> None:
    obj = two(acc=0.9, lat=20.0)
    assert goals_met(obj, trial(1, acc=0.95, lat=20.0))
    assert not goals_met(obj, trial(2, acc=0.95, lat=21.0))
    assert not goals_met(obj, trial(3, S.RUNNING, acc=0.95, lat=1.0))
    assert not goals_met(two(), trial(4, acc=1.0, lat=0.0))  # no goal given
    half = two(lat=20.0)  # only one goal given: that one decides
    assert goals_met(half, trial(5, acc=0.1, lat=5.0))
    constrained = two((Constraint("mem", max=1.0),), acc=0.9)
    assert not goals_met(constrained, trial(6, acc=0.95, lat=1.0, mem=2.0))


def test_front_summary_uses_the_stated_reference_or_the_default_rule() -> None:
    trials = [trial(1, acc=0.9, lat=50.0), trial(2, acc=0.8, lat=10.0)]
    summary_ = front_summary(two(), trials)
    assert not summary_.stated
    # Losses (-0.9, 50), (-0.8, 10): nadir (-0.8, 50) + 10% of the range (0.1, 40).
    assert summary_.reference == pytest.approx((0.79, 54.0))
    assert summary_.hypervolume == pytest.approx(
        hypervolume([[-0.9, 50.0], [-0.8, 10.0]], [-0.79, 54.0])
    )
    stated = Objective(
        MAX,
        "acc",
        terms=(
            ObjectiveTerm("acc", MAX, None, MetricStrategyType.MAX, reference=0.0),
            ObjectiveTerm("lat", MIN, None, MetricStrategyType.LATEST, reference=100.0),
        ),
    )
    s = front_summary(stated, trials)
    assert s.stated and s.reference == (0.0, 100.0)
    # The area dominated in (accuracy up, latency down) up to (0, 100).
    assert s.hypervolume == pytest.approx(0.9 * 50 + 0.8 * 90 - 0.8 * 50)
    empty = front_summary(two(), [trial(3, S.FAILED)])
    assert empty.front == () and empty.hypervolume is None and empty.reference is None


metric_value = st.integers(0, 4).map(float)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([S.SUCCEEDED, S.EARLY_STOPPED, S.FAILED, S.RUNNING]),
            st.one_of(st.none(), metric_value),
            st.one_of(st.none(), metric_value),
            st.one_of(st.none(), metric_value),
        ),
        max_size=12,
    )
)
def test_the_front_is_exactly_the_non_dominated_feasible_completed_set(
    rows: list[tuple[TrialCondition, float | None, float | None, float | None]],
) -> None:
    obj = two((Constraint("mem", max=2.0),))
    trials = []
    for i, (status, acc, lat, mem) in enumerate(rows):
        metrics = {k: v for k, v in (("acc", acc), ("lat", lat), ("mem", mem)) if v is not None}
        trials.append(trial(i, status, **metrics))

    def ok(t: Trial) -> bool:
        m = t.metrics
        return (
            t.status in (S.SUCCEEDED, S.EARLY_STOPPED)
            and "acc" in m
            and "lat" in m
            and "mem" in m
            and m["mem"].latest <= 2.0  # type: ignore[operator]
        )

    def better(a: Trial, b: Trial) -> bool:
        pa = (a.metrics["acc"].max, a.metrics["lat"].latest)
        pb = (b.metrics["acc"].max, b.metrics["lat"].latest)
        return pa[0] >= pb[0] and pa[1] <= pb[1] and pa != pb  # type: ignore[operator]

    candidates = [t for t in trials if ok(t)]
    expected = [t.name for t in candidates if not any(better(o, t) for o in candidates)]
    assert [t.name for t in pareto_front(obj, trials)] == expected
