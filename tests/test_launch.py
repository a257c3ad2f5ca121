"""The launch builder: each trial's own metrics path, and real trials reading only their own."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import create, katib_job_doc
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.launch import (
    CHECKPOINT_ENV,
    METRICS_ENV,
    build_launch,
    checkpoint_setting,
    metrics_mount,
    prepare_trial_dirs,
    rewrite_for_checkpoint,
    seed_for,
    trial_name_for,
)
from tunery.model import TrialCondition
from tunery.spec import parse_document
from tunery.storage import Store

#: A stand-in for Katib's mnist trial images: --lr decides the metrics, written where told.
TRAIN = textwrap.dedent(
    """
    import argparse, json, os, time
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--log-path", default="")
    p.add_argument("--format", default="text")
    p.add_argument("--sleep", type=float, default=0.3)
    a = p.parse_args()
    with open("ran.txt", "a") as ran:
        ran.write(os.environ.get("TUNERY_TRIAL_NAME", "?") + "\\n")
    offset = float(open("offset.txt").read()) if os.path.exists("offset.txt") else 0.0
    acc = round(a.lr * 10 + offset, 6)
    if a.format == "push":
        from tunery.collect.push import report_metrics
        for epoch in (1, 2):
            time.sleep(a.sleep / 2)
            value = acc * epoch / 2
            report_metrics({"accuracy": value, "loss": 1 - value})
    elif a.format == "tfevent":
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        for sub, value in (("test", acc), ("train", acc / 2)):
            w = EventFileWriter(os.path.join(a.log_path, sub))
            for step in range(2):
                v = summary_pb2.Summary.Value(tag="accuracy", simple_value=value * (step + 1) / 2)
                w.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=[v])))
            w.close()
    else:
        with open(a.log_path, "w") as f:  # no makedirs: the directory must exist, as in a pod
            for epoch in (1, 2):
                time.sleep(a.sleep / 2)
                value = acc * epoch / 2
                if a.format == "json":
                    f.write(json.dumps({"accuracy": str(value), "loss": str(1 - value)}) + "\\n")
                else:
                    f.write(f"{{metricName: accuracy, metricValue: {value}}}\\n")
                    f.write(f"{{metricName: loss, metricValue: {1 - value}}}\\n")
                f.flush()
    print("trained with lr", a.lr, flush=True)
    """
)


def katib_doc(
    name: str,
    collector: dict[str, Any],
    args: list[str],
    *,
    parallel: int = 1,
    max_trials: int = 3,
) -> dict[str, Any]:
    command = ["python3", "train.py", "--lr=${trialParameters.learningRate}", *args]
    return katib_job_doc(
        name,
        {"image": "example.org/mnist:1", "command": command},
        objective={
            "type": "maximize",
            "objectiveMetricName": "accuracy",
            "additionalMetricNames": [] if "tfevent" in " ".join(args) else ["loss"],
        },
        trial_parameters=[{"name": "learningRate", "reference": "lr"}],
        metricsCollectorSpec=collector,
        parallelTrialCount=parallel,
        maxTrialCount=max_trials,
    )


FILE_TEXT = {
    "source": {
        "filter": {"metricsFormat": [r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}"]},
        "fileSystemPath": {"path": "/katib/mnist.log", "kind": "File"},
    },
    "collector": {"kind": "File"},
}
FILE_JSON = {
    "source": {"fileSystemPath": {"path": "/katib/mnist.json", "kind": "File", "format": "JSON"}},
    "collector": {"kind": "File"},
}
TF_EVENTS = {
    "source": {"fileSystemPath": {"path": "/mnist-with-summaries-logs/test", "kind": "Directory"}},
    "collector": {"kind": "TensorFlowEvent"},
}
PUSH: dict[str, Any] = {"collector": {"kind": "Push"}}
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "push": (PUSH, ["--format=push"]),
    "file-text": (FILE_TEXT, ["--log-path=/katib/mnist.log"]),
    "file-json": (FILE_JSON, ["--log-path=/katib/mnist.json", "--format=json"]),
    "tfevent": (TF_EVENTS, ["--log-path=/mnist-with-summaries-logs", "--format=tfevent"]),
}


# --------------------------------------------------------------------------- build_launch


def _launch(doc: dict[str, Any], tmp_path: Path, trial: str = "e-0001") -> Any:
    spec = parse_document(doc)
    return build_launch(
        spec,
        experiment=spec.name,
        trial_name=trial,
        parameters={"lr": 0.05},
        runs_dir=str(tmp_path / "runs"),
        base_dir=str(tmp_path),
    )


def test_file_collector_directory_becomes_the_trials_own(tmp_path: Path) -> None:
    launch = _launch(katib_doc("e", *CASES["file-text"]), tmp_path)
    own = tmp_path / "runs" / "e" / "e-0001" / "metrics"
    assert launch.metrics_path == str(own / "mnist.log")
    assert f"--log-path={own}/mnist.log" in launch.argv[2]
    assert "/katib" not in launch.argv[2]
    assert launch.env[METRICS_ENV] == str(own / "mnist.log")
    assert launch.fresh_dirs == (str(own),)
    other = _launch(katib_doc("e", *CASES["file-text"]), tmp_path, "e-0002")
    assert other.metrics_path != launch.metrics_path


def test_tfevent_directory_is_rooted_where_the_trial_writes(tmp_path: Path) -> None:
    # The collector reads /mnist-with-summaries-logs/test; the trial is told the parent.
    launch = _launch(katib_doc("e", *CASES["tfevent"]), tmp_path)
    own = tmp_path / "runs" / "e" / "e-0001" / "metrics"
    assert launch.metrics_path == str(own / "test")
    assert f"--log-path={own} " in launch.argv[2] + " "


def test_file_in_the_root_directory_mounts_only_the_file(tmp_path: Path) -> None:
    collector = {
        "source": {"fileSystemPath": {"path": "/metrics.log", "kind": "File"}},
        "collector": {"kind": "File"},
    }
    launch = _launch(
        katib_doc("e", collector, ["--log-path=/metrics.log", "--d=/data/x"]), tmp_path
    )
    own = tmp_path / "runs" / "e" / "e-0001" / "metrics" / "metrics.log"
    assert launch.metrics_path == str(own)
    assert f"--log-path={own}" in launch.argv[2]
    assert "--d=/data/x" in launch.argv[2]


def test_stdout_collector_reads_the_output_log(tmp_path: Path) -> None:
    doc = katib_doc("e", {"collector": {"kind": "StdOut"}}, [])
    launch = _launch(doc, tmp_path)
    assert launch.metrics_path is None
    assert launch.fresh_dirs == ()
    assert METRICS_ENV not in launch.env
    assert metrics_mount(parse_document(doc), str(tmp_path)) is None


def test_push_collector_reads_the_trials_own_push_file(tmp_path: Path) -> None:
    from tunery.collect.push import COLLECTOR_ENV

    launch = _launch(katib_doc("e", *CASES["push"]), tmp_path)
    own = tmp_path / "runs" / "e" / "e-0001" / "metrics"
    assert launch.metrics_path == str(own / "push.jsonl")
    assert launch.env[METRICS_ENV] == launch.metrics_path
    assert launch.env[COLLECTOR_ENV] == "Push"
    assert launch.fresh_dirs == (str(own),) and not launch.metrics_is_dir
    other = _launch(katib_doc("e", {"collector": {"kind": "StdOut"}}, []), tmp_path)
    assert other.env[COLLECTOR_ENV] == "StdOut"


def test_pbt_checkpoints_and_metrics_mount_together(tmp_path: Path) -> None:
    doc = katib_doc(
        "e",
        {
            "source": {"fileSystemPath": {"path": "/var/log/katib/m.log", "kind": "File"}},
            "collector": {"kind": "File"},
        },
        ["--log-path=/var/log/katib/m.log", "--ckpt=/var/log/katib/checkpoints/"],
    )
    doc["spec"]["algorithm"] = {
        "algorithmName": "pbt",
        "algorithmSettings": [
            {"name": "suggestion_trial_dir", "value": "/var/log/katib/checkpoints/"},
            {"name": "n_population", "value": "5"},
            {"name": "truncation_threshold", "value": "0.4"},
        ],
    }
    doc["spec"]["parallelTrialCount"] = 5
    doc["spec"]["maxTrialCount"] = 10
    launch = _launch(doc, tmp_path)
    exp = tmp_path / "runs" / "e"
    assert f"--log-path={exp}/e-0001/metrics/m.log" in launch.argv[2]
    assert f"--ckpt={exp}/checkpoints/e-0001/" in launch.argv[2]


def test_prepare_trial_dirs_empties_leftovers(tmp_path: Path) -> None:
    launch = _launch(katib_doc("e", *CASES["file-text"]), tmp_path)
    prepare_trial_dirs(launch)
    Path(launch.metrics_path).write_text("{metricName: accuracy, metricValue: 0.99}\n")
    prepare_trial_dirs(launch)
    assert os.listdir(launch.fresh_dirs[0]) == []


def test_relative_native_path_needs_a_per_trial_working_dir_when_parallel() -> None:
    from tunery.errors import SpecError

    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "rel"},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "acc"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 2,
            "maxTrialCount": 4,
            "parameters": [
                {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            ],
            "metricsCollectorSpec": {
                "collector": {"kind": "File"},
                "source": {"fileSystemPath": {"path": "m.log", "kind": "File"}},
            },
            "trialTemplate": {"command": ["python", "t.py", "${trialParameters.x}"]},
        },
    }
    with pytest.raises(SpecError, match=r"fileSystemPath\.path.*parallel trials"):
        parse_document(doc)
    doc["spec"]["parallelTrialCount"] = 1  # one at a time: a leftover is removed at each start
    parse_document(doc)
    doc["spec"]["parallelTrialCount"] = 2
    doc["spec"]["trialTemplate"]["trialParameters"] = [
        {"name": "x", "reference": "x"},
        {"name": "t", "reference": "${trialSpec.Name}"},
    ]
    doc["spec"]["trialTemplate"]["workingDir"] = "work/${trialParameters.t}"
    parse_document(doc)


# --------------------------------------------------------------------------- real trials


def _run(tmp_path: Path, case: str, parallel: int, name: str = "m") -> list[Any]:
    (tmp_path / "train.py").write_text(TRAIN)
    collector, args = CASES[case]
    doc = katib_doc(name, collector, args, parallel=parallel, max_trials=3)
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    if store.find_experiment(name) is None:
        create(store, doc, tmp_path)
    Controller(store, name, LocalExecutor(), poll_interval=0.05).run()
    trials = store.list_trials(name)
    store.close()
    return trials


def _assert_own_metrics(trials: list[Any], offset: float = 0.0) -> None:
    assert len(trials) == 3
    for t in trials:
        assert t.status is TrialCondition.SUCCEEDED, (t.name, t.reason, t.message)
        # The trial's last accuracy is lr * 10 (+ offset): its own value, not another trial's.
        expected = float(t.parameters["lr"]) * 10 + offset
        assert t.metrics["accuracy"].latest == pytest.approx(expected, rel=1e-4)
        assert f"/{t.name}/metrics" in t.cursor["source"]


@pytest.mark.integration
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("parallel", [1, 3])
def test_each_trial_is_credited_with_its_own_metrics(
    tmp_path: Path, case: str, parallel: int
) -> None:
    _assert_own_metrics(_run(tmp_path, case, parallel))


@pytest.mark.integration
def test_delete_and_run_again_never_reads_the_old_run(tmp_path: Path) -> None:
    _assert_own_metrics(_run(tmp_path, "file-json", 1))
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    store.delete_experiment("m")
    store.close()
    # Same names, same trial directories; the trials now report other values.
    (tmp_path / "offset.txt").write_text("1")
    _assert_own_metrics(_run(tmp_path, "file-json", 1), offset=1.0)


def test_dry_run_says_where_each_trials_metrics_are(tmp_path: Path) -> None:
    import yaml

    from tests.helpers import tunery_ok

    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(katib_doc("dry", *CASES["file-text"], parallel=2)))
    out = tunery_ok("run", str(path), "--dry-run", "--runs-dir", "r", cwd=tmp_path, env={}).stdout
    runs = tmp_path / "r" / "dry"
    assert f"metrics: {runs}/dry-0001/metrics/mnist.log" in out
    assert f"metrics: {runs}/dry-0002/metrics/mnist.log" in out
    assert f"--log-path={runs}/dry-0001/metrics/mnist.log" in out


def test_validate_warns_when_the_trial_never_names_the_metrics_path() -> None:
    from tunery.spec import spec_warnings

    named = parse_document(katib_doc("e", *CASES["file-text"]))
    assert spec_warnings(named) == []
    tf_parent = parse_document(katib_doc("e", *CASES["tfevent"]))
    assert spec_warnings(tf_parent) == []
    hidden = parse_document(katib_doc("e", FILE_TEXT, ["--data=/katibdata/x"]))
    (warning,) = spec_warnings(hidden)
    assert warning.startswith("spec.metricsCollectorSpec.source.fileSystemPath.path:")
    assert "/katib/mnist.log" in warning


@pytest.mark.integration
def test_trials_and_the_ui_say_where_each_trials_metrics_are(tmp_path: Path) -> None:
    import json

    from fastapi.testclient import TestClient

    from tests.helpers import tunery_ok
    from tunery.ui.app import create_app

    trials = _run(tmp_path, "file-text", 2)
    db = f"sqlite:///{tmp_path / 't.db'}"
    rows = json.loads(tunery_ok("trials", "m", "--db", db, "--json", cwd=tmp_path, env={}).stdout)
    runs = tmp_path / "runs" / "m"
    assert {r["name"]: r["metricsPath"] for r in rows} == {
        t.name: str(runs / t.name / "metrics" / "mnist.log") for t in trials
    }
    text = tunery_ok("trials", "m", "--db", db, cwd=tmp_path, env={}).stdout
    assert (
        f"metrics (/katib/mnist.log): each trial's own copy, {runs}/<trial>/metrics/mnist.log"
        in (text.replace("\n", ""))
    )
    store = Store(db)
    try:
        app = create_app(store, "t" * 32, runs_dir=str(tmp_path / "runs"))
        client = TestClient(app, base_url="http://127.0.0.1")
        got = client.get("/api/experiments/m/trials/m-0002").json()
        assert got["metricsPath"] == str(runs / "m-0002" / "metrics" / "mnist.log")
    finally:
        store.close()


@pytest.mark.integration
def test_kill_9_and_resume_keeps_each_trials_own_metrics(tmp_path: Path) -> None:
    import json

    import yaml

    from tests.helpers import kill_9_runs, tunery_ok

    (tmp_path / "train.py").write_text(TRAIN)
    collector, args = CASES["file-json"]
    doc = katib_doc("crash", collector, [*args, "--sleep=0.8"], parallel=3, max_trials=6)
    path = tmp_path / "e.yaml"
    path.write_text(yaml.safe_dump(doc))
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "t.db")}
    kill_9_runs(path, tmp_path, env, tmp_path / "ran.txt", (0.5, 0.3))
    tunery_ok("resume", "crash", "-q", cwd=tmp_path, env=env)
    rows = json.loads(tunery_ok("trials", "crash", "--json", cwd=tmp_path, env=env).stdout)
    assert len(rows) == 6
    for r in rows:
        assert r["status"] == "Succeeded", r
        expected = float(r["parameters"]["lr"]) * 10
        assert r["metrics"]["accuracy"]["latest"] == pytest.approx(expected, rel=1e-4)
        assert r["metricsPath"].endswith(f"/{r['name']}/metrics/mnist.json")
    started = (tmp_path / "ran.txt").read_text().split()
    assert sorted(started) == sorted(r["name"] for r in rows), "a trial ran twice or not at all"


# ----------------------------------------------------- checkpoints (from test_suggest_pbt.py)


def test_trial_names_and_seed() -> None:
    assert trial_name_for("exp", 7) == "exp-0007"
    assert trial_name_for("exp", 12345) == "exp-12345"
    assert seed_for("exp") == seed_for("exp") != seed_for("exp2")


def test_checkpoint_setting_and_rewrite() -> None:
    from tests.test_suggest_pbt import CKPT, pbt_spec
    from tunery.testing.suggest import default_parameters, make_spec

    assert checkpoint_setting(pbt_spec()) == CKPT
    assert checkpoint_setting(make_spec(default_parameters(), "random")) is None
    own = "/runs/exp/checkpoints/exp-0003"
    argv, env = rewrite_for_checkpoint(
        CKPT,
        own,
        [
            "python",
            "--checkpoint=/var/log/katib/checkpoints/",
            "/var/log/katib/checkpoints",
            "/var/log/katib/checkpoints/sub/f.pt",
            "/var/log/katib/checkpoints-old/",
            "/x/var/log/katib/checkpoints/",
        ],
        {"CKPT": "/var/log/katib/checkpoints/a", "OTHER": "/var/log"},
    )
    assert argv == (
        "python",
        f"--checkpoint={own}/",
        own,
        f"{own}/sub/f.pt",
        "/var/log/katib/checkpoints-old/",
        "/x/var/log/katib/checkpoints/",
    )
    assert env == {"CKPT": f"{own}/a", "OTHER": "/var/log", CHECKPOINT_ENV: own}


def test_rewrite_inside_a_shell_script_quotes_the_path() -> None:
    own = "/my runs/exp/checkpoints/exp-0001"
    script = "python t.py --checkpoint=/ckpt/ && ls '/ckpt/x' \"/ckpt\""
    argv, _ = rewrite_for_checkpoint("/ckpt", own, ["sh", "-c", script], {})
    assert argv[2] == (f"python t.py --checkpoint='{own}'/ && ls '{own}/x' \"{own}\"")
    out = subprocess.run(
        ["sh", "-c", argv[2].replace("python t.py", "echo").replace("&& ls", "&& echo")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split("\n")[0] == f"--checkpoint={own}/"
