"""``asha``: the rule on hand-built histories, and real experiments that use it."""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import create, kill_9_runs, native_doc, tunery_ok, write_yaml
from tunery.controller import Controller
from tunery.errors import SpecError
from tunery.execute.local import LocalExecutor
from tunery.history import History as TrialHistory
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    Constraint,
    EarlyStoppingSpec,
    ExperimentCondition,
    ExperimentSpec,
    MetricStrategyType,
    Objective,
    ObjectiveTerm,
    ObjectiveType,
    Observation,
    Trial,
    TrialCondition,
    TrialTemplate,
)
from tunery.pareto import nondominated_ranks
from tunery.spec import parse_document
from tunery.stopping import asha_pareto, create_stopper
from tunery.stopping.asha import Asha, AshaSettings, parse_settings
from tunery.stopping.asha_pareto import ParetoAsha
from tunery.storage import Store
from tunery.testing.suggest import double_param

METRIC = "acc"


def spec_of(
    settings: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    *,
    objective: ObjectiveType = ObjectiveType.MAXIMIZE,
) -> ExperimentSpec:
    pairs = list(settings.items()) if isinstance(settings, Mapping) else list(settings or ())
    return ExperimentSpec(
        name="asha",
        objective=Objective(type=objective, objective_metric_name=METRIC),
        algorithm=AlgorithmSpec("random"),
        parameters=(double_param("x", "0", "1"),),
        trial_template=TrialTemplate(command=("true",)),
        early_stopping=EarlyStoppingSpec("asha", tuple(AlgorithmSetting(k, v) for k, v in pairs)),
        source_format="native",
    )


class History:
    def __init__(self) -> None:
        self.trials: dict[str, Trial] = {}
        self.curves: dict[str, list[Observation]] = {}

    def add(self, name: str, status: TrialCondition, curve: Sequence[tuple[int, Any]]) -> None:
        self.trials[name] = Trial(name, "asha", len(self.trials), {"x": 0.5}, status=status)
        self.curves.setdefault(name, []).extend(Observation(name, METRIC, v, s) for s, v in curve)

    def running(self, name: str, curve: Sequence[tuple[int, Any]]) -> None:
        self.add(name, TrialCondition.RUNNING, curve)

    def extend(self, name: str, curve: Sequence[tuple[int, Any]]) -> None:
        self.curves[name].extend(Observation(name, METRIC, v, s) for s, v in curve)

    def finish(self, name: str, status: TrialCondition = TrialCondition.SUCCEEDED) -> None:
        t = self.trials[name]
        self.trials[name] = Trial(t.name, t.experiment, t.index, t.parameters, status=status)

    def decide(self, stopper: Asha) -> dict[str, str]:
        """What the stopper decides on these trials (no objective values: the curves only)."""
        return stopper.decide(TrialHistory.from_spec(spec_of(), self.trials.values(), self.curves))


# --------------------------------------------------------------------------- settings


def test_defaults() -> None:
    s = parse_settings(spec_of())
    assert s == AshaSettings(1, 3, 0, None)
    assert [s.rung_step(k) for k in range(4)] == [1, 3, 9, 27]


def test_settings_shape_the_rungs() -> None:
    s = parse_settings(
        spec_of(
            {
                "min_resource": "2",
                "reduction_factor": "4",
                "min_early_stopping_rate": "1",
                "max_resource": "100",
            }
        )
    )
    assert [s.rung_step(k) for k in range(3)] == [8, 32, 128]
    assert s.judged(1) and not s.judged(2)


@pytest.mark.parametrize(
    ("settings", "path", "match"),
    [
        ([("eta", "3")], "spec.earlyStopping.algorithmSettings[0].name", "unknown setting"),
        ([("reduction_factor", "1")], "[0].value", "reduction_factor must be an integer >= 2"),
        ([("min_resource", "0")], "[0].value", "min_resource must be an integer >= 1"),
        ([("min_resource", "1.5")], "[0].value", "integer"),
        ([("min_early_stopping_rate", "-1")], "[0].value", ">= 0"),
        ([("max_resource", "x")], "[0].value", "max_resource"),
        ([("min_resource", "1"), ("min_resource", "2")], "[1].name", "duplicate"),
    ],
)
def test_bad_settings_are_refused_with_path_and_hint(
    settings: list[tuple[str, str]], path: str, match: str
) -> None:
    with pytest.raises(SpecError, match=match) as info:
        parse_settings(spec_of(settings))
    assert info.value.path.endswith(path)
    assert info.value.hint


def test_spec_validation_knows_asha_and_names_a_bad_stopper() -> None:
    doc = native_doc("v", "print(1)", extra_spec={"earlyStopping": {"algorithmName": "asha"}})
    spec = parse_document(doc)
    assert isinstance(create_stopper(spec), Asha)
    doc["spec"]["earlyStopping"] = {
        "algorithmName": "asha",
        "algorithmSettings": [{"name": "reduction_factor", "value": "one"}],
    }
    with pytest.raises(SpecError, match="reduction_factor") as info:
        parse_document(doc)
    assert info.value.path == "spec.earlyStopping.algorithmSettings[0].value"
    doc["spec"]["earlyStopping"] = {"algorithmName": "hyperband"}
    with pytest.raises(SpecError, match="unknown early stopping") as info:
        parse_document(doc)
    assert "asha" in (info.value.hint or "") and "medianstop" in (info.value.hint or "")


# --------------------------------------------------------------------------- the rule


def test_first_trial_goes_on_and_a_worse_one_is_stopped_at_the_rung() -> None:
    stopper = Asha(spec_of())
    h = History()
    h.running("a", [(1, 0.5)])
    assert h.decide(stopper) == {}
    h.running("b", [(1, 0.4)])
    got = h.decide(stopper)
    assert list(got) == ["b"]
    assert got["b"] == (
        "at rung 0 (step 1) acc=0.4 ranks 2 of 2; only the best 1 go on (reduction_factor 3)"
    )


def test_a_better_newcomer_goes_on_and_one_in_eta_is_kept() -> None:
    stopper = Asha(spec_of())
    h = History()
    for i, v in enumerate([0.5, 0.6, 0.7, 0.8, 0.9, 0.55]):
        h.running(f"t{i}", [(1, v)])
        got = h.decide(stopper)
        # t5 (0.55) meets 6 values: keep 2 (0.9, 0.8); it ranks 5th.
        assert (f"t{i}" in got) == (i == 5), (i, got)
    assert stopper.rung_sizes() == [6]


def test_minimize_and_ties() -> None:
    stopper = Asha(spec_of(objective=ObjectiveType.MINIMIZE))
    h = History()
    h.running("a", [(1, 2.0)])
    h.running("b", [(1, 2.0)])  # a tie is not worse
    h.running("c", [(1, 3.0)])
    got = h.decide(stopper)
    assert list(got) == ["c"]


def test_before_the_first_rung_and_between_rungs_nothing_happens() -> None:
    stopper = Asha(spec_of({"min_resource": "4", "reduction_factor": "2"}))
    h = History()
    h.running("a", [(1, 0.9), (2, 0.9), (4, 0.9)])
    h.running("b", [(1, 0.1), (2, 0.1), (3, 0.1)])
    assert h.decide(stopper) == {}  # b has not reached step 4
    h.extend("b", [(4, 0.2)])
    assert list(h.decide(stopper)) == ["b"]
    h.extend("a", [(5, 0.1), (6, 0.1), (7, 0.1)])
    assert h.decide(stopper) == {}  # a is alone in rung 0 and has not reached rung 1 (8)


def test_a_trial_judged_once_per_rung_even_when_others_arrive_later() -> None:
    stopper = Asha(spec_of())
    h = History()
    h.running("a", [(1, 0.3)])
    assert h.decide(stopper) == {}
    for i in range(6):
        h.running(f"b{i}", [(1, 0.9)])
    h.decide(stopper)
    # a entered rung 0 when it was the best there; it is not judged again at that rung.
    h.extend("a", [(2, 0.3)])
    assert "a" not in h.decide(stopper)


def test_crossing_two_rungs_at_once_stops_at_the_first_and_enters_no_more() -> None:
    stopper = Asha(spec_of())
    h = History()
    h.running("a", [(1, 0.9), (3, 0.9)])
    h.decide(stopper)
    h.running("b", [(1, 0.1), (2, 0.1), (3, 0.95)])
    got = h.decide(stopper)
    assert got["b"].startswith("at rung 0 (step 1)")
    assert stopper.rung_sizes() == [2, 1]


def test_max_resource_rungs_never_stop() -> None:
    stopper = Asha(spec_of({"max_resource": "3"}))
    h = History()
    h.running("a", [(1, 0.9), (3, 0.9)])
    h.decide(stopper)
    h.running("b", [(1, 0.95), (3, 0.1)])  # worse at step 3, but 3 is the full budget
    assert h.decide(stopper) == {}


def test_nan_and_none_enter_no_rung() -> None:
    stopper = Asha(spec_of())
    h = History()
    h.running("a", [(1, 0.5)])
    h.running("b", [(1, float("nan")), (1, None)])
    assert h.decide(stopper) == {}
    assert stopper.rung_sizes() == [1]


def test_other_metrics_are_ignored() -> None:
    stopper = Asha(spec_of())
    h = History()
    h.running("a", [(1, 0.5)])
    h.trials["b"] = Trial("b", "asha", 9, {}, status=TrialCondition.RUNNING)
    h.curves["b"] = [Observation("b", "loss", 0.0, 1)]
    assert h.decide(stopper) == {}


def test_completed_trials_fill_rungs_without_being_judged_and_restart_rebuilds() -> None:
    h = History()
    for i, v in enumerate([0.9, 0.8, 0.7, 0.6]):
        h.add(f"done{i}", TrialCondition.SUCCEEDED, [(1, v), (3, v), (9, v)])
    h.running("r", [(1, 0.75)])
    first = Asha(spec_of())
    assert list(h.decide(first)) == ["r"]  # 5 values, keep 1: 0.75 ranks 3rd
    restarted = Asha(spec_of())
    assert list(h.decide(restarted)) == ["r"]
    assert restarted.rung_sizes() == first.rung_sizes() == [5, 4, 4]


def test_a_thinned_curve_is_read_again_and_its_new_points_enter_the_rungs() -> None:
    """The controller thins a long curve in place (tunery.thinning): points disappear from
    its middle while new ones are added, the length coming back to what it was.  The point
    that reaches a rung must still be the one that enters it."""
    stopper = Asha(spec_of())  # rungs at steps 1, 3, 9, 27
    h = History()
    for name in "bc":
        h.add(name, TrialCondition.SUCCEEDED, [(s, 5.0) for s in range(10)])
    h.running("a", [(s, 6.0) for s in range(6)])
    assert h.decide(stopper) == {}
    assert stopper.rung_sizes() == [3, 3, 2]
    curve = h.curves["a"]
    curve[2:] = curve[2::2]  # steps 0, 1, 2, 4
    h.extend("a", [(9, 0.0), (10, 100.0)])  # as long as before; step 9 reaches rung 2
    got = h.decide(stopper)
    assert list(got) == ["a"] and got["a"].startswith("at rung 2 (step 9) acc=0 ranks 3 of 3")


def test_created_trials_are_ignored() -> None:
    stopper = Asha(spec_of())
    h = History()
    h.add("c", TrialCondition.CREATED, [])
    assert h.decide(stopper) == {}


# --------------------------------------------------------------------------- real experiments

CURVE = """
import os, sys, time
x = float(sys.argv[1].split("=", 1)[1])
log = os.environ.get("RAN_LOG")
if log:
    with open(log, "a") as fh:
        fh.write(os.environ["TUNERY_TRIAL_NAME"] + "\\n")
for step in range(1, {steps} + 1):
    time.sleep({sleep})
    print(f"step={{step}} score={{x * (1 - 0.5 ** step):.6f}}", flush=True)
"""

REASON = re.compile(
    r"^at rung (\d+) \(step (\d+)\) score=\S+ ranks (\d+) of (\d+); only the best (\d+) go on"
)


def asha_doc(name: str, values: list[str], *, steps: int, sleep: float, parallel: int) -> Any:
    return native_doc(
        name,
        CURVE.format(steps=steps, sleep=sleep),
        parameters=[
            {"name": "x", "parameterType": "categorical", "feasibleSpace": {"list": values}}
        ],
        algorithm="grid",
        parallel=parallel,
        max_trials=len(values),
        extra_spec={
            "earlyStopping": {
                "algorithmName": "asha",
                "algorithmSettings": [
                    {"name": "min_resource", "value": "1"},
                    {"name": "reduction_factor", "value": "3"},
                    {"name": "max_resource", "value": str(steps)},
                ],
            }
        },
    )


@pytest.mark.integration
def test_controller_runs_the_rungs_with_real_trials(tmp_path: Path) -> None:
    # One at a time in grid order, so the rung populations are known: a trial goes on at a
    # rung if at most max(1, n // 3) - 1 of the n values there beat it.
    values = ["0.5", "0.9", "0.1", "0.95", "0.2", "0.3"]
    expected_stop = {"0.1", "0.2", "0.3"}
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        create(store, asha_doc("asha", values, steps=4, sleep=0.15, parallel=1), tmp_path)
        Controller(store, "asha", LocalExecutor(), poll_interval=0.02).run()
        exp = store.get_experiment("asha")
        assert exp.status is ExperimentCondition.SUCCEEDED
        trials = store.list_trials("asha")
        assert len(trials) == len(values)
        for t in trials:
            steps = [o.step for o in store.get_observations("asha", t.name, "score")]
            if str(t.parameters["x"]) in expected_stop:
                assert t.status is TrialCondition.EARLY_STOPPED, (t.parameters, t.message)
                m = REASON.match(t.message or "")
                assert m and m.group(1) == "0" and m.group(2) == "1", t.message
                assert max(steps) < 4, "it ran to the end"
            else:
                assert t.status is TrialCondition.SUCCEEDED, (t.parameters, t.message)
                assert steps == [1, 2, 3, 4]
    finally:
        store.close()


@pytest.mark.integration
def test_kill_9_controller_then_resume_with_asha(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    values = ["0.9", "0.5", "0.95", "0.1", "0.2", "0.85", "0.05", "0.3", "0.15"]
    doc = asha_doc("asha9", values, steps=12, sleep=0.08, parallel=3)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db"), "RAN_LOG": str(ran)}
    kill_9_runs(path, tmp_path, env, ran, (1.0, 0.7, 0.7))
    got = json.loads(tunery_ok("resume", "asha9", "--json", cwd=tmp_path, env=env).stdout)
    assert got["status"] == "Succeeded"
    trials = json.loads(tunery_ok("trials", "asha9", "--json", cwd=tmp_path, env=env).stdout)
    assert len(trials) == len(values)
    started = ran.read_text().split()
    assert sorted(started) == sorted(t["name"] for t in trials), "a trial ran twice or not at all"
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        statuses = {t.status for t in store.list_trials("asha9")}
        assert statuses <= {TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED}
        for t in store.list_trials("asha9"):
            if t.status is TrialCondition.EARLY_STOPPED:
                assert REASON.match(t.message or ""), t.message
    finally:
        store.close()


# --------------------------------------------------------------------------- several objectives

LAT = "lat"
MEM = "mem"


def mo_spec(
    settings: Mapping[str, str] | None = None,
    *,
    objectives: Sequence[tuple[str, ObjectiveType]] = (
        (METRIC, ObjectiveType.MAXIMIZE),
        (LAT, ObjectiveType.MINIMIZE),
    ),
    constraints: Sequence[Constraint] = (),
) -> ExperimentSpec:
    """``spec_of`` with these objectives (accuracy up, latency down) and constraints."""
    spec = spec_of(settings, objective=objectives[0][1])
    terms = tuple(
        ObjectiveTerm(metric, kind, None, MetricStrategyType.LATEST) for metric, kind in objectives
    )
    objective = replace(
        spec.objective,
        objective_metric_name=objectives[0][0],
        terms=terms,
        constraints=tuple(constraints),
    )
    return replace(spec, objective=objective)


class MoHistory:
    """Hand-built trials with curves of several metrics: ``{metric: [(step, value)]}``."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        self.trials: dict[str, Trial] = {}
        self.curves: dict[str, dict[str, list[Observation]]] = {}

    def add(
        self, name: str, status: TrialCondition, curves: Mapping[str, Sequence[tuple[int, Any]]]
    ) -> None:
        self.trials[name] = Trial(name, "asha", len(self.trials), {"x": 0.5}, status=status)
        self.extend(name, curves)

    def running(self, name: str, **curves: Sequence[tuple[int, Any]]) -> None:
        self.add(name, TrialCondition.RUNNING, curves)

    def extend(self, name: str, curves: Mapping[str, Sequence[tuple[int, Any]]]) -> None:
        for metric, points in curves.items():
            curve = self.curves.setdefault(metric, {}).setdefault(name, [])
            curve.extend(Observation(name, metric, v, s) for s, v in points)

    def at(self, name: str, **values: float) -> None:
        """A running trial reporting these values at step 1."""
        self.running(name, **{metric: [(1, value)] for metric, value in values.items()})

    def decide(self, stopper: Any) -> dict[str, str]:
        history = TrialHistory.from_spec(self.spec, self.trials.values(), metric_curves=self.curves)
        decisions: dict[str, str] = stopper.decide(history)
        return decisions


def test_one_objective_keeps_the_single_objective_rule_and_several_get_the_pareto_one() -> None:
    assert type(create_stopper(spec_of())) is Asha
    assert isinstance(create_stopper(mo_spec()), ParetoAsha)
    constrained = mo_spec(
        objectives=[(METRIC, ObjectiveType.MAXIMIZE)], constraints=[Constraint(MEM, None, 1.0)]
    )
    assert isinstance(create_stopper(constrained), ParetoAsha)


def test_a_dominated_newcomer_is_stopped_and_trade_offs_go_on() -> None:
    spec = mo_spec()
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.at("a", acc=0.9, lat=10.0)
    assert h.decide(stopper) == {}
    h.at("b", acc=0.5, lat=20.0)  # a dominates it: 2 in the rung, 1 goes on
    assert h.decide(stopper) == {
        "b": "at rung 0 (step 1) acc=0.5, lat=20 ranks 2 of 2 by non-dominated rank and "
        "crowding distance; only the best 1 go on (reduction_factor 3)"
    }
    h.at("c", acc=0.95, lat=30.0)  # better accuracy, worse latency: on the front with a
    h.at("d", acc=0.6, lat=5.0)  # the fastest: on the front too, an extreme of it
    assert h.decide(stopper) == {}
    h.at("e", acc=0.85, lat=12.0)  # a dominates it, and it dominates b: second front
    got = h.decide(stopper)
    assert list(got) == ["e"] and "ranks 4 of 5" in got["e"], got
    assert stopper.rung_sizes() == [5]


def test_within_the_newcomers_front_a_smaller_crowding_distance_ranks_behind() -> None:
    spec = mo_spec({"reduction_factor": "2"})
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.at("p1", acc=0.9, lat=40.0)
    h.at("p2", acc=0.8, lat=30.0)
    h.at("p3", acc=0.5, lat=10.0)
    assert h.decide(stopper) == {}
    # q is on the front too, but between p3 and p2 it has a crowding distance of
    # 0.3/0.4 + 20/30, less than the two extremes' (infinite): 2 ahead, 2 go on.
    h.at("q", acc=0.79, lat=29.5)
    got = h.decide(stopper)
    assert list(got) == ["q"] and "ranks 3 of 4" in got["q"], got
    # Farther from its neighbours than p2 and q are, yet behind the two extremes.
    h.at("r", acc=0.7, lat=20.0)
    got = h.decide(stopper)
    assert list(got) == ["r"] and "ranks 3 of 5" in got["r"], got


def test_an_infeasible_trial_ranks_after_the_feasible_ones_by_its_violation() -> None:
    spec = mo_spec(constraints=[Constraint(MEM, None, 100.0)])
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.at("a", acc=0.5, lat=20.0, mem=50.0)
    h.at("b", acc=0.9, lat=10.0, mem=200.0)  # dominates a, but uses too much memory
    got = h.decide(stopper)
    assert list(got) == ["b"]
    assert "ranks 2 of 2 (infeasible: constraints violated by 100 in all);" in got["b"], got
    h.at("c", acc=0.95, lat=5.0)  # memory not reported yet: not known to violate
    h.at("d", acc=0.1, lat=90.0, mem=150.0)  # violates less than b: ahead of it only
    got = h.decide(stopper)
    assert list(got) == ["d"] and "ranks 3 of 4" in got["d"], got


def test_a_min_bound_and_one_objective_with_a_constraint() -> None:
    spec = mo_spec(
        objectives=[(LAT, ObjectiveType.MINIMIZE)],
        constraints=[Constraint(METRIC, 0.8, None)],
    )
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.at("a", lat=20.0, acc=0.85)
    h.at("b", lat=10.0, acc=0.6)  # faster, but below the accuracy it must reach
    got = h.decide(stopper)
    assert list(got) == ["b"] and got["b"].startswith(
        "at rung 0 (step 1) lat=10 ranks 2 of 2 (infeasible: constraints violated by 0.2 in all)"
    ), got
    h.at("c", lat=20.0, acc=0.9)  # a tie with a: not worse (the newcomer's benefit)
    assert h.decide(stopper) == {}


def test_a_trial_reporting_only_some_objectives_is_compared_on_those() -> None:
    spec = mo_spec()
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.at("a", acc=0.9, lat=50.0)
    assert h.decide(stopper) == {}
    h.at("b", acc=0.8)  # no latency yet: compared on accuracy with a, which is better
    got = h.decide(stopper)
    assert got == {
        "b": "at rung 0 (step 1) acc=0.8 ranks 2 of 2 by non-dominated rank; only the best 1 "
        "go on (reduction_factor 3)"
    }
    h.at("c", acc=0.95)  # the best accuracy of the three
    h.at("d", acc=0.7, lat=5.0)  # compared on both with a only (b and c have no latency)
    assert h.decide(stopper) == {}


def test_a_value_arriving_later_completes_the_point_others_are_compared_with() -> None:
    spec = mo_spec()
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.at("a", acc=0.9)
    assert h.decide(stopper) == {}
    h.extend("a", {LAT: [(2, 50.0)]})  # a's first latency at or past step 1
    h.at("b", acc=0.5, lat=10.0)  # compared on both with a: a trade-off, both go on
    assert h.decide(stopper) == {}
    h.at("c", acc=0.4, lat=60.0)  # dominated by both: ranks 3 of 3
    got = h.decide(stopper)
    assert list(got) == ["c"] and "ranks 3 of 3" in got["c"]


def test_each_metric_enters_a_rung_with_its_first_value_at_or_past_the_step() -> None:
    spec = mo_spec({"min_resource": "2"})  # rungs at 2, 6, 18
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.running("a", acc=[(1, 0.1), (2, 0.9)], lat=[(1, 1.0), (3, 10.0)])
    h.running("b", acc=[(1, 0.99), (2, 0.8)], lat=[(1, 0.5), (2, 20.0)])
    # At rung 0 a is (0.9, 10) and b (0.8, 20): b is dominated; the step-1 values play no part.
    got = h.decide(stopper)
    assert list(got) == ["b"] and "acc=0.8, lat=20 ranks 2 of 2" in got["b"], got


def test_mo_completed_trials_fill_rungs_without_being_judged_and_restart_rebuilds() -> None:
    spec = mo_spec()
    h = MoHistory(spec)
    for i, (acc, lat) in enumerate([(0.9, 10.0), (0.8, 5.0), (0.7, 30.0), (0.6, 40.0)]):
        steps = [1, 3, 9]
        h.add(
            f"done{i}",
            TrialCondition.SUCCEEDED,
            {METRIC: [(s, acc) for s in steps], LAT: [(s, lat) for s in steps]},
        )
    h.running("r", acc=[(1, 0.65)], lat=[(1, 35.0)])
    first = create_stopper(spec)
    got = h.decide(first)
    # Fronts: done0 and done1; done2; r; done3.
    assert list(got) == ["r"] and "ranks 4 of 5" in got["r"]
    restarted = create_stopper(spec)
    assert list(h.decide(restarted)) == ["r"]
    assert restarted.rung_sizes() == first.rung_sizes() == [5, 4, 4]


def test_mo_thinned_curves_are_read_again_and_their_new_points_enter_the_rungs() -> None:
    spec = mo_spec()  # rungs at steps 1, 3, 9, 27
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    for name in "bc":
        h.add(
            name,
            TrialCondition.SUCCEEDED,
            {METRIC: [(s, 5.0) for s in range(10)], LAT: [(s, 1.0) for s in range(10)]},
        )
    h.running("a", acc=[(s, 6.0) for s in range(6)], lat=[(s, 0.5) for s in range(6)])
    assert h.decide(stopper) == {}
    assert stopper.rung_sizes() == [3, 3, 2]
    for by_trial in h.curves.values():
        curve = by_trial["a"]
        curve[2:] = curve[2::2]  # steps 0, 1, 2, 4
    h.extend("a", {METRIC: [(9, 0.0), (10, 100.0)], LAT: [(9, 9.0), (10, 0.0)]})
    got = h.decide(stopper)
    assert list(got) == ["a"], got
    assert got["a"].startswith("at rung 2 (step 9) acc=0, lat=9 ranks 3 of 3"), got


def test_mo_nan_none_and_unknown_metrics_enter_no_rung() -> None:
    spec = mo_spec()
    stopper = create_stopper(spec)
    h = MoHistory(spec)
    h.running("a", acc=[(1, float("nan")), (1, None)], lat=[(1, float("inf"))], loss=[(1, 0.0)])
    assert h.decide(stopper) == {} and stopper.rung_sizes() == []


MO_CURVE = """
import sys, time
args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:])
x, y = float(args["x"]), float(args["y"])
for step in range(1, {steps} + 1):
    time.sleep({sleep})
    print(f"step={{step}} acc={{x * (1 - 0.5 ** step):.6f}} lat={{10 + 20 * y:.6f}}", flush=True)
"""


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    pairs = list(zip(a, b, strict=True))
    return all(p <= q for p, q in pairs) and any(p < q for p, q in pairs)


def _ahead_naively(points: list[tuple[float, float]]) -> int:
    """How many points are strictly ahead of ``points[0]``: whole fronts before its own, then
    those of its front with a larger crowding distance (NSGA-II's, written out)."""
    left = list(range(len(points)))
    ahead = 0
    while True:
        front = [i for i in left if not any(_dominates(points[j], points[i]) for j in left)]
        if 0 not in front:
            ahead += len(front)
            left = [i for i in left if i not in front]
            continue
        if len(front) <= 2:
            return ahead
        crowd = dict.fromkeys(front, 0.0)
        for m in range(2):
            order = sorted(front, key=lambda i: points[i][m])
            span = points[order[-1]][m] - points[order[0]][m]
            crowd[order[0]] = crowd[order[-1]] = math.inf
            for before, i, after in zip(order, order[1:], order[2:], strict=False):
                if span > 0:
                    crowd[i] += (points[after][m] - points[before][m]) / span
        return ahead + sum(1 for i in front if crowd[i] > crowd[0])


@pytest.mark.integration
def test_controller_stops_the_dominated_trials_of_a_two_objective_experiment(
    tmp_path: Path,
) -> None:
    """Random search over (x, y), accuracy up and latency down, one trial at a time: the rung
    populations are known, so what asha must decide is computed here, naively."""
    steps, count = 4, 9
    doc = native_doc(
        "moasha",
        MO_CURVE.format(steps=steps, sleep=0.1),
        parameters=[
            {"name": n, "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            for n in ("x", "y")
        ],
        objective={"type": "maximize", "objectiveMetricName": "acc"},
        parallel=1,
        max_trials=count,
        extra_spec={
            "objectives": [
                {"metric": "acc", "direction": "maximize"},
                {"metric": "lat", "direction": "minimize"},
            ],
            "earlyStopping": {
                "algorithmName": "asha",
                "algorithmSettings": [
                    {"name": "reduction_factor", "value": "3"},
                    {"name": "max_resource", "value": str(steps)},
                ],
            },
        },
    )
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        create(store, doc, tmp_path)
        Controller(store, "moasha", LocalExecutor(), poll_interval=0.02).run()
        assert store.get_experiment("moasha").status is ExperimentCondition.SUCCEEDED
        trials = sorted(store.list_trials("moasha"), key=lambda t: t.index)
        assert len(trials) == count
        rungs: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
        for t in trials:
            x, y = float(t.parameters["x"]), float(t.parameters["y"])
            expected = None
            for k, step in ((0, 1), (1, 3)):
                point = (-round(x * (1 - 0.5**step), 6), round(10 + 20 * y, 6))
                rungs[k].append(point)
                n = len(rungs[k])
                if _ahead_naively([point, *rungs[k][:-1]]) >= max(1, n // 3):
                    expected = (k, step)
                    break
            if expected is None:
                assert t.status is TrialCondition.SUCCEEDED, (t.name, t.message)
                continue
            assert t.status is TrialCondition.EARLY_STOPPED, (t.name, t.parameters, expected)
            k, step = expected
            assert (t.message or "").startswith(f"at rung {k} (step {step}) acc="), t.message
            assert "by non-dominated rank" in (t.message or "")
            reported = [o.step for o in store.get_observations("moasha", t.name, "lat")]
            assert max(reported) < steps, "it ran to the end"
        statuses = [t.status for t in trials]
        assert TrialCondition.EARLY_STOPPED in statuses and TrialCondition.SUCCEEDED in statuses
        # A controller starting again reads every objective's curves back from the store.
        again = Controller(store, "moasha", LocalExecutor(), poll_interval=0.02)
        again.start()
        again.release()
        assert again._curves is not None and again._curves.metrics == ("acc", "lat")
        for metric in ("acc", "lat"):
            for t in trials:
                stored = store.get_observations("moasha", t.name, metric)
                assert stored and again._curves.by_metric[metric][t.name] == stored
    finally:
        store.close()


@pytest.mark.parametrize("dimensions", [1, 2, 3, 4])
def test_the_fast_ranks_are_the_peeled_fronts(dimensions: int) -> None:
    """The rung's ranks (a sweep with two objectives, one comparison per point beyond) agree
    with tunery.pareto's fronts peeled one by one, ties and duplicates included."""
    rng = random.Random(dimensions)
    for _ in range(300):
        top = rng.choice([2, 5, 1000])
        points = [
            [float(rng.randint(0, top)) for _ in range(dimensions)]
            for _ in range(rng.randint(1, 40))
        ]
        assert asha_pareto.ranks(points) == nondominated_ranks(points), points
    assert asha_pareto.ranks([]) == []
