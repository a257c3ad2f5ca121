"""The read commands of ``tunery`` (tunery/cli/_inspect.py) on a real SQLite store."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import SCORE_IS_X, create, native_doc
from tunery.model import MetricSummary, Trial, TrialCondition
from tunery.storage import Store

C = TrialCondition

PARAMETERS = [
    {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.0001", "max": "1"}},
    {"name": "batch-size", "parameterType": "int", "feasibleSpace": {"min": "8", "max": "64"}},
    {
        "name": "model.kind",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["res net", "it's"]},
    },
]


def tunery(*args: str, cwd: Path, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TUNERY_DB": str(cwd / "tunery.db"), "COLUMNS": "200"},
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def _trial(index: int, params: dict[str, Any], objective: float | None, **kw: Any) -> Trial:
    metrics = {} if objective is None else {"score": MetricSummary(objective, objective, objective)}
    return Trial(
        name=f"paste-{index:04d}",
        experiment="paste",
        index=index,
        parameters=params,
        objective=objective,
        metrics=metrics,
        **kw,
    )


@pytest.fixture
def paste(tmp_path: Path) -> Path:
    """An experiment ``paste`` (maximize score) whose best trial has awkward values."""
    store = Store(str(tmp_path / "tunery.db"))
    create(store, native_doc("paste", SCORE_IS_X, parameters=PARAMETERS), tmp_path)
    store.create_trial(
        _trial(0, {"lr": 0.5, "batch-size": 8, "model.kind": "it's"}, 0.2, status=C.SUCCEEDED)
    )
    store.create_trial(
        _trial(1, {"lr": 1e-05, "batch-size": 32, "model.kind": "res net"}, 0.9, status=C.SUCCEEDED)
    )
    store.close()
    return tmp_path


def test_best_output_formats_paste(paste: Path) -> None:
    args = tunery("best", "paste", "-o", "args", cwd=paste).stdout
    assert args == "--lr=1e-05 --batch-size=32 '--model.kind=res net'\n" or args == (
        "--lr=1e-05 --batch-size=32 --model.kind='res net'\n"
    )
    assert shlex.split(args) == ["--lr=1e-05", "--batch-size=32", "--model.kind=res net"]
    env = tunery("best", "paste", "-o", "env", cwd=paste).stdout
    assert env.splitlines() == ["LR=1e-05", "BATCH_SIZE=32", "MODEL_KIND='res net'"]
    sourced = subprocess.run(
        ["sh", "-c", env + 'printf "%s|%s|%s" "$LR" "$BATCH_SIZE" "$MODEL_KIND"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout == "1e-05|32|res net"
    expected = {"lr": 1e-05, "batch-size": 32, "model.kind": "res net"}
    as_yaml = tunery("best", "paste", "-o", "yaml", cwd=paste).stdout
    assert yaml.safe_load(as_yaml) == expected and as_yaml.startswith("lr: ")
    as_json = json.loads(tunery("best", "paste", "--output", "json", cwd=paste).stdout)
    assert as_json == expected and list(as_json) == ["lr", "batch-size", "model.kind"]
    # Today's shapes are unchanged.
    assert tunery("best", "paste", cwd=paste).stdout.startswith("best trial: paste-0001")
    assert json.loads(tunery("best", "paste", "--json", cwd=paste).stdout)["name"] == "paste-0001"


def test_best_output_quotes_a_quote(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "tunery.db"))
    create(store, native_doc("paste", SCORE_IS_X, parameters=PARAMETERS), tmp_path)
    store.create_trial(
        _trial(0, {"lr": 0.5, "batch-size": 8, "model.kind": "it's"}, 0.2, status=C.SUCCEEDED)
    )
    store.close()
    args = tunery("best", "paste", "-o", "args", cwd=tmp_path).stdout
    assert shlex.split(args) == ["--lr=0.5", "--batch-size=8", "--model.kind=it's"]


def test_best_output_without_a_best_trial_and_bad_format(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "tunery.db"))
    create(store, native_doc("paste", SCORE_IS_X, parameters=PARAMETERS), tmp_path)
    store.create_trial(_trial(0, {"lr": 0.5, "batch-size": 8, "model.kind": "it's"}, None))
    store.close()
    none = tunery("best", "paste", "-o", "args", cwd=tmp_path, check=1)
    assert none.stdout == "experiment paste has no trial with an objective value yet\n"
    assert none.stdout == tunery("best", "paste", cwd=tmp_path, check=1).stdout
    bad = tunery("best", "paste", "-o", "toml", cwd=tmp_path, check=2)
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "-o" in bad.stderr and "args" in bad.stderr and "env" in bad.stderr
    both = tunery("best", "paste", "-o", "json", "--json", cwd=tmp_path, check=2)
    assert "--json" in both.stderr and "-o json" in both.stderr


# --------------------------------------------------------------------------- trials


def _many(tmp_path: Path, n: int, objective: str = "maximize") -> None:
    """Experiment ``big`` with ``n`` trials straight in a SQLite store: statuses cycle through
    Succeeded, Failed, EarlyStopped, Succeeded; the objective of trial i is x = (i*7919 % n)/n."""
    store = Store(str(tmp_path / "tunery.db"))
    doc = native_doc(
        "big", SCORE_IS_X, objective={"type": objective, "objectiveMetricName": "score"}
    )
    create(store, doc, tmp_path)
    cycle = [C.SUCCEEDED, C.FAILED, C.EARLY_STOPPED, C.SUCCEEDED]
    for i in range(n):
        status = cycle[i % 4]
        x = (i * 7919 % n) / n
        store.create_trial(
            Trial(
                name=f"big-{i:05d}",
                experiment="big",
                index=i,
                parameters={"x": x},
                status=status,
                reason="ExitCode" if status is C.FAILED else None,
                message="exit code 3" if status is C.FAILED else None,
                objective=None if status is C.FAILED else x,
                metrics={} if status is C.FAILED else {"score": MetricSummary(0.0, x, x)},
                created_time=1000.0 + i,
                start_time=1000.5 + i,
                completion_time=2000.0 - i,
            )
        )
    store.close()


def _names(table: str) -> list[str]:
    return [line.split()[0] for line in table.splitlines() if line.startswith("big-")]


def test_trials_filter_sort_limit(tmp_path: Path) -> None:
    _many(tmp_path, 40)
    table = tunery("trials", "big", "--status", "failed", cwd=tmp_path).stdout
    assert _names(table) == [f"big-{i:05d}" for i in range(1, 40, 4)]
    assert "ExitCode: exit code 3" in table
    both = tunery("trials", "big", "--status", "Failed,earlystopped", cwd=tmp_path).stdout
    repeated = tunery(
        "trials", "big", "--status", "Failed", "--status", "EarlyStopped", cwd=tmp_path
    ).stdout
    assert (
        _names(both) == _names(repeated) == [f"big-{i:05d}" for i in range(40) if i % 4 in (1, 2)]
    )
    # objective: best first (maximize), trials without one last; --desc reverses.
    got = json.loads(
        tunery(
            "trials", "big", "--sort", "objective", "--limit", "3", "--json", cwd=tmp_path
        ).stdout
    )
    objectives = sorted(t["objective"] for t in _all(tmp_path) if t["objective"] is not None)
    assert [t["objective"] for t in got] == objectives[::-1][:3]
    worst = tunery("trials", "big", "--sort", "objective", "--desc", "--limit", "2", cwd=tmp_path)
    assert [
        float(line.split()[-1]) for line in worst.stdout.splitlines() if line.startswith("big-")
    ] == objectives[:2]
    assert "(the first 2 of 40)" in worst.stdout.splitlines()[0]
    # completion times decrease with the index
    done = tunery("trials", "big", "--sort", "completion", "--limit", "2", cwd=tmp_path).stdout
    assert _names(done) == ["big-00039", "big-00038"]
    name = tunery("trials", "big", "--sort", "name", "--desc", "--limit", "1", cwd=tmp_path).stdout
    assert _names(name) == ["big-00039"]
    # --json keeps the wire shape: the same objects as without the options.
    every = _all(tmp_path)
    by_name = {t["name"]: t for t in every}
    assert all(by_name[t["name"]] == t for t in got)
    assert [t["index"] for t in every] == list(range(40))


def _all(tmp_path: Path) -> list[dict[str, Any]]:
    return list(json.loads(tunery("trials", "big", "--json", cwd=tmp_path).stdout))


def test_trials_bad_options_are_one_line_naming_the_choices(tmp_path: Path) -> None:
    _many(tmp_path, 4)
    bad = tunery("trials", "big", "--status", "Succeeded,Done", cwd=tmp_path, check=2)
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "--status" in bad.stderr and "'Done'" in bad.stderr
    assert "EarlyStopped" in bad.stderr and "MetricsUnavailable" in bad.stderr
    sort = tunery("trials", "big", "--sort", "speed", cwd=tmp_path, check=2)
    assert "--sort" in sort.stderr and "objective" in sort.stderr
    assert "--limit" in tunery("trials", "big", "--limit", "0", cwd=tmp_path, check=2).stderr
    helped = tunery("trials", "--help", cwd=tmp_path).stdout
    assert "MetricsUnavailable" in helped and "completion" in helped


def test_ten_thousand_trials_print_fast(tmp_path: Path) -> None:
    """10,000 trials: the table and the --json list, each in one process, well under the
    8 s of the trial-by-trial read (about 0.6 s here, of which 0.35 s is Python starting).
    Measured as the child's CPU time, which a busy machine (parallel test workers) does not
    stretch as it does wall time."""
    import resource

    def cpu_of_children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    _many(tmp_path, 10_000)
    started = cpu_of_children()
    table = tunery("trials", "big", cwd=tmp_path).stdout
    elapsed = cpu_of_children() - started
    names = _names(table)
    assert names == [f"big-{i:05d}" for i in range(10_000)]
    assert elapsed < 3.0, f"tunery trials took {elapsed:.2f} s of CPU for 10,000 trials"
    started = cpu_of_children()
    listed = json.loads(tunery("trials", "big", "--json", cwd=tmp_path).stdout)
    elapsed = cpu_of_children() - started
    assert len(listed) == 10_000 and listed[9_999]["name"] == "big-09999"
    assert elapsed < 3.0, f"tunery trials --json took {elapsed:.2f} s of CPU for 10,000 trials"
    best = tunery("trials", "big", "--sort", "objective", "--limit", "20", cwd=tmp_path).stdout
    assert len(_names(best)) == 20 and "(the first 20 of 10000)" in best


# --------------------------------------------------------------------------- list


def _experiments(tmp_path: Path) -> None:
    """alpha-mnist (Running, created last), beta-cifar (Succeeded), gamma-mnist (Created,
    created first); beta-cifar's trials: 1 succeeded, 2 early-stopped, 1 failed, 1 killed."""
    from tunery.model import Experiment, ExperimentCondition
    from tunery.spec import parse_document, to_document

    store = Store(str(tmp_path / "tunery.db"))
    made = [
        ("alpha-mnist", 300.0, ExperimentCondition.RUNNING),
        ("beta-cifar", 200.0, ExperimentCondition.SUCCEEDED),
        ("gamma-mnist", 100.0, ExperimentCondition.CREATED),
    ]
    for name, created, status in made:
        spec = parse_document(native_doc(name, SCORE_IS_X))
        store.create_experiment(
            Experiment(name=name, spec=spec, document=to_document(spec), created_time=created)
        )
        if status is not ExperimentCondition.CREATED:
            store.set_experiment_status(name, status, f"Experiment{status.value}", "")
    for i, (status, objective) in enumerate(
        [
            (C.SUCCEEDED, 0.5),
            (C.EARLY_STOPPED, 0.75),
            (C.EARLY_STOPPED, 0.25),
            (C.FAILED, None),
            (C.KILLED, None),
        ]
    ):
        store.create_trial(
            Trial(
                name=f"beta-cifar-{i}",
                experiment="beta-cifar",
                index=i,
                parameters={"x": objective or 0.0},
                status=status,
                objective=objective,
            )
        )
    store.close()


def test_list_sorts_filters_and_counts_early_stopped_as_completed(tmp_path: Path) -> None:
    _experiments(tmp_path)

    def names(*args: str) -> list[str]:
        out = tunery("list", *args, cwd=tmp_path).stdout
        return [w[0] for line in out.splitlines() if (w := line.split()) and w[0].count("-") == 1]

    assert names() == ["gamma-mnist", "beta-cifar", "alpha-mnist"]  # oldest first, as before
    assert names("--sort", "name") == ["alpha-mnist", "beta-cifar", "gamma-mnist"]
    assert names("--sort", "created") == ["gamma-mnist", "beta-cifar", "alpha-mnist"]
    assert names("--sort", "created", "--desc") == ["alpha-mnist", "beta-cifar", "gamma-mnist"]
    assert names("--sort", "status") == ["gamma-mnist", "alpha-mnist", "beta-cifar"]
    assert names("--filter", "MNIST", "--sort", "name") == ["alpha-mnist", "gamma-mnist"]
    assert names("--filter", "mnist", "--status", "created,succeeded") == ["gamma-mnist"]
    none = tunery("list", "--filter", "resnet", cwd=tmp_path).stdout
    assert none.strip() == "no experiment matches --filter/--status"
    row = next(line for line in tunery("list", cwd=tmp_path).stdout.splitlines() if "beta" in line)
    # 1 succeeded + 2 early-stopped of 5; the killed trial is no failure either (as Katib).
    assert "3/5 ok (2 early-stopped), 1 failed" in row
    assert "0.75" in row.split()  # the best objective: an early-stopped trial's
    got = json.loads(tunery("list", "--filter", "beta", "--json", cwd=tmp_path).stdout)
    assert [e["name"] for e in got] == ["beta-cifar"]
    assert got[0]["trials"]["earlyStopped"] == 2 and got[0]["bestTrial"]["name"] == "beta-cifar-1"
    bad = tunery("list", "--status", "Done", cwd=tmp_path, check=2)
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "--status" in bad.stderr and "Restarting" in bad.stderr
    assert "--sort" in tunery("list", "--sort", "best", cwd=tmp_path, check=2).stderr


def test_list_shows_the_time_left_only_when_a_budget_is_set(tmp_path: Path) -> None:
    from tunery.model import DRIVEN_SECONDS_KEY

    _experiments(tmp_path)
    assert "time left" not in tunery("list", cwd=tmp_path).stdout  # the table as before
    store = Store(str(tmp_path / "tunery.db"))
    doc = native_doc("delta-timed", SCORE_IS_X)
    doc["spec"]["maxExperimentDuration"] = "2h"
    create(store, doc, tmp_path)
    store.save_algorithm_state("delta-timed", {DRIVEN_SECONDS_KEY: 1800.0})
    store.close()
    lines = tunery("list", cwd=tmp_path).stdout.splitlines()
    assert any(line.split()[:1] == ["name"] and "time left" in line for line in lines), lines
    row = next(line for line in lines if "delta-timed" in line)
    assert row.rstrip().endswith("1h30m of 2h00m"), row
    other = next(line for line in lines if "beta-cifar" in line)
    assert other.rstrip().endswith("-"), other


# --------------------------------------------------------------------------- Kubeflow forms

OPTIMIZATION_JOB = f"""
apiVersion: trainer.kubeflow.org/v1alpha1
kind: OptimizationJob
metadata:
  name: oj
spec:
  objectives: [{{metric: loss, direction: Minimize}}]
  searchAlgorithm: {{grid: {{}}}}
  parameters:
    - name: lr
      searchSpace: {{categorical: {{choices: ["0.1", "0.2"]}}}}
  numTrials: 2
  parallelTrials: 2
  trainJobTemplate:
    spec:
      trainer:
        command:
          - {sys.executable}
          - -c
          - "import os; print('loss=' + os.environ['KUBEFLOW_TRAINER_OPT_LR'])"
"""


def test_optimization_job_validate_run_get_and_export(tmp_path: Path) -> None:
    (tmp_path / "oj.yaml").write_text(OPTIMIZATION_JOB)
    out = tunery("validate", "oj.yaml", cwd=tmp_path).stdout
    assert "experiment oj is valid (grid, 1 parameters, minimize loss)" in out
    (tmp_path / "odd.yaml").write_text(
        OPTIMIZATION_JOB.replace("numTrials: 2", "numTrials: 2\n  numTrails: 2")
    )
    odd = tunery("validate", "odd.yaml", "--json", cwd=tmp_path)
    (result,) = json.loads(odd.stdout)
    assert any("unknown OptimizationJob field 'numTrails'" in w for w in result["warnings"])
    plain = tunery("validate", "odd.yaml", cwd=tmp_path).stderr
    assert plain.count("'numTrails'") == 1 and plain.startswith("warning: spec: unknown")
    tunery("run", "oj.yaml", cwd=tmp_path)
    doc = yaml.safe_load(tunery("get", "oj", "-o", "yaml", cwd=tmp_path).stdout)
    assert doc["kind"] == "OptimizationJob"
    assert [c["type"] for c in doc["status"]["conditions"]] == ["Created", "Complete"]
    assert doc["status"]["result"]["parameters"] == [{"name": "lr", "value": "0.1"}]
    assert json.loads(tunery("get", "oj", "-o", "json", cwd=tmp_path).stdout) == doc
    # export: its own form by default, Katib on request; both validate to the same search.
    for form, kind in (("optimizationjob", "OptimizationJob"), ("katib", "Experiment")):
        text = tunery("export", "oj", "--format", form, cwd=tmp_path).stdout
        assert yaml.safe_load(text)["kind"] == kind
        (tmp_path / f"{form}.yaml").write_text(text)
        tunery("validate", f"{form}.yaml", cwd=tmp_path)
    assert (
        tunery("export", "oj", cwd=tmp_path).stdout
        == tunery("export", "oj", "--format", "optimizationjob", cwd=tmp_path).stdout
    )
    bad = tunery("export", "oj", "-o", "csv", "--format", "katib", cwd=tmp_path, check=2)
    assert bad.stderr.count("\n") == 1 and "--format" in bad.stderr


def test_katib_experiment_get_yaml_has_katib_status(tmp_path: Path) -> None:
    doc = native_doc("nat", SCORE_IS_X, max_trials=2)
    (tmp_path / "nat.yaml").write_text(yaml.safe_dump(doc))
    tunery("run", "nat.yaml", cwd=tmp_path)
    got = yaml.safe_load(tunery("get", "nat", "-o", "yaml", cwd=tmp_path).stdout)
    assert (got["apiVersion"], got["kind"]) == ("kubeflow.org/v1beta1", "Experiment")
    status = got["status"]
    assert [c["type"] for c in status["conditions"]] == ["Created", "Running", "Succeeded"]
    assert status["trials"] == status["trialsSucceeded"] == 2
    optimal = status["currentOptimalTrial"]
    assert optimal["bestTrialName"] in status["succeededTrialList"]
    assert {m["name"] for m in optimal["observation"]["metrics"]} == {"score"}
    # The Katib form runs too: the command became a Job's container.
    (tmp_path / "k.yaml").write_text(
        tunery("export", "nat", "--format", "katib", cwd=tmp_path).stdout.replace(
            "name: nat", "name: nat-katib", 1
        )
    )
    tunery("run", "k.yaml", cwd=tmp_path)
    again = yaml.safe_load(tunery("get", "nat-katib", "-o", "yaml", cwd=tmp_path).stdout)
    assert again["status"]["trialsSucceeded"] == 2


def test_a_bad_optimization_job_is_one_line_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        OPTIMIZATION_JOB.replace("parallelTrials: 2", "parallelTrials: 3")
    )
    proc = tunery("validate", "bad.yaml", cwd=tmp_path, check=2)
    assert proc.stderr.count("\n") == 1
    assert "spec.parallelTrials" in proc.stderr and "Traceback" not in proc.stderr
    proc = tunery("run", "bad.yaml", cwd=tmp_path, check=2)
    assert "spec.parallelTrials" in proc.stderr


#: A trial that fails unless it got exactly the flags of its branch's parameters.
BRANCH_SCRIPT = """
import sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
branch = {"svm": {"model", "C"}, "rf": {"model", "depth"}}[args["model"]]
assert set(args) == branch, args
print(f"score={float(args.get('C', args.get('depth')))}")
"""


def test_a_conditional_experiment_end_to_end(tmp_path: Path) -> None:
    parameters = [
        {"name": "model", "parameterType": "categorical", "feasibleSpace": {"list": ["svm", "rf"]}},
        {
            "name": "C",
            "parameterType": "double",
            "feasibleSpace": {"min": "0.5", "max": "0.9"},
            "activeWhen": {"model": ["svm"]},
        },
        {
            "name": "depth",
            "parameterType": "int",
            "feasibleSpace": {"min": "2", "max": "3"},
            "activeWhen": {"model": ["rf"]},
        },
    ]
    doc = native_doc("cond", BRANCH_SCRIPT, parameters=parameters, max_trials=6, parallel=3)
    (tmp_path / "cond.yaml").write_text(yaml.safe_dump(doc))
    checked = tunery("validate", "cond.yaml", cwd=tmp_path).stdout
    assert "model: categorical svm | rf\n    C: double [0.5, 0.9]  when model = svm\n" in checked
    assert "    depth: int [2, 3]  when model = rf\n" in checked
    tunery("run", "cond.yaml", cwd=tmp_path)

    trials = json.loads(tunery("trials", "cond", "--json", cwd=tmp_path).stdout)
    assert len(trials) == 6 and {t["status"] for t in trials} == {"Succeeded"}
    assert {t["parameters"]["model"] for t in trials} == {"svm", "rf"}
    for t in trials:
        branch = {"svm": {"model", "C"}, "rf": {"model", "depth"}}[t["parameters"]["model"]]
        assert set(t["parameters"]) == branch  # inactive parameters are absent
    # CSV: empty cells; the table: a dash, never 0.
    rows = tunery("export", "cond", "-o", "csv", cwd=tmp_path).stdout.splitlines()
    header = rows[0].split(",")
    c_col, depth_col = header.index("param:C"), header.index("param:depth")
    for row in rows[1:]:
        cells = row.split(",")
        assert (cells[c_col] == "") != (cells[depth_col] == "")
    table = tunery("trials", "cond", cwd=tmp_path).stdout
    rf_rows = [line for line in table.splitlines() if line.startswith("cond-") and " rf " in line]
    assert rf_rows and all(line.split()[3] == "-" for line in rf_rows)  # the C column
    best = json.loads(tunery("best", "cond", "-o", "json", cwd=tmp_path).stdout)
    assert best["model"] == "rf" and set(best) == {"model", "depth"}  # (maximize: depth > C)
    # The stored document keeps the tree; Katib's form carries it in the annotation.
    exported = yaml.safe_load(tunery("export", "cond", cwd=tmp_path).stdout)
    assert exported["spec"]["parameters"][1]["activeWhen"] == {"model": ["svm"]}
    katib = tunery("export", "cond", "--format", "katib", cwd=tmp_path).stdout
    (tmp_path / "katib.yaml").write_text(katib.replace("name: cond", "name: cond-katib", 1))
    assert "tunery.dev/active-when" in katib and "activeWhen" not in katib
    assert "when model = rf" in tunery("validate", "katib.yaml", cwd=tmp_path).stdout
