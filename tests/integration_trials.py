"""What the framework callbacks' tests share: skipping without the framework (failing in CI),
a trial's environment in this process, and a real experiment whose early stopping stops some
of its trials, each of which trains a tiny model with the framework's callback."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers import create, native_doc
from tunery.collect.push import COLLECTOR_ENV, METRICS_PATH_ENV, PushCollector
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.integration._trial import STOP_FILE_ENV, TRIAL_ENV
from tunery.logs import log_path
from tunery.model import MetricRecord, Trial, TrialCondition
from tunery.storage import Store

#: What a trial script prints once its framework's training call has returned.
RETURNED = "training returned:"


def require_packages(*modules: str, extra: str) -> None:
    """Skip this test module when a package is missing (a failure under TUNERY_REQUIRE_SYSTEM=1)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (pip install 'tunery[{extra}]')"
    if os.environ.get("TUNERY_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"required package missing: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


class TrialEnv:
    """This process as a tunery trial with the Push collector: its push file and stop marker."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.push = tmp_path / "trial" / "metrics" / "push.jsonl"
        self.stop_file = tmp_path / "trial" / "stop"
        self.stop_file.parent.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(TRIAL_ENV, "exp-0001")
        monkeypatch.setenv("KATIB_TRIAL_NAME", "exp-0001")
        monkeypatch.setenv(COLLECTOR_ENV, "Push")
        monkeypatch.setenv(METRICS_PATH_ENV, str(self.push))
        monkeypatch.setenv(STOP_FILE_ENV, str(self.stop_file))

    def stop(self) -> None:
        """Do what the controller does when early stopping stops the trial."""
        self.stop_file.write_text("early stopped\n")

    def records(self, *names: str) -> list[MetricRecord]:
        if not self.push.exists():
            return []
        records, _ = PushCollector(names).read(str(self.push), None, final=True)
        return records


def stopping_experiment(
    tmp_path: Path,
    name: str,
    script: str,
    *,
    metric: str,
    good: Sequence[str],
    bad: Sequence[str],
    steps: Sequence[int],
    start_step: int = 2,
) -> dict[str, tuple[Trial, str]]:
    """Run an experiment whose trials run ``script --lr=<value>`` (grid over ``good`` then
    ``bad``, two at a time), minimising ``metric`` under medianstop; return each trial and
    its output log by the value of ``lr``.  ``steps``: the steps of a whole training's reports.

    The good trials finish first; medianstop then stops the bad ones, whose callbacks end
    training cleanly: they print :data:`RETURNED` and exit 0 on their own within the grace
    period (60 s here: a loaded machine must not turn a clean stop into a kill).  Asserts that.
    """
    doc = native_doc(
        name,
        script,
        parameters=[
            {"name": "lr", "parameterType": "categorical", "feasibleSpace": {"list": [*good, *bad]}}
        ],
        objective={"type": "minimize", "objectiveMetricName": metric},
        algorithm="grid",
        parallel=2,
        max_trials=len(good) + len(bad),
        extra_spec={
            "metricsCollectorSpec": {"collector": {"kind": "Push"}},
            "earlyStopping": {
                "algorithmName": "medianstop",
                "algorithmSettings": [
                    {"name": "min_trials_required", "value": str(len(good))},
                    {"name": "start_step", "value": str(start_step)},
                ],
            },
        },
    )
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        create(store, doc, tmp_path)
        Controller(store, name, LocalExecutor(), poll_interval=0.05, stop_grace=60).run()
        experiment = store.get_experiment(name)
        out: dict[str, tuple[Trial, str]] = {}
        for trial in store.list_trials(name):
            path = log_path(experiment, trial)
            assert path is not None
            out[str(trial.parameters["lr"])] = (trial, Path(path).read_text())
        for lr in good:
            trial, log = out[lr]
            assert trial.status is TrialCondition.SUCCEEDED, (lr, trial.message, log[-3000:])
            got = [o.step for o in store.get_observations(name, trial.name, metric)]
            assert got == list(steps), (lr, got)
            assert f"{RETURNED} stopped=False" in log, log[-3000:]
        for lr in bad:
            trial, log = out[lr]
            assert trial.status is TrialCondition.EARLY_STOPPED, (lr, trial.message, log[-3000:])
            got = [o.step for o in store.get_observations(name, trial.name, metric)]
            assert got == list(steps[: len(got)]) and len(got) < len(steps), (lr, got)
            assert max(got) >= start_step, (lr, got)
            assert f"{RETURNED} stopped=True" in log, log[-3000:]
            assert (trial.message or "").endswith("(the trial ended on its own when asked to stop)")
            assert (tmp_path / "runs" / name / trial.name / "exitcode").read_text() == "0\n"
        return out
    finally:
        store.close()
