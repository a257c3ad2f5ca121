"""Shared by tests/test_integration_*.py: the real experiments whose trials train a framework
(GOOD learning rates first, then BAD ones that early stopping stops), skips."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.conftest import require_system
from tests.helpers import create, native_doc
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.model import ExperimentCondition, Trial, TrialCondition
from tunery.storage import Store

#: Learning rates: the good ones train well and run first (grid order); the bad ones barely
#: move and are stopped.
GOOD = ["0.3", "0.5"]
BAD = ["0.001", "0.002"]

#: Synthetic binary classification data, made in the trial (no download).
DATA = """
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(400, 8))
y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.3, size=400) > 0).astype(int)
X_train, y_train, X_valid, y_valid = X[:300], y[:300], X[300:], y[300:]
"""


def framework(name: str, extra: str) -> ModuleType:
    """The framework's module, else skip (a failure under TUNERY_REQUIRE_SYSTEM=1)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        require_system(f"{name} is not installed (pip install 'tunery[{extra}]')")
        raise


def experiment(
    store: Store,
    tmp_path: Path,
    name: str,
    script: str,
    metric: str,
    stopping: dict[str, Any],
    *,
    collector: str = "StdOut",
    parallel: int = 2,
) -> dict[str, Trial]:
    """Run an experiment over the learning rate ``lr`` (GOOD then BAD, grid) whose trial runs
    ``script``; its trials by learning rate."""
    doc = native_doc(
        name,
        textwrap.dedent(DATA) + textwrap.dedent(script),
        parameters=[
            {"name": "lr", "parameterType": "categorical", "feasibleSpace": {"list": GOOD + BAD}}
        ],
        objective={"type": "minimize", "objectiveMetricName": metric},
        algorithm="grid",
        parallel=parallel,
        max_trials=len(GOOD + BAD),
        extra_spec={
            "earlyStopping": stopping,
            "metricsCollectorSpec": {"collector": {"kind": collector}},
        },
    )
    create(store, doc, tmp_path)
    Controller(store, name, LocalExecutor(), poll_interval=0.02, stop_grace=60).run()
    exp = store.get_experiment(name)
    assert exp.status is ExperimentCondition.SUCCEEDED, (exp.reason, exp.message)
    return {str(t.parameters["lr"]): t for t in store.list_trials(name)}


def trial_file(tmp_path: Path, experiment: str, trial: Trial, file: str) -> str:
    return (tmp_path / "runs" / experiment / trial.name / file).read_text()


def check_stopped_cleanly(
    store: Store, tmp_path: Path, name: str, trials: dict[str, Trial], rounds: int
) -> None:
    """Good trials ran every round; bad ones were EarlyStopped, ended on their own (exit 0,
    their log says so) with every round up to the stop reported."""
    for lr in GOOD:
        t = trials[lr]
        assert t.status is TrialCondition.SUCCEEDED, (lr, t.status, t.message)
        assert f"trained {rounds} rounds; stopped_at=None" in trial_file(
            tmp_path, name, t, "output.log"
        )
    for lr in BAD:
        t = trials[lr]
        assert t.status is TrialCondition.EARLY_STOPPED, (lr, t.status, t.message)
        assert t.message and t.message.endswith("(the trial ended on its own when asked to stop)")
        assert trial_file(tmp_path, name, t, "exitcode") == "0\n"
        log = trial_file(tmp_path, name, t, "output.log")
        said = f"tunery: early stopping stopped trial {t.name} at step "
        assert said in log, log
        stopped_at = int(log.split(said, 1)[1].split(";", 1)[0])
        assert f"trained {stopped_at} rounds; stopped_at={stopped_at}" in log, log
        assert stopped_at < rounds
        metric = store.get_experiment(name).spec.objective.objective_metric_name
        steps = [o.step for o in store.get_observations(name, t.name, metric)]
        assert steps == list(range(1, stopped_at + 1))
