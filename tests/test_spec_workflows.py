"""Argo Workflow / Tekton PipelineRun trials: run in order with real processes, or refused."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunery.errors import SpecError
from tunery.spec import parse_document, render_trial

VALID = Path(__file__).parent / "data" / "spec" / "valid"
ARGO = yaml.safe_load((VALID / "argo-workflow.yaml").read_text())
TEKTON = yaml.safe_load((VALID / "tekton-pipeline-run.yaml").read_text())

#: Stand-in for the image's /opt/pytorch-mnist/mnist.py: loss falls as 1/epoch.
MNIST = """
import argparse, os
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--epochs", type=int)
p.add_argument("--batch-size", type=int)
a = p.parse_args()
for e in range(1, a.epochs + 1):
    loss = a.lr * a.epochs * a.batch_size / e
    print(f"epoch={e} loss={loss} stage={os.environ.get('STAGE', '-')}", flush=True)
"""


def _tunery(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TUNERY_DB": str(cwd / "t.db")},
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ["argo-workflow", "tekton-pipeline-run"])
def test_katib_workflow_examples_run_every_step_in_order(tmp_path: Path, name: str) -> None:
    (tmp_path / "mnist.py").write_text(MNIST)
    path = tmp_path / f"{name}.yaml"
    path.write_text((VALID / f"{name}.yaml").read_text())
    out = _tunery("run", "-q", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    trials = json.loads(_tunery("trials", name, "--json", cwd=tmp_path).stdout)
    assert len(trials) == 3
    for trial in trials:
        assert trial["status"] == "Succeeded", trial
        lr = trial["parameters"]["lr"]
        loss = trial["metrics"]["loss"]
        # epochs = 60000 // 20000 = 3 came from the first step's output, batch size 16.
        assert loss["max"] == pytest.approx(lr * 48)
        assert loss["latest"] == pytest.approx(lr * 16)
        log = (tmp_path / "tunery-runs" / name / trial["name"] / "output.log").read_text()
        assert log.startswith("3")  # the preprocessing step ran first
        if name == "argo-workflow":
            assert "stage=train" in log  # the step's own env


def _plan(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = parse_document(doc, check_algorithm=False)
    argv = render_trial(spec, "t-1", {"lr": 0.02}).argv
    assert argv[:3] == ("python3", "-m", "tunery.run_steps")
    plan: list[dict[str, Any]] = json.loads(argv[3])
    return plan


def test_parameters_are_substituted_and_the_primary_step_is_wrapped() -> None:
    argo = _plan(ARGO)
    assert [s["name"] for s in argo] == ["data-preprocessing", "model-training"]
    assert argo[1]["argv"] == [
        "sh",
        "-c",
        "python3 mnist.py --lr=0.02 --epochs={{steps.data-preprocessing.outputs.result}} "
        "--batch-size=16",
    ]
    assert argo[0]["argv"] == ["python"] and "60000" in argo[0]["script"]
    tekton = _plan(TEKTON)
    # model-training is listed first but needs data-preprocessing's result.
    assert [s["task"] for s in tekton] == ["data-preprocessing", "model-training"]
    assert "print(60000//20000" in tekton[0]["argv"][2]
    assert "$(results.epochs-post.path)" in tekton[0]["argv"][2]
    assert tekton[1]["argv"][2].endswith(
        "--epochs=$(tasks.data-preprocessing.results.epochs-post) --batch-size=16 --lr=0.02"
    )


def _set(doc: dict[str, Any], keys: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node = doc["spec"]["trialTemplate"]["trialSpec"]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return doc


_A = ("spec", "templates")
_T = ("spec", "pipelineSpec", "tasks")
_REFUSED = [
    (ARGO, (*_A, 0, "steps", 0, 0, "when"), "a == b", ".steps[0][0].when"),
    (ARGO, (*_A, 0, "steps", 0, 0, "withItems"), [1, 2], ".steps[0][0].withItems"),
    (ARGO, (*_A, 0, "dag"), {"tasks": []}, ".templates[0].dag"),
    (ARGO, (*_A, 1, "outputs"), {"parameters": [{"name": "x"}]}, ".outputs.parameters"),
    (ARGO, (*_A, 2, "inputs", "artifacts"), [{"name": "data"}], ".inputs.artifacts"),
    (ARGO, (*_A, 0, "steps", 1), [{"name": "a", "template": "gen-epochs"}] * 2, ".steps[1]"),
    (ARGO, (*_A, 2, "container", "args"), ["{{workflow.name}}"], ".container.args"),
    (ARGO, (*_A, 2, "container", "args"), ["{{steps.model-training.outputs.result}}"], ".args"),
    (ARGO, (*_A, 2, "metadata", "labels"), {}, "spec.trialTemplate.primaryContainerName"),
    (TEKTON, ("spec", "pipelineRef"), {"name": "p"}, ".spec.pipelineRef"),
    (TEKTON, ("spec", "pipelineSpec", "finally"), [{"name": "x"}], ".finally"),
    (TEKTON, (*_T, 0, "taskRef"), {"name": "train"}, ".tasks[0].taskRef"),
    (TEKTON, (*_T, 0, "when"), [{"input": "a"}], ".tasks[0].when"),
    (TEKTON, (*_T, 1, "runAfter"), ["model-training"], ".spec.pipelineSpec.tasks"),
    (TEKTON, (*_T, 0, "taskSpec", "steps", 0, "args"), ["$(params.nope)"], ".steps[0].args"),
    (TEKTON, (*_T, 0, "taskSpec", "steps", 0, "args"), ["$(context.taskRun.name)"], ".args"),
    (TEKTON, (*_T, 1, "taskSpec", "steps", 0, "command"), [], ".steps[0].command"),
]


@pytest.mark.parametrize(("base", "keys", "value", "where"), _REFUSED)
def test_unsupported_constructs_are_refused_at_validation(
    base: dict[str, Any], keys: tuple[Any, ...], value: Any, where: str
) -> None:
    with pytest.raises(SpecError) as info:
        parse_document(_set(base, keys, value), check_algorithm=False)
    assert where in info.value.path, info.value.one_line()
    assert info.value.hint


def test_tekton_script_steps_and_defaults_run(tmp_path: Path) -> None:
    doc = _set(
        TEKTON,
        (*_T, 1, "taskSpec", "steps", 0),
        {"name": "epochs-optimize", "script": "printf 3 > $(results.epochs-post.path)\n"},
    )
    plan = _plan(doc)
    assert plan[0]["script"].startswith("#!/bin/sh\n")
    (tmp_path / "mnist.py").write_text(MNIST)
    done = subprocess.run(
        [sys.executable, "-m", "tunery.run_steps", json.dumps(plan)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("epoch=3 loss=0.32")


def test_a_failing_step_fails_the_trial_and_stops_the_rest(tmp_path: Path) -> None:
    doc = _set(ARGO, (*_A, 1, "script", "source"), "import sys; sys.exit(3)\n")
    plan = _plan(doc)
    done = subprocess.run(
        [sys.executable, "-m", "tunery.run_steps", json.dumps(plan)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "step data-preprocessing failed" in done.stderr
    assert "epoch=" not in done.stdout
