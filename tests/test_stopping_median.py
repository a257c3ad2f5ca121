"""Katib's ``medianstop``: the rule on hand-built histories, and real experiments that use it."""

from __future__ import annotations

import json
import math
import os
import random
import re
import statistics
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
    EarlyStoppingSpec,
    ExperimentCondition,
    ExperimentReason,
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
from tunery.stopping import create_stopper
from tunery.stopping import median as median_module
from tunery.stopping.median import (
    DEFAULT_START_STEP,
    MedianStop,
    MedianStopSettings,
    parse_settings,
)
from tunery.stopping.median_pareto import ParetoMedianStop
from tunery.storage import Store
from tunery.testing.suggest import double_param

METRIC = "acc"
Curve = Sequence[tuple[int, float | None]]


def spec_of(
    settings: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    *,
    objective: ObjectiveType = ObjectiveType.MAXIMIZE,
    early_stopping: bool = True,
) -> ExperimentSpec:
    pairs = list(settings.items()) if isinstance(settings, Mapping) else list(settings or ())
    return ExperimentSpec(
        name="median",
        objective=Objective(type=objective, objective_metric_name=METRIC),
        algorithm=AlgorithmSpec("random"),
        parameters=(double_param("x", "0", "1"),),
        trial_template=TrialTemplate(command=("true",)),
        early_stopping=(
            EarlyStoppingSpec("medianstop", tuple(AlgorithmSetting(k, v) for k, v in pairs))
            if early_stopping
            else None
        ),
        source_format="native",
    )


class History:
    """Hand-built trials and curves for ``decide``."""

    def __init__(self) -> None:
        self.trials: dict[str, Trial] = {}
        self.curves: dict[str, list[Observation]] = {}

    def add(
        self,
        name: str,
        status: TrialCondition,
        curve: Curve,
        metric: str = METRIC,
    ) -> None:
        self.trials[name] = Trial(name, "median", len(self.trials), {"x": 0.5}, status=status)
        self.curves.setdefault(name, []).extend(
            Observation(name, metric, value, step) for step, value in curve
        )

    def done(self, name: str, curve: Curve) -> None:
        self.add(name, TrialCondition.SUCCEEDED, curve)

    def running(self, name: str, curve: Curve) -> None:
        self.add(name, TrialCondition.RUNNING, curve)

    def extend(self, name: str, curve: Curve) -> None:
        self.curves[name].extend(Observation(name, METRIC, v, s) for s, v in curve)

    def finish(self, name: str, status: TrialCondition = TrialCondition.SUCCEEDED) -> None:
        trial = self.trials[name]
        self.trials[name] = Trial(trial.name, trial.experiment, trial.index, {}, status=status)

    def decide(self, stopper: MedianStop) -> dict[str, str]:
        """What the stopper decides on these trials (no objective values: the curves only)."""
        return stopper.decide(TrialHistory.from_spec(spec_of(), self.trials.values(), self.curves))


def flat(value: float, steps: int = 10, start: int = 1) -> list[tuple[int, float | None]]:
    return [(s, value) for s in range(start, start + steps)]


# --------------------------------------------------------------------------- settings


def test_defaults_are_katibs() -> None:
    assert parse_settings(spec_of()) == MedianStopSettings(3, 4)
    assert median_module.DEFAULT_MIN_TRIALS_REQUIRED == 3
    assert median_module.DEFAULT_START_STEP == 4
    assert parse_settings(spec_of(early_stopping=False)) == MedianStopSettings(3, 4)
    got = parse_settings(spec_of({"start_step": " 7 ", "min_trials_required": "+1"}))
    assert got == MedianStopSettings(min_trials_required=1, start_step=7)
    assert parse_settings(spec_of({"start_step": "1"})).start_step == 1


@pytest.mark.parametrize(
    ("settings", "path", "message"),
    [
        ([("nope", "1")], "spec.earlyStopping.algorithmSettings[0].name", "unknown setting"),
        (
            [("start_step", "2"), ("max_trials", "1")],
            "spec.earlyStopping.algorithmSettings[1].name",
            "unknown setting 'max_trials' for algorithm medianstop",
        ),
        (
            [("min_trials_required", "0")],
            "spec.earlyStopping.algorithmSettings[0].value",
            r"greater than zero \(>0\)",
        ),
        (
            [("min_trials_required", "-3")],
            "spec.earlyStopping.algorithmSettings[0].value",
            "greater than zero",
        ),
        (
            [("min_trials_required", "2.5")],
            "spec.earlyStopping.algorithmSettings[0].value",
            "not an integer",
        ),
        (
            [("start_step", "0")],
            "spec.earlyStopping.algorithmSettings[0].value",
            r"greater or equal than one \(>=1\)",
        ),
        ([("start_step", "")], "spec.earlyStopping.algorithmSettings[0].value", "not an integer"),
        (
            [("start_step", "four")],
            "spec.earlyStopping.algorithmSettings[0].value",
            "not an integer",
        ),
        (
            [("start_step", "2"), ("start_step", "3")],
            "spec.earlyStopping.algorithmSettings[1].name",
            "duplicate",
        ),
    ],
)
def test_bad_settings_are_refused_with_path_and_hint(
    settings: list[tuple[str, str]], path: str, message: str
) -> None:
    for check in (parse_settings, median_module.validate, create_stopper):
        with pytest.raises(SpecError, match=message) as info:
            check(spec_of(settings))
        assert info.value.path == path
        assert info.value.hint


def test_create_stopper_builds_medianstop_with_settings() -> None:
    stopper = create_stopper(spec_of({"min_trials_required": "2", "start_step": "5"}))
    assert isinstance(stopper, MedianStop)
    assert stopper.settings == MedianStopSettings(2, 5)
    assert stopper.metric == METRIC and stopper.maximize


# --------------------------------------------------------------------------- the rule


def test_maximize_stops_a_trial_below_the_median_with_a_reason() -> None:
    h = History()
    h.done("a", flat(0.7))
    h.done("b", flat(0.74))
    h.done("c", flat(0.9))
    h.running("good", [(1, 0.2), (2, 0.5), (3, 0.8), (4, 0.75)])
    h.running("bad", [(1, 0.1), (2, 0.61), (3, 0.5), (4, 0.3), (5, 0.2)])
    stopper = MedianStop(spec_of())
    assert h.decide(stopper) == {
        "bad": "at step 5 the best acc so far 0.61 is below the median 0.74 of 3 completed "
        "trials' running averages"
    }


def test_minimize_stops_a_trial_above_the_median() -> None:
    h = History()
    for name, value in (("a", 0.3), ("b", 0.2), ("c", 0.25), ("d", 0.9)):
        h.done(name, flat(value))
    h.running("good", [(4, 0.5), (5, 0.27)])  # best 0.27 < median 0.275
    h.running("bad", [(4, 0.28), (5, 0.6)])  # best 0.28 > median 0.275
    stopper = MedianStop(spec_of(objective=ObjectiveType.MINIMIZE))
    assert h.decide(stopper) == {
        "bad": "at step 5 the best acc so far 0.28 is above the median 0.275 of 4 completed "
        "trials' running averages"
    }


def test_running_average_is_the_mean_up_to_the_step() -> None:
    # Running averages at step 4: a -> mean(0, 1, 2, 3) = 1.5 (steps 5.. not counted),
    # b -> mean(2, 4) = 3 (a duplicate step counts twice), c -> 1 (only step 2 so far).
    h = History()
    h.done("a", [(1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0), (5, 100.0), (6, 100.0)])
    h.done("b", [(4, 2.0), (4, 4.0), (9, 100.0)])
    h.done("c", [(2, 1.0), (8, 50.0)])
    stopper = MedianStop(spec_of({"start_step": "4"}))
    h.running("r", [(4, 1.4)])
    assert "the median 1.5 of 3 completed" in h.decide(stopper)["r"]
    assert stopper.median_at(4) == (1.5, 3)
    # The median moves with the step: at step 8, a reached only 6 -> b 3, c mean(1, 50).
    assert stopper.median_at(8) == (pytest.approx((3.0 + 25.5) / 2), 2)


def test_never_stops_before_start_step() -> None:
    h = History()
    for name in "abc":
        h.done(name, flat(0.9, start=0))
    h.running("bad", [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)])
    stopper = MedianStop(spec_of({"start_step": "4"}))
    assert h.decide(stopper) == {}
    h.extend("bad", [(4, 0.0)])
    assert list(h.decide(stopper)) == ["bad"]
    assert h.decide(stopper)["bad"].startswith("at step 4 ")


def test_fewer_than_min_trials_required_never_stops() -> None:
    h = History()
    h.done("a", flat(0.9))
    h.done("b", flat(0.9))
    h.running("bad", flat(0.1, steps=6))
    stopper = MedianStop(spec_of({"min_trials_required": "3", "start_step": "2"}))
    assert h.decide(stopper) == {}
    h.running("c", flat(0.8))
    assert h.decide(stopper) == {}  # c is running, not completed
    h.finish("c")
    assert "of 3 completed" in h.decide(stopper)["bad"]


def test_one_completed_trial_is_enough_when_so_configured() -> None:
    h = History()
    h.done("a", flat(0.5))
    h.running("bad", flat(0.25, steps=2))
    got = h.decide(MedianStop(spec_of({"min_trials_required": "1", "start_step": "1"})))
    assert got == {
        "bad": "at step 2 the best acc so far 0.25 is below the median 0.5 of 1 completed "
        "trial's running average"
    }


def test_only_completed_trials_that_reached_the_step_count() -> None:
    h = History()
    h.done("a", flat(0.9, steps=10))
    h.done("b", flat(0.9, steps=10))
    h.add("stopped", TrialCondition.EARLY_STOPPED, flat(0.8, steps=5))  # reached step 5
    h.add("failed", TrialCondition.FAILED, flat(0.9, steps=10))
    h.add("killed", TrialCondition.KILLED, flat(0.9, steps=10))
    h.add("unavailable", TrialCondition.METRICS_UNAVAILABLE, flat(0.9, steps=10))
    stopper = MedianStop(spec_of({"min_trials_required": "3", "start_step": "2"}))
    h.running("at5", flat(0.1, steps=5))
    h.running("at6", flat(0.1, steps=6))
    got = h.decide(stopper)
    assert set(got) == {"at5"}  # at step 6 only a and b count: fewer than 3
    assert "the median 0.9 of 3 completed" in got["at5"]


def test_ties_do_not_stop() -> None:
    for objective in ObjectiveType:
        h = History()
        for name in "abc":
            h.done(name, flat(0.5))
        h.running("tie", flat(0.5, steps=5))
        assert h.decide(MedianStop(spec_of(objective=objective))) == {}, objective


def test_even_count_median_is_the_mean_of_the_middle_two() -> None:
    h = History()
    for name, value in zip("abcd", (0.1, 0.2, 0.6, 0.9), strict=True):
        h.done(name, flat(value))
    h.running("just_above", flat(0.41, steps=5))
    h.running("just_below", flat(0.39, steps=5))
    got = h.decide(MedianStop(spec_of()))
    assert list(got) == ["just_below"] and "the median 0.4 of 4" in got["just_below"]


def test_nan_and_none_values_are_ignored() -> None:
    nan, inf = math.nan, math.inf
    h = History()
    h.done("a", [(1, 0.8), (2, nan), (3, None), (4, 0.8), (5, inf)])
    h.done("b", [(1, nan), (2, 0.6), (3, 0.6), (4, -inf), (5, 0.6)])
    h.done("c", [(1, None), (2, 0.7), (5, 0.7)])
    h.done("only_nan", [(1, nan), (5, None), (9, nan)])  # reached step 9 but has no average
    stopper = MedianStop(spec_of({"start_step": "1"}))
    h.running("best_is_nan", [(1, 0.1), (5, nan), (5, inf)])  # best 0.1, not inf
    h.running("only_none", [(1, None), (5, None)])  # nothing to compare
    got = h.decide(stopper)
    assert stopper.median_at(5) == (pytest.approx(0.7), 3)
    assert stopper.median_at(1) == (pytest.approx(0.8), 1)
    assert set(got) == {"best_is_nan"}
    assert "at step 5 the best acc so far 0.1 is below the median 0.7" in got["best_is_nan"]


def test_a_missing_value_beside_a_number_at_one_step_is_ignored() -> None:
    # A completed trial may report a number and an unparsable (None) value at the same step;
    # the running average is the numbers' mean whatever their order (this raised TypeError).
    h = History()
    h.done("a", [(1, 0.8), (1, None), (2, 0.6), (2, None), (2, 0.4)])
    h.done("b", [(1, None), (1, 0.6), (2, 0.6)])
    h.running("slow", [(2, 0.1)])
    stopper = MedianStop(spec_of({"start_step": "1", "min_trials_required": "2"}))
    got = h.decide(stopper)
    assert stopper.median_at(2) == (pytest.approx((0.6 + 0.6) / 2), 2)
    assert set(got) == {"slow"}


def test_best_so_far_is_kept_across_ticks_and_other_metrics_are_ignored() -> None:
    h = History()
    for name in "abc":
        h.done(name, flat(0.5))
    h.running("r", [(1, 0.2), (2, 0.9)])
    h.curves["r"].append(Observation("r", "loss", 0.0, 3))  # not the objective metric
    stopper = MedianStop(spec_of({"start_step": "2"}))
    assert h.decide(stopper) == {}
    h.extend("r", [(3, 0.1), (4, 0.1), (5, 0.1)])  # dips, but its best so far is still 0.9
    assert h.decide(stopper) == {}


def test_created_and_unknown_trials_are_not_stopped() -> None:
    h = History()
    for name in "abc":
        h.done(name, flat(0.9))
    h.add("created", TrialCondition.CREATED, flat(0.1))
    h.running("no_curve", [])
    stopper = MedianStop(spec_of({"start_step": "1"}))
    assert h.decide(stopper) == {}
    assert stopper.decide(TrialHistory.from_spec(spec_of(), [])) == {}


def test_completed_averages_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = median_module._completed

    def counting(curve: Sequence[Observation], metric: str) -> Any:
        calls.append(len(curve))
        return real(curve, metric)

    monkeypatch.setattr(median_module, "_completed", counting)
    h = History()
    for i in range(200):
        h.done(f"t{i}", flat(i / 200))
    h.running("r", flat(0.6, steps=4))
    stopper = MedianStop(spec_of())
    for tick in range(50):
        h.extend("r", [(5 + tick, 0.6)])
        assert h.decide(stopper) == {}
    assert len(calls) == 200
    h.finish("r")
    h.running("low", flat(0.1, steps=6))
    assert "of 201 completed" in h.decide(stopper)["low"]
    assert len(calls) == 201
    # A completed curve that changes after all (a late final read) is rebuilt, not doubled.
    h.extend("t0", [(11, 0.9)])
    assert "of 201 completed" in h.decide(stopper)["low"]
    assert len(calls) == 202


def _reference(
    h: History, settings: MedianStopSettings, maximize: bool
) -> dict[str, tuple[int, float, float, int]]:
    """The rule written naively: recompute everything from the curves."""
    out: dict[str, tuple[int, float, float, int]] = {}

    def finite(curve: Sequence[Observation]) -> list[Observation]:
        return [o for o in curve if o.value is not None and math.isfinite(o.value)]

    for trial in h.trials.values():
        if trial.status is not TrialCondition.RUNNING or not h.curves.get(trial.name):
            continue
        curve = h.curves[trial.name]
        step = max(o.step for o in curve)
        values = [o.value for o in finite(curve) if o.value is not None]
        if step < settings.start_step or not values:
            continue
        best = max(values) if maximize else min(values)
        averages = []
        for other in h.trials.values():
            if other.status not in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED):
                continue
            oc = h.curves.get(other.name, [])
            if not oc or max(o.step for o in oc) < step:
                continue
            upto = [o.value for o in finite(oc) if o.step <= step and o.value is not None]
            if upto:
                averages.append(sum(upto) / len(upto))
        if len(averages) < settings.min_trials_required:
            continue
        med = statistics.median(averages)
        if (best < med) if maximize else (best > med):
            out[trial.name] = (step, best, med, len(averages))
    return out


@pytest.mark.parametrize("objective", list(ObjectiveType))
def test_incremental_caches_agree_with_a_naive_reference(
    objective: ObjectiveType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(median_module, "MAX_CACHED_STEPS", 3)  # exercise eviction too
    rng = random.Random(7)
    maximize = objective is ObjectiveType.MAXIMIZE
    spec = spec_of({"min_trials_required": "2", "start_step": "2"}, objective=objective)
    stopper = MedianStop(spec)
    settings = stopper.settings
    h = History()
    steps: dict[str, int] = {}
    for tick in range(120):
        if rng.random() < 0.3:
            name = f"t{tick}"
            h.running(name, [])
            steps[name] = 0
        for name in [n for n, t in h.trials.items() if t.status is TrialCondition.RUNNING]:
            if rng.random() < 0.1:
                h.finish(name)
                continue
            for _ in range(rng.randint(0, 2)):
                steps[name] += 1
                value = rng.choice([rng.random(), rng.random(), math.nan, None])
                h.extend(name, [(steps[name], value)])
        want = _reference(h, settings, maximize)
        got = h.decide(stopper)
        assert set(got) == set(want), tick
        for name, (step, best, med, n) in want.items():
            assert got[name].startswith(f"at step {step} the best acc so far {best:.6g} ")
            assert f" median {med:.6g} of {n} completed" in got[name]
        for name in got:  # the controller would stop them
            h.finish(name, TrialCondition.EARLY_STOPPED)
    assert any(t.status is TrialCondition.EARLY_STOPPED for t in h.trials.values())


def test_thinned_curves_are_read_again_and_agree_with_the_reference() -> None:
    """The controller thins a long curve in place (tunery.thinning): points disappear from
    its middle while new ones are added, its length coming back to what it was or more.
    The stopper must notice and read it again, not take the end of it for the new points."""
    rng = random.Random(11)
    stopper = MedianStop(spec_of({"min_trials_required": "2", "start_step": "2"}))
    h = History()
    for name in "abc":  # running averages that rise with the step
        h.done(name, [(s, s / 100) for s in range(1, 1000)])
    steps: dict[str, int] = {}
    value: dict[str, float] = {}
    stopped = 0
    for tick in range(300):
        if tick % 3 == 0:
            name = f"t{tick}"
            value[name] = rng.uniform(0.05, 0.5)
            h.running(name, [(s, value[name]) for s in range(1, 6)])
            steps[name] = 5
        for name in [n for n, t in h.trials.items() if t.status is TrialCondition.RUNNING]:
            curve = h.curves[name]
            before = len(curve)
            if before > 8 and rng.random() < 0.5:
                curve[4:] = curve[4::2]  # thinned as the controller does it
            while len(curve) < before + rng.randint(0, 3):
                steps[name] += 1
                h.extend(name, [(steps[name], rng.choice([value[name], None]))])
        want = _reference(h, stopper.settings, maximize=True)
        got = h.decide(stopper)
        assert set(got) == set(want), tick
        for name, (step, best, med, n) in want.items():
            assert got[name] == (
                f"at step {step} the best acc so far {best:.6g} is below the median "
                f"{med:.6g} of {n} completed trials' running averages"
            )
            h.finish(name, TrialCondition.EARLY_STOPPED)
            stopped += 1
    assert stopped > 50


def test_the_best_so_far_is_the_trials_exact_summary() -> None:
    """A thinned curve may have lost its best point; the trial's summary has it."""
    from tunery.model import MetricSummary

    h = History()
    for name in "abc":
        h.done(name, flat(0.7))
    h.running("r", [(1, 0.5), (5, 0.6)])
    stopper = MedianStop(spec_of())
    assert "r" in h.decide(stopper)
    t = h.trials["r"]
    h.trials["r"] = Trial(
        t.name,
        t.experiment,
        t.index,
        {},
        status=t.status,
        metrics={METRIC: MetricSummary(0.1, 0.8, 0.6)},
    )
    assert h.decide(MedianStop(spec_of())) == {}


def test_thousands_of_completed_trials_give_no_false_stops() -> None:
    """Correctness at scale; the cost is measured by benchmarks, not asserted here."""
    h = History()
    for i in range(3000):
        h.done(f"t{i}", flat((i % 97) / 97, steps=30))
    stopper = MedianStop(spec_of())
    for r in range(8):
        h.running(f"r{r}", flat(0.9, steps=4))
    h.decide(stopper)  # builds the caches
    for tick in range(200):
        for r in range(8):
            h.extend(f"r{r}", [(5 + tick % 25, 0.9)])
        assert h.decide(stopper) == {}


# --------------------------------------------------------------------------- real experiments

#: A learning curve of 12 steps: score = x * (1 - 0.8**step); high x learns to a high score.
CURVE = """
import os, sys, time
x = float(sys.argv[1].split("=", 1)[1])
log = os.environ.get("RAN_LOG")
if log:
    with open(log, "a") as fh:
        fh.write(os.environ["TUNERY_TRIAL_NAME"] + "\\n")
for step in range(1, {steps} + 1):
    time.sleep({sleep})
    print(f"step={{step}} score={{x * (1 - 0.8 ** step):.6f}}", flush=True)
"""

GOOD = ["1.0", "0.95", "0.9"]
BAD = ["0.1", "0.2", "0.15", "0.3", "0.05"]
REASON = re.compile(
    r"^at step (\d+) the best score so far \S+ is below the median \S+ of (\d+) completed "
    r"trials' running averages$"
)


def median_doc(
    name: str,
    *,
    steps: int,
    sleep: float,
    values: list[str],
    start_step: int,
    min_trials: int,
    parallel: int,
) -> dict[str, Any]:
    # Grid walks the categorical list in order: the good trials run first and complete.
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
                "algorithmName": "medianstop",
                "algorithmSettings": [
                    {"name": "min_trials_required", "value": str(min_trials)},
                    {"name": "start_step", "value": str(start_step)},
                ],
            }
        },
    )


@pytest.mark.integration
def test_controller_stops_bad_trials_after_start_step(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        doc = median_doc(
            "median",
            steps=10,
            sleep=0.05,
            values=[*GOOD, *BAD],
            start_step=3,
            min_trials=2,
            parallel=3,
        )
        create(store, doc, tmp_path)
        Controller(store, "median", LocalExecutor(), poll_interval=0.02).run()
        exp = store.get_experiment("median")
        assert exp.status is ExperimentCondition.SUCCEEDED
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
        trials = store.list_trials("median")
        assert len(trials) == len(GOOD) + len(BAD)
        for t in trials:
            x = float(t.parameters["x"])
            obs = store.get_observations("median", t.name, "score")
            values = [o.value for o in obs if o.value is not None]
            assert t.objective == pytest.approx(max(values))  # strategy max, stopped or not
            if str(t.parameters["x"]) in GOOD:
                assert t.status is TrialCondition.SUCCEEDED, (t.reason, t.message)
                assert [o.step for o in obs] == list(range(1, 11))
                continue
            assert t.status is TrialCondition.EARLY_STOPPED, (x, t.status, t.message)
            assert t.reason == "TrialEarlyStopped"
            m = REASON.match(t.message or "")
            assert m, t.message
            assert int(m.group(1)) >= 3 and int(m.group(2)) >= 2
            assert max(o.step for o in obs) >= 3, "stopped before start_step"
            assert max(o.step for o in obs) < 10, "it ran to the end"
    finally:
        store.close()


@pytest.mark.integration
def test_kill_9_controller_then_resume_with_early_stopping(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    values = [*GOOD, *BAD, "0.12", "0.25", "0.08"]
    doc = median_doc(
        "median9",
        steps=20,
        sleep=0.08,
        values=values,
        start_step=3,
        min_trials=2,
        parallel=3,
    )
    path = write_yaml(tmp_path / "exp.yaml", doc)
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db"), "RAN_LOG": str(ran)}
    kill_9_runs(path, tmp_path, env, ran, (1.2, 0.8, 0.8))
    got = json.loads(tunery_ok("resume", "median9", "--json", cwd=tmp_path, env=env).stdout)
    assert got["status"] == "Succeeded" and got["reason"] == "ExperimentMaxTrialsReached"
    trials = json.loads(tunery_ok("trials", "median9", "--json", cwd=tmp_path, env=env).stdout)
    assert len(trials) == len(values)
    started = ran.read_text().split()
    assert sorted(started) == sorted(t["name"] for t in trials), "a trial ran twice or not at all"
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        stopped = 0
        for t in store.list_trials("median9"):
            good = str(t.parameters["x"]) in GOOD
            allowed = {TrialCondition.SUCCEEDED} | (
                set() if good else {TrialCondition.EARLY_STOPPED}
            )
            assert t.status in allowed, (t.parameters, t.status, t.message)
            if t.status is TrialCondition.EARLY_STOPPED:
                stopped += 1
                assert t.reason == "TrialEarlyStopped" and REASON.match(t.message or "")
                steps = [o.step for o in store.get_observations("median9", t.name, "score")]
                assert max(steps) >= 3
        # A bad trial that ran mostly while no controller was up may have finished (and then
        # counts in the median); the trials of the resumed run are judged for sure.
        assert stopped >= 1
    finally:
        store.close()


# --------------------------------------------------------------------------- several objectives

LAT = "lat"


def mo_spec(
    settings: Mapping[str, str] | None = None, *, latency: ObjectiveType = ObjectiveType.MINIMIZE
) -> ExperimentSpec:
    """``spec_of`` with two objectives: accuracy up, latency down (or up, if so asked)."""
    spec = spec_of(settings)
    terms = (
        ObjectiveTerm(METRIC, ObjectiveType.MAXIMIZE, None, MetricStrategyType.MAX),
        ObjectiveTerm(LAT, latency, None, MetricStrategyType.MIN),
    )
    return replace(spec, objective=replace(spec.objective, terms=terms))


class MoHistory:
    """Hand-built trials with curves of both metrics."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        self.trials: dict[str, Trial] = {}
        self.curves: dict[str, dict[str, list[Observation]]] = {METRIC: {}, LAT: {}}

    def add(self, name: str, status: TrialCondition, acc: Curve = (), lat: Curve = ()) -> None:
        self.trials[name] = Trial(name, "median", len(self.trials), {"x": 0.5}, status=status)
        self.extend(name, acc, lat)

    def done(self, name: str, acc: Curve = (), lat: Curve = ()) -> None:
        self.add(name, TrialCondition.SUCCEEDED, acc, lat)

    def running(self, name: str, acc: Curve = (), lat: Curve = ()) -> None:
        self.add(name, TrialCondition.RUNNING, acc, lat)

    def extend(self, name: str, acc: Curve = (), lat: Curve = ()) -> None:
        for metric, points in ((METRIC, acc), (LAT, lat)):
            curve = self.curves[metric].setdefault(name, [])
            curve.extend(Observation(name, metric, v, s) for s, v in points)

    def finish(self, name: str, status: TrialCondition = TrialCondition.SUCCEEDED) -> None:
        trial = self.trials[name]
        self.trials[name] = replace(trial, status=status)

    def decide(self, stopper: Any) -> dict[str, str]:
        history = TrialHistory.from_spec(self.spec, self.trials.values(), metric_curves=self.curves)
        decisions: dict[str, str] = stopper.decide(history)
        return decisions


def test_one_objective_keeps_katibs_rule_and_several_get_the_pareto_one() -> None:
    assert type(create_stopper(spec_of())) is MedianStop
    stopper = create_stopper(mo_spec({"min_trials_required": "2"}))
    assert isinstance(stopper, ParetoMedianStop)
    assert [(p.metric, p.maximize) for p in stopper.parts] == [(METRIC, True), (LAT, False)]
    assert stopper.settings == MedianStopSettings(2, DEFAULT_START_STEP)


def completed_three(h: MoHistory) -> None:
    """Medians at every step: accuracy 0.74, latency 20."""
    h.done("a", flat(0.7), flat(30.0))
    h.done("b", flat(0.74), flat(20.0))
    h.done("c", flat(0.9), flat(10.0))


def test_stopped_only_when_worse_than_the_median_on_every_objective() -> None:
    h = MoHistory(mo_spec())
    completed_three(h)
    h.running("bad", [(1, 0.1), (2, 0.61), (3, 0.5), (4, 0.3), (5, 0.2)], flat(25.0, 5))
    h.running("fast", flat(0.5, 5), flat(5.0, 5))  # worse accuracy, better latency
    h.running("accurate", flat(0.8, 5), flat(40.0, 5))  # better accuracy, worse latency
    assert h.decide(create_stopper(h.spec)) == {
        "bad": "at step 5 the best so far of every objective compared is worse than the median "
        "of the completed trials' running averages: acc 0.61 < 0.74 (3 trials), "
        "lat 25 > 20 (3 trials)"
    }


def test_the_direction_of_each_objective_is_its_own() -> None:
    h = MoHistory(mo_spec(latency=ObjectiveType.MAXIMIZE))  # "lat" as a throughput
    completed_three(h)
    h.running("slow", flat(0.5, 5), flat(5.0, 5))
    got = h.decide(create_stopper(h.spec))
    assert list(got) == ["slow"] and "lat 5 < 20 (3 trials)" in got["slow"]


def test_a_tie_on_one_objective_keeps_the_trial() -> None:
    h = MoHistory(mo_spec())
    completed_three(h)
    h.running("even", flat(0.74, 5), flat(99.0, 5))
    assert h.decide(create_stopper(h.spec)) == {}


def test_a_trial_reporting_only_some_objectives_is_compared_on_those() -> None:
    h = MoHistory(mo_spec())
    completed_three(h)
    h.running("acc-only", flat(0.6, 5))
    h.running("lat-only", (), flat(50.0, 5))
    h.running("acc-good", flat(0.8, 5))
    got = h.decide(create_stopper(h.spec))
    assert set(got) == {"acc-only", "lat-only"}
    assert got["acc-only"].endswith("running averages: acc 0.6 < 0.74 (3 trials)")
    assert got["lat-only"].endswith("running averages: lat 50 > 20 (3 trials)")


def test_an_objective_the_completed_trials_report_at_the_end_only_is_not_compared() -> None:
    h = MoHistory(mo_spec())
    for name, acc, lat in (("a", 0.7, 30.0), ("b", 0.74, 20.0), ("c", 0.9, 10.0)):
        h.done(name, flat(acc), [(10, lat)])
    h.running("fast", flat(0.6, 5), [(5, 1.0)])  # great latency, but nothing to compare it with
    h.running("accurate", flat(0.8, 5), [(5, 500.0)])
    got = h.decide(create_stopper(h.spec))
    assert list(got) == ["fast"] and got["fast"].endswith("acc 0.6 < 0.74 (3 trials)")


def test_too_few_completed_values_of_one_objective_leave_it_out() -> None:
    h = MoHistory(mo_spec({"min_trials_required": "3"}))
    h.done("a", flat(0.7), flat(30.0))
    h.done("b", flat(0.74))
    h.done("c", flat(0.9))
    h.running("r", flat(0.6, 5), flat(1.0, 5))  # latency: 1 completed value, not compared
    got = h.decide(create_stopper(h.spec))
    assert list(got) == ["r"] and got["r"].endswith("acc 0.6 < 0.74 (3 trials)")


def test_the_latest_step_is_the_largest_of_any_objective_and_start_step_holds() -> None:
    h = MoHistory(mo_spec())
    completed_three(h)
    h.running("r", flat(0.1, 3), flat(90.0, 3))
    stopper = create_stopper(h.spec)
    assert h.decide(stopper) == {}  # step 3 < start_step 4
    h.extend("r", (), [(4, 95.0)])
    got = h.decide(stopper)
    assert list(got) == ["r"] and got["r"].startswith("at step 4 ")


def _mo_reference(
    h: MoHistory, settings: MedianStopSettings
) -> dict[str, list[tuple[str, float, float, int]]]:
    """The rule written naively, from the curves."""
    out: dict[str, list[tuple[str, float, float, int]]] = {}
    done = (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)

    def finite(curve: Sequence[Observation]) -> list[float]:
        return [o.value for o in curve if o.value is not None and math.isfinite(o.value)]

    for trial in h.trials.values():
        if trial.status is not TrialCondition.RUNNING:
            continue
        reported = [o.step for m in (METRIC, LAT) for o in h.curves[m].get(trial.name, [])]
        if not reported or max(reported) < settings.start_step:
            continue
        step = max(reported)
        compared = []
        for metric, maximize in ((METRIC, True), (LAT, False)):
            values = finite(h.curves[metric].get(trial.name, []))
            if not values:
                continue
            best = max(values) if maximize else min(values)
            averages = []
            for other in h.trials.values():
                oc = h.curves[metric].get(other.name, [])
                if other.status not in done or not oc or max(o.step for o in oc) < step:
                    continue
                upto = finite([o for o in oc if o.step <= step])
                if upto:
                    averages.append(sum(upto) / len(upto))
            if len(averages) < settings.min_trials_required:
                continue
            med = statistics.median(averages)
            compared.append(
                (metric, best, med, len(averages), best < med if maximize else best > med)
            )
        if compared and all(c[4] for c in compared):
            out[trial.name] = [c[:4] for c in compared]
    return out


def test_mo_caches_agree_with_a_naive_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(median_module, "MAX_CACHED_STEPS", 3)  # exercise eviction too
    rng = random.Random(11)
    h = MoHistory(mo_spec({"min_trials_required": "2", "start_step": "2"}))
    stopper = create_stopper(h.spec)
    steps: dict[str, int] = {}
    stops = 0
    for tick in range(120):
        if rng.random() < 0.3:
            name = f"t{tick}"
            h.running(name)
            steps[name] = 0
        for name in [n for n, t in h.trials.items() if t.status is TrialCondition.RUNNING]:
            if rng.random() < 0.1:
                h.finish(name)
                continue
            for _ in range(rng.randint(0, 2)):
                steps[name] += 1
                acc = rng.choice([rng.random(), rng.random(), math.nan, None])
                lat = [(steps[name], rng.random())] if rng.random() < 0.7 else []
                h.extend(name, [(steps[name], acc)], lat)
        want = _mo_reference(h, stopper.settings)
        got = h.decide(stopper)
        assert set(got) == set(want), tick
        for name, compared in want.items():
            shown = ", ".join(
                f"{m} {best:.6g} {'<' if m == METRIC else '>'} {med:.6g} ({n} trials)"
                for m, best, med, n in compared
            )
            assert got[name].endswith(f"running averages: {shown}"), (got[name], shown)
        for name in got:
            h.finish(name, TrialCondition.EARLY_STOPPED)
            stops += 1
    assert stops > 0
