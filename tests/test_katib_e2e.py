"""Katib's e2e experiment flow, ported: every non-NAS experiment Katib's CI runs, run locally.

A port of Katib's ``test/e2e/v1beta1/scripts/gh-actions/run-e2e-experiment.py`` and
``verify.py`` over our own copies of those experiments' shapes (``tests/data/katib_e2e/``:
the same trial kinds, collectors, absolute paths, algorithms, objectives and policies; only
the trial image's script is replaced by a local stand-in with the same flags and output).

As Katib's CI: the budget becomes maxTrialCount 2, parallelTrialCount 1, maxFailedTrialCount 0
(``random``: 3 and 2; hyperband keeps its own); the experiment must end Succeeded; the two
resume experiments are then extended by one trial and must succeed again; verify.py's checks
follow, each mapped to tunery's meaning.  On top of Katib's checks, every trial's stored
metrics must be the values that trial reported (the stand-ins write what they report to
``$TUNERY_E2E_RECORD_DIR``), and the PyTorchJob/TFJob trials must really run all replicas.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_system
from tunery import Client
from tunery.budget import with_budget
from tunery.client import can_extend
from tunery.model import (
    CollectorKind,
    ExperimentCondition,
    ExperimentReason,
    FileFormat,
    MetricSummary,
    ObjectiveType,
    Trial,
    TrialCondition,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = Path(__file__).resolve().parent / "data" / "katib_e2e"
CASES = sorted(DATA.glob("*.yaml"))
#: Katib's EXPERIMENT_TIMEOUT is 40 min on a cluster; these budgets take seconds.
EXPERIMENT_TIMEOUT = 150.0
RESUME_EXPERIMENTS = ("from-volume-resume", "long-running-resume")


def katib_ci_document(path: Path) -> dict[str, Any]:
    """The experiment as run-e2e-experiment.py submits it."""
    text = path.read_text().replace("--batch-size=64", "--num-epochs=2")
    doc: dict[str, Any] = yaml.safe_load(text)
    spec = doc["spec"]
    max_trials, parallel, max_failed = 2, 1, 0
    if doc["metadata"]["name"] == "random":  # Katib tests parallel trials with this one
        max_trials, parallel = max_trials + 1, parallel + 1
    # Hyperband validates parallelTrialCount against its brackets: Katib leaves it alone.
    if spec["algorithm"]["algorithmName"] not in ("hyperband", "darts"):
        spec["maxTrialCount"] = max_trials
        spec["parallelTrialCount"] = parallel
        spec["maxFailedTrialCount"] = max_failed
    return doc


def tunery_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI, for what the SDK has no call for (extending a finished experiment)."""
    return subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        capture_output=True,
        text=True,
        timeout=EXPERIMENT_TIMEOUT,
    )


def describe(client: Client, name: str) -> str:
    exp = client.get_experiment(name)
    lines = [f"experiment {name}: {exp.status.value} {exp.reason}: {exp.message}"]
    for t in client.list_trials(name):
        lines.append(f"  {t.name} {t.status.value} {t.reason}: {t.message} {t.parameters}")
    return "\n".join(lines)


def run_to_end(client: Client, name: str) -> None:
    handle = client.run_experiment(name, wait=False)
    handle.wait(EXPERIMENT_TIMEOUT)
    if not handle.done:
        handle.stop()
        handle.wait(30)
        pytest.fail(f"not finished in {EXPERIMENT_TIMEOUT:.0f} s\n{describe(client, name)}")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_katib_e2e_experiment(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, db, name, records = create_case(
        path, DATA, tmp_path, monkeypatch, ("torch", "tensorboard", "numpy")
    )

    # wait_for_experiment_condition(): Succeeded, else the e2e run fails.
    run_to_end(client, name)
    first = client.get_experiment(name)
    assert first.status is ExperimentCondition.SUCCEEDED, describe(client, name)

    if name in RESUME_EXPERIMENTS:
        check_resume(client, db, name)
    verify_experiment_results(client, db, name)
    verify_trials_report_their_own_metrics(client, name, records)


def create_case(
    path: Path,
    data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    modules: Sequence[str],
) -> tuple[Client, str, str, Path]:
    """The experiment of ``path`` as Katib's CI submits it, in a fresh database: (client,
    database path, experiment name, the directory where the stand-ins record what they report)."""
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            require_system(f"{module} is missing (pip install 'tunery[examples,tfevents]')")
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("TUNERY_E2E_RECORD_DIR", str(records))
    db = str(tmp_path / "tunery.db")
    client = Client(db)
    exp = client.create_experiment(
        katib_ci_document(path), base_dir=str(data), runs_dir=str(tmp_path / "runs")
    )
    return client, db, exp.name, records


def check_resume(client: Client, db: str, name: str) -> None:
    """Katib's edit_experiment_budget(max + 1, parallel + 1), Restarting, then Succeeded.

    tunery's equivalent is ``tunery resume NAME --max-trials N`` (the SDK has no call for it;
    it cannot raise parallelTrialCount, which Katib's test also raises: with one new trial the
    parallelism does not matter).  ``resume`` marks the experiment Restarting and drives it to
    its end in the same command, so Restarting is seen as: the completion time was cleared and
    set again, and the new trial was created after the first completion.
    """
    first = client.get_experiment(name)
    before = client.list_trials(name)
    assert first.reason == ExperimentReason.MAX_TRIALS_REACHED, describe(client, name)
    assert first.spec.max_trial_count is not None
    target = first.spec.max_trial_count + 1
    done = tunery_cli("resume", name, "--db", db, "--max-trials", str(target), "-q")
    assert done.returncode == 0, done.stderr + describe(client, name)

    again = client.get_experiment(name)
    after = client.list_trials(name)
    assert again.status is ExperimentCondition.SUCCEEDED, describe(client, name)
    assert again.spec.max_trial_count == target
    assert len(after) == target
    assert first.completion_time is not None and again.completion_time is not None
    assert again.completion_time > first.completion_time
    new = [t for t in after if t.name not in {b.name for b in before}]
    assert len(new) == 1 and new[0].created_time is not None
    assert new[0].created_time >= first.completion_time
    # FromVolume in Katib keeps the suggestion's state on a volume so that the restarted
    # suggestion continues its search; tunery keeps every algorithm's state (or, for random,
    # its seeded stream) in the database for every policy: the search continues, it does not
    # start over with the same suggestions.
    assert dict(new[0].parameters) not in [dict(b.parameters) for b in before]


def verify_experiment_results(client: Client, db: str, name: str) -> None:
    """verify.py's checks, in its order."""
    exp = client.get_experiment(name)
    spec = exp.spec
    objective = spec.objective
    trials = client.list_trials(name)

    # The best objective metric must be present (currentOptimalTrial.observation).
    optimal = client.get_optimal_hyperparameters(name)
    assert optimal is not None, describe(client, name)
    best = optimal["metrics"].get(objective.objective_metric_name)
    assert best is not None, f"no best {objective.objective_metric_name}: {optimal}"

    # The Succeeded condition's reason.
    assert exp.status is ExperimentCondition.SUCCEEDED
    reason = exp.reason

    # MaxTrialsReached: every trial completed (succeeded or early stopped).
    completed = sum(
        1 for t in trials if t.status in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED)
    )
    if reason == ExperimentReason.MAX_TRIALS_REACHED:
        assert completed == spec.max_trial_count, describe(client, name)

    # GoalReached: the best metric really passes the goal.
    if reason == ExperimentReason.GOAL_REACHED:
        assert objective.goal is not None
        if objective.type is ObjectiveType.MINIMIZE:
            assert best["min"] <= objective.goal, optimal
        else:
            assert best["max"] >= objective.goal, optimal

    # Katib: with LongRunning the suggestion keeps running (the experiment can be extended);
    # with Never or FromVolume the suggestion ends and its Deployment and Service are deleted
    # (FromVolume keeps its PVC), and Never refuses an extension.  tunery runs no suggestion
    # service: the algorithm state lives in the database whatever the policy, so a finished
    # experiment that ended at its maxTrialCount can be extended under every policy
    # (check_resume runs two extensions; here the rule alone, nothing written).
    if reason == ExperimentReason.MAX_TRIALS_REACHED:
        assert spec.max_trial_count is not None
        more = with_budget(spec, max_trial_count=spec.max_trial_count + 1)
        assert can_extend(exp, more, trials), (spec.resume_policy, describe(client, name))
        assert not can_extend(exp, spec, trials)  # no more trials than it has: it stays


# --------------------------------------------------------------------------- own metrics


def reported_values(exp_spec: Any, trial: Trial, records: Path) -> dict[str, list[list[float]]]:
    """Per metric, the value sequences this trial's processes reported through the
    experiment's collector (one sequence per reporting process), from the stand-ins' records."""
    collector = exp_spec.metrics_collector
    files = sorted(records.glob(f"{trial.name}.*json"))
    assert files, f"{trial.name} left no record in {records}"
    loaded = [json.loads(f.read_text()) for f in files]
    script = loaded[0]["script"]
    out: dict[str, list[list[float]]] = {}

    def add(metric: str, values: Sequence[str | float]) -> None:
        out.setdefault(metric, []).append([float(v) for v in values])

    for record in loaded:
        if script == "tensorflow_mnist.py":
            if record["rank"] == 0:  # only rank 0 of the MPI job reports
                add("loss", record["train"])  # the "step = S, loss = L" lines
        elif script == "parameter-tuning.py":
            for metric in ("time", "accuracy"):
                if metric in record:
                    add(metric, [record[metric]])
        elif script == "pbt_test.py":
            add("Validation-accuracy", record["Validation-accuracy"])
        elif script == "tf_mnist_with_summaries.py":
            for metric in ("accuracy", "loss"):
                add(metric, [epoch[metric] for epoch in record["test"]])
        elif record["rank"] != 0:
            continue  # only rank 0 reports
        elif collector.kind is CollectorKind.STDOUT:
            add("loss", record["train"])  # the "Train Epoch ... loss=L" lines
        elif collector.file_format is FileFormat.JSON:
            for metric in ("accuracy", "loss"):
                add(metric, [epoch[metric] for epoch in record["hypertune"]])
        else:  # File TEXT through the metricsFormat filter
            for metric in ("accuracy", "loss"):
                add(metric, [epoch[metric] for epoch in record["test"]])
    return out


def summary_of(values: Sequence[float]) -> MetricSummary:
    finite = [v for v in values if math.isfinite(v)]
    last = values[-1] if values else None
    return MetricSummary(
        min(finite) if finite else None,
        max(finite) if finite else None,
        last if last is not None and math.isfinite(last) else None,
    )


def same(a: MetricSummary, b: MetricSummary) -> bool:
    pairs = ((a.min, b.min), (a.max, b.max), (a.latest, b.latest))
    return all(
        (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y))
        for x, y in pairs
    )


def verify_trials_report_their_own_metrics(
    client: Client, name: str, records: Path, unreported: frozenset[str] = frozenset()
) -> None:
    """Every trial's stored min/max/latest are those of the values it reported itself.

    A trial whose collector also read another trial's output (a File collector path shared by
    all trials) fails this.  A trial stopped early may have been stopped between recording a
    value and printing it: its summary must then match a prefix of what it recorded.  The
    metrics in ``unreported`` are ones the trial's script never reports in a form the
    experiment's collector reads: no trial may have a value stored for them.
    """
    exp = client.get_experiment(name)
    spec = exp.spec
    for trial in client.list_trials(name):
        reported = reported_values(spec, trial, records)
        for metric in unreported:
            assert metric not in reported, (trial.name, metric, reported)
            stored = trial.metrics.get(metric)
            assert stored is None or stored == MetricSummary(None, None, None), (
                f"{trial.name}: {metric} was never reported, yet {stored} is stored"
            )
        for metric in spec.objective.metric_names:
            if metric in unreported:
                continue
            sequences = reported.get(metric)
            assert sequences, f"{trial.name} reported no {metric}"
            stored = trial.metrics.get(metric)
            assert stored is not None, f"{trial.name}: no stored {metric}\n{describe(client, name)}"
            if len(sequences) > 1:
                # Several processes reporting (a TFJob's workers): the stored summary covers
                # their values together, latest is one of theirs.
                union = [v for seq in sequences for v in seq]
                assert same(
                    MetricSummary(stored.min, stored.max, None),
                    MetricSummary(summary_of(union).min, summary_of(union).max, None),
                ), (trial.name, metric, stored, sequences)
                assert stored.latest in [summary_of(seq).latest for seq in sequences]
                continue
            values = sequences[0]
            if trial.status is TrialCondition.SUCCEEDED:
                candidates = [values]
            else:
                candidates = [values[:k] for k in range(1, len(values) + 1)]
            assert any(same(stored, summary_of(c)) for c in candidates), (
                f"{trial.name} ({trial.status.value}): stored {metric} {stored} is not what it "
                f"reported: {values}"
            )
    verify_replicas(client, name, records)


def verify_replicas(client: Client, name: str, records: Path) -> None:
    """A PyTorchJob trial is a gang of ``sum(replicas)`` ranks that joined one process group,
    and so is a TrainJob's ``numNodes``; a TFJob trial runs every worker, each told its own
    task in ``TF_CONFIG``; an MPIJob's launcher starts ``mpirun -np N``'s N ranks, which
    joined one process group and each ran its share of the steps."""
    trial_spec = client.get_experiment(name).spec.trial_template.trial_spec or {}
    kind = trial_spec.get("kind")
    if kind not in ("PyTorchJob", "TFJob", "TrainJob", "MPIJob"):
        return
    if kind == "TrainJob":
        replicas = int(trial_spec["spec"]["trainer"]["numNodes"])
    elif kind == "MPIJob":
        launcher = trial_spec["spec"]["mpiReplicaSpecs"]["Launcher"]
        argv = [*launcher["template"]["spec"]["containers"][0]["command"]]
        argv += launcher["template"]["spec"]["containers"][0].get("args", [])
        replicas = int(argv[argv.index("-np") + 1])
    else:
        key = "pytorchReplicaSpecs" if kind == "PyTorchJob" else "tfReplicaSpecs"
        replicas = sum(int(r.get("replicas", 1)) for r in trial_spec["spec"][key].values())
    for trial in client.list_trials(name):
        loaded = [json.loads(f.read_text()) for f in records.glob(f"{trial.name}.*json")]
        if kind == "MPIJob":
            assert sorted(r["rank"] for r in loaded) == list(range(replicas)), (trial.name, loaded)
            assert all(r["world_size"] == replicas and r["distributed"] for r in loaded), loaded
            steps = int(trial.parameters["num-steps"]) // replicas
            assert all(r["steps"] == steps for r in loaded), (trial.name, steps, loaded)
        elif kind in ("PyTorchJob", "TrainJob"):
            assert sorted(r["rank"] for r in loaded) == list(range(replicas)), (trial.name, loaded)
            assert all(r["world_size"] == replicas and r["distributed"] for r in loaded), loaded
        else:
            tasks = sorted(tuple(r["task"]) for r in loaded)
            assert tasks == [("worker", i) for i in range(replicas)], (trial.name, loaded)
            assert all(r["tf_config"] and r["workers"] == replicas for r in loaded), loaded


def test_cases_cover_katib_ci() -> None:
    """The non-NAS experiments of Katib's e2e workflows (.github/workflows/e2e-test-*.yaml)."""
    assert {p.stem for p in CASES} == {
        "long-running-resume",
        "from-volume-resume",
        "median-stop",
        "grid",
        "bayesian-optimization",
        "tpe",
        "multivariate-tpe",
        "cma-es",
        "hyperband",
        "hyperopt-distribution",
        "optuna-distribution",
        "file-metrics-collector",
        "pytorchjob-mnist",
        "median-stop-with-json-format",
        "file-metrics-collector-with-json-format",
        "simple-pbt",
        "tfjob-mnist-with-summaries",
        "random",
    }
    for path in CASES:
        doc = yaml.safe_load(path.read_text())
        assert doc["metadata"]["name"] == path.stem
        assert "/opt/" not in path.read_text(), f"{path.name} still runs the image's script"
    assert os.path.isfile(DATA / "trials" / "mnist.py")
