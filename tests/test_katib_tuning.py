"""tunery.katib.tuning: the Katib Experiment document KatibClient.tune builds, and its runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tunery.errors import UserInputError
from tunery.katib import search
from tunery.katib.tuning import tune_document
from tunery.katib.types.types import TrainerResources
from tunery.spec import parse_document


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process Kubernetes-only warnings afresh."""
    from tunery.katib import tuning

    monkeypatch.setattr(tuning, "_warned", set())


def objective(parameters):  # type: ignore[no-untyped-def]
    print(f"got={parameters!r}")


def _doc(tmp_path: Path, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": "exp",
        "namespace": "ns",
        "objective": objective,
        "parameters": {"lr": search.double(min=0.1, max=0.2), "fixed": [1, "two"]},
        "runs_dir": str(tmp_path),
        "base_image": "img",
        "env_per_trial": None,
        "algorithm_name": "random",
        "algorithm_settings": None,
        "objective_metric_name": "got",
        "additional_metric_names": [],
        "objective_type": "maximize",
        "objective_goal": None,
        "max_trial_count": None,
        "parallel_trial_count": None,
        "max_failed_trial_count": None,
        "resources_per_trial": None,
        "retain_trials": False,
        "packages_to_install": None,
        "pip_index_urls": None,
        "metrics_collector_config": {"kind": "StdOut"},
        "trial_active_deadline_seconds": None,
    }
    args.update(kw)
    return tune_document(**args)


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]["trialTemplate"]["trialSpec"]["spec"]
    pod = (
        spec["template"]
        if "template" in spec
        else spec["pytorchReplicaSpecs"]["Master"]["template"]
    )
    return pod["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_a_katib_job_trial_whose_runner_passes_katibs_strings(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        env_per_trial={"MODE": "fast"},
        resources_per_trial={"cpu": "2", "gpu": 1, "memory": "1Gi", "other": "x"},
        trial_active_deadline_seconds=30,
        algorithm_settings={"random_state": 7},
        objective_goal=0.9,
        max_trial_count=5,
        parallel_trial_count=2,
        metrics_collector_config={"kind": "push"},
    )
    spec = parse_document(doc)  # what tunery stores: valid as Katib's webhook checks it
    assert (spec.namespace, spec.max_trial_count, spec.parallel_trial_count) == ("ns", 5, 2)
    assert spec.metrics_collector.kind.value == "Push"  # the case forgiven
    assert spec.algorithm.settings_dict() == {"random_state": "7"}
    assert spec.objective.goal == 0.9
    job = doc["spec"]["trialTemplate"]["trialSpec"]
    assert (job["kind"], job["spec"]["activeDeadlineSeconds"]) == ("Job", 30)
    container = _container(doc)
    assert container["image"] == "img"
    assert container["resources"]["limits"] == {"cpu": "2", "nvidia.com/gpu": "1", "memory": "1Gi"}
    assert container["env"] == [
        {"name": "TUNERY_KATIB_PARAMETER_0", "value": "${trialParameters.lr}"},
        {"name": "MODE", "value": "fast"},
    ]
    # The runner: run it as the trial would, with the value Katib would substitute.
    shell, flag, line = container["command"]
    assert (shell, flag) == ("sh", "-c")
    env = {**os.environ, "TUNERY_KATIB_PARAMETER_0": "0.15 'quoted' $(not run)"}
    out = subprocess.run(line, shell=True, capture_output=True, text=True, env=env, check=True)
    assert out.stdout == "got={'lr': \"0.15 'quoted' $(not run)\", 'fixed': [1, 'two']}\n"


def test_trainer_resources_make_a_pytorchjob(tmp_path: Path) -> None:
    one = _doc(tmp_path, resources_per_trial=TrainerResources(3, 1, {"gpu": "1"}))
    job = one["spec"]["trialTemplate"]["trialSpec"]
    assert job["kind"] == "PyTorchJob" and job["spec"]["nprocPerNode"] == "1"
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 2
    assert "torch.distributed.run" not in _container(one)["command"][2]
    many = _doc(tmp_path, resources_per_trial=TrainerResources(1, 2, {}))
    assert "Worker" not in many["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]
    assert "-m torch.distributed.run" in _container(many)["command"][2]


def test_bad_inputs_are_one_line_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not Python literals") as info:
        _doc(tmp_path, parameters={"lr": search.double(min=0, max=1), "obj": object()})
    assert isinstance(info.value, UserInputError)
    with pytest.raises(ValueError, match="'parameters' dictionary"):
        _doc(tmp_path, objective=lambda: None)
    with pytest.raises(ValueError, match="Incorrect value for env_per_trial"):
        _doc(tmp_path, env_per_trial=[42])
    with pytest.raises(ValueError, match="resources_per_trial"):
        _doc(tmp_path, resources_per_trial=42)


def test_the_katib_sdk_itself_is_not_installed_in_trials(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="tunery.katib replaces it"):
        doc = _doc(
            tmp_path,
            packages_to_install=[
                "kubeflow-katib==0.18.0",
                "git+https://github.com/kubeflow/katib.git@master#subdirectory=sdk/python/v1beta1",
            ],
        )
    assert _container(doc)["command"][2].startswith(f"exec {sys.executable} ")


def test_several_objectives_become_spec_objectives(tmp_path: Path) -> None:
    doc = _doc(
        tmp_path,
        objective_metric_name=["acc", "latency"],
        objective_type=["maximize", "minimize"],
        objective_goal=[0.9, None],
    )
    assert doc["spec"]["objectives"] == [
        {"metric": "acc", "direction": "maximize", "goal": 0.9},
        {"metric": "latency", "direction": "minimize"},
    ]
    assert "objective" not in doc["spec"]
    spec = parse_document(doc)
    assert [(t.metric, t.type.value, t.goal) for t in spec.objective.terms] == [
        ("acc", "maximize", 0.9),
        ("latency", "minimize", None),
    ]
    # Additional metrics ride on spec.objective, which agrees with the first objective.
    extra = _doc(
        tmp_path,
        objective_metric_name=("acc", "latency"),
        objective_type=("maximize", "minimize"),
        additional_metric_names=["loss"],
    )
    assert extra["spec"]["objective"] == {
        "type": "maximize",
        "objectiveMetricName": "acc",
        "additionalMetricNames": ["loss"],
    }
    assert "loss" in parse_document(extra).objective.additional_metric_names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"objective_metric_name": ["a", "b"]}, "objective_type: give one direction per"),
        (
            {"objective_metric_name": ["a", "b"], "objective_type": ["maximize"]},
            "objective_type: give one direction per objective metric (a list of 2)",
        ),
        (
            {
                "objective_metric_name": ["a", "b"],
                "objective_type": ["maximize", "minimize"],
                "objective_goal": 0.5,
            },
            "objective_goal: give one goal (or None) per objective metric",
        ),
        ({"objective_type": ["maximize", "minimize"]}, "objective_type: a list needs"),
        ({"objective_goal": [0.5]}, "objective_goal: a list needs"),
        (
            {"objective_metric_name": ["a", ""], "objective_type": ["maximize", "minimize"]},
            "objective_metric_name: a list must hold metric names",
        ),
    ],
)
def test_bad_objective_lists_are_one_line_errors(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(UserInputError) as info:
        _doc(tmp_path, **change)
    assert message in str(info.value)
    assert "\n" not in info.value.one_line()
