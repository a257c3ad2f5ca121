"""tunery.integration.optuna against real Optuna (studies in memory, SQLite and journal files)
and a real optuna-dashboard application."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_system
from tests.helpers import create, native_doc
from tunery.client import Client
from tunery.ledger import TrialLedger
from tunery.model import Assignment, TrialCondition, TrialReason
from tunery.storage import Store

try:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState

    from tunery.integration.optuna import import_study, journal_storage, to_study
except ImportError:  # pragma: no cover
    optuna = None

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _optuna() -> None:
    if optuna is None:
        require_system("the optuna package is missing (pip install 'tunery[optuna]')")
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


PARAMETERS = [
    {
        "name": "lr",
        "parameterType": "double",
        "feasibleSpace": {"min": "0.0001", "max": "0.1", "distribution": "logUniform"},
    },
    {
        "name": "layers",
        "parameterType": "int",
        "feasibleSpace": {"min": "1", "max": "9", "step": "2"},
    },
    {"name": "batch", "parameterType": "discrete", "feasibleSpace": {"list": ["16", "32", "64"]}},
    {"name": "opt", "parameterType": "categorical", "feasibleSpace": {"list": ["adam", "sgd"]}},
]


def _trial(
    ledger: TrialLedger,
    params: dict[str, Any],
    curve: list[float],
    status: TrialCondition,
    reason: str,
    metric: str = "loss",
) -> Any:
    trial = ledger.create_trial(
        Assignment(params), 100.0, status=TrialCondition.RUNNING, reason=TrialReason.RUNNING
    )
    for step, value in enumerate(curve):
        trial, _ = ledger.observe(trial, metric, value, step, 101.0 + step)
    if status is not TrialCondition.RUNNING:
        trial, applied = ledger.transition(
            trial,
            (TrialCondition.RUNNING,),
            status=status,
            reason=reason,
            completion_time=110.0,
            objective=curve[-1] if curve else None,
        )
        assert applied
    return trial


def stored_experiment(tmp_path: Path) -> tuple[Client, Any]:
    """An experiment with a Succeeded, an EarlyStopped, a Failed, an interrupted and a running
    trial, written through the ledger as a controller would."""
    store = Store(str(tmp_path / "t.db"))
    doc = native_doc(
        "mnist",
        "print('x')",
        parameters=PARAMETERS,
        objective={"type": "minimize", "objectiveMetricName": "loss"},
        max_trials=9,
    )
    exp = create(store, doc, tmp_path)
    ledger = TrialLedger(store, exp.key)
    ledger.acquire(1.0)
    ledger.load(exp.spec.objective)
    p = {"lr": 0.001, "layers": 3, "batch": 32, "opt": "adam"}
    _trial(ledger, p, [0.9, 0.5, 0.3], TrialCondition.SUCCEEDED, TrialReason.SUCCEEDED)
    _trial(
        ledger,
        {**p, "lr": 0.05, "opt": "sgd"},
        [0.95, 0.8],
        TrialCondition.EARLY_STOPPED,
        TrialReason.EARLY_STOPPED,
    )
    _trial(ledger, {**p, "batch": 64}, [], TrialCondition.FAILED, "ExitCode")
    _trial(ledger, {**p, "layers": 9}, [0.7], TrialCondition.KILLED, TrialReason.INTERRUPTED)
    _trial(
        ledger,
        {**p, "layers": 5, "batch": 16},
        [0.6, 0.4],
        TrialCondition.SUCCEEDED,
        TrialReason.SUCCEEDED,
    )
    _trial(ledger, {**p, "layers": 7}, [0.8], TrialCondition.RUNNING, TrialReason.RUNNING)
    ledger.release()
    return Client(store=store), exp


def test_to_study_holds_every_finished_trial_with_distributions_values_and_curves(
    tmp_path: Path,
) -> None:
    client, exp = stored_experiment(tmp_path)
    study = to_study("mnist", client=client)
    assert study.study_name == "mnist"
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.metric_names == ["loss"]
    trials = study.get_trials()
    # The interrupted trial (run again on resume) and the running one are left out.
    assert [t.user_attrs["tunery_trial"] for t in trials] == [
        "mnist-0001",
        "mnist-0002",
        "mnist-0003",
        "mnist-0005",
    ]
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.COMPLETE,
    ]
    first = trials[0]
    assert first.params == {"lr": 0.001, "layers": 3, "batch": 32, "opt": "adam"}
    assert first.distributions["lr"] == FloatDistribution(0.0001, 0.1, log=True)
    assert first.distributions["layers"] == IntDistribution(1, 9, step=2)
    assert first.distributions["batch"] == CategoricalDistribution([16, 32, 64])
    assert first.distributions["opt"] == CategoricalDistribution(["adam", "sgd"])
    assert first.value == 0.3
    assert first.intermediate_values == {0: 0.9, 1: 0.5, 2: 0.3}
    assert first.datetime_start is not None and first.datetime_start.timestamp() == 100.0
    assert first.datetime_complete is not None and first.datetime_complete.timestamp() == 110.0
    assert first.user_attrs["tunery_status"] == "Succeeded"
    assert first.user_attrs["tunery_metrics"]["loss"] == {"min": 0.3, "max": 0.9, "latest": 0.3}
    assert trials[1].intermediate_values == {0: 0.95, 1: 0.8}
    assert trials[1].value is None
    assert trials[2].user_attrs["tunery_reason"] == "ExitCode"
    assert study.best_trial.user_attrs["tunery_trial"] == "mnist-0001"
    assert study.user_attrs["tunery_experiment"] == exp.key
    # Optuna's own plots read it.
    vis = optuna.visualization
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for figure in (
            vis.plot_optimization_history(study),
            vis.plot_intermediate_values(study),
            vis.plot_parallel_coordinate(study),
            vis.plot_slice(study),
            vis.plot_contour(study, params=["lr", "layers"]),
            vis.plot_edf(study),
            vis.plot_timeline(study),
        ):
            assert figure.data, figure.layout.title.text
        history = vis.plot_optimization_history(study)
    assert sorted(v for v in history.data[0].y if v is not None) == [0.3, 0.4]


def test_a_multi_objective_experiment_with_constraints(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.db"))
    doc = native_doc(
        "mo",
        "print('x')",
        extra_spec={
            "objectives": [
                {"metric": "accuracy", "direction": "maximize"},
                {"metric": "latency", "direction": "minimize"},
            ],
            "constraints": [{"metric": "size", "max": 10}],
        },
        objective={"type": "maximize", "objectiveMetricName": "accuracy"},
        max_trials=9,
    )
    exp = create(store, doc, tmp_path)
    ledger = TrialLedger(store, exp.key)
    ledger.acquire(1.0)
    ledger.load(exp.spec.objective)
    for x, acc, lat, size in [(0.1, 0.8, 5.0, 4.0), (0.5, 0.9, 9.0, 20.0), (0.9, 0.7, 2.0, 1.0)]:
        trial = _trial(ledger, {"x": x}, [acc], TrialCondition.RUNNING, "", metric="accuracy")
        trial, _ = ledger.observe(trial, "latency", lat, 0, 102.0)
        trial, _ = ledger.observe(trial, "size", size, 0, 102.0)
        ledger.transition(
            trial,
            (TrialCondition.RUNNING,),
            status=TrialCondition.SUCCEEDED,
            reason=TrialReason.SUCCEEDED,
            completion_time=110.0,
        )
    ledger.release()
    study = to_study(exp, client=Client(store=store), storage=f"sqlite:///{tmp_path / 'o.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert study.metric_names == ["accuracy", "latency"]
    trials = study.get_trials()
    assert [t.values for t in trials] == [[0.8, 5.0], [0.9, 9.0], [0.7, 2.0]]
    assert [t.system_attrs["constraints"] for t in trials] == [[-6.0], [10.0], [-9.0]]
    front = {t.params["x"] for t in study.best_trials}
    # Optuna reads the constraints attribute: its front is tunery's feasible front.
    assert front == {0.1, 0.9}
    figure = optuna.visualization.plot_pareto_front(study)
    assert figure.data
    # Back into tunery: a finished two-objective experiment with the same values.
    back = import_study(study, client=Client(store=store), name="mo-back")
    assert back.status.value == "Succeeded"
    assert [t.metric for t in back.spec.objective.terms] == ["accuracy", "latency"]
    values = [
        (t.metrics["accuracy"].latest, t.metrics["latency"].latest)
        for t in store.list_trials(back.key)
    ]
    assert values == [(0.8, 5.0), (0.9, 9.0), (0.7, 2.0)]


def tunery(*args: str, cwd: Path, check: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TUNERY_DB": str(cwd / "t.db")},
    )
    assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def _get(app: Any, path: str) -> Any:
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, *a: status.append(s)))
    assert status[0].startswith("200"), (status, body[:200])
    return json.loads(body)


def test_export_optuna_journal_opens_in_optuna_dashboard(tmp_path: Path) -> None:
    stored_experiment(tmp_path)
    out = tunery("export", "mnist", "-o", "optuna-journal", "mnist.log", cwd=tmp_path)
    assert "4 trials in mnist.log" in out.stdout, out.stdout
    import optuna_dashboard

    app = optuna_dashboard.wsgi(journal_storage(tmp_path / "mnist.log"))
    studies = _get(app, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in studies] == ["mnist"]
    detail = _get(app, f"/api/studies/{studies[0]['study_id']}")
    assert len(detail["trials"]) == 4
    assert detail["has_intermediate_values"] is True
    assert detail["trials"][0]["intermediate_values"] == [
        {"step": 0, "value": 0.9},
        {"step": 1, "value": 0.5},
        {"step": 2, "value": 0.3},
    ]
    # The study exists now: a second export refuses in one line; FILE is required.
    again = tunery("export", "mnist", "-o", "optuna-journal", "mnist.log", cwd=tmp_path, check=2)
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr, again.stderr
    bare = tunery("export", "mnist", "-o", "optuna-journal", cwd=tmp_path, check=2)
    assert "FILE" in bare.stderr and bare.stderr.count("\n") == 1, bare.stderr
    stray = tunery("export", "mnist", "-o", "csv", "x.csv", cwd=tmp_path, check=2)
    assert "optuna-journal" in stray.stderr


def _objective(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    opt = trial.suggest_categorical("opt", ["adam", "sgd"])
    width = trial.suggest_categorical("width", [32, 64])
    if trial.number == 3:
        raise RuntimeError("diverged")
    loss = 1.0
    for step in range(3):
        loss = (lr * 10 + layers / 4 + (opt == "sgd") * 0.5 + width / 640) / (step + 1)
        trial.report(loss, step)
        if trial.number == 5 and step == 1:
            raise optuna.TrialPruned()
    return loss


def test_import_an_optuna_study_from_sqlite_as_a_finished_experiment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(
        study_name="My Study", storage=url, sampler=optuna.samplers.RandomSampler(seed=1)
    )
    study.optimize(_objective, n_trials=8, catch=(RuntimeError,))
    optuna.create_study(study_name="other", storage=url)
    several = tunery("import", "optuna", url, cwd=tmp_path, check=2)
    assert "holds 2 studies (My Study, other)" in several.stderr, several.stderr
    assert several.stderr.count("\n") == 1
    out = tunery("import", "optuna", url, "--study", "My Study", cwd=tmp_path)
    assert "as experiment my-study (8 trials)" in out.stdout, out.stdout
    got = json.loads(tunery("get", "my-study", "--json", cwd=tmp_path).stdout)
    assert got["status"] == "Succeeded", got
    store = Store(str(tmp_path / "t.db"))
    exp = store.get_experiment("my-study")
    space = {p.name: p for p in exp.spec.parameters}
    assert space["lr"].parameter_type.value == "double"
    assert space["lr"].feasible_space.distribution.value == "logUniform"
    assert space["layers"].parameter_type.value == "int"
    assert space["opt"].feasible_space.list == ("adam", "sgd")
    assert space["width"].parameter_type.value == "discrete"
    trials = store.list_trials(exp.key)
    assert [t.status.value for t in trials] == [
        "Succeeded",
        "Succeeded",
        "Succeeded",
        "Failed",
        "Succeeded",
        "EarlyStopped",
        "Succeeded",
        "Succeeded",
    ]
    for ours, theirs in zip(trials, study.get_trials(), strict=True):
        assert ours.parameters == theirs.params
        if theirs.state is TrialState.COMPLETE:
            assert ours.objective == theirs.value
            curve = store.get_observations(exp.key, ours.name, "value")
            assert [(o.step, o.value) for o in curve] == [
                *sorted(theirs.intermediate_values.items()),
                (3, theirs.value),
            ]
    assert trials[5].metrics["value"].latest == study.trials[5].intermediate_values[1]
    dup = tunery("import", "optuna", url, "--study", "My Study", cwd=tmp_path, check=2)
    assert dup.stderr.count("\n") == 1, dup.stderr
    missing = tunery("import", "optuna", url, "--study", "nope", cwd=tmp_path, check=2)
    assert "no study 'nope'" in missing.stderr and "My Study" in missing.stderr
    nofile = tunery("import", "optuna", "absent.log", cwd=tmp_path, check=2)
    assert nofile.stderr.count("\n") == 1 and "absent.log" in nofile.stderr


def test_a_journal_round_trip_keeps_the_trials(tmp_path: Path) -> None:
    client, _ = stored_experiment(tmp_path)
    tunery("export", "mnist", "-o", "optuna-journal", "j.log", cwd=tmp_path)
    tunery("import", "optuna", "j.log", "--as", "copy", cwd=tmp_path)
    original = {t.name: t for t in client.store.list_trials("mnist")}
    copied = client.store.list_trials("copy")
    assert len(copied) == 4
    for ours, name in zip(
        copied, ["mnist-0001", "mnist-0002", "mnist-0003", "mnist-0005"], strict=True
    ):
        assert ours.parameters == original[name].parameters
        assert ours.status == original[name].status
        assert ours.objective == original[name].objective
