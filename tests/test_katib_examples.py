"""Katib's published examples that no e2e workflow of Katib's runs, through the same harness.

``tests/test_katib_e2e.py`` runs the 18 non-NAS experiments of Katib's CI.  The other examples
under Katib's ``examples/v1beta1`` that ``tunery validate`` accepts are copied here in shape
(``tests/data/katib_examples/``: the same trial kind, collector, algorithm, objective,
parameters, metric strategies, metadata references and replica layout), with the trial image's
script replaced by a local stand-in that takes the same flags and prints the same format
(``tests/data/katib_e2e/trials/mnist.py`` where the image is Katib's pytorch-mnist, else
``tests/data/katib_examples/trials/``).  Each runs with Katib's CI budget (2 trials, one at a
time, no failure allowed), must end Succeeded, passes verify.py's checks, and every trial's
stored metrics must be the ones it reported.  ``docs/spec-reference.md`` lists every published
example with its outcome and the test that shows it.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_system
from tests.test_katib_e2e import (
    create_case,
    describe,
    run_to_end,
    verify_experiment_results,
    verify_trials_report_their_own_metrics,
)
from tunery import Client
from tunery.model import ExperimentCondition, MetricSummary, TrialCondition

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = Path(__file__).resolve().parent / "data" / "katib_examples"
CASES = sorted(DATA.glob("*.yaml"))
#: Per example (the file's stem): metrics the example names that its trial image never
#: reports in a form the example's collector reads.
UNREPORTED = {
    # mnist.py logs accuracy only as "{metricName: accuracy, metricValue: A}", which the
    # default StdOut filter (name=value) does not match: on Katib too the observation's
    # accuracy is "unavailable", and its "max" strategy has nothing to pick from.
    "metrics-collection-strategy": frozenset({"accuracy"}),
}


def records_of(records: Path, trial: str) -> list[dict[str, object]]:
    return [json.loads(f.read_text()) for f in sorted(records.glob(f"{trial}.*json"))]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_katib_published_example(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path.stem == "mpijob-horovod" and shutil.which("mpirun") is None:
        require_system("mpirun (apt-get install openmpi-bin)")
    client, db, name, records = create_case(
        path, DATA, tmp_path, monkeypatch, ("torch", "numpy", "sklearn")
    )

    run_to_end(client, name)
    assert client.get_experiment(name).status is ExperimentCondition.SUCCEEDED, describe(
        client, name
    )
    verify_experiment_results(client, db, name)
    unreported = UNREPORTED.get(path.stem, frozenset())
    verify_trials_report_their_own_metrics(client, name, records, unreported)
    check_example(path.stem, client, name, records)


def check_example(example: str, client: Client, name: str, records: Path) -> None:
    """What the example is about, beyond verify.py's checks."""
    spec = client.get_experiment(name).spec
    trials = client.list_trials(name)
    assert len(trials) == 2 and all(t.status is TrialCondition.SUCCEEDED for t in trials)
    for trial in trials:
        (first, *_) = records_of(records, trial.name)
        if example == "metrics-collection-strategy":
            # The objective is the best loss the trial logged (strategy min), not its last.
            logged = [float(v) for v in first["train"]]  # type: ignore[union-attr]
            assert len(logged) > 1, first
            assert trial.objective == pytest.approx(min(logged)), (trial.objective, logged)
            assert trial.metrics["loss"].latest == pytest.approx(logged[-1])
        elif example == "trial-metadata-substitution":
            # Each trial was told its own Job's metadata, through trial parameters.
            assert first["env"] == {
                "TRIAL_NAME": trial.name,
                "TRIAL_NAMESPACE": "kubeflow",
                "TRIAL_KIND": "Job",
                "TRIAL_API_VERSION": "batch/v1",
                "TRIAL_LABEL_CUSTOM": "tuning",
                "TRIAL_ANNOTATION_CUSTOM": "from the trial template",
            }, first
        elif example == "xgboost-example":
            # The fixed args came after the command; accuracy is maximized, time collected.
            argv = first["argv"]
            assert isinstance(argv, list)
            assert argv[:4] == [
                "--name=SVHN",
                "--test-size=0.35",
                "--tree-method=fpga_exact",
                "--max-depth=10",
            ]
            assert argv[4:] == [
                f"--alpha={trial.parameters['alpha']}",
                f"--eta={trial.parameters['eta']}",
                f"--subsample={trial.parameters['subsample']}",
            ]
            assert trial.objective == pytest.approx(float(str(first["accuracy"])))
            assert trial.metrics["time"] == MetricSummary(
                float(str(first["time"])), float(str(first["time"])), float(str(first["time"]))
            )
        elif example == "mpijob-horovod":
            # An int parameter on a 10-step grid; one loss line every 10 of rank 0's steps.
            steps = int(trial.parameters["num-steps"])
            assert 50 <= steps <= 150 and steps % 10 == 0, trial.parameters
            assert len(first["train"]) == math.ceil(steps // 2 / 10), first  # type: ignore[arg-type]
    if example == "sobol":
        # Two distinct points of the space, both inside it.
        points = [tuple(float(t.parameters[p]) for p in ("lr", "momentum")) for t in trials]
        assert points[0] != points[1]
        assert all(0.01 <= lr <= 0.05 and 0.5 <= m <= 0.9 for lr, m in points), points
    assert spec.objective.objective_metric_name in trials[0].metrics


def test_cases_are_the_published_examples_katib_ci_does_not_run() -> None:
    """One copy per valid published example outside Katib's e2e workflows."""
    assert {p.stem for p in CASES} == {
        "sobol",
        "metrics-collection-strategy",
        "trial-metadata-substitution",
        "trainjob-pytorch",
        "mpijob-horovod",
        "xgboost-example",
    }
    for path in CASES:
        text = path.read_text()
        doc = yaml.safe_load(text)
        assert doc["kind"] == "Experiment"
        for image_path in ("/opt/", "/examples/"):
            assert image_path not in text, f"{path.name} still runs the image's script"
