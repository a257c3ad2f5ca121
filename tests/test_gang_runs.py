"""Distributed trials end to end: real torch.distributed (gloo, CPU) gangs through the controller,
an MPIJob through Debian's mpirun, and a gang on one Dask worker."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_system
from tests.helpers import create
from tunery.controller import Controller
from tunery.execute.base import RunState
from tunery.execute.local import LocalExecutor
from tunery.launch import build_launch
from tunery.model import TrialCondition
from tunery.spec import parse_document
from tunery.storage import Store

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups"),
]

#: Data-parallel training: every rank computes gradients on its own shard, all-reduces them,
#: and only rank 0 prints the metric.
DDP = """
import os, sys
import torch
import torch.distributed as dist

torch.set_num_threads(1)
lr = float(sys.argv[1].split("=", 1)[1])
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
shard = torch.Generator().manual_seed(100 + rank)
x = torch.randn(64, 4, generator=shard)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
opt = torch.optim.SGD(model.parameters(), lr=lr)
for step in range(20):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    for p in model.parameters():
        dist.all_reduce(p.grad)
        p.grad /= world
    opt.step()
weights = model.weight.detach().clone()
dist.all_reduce(weights)
assert torch.allclose(weights / world, model.weight), "replicas diverged"
mean_loss = loss.detach().clone()
dist.all_reduce(mean_loss)
print(f"rank {rank} of {world} done", flush=True)
if rank == 0:
    print(f"world_size={world} loss={mean_loss.item() / world:.6f}", flush=True)
dist.barrier()  # leave together (gloo may abort a rank whose peer tore the group down)
dist.destroy_process_group()
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    yield s
    s.close()


def katib_doc(name: str, trial_spec: dict[str, Any], container: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "objective": {"type": "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 1,
            "maxTrialCount": 1,
            "maxFailedTrialCount": 1,
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.01", "max": "0.05"},
                }
            ],
            "trialTemplate": {
                "primaryContainerName": container,
                "trialParameters": [{"name": "learningRate", "reference": "lr"}],
                "trialSpec": trial_spec,
            },
        },
    }


def pytorchjob(script: Path) -> dict[str, Any]:
    """The shape of Katib's examples/v1beta1/kubeflow-training-operator/pytorchjob-mnist.yaml."""

    def replica() -> dict[str, Any]:
        command = ["python3", str(script), "--lr=${trialParameters.learningRate}"]
        return {
            "replicas": 1,
            "restartPolicy": "OnFailure",
            "template": {"spec": {"containers": [{"name": "pytorch", "command": command}]}},
        }

    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "spec": {"pytorchReplicaSpecs": {"Master": replica(), "Worker": replica()}},
    }


def trainjob(script: Path) -> dict[str, Any]:
    """The shape of Katib's examples/v1beta1/kubeflow-trainer/trainjob-pytorch.yaml."""
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": {
                "numNodes": 2,
                "command": ["python3", str(script), "--lr=${trialParameters.learningRate}"],
            },
        },
    }


def run_one(store: Store, doc: dict[str, Any], tmp_path: Path) -> Any:
    create(store, doc, tmp_path)
    name = doc["metadata"]["name"]
    Controller(store, name, LocalExecutor(), poll_interval=0.05).run()
    (trial,) = store.list_trials(name)
    return trial


@pytest.mark.parametrize("shape", ["pytorchjob", "trainjob"])
def test_two_process_torch_distributed_training(store: Store, tmp_path: Path, shape: str) -> None:
    pytest.importorskip("torch")
    script = tmp_path / "ddp.py"
    script.write_text(DDP)
    spec, container = (
        (pytorchjob(script), "pytorch")
        if shape == "pytorchjob"
        else (
            trainjob(script),
            "node",
        )
    )
    trial = run_one(store, katib_doc(f"ddp-{shape}", spec, container), tmp_path)
    trial_dir = tmp_path / "runs" / f"ddp-{shape}" / trial.name
    output = (trial_dir / "output.log").read_text()
    assert trial.status is TrialCondition.SUCCEEDED, (trial.reason, trial.message, output)
    # The metric is rank 0's, from the primary replica's output only.
    assert "world_size=2 loss=" in output
    assert "rank 1 of 2 done" not in output
    (other,) = (trial_dir / "replicas").glob("*.log")
    assert "rank 1 of 2 done" in other.read_text()
    obs = store.get_observations(f"ddp-{shape}", trial.name, "loss")
    assert len(obs) == 1 and trial.objective == pytest.approx(obs[0].value)
    printed = float(output.split("loss=")[1].split()[0])
    assert trial.objective == pytest.approx(printed, abs=1e-6)


def test_a_failing_worker_fails_the_trial(store: Store, tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            if os.environ["RANK"] == "1":
                print("worker broke", flush=True)
                sys.exit(3)
            print("loss=0.5", flush=True)
            time.sleep(60)
            """
        )
    )
    trial = run_one(store, katib_doc("gang-fail", pytorchjob(script), "pytorch"), tmp_path)
    output = (tmp_path / "runs" / "gang-fail" / trial.name / "output.log").read_text()
    assert trial.status is TrialCondition.FAILED
    assert "tunery: replica worker-0 exited with code 3; stopping the gang" in output
    assert "worker broke" in output


def test_mpijob_runs_the_launcher_with_mpirun(store: Store, tmp_path: Path) -> None:
    if shutil.which("mpirun") is None:
        require_system("mpirun (apt-get install openmpi-bin)")
    script = tmp_path / "rank.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            rank = os.environ["OMPI_COMM_WORLD_RANK"]
            size = os.environ["OMPI_COMM_WORLD_SIZE"]
            print(f"hello from {rank} of {size}", flush=True)
            if rank == "0":
                # mpirun forwards each rank's output as it comes: a pause keeps the metric
                # line from running into the other rank's line
                time.sleep(0.5)
                print(f"loss={float(sys.argv[1].split('=')[1]) * 10}", flush=True)
            """
        )
    )
    launcher = {
        "name": "mpi-launcher",
        "command": ["mpirun"],
        "args": [
            *("-np", "2", "-bind-to", "none", sys.executable, str(script)),
            "--lr=${trialParameters.learningRate}",
        ],
    }
    spec = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "MPIJob",
        "spec": {
            "slotsPerWorker": 1,
            "mpiReplicaSpecs": {
                "Launcher": {"replicas": 1, "template": {"spec": {"containers": [launcher]}}},
                "Worker": {
                    "replicas": 2,
                    "template": {"spec": {"containers": [{"name": "mpi-worker"}]}},
                },
            },
        },
    }
    doc = katib_doc("mpi", spec, "mpi-launcher")
    doc["spec"]["trialTemplate"]["primaryPodLabels"] = {"mpi-job-role": "launcher"}
    trial = run_one(store, doc, tmp_path)
    output = (tmp_path / "runs" / "mpi" / trial.name / "output.log").read_text()
    assert trial.status is TrialCondition.SUCCEEDED, (trial.reason, output)
    assert "hello from 0 of 2" in output and "hello from 1 of 2" in output
    assert trial.objective == pytest.approx(float(trial.parameters["lr"]) * 10)


def test_a_gang_runs_on_one_dask_worker(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from tunery.execute.dask import DaskExecutor
    from tunery.testing.dask import LocalDaskCluster, WorkerSpec

    script = tmp_path / "where.py"
    script.write_text(
        "import json, os\n"
        "print(json.dumps({'rank': os.environ['RANK'], 'pgid': os.getpgid(0),"
        " 'dir': os.environ['TUNERY_TRIAL_DIR'], 'port': os.environ['MASTER_PORT']}))\n"
    )
    spec = parse_document(katib_doc("dask-gang", pytorchjob(script), "pytorch"))
    launch = build_launch(
        spec,
        experiment="dask-gang",
        trial_name="dask-gang-1",
        parameters={"lr": 0.02},
        runs_dir=str(tmp_path / "runs"),
        base_dir=str(tmp_path),
    )
    workers = [WorkerSpec("a", nthreads=1), WorkerSpec("b", nthreads=1)]
    with LocalDaskCluster(str(tmp_path / "dask"), workers) as cluster:
        ex = DaskExecutor(cluster.address, grace=1.0)
        try:
            handle = ex.start(launch).handle
            deadline = time.monotonic() + 60
            while (status := ex.poll(handle)).state is RunState.RUNNING:
                assert time.monotonic() < deadline, "the gang did not end"
                ex.wait([handle], 0.2)
            assert status.state is RunState.SUCCEEDED, status
            primary = json.loads((Path(ex.output_path(handle))).read_text().splitlines()[-1])
        finally:
            ex.close()
    # Both replicas ran in one process group, the other one logging into the same attempt
    # directory of the worker that ran the task.
    (log,) = Path(primary["dir"], "replicas").glob("*.log")
    other = json.loads(log.read_text().splitlines()[-1])
    assert (primary["rank"], other["rank"]) == ("0", "1")
    assert primary["pgid"] == other["pgid"] and primary["port"] == other["port"]
    assert os.path.commonpath([primary["dir"], str(tmp_path / "dask")]) == str(tmp_path / "dask")
