"""Rendering the placeholders of inactive conditional parameters (tunery.spec.inactive)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.helpers import katib_job_doc
from tunery.errors import SpecError
from tunery.spec import parse_document, render_trial, to_document
from tunery.spec.inactive import strip_inactive

PARAMETERS: list[dict[str, Any]] = [
    {"name": "model", "parameterType": "categorical", "feasibleSpace": {"list": ["svm", "rf"]}},
    {
        "name": "C",
        "parameterType": "double",
        "feasibleSpace": {"min": "0.001", "max": "1000"},
        "activeWhen": {"model": ["svm"]},
    },
    {
        "name": "depth",
        "parameterType": "int",
        "feasibleSpace": {"min": "2", "max": "12"},
        "activeWhen": {"model": ["rf"]},
    },
]
ANNOTATION = '{"C": {"model": ["svm"]}, "depth": {"model": ["rf"]}}'
SVM = {"model": "svm", "C": 0.5}
RF = {"model": "rf", "depth": 4}


def native(command: list[str], **template: Any) -> dict[str, Any]:
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "cond"},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "acc"},
            "algorithm": {"algorithmName": "random"},
            "parameters": copy.deepcopy(PARAMETERS),
            "trialTemplate": {"command": command, **template},
        },
    }


def argv(doc: dict[str, Any], params: dict[str, Any]) -> tuple[str, ...]:
    return render_trial(parse_document(doc), "cond-1", params).argv


COMMAND = [
    "python",
    "train.py",
    "--model=${trialParameters.model}",
    "--C=${trialParameters.C}",
    "--depth",
    "${trialParameters.depth}",
    "-v",
]


def test_drop_removes_flag_items_pairs_and_lone_placeholders() -> None:
    doc = native(COMMAND)
    assert argv(doc, SVM) == ("python", "train.py", "--model=svm", "--C=0.5", "-v")
    assert argv(doc, RF) == ("python", "train.py", "--model=rf", "--depth", "4", "-v")
    lone = native(
        ["t", "${trialParameters.C}", "${trialParameters.model}", "${trialParameters.depth}"]
    )
    assert argv(lone, RF) == ("t", "rf", "4")


def test_drop_inside_a_shell_string_removes_the_flag_words_and_empties_the_rest() -> None:
    script = (
        "python t.py --model=${trialParameters.model} --C=${trialParameters.C} "
        "--depth ${trialParameters.depth} "
        "--tag=m${trialParameters.C}x '--C=${trialParameters.C}'"
    )
    assert argv(native(["sh", "-c", script]), RF) == (
        "sh",
        "-c",
        "python t.py --model=rf --depth 4 --tag=mx",
    )


def test_drop_removes_environment_variables_and_empties_other_mentions() -> None:
    doc = native(
        ["python", "t.py", "${trialParameters.model}", "${trialParameters.depth}"],
        env={"C_VALUE": "${trialParameters.C}", "OPTS": "c=${trialParameters.C};m=x"},
        workingDir="/tmp/${trialParameters.C}",
    )
    rendered = render_trial(parse_document(doc), "cond-1", RF)
    assert rendered.env == {"OPTS": "c=;m=x"}
    assert rendered.working_dir == "/tmp/"
    active = render_trial(parse_document(doc), "cond-1", SVM)
    assert active.env == {"C_VALUE": "0.5", "OPTS": "c=0.5;m=x"}


@pytest.mark.parametrize(
    ("inactive", "expected"),
    [
        ("empty", ("python", "train.py", "--model=rf", "--C=", "--depth", "4", "-v")),
        ({"value": "None"}, ("python", "train.py", "--model=rf", "--C=None", "--depth", "4", "-v")),
        ({"value": 0}, ("python", "train.py", "--model=rf", "--C=0", "--depth", "4", "-v")),
        ("drop", ("python", "train.py", "--model=rf", "--depth", "4", "-v")),
    ],
)
def test_the_template_chooses_per_trial_parameter(inactive: Any, expected: tuple[str, ...]) -> None:
    trial_parameters = [
        {"name": "model", "reference": "model"},
        {"name": "C", "reference": "C", "inactive": inactive},
        {"name": "depth", "reference": "depth"},
    ]
    doc = native(COMMAND, trialParameters=trial_parameters)
    assert argv(doc, RF) == expected
    spec = parse_document(doc)
    assert parse_document(to_document(spec)) == spec  # the setting round-trips


@pytest.mark.parametrize("bad", ["sometimes", {"value": [1]}, {"text": "x"}, 3])
def test_a_bad_inactive_setting_names_the_field(bad: Any) -> None:
    doc = native(COMMAND, trialParameters=[{"name": "C", "reference": "C", "inactive": bad}])
    with pytest.raises(SpecError) as info:
        parse_document(doc)
    assert info.value.path.startswith("spec.trialTemplate.trialParameters[0].inactive")
    assert info.value.hint


def katib(container: dict[str, Any], **kw: Any) -> dict[str, Any]:
    doc = katib_job_doc(
        "cond",
        {"image": "python:3.12", **container},
        parameters=[{k: v for k, v in p.items() if k != "activeWhen"} for p in PARAMETERS],
        trial_parameters=[{"name": p["name"], "reference": p["name"]} for p in PARAMETERS],
        **kw,
    )
    doc["metadata"]["annotations"] = {"tunery.dev/active-when": ANNOTATION}
    return doc


def test_a_katib_stdout_job_drops_list_items_before_the_sh_c_wrapping() -> None:
    doc = katib({"command": ["python", "t.py"], "args": COMMAND[2:]})
    # The StdOut collector wraps the command in sh -c (as Katib's metrics collector does).
    assert argv(doc, RF)[-1].startswith("python t.py --model=rf --depth 4 -v")
    assert "--C" not in argv(doc, RF)[-1]
    assert "--C=0.5" in argv(doc, SVM)[-1] and "--depth" not in argv(doc, SVM)[-1]


def test_a_katib_job_drops_a_container_environment_variable() -> None:
    env = [{"name": "C", "value": "${trialParameters.C}"}, {"name": "M", "value": "x"}]
    command = ["python", "t.py", "${trialParameters.model}", "${trialParameters.depth}"]
    doc = katib({"command": command, "env": env})
    rendered = render_trial(parse_document(doc), "cond-1", RF)
    assert rendered.env.get("M") == "x" and "C" not in rendered.env
    assert render_trial(parse_document(doc), "cond-1", SVM).env["C"] == "0.5"


def test_a_pytorchjob_drops_the_flags_of_every_replica() -> None:
    command = [
        "python",
        "t.py",
        "--model=${trialParameters.model}",
        "--C=${trialParameters.C}",
        "--depth=${trialParameters.depth}",
    ]
    pod = {
        "template": {"spec": {"containers": [{"name": "training-container", "command": command}]}}
    }
    trial_spec = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "spec": {"pytorchReplicaSpecs": {"Master": pod, "Worker": copy.deepcopy(pod)}},
    }
    doc = katib({"command": ["unused"]})
    doc["spec"]["trialTemplate"]["trialSpec"] = trial_spec
    doc["spec"]["metricsCollectorSpec"] = {"collector": {"kind": "None"}}
    replicas = render_trial(parse_document(doc), "cond-1", RF).replicas
    assert len(replicas) == 2
    assert all(r.argv == ("python", "t.py", "--model=rf", "--depth=4") for r in replicas)


def test_an_optimization_job_leaves_the_inactive_environment_variable_unset() -> None:
    doc = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "OptimizationJob",
        "metadata": {"name": "cond-job"},
        "spec": {
            "objectives": [{"metric": "loss", "direction": "Minimize"}],
            "searchAlgorithm": {"random": {}},
            "parameters": [
                {"name": "model", "searchSpace": {"categorical": {"list": ["svm", "rf"]}}},
                {
                    "name": "C",
                    "searchSpace": {"logUniform": {"min": "0.01", "max": "10"}},
                    "activeWhen": {"model": ["svm"]},
                },
            ],
            "trainJobTemplate": {"spec": {"trainer": {"command": ["python", "t.py"]}}},
        },
    }
    spec = parse_document(doc)
    rf = render_trial(spec, "cond-job-1", {"model": "rf"}).env
    assert rf["KUBEFLOW_TRAINER_OPT_MODEL"] == "rf" and "KUBEFLOW_TRAINER_OPT_C" not in rf
    svm = render_trial(spec, "cond-job-1", {"model": "svm", "C": 0.5}).env
    assert svm["KUBEFLOW_TRAINER_OPT_C"] == "0.5"


def test_strip_inactive_leaves_other_placeholders_and_trees_alone() -> None:
    tree = {"args": ["--a=${trialParameters.a}", "--b=${trialParameters.b}"], "n": 3}
    assert strip_inactive(tree, {}) is tree
    assert strip_inactive(tree, {"b": None}) == {"args": ["--a=${trialParameters.a}"], "n": 3}
    assert strip_inactive(tree, {"b": "x"}) == {
        "args": ["--a=${trialParameters.a}", "--b=x"],
        "n": 3,
    }
