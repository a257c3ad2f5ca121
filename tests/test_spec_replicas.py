"""Rendering distributed trial templates into replicas, and what validation refuses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tunery.errors import SpecError
from tunery.spec import parse_document
from tunery.spec.replicas import LOCALHOST, port_token, sum_resources
from tunery.spec.template import RenderedTrial, render_trial

MASTER_PORT = port_token("master")


def doc(trial_spec: dict[str, Any], **template: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "dist"},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parameters": [
                {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
            ],
            "trialTemplate": {
                "trialParameters": [{"name": "lr", "reference": "lr"}],
                "trialSpec": trial_spec,
                **template,
            },
        },
    }


def pod(
    name: str = "training-container", command: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    container = {
        "name": name,
        "command": command or ["python", "t.py", "--lr=${trialParameters.lr}"],
    }
    container.update(extra)
    return {"template": {"spec": {"containers": [container]}}}


def job(kind: str, key: str, replicas: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubeflow.org/v1", "kind": kind, "spec": {key: replicas, **spec}}


def render(document: dict[str, Any]) -> RenderedTrial:
    return render_trial(parse_document(document), "dist-1", {"lr": 0.5})


def refused(document: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_document(document)
    assert "\n" not in info.value.one_line()
    return info.value


def test_pytorchjob_master_and_workers() -> None:
    gpu = {"resources": {"limits": {"nvidia.com/gpu": 1, "cpu": "500m"}}}
    rendered = render(
        doc(
            job(
                "PyTorchJob",
                "pytorchReplicaSpecs",
                {"Master": pod(**gpu), "Worker": {**pod(**gpu), "replicas": 2}},
            )
        )
    )
    names = [r.name for r in rendered.replicas]
    assert names == ["master-0", "worker-0", "worker-1"]
    envs = {r.name: r.env for r in rendered.replicas}
    for i, name in enumerate(names):
        assert envs[name]["RANK"] == envs[name]["PET_NODE_RANK"] == str(i)
        assert envs[name]["WORLD_SIZE"] == "3" and envs[name]["PET_NNODES"] == "3"
        assert envs[name]["MASTER_ADDR"] == envs[name]["PET_MASTER_ADDR"] == LOCALHOST
        assert envs[name]["MASTER_PORT"] == envs[name]["PET_MASTER_PORT"] == MASTER_PORT
        assert (envs[name]["LOCAL_RANK"], envs[name]["LOCAL_WORLD_SIZE"]) == ("0", "1")
        assert envs[name]["PYTHONUNBUFFERED"] == "1"
    assert [r.primary for r in rendered.replicas] == [True, False, False]
    assert [r.leader for r in rendered.replicas] == [True, False, False]
    # Katib's sh -c wrapping applies to every replica.
    assert rendered.replicas[2].argv == ("sh", "-c", "python t.py --lr=0.5")
    assert rendered.resources == {"nvidia.com/gpu": "3", "cpu": "1.5"}


def test_pytorchjob_torchrun_gets_no_local_rank() -> None:
    command = ["torchrun", "t.py", "--lr=${trialParameters.lr}"]
    rendered = render(
        doc(
            job(
                "PyTorchJob",
                "pytorchReplicaSpecs",
                {"Master": pod(command=command), "Worker": pod(command=command)},
                nprocPerNode="2",
            )
        )
    )
    env = rendered.replicas[1].env
    assert env["WORLD_SIZE"] == "4" and env["PET_NPROC_PER_NODE"] == "2"
    assert "LOCAL_RANK" not in env


def test_tfjob_tf_config_per_replica() -> None:
    rendered = render(
        doc(
            job(
                "TFJob",
                "tfReplicaSpecs",
                {"Worker": {**pod(), "replicas": 2}, "PS": pod(), "Chief": pod()},
            )
        )
    )
    names = [r.name for r in rendered.replicas]
    assert names == ["chief-0", "ps-0", "worker-0", "worker-1"]
    configs = {r.name: json.loads(r.env["TF_CONFIG"]) for r in rendered.replicas}
    cluster = {
        "chief": [f"localhost:{port_token('chief-0')}"],
        "ps": [f"localhost:{port_token('ps-0')}"],
        "worker": [f"localhost:{port_token('worker-0')}", f"localhost:{port_token('worker-1')}"],
    }
    for config in configs.values():
        assert config["cluster"] == cluster and config["environment"] == "cloud"
    assert configs["worker-1"]["task"] == {"type": "worker", "index": 1}
    # The chief decides success and is the primary (job-role: master).
    assert [r.name for r in rendered.replicas if r.leader] == ["chief-0"]
    assert [r.name for r in rendered.replicas if r.primary] == ["chief-0"]


def test_tfjob_workers_only_primary_pod_labels_and_single_replica() -> None:
    trial = job("TFJob", "tfReplicaSpecs", {"Worker": {**pod(), "replicas": 2}})
    labels = {"training.kubeflow.org/replica-type": "worker"}
    rendered = render(doc(trial, primaryPodLabels=labels))
    assert [(r.name, r.primary, r.leader) for r in rendered.replicas] == [
        ("worker-0", True, True),
        ("worker-1", False, False),
    ]
    single = render(doc(job("TFJob", "tfReplicaSpecs", {"Worker": pod()})))
    assert "TF_CONFIG" not in single.replicas[0].env  # not distributed: no TF_CONFIG


def test_xgboostjob_env() -> None:
    rendered = render(
        doc(
            job(
                "XGBoostJob",
                "xgbReplicaSpecs",
                {"Master": pod(), "Worker": {**pod(), "replicas": 2}},
            )
        )
    )
    envs = [r.env for r in rendered.replicas]
    assert [e["RANK"] for e in envs] == ["0", "1", "2"]
    assert {e["WORLD_SIZE"] for e in envs} == {"3"}
    assert {e["MASTER_PORT"] for e in envs} == {MASTER_PORT}
    assert envs[0]["WORKER_ADDRS"] == f"{LOCALHOST},{LOCALHOST}"


def test_entrypoint_annotation_stands_in_for_every_replicas_missing_command() -> None:
    # Katib's xgboostjob-lightgbm: containers with args only; the image's entrypoint runs them.
    args_only = {
        "template": {
            "spec": {
                "containers": [
                    {"name": "training-container", "args": ["--lr=${trialParameters.lr}", "--role"]}
                ]
            }
        }
    }
    document = doc(job("XGBoostJob", "xgbReplicaSpecs", {"Master": args_only, "Worker": args_only}))
    assert "has no command" in refused(copy.deepcopy(document)).one_line()
    document["metadata"]["annotations"] = {"tunery.dev/entrypoint": "python3 /app/main.py"}
    rendered = render(document)
    assert [r.argv[-1] for r in rendered.replicas] == ["python3 /app/main.py --lr=0.5 --role"] * 2


def trainjob(**trainer: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": {"command": ["python3", "t.py", "--lr=${trialParameters.lr}"], **trainer},
        },
    }


def test_trainjob_processes_get_torchrun_env() -> None:
    rendered = render(doc(trainjob(numNodes=2, numProcPerNode=2), primaryContainerName="node"))
    names = [r.name for r in rendered.replicas]
    assert names == ["node-0-0", "node-0-1", "node-1-0", "node-1-1"]
    env = rendered.replicas[3].env
    assert (env["RANK"], env["LOCAL_RANK"], env["GROUP_RANK"]) == ("3", "1", "1")
    assert (env["WORLD_SIZE"], env["LOCAL_WORLD_SIZE"], env["GROUP_WORLD_SIZE"]) == ("4", "2", "2")
    assert (env["PET_NNODES"], env["PET_NPROC_PER_NODE"], env["PET_NODE_RANK"]) == ("2", "2", "1")
    assert env["MASTER_PORT"] == env["PET_MASTER_PORT"] == MASTER_PORT
    assert env["TORCHELASTIC_USE_AGENT_STORE"] == "False"
    assert all(r.leader for r in rendered.replicas)
    assert [r.primary for r in rendered.replicas] == [True, False, False, False]


def test_trainjob_torchrun_runs_once_per_node_and_gpus_add_up() -> None:
    rendered = render(
        doc(
            trainjob(
                numNodes=2,
                command=["torchrun", "t.py", "--lr=${trialParameters.lr}"],
                resourcesPerNode={"limits": {"nvidia.com/gpu": 2}},
            ),
            primaryContainerName="node",
        )
    )
    assert [r.name for r in rendered.replicas] == ["node-0", "node-1"]
    assert rendered.replicas[1].env["PET_NPROC_PER_NODE"] == "auto"
    assert "RANK" not in rendered.replicas[1].env
    assert [r.gpus for r in rendered.replicas] == [2, 2]
    assert rendered.resources == {"nvidia.com/gpu": "4"}


def test_sum_resources() -> None:
    assert sum_resources([{"cpu": "500m", "memory": "1Gi"}, {"cpu": "2", "memory": "1Gi"}]) == {
        "cpu": "2.5",
        "memory": str(2 * 2**30),
    }


def test_launch_rewrites_every_replica(tmp_path: Path) -> None:
    from tunery.launch import build_launch

    document = doc(
        job(
            "PyTorchJob",
            "pytorchReplicaSpecs",
            {
                "Master": pod(
                    command=["python", "t.py", "--out=/katib/m.log", "--lr=${trialParameters.lr}"]
                ),
                "Worker": pod(
                    command=["python", "t.py", "--out=/katib/m.log", "--lr=${trialParameters.lr}"]
                ),
            },
        )
    )
    document["spec"]["metricsCollectorSpec"] = {
        "collector": {"kind": "File"},
        "source": {"fileSystemPath": {"path": "/katib/m.log", "kind": "File"}},
    }
    launch = build_launch(
        parse_document(document),
        experiment="dist",
        trial_name="dist-1",
        parameters={"lr": 0.5},
        runs_dir=str(tmp_path),
        base_dir=str(tmp_path),
    )
    assert launch.argv[1:3] == ("-m", "tunery.gang")
    trial = tmp_path / "dist" / "dist-1"
    master, worker = launch.replicas
    assert f"--out={trial}/metrics/m.log --lr=0.5" in master.argv[-1]
    assert f"--out={trial}/replicas/worker-0/metrics/m.log --lr=0.5" in worker.argv[-1]
    assert launch.metrics_path == f"{trial}/metrics/m.log"
    assert str(trial / "replicas" / "worker-0" / "metrics") in launch.fresh_dirs
    spec = json.loads(launch.argv[3])
    assert [r["name"] for r in spec["replicas"]] == ["master-0", "worker-0"]
    assert spec["ports"] == ["master"]


def test_what_cannot_run_locally_is_refused_at_validation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    base = job("PyTorchJob", "pytorchReplicaSpecs", {"Master": pod(), "Worker": pod()})
    elastic = copy.deepcopy(base)
    elastic["spec"]["elasticPolicy"] = {"minReplicas": 1}
    assert refused(doc(elastic)).path == "spec.trialTemplate.trialSpec.spec.elasticPolicy"
    workers = job("PyTorchJob", "pytorchReplicaSpecs", {"Worker": pod()})
    assert "Master" in refused(doc(workers)).one_line()
    nproc = copy.deepcopy(base)
    nproc["spec"]["nprocPerNode"] = "2"
    assert "torchrun" in refused(doc(nproc)).one_line()
    odd = job("TFJob", "tfReplicaSpecs", {"Worker": pod(), "Sidecar": pod()})
    assert refused(doc(odd)).path.endswith("tfReplicaSpecs.Sidecar")
    two = {"template": {"spec": {"containers": [{"name": "a", "command": ["x"]}, {"name": "b"}]}}}
    many = job("PyTorchJob", "pytorchReplicaSpecs", {"Master": pod(), "Worker": two})
    assert "one container per replica" in refused(doc(many)).one_line()
    mpi = job(
        "MPIJob",
        "mpiReplicaSpecs",
        {"Launcher": pod(command=["mpirun", "-np", "2", "python", "t.py"]), "Worker": pod()},
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    line = refused(doc(mpi)).one_line()
    assert "mpirun" in line and "apt-get install openmpi-bin" in line
