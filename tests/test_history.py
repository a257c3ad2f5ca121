"""Tests of :mod:`tunery.history`: the one split of the trials every algorithm sees."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tunery.history import History, HistoryBuilder
from tunery.model import Objective, ObjectiveType, Observation, Trial, TrialCondition
from tunery.space import SearchSpace
from tunery.testing.suggest import int_param, make_spec

PARAMS = [int_param("n", "1", "9")]


def trial(index: int, n: object, status: TrialCondition, objective: float | None = None) -> Trial:
    return Trial(
        name=f"t-{index}",
        experiment="t",
        index=index,
        parameters={"n": n},
        status=status,
        objective=objective,
    )


def mixed() -> list[Trial]:
    S = TrialCondition
    return [
        trial(1, 1, S.SUCCEEDED, 0.5),
        trial(2, 2, S.RUNNING, 0.25),  # a running trial with a value so far
        trial(3, 3, S.FAILED),
        trial(4, 4, S.EARLY_STOPPED, -2.0),
        trial(5, 5, S.KILLED, 0.1),
        trial(6, 6, S.SUCCEEDED, math.nan),  # finished without a finite value
        trial(7, 99, S.SUCCEEDED, 1.0),  # outside the space
        trial(8, 8, S.CREATED),
        trial(9, 9, S.METRICS_UNAVAILABLE),
        trial(10, "2", S.SUCCEEDED, 3.0),  # the same configuration as t-2, as a string
    ]


def names(entries: tuple[object, ...]) -> list[str]:
    return [e.trial.name for e in entries]  # type: ignore[attr-defined]


def test_partitions_follow_the_status_and_keep_the_order() -> None:
    h = History.from_spec(make_spec(PARAMS), mixed())
    assert len(h) == 10 and h.trials == tuple(mixed())
    assert names(h.completed) == ["t-1", "t-4", "t-6", "t-7", "t-10"]
    assert names(h.observed) == ["t-1", "t-4", "t-10"]  # a key and a finite loss
    assert names(h.active) == ["t-2", "t-8"]
    assert names(h.running) == ["t-2"] and [t.name for t in h.running_trials] == ["t-2"]
    assert names(h.failed) == ["t-3", "t-9"]
    assert names(h.killed) == ["t-5"]
    # Every entry is in exactly one status partition.
    parts = h.completed + h.active + h.failed + h.killed
    assert sorted(names(parts)) == sorted(names(h.entries))


def test_keys_are_canonical_and_none_outside_the_space() -> None:
    h = History.from_spec(make_spec(PARAMS), mixed())
    by_name = {e.trial.name: e for e in h.entries}
    assert by_name["t-7"].key is None
    assert by_name["t-10"].key == by_name["t-2"].key == (1,)
    assert h.tried_keys == frozenset({(i,) for i in range(9)} - {(6,)})


@pytest.mark.parametrize(
    ("objective", "sign"), [(ObjectiveType.MINIMIZE, 1.0), (ObjectiveType.MAXIMIZE, -1.0)]
)
def test_losses_are_signed_for_minimisation(objective: ObjectiveType, sign: float) -> None:
    h = History.from_spec(make_spec(PARAMS, objective_type=objective), mixed())
    assert h.sign == sign
    losses = {e.trial.name: e.loss for e in h.entries}
    assert losses["t-1"] == sign * 0.5 and losses["t-4"] == sign * -2.0
    assert losses["t-2"] == sign * 0.25  # any status with a finite value has a loss
    assert losses["t-6"] is None and losses["t-3"] is None
    assert [e.observed for e in h.entries] == [
        True, False, False, True, False, False, True, False, False, True
    ]  # fmt: skip


def test_curves_are_handed_over_as_they_are() -> None:
    curve = [Observation("t-2", "loss", 0.5, 1)]
    curves = {"t-2": curve}
    h = History.from_spec(make_spec(PARAMS), mixed(), curves)
    assert h.curves is curves and h.curves["t-2"] is curve
    assert History.from_spec(make_spec(PARAMS), []).curves == {}


def test_a_builder_reuses_unchanged_entries_and_rebuilds_changed_ones() -> None:
    spec = make_spec(PARAMS)
    builder = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective)
    trials = mixed()
    first = builder.build(trials)
    assert first.entries == History.from_spec(spec, trials).entries
    trials[1] = dataclasses.replace(trials[1], status=TrialCondition.SUCCEEDED, objective=0.2)
    second = builder.build(trials)
    assert all(a is b for a, b in zip(first.entries[2:], second.entries[2:], strict=True))
    assert first.entries[0] is second.entries[0]
    assert second.entries[1].trial is trials[1] and second.entries[1].observed
    assert names(second.observed) == ["t-1", "t-2", "t-4", "t-10"]


def test_a_builder_forgets_trials_that_are_gone() -> None:
    spec = make_spec(PARAMS)
    builder = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective)
    for round_ in range(50):
        batch = [trial(100 * round_ + i, 1 + i, TrialCondition.RUNNING) for i in range(5)]
        assert len(builder.build(batch)) == 5
    assert len(builder._entries) <= 2 * 5 + 64


def test_a_builder_told_of_each_write_makes_the_same_history() -> None:
    spec = make_spec(PARAMS)
    builder = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective)
    trials = mixed()
    for t in trials:
        builder.put(t)
    curves = {"t-2": [Observation("t-2", "objective", 0.25, 1, 0.0)]}
    expected = History.from_spec(spec, trials, curves)
    got = builder.current(curves)
    assert got.entries == expected.entries and got.curves is curves
    assert got.tried_keys == expected.tried_keys and isinstance(got.tried_keys, frozenset)
    # A new version of a trial replaces its entry in place; a new trial comes last.
    trials[1] = dataclasses.replace(trials[1], status=TrialCondition.SUCCEEDED, objective=0.2)
    trials.append(trial(11, 7, TrialCondition.RUNNING))
    builder.put(trials[1])
    builder.put(trials[-1])
    again = builder.current()
    assert again.entries == History.from_spec(spec, trials).entries
    assert again.tried_keys == History.from_spec(spec, trials).tried_keys
    assert names(again.observed) == ["t-1", "t-2", "t-4", "t-10"]
    assert got.tried_keys != again.tried_keys  # the earlier history did not change


def _mo_trial(
    index: int, status: TrialCondition, metrics: dict[str, float], objective: float | None = None
) -> Trial:
    from tunery.model import MetricSummary

    return Trial(
        name=f"t-{index}",
        experiment="t",
        index=index,
        parameters={"n": index},
        status=status,
        metrics={k: MetricSummary().add(v) for k, v in metrics.items()},
        objective=metrics.get("acc") if objective is None else objective,
    )


def _mo_objective() -> Objective:
    from tunery.model import Constraint, MetricStrategyType, ObjectiveTerm

    return Objective(
        ObjectiveType.MAXIMIZE,
        "acc",
        terms=(
            ObjectiveTerm("acc", ObjectiveType.MAXIMIZE, None, MetricStrategyType.MAX),
            ObjectiveTerm("lat", ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
        ),
        constraints=(Constraint("mem", max=10.0), Constraint("rec", min=0.5, max=0.9)),
    )


def test_multi_objective_entries_have_losses_and_constraint_violations() -> None:
    S = TrialCondition
    trials = [
        _mo_trial(1, S.SUCCEEDED, {"acc": 0.9, "lat": 5.0, "mem": 4.0, "rec": 0.6}),
        _mo_trial(2, S.SUCCEEDED, {"acc": 0.8, "mem": 4.0, "rec": 0.6}),  # lat missing
        _mo_trial(3, S.SUCCEEDED, {"acc": 0.7, "lat": 1.0, "mem": 12.0, "rec": 0.95}),
        _mo_trial(4, S.RUNNING, {"acc": 0.7, "lat": 1.0}),  # constraints unknown
    ]
    spec = make_spec(PARAMS, objective=_mo_objective())
    for h in (
        History.from_spec(spec, trials),
        HistoryBuilder(SearchSpace.from_spec(spec), spec.objective).build(trials),
    ):
        assert h.n_objectives == 2 and h.n_constraints == 3
        e1, e2, e3, e4 = h.entries
        assert e1.losses == (-0.9, 5.0) and e1.loss == -0.9
        assert e1.constraints == pytest.approx((-6.0, -0.1, -0.3)) and e1.feasible
        assert e2.losses is None and e2.loss is None  # observed needs every loss
        assert e3.constraints == pytest.approx((2.0, -0.45, 0.05)) and not e3.feasible
        assert e4.constraints is None and not e4.feasible
        assert names(h.observed) == ["t-1", "t-3"]


def test_single_objective_entries_keep_their_loss_and_are_feasible() -> None:
    h = History.from_spec(make_spec(PARAMS), mixed())
    assert h.n_objectives == 1 and h.n_constraints == 0
    for entry in h.entries:
        assert entry.losses == (None if entry.loss is None else (entry.loss,))
        assert entry.constraints == () and entry.feasible


def test_builder_put_keeps_losses_and_constraints() -> None:
    spec = make_spec(PARAMS, objective=_mo_objective())
    builder = HistoryBuilder(SearchSpace.from_spec(spec), spec.objective)
    builder.put(_mo_trial(1, TrialCondition.RUNNING, {"acc": 0.5}))
    builder.put(
        _mo_trial(1, TrialCondition.SUCCEEDED, {"acc": 0.5, "lat": 2.0, "mem": 1.0, "rec": 0.7})
    )
    (entry,) = builder.current().entries
    assert entry.losses == (-0.5, 2.0) and entry.feasible
    assert builder.current().n_constraints == 3
