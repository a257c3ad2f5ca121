"""The Python SDK: tune() with real trial processes, and Client."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunery
from tunery.errors import UserInputError
from tunery.model import TrialCondition

REPO = Path(__file__).resolve().parents[1]


def quadratic(parameters: dict) -> None:  # type: ignore[type-arg]
    """Reports through tunery.report, with a step."""
    import tunery as t

    x = parameters["x"]
    for step in range(3):
        t.report(loss=(x - 0.3) ** 2 + 1.0 / (step + 1), step=step)


def returns_value(parameters: dict) -> float:  # type: ignore[type-arg]
    return parameters["x"] * parameters["scale"] + (1 if parameters["mode"] == "b" else 0)


def prints_or_fails(parameters: dict) -> None:  # type: ignore[type-arg]
    if parameters["x"] > 0.5:
        raise RuntimeError("diverged")
    print(f"score={parameters['x']}")


def score_is_x(parameters: dict) -> float:  # type: ignore[type-arg]
    return float(parameters["x"])


def needs_a_missing_module(parameters: dict) -> None:  # type: ignore[type-arg]
    print(f"score={parameters['x']}")
    import tunery_test_module_that_is_not_installed  # noqa: F401


@pytest.fixture
def in_tmp(tmp_path: Path) -> Path:
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def test_tune_with_report_and_resume_by_name(in_tmp: Path) -> None:
    db = str(in_tmp / "t.db")
    space = {"x": tunery.search.double(0, 1)}
    exp = tunery.tune(
        quadratic,
        space,
        "loss",
        "minimize",
        algorithm="random",
        max_trial_count=4,
        parallel_trial_count=2,
        name="quad",
        storage=db,
    )
    exp.wait(timeout=120)
    assert exp.status == "Succeeded"
    trials = exp.trials
    assert len(trials) == 4 and all(t.status is TrialCondition.SUCCEEDED for t in trials)
    best = exp.best_trial
    assert best is not None
    assert best.objective == pytest.approx(min(t.objective for t in trials))  # type: ignore[type-var]
    assert best.objective == pytest.approx((best.parameters["x"] - 0.3) ** 2 + 1 / 3)
    steps = [o.step for o in exp.client.store.get_observations("quad", best.name)]
    assert steps == [0, 1, 2]
    # Same code and settings, same name: the finished experiment is returned, nothing re-runs.
    again = tunery.tune(
        quadratic,
        space,
        "loss",
        "minimize",
        algorithm="random",
        max_trial_count=4,
        parallel_trial_count=2,
        name="quad",
        storage=db,
    ).wait()
    assert [t.name for t in again.trials] == [t.name for t in trials]
    with pytest.raises(UserInputError, match="already exists"):
        tunery.tune(
            returns_value, space, "loss", "minimize", algorithm="random", name="quad", storage=db
        )
    opt = tunery.Client(db).get_optimal_hyperparameters("quad")
    assert opt is not None and opt["trial"] == best.name and opt["parameters"] == best.parameters


def test_tune_with_a_larger_max_trial_count_extends_the_same_search(in_tmp: Path) -> None:
    import warnings

    db = str(in_tmp / "t.db")
    space = {"x": tunery.search.double(0, 1)}

    def again(**budget: object) -> tunery.ExperimentHandle:
        settings: dict[str, object] = {"max_trial_count": 2, "parallel_trial_count": 1}
        settings.update(budget)
        return tunery.tune(
            score_is_x, space, "score", "maximize", algorithm="sobol", storage=db, **settings
        ).wait(timeout=120)  # type: ignore[arg-type]

    first = again()
    old = first.trials
    assert first.status == "Succeeded" and len(old) == 2
    state = first.client.store.load_algorithm_state(first.name)
    assert state == {"drawn": 2}
    more = again(max_trial_count=4, parallel_trial_count=2)  # not a new experiment: more trials
    assert more.name == first.name and more.status == "Succeeded"
    trials = more.trials
    assert [t.index for t in trials] == [1, 2, 3, 4]
    assert [t.parameters for t in trials[:2]] == [t.parameters for t in old]
    assert {t.parameters["x"] for t in trials[2:]}.isdisjoint(t.parameters["x"] for t in trials[:2])
    assert more.client.store.load_algorithm_state(more.name) == {"drawn": 4}  # the same sequence
    spec = more.experiment.spec
    assert (spec.max_trial_count, spec.parallel_trial_count) == (4, 2)
    assert more.experiment.spec.resume_policy.value == "Never"  # tune()'s default: no matter
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fewer = again(max_trial_count=3)  # fewer than it has: shown as it is, quietly
    assert len(fewer.trials) == 4 and fewer.experiment.spec.max_trial_count == 4


def test_tune_goes_on_after_a_goal_only_under_another_goal(in_tmp: Path) -> None:
    db = str(in_tmp / "t.db")
    space = {"x": tunery.search.double(0, 1)}

    def again(max_trial_count: int, goal: float | None) -> tunery.ExperimentHandle:
        return tunery.tune(
            score_is_x,
            space,
            "score",
            "maximize",
            algorithm="random",
            max_trial_count=max_trial_count,
            parallel_trial_count=1,
            goal=goal,
            storage=db,
        ).wait(timeout=120)

    reached = again(5, goal=0.0)  # every score reaches it: the first trial ends it
    assert reached.experiment.reason == "ExperimentGoalReached" and len(reached.trials) == 1
    with pytest.warns(tunery.ExtensionRefusedWarning, match="reached its goal"):
        refused = again(6, goal=0.0)
    assert refused.experiment.reason == "ExperimentGoalReached" and len(refused.trials) == 1
    assert refused.experiment.spec.max_trial_count == 5  # nothing stored changed
    gone_on = again(3, goal=None)
    assert gone_on.name == reached.name and len(gone_on.trials) == 3
    assert gone_on.experiment.reason == "ExperimentMaxTrialsReached"
    assert gone_on.experiment.spec.objective.goal is None


def test_tune_return_value_fixed_and_typed_parameters(in_tmp: Path) -> None:
    space = {
        "x": tunery.search.double(0, 1, step=0.25),
        "mode": tunery.search.categorical(["a", "b"]),
        "scale": 10,
    }
    exp = tunery.tune(
        returns_value,
        space,
        "value",
        algorithm="grid",
        max_trial_count=10,
        storage=str(in_tmp / "t.db"),
        wait=True,
    )
    assert exp.experiment.reason == "ExperimentMaxTrialsReached"
    values = sorted(t.objective for t in exp.trials)  # type: ignore[type-var]
    assert values == sorted(x * 10 + b for x in (0, 0.25, 0.5, 0.75, 1) for b in (0, 1))
    assert exp.name.startswith("returns-value-")


def test_failures_inside_the_function_become_failed_trials(in_tmp: Path) -> None:
    with pytest.warns(
        tunery.TrialsFailedWarning, match=r"1 of 3 trials failed; first failure: .*: diverged$"
    ):
        exp = tunery.tune(
            prints_or_fails,
            {"x": tunery.search.discrete([0.1, 0.2, 0.9])},
            "score",
            algorithm="grid",
            max_trial_count=3,
            storage=str(in_tmp / "t.db"),
            wait=True,
        )
    by_x = {t.parameters["x"]: t for t in exp.trials}
    assert by_x[0.9].status is TrialCondition.FAILED
    assert by_x[0.9].message == "exit code 1: RuntimeError: diverged"
    assert (
        "diverged"
        in (in_tmp / "tunery-runs" / exp.name / by_x[0.9].name / "output.log").read_text()
    )
    assert by_x[0.2].status is TrialCondition.SUCCEEDED and exp.best_trial.name == by_x[0.2].name  # type: ignore[union-attr]


def test_failed_trials_warn_on_wait_with_the_first_failure(in_tmp: Path) -> None:
    missing = "tunery_test_module_that_is_not_installed"
    why = f"exit code 1: ModuleNotFoundError: No module named '{missing}'"
    with pytest.warns(tunery.TrialsFailedWarning) as caught:
        exp = tunery.tune(
            needs_a_missing_module,
            {"x": tunery.search.discrete([0.1, 0.2])},
            "score",
            algorithm="grid",
            max_trial_count=2,
            storage=str(in_tmp / "t.db"),
            wait=True,
        )
    assert exp.status == "Succeeded"  # Katib's word: max trials reached
    first = min(exp.trials, key=lambda t: (t.completion_time or 0.0, t.index))
    assert [str(w.message) for w in caught] == [
        f"experiment {exp.name}: 2 of 2 trials failed, no trial succeeded; "
        f"first failure: {first.name}: {why}"
    ]
    assert {t.message for t in exp.trials} == {why}
    pytest.importorskip("pandas")
    frame = exp.trials_dataframe()
    assert list(frame["message"]) == [why, why] and list(frame["reason"]) == ["ExitCode"] * 2

    # Client.run_experiment of a file whose command names a missing script
    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "missing-script"},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "score"},
            "algorithm": {"algorithmName": "random"},
            "maxTrialCount": 1,
            "parallelTrialCount": 1,
            "parameters": [
                {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            ],
            "trialTemplate": {
                "command": [sys.executable, "no_train.py", "--x=${trialParameters.x}"]
            },
        },
    }
    client = tunery.Client(str(in_tmp / "t.db"))
    client.create_experiment(doc, base_dir=str(in_tmp))
    with pytest.warns(tunery.TrialsFailedWarning, match=r"1 of 1 trials failed.*no_train\.py"):
        client.run_experiment("missing-script")


def test_dataframe_and_plots(in_tmp: Path) -> None:
    pd = pytest.importorskip("pandas")
    go = pytest.importorskip("plotly.graph_objects")
    exp = tunery.tune(
        returns_value,
        {
            "x": tunery.search.double(0, 1),
            "mode": tunery.search.categorical(["a", "b"]),
            "scale": 1,
        },
        "value",
        algorithm="random",
        max_trial_count=3,
        storage=str(in_tmp / "t.db"),
        wait=True,
    )
    frame = exp.trials_dataframe()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    assert {"params.x", "params.mode", "objective", "metrics.value"} <= set(frame.columns)
    assert isinstance(exp.plot_optimization_history(), go.Figure)
    assert isinstance(exp.plot_parallel_coordinates(), go.Figure)
    sliced = exp.plot_slice()
    assert len(sliced.data) == 2  # x and mode (the constant scale is no parameter)
    assert sliced.layout.xaxis2.type == "category"
    assert list(sliced.layout.xaxis2.categoryarray) == ["a", "b"]
    assert len(exp.plot_edf().data[0].x) == 3
    curves = exp.plot_intermediate_values().data
    assert curves and all(tr.name.startswith(exp.name) for tr in curves)
    # Timeline: every trial (all succeeded) a bar from its start to its completion, in ms.
    (bars,) = exp.plot_timeline().data
    assert bars.name == "Succeeded" and len(bars.y) == 3
    for trial, base, width in zip(exp.trials, bars.base, bars.x, strict=True):
        assert base == pytest.approx(trial.start_time * 1000)
        assert base + width == pytest.approx(trial.completion_time * 1000)


def lr_and_layers(parameters: dict) -> float:  # type: ignore[type-arg]
    import math

    return abs(math.log10(parameters["lr"]) + 2) + parameters["layers"] / 10


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_parallel_coordinates_axes_and_colour_bar(in_tmp: Path, direction: str) -> None:
    pytest.importorskip("plotly.graph_objects")
    exp = tunery.tune(
        lr_and_layers,
        {"lr": tunery.search.double(1e-4, 1e-1, log=True), "layers": tunery.search.int(1, 3)},
        "value",
        objective_type=direction,
        algorithm="random",
        max_trial_count=5,
        storage=str(in_tmp / "t.db"),
        wait=True,
    )
    trials = [t for t in exp.trials if t.objective is not None]
    fig = exp.plot_parallel_coordinates()
    lr, layers, objective = fig.data[0].dimensions
    # The log-scale parameter is drawn as log10, its ticks labelled with the real values.
    assert lr.label == "lr (log)"
    assert list(lr.values) == pytest.approx([math.log10(t.parameters["lr"]) for t in trials])
    assert all(
        10**v == pytest.approx(float(text), rel=1e-2)
        for v, text in zip(lr.tickvals, lr.ticktext, strict=True)
    )
    # Whole ticks only on the int axis.
    assert layers.tickvals and all(float(v).is_integer() for v in layers.tickvals)
    assert list(objective.values) == [t.objective for t in trials]
    # The better end of Viridis (yellow) goes to the better trials, and the bar says which.
    line = fig.data[0].line
    assert line.reversescale is (direction == "minimize")
    better = "lower" if direction == "minimize" else "higher"
    assert line.colorbar.title.text == f"value ({better} is better)"

    # Slice: one panel per parameter, the log one on a log axis, the int one with whole ticks.
    sliced = exp.plot_slice()
    assert [list(tr.y) for tr in sliced.data] == [[t.objective for t in trials]] * 2
    assert list(sliced.data[0].x) == [t.parameters["lr"] for t in trials]
    assert sliced.layout.xaxis.type == "log"
    assert sliced.layout.xaxis2.tickvals and all(
        float(v).is_integer() for v in sliced.layout.xaxis2.tickvals
    )
    # EDF: the sorted objectives, the fraction at or below each reaching 1.
    edf = exp.plot_edf().data[0]
    assert list(edf.x) == sorted(t.objective for t in trials)
    assert list(edf.y) == [(i + 1) / len(trials) for i in range(len(trials))]
    # Contour: with fewer trials than importance needs, the pair of the space's order.
    contour = exp.plot_contour()
    surface, dots = contour.data
    assert surface.type == "contour" and list(surface.z) == [t.objective for t in trials]
    assert list(dots.x) == [t.parameters["lr"] for t in trials]
    assert contour.layout.xaxis.type == "log" and contour.layout.xaxis.title.text == "lr"
    assert contour.layout.yaxis.title.text == "layers"
    assert surface.reversescale is (direction == "minimize")


SCRIPT = """
import tunery

def objective(parameters):
    import math
    tunery.report(acc=math.cos(parameters['x']))  # tunery needs no import in the function

exp = tunery.tune(objective, {"x": tunery.search.double(0, 1)}, "acc", algorithm="sobol",
                  max_trial_count=3, storage="t.db", wait=True)
print("RESULT", exp.status, len(exp.trials), exp.best_trial.objective > 0.5)
"""


def test_tune_from_a_script(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "RESULT Succeeded 3 True" in out.stdout, out.stderr


def test_tune_from_a_notebook_style_session(tmp_path: Path) -> None:
    # IPython compiles each cell under a fake filename and keeps its source in linecache;
    # inspect.getsource then works, and so must tune().
    driver = textwrap.dedent(
        f"""
        import linecache, __main__
        cell = {SCRIPT!r}
        name = "<ipython-input-1-abc>"
        linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
        exec(compile(cell, name, "exec"), __main__.__dict__)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", driver], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "RESULT Succeeded 3 True" in out.stdout, out.stderr


def test_create_experiment_inlines_configmaps(tmp_path: Path) -> None:
    import yaml

    from tests.test_cli import _CM, _CM_EXPERIMENT

    maps = tmp_path / "cm.yaml"
    maps.write_text(_CM)
    client = tunery.Client(str(tmp_path / "t.db"))
    doc = yaml.safe_load(_CM_EXPERIMENT)
    with pytest.raises(UserInputError, match="team/templates"):
        client.create_experiment(doc)
    stored = client.create_experiment(doc, configmaps=[maps])
    assert stored.spec.trial_template.trial_spec is not None
    assert stored.document["spec"]["trialTemplate"]["trialSpec"]["kind"] == "Job"
    path = tmp_path / "exp.yaml"
    path.write_text(_CM_EXPERIMENT.replace("from-configmap", "from-file"))
    assert client.create_experiment(path, configmaps=[maps]).spec.trial_template.config_map is None


# --------------------------------------------------------------------------- the lifecycle


def _stored(tmp_path: Path, policy: str = "LongRunning") -> tunery.Client:
    from tests.helpers import SCORE_IS_X, native_doc
    from tunery.clock import FakeClock

    client = tunery.Client(str(tmp_path / "life.db"), clock=FakeClock(5.0))
    doc = native_doc("life", SCORE_IS_X, max_trials=2, extra_spec={"resumePolicy": policy})
    exp = client.create_experiment(doc, base_dir=str(tmp_path), runs_dir=str(tmp_path / "r"))
    assert (exp.status.value, exp.created_time) == ("Created", 5.0)
    assert exp.runs_dir == str(tmp_path / "r")
    return client


def _complete(client: tunery.Client, reason: str, trials: int) -> None:
    from tunery.ledger import TrialLedger
    from tunery.model import Assignment, ExperimentCondition

    ledger = TrialLedger(client.store, "life")
    ledger.load(client.get_experiment("life").spec.objective)
    for _ in range(trials):
        trial = ledger.create_trial(Assignment({"x": 0.5}), 6.0)
        ledger.transition(
            trial, [TrialCondition.CREATED], status=TrialCondition.SUCCEEDED, objective=0.5
        )
    client.store.set_experiment_status("life", ExperimentCondition.SUCCEEDED, reason, "done")


def test_resume_goes_on_with_an_unfinished_experiment_under_a_new_budget(
    tmp_path: Path,
) -> None:
    from tunery.client import ResumeAction

    client = _stored(tmp_path)
    resumed = client.resume("life", max_trials=7)
    assert resumed.action is ResumeAction.RESUME and resumed.runs
    assert resumed.experiment.spec.max_trial_count == 7
    assert client.get_experiment("life").status.value == "Created"  # the controller's to write
    with pytest.raises(tunery.errors.SpecError):
        client.resume("life", max_trials=1)  # below parallelTrialCount: refused as in YAML


def test_a_completed_experiment_is_extended_only_as_katib_would(tmp_path: Path) -> None:
    from tunery.client import ResumeAction

    client = _stored(tmp_path)
    _complete(client, "ExperimentMaxTrialsReached", 2)
    same = client.resume("life")  # no more trials allowed: nothing is written
    assert same.action is ResumeAction.COMPLETED and not same.runs
    assert client.get_experiment("life").status.value == "Succeeded"
    extended = client.resume("life", max_trials=4)
    assert extended.action is ResumeAction.EXTEND
    exp = client.get_experiment("life")
    assert (exp.status.value, exp.reason) == ("Restarting", "ExperimentRestarting")
    assert exp.message == "Experiment is restarting with maxTrialCount 4"
    assert exp.completion_time is None and exp.spec.max_trial_count == 4


@pytest.mark.parametrize("policy", ["Never", "LongRunning", "FromVolume"])
def test_every_resume_policy_is_extended_locally(tmp_path: Path, policy: str) -> None:
    from tunery.client import ResumeAction

    client = _stored(tmp_path, policy=policy)
    _complete(client, "ExperimentMaxTrialsReached", 2)
    assert client.resume("life", max_trials=3).action is ResumeAction.EXTEND
    exp = client.get_experiment("life")
    assert (exp.status.value, exp.spec.max_trial_count) == ("Restarting", 3)
    assert exp.spec.resume_policy.value == policy


def test_a_stopped_experiment_goes_on_only_under_a_new_max_trials(tmp_path: Path) -> None:
    from tunery.client import ResumeAction

    client = _stored(tmp_path)
    _complete(client, "ExperimentStopped", 1)
    same = client.resume("life")  # its maxTrialCount 2 is above 1, but the user stopped it
    assert same.action is ResumeAction.COMPLETED
    assert same.note is not None and "stopped by the user" in same.note
    assert client.get_experiment("life").status.value == "Succeeded"
    assert client.resume("life", max_trials=9).action is ResumeAction.EXTEND
    assert client.get_experiment("life").spec.max_trial_count == 9


def _refused(client: tunery.Client, match: str, **budget: int) -> None:
    """A refused extension: one line naming why, nothing stored changed."""
    before = client.get_experiment("life")
    with pytest.raises(UserInputError, match=match) as caught:
        if set(budget) == {"max_trials"}:
            client.resume("life", **budget)
        else:
            client.edit_experiment_budget("life", **budget)
    assert "\n" not in caught.value.one_line()
    after = client.get_experiment("life")
    assert (after.spec, after.status, after.reason) == (before.spec, before.status, before.reason)
    assert not client.store.pending_intents("life")


def test_bad_or_too_small_max_trials_are_refused_and_change_nothing(tmp_path: Path) -> None:
    client = _stored(tmp_path)
    _complete(client, "ExperimentMaxTrialsReached", 2)
    _refused(client, "not above the 2 trials", max_trials=2)
    _refused(client, "not above the 2 trials", max_trials=1)
    _refused(client, "maxTrialCount must be at least 1, not 0", max_trials=0)
    _refused(client, "maxTrialCount must be a whole number, not 'x'", max_trials="x")  # type: ignore[arg-type]
    _refused(client, "maxTrialCount must be a whole number, not 2.5", max_trial_count=2.5)  # type: ignore[arg-type]
    _refused(client, "parallelTrialCount must be at least 1", parallel_trial_count=0)
    _refused(client, "maxFailedTrialCount must be at least 0", max_failed_trial_count=-1)
    _refused(client, "maxTrialCount must be a whole number, not True", max_trial_count=True)
    _refused(client, "no budget to edit")
    with pytest.raises(tunery.errors.SpecError, match="parallelTrialCount"):
        client.edit_experiment_budget("life", max_trial_count=5, parallel_trial_count=9)
    assert client.get_experiment("life").spec.max_trial_count == 2


def test_an_experiment_that_cannot_go_on_is_refused_with_why(tmp_path: Path) -> None:
    from dataclasses import replace

    from tunery.client import ResumeAction
    from tunery.model import ExperimentCondition

    client = _stored(tmp_path)
    _complete(client, "ExperimentSuggestionEndReached", 1)
    _refused(client, "nothing more to suggest", max_trials=5)
    _refused(client, "nothing more to suggest", max_trial_count=5)
    note = client.resume("life").note
    assert note is not None and "nothing more to suggest" in note

    # Goal reached (trial 1's score 0.5 >= 0.4): refused while the goal stays, extended
    # when a harder goal (or none) comes with the spec.
    spec = client.get_experiment("life").spec
    goal = replace(spec, objective=replace(spec.objective, goal=0.4))
    client.store.update_experiment_spec("life", goal, {"spec": {}})
    client.store.set_experiment_status(
        "life", ExperimentCondition.SUCCEEDED, "ExperimentGoalReached", "goal"
    )
    _refused(client, r"reached its goal \(score >= 0.4\)", max_trials=5)
    harder = replace(goal, objective=replace(goal.objective, goal=0.9), max_trial_count=5)
    assert client.resume("life", spec=harder).action is ResumeAction.EXTEND
    assert client.get_experiment("life").spec.objective.goal == 0.9


def test_a_failed_experiment_goes_on_when_max_failed_is_raised(tmp_path: Path) -> None:
    from tunery.ledger import TrialLedger
    from tunery.model import Assignment, ExperimentCondition

    client = _stored(tmp_path)
    client.edit_experiment_budget("life", max_trial_count=6, max_failed_trial_count=1)
    ledger = TrialLedger(client.store, "life")
    ledger.load(client.get_experiment("life").spec.objective)
    trial = ledger.create_trial(Assignment({"x": 0.5}), 6.0)
    ledger.transition(trial, [TrialCondition.CREATED], status=TrialCondition.FAILED)
    client.store.set_experiment_status(
        "life", ExperimentCondition.FAILED, "ExperimentMaxFailedTrialsReached", "failed"
    )
    client.store.complete_intent(client.store.pending_intents("life")[0].id, 7.0)
    _refused(client, "1 trials failed .maxFailedTrialCount 1.*--max-failed", max_trials=5)
    exp = client.edit_experiment_budget("life", max_failed_trial_count=3)
    assert (exp.status.value, exp.spec.max_failed_trial_count) == ("Restarting", 3)


def test_an_ask_tell_experiment_keeps_its_budget_with_its_optimizer(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    with tunery.Optimizer(
        {"x": tunery.search.double(0, 1)}, name="study", storage=db, max_trial_count=3
    ):
        pass
    with pytest.raises(UserInputError, match="ask/tell experiment"):
        tunery.Client(db).edit_experiment_budget("study", max_trial_count=5)


def test_same_search_ignores_only_the_budget_and_goal(tmp_path: Path) -> None:
    from dataclasses import replace

    from tunery.client import same_search

    spec = _stored(tmp_path).get_experiment("life").spec
    budget = replace(spec, max_trial_count=9, parallel_trial_count=1, max_failed_trial_count=3)
    assert same_search(spec, budget)
    assert not same_search(spec, replace(spec, name="other"))
    # The goal is a stopping rule, not the search: a finished experiment goes on under another.
    assert same_search(spec, replace(spec, objective=replace(spec.objective, goal=0.9)))
    other = replace(spec.objective, objective_metric_name="loss")
    assert not same_search(spec, replace(spec, objective=other))


# --------------------------------------------------------------------------- namespaces


def test_the_same_name_in_two_namespaces_runs_apart(tmp_path: Path) -> None:
    from tests.helpers import SCORE_IS_X, native_doc
    from tunery.errors import AlreadyExistsError, NotFoundError, SpecError

    client = tunery.Client(str(tmp_path / "ns.db"))
    runs = str(tmp_path / "runs")
    doc = native_doc("twin", SCORE_IS_X, max_trials=2)
    plain = client.create_experiment(doc, runs_dir=runs)
    doc["metadata"]["namespace"] = "team"
    team = client.create_experiment(doc, runs_dir=runs)  # the document's namespace
    other = client.create_experiment(doc, namespace="kubeflow", runs_dir=runs)  # overridden
    assert [(e.name, e.namespace, e.key) for e in (plain, team, other)] == [
        ("twin", "default", "twin"),
        ("twin", "team", "team.twin"),
        ("twin", "kubeflow", "kubeflow.twin"),
    ]
    assert other.document["metadata"]["namespace"] == "kubeflow"
    with pytest.raises(AlreadyExistsError, match="namespace 'team'"):
        client.create_experiment(doc, runs_dir=runs)
    with pytest.raises(SpecError, match=r"metadata\.namespace"):
        client.create_experiment(doc, namespace="Not_A_Label")
    with pytest.raises(UserInputError, match="default, kubeflow, team") as info:
        client.get_experiment("twin")
    assert "--namespace" in (info.value.hint or "")
    with pytest.raises(NotFoundError, match="'twin' in namespace 'nowhere'"):
        client.get_experiment("twin", namespace="nowhere")
    assert client.find_experiment("twin", "nowhere") is None
    assert client.get_experiment("twin", "team").key == "team.twin"
    assert client.list_namespaces() == ["default", "kubeflow", "team"]
    assert [e.namespace for e in client.list_experiments()] == ["default", "team", "kubeflow"]
    assert [e.key for e in client.list_experiments("team")] == ["team.twin"]

    # Real trials of two of them: their own names and directories.
    first = client.run_experiment("twin", namespace="default")
    second = client.run_experiment("twin", namespace="team")
    assert (first.name, first.namespace, second.name, second.namespace) == (
        "twin",
        "default",
        "twin",
        "team",
    )
    assert first.status == second.status == "Succeeded"
    names = [t.name for t in client.list_trials("twin", "team")]
    assert names == ["team.twin-0001", "team.twin-0002"]
    assert [t.name for t in client.list_trials("twin", "default")] == ["twin-0001", "twin-0002"]
    assert (tmp_path / "runs" / "team.twin" / "team.twin-0001" / "output.log").is_file()
    assert (tmp_path / "runs" / "twin" / "twin-0001" / "output.log").is_file()
    best = client.get_optimal_hyperparameters("twin", "team")
    assert best is not None and best["trial"].startswith("team.twin-")
    assert client.list_trials("twin", "kubeflow") == []

    client.delete_experiment("twin", "default")
    with pytest.raises(UserInputError, match="kubeflow, team"):
        client.delete_experiment("twin")
    client.delete_experiment("team.twin")  # a key names its experiment too
    assert client.get_experiment("twin").namespace == "kubeflow"  # the only one left
    assert client.resume("twin").experiment.key == "kubeflow.twin"
    # The plain name is free again: the next experiment of that name takes it.
    doc["metadata"]["namespace"] = "default"
    assert client.create_experiment(doc, runs_dir=runs).key == "twin"


def test_resume_keeps_the_namespace(tmp_path: Path) -> None:
    from dataclasses import replace

    client = _stored(tmp_path)
    exp = client.get_experiment("life", namespace="default")
    moved = replace(exp.spec, namespace="elsewhere", max_trial_count=5)
    resumed = client.resume("life", namespace="default", spec=moved)
    assert resumed.experiment.namespace == "default"
    assert resumed.experiment.spec.max_trial_count == 5


def fits_a_branch(parameters: dict) -> float:  # type: ignore[type-arg]
    expected = {"model", "scale"} | ({"C"} if parameters["model"] == "svm" else {"depth"})
    assert set(parameters) == expected, parameters  # inactive parameters are absent
    if parameters["model"] == "svm":
        return float(parameters["C"]) * parameters["scale"]
    return float(parameters["depth"])


def test_tune_a_conditional_space_passes_only_active_parameters(in_tmp: Path) -> None:
    s = tunery.search
    space = {
        "model": s.categorical({"svm": {"C": s.double(0.5, 1)}, "rf": {"depth": s.int(2, 4)}}),
        "scale": 2,
    }
    exp = tunery.tune(
        fits_a_branch,
        space,
        "value",
        "minimize",
        algorithm="random",
        max_trial_count=6,
        parallel_trial_count=3,
        storage=str(in_tmp / "t.db"),
    )
    exp.wait(timeout=120)
    trials = exp.trials
    assert len(trials) == 6 and all(t.status is TrialCondition.SUCCEEDED for t in trials)
    assert {t.parameters["model"] for t in trials} == {"svm", "rf"}
    for t in trials:
        value = t.parameters.get("C", t.parameters.get("depth"))
        assert value is not None and ("C" in t.parameters) != ("depth" in t.parameters)
        factor = 2 if "C" in t.parameters else 1
        assert t.objective == pytest.approx(float(value) * factor)
