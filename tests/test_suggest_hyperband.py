"""Katib's ``hyperband``: settings, schedule, promotions, resume, and real experiments."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import create, kill_9_runs, native_doc, tunery_ok, write_yaml
from tunery.controller import Controller
from tunery.errors import SpecError
from tunery.execute.local import LocalExecutor
from tunery.history import History
from tunery.model import (
    Assignment,
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    ObjectiveType,
    ParamValue,
    Trial,
    TrialCondition,
)
from tunery.spec import parse_document
from tunery.storage import Store
from tunery.suggest import create_suggester
from tunery.suggest.hyperband import (
    BRACKET_LABEL,
    RUNG_LABEL,
    Hyperband,
    HyperbandSettings,
    parse_settings,
)
from tunery.testing.suggest import (
    categorical_param,
    double_param,
    int_param,
    make_spec,
    make_trials,
)


def spec_of(
    settings: Mapping[str, str] | None = None,
    *,
    resource: Any = None,
    objective: ObjectiveType = ObjectiveType.MINIMIZE,
) -> Any:
    params = [
        double_param("lr", "0.001", "0.1", distribution="logUniform"),
        categorical_param("opt", ["sgd", "adam"]),
        resource if resource is not None else int_param("epochs", "1", "1"),
    ]
    return make_spec(
        params,
        "hyperband",
        settings if settings is not None else {"resource_name": "epochs", "r_l": "9"},
        objective_type=objective,
    )


# --------------------------------------------------------------------------- settings


def test_katibs_schedule() -> None:
    s = HyperbandSettings("epochs", 9.0, 3)
    assert s.s_max == 2
    assert s.schedule() == [
        (2, [9, 3, 1], [1.0, 3.0, 9.0]),
        (1, [5, 2], [3.0, 9.0]),
        (0, [3], [9.0]),
    ]
    # Katib's published example: r_l 2, eta 2.
    assert HyperbandSettings("e", 2.0, 2).schedule() == [(1, [2, 1], [1.0, 2.0]), (0, [2], [2.0])]
    assert HyperbandSettings("e", 81.0, 3).s_max == 4  # no floating-point off-by-one


def test_settings_defaults_and_katib_quirks() -> None:
    assert parse_settings(spec_of()) == HyperbandSettings("epochs", 9.0, 3)
    assert parse_settings(spec_of({"resource_name": "epochs", "r_l": "9", "eta": "0"})).eta == 3
    assert parse_settings(spec_of({"resource_name": "epochs", "r_l": "8", "eta": "2.0"})).eta == 2


@pytest.mark.parametrize(
    ("settings", "path", "match"),
    [
        ({"r_l": "9"}, "spec.algorithm.algorithmSettings", "r_l and resource_name must be set"),
        ({"resource_name": "epochs"}, "spec.algorithm.algorithmSettings", "must be set"),
        ({"resource_name": "epochs", "r_l": "-1"}, "[1]", "r_l must be a positive number"),
        ({"resource_name": "epochs", "r_l": "x"}, "[1]", "r_l must be a positive number"),
        ({"resource_name": "epochs", "r_l": "9", "eta": "1"}, "[2]", "eta must be at least 2"),
        ({"resource_name": "epochs", "r_l": "9", "eta": "z"}, "[2]", "eta must be an integer"),
        ({"resource_name": "nope", "r_l": "9"}, "[0]", "must be in parameters"),
        ({"resource_name": "opt", "r_l": "9"}, "[0]", "must be int or double"),
        ({"resource_name": "epochs", "r_l": "9", "n": "3"}, "[2]", "unknown setting n"),
        ({"resource_name": "epochs", "r_l": "9", "random_state": "-2"}, "[2]", "random_state"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, str], path: str, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        create_suggester(spec_of(settings), 0)
    assert info.value.path.endswith(path), info.value.path
    assert info.value.hint


def test_the_resource_alone_is_not_a_search() -> None:
    spec = make_spec(
        [int_param("epochs", "1", "1")], "hyperband", {"resource_name": "epochs", "r_l": "9"}
    )
    with pytest.raises(SpecError, match="at least one parameter besides"):
        create_suggester(spec, 0)


def test_katibs_published_example_runs() -> None:
    doc: dict[str, Any] = {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "hyperband", "namespace": "kubeflow"},
        "spec": {
            "parallelTrialCount": 2,
            "maxTrialCount": 2,
            "objective": {"type": "minimize", "goal": 0.001, "objectiveMetricName": "loss"},
            "algorithm": {
                "algorithmName": "hyperband",
                "algorithmSettings": [
                    {"name": "resource_name", "value": "num-epochs"},
                    {"name": "eta", "value": "2"},
                    {"name": "r_l", "value": "2"},
                ],
            },
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.01", "max": "0.05"},
                },
                {
                    "name": "num-epochs",
                    "parameterType": "int",
                    "feasibleSpace": {"min": "1", "max": "1"},
                },
            ],
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": [
                    {"name": "learningRate", "reference": "lr"},
                    {"name": "numberEpochs", "reference": "num-epochs"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "training-container",
                                        "image": "x",
                                        "command": [
                                            "python3",
                                            "--epochs=${trialParameters.numberEpochs}",
                                            "--lr=${trialParameters.learningRate}",
                                        ],
                                    }
                                ],
                                "restartPolicy": "Never",
                            }
                        }
                    },
                },
            },
        },
    }
    spec = parse_document(doc)
    got = create_suggester(spec, 0).suggest(History.from_spec(spec, []), 2)
    assert [a.parameters["num-epochs"] for a in got] == [1, 1]


# --------------------------------------------------------------------------- the schedule


def loss(params: Mapping[str, ParamValue]) -> float:
    """Lower with more epochs; adam beats sgd; the best lr is 0.01."""
    lr = float(params["lr"])
    epochs = float(params.get("epochs", params.get("budget", 1)))
    return abs(lr - 0.01) * 10 + (0.0 if params["opt"] == "adam" else 0.3) + 1.0 / epochs


def finish(trial: Trial, status: TrialCondition = TrialCondition.SUCCEEDED) -> Trial:
    value = loss(trial.parameters) if status is TrialCondition.SUCCEEDED else None
    return Trial(
        trial.name,
        trial.experiment,
        trial.index,
        trial.parameters,
        status=status,
        labels=trial.labels,
        objective=value,
    )


def drive(
    suggester: Hyperband,
    spec: ExperimentSpec,
    history: list[Trial],
    count: int,
    rounds: int = 200,
) -> list[list[Assignment]]:
    """Ask for ``count`` at a time; finish everything running before each call."""
    batches = []
    for _ in range(rounds):
        history[:] = [finish(t) if t.status is TrialCondition.RUNNING else t for t in history]
        batch = suggester.suggest(History.from_spec(spec, history), count)
        if not batch:
            break
        batches.append(batch)
        start = max((t.index for t in history), default=0) + 1
        history += make_trials(batch, start=start, status=TrialCondition.RUNNING)
    return batches


def test_a_whole_run_follows_the_schedule_and_promotes_the_best() -> None:
    history: list[Trial] = []
    drive(Hyperband(spec_of(), 3), spec_of(), history, count=4)
    assert len(history) == 9 + 3 + 1 + 5 + 2 + 3
    places = Counter((t.labels[BRACKET_LABEL], t.labels[RUNG_LABEL]) for t in history)
    assert places == {
        ("2", "0"): 9,
        ("2", "1"): 3,
        ("2", "2"): 1,
        ("1", "0"): 5,
        ("1", "1"): 2,
        ("0", "0"): 3,
    }
    epochs = {
        (t.labels[BRACKET_LABEL], t.labels[RUNG_LABEL]): t.parameters["epochs"] for t in history
    }
    assert epochs[("2", "0")] == 1 and epochs[("2", "1")] == 3 and epochs[("2", "2")] == 9
    assert epochs[("1", "0")] == 3 and epochs[("1", "1")] == 9 and epochs[("0", "0")] == 9

    def rung(s: str, i: str) -> list[Trial]:
        return [t for t in history if (t.labels[BRACKET_LABEL], t.labels[RUNG_LABEL]) == (s, i)]

    def config(t: Trial) -> tuple[Any, Any]:
        return (t.parameters["lr"], t.parameters["opt"])

    best3 = sorted(rung("2", "0"), key=lambda t: t.objective or 0)[:3]
    assert {config(t) for t in rung("2", "1")} == {config(t) for t in best3}
    best1 = min(rung("2", "1"), key=lambda t: t.objective or 0)
    assert [config(t) for t in rung("2", "2")] == [config(best1)]
    # Random configurations never repeat an earlier bracket's.
    starts = [config(t) for t in history if t.labels[RUNG_LABEL] == "0"]
    assert len(starts) == len(set(starts)) == 9 + 5 + 3


def test_a_rung_waits_for_the_one_before_and_hands_out_as_slots_free() -> None:
    spec = spec_of()
    hb = Hyperband(spec, 1)
    first = hb.suggest(History.from_spec(spec, []), 2)
    assert len(first) == 2 and {a.labels[RUNG_LABEL] for a in first} == {"0"}
    history = make_trials(first, status=TrialCondition.RUNNING)
    more = hb.suggest(History.from_spec(spec, history), 20)
    assert len(more) == 7  # the rest of rung 0, never past it
    history += make_trials(more, start=3, status=TrialCondition.RUNNING)
    history = [finish(t) for t in history[:8]] + history[8:]
    assert hb.suggest(History.from_spec(spec, history), 5) == []  # one rung-0 trial still runs
    history[8] = finish(history[8])
    promoted = hb.suggest(History.from_spec(spec, history), 5)
    assert len(promoted) == 3 and {a.labels[RUNG_LABEL] for a in promoted} == {"1"}
    assert hb.dump_state() == {
        "s_max": 2,
        "eta": 3,
        "bracket": 2,
        "rung": 1,
        "resource": 3,
        "rung_size": 3,
        "handed_out": 0,
    }


def test_failed_trials_are_never_promoted_and_maximize_ranks_the_other_way() -> None:
    spec = spec_of(objective=ObjectiveType.MAXIMIZE)
    hb = Hyperband(spec, 5)
    rung0 = make_trials(hb.suggest(History.from_spec(spec, []), 9), status=TrialCondition.RUNNING)
    done = [finish(t) for t in rung0]
    done[0] = finish(rung0[0], TrialCondition.FAILED)
    worst_first = sorted(done[1:], key=lambda t: -(t.objective or 0))
    promoted = hb.suggest(History.from_spec(spec, done), 9)
    got = {(a.parameters["lr"], a.parameters["opt"]) for a in promoted}
    assert got == {(t.parameters["lr"], t.parameters["opt"]) for t in worst_first[:3]}


def test_resume_without_saved_state_continues_the_same_brackets() -> None:
    # An uninterrupted run, and one whose suggester is replaced (no state) after every call.
    whole: list[Trial] = []
    drive(Hyperband(spec_of(), 11), spec_of(), whole, count=2)
    pieces: list[Trial] = []
    for _ in range(100):
        pieces[:] = [finish(t) if t.status is TrialCondition.RUNNING else t for t in pieces]
        spec = spec_of()
        batch = Hyperband(spec, 11).suggest(History.from_spec(spec, pieces), 2)
        if not batch:
            break
        pieces += make_trials(batch, start=len(pieces) + 1, status=TrialCondition.RUNNING)
    assert [t.parameters for t in pieces] == [t.parameters for t in whole]


def test_a_crash_after_creating_trials_repeats_nothing() -> None:
    spec = spec_of()
    hb = Hyperband(spec, 4)
    created = make_trials(hb.suggest(History.from_spec(spec, []), 4), status=TrialCondition.RUNNING)
    # The controller died before saving the state: a new suggester sees the trials only.
    rest = Hyperband(spec_of(), 4).suggest(History.from_spec(spec, created), 9)
    assert len(rest) == 5
    seen = {(t.parameters["lr"], t.parameters["opt"]) for t in created}
    assert not seen & {(a.parameters["lr"], a.parameters["opt"]) for a in rest}


def test_double_resource_and_the_end() -> None:
    spec = spec_of(
        {"resource_name": "budget", "r_l": "4", "eta": "2"},
        resource=double_param("budget", "0", "1"),
    )
    history: list[Trial] = []
    hb = Hyperband(spec, 0)
    drive(hb, spec, history, count=10)
    budgets = sorted({float(t.parameters["budget"]) for t in history})
    assert budgets == [1.0, 2.0, 4.0]
    assert hb.suggest(History.from_spec(spec, history), 3) == [] and hb.dump_state() == {
        "finished": True,
        "s_max": 2,
    }


# --------------------------------------------------------------------------- real experiments

TRAIN = """
import os, sys, time
args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:])
log = os.environ.get("RAN_LOG")
if log:
    with open(log, "a") as fh:
        fh.write(os.environ["TUNERY_TRIAL_NAME"] + "\\n")
x = float(args["x"])
for epoch in range(1, int(args["epochs"]) + 1):
    time.sleep({sleep})
    print(f"epoch={{epoch}} loss={{(x - 0.3) ** 2 + 1.0 / epoch:.6f}}", flush=True)
"""


def hyperband_doc(name: str, *, sleep: float, parallel: int, max_trials: int) -> Any:
    return native_doc(
        name,
        TRAIN.format(sleep=sleep),
        parameters=[
            {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}},
            {"name": "epochs", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "1"}},
        ],
        objective={"type": "minimize", "objectiveMetricName": "loss"},
        algorithm="hyperband",
        parallel=parallel,
        max_trials=max_trials,
        extra_spec={
            "algorithm": {
                "algorithmName": "hyperband",
                "algorithmSettings": [
                    {"name": "resource_name", "value": "epochs"},
                    {"name": "r_l", "value": "4"},
                    {"name": "eta", "value": "2"},
                ],
            }
        },
    )


#: r_l 4, eta 2: bracket 2 (4 at 1 epoch, 2 at 2, 1 at 4), bracket 1 (3 at 2, 2 at 4),
#: bracket 0 (3 at 4): 15 trials.
SCHEDULE = {
    ("2", "0"): 4,
    ("2", "1"): 2,
    ("2", "2"): 1,
    ("1", "0"): 3,
    ("1", "1"): 2,
    ("0", "0"): 3,
}


def _check_run(trials: Sequence[Trial], store: Store, name: str) -> None:
    places = Counter((t.labels[BRACKET_LABEL], t.labels[RUNG_LABEL]) for t in trials)
    assert places == SCHEDULE
    for t in trials:
        assert t.status is TrialCondition.SUCCEEDED, (t.name, t.status, t.message)
        epochs = int(t.parameters["epochs"])
        steps = [o.step for o in store.get_observations(name, t.name, "loss")]
        assert steps == list(range(1, epochs + 1))
    rung = [t for t in trials if (t.labels[BRACKET_LABEL], t.labels[RUNG_LABEL]) == ("2", "0")]
    promoted = [t for t in trials if (t.labels[BRACKET_LABEL], t.labels[RUNG_LABEL]) == ("2", "1")]
    best = sorted(rung, key=lambda t: t.objective or 0)[:2]
    assert {t.parameters["x"] for t in promoted} == {t.parameters["x"] for t in best}


@pytest.mark.integration
def test_controller_runs_the_brackets_with_real_trials(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        create(store, hyperband_doc("hb", sleep=0.02, parallel=3, max_trials=50), tmp_path)
        Controller(store, "hb", LocalExecutor(), poll_interval=0.02).run()
        exp = store.get_experiment("hb")
        assert exp.status is ExperimentCondition.SUCCEEDED
        assert exp.reason == ExperimentReason.SUGGESTION_END_REACHED
        trials = store.list_trials("hb")
        _check_run(trials, store, "hb")
        state = store.load_algorithm_state("hb")
        assert state == {"finished": True, "s_max": 2}
    finally:
        store.close()


@pytest.mark.integration
def test_kill_9_controller_then_resume_with_hyperband(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    doc = hyperband_doc("hb9", sleep=0.15, parallel=2, max_trials=50)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db"), "RAN_LOG": str(ran)}
    kill_9_runs(path, tmp_path, env, ran, (0.5, 0.9, 0.6))
    got = json.loads(tunery_ok("resume", "hb9", "--json", cwd=tmp_path, env=env).stdout)
    assert got["status"] == "Succeeded"
    assert got["reason"] == "ExperimentSuggestionEndReached"
    table = tunery_ok("trials", "hb9", cwd=tmp_path, env={**env, "COLUMNS": "200"}).stdout
    assert "bracket" in table and "rung" in table
    started = ran.read_text().split()
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        trials = store.list_trials("hb9")
        assert sorted(started) == sorted(t.name for t in trials), "a trial ran twice or not at all"
        _check_run(trials, store, "hb9")
    finally:
        store.close()


def test_the_resource_may_not_be_conditional_nor_decide_a_condition() -> None:
    from tunery.model import ParameterSpec
    from tunery.suggest import create_suggester
    from tunery.testing.suggest import categorical_param, int_param, make_spec

    settings = {"resource_name": "epochs", "r_l": "9", "eta": "3"}
    model = categorical_param("model", ["a", "b"])
    epochs = int_param("epochs", "1", "9")
    conditional = ParameterSpec(
        epochs.name, epochs.parameter_type, epochs.feasible_space, (("model", ("a",)),)
    )
    x = int_param("x", "1", "3")
    decided = ParameterSpec(x.name, x.parameter_type, x.feasible_space, (("epochs", ("3",)),))
    for params, message in (
        ([model, conditional], "is conditional"),
        ([model, epochs, decided], "decides 'x'"),
    ):
        with pytest.raises(SpecError, match=message) as info:
            create_suggester(make_spec(params, "hyperband", settings))
        assert info.value.path.startswith("spec.algorithm.algorithmSettings")
