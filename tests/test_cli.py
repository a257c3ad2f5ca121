"""The command line as a user meets it: real processes, real files, real SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import SCORE_IS_X, kill_9_runs, native_doc, write_yaml

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "examples" / "quickstart"


def tunery(
    *args: str, cwd: Path, check: int | None = 0, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_validate_quickstart_files(tmp_path: Path) -> None:
    for name in ("experiment.yaml", "native.yaml"):
        out = tunery("validate", str(QUICKSTART / name), cwd=tmp_path)
        assert "is valid" in out.stdout


def test_validate_names_every_objective_and_the_constraints(tmp_path: Path) -> None:
    example = QUICKSTART.parent / "multiobjective" / "experiment.yaml"
    out = tunery("validate", str(example), cwd=tmp_path).stdout
    assert "maximize accuracy, minimize latency_ms, 1 constraint)" in out, out


def test_validate_refuses_bad_file_with_one_line(tmp_path: Path) -> None:
    doc = native_doc("bad", SCORE_IS_X)
    doc["spec"]["parameters"][0]["feasibleSpace"]["min"] = "5"  # min > max
    path = write_yaml(tmp_path / "bad.yaml", doc)
    out = tunery("validate", str(path), cwd=tmp_path, check=2)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "spec.parameters[0].feasibleSpace" in lines[0]
    assert "Traceback" not in out.stderr


def test_nas_algorithm_without_nas_config_is_refused_with_one_line(tmp_path: Path) -> None:
    doc = native_doc("later", SCORE_IS_X, algorithm="darts")
    path = write_yaml(tmp_path / "darts.yaml", doc)
    for command in ("validate", "run"):
        out = tunery(command, str(path), cwd=tmp_path, check=2)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert lines[0].startswith("error: spec.nasConfig: is required by algorithm darts")
    doc = native_doc("unknown", SCORE_IS_X, algorithm="simulated-annealing")
    out = tunery("validate", str(write_yaml(tmp_path / "u.yaml", doc)), cwd=tmp_path, check=2)
    assert "spec.algorithm.algorithmName" in out.stderr


def test_validate_warns_about_missing_scripts_and_foreign_placeholders(tmp_path: Path) -> None:
    doc = native_doc("cmd", SCORE_IS_X)
    doc["spec"]["trialTemplate"]["command"] = [
        "python3",
        "train.py",
        "--x=${trialParameters.x}",
        "--run={{workflow.name}}",
    ]
    path = write_yaml(tmp_path / "exp.yaml", doc)
    out = tunery("validate", str(path), cwd=tmp_path)
    assert "experiment cmd is valid" in out.stdout
    warnings = out.stderr.strip().splitlines()
    assert len(warnings) == 2, out.stderr
    assert warnings[0].startswith(
        f"warning: spec.trialTemplate.command[1]: train.py does not exist in {tmp_path} "
    )
    assert warnings[1].startswith(
        "warning: spec.trialTemplate.command[3]: {{workflow.name}} is an Argo Workflows placeholder"
    )
    got = json.loads(tunery("validate", str(path), "--json", cwd=tmp_path).stdout)
    assert [len(r["warnings"]) for r in got] == [2]
    # `run` says the same before its (dry) run
    dry = tunery("run", str(path), "--dry-run", cwd=tmp_path)
    assert dry.stderr.strip().splitlines() == warnings
    (tmp_path / "train.py").write_text("print('score=1')\n")
    doc["spec"]["trialTemplate"]["command"].pop()
    out = tunery("validate", str(write_yaml(path, doc)), cwd=tmp_path)
    assert out.stderr == ""


def test_nas_config_with_parameters_is_refused_with_one_line(tmp_path: Path) -> None:
    path = REPO / "tests" / "data" / "spec" / "invalid" / "nas-config.yaml"
    for command in ("validate", "run"):
        out = tunery(command, str(path), cwd=tmp_path, check=2)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, out.stderr
        assert "only one of spec.parameters and spec.nasConfig" in lines[0]


def test_bad_flag_is_one_line_exit_2(tmp_path: Path) -> None:
    out = tunery("run", "x.yaml", "--parallel", "zero", cwd=tmp_path, check=2)
    assert len(out.stderr.strip().splitlines()) == 1
    assert "--parallel" in out.stderr
    out = tunery("get", "nope", cwd=tmp_path, check=2)
    assert len(out.stderr.strip().splitlines()) == 1
    assert "nope" in out.stderr


def test_run_json_prints_only_the_json_and_skips_the_console(tmp_path: Path) -> None:
    """`tunery run --json` (scripts, benchmarks/dispatch.py --end-to-end) prints nothing but
    the JSON, so it does not import rich (tens of ms of every run's start)."""
    path = write_yaml(tmp_path / "exp.yaml", native_doc("quiet", SCORE_IS_X, max_trials=2))
    code = (
        "import sys\n"
        "from tunery.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    print('rich' in sys.modules, file=sys.stderr)\n"
    )
    for flags, rich in ((["--json"], "False"), (["-q"], "True")):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                "run",
                str(path),
                "--db",
                str(tmp_path / f"{rich}.db"),
                *flags,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert out.stderr.strip().splitlines()[-1] == rich, (flags, out.stderr)
        if rich == "False":
            assert json.loads(out.stdout)["trials"]["succeeded"] == 2


def test_run_then_read_commands_json_shapes(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("shapes", SCORE_IS_X, max_trials=3))
    out = tunery("run", str(path), "--json", cwd=tmp_path)
    got = json.loads(out.stdout)
    assert got["name"] == "shapes" and got["status"] == "Succeeded"
    assert got["reason"] == "ExperimentMaxTrialsReached"
    assert got["trials"] == {
        "total": 3,
        "succeeded": 3,
        "failed": 0,
        "running": 0,
        "earlyStopped": 0,
        "killed": 0,
        "metricsUnavailable": 0,
    }
    trial_keys = {
        "name",
        "index",
        "status",
        "parameters",
        "metrics",
        "objective",
        "labels",
        "createdTime",
        "startTime",
        "completionTime",
        "reason",
        "message",
        "metricsPath",
        "objectives",  # each objective's value (one here)
        "feasible",  # null: no constraints
    }
    assert set(got["bestTrial"]) == trial_keys
    assert got["bestTrial"]["objectives"] == [got["bestTrial"]["objective"]]
    assert set(got["bestTrial"]["metrics"]["score"]) == {"min", "max", "latest"}

    assert json.loads(tunery("get", "shapes", "--json", cwd=tmp_path).stdout) == got
    listed = json.loads(tunery("list", "--json", cwd=tmp_path).stdout)
    assert listed == [got]
    trials = json.loads(tunery("trials", "shapes", "--json", cwd=tmp_path).stdout)
    assert len(trials) == 3 and all(set(t) == trial_keys for t in trials)
    best = json.loads(tunery("best", "shapes", "--json", cwd=tmp_path).stdout)
    assert best == got["bestTrial"]
    assert best["objective"] == max(t["objective"] for t in trials)

    table = tunery("trials", "shapes", cwd=tmp_path).stdout
    assert "shapes-0001" in table and "Succeeded" in table

    # Running the same file again reports the completed experiment; nothing re-runs.
    again = tunery("run", str(path), cwd=tmp_path)
    assert "already completed" in again.stdout
    assert len(json.loads(tunery("trials", "shapes", "--json", cwd=tmp_path).stdout)) == 3


def test_export_round_trips(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("rt", SCORE_IS_X, parallel=1, max_trials=1))
    tunery("run", str(path), "-q", cwd=tmp_path)
    exported = tunery("export", "rt", "-o", "yaml", cwd=tmp_path).stdout
    (tmp_path / "exported.yaml").write_text(exported)
    again = tunery("export", "rt", "-o", "json", cwd=tmp_path).stdout
    assert yaml.safe_load(exported) == json.loads(again)
    from tunery.spec import load_file

    assert load_file(tmp_path / "exported.yaml")[0].spec == load_file(path)[0].spec
    csv_text = tunery("export", "rt", "-o", "csv", cwd=tmp_path).stdout
    header, row = csv_text.strip().splitlines()
    assert header.startswith("name,index,status,reason,objective,param:x,metric:score:min")
    assert row.startswith("rt-0001,1,Succeeded")


def test_dry_run_prints_argv_and_stores_nothing(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("dry", SCORE_IS_X, parallel=3))
    out = tunery("run", str(path), "--dry-run", cwd=tmp_path)
    lines = [line for line in out.stdout.splitlines() if line.startswith("dry-")]
    assert [line.split(":")[0] for line in lines] == ["dry-0001", "dry-0002", "dry-0003"]
    assert out.stdout.count("--x=") == 3 and "${" not in out.stdout
    assert not (tmp_path / "tunery.db").exists()


def test_dry_run_shows_each_pbt_trial_its_own_checkpoint_directory(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "pbt" / "experiment.yaml"
    runs = tmp_path / "runs"
    out = tunery("run", str(example), "--dry-run", "--runs-dir", str(runs), cwd=tmp_path)
    lines = [line for line in out.stdout.splitlines() if line.startswith("simple-pbt-")]
    assert lines
    for line in lines:
        trial = line.split(":")[0]
        assert f"--checkpoint={runs / 'simple-pbt' / 'checkpoints' / trial}" in line, line
        assert "/var/log/katib" not in line
    assert not (tmp_path / "tunery.db").exists()


def test_overrides_and_name(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("over", SCORE_IS_X, max_trials=5))
    out = tunery(
        "run",
        str(path),
        "--name",
        "renamed",
        "--max-trials",
        "2",
        "--parallel",
        "1",
        "--json",
        cwd=tmp_path,
    )
    got = json.loads(out.stdout)
    assert got["name"] == "renamed" and got["trials"]["total"] == 2
    bad = tunery("run", str(path), "--max-trials", "1", "--parallel", "2", cwd=tmp_path, check=2)
    assert "parallelTrialCount" in bad.stderr


def test_failed_experiment_exits_1(tmp_path: Path) -> None:
    doc = native_doc("fails", "import sys; sys.exit(1)", parallel=1, max_trials=3, max_failed=1)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    out = tunery("run", str(path), cwd=tmp_path, check=1)
    assert "ExperimentMaxFailedTrialsReached" in out.stdout


def test_no_trial_succeeded_exits_1_and_says_why_last(tmp_path: Path) -> None:
    # No maxFailedTrialCount: Katib's status is Succeeded (max trials reached) all the same.
    script = "print('score=0.5')\nimport sklearn_is_not_here_either\n"
    doc = native_doc("nothing", script, parallel=1, max_trials=2)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    why = "exit code 1: ModuleNotFoundError: No module named 'sklearn_is_not_here_either'"
    out = tunery("run", str(path), cwd=tmp_path, check=1)
    lines = out.stdout.strip().splitlines()
    # the live line of each finished trial, then the summary; the last line says why
    assert sum(1 for line in lines if line.strip().startswith("Failed") and why in line) == 2
    assert "experiment nothing: Succeeded (ExperimentMaxTrialsReached" in out.stdout
    assert lines[-1] == f"no trial succeeded: 2 Failed (last: nothing-0002: {why})"

    again = tunery("run", str(path), cwd=tmp_path, check=1)
    assert "already completed" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == lines[-1]
    resumed = tunery("resume", "nothing", "--json", cwd=tmp_path, check=1)
    got = json.loads(resumed.stdout)
    assert (got["status"], got["trials"]["failed"], got["bestTrial"]) == ("Succeeded", 2, None)
    assert resumed.stderr.strip().splitlines()[-1] == lines[-1]
    assert json.loads(tunery("get", "nothing", "--json", cwd=tmp_path).stdout) == got

    table = tunery("trials", "nothing", cwd=tmp_path).stdout
    assert f"ExitCode: {why}" in table
    listed = json.loads(tunery("trials", "nothing", "--json", cwd=tmp_path).stdout)
    assert [(t["reason"], t["message"]) for t in listed] == [("ExitCode", why)] * 2


def test_stop_and_delete(tmp_path: Path) -> None:
    doc = native_doc("stoppy", "import time; time.sleep(60)", parallel=2, max_trials=4)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunery", "run", str(path), "-q"],
        cwd=tmp_path,
        env={**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_running(tmp_path, "stoppy", 2)
        out = tunery("delete", "stoppy", "-y", cwd=tmp_path, check=2)
        assert "tunery stop stoppy" in out.stderr
        tunery("stop", "stoppy", cwd=tmp_path)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    got = json.loads(tunery("get", "stoppy", "--json", cwd=tmp_path).stdout)
    assert got["reason"] == "ExperimentStopped"
    assert got["trials"]["killed"] == 2
    tunery("delete", "stoppy", "-y", cwd=tmp_path)
    assert json.loads(tunery("list", "--json", cwd=tmp_path).stdout) == []


def _wait_for_running(cwd: Path, name: str, n: int, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        proc = tunery("trials", name, "--json", cwd=cwd, check=None)
        if proc.returncode == 0:
            trials = json.loads(proc.stdout)
            if sum(t["status"] == "Running" for t in trials) >= n:
                return trials
        time.sleep(0.2)
    raise AssertionError(f"{name}: fewer than {n} trials running after {timeout}s")


@pytest.mark.integration
def test_kill_9_controller_then_resume_loses_nothing(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    script = f"""
    import os, sys, time
    name = os.environ["TUNERY_TRIAL_NAME"]
    with open({str(ran)!r}, "a") as fh:
        fh.write(name + "\\n")
    x = float(sys.argv[1].split("=", 1)[1])
    time.sleep(0.3 + x)
    print(f"score={{x}}", flush=True)
    """
    doc = native_doc("crashy", script, parallel=3, max_trials=12)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db")}
    kill_9_runs(path, tmp_path, env, ran, (0.6, 0.2, 0.9))
    out = tunery("resume", "crashy", "--json", cwd=tmp_path)
    got = json.loads(out.stdout)
    assert got["status"] == "Succeeded" and got["reason"] == "ExperimentMaxTrialsReached"
    trials = json.loads(tunery("trials", "crashy", "--json", cwd=tmp_path).stdout)
    assert len(trials) == 12
    assert all(t["status"] == "Succeeded" for t in trials), trials
    started = ran.read_text().split()
    assert sorted(started) == sorted(t["name"] for t in trials), "a trial ran twice or not at all"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_kills_trial_trees_and_leaves_experiment_resumable(
    tmp_path: Path, sig: signal.Signals
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    script = f"""
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(os.path.join({str(pids)!r}, str(child.pid)), "w").close()
    open(os.path.join({str(pids)!r}, str(os.getpid())), "w").close()
    time.sleep(60)
    """
    doc = native_doc("ctrlc", script, parallel=2, max_trials=4)
    path = write_yaml(tmp_path / "exp.yaml", doc)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunery", "run", str(path)],
        cwd=tmp_path,
        env={**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_running(tmp_path, "ctrlc", 2)
        deadline = time.time() + 20
        while len(list(pids.iterdir())) < 4 and time.time() < deadline:
            time.sleep(0.1)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    assert "tunery resume ctrlc" in out
    for pid_file in pids.iterdir():
        pid = int(pid_file.name)
        deadline = time.time() + 5
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"process {pid} of a trial survived Ctrl-C"
    # Nothing runs any more: get, list and the JSON say Interrupted, not Running.
    got = json.loads(tunery("get", "ctrlc", "--json", cwd=tmp_path).stdout)
    assert got["status"] == "Interrupted" and got["trials"]["killed"] == 2
    assert got["reason"] == "ExperimentInterrupted"
    assert "tunery resume ctrlc" in got["message"]
    shown = tunery("get", "ctrlc", cwd=tmp_path).stdout
    assert "ctrlc: Interrupted (ExperimentInterrupted" in shown
    listed = json.loads(tunery("list", "--status", "interrupted", "--json", cwd=tmp_path).stdout)
    assert [e["name"] for e in listed] == ["ctrlc"]
    assert json.loads(tunery("list", "--status", "Running", "--json", cwd=tmp_path).stdout) == []
    assert "Interrupted" in tunery("list", cwd=tmp_path).stdout


@pytest.mark.integration
def test_resume_runs_again_what_ctrl_c_killed_without_using_budget(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    release = tmp_path / "release"
    script = f"""
    import os, sys, time
    with open({str(ran)!r}, "a") as fh:
        fh.write(os.environ["TUNERY_TRIAL_NAME"] + "\\n")
    x = float(sys.argv[1].split("=", 1)[1])
    # The first two trials wait for Ctrl-C (up to 60 s); the reruns finish at once.
    deadline = time.time() + 60
    while not os.path.exists({str(release)!r}) and time.time() < deadline:
        time.sleep(0.05)
    print(f"score={{x}}", flush=True)
    """
    doc = native_doc("again", script, parallel=2, max_trials=3)
    doc["spec"]["maxFailedTrialCount"] = 1
    path = write_yaml(tmp_path / "exp.yaml", doc)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunery", "run", str(path)],
        cwd=tmp_path,
        env={**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_running(tmp_path, "again", 2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, out
    release.touch()
    got = json.loads(tunery("get", "again", "--json", cwd=tmp_path).stdout)
    assert got["status"] == "Interrupted" and got["trials"]["killed"] == 2, got
    killed = json.loads(tunery("trials", "again", "--json", cwd=tmp_path).stdout)
    assert [(t["status"], t["reason"]) for t in killed] == [("Killed", "Interrupted")] * 2
    # Two Killed trials do not reach maxFailedTrialCount 1, nor use the budget of 3.
    resumed = json.loads(tunery("resume", "again", "--json", cwd=tmp_path).stdout)
    assert resumed["status"] == "Succeeded", resumed
    assert resumed["reason"] == "ExperimentMaxTrialsReached"
    trials = json.loads(tunery("trials", "again", "--json", cwd=tmp_path).stdout)
    by_name = {t["name"]: t for t in trials}
    succeeded = [t for t in trials if t["status"] == "Succeeded"]
    assert len(succeeded) == 3 and len(trials) == 5, trials
    reruns = {t["labels"].get("tunery/rerun-of"): t for t in succeeded}
    for old in killed:
        again = reruns[old["name"]]
        assert again["parameters"] == old["parameters"]
        assert by_name[old["name"]]["status"] == "Killed"
    started = ran.read_text().split()
    assert sorted(started) == sorted(by_name), "every trial, interrupted or not, ran once"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


_CM_EXPERIMENT = """\
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: from-configmap, namespace: team}
spec:
  objective: {type: maximize, objectiveMetricName: score}
  algorithm: {algorithmName: random}
  parallelTrialCount: 1
  maxTrialCount: 2
  resumePolicy: LongRunning
  parameters:
    - {name: x, parameterType: double, feasibleSpace: {min: "0", max: "1"}}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters: [{name: x, reference: x}]
    configMap: {configMapName: templates, configMapNamespace: team, templatePath: job.yaml}
"""

_CM = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: templates}
data:
  job.yaml: |-
    apiVersion: batch/v1
    kind: Job
    spec:
      template:
        spec:
          containers:
            - name: training-container
              image: example.org/score:1
              command: [python, score.py, "--x=${trialParameters.x}"]
          restartPolicy: Never
"""


@pytest.mark.slow
def test_configmap_given_with_option_runs_and_resumes_without_it(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(SCORE_IS_X)
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(_CM_EXPERIMENT)
    maps = tmp_path / "maps" / "templates.yaml"
    maps.parent.mkdir()
    maps.write_text(_CM)
    for command in ("validate", "run"):
        out = tunery(command, str(experiment), cwd=tmp_path, check=2)
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert "spec.trialTemplate.configMap.configMapName" in out.stderr
        assert "team/templates" in out.stderr and "--configmap" in out.stderr
    tunery("validate", str(experiment), "--configmap", str(maps.parent), cwd=tmp_path)
    tunery(
        "run", "-q", str(experiment), "--configmap", str(maps), "--max-trials", "1", cwd=tmp_path
    )
    # The stored experiment holds the inlined template: resume needs no ConfigMap.
    tunery("resume", "-q", "from-configmap", "--max-trials", "2", cwd=tmp_path)
    shown = json.loads(tunery("trials", "from-configmap", "--json", cwd=tmp_path).stdout)
    assert [t["status"] for t in shown] == ["Succeeded", "Succeeded"]
    # The conventional directory next to the experiment file.
    (tmp_path / "configmaps").mkdir()
    (tmp_path / "configmaps" / "t.yml").write_text(_CM)
    tunery("validate", str(experiment), cwd=tmp_path)


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("custom-collector.yaml", "spec.metricsCollectorSpec.collector.kind"),
        ("prometheus-collector.yaml", "spec.metricsCollectorSpec.collector.kind"),
        ("container-without-command.yaml", "containers[0].command"),
    ],
)
def test_shapes_that_cannot_run_locally_fail_validate_and_run(
    tmp_path: Path, name: str, where: str
) -> None:
    path = REPO / "tests" / "data" / "spec" / "invalid" / name
    for command in ("validate", "run"):
        out = tunery(command, str(path), cwd=tmp_path, check=2)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and where in lines[0] and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "tunery-runs").exists()


# --------------------------------------------------------------------------- namespaces


def test_the_same_name_in_namespaces_runs_lists_and_deletes_apart(tmp_path: Path) -> None:
    doc = native_doc("twin", SCORE_IS_X, parallel=2, max_trials=2)
    plain = write_yaml(tmp_path / "twin.yaml", doc)
    doc["metadata"]["namespace"] = "kubeflow"  # as Katib's examples say
    kube = write_yaml(tmp_path / "kube.yaml", doc)

    tunery("run", str(plain), "-q", cwd=tmp_path)
    listed = tunery("list", cwd=tmp_path).stdout
    assert "namespace" not in listed  # one namespace: no column
    tunery("run", str(plain), "-n", "team", "-q", cwd=tmp_path)  # -n overrides the file
    tunery("run", str(kube), "-q", cwd=tmp_path)  # the file's metadata.namespace
    listed = tunery("list", cwd=tmp_path).stdout
    header = next(line for line in listed.splitlines() if "status" in line)
    assert header.split()[:2] == ["namespace", "name"], listed
    rows = [line.split()[:3] for line in listed.splitlines() if "twin" in line]
    assert rows == [
        ["default", "twin", "Succeeded"],
        ["team", "twin", "Succeeded"],
        ["kubeflow", "twin", "Succeeded"],
    ]
    every = json.loads(tunery("list", "--json", cwd=tmp_path).stdout)
    assert [(e["name"], e["namespace"]) for e in every] == [
        ("twin", "default"),
        ("twin", "team"),
        ("twin", "kubeflow"),
    ]
    team = json.loads(tunery("list", "-n", "team", "--json", cwd=tmp_path).stdout)
    assert [(e["namespace"], e["trials"]["succeeded"]) for e in team] == [("team", 2)]
    assert "no experiments in namespace 'void'" in tunery("list", "-n", "void", cwd=tmp_path).stdout

    # Without -n the name is ambiguous: one line, exit 2, the fix named.
    amb = tunery("get", "twin", cwd=tmp_path, check=2)
    assert amb.stderr.count("\n") == 1 and "Traceback" not in amb.stderr
    assert "default, kubeflow, team" in amb.stderr and "-n/--namespace" in amb.stderr
    bad = tunery("get", "twin", "-n", "Team_A", cwd=tmp_path, check=2)
    assert "not a namespace" in bad.stderr and bad.stderr.count("\n") == 1
    missing = tunery("trials", "twin", "-n", "void", cwd=tmp_path, check=2)
    assert "'twin' in namespace 'void'" in missing.stderr

    got = json.loads(tunery("get", "twin", "-n", "team", "--json", cwd=tmp_path).stdout)
    assert (got["name"], got["namespace"], got["trials"]["total"]) == ("twin", "team", 2)
    trials = json.loads(tunery("trials", "twin", "-n", "team", "--json", cwd=tmp_path).stdout)
    assert [t["name"] for t in trials] == ["team.twin-0001", "team.twin-0002"]
    assert (tmp_path / "tunery-runs" / "team.twin" / "team.twin-0001" / "output.log").is_file()
    assert (tmp_path / "tunery-runs" / "twin" / "twin-0001" / "output.log").is_file()
    log = tunery("logs", "twin", "team.twin-0001", "-n", "team", cwd=tmp_path).stdout
    assert "score=" in log
    best = json.loads(tunery("best", "twin", "-n", "kubeflow", "-o", "json", cwd=tmp_path).stdout)
    assert set(best) == {"x"}
    exported = yaml.safe_load(tunery("export", "twin", "-n", "team", cwd=tmp_path).stdout)
    assert exported["metadata"] == {"name": "twin", "namespace": "team"}
    # <namespace>.<name> names an experiment too.
    assert json.loads(tunery("get", "team.twin", "--json", cwd=tmp_path).stdout) == got
    again = json.loads(tunery("run", str(plain), "-n", "team", "--json", cwd=tmp_path).stdout)
    assert again["status"] == "Succeeded" and again["trials"]["total"] == 2  # resumed, not new
    edited = tunery("edit", "twin", "-n", "team", "--max-trials", "3", cwd=tmp_path).stdout
    assert "`tunery resume twin -n team` runs it" in edited
    more = json.loads(tunery("resume", "twin", "-n", "team", "--json", cwd=tmp_path).stdout)
    assert more["trials"]["total"] == 3 and more["namespace"] == "team"
    ambiguous = tunery("edit", "twin", "--max-trials", "5", cwd=tmp_path, check=2)
    assert ambiguous.stderr.count("\n") == 1 and "several namespaces" in ambiguous.stderr

    tunery("delete", "twin", "-n", "team", "-y", cwd=tmp_path)
    tunery("get", "twin", "-n", "team", cwd=tmp_path, check=2)
    left = json.loads(tunery("list", "--json", cwd=tmp_path).stdout)
    assert [(e["namespace"], e["trials"]["total"]) for e in left] == [
        ("default", 2),
        ("kubeflow", 2),
    ]
    tunery("delete", "twin", "-n", "default", "-y", cwd=tmp_path)
    assert json.loads(tunery("get", "twin", "--json", cwd=tmp_path).stdout)["namespace"] == (
        "kubeflow"
    )


def _one_line_error(out: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["Never", "LongRunning", "FromVolume"])
def test_resume_max_trials_extends_a_finished_experiment_under_every_policy(
    tmp_path: Path, policy: str
) -> None:
    doc = native_doc(
        "ext", SCORE_IS_X, algorithm="sobol", parallel=1, max_trials=2,
        extra_spec={"resumePolicy": policy},
    )  # fmt: skip
    path = write_yaml(tmp_path / "exp.yaml", doc)
    tunery("run", str(path), "-q", cwd=tmp_path)
    before = json.loads(tunery("trials", "ext", "--json", cwd=tmp_path).stdout)
    for bad, words in [
        ("2", ("maxTrialCount 2 is not above the 2 trials", "--max-trials 12")),
        ("0", ("--max-trials",)),
        ("two", ("--max-trials",)),
    ]:
        out = tunery("resume", "ext", "--max-trials", bad, cwd=tmp_path, check=2)
        _one_line_error(out, *words)
    same = tunery("resume", "ext", cwd=tmp_path)  # no new budget: shows it, says how to extend
    assert "has already completed" in same.stdout and "--max-trials" in same.stdout
    got = json.loads(tunery("get", "ext", "--json", cwd=tmp_path).stdout)
    assert (got["status"], got["maxTrialCount"]) == ("Succeeded", 2)  # nothing changed

    done = json.loads(tunery("resume", "ext", "--max-trials", "4", "--json", cwd=tmp_path).stdout)
    assert (done["status"], done["reason"]) == ("Succeeded", "ExperimentMaxTrialsReached")
    trials = json.loads(tunery("trials", "ext", "--json", cwd=tmp_path).stdout)
    assert [t["name"] for t in trials] == [f"ext-000{i}" for i in range(1, 5)]
    assert trials[:2] == before
    xs = [t["parameters"]["x"] for t in trials]
    assert len(set(xs)) == 4  # the Sobol sequence went on: no repeat


@pytest.mark.slow
def test_edit_changes_the_budget_and_extends_a_completed_experiment(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "exp.yaml", native_doc("ed", SCORE_IS_X, parallel=1, max_trials=2))
    _one_line_error(tunery("edit", "ed", "--max-trials", "3", cwd=tmp_path, check=2), "'ed'")
    tunery("run", str(path), "-q", cwd=tmp_path)
    _one_line_error(
        tunery("edit", "ed", cwd=tmp_path, check=2), "nothing to edit", "--max-trials N"
    )
    _one_line_error(
        tunery("edit", "ed", "--max-trials", "4", "--parallel", "5", cwd=tmp_path, check=2),
        "spec.parallelTrialCount",
    )
    _one_line_error(
        tunery("edit", "ed", "--max-failed", "-1", cwd=tmp_path, check=2), "--max-failed"
    )
    _one_line_error(
        tunery("edit", "ed", "--parallel", "2", cwd=tmp_path, check=2), "not above the 2 trials"
    )
    assert json.loads(tunery("get", "ed", "--json", cwd=tmp_path).stdout)["status"] == "Succeeded"

    out = tunery("edit", "ed", "--max-trials", "4", "--parallel", "2", cwd=tmp_path)
    assert "extended" in out.stdout and "tunery resume ed" in out.stdout
    got = json.loads(tunery("get", "ed", "--json", cwd=tmp_path).stdout)
    assert got["status"] == "Restarting"
    assert (got["maxTrialCount"], got["parallelTrialCount"]) == (4, 2)
    # `run FILE` would put the file's budget (2) back: below the trials used, it is refused.
    _one_line_error(
        tunery("run", str(path), cwd=tmp_path, check=2), "maxTrialCount 2 of", "tunery resume ed"
    )
    done = json.loads(tunery("resume", "ed", "--json", cwd=tmp_path).stdout)
    assert (done["status"], done["trials"]["total"]) == ("Succeeded", 4)
    edited = json.loads(tunery("edit", "ed", "--max-trials", "6", "--json", cwd=tmp_path).stdout)
    assert edited["status"] == "Restarting" and edited["maxTrialCount"] == 6


def test_auto_explains_its_choice_and_trials_show_who_suggested(tmp_path: Path) -> None:
    doc = native_doc("auto", SCORE_IS_X, algorithm="auto", max_trials=5, parallel=2)
    path = write_yaml(tmp_path / "auto.yaml", doc)
    said = "algorithm auto: sobol for the first 2 trials, then bayesianoptimization"
    assert said in tunery("validate", str(path), cwd=tmp_path).stdout
    assert said in tunery("run", str(path), "--dry-run", cwd=tmp_path).stdout
    tunery("run", str(path), "-q", cwd=tmp_path, timeout=300)
    lines = tunery("trials", "auto", "--sort", "index", cwd=tmp_path).stdout.splitlines()
    header = lines[1].split()
    by = [line.split()[header.index("by")] for line in lines[3:8]]
    assert by == [
        "sobol",
        "sobol",
        "bayesianoptimization",
        "bayesianoptimization",
        "bayesianoptimization",
    ], lines
    rows = json.loads(tunery("trials", "auto", "--json", cwd=tmp_path).stdout)
    assert {r["labels"]["tunery.dev/suggested-by"] for r in rows} == {
        "sobol",
        "bayesianoptimization",
    }


def test_run_names_the_time_budget_on_its_first_line(tmp_path: Path) -> None:
    doc = native_doc("said", SCORE_IS_X, max_trials=1, parallel=1)
    doc["spec"]["maxExperimentDuration"] = "1h"
    doc["spec"]["experimentDurationPolicy"] = "LetFinish"
    out = tunery("run", str(write_yaml(tmp_path / "said.yaml", doc)), cwd=tmp_path).stdout
    first = out.splitlines()[0]
    assert "(random, parallel 1, max 1 trials, time budget 1h (LetFinish)); " in first, first


def test_time_budget_get_edit_and_resume(tmp_path: Path) -> None:
    script = """
    import sys, time
    time.sleep(60)
    """
    doc = native_doc("timed", script, max_trials=50, parallel=2)
    doc["spec"]["maxExperimentDuration"] = "2s"
    path = write_yaml(tmp_path / "timed.yaml", doc)
    ran = tunery("run", str(path), "--json", cwd=tmp_path, check=1)  # no trial succeeded
    assert json.loads(ran.stdout)["timeBudget"]["remainingSeconds"] == 0
    shown = tunery("get", "timed", cwd=tmp_path).stdout
    assert "ExperimentTimeBudgetReached" in shown
    assert "time budget: 2s of 2s driven, 0s left (KillRunning)" in shown, shown
    budget = json.loads(tunery("get", "timed", "--json", cwd=tmp_path).stdout)["timeBudget"]
    assert budget["maxSeconds"] == 2 and budget["remainingSeconds"] == 0
    assert budget["drivenSeconds"] >= 2 and budget["policy"] == "KillRunning"
    again = tunery("resume", "timed", cwd=tmp_path, check=1)
    assert "used its time budget" in again.stdout and "--max-duration" in again.stdout
    edited = tunery("edit", "timed", "--max-duration", "4s", cwd=tmp_path).stdout
    assert "extended" in edited and "maxExperimentDuration 4s (KillRunning)" in edited
    bad = tunery("edit", "timed", "--max-duration", "soon", cwd=tmp_path, check=2)
    assert bad.stderr.startswith("error: maxExperimentDuration: invalid duration 'soon'")
    started = time.monotonic()
    tunery("resume", "timed", "-q", cwd=tmp_path, check=1)
    assert time.monotonic() - started < 30
    after = json.loads(tunery("get", "timed", "--json", cwd=tmp_path).stdout)
    assert after["timeBudget"]["drivenSeconds"] >= 4
    assert after["trials"]["killed"] == 4
