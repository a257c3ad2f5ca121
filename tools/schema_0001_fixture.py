"""Write ``tests/data/schema_0001.sql``: a database made by tunery at schema revision 0001.

Run it with the tunery of that release on ``PYTHONPATH`` (the commit before ``pending_outcome``
existed), e.g.::

    git worktree add /tmp/prev 1745b85
    PYTHONPATH=/tmp/prev python tools/schema_0001_fixture.py tests/data/schema_0001.sql
    git worktree remove /tmp/prev

It fills a throwaway SQLite database through that release's own ``Store`` (experiments native
and Katib, trials in every status, one with the ``"stopping"`` record that revision 0001 kept
in the cursor, observations with one thinned curve, algorithm state, leases, intents) and
writes its rows as portable ``INSERT`` statements, parents first, ids left to the database
(rows in id order).  ``tests/test_storage_migrations.py`` creates schema 0001 with the 0001
migration, loads the rows into SQLite and PostgreSQL, and opens them with the current code.

Placeholders the test replaces: ``@BASE@`` (a folder for the experiments' files) and
``@PYTHON@`` (the Python that runs the resumable experiment's trials).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from typing import Any

from tunery.model import (
    Experiment,
    ExperimentCondition,
    MetricSummary,
    Observation,
    Trial,
    TrialCondition,
)
from tunery.spec import parse_document
from tunery.storage import Store
from tunery.storage.schema import HEAD_REVISION
from tunery.thinning import THINNED_LABEL, Thinning

BASE = "@BASE@"
C = TrialCondition

SCRIPT = "import sys; print('score=' + sys.argv[1].split('=', 1)[1])"


def native(name: str, max_trials: int) -> dict[str, Any]:
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "score"},
            "algorithm": {"algorithmName": "random", "algorithmSettings": [
                {"name": "random_state", "value": "7"}
            ]},
            "parallelTrialCount": 1,
            "maxTrialCount": max_trials,
            "parameters": [
                {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            ],
            "trialTemplate": {
                "command": ["@PYTHON@", "-c", SCRIPT, "--x=${trialParameters.x}"]
            },
        },
    }  # fmt: skip


KATIB = {
    "apiVersion": "kubeflow.org/v1beta1",
    "kind": "Experiment",
    "metadata": {"name": "katib", "namespace": "kubeflow"},
    "spec": {
        "objective": {"type": "minimize", "goal": 0.001, "objectiveMetricName": "loss",
                      "additionalMetricNames": ["acc"]},
        "algorithm": {"algorithmName": "tpe"},
        "earlyStopping": {"algorithmName": "medianstop"},
        "maxTrialCount": 20,
        "parallelTrialCount": 3,
        "maxFailedTrialCount": 3,
        "parameters": [
            {"name": "lr", "parameterType": "double",
             "feasibleSpace": {"min": "0.01", "max": "0.05"}},
            {"name": "opt", "parameterType": "categorical",
             "feasibleSpace": {"list": ["sgd", "adam"]}},
        ],
        "trialTemplate": {
            "primaryContainerName": "training",
            "trialParameters": [{"name": "rate", "reference": "lr"},
                                {"name": "optimizer", "reference": "opt"}],
            "trialSpec": {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "training", "image": "local/train",
                     "command": ["python3", "train.py", "--lr=${trialParameters.rate}",
                                 "--opt=${trialParameters.optimizer}"]}
                ]}}},
            },
        },
    },
}  # fmt: skip


def experiment(doc: dict[str, Any], created: float) -> Experiment:
    spec = parse_document(doc)
    return Experiment(
        name=spec.name,
        spec=spec,
        document=doc,
        created_time=created,
        base_dir=BASE,
        runs_dir=f"{BASE}/runs",
    )


def fill(store: Store) -> None:
    # A Katib experiment with a trial in every status, and everything else a store holds.
    store.create_experiment(experiment(KATIB, 1000.0))
    store.set_experiment_status(
        "katib", ExperimentCondition.RUNNING, "ExperimentRunning", "running", start_time=1001.0
    )
    for index, status in enumerate(TrialCondition, start=1):
        done = not status.is_active
        store.create_trial(
            Trial(
                name=f"katib-{index:04d}",
                experiment="katib",
                index=index,
                parameters={"lr": 0.01 * index, "opt": "sgd" if index % 2 else "adam"},
                status=status,
                reason=f"Trial{status.value}",
                message=f"trial is {status.value.lower()}",
                labels={"tunery.dev/rung": str(index)},
                metrics={"loss": MetricSummary(0.1 * index, 0.5 * index, 0.2 * index)}
                if status is not C.CREATED
                else {},
                objective=0.1 * index if status in (C.SUCCEEDED, C.EARLY_STOPPED) else None,
                created_time=1000.0 + index,
                start_time=None if status is C.CREATED else 1000.5 + index,
                completion_time=1010.0 + index if done else None,
                handle=None
                if status is C.CREATED
                else {"executor": "local", "version": 1, "trial_dir": f"{BASE}/t{index}"},
                cursor=None
                if status is C.CREATED
                else {"source": f"{BASE}/t{index}/output.log", "collector": {"offset": 10 * index}},
            )
        )
    # A running trial whose controller was stopping it when it died: revision 0001 kept the
    # outcome as cursor["stopping"].
    stopping = {"status": "EarlyStopped", "reason": "TrialEarlyStopped", "message": "median"}
    running = store.get_trial("katib", "katib-0002")
    store.update_trial(
        "katib", running.name, cursor={**(running.cursor or {}), "stopping": stopping}
    )
    # One curve thinned (a small limit, so that the fixture stays short), one plain.
    rule = Thinning(8)
    count = 0
    for size in (6, 5, 9):
        stride, every = rule.advance(count, size)
        rows = [
            Observation("katib-0003", "loss", 1.0 / (n + 1), n, 2000.0 + n)
            for n in range(count, count + size)
            if rule.kept(n, stride)
        ]
        thin = {"loss": (rule.head, every)} if every > 1 else None
        count += size
        store.add_observations(
            "katib",
            "katib-0003",
            rows,
            metrics={"loss": MetricSummary(1.0 / count, 1.0, 1.0 / count)},
            cursor={"source": f"{BASE}/t3/output.log", "counts": {"loss": count}},
            thin=thin,
            labels={"tunery.dev/rung": "3", THINNED_LABEL: "loss"} if thin else None,
        )
    store.add_observations(
        "katib",
        "katib-0002",
        [
            Observation("katib-0002", "loss", 0.4, 0, 3000.0),
            Observation("katib-0002", "acc", None, 0, 3000.0),
            Observation("katib-0002", "loss", 0.3, 1, 3001.5),
        ],
        metrics={"loss": MetricSummary(0.3, 0.4, 0.3), "acc": MetricSummary()},
        cursor={**(running.cursor or {}), "stopping": stopping, "counts": {"loss": 2, "acc": 1}},
    )
    store.save_algorithm_state("katib", {"seen": [1, 2, 3], "rng": {"state": [5, 6]}})
    store.acquire_lease("katib", "gone-host:4242", 1020.0, 30.0)
    first = store.add_intent("katib", "KillTrial", "katib-0002", 1030.0)
    store.add_intent("katib", "StopExperiment", None, 1031.0)
    store.complete_intent(first, 1032.0)

    # A native experiment a controller can resume: one trial done, one that the dead
    # controller was killing (its process is gone), one more to run.
    store.create_experiment(experiment(native("resumable", 3), 1100.0))
    store.set_experiment_status(
        "resumable", ExperimentCondition.RUNNING, "ExperimentRunning", "running", start_time=1100.0
    )
    store.create_trial(
        Trial(
            name="resumable-0001",
            experiment="resumable",
            index=1,
            parameters={"x": 0.25},
            status=C.SUCCEEDED,
            reason="TrialSucceeded",
            message="Trial has succeeded",
            metrics={"score": MetricSummary(0.25, 0.25, 0.25)},
            objective=0.25,
            created_time=1101.0,
            start_time=1101.5,
            completion_time=1102.0,
        )
    )
    store.add_observations(
        "resumable",
        "resumable-0001",
        [Observation("resumable-0001", "score", 0.25, 0, 1101.9)],
        metrics={"score": MetricSummary(0.25, 0.25, 0.25)},
        cursor={
            "source": f"{BASE}/runs/resumable/resumable-0001/output.log",
            "counts": {"score": 1},
        },
    )
    trial_dir = f"{BASE}/runs/resumable/resumable-0002"
    store.create_trial(
        Trial(
            name="resumable-0002",
            experiment="resumable",
            index=2,
            parameters={"x": 0.5},
            status=C.RUNNING,
            reason="TrialRunning",
            message="Trial is running",
            created_time=1103.0,
            start_time=1103.5,
            # A process of another boot: the new controller finds it gone.
            handle={
                "executor": "local",
                "version": 1,
                "trial_dir": trial_dir,
                "pid": 2**22 - 1,
                "pgid": 2**22 - 1,
                "start_ticks": 1,
                "boot_id": "boot-of-the-previous-release",
                "started_at": 1103.5,
            },
            cursor={
                "source": f"{trial_dir}/output.log",
                "stopping": {"status": "Killed", "reason": "TrialKilled", "message": "by you"},
            },
        )
    )
    store.save_algorithm_state("resumable", {"random_state": 7})
    store.acquire_lease("resumable", "gone-host:4243", 1104.0, 30.0)
    done = store.add_intent("resumable", "KillTrial", "resumable-0002", 1104.5)
    store.complete_intent(done, 1104.6)


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        raise TypeError("no booleans in tunery's schema")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


#: Tables parents first; columns an id that the database assigns are left out.
TABLES = {
    "experiments": "name",
    "trials": "experiment, trial_index",
    "observations": "id",
    "algorithm_states": "experiment",
    "leases": "experiment",
    "intents": "id",
}


def dump(path: str) -> list[str]:
    conn = sqlite3.connect(path)
    lines = [
        "-- tunery's database at schema revision 0001, written by tools/schema_0001_fixture.py",
        f"-- with the tunery of that release (schema {HEAD_REVISION}).  Portable INSERTs, "
        "parents first; ids left to the database.",
    ]
    for table, order in TABLES.items():
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        kept = [c for c in columns if c != "id"]
        for row in conn.execute(f"SELECT {', '.join(kept)} FROM {table} ORDER BY {order}"):
            values = ", ".join(literal(v) for v in row)
            lines.append(f"INSERT INTO {table} ({', '.join(kept)}) VALUES ({values});")
    conn.close()
    return lines


def main() -> None:
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "old.db")
        with Store(db) as store:
            assert store.current_revision() == "0001", store.current_revision()
            fill(store)
        lines = dump(db)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
