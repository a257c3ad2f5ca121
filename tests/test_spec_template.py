"""Placeholders and the command line of a trial (generator.go, inject_webhook.go)."""

from __future__ import annotations

import copy
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunery.errors import SpecError
from tunery.model import ExperimentSpec
from tunery.spec import format_value, load_file, parse_document, render_trial, to_document
from tunery.spec.template import expand_k8s_vars, katib_argv, parse_meta_reference

VALID = Path(__file__).parent / "data" / "spec" / "valid"


def _spec(name: str) -> ExperimentSpec:
    (parsed,) = load_file(VALID / name, check_algorithm=False)
    return parsed.spec


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (16, "16"),
        (0.0012, "0.0012"),
        (1e-05, "1e-05"),
        (0.1, "0.1"),
        (3.0, "3.0"),
        (-2, "-2"),
        ("adam", "adam"),
        (np.int64(7), "7"),
        (np.float64(0.25), "0.25"),
        (np.float32(0.5), "0.5"),
    ],
)
def test_format_value(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_katib_job_renders_through_sh_c() -> None:
    spec = _spec("random-job.yaml")
    rendered = render_trial(spec, "random-job-abc", {"lr": 0.01, "momentum": 0.9, "batch-size": 32})
    assert rendered.argv == (
        "sh",
        "-c",
        "python3 /app/train.py --epochs=2 --lr=0.01 --momentum=0.9 --batch-size=32",
    )
    # valueFrom entries are skipped: they only resolve inside a cluster.
    assert rendered.env == {"DATA_DIR": "/data"}
    assert rendered.working_dir == "/app"
    assert rendered.timeout == 600.0
    # limits win over requests, requests fill in the rest.
    assert rendered.resources == {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"}


def test_existing_shell_is_kept() -> None:
    spec = _spec("tpe-job.yaml")
    rendered = render_trial(spec, "t-1", {"lr": 0.001, "dropout": 0.2})
    assert rendered.argv == (
        "sh",
        "-c",
        "python train.py --lr 0.001 --dropout 0.2 2>&1 | tee /tmp/log",
    )


@pytest.mark.parametrize(
    ("command", "args", "wrap", "argv"),
    [
        (["python3", "t.py"], ["--x=1"], True, ["sh", "-c", "python3 t.py --x=1"]),
        (["bash", "-c"], ["echo a", "b"], True, ["bash", "-c", "echo a b"]),
        (["sh", "-c", "echo $HOME"], [], True, ["sh", "-c", "echo $HOME"]),
        (["sh"], [], True, ["sh", "-c", "sh"]),
        (["/bin/sh", "-c", "x"], [], True, ["sh", "-c", "/bin/sh -c x"]),
        (["python3", "t.py"], ["--x", "a b"], False, ["python3", "t.py", "--x", "a b"]),
    ],
)
def test_katib_argv(command: list[str], args: list[str], wrap: bool, argv: list[str]) -> None:
    assert katib_argv(command, args, wrap) == argv


def test_shell_quoting_behaves_like_katib(tmp_path: Path) -> None:
    """A categorical value with a space is split by the shell, as on a Katib cluster."""
    spec = _spec("random-job.yaml")
    doc: dict[str, Any] = copy.deepcopy(to_document(spec))
    container = doc["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][
        0
    ]
    container["command"] = ["printf", "'%s|'"]
    container["args"] = [
        "${trialParameters.learningRate}",
        "${trialParameters.momentum}",
        "${trialParameters.batchSize}",
    ]
    spec2 = parse_document(doc, check_algorithm=False)
    rendered = render_trial(spec2, "q", {"lr": 0.5, "momentum": "a b", "batch-size": 16})
    out = subprocess.run(rendered.argv, capture_output=True, text=True, check=True).stdout
    assert out == "0.5|a|b|16|"


def test_exec_form_without_shell_for_push_collector() -> None:
    spec = _spec("none-collector.yaml")
    rendered = render_trial(spec, "n-1", {"lr": 0.02})
    assert rendered.argv == ("python3", "train.py", "--lr", "0.02")
    spec = _spec("push-collector.yaml")
    rendered = render_trial(spec, "p-1", {"lr": 0.02})
    assert rendered.argv == ("python3", "-c", "import sys; print(sys.argv)", "0.02")


def test_metadata_substitution() -> None:
    spec = _spec("metadata-substitution.yaml")
    rendered = render_trial(spec, "metadata-substitution-x1", {"lr": 0.03})
    assert rendered.env == {
        "TRIAL_NAME": "metadata-substitution-x1",
        "TRIAL_NAMESPACE": "research",
        "TRIAL_KIND": "Job",
        "TRIAL_API_VERSION": "batch/v1",
        "TEAM": "optimisation",
        "NOTE": "hello world",
        "GREETING": "hello world from optimisation",
    }


def test_kubernetes_variable_expansion() -> None:
    env = {"A": "1", "B": "two"}
    assert expand_k8s_vars("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"


def test_replicas_pick_the_master() -> None:
    rendered = render_trial(_spec("pytorchjob.yaml"), "p", {"lr": 0.01, "momentum": 0.5})
    assert "--role=master" in rendered.argv[-1]
    rendered = render_trial(_spec("xgboostjob.yaml"), "x", {"lr": 0.01, "num-leaves": 55})
    assert "--worker" not in rendered.argv[-1]
    rendered = render_trial(_spec("mpijob.yaml"), "m", {"lr": 0.002, "num-batches": 60})
    assert rendered.argv[-1].startswith("mpirun -np 2 python")


def test_primary_pod_labels_pick_the_replica() -> None:
    spec = _spec("tfevent-tfjob.yaml")
    rendered = render_trial(spec, "t", {"learning_rate": 0.02, "batch_size": 40})
    assert "--batch-size=40" in rendered.argv[-1]
    assert rendered.timeout == 1800.0


def test_trainjob() -> None:
    rendered = render_trial(_spec("trainjob.yaml"), "t", {"lr": 0.02})
    assert rendered.argv == ("sh", "-c", "python3 /opt/mnist.py --lr=0.02")
    # Two nodes of 2 GPUs, numProcPerNode auto: 2 processes per node sharing its GPUs; the
    # gang asks for 4 (tunery.spec.replicas).
    assert rendered.resources == {"nvidia.com/gpu": "4"}
    assert [(r.name, r.node, r.gpus) for r in rendered.replicas] == [
        ("node-0-0", "node-0", 2),
        ("node-0-1", "node-0", 2),
        ("node-1-0", "node-1", 2),
        ("node-1-1", "node-1", 2),
    ]


def test_native_render() -> None:
    spec = _spec("sobol-native.yaml")
    rendered = render_trial(spec, "sobol-native-7", {"x": -1.5, "n": 3})
    assert rendered.argv == ("python", "objective.py", "--x=-1.5", "--n", "3")
    # ${trialSpec.Name} directly in the template is not a placeholder (Katib neither).
    assert rendered.env == {"OMP_NUM_THREADS": "1", "TRIAL": "${trialSpec.Name}"}
    assert rendered.working_dir == "work/3"
    assert rendered.timeout == 90.0
    assert rendered.resources == {"cpu": "2", "nvidia.com/gpu": "1"}


def test_native_meta_references() -> None:
    spec = _spec("native-named-params.yaml")
    rendered = render_trial(spec, "trial-9", {"alpha": 0.5, "kernel": "rbf"})
    assert rendered.argv == ("python", "svm.py", "0.5", "rbf")
    assert rendered.env == {"TRIAL_NAME": "trial-9", "NS": "default"}


def test_native_label_references_read_trial_labels() -> None:
    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "lbl", "labels": {"team": "a"}},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parameters": [
                {"name": "x", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "2"}}
            ],
            "trialTemplate": {
                "trialParameters": [
                    {"name": "x", "reference": "x"},
                    {"name": "parent", "reference": "${trialSpec.Labels[parent]}"},
                    {"name": "team", "reference": "${trialSpec.Labels[team]}"},
                    {"name": "kind", "reference": "${trialSpec.Kind}"},
                ],
                "command": [
                    "run",
                    "${trialParameters.x}",
                    "${trialParameters.parent}",
                    "${trialParameters.team}",
                    "${trialParameters.kind}",
                ],
            },
        },
    }
    spec = parse_document(doc, check_algorithm=False)
    rendered = render_trial(spec, "t", {"x": 1}, {"parent": "t0"})
    assert rendered.argv == ("run", "1", "t0", "a", "Trial")
    with pytest.raises(SpecError) as info:
        render_trial(spec, "t", {"x": 1})
    assert info.value.path == "spec.trialTemplate.trialParameters[1].reference"


def test_missing_value_and_unreachable_templates() -> None:
    spec = _spec("random-job.yaml")
    with pytest.raises(SpecError) as info:
        render_trial(spec, "t", {"lr": 0.1})
    assert info.value.path == "spec.trialTemplate.trialParameters[1].reference"
    inlined = _spec("configmap-same-file.yaml")
    with pytest.raises(SpecError) as info:
        render_trial(
            replace(
                inlined,
                trial_template=replace(
                    inlined.trial_template, trial_spec=None, config_map={"configMapName": "t"}
                ),
            ),
            "t",
            {"lr": 0.1},
        )
    assert info.value.path == "spec.trialTemplate.configMap.configMapName"
    assert "--configmap" in (info.value.hint or "")
    rendered = render_trial(_spec("configmap-same-file.yaml"), "t", {"lr": 0.02})
    assert rendered.argv == ("sh", "-c", "python3 mnist.py --lr=0.02")


def test_container_without_command_is_refused_unless_entrypoint_given() -> None:
    spec = _spec("grid-job.yaml")
    doc = to_document(spec)
    container = doc["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][
        0
    ]
    args = container.pop("command")
    container["args"] = args[1:]
    with pytest.raises(SpecError) as info:
        parse_document(doc, check_algorithm=False)
    assert info.value.path.endswith("containers[0].command")
    assert "add command" in (info.value.hint or "")
    assert "tunery.dev/entrypoint" in (info.value.hint or "")
    # The local override: the image's ENTRYPOINT, the container's args appended.
    doc["metadata"]["annotations"] = {"tunery.dev/entrypoint": f"{args[0]} -u"}
    spec = parse_document(doc, check_algorithm=False)
    rendered = render_trial(spec, "t", {"lr": 0.01, "layers": 2, "optimizer": "sgd"})
    assert rendered.argv[-1].startswith(f"{args[0]} -u {args[1]}")
    doc["metadata"]["annotations"] = {"tunery.dev/entrypoint": "python 'unbalanced"}
    with pytest.raises(SpecError) as info:
        parse_document(doc, check_algorithm=False)
    assert info.value.path == 'metadata.annotations["tunery.dev/entrypoint"]'


def test_every_valid_file_renders() -> None:
    for path in sorted(VALID.iterdir()):
        for parsed in load_file(path, check_algorithm=False):
            spec = parsed.spec
            if spec.trial_template.config_map is not None:
                continue
            values: dict[str, Any] = {}
            for p in spec.parameters:
                fs = p.feasible_space
                values[p.name] = fs.list[0] if fs.list else fs.min
            rendered = render_trial(spec, f"{spec.name}-1", values)
            assert rendered.argv
            assert not any("${trialParameters." in a for a in rendered.argv), path


@pytest.mark.parametrize(
    ("reference", "key", "index"),
    [
        ("${trialSpec.Name}", "Name", None),
        ("${trialSpec.APIVersion}", "APIVersion", None),
        ("${trialSpec.Labels[a/b]}", "Labels", "a/b"),
        ("${trialSpec.Annotations[x]}", "Annotations", "x"),
        ("${trialSpec.Owner}", None, None),
        ("${trialSpec.Name[1]}", None, None),
        ("lr", None, None),
    ],
)
def test_parse_meta_reference(reference: str, key: str | None, index: str | None) -> None:
    meta = parse_meta_reference(reference)
    if key is None:
        assert meta is None
    else:
        assert meta is not None and (meta.key, meta.index) == (key, index)
