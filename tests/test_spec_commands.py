"""Warnings about trial commands: missing scripts and other templating systems' placeholders."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.helpers import katib_job_doc
from tunery.spec import parse_document
from tunery.spec.commands import command_warnings, script_tokens

_CONTAINER = "spec.trialTemplate.trialSpec.spec.template.spec.containers[0]"


def katib(command: list[str], args: list[str] | None = None, **container: Any) -> dict[str, Any]:
    return katib_job_doc(
        "cmd",
        {"command": command, **({"args": args} if args is not None else {}), **container},
        parameters=[
            {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.1", "max": "1"}}
        ],
        maxTrialCount=4,
    )


def warnings_of(doc: dict[str, Any], base: Path) -> list[str]:
    return command_warnings(parse_document(copy.deepcopy(doc)), str(base))


def test_a_missing_relative_script_is_named_with_its_field(tmp_path: Path) -> None:
    doc = katib(["python3", "-u", "train.py", "--lr=${trialParameters.lr}"])
    [warning] = warnings_of(doc, tmp_path)
    assert warning.startswith(f"{_CONTAINER}.command[2]: train.py does not exist in {tmp_path} ")
    (tmp_path / "train.py").write_text("print('acc=1')\n")
    assert warnings_of(doc, tmp_path) == []


def test_an_image_path_is_explained(tmp_path: Path) -> None:
    doc = katib(
        ["python3", "/opt/pytorch-mnist/mnist.py"], ["--epochs=1", "--lr=${trialParameters.lr}"]
    )
    [warning] = warnings_of(doc, tmp_path)
    assert warning.startswith(
        f"{_CONTAINER}.command[1]: /opt/pytorch-mnist/mnist.py does not exist on this machine: "
        "it is a path inside the container image"
    )
    assert "replace it with a local script that takes the same flags" in warning


def test_shell_strings_and_working_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "run.sh").write_text("echo acc=1\n")
    doc = katib(
        ["sh", "-c"],
        ["bash run.sh && python prepare.py; python -m pkg.train --lr=${trialParameters.lr}"],
        workingDir="sub",
    )
    [warning] = warnings_of(doc, tmp_path)
    assert warning.startswith(f"{_CONTAINER}.args[0]: prepare.py does not exist in {tmp_path}/sub")


def test_tokens_with_placeholders_options_and_modules_are_not_scripts() -> None:
    strings = [
        ("c[0]", "python"),
        ("c[1]", "-W"),
        ("c[2]", "ignore"),
        ("c[3]", "$(DATA)/train.py"),
        ("c[4]", "--config=conf.py"),
        ("c[5]", "python -m pkg.main eval.py"),
        ("c[6]", "Rscript fit.R"),
    ]
    assert script_tokens(strings) == [
        ("c[3]", "$(DATA)/train.py"),
        ("c[5]", "eval.py"),
        ("c[6]", "fit.R"),
    ]


def test_placeholders_of_other_templating_systems(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("")
    doc = katib(
        ["python", "t.py"],
        [
            "--lr=${trialParameters.lr}",
            "--a={{inputs.parameters.a}}",
            "--b=$(params.b)",
            "--c=${{ matrix.c }}",
            "--d={{ d }}",
            "--e=$(E) --f=$(tasks.f)",
        ],
        env=[{"name": "E", "value": "1"}, {"name": "tasks.f", "value": "2"}],
    )
    got = warnings_of(doc, tmp_path)
    args = f"{_CONTAINER}.args"
    assert [w.split(", left as is")[0] for w in got] == [
        f"{args}[1]: {{{{inputs.parameters.a}}}} is an Argo Workflows placeholder",
        f"{args}[2]: $(params.b) is a Tekton placeholder",
        f"{args}[3]: ${{{{ matrix.c }}}} is a GitHub Actions expression",
        f"{args}[4]: {{{{ d }}}} is a Jinja/Helm-style placeholder",
    ]
    assert all("${trialParameters.NAME}" in w for w in got)


def test_native_form(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": "native"},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "acc"},
            "algorithm": {"algorithmName": "random"},
            "maxTrialCount": 4,
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.1", "max": "1"},
                }
            ],
            "trialTemplate": {
                "command": ["python", "train.py", "--lr=${trialParameters.lr}", "{{workflow.name}}"]
            },
        },
    }
    got = warnings_of(doc, tmp_path)
    assert len(got) == 2
    assert got[0].startswith("spec.trialTemplate.command[1]: train.py does not exist in ")
    assert got[1].startswith(
        "spec.trialTemplate.command[3]: {{workflow.name}} is an Argo Workflows placeholder"
    )
