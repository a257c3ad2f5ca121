"""Distributed trial templates: the replicas of a Kubeflow training job, as local processes.

A ``PyTorchJob``, ``TFJob``, ``XGBoostJob`` or ``TrainJob`` trial becomes a *gang*: one process
per replica (per node process for a ``TrainJob`` whose command is not ``torchrun``), started
together by the gang supervisor (:mod:`tunery.gang`), killed together, one trial.  Each replica
runs the container of its pod template that ``primaryContainerName`` names (or the pod's only
container) with the environment its operator would set, addresses being ``127.0.0.1`` /
``localhost``.  Ports are chosen free when the gang starts: they are written here as
``{tunery.port.NAME}`` tokens (:data:`PORT_TOKEN`) that the supervisor fills in.

What each operator sets (kubeflow/training-operator v1 ``pkg/controller.v1/*``, kubeflow/trainer
``pkg/runtime/framework/plugins/torch``, torch's ``local_elastic_agent``):

* PyTorchJob (a Master replica is required): ``MASTER_ADDR``/``PET_MASTER_ADDR``,
  ``MASTER_PORT``/``PET_MASTER_PORT``, ``WORLD_SIZE`` (replicas x ``nprocPerNode``), ``RANK`` and
  ``PET_NODE_RANK`` (master 0, worker i -> i+1), ``PET_NNODES``, ``PET_NPROC_PER_NODE`` (when
  set), ``PYTHONUNBUFFERED=1``; when the command is not ``torchrun`` tunery adds
  ``LOCAL_RANK=0``, ``LOCAL_WORLD_SIZE=1`` (each replica is one process on a node of its own).
* TFJob: ``TF_CONFIG`` (every replica type and index at ``localhost:<port>``, the replica's
  task, ``"environment": "cloud"``) when the job has more than one replica.
* XGBoostJob: ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``, ``RANK`` (workers after the
  masters), ``PYTHONUNBUFFERED=1``, and ``WORKER_PORT``/``WORKER_ADDRS`` for LightGBM.
* TrainJob: ``PET_NNODES``, ``PET_NPROC_PER_NODE``, ``PET_NODE_RANK``, ``PET_MASTER_ADDR``,
  ``PET_MASTER_PORT`` per node; a ``torchrun`` command runs once per node (torchrun starts the
  node's processes); any other command runs ``numNodes x numProcPerNode`` times with the
  environment torchrun gives its workers (``RANK``, ``LOCAL_RANK``, ``GROUP_RANK``,
  ``ROLE_RANK``, ``ROLE_NAME``, ``LOCAL_WORLD_SIZE``, ``WORLD_SIZE``, ``GROUP_WORLD_SIZE``,
  ``ROLE_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, ``TORCHELASTIC_*``).
* MPIJob: no gang; the Launcher's command (``mpirun -np N ...``) runs as the trial, with Debian's
  ``mpirun`` allowed to run as root and to oversubscribe the local cores.

Success (as the operators decide a job's success): the gang succeeds when its *leader*
replicas exit 0 -- PyTorchJob and XGBoostJob the master; TFJob the chief (or master), else
worker 0 (every worker with ``successPolicy: AllWorkers``); TrainJob every node.  Any replica
failing before that fails the gang.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunery.errors import SpecError
from tunery.model import ExperimentSpec
from tunery.spec.template import (
    WRAPPED_COLLECTORS,
    RenderedTrial,
    _container_env,
    _deadline,
    _quantities,
    _string_list,
    entrypoint_override,
    expand_k8s_vars,
    katib_argv,
)

__all__ = [
    "GANG_KINDS",
    "LOCALHOST",
    "PORT_TOKEN",
    "Replica",
    "check_distributed",
    "port_token",
    "render_distributed",
    "sum_resources",
]

#: ``{tunery.port.NAME}``: a port the gang supervisor chooses free at start.
PORT_TOKEN = re.compile(r"\{tunery\.port\.([A-Za-z0-9_.-]+)\}")
LOCALHOST = "127.0.0.1"
GPU = "nvidia.com/gpu"
_TT = "spec.trialTemplate"

#: Replica types per kind, in the order tunery starts (and ranks) them.
_REPLICA_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "PyTorchJob": ("pytorchReplicaSpecs", ("Master", "Worker")),
    "TFJob": ("tfReplicaSpecs", ("Chief", "Master", "PS", "Worker", "Evaluator")),
    "XGBoostJob": ("xgbReplicaSpecs", ("Master", "Worker")),
}
#: Kinds that run as a gang of processes.
GANG_KINDS = frozenset({*_REPLICA_TYPES, "TrainJob"})
_TORCHRUN = re.compile(r"(^|[\s/])torchrun(\s|$)|torch\.distributed\.(run|launch)(\s|$)")
_MPIRUN_NAMES = ("mpirun", "mpiexec", "orterun")
#: Debian's Open MPI (4.x and 5.x) on one machine: as root, more ranks than cores.
MPI_ENV = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",
}


def port_token(name: str) -> str:
    return "{tunery.port." + name + "}"


@dataclass(frozen=True)
class Replica:
    """One process of a gang."""

    #: e.g. ``master-0``, ``worker-1``, ``node-0`` (``node-0-1``: process 1 of node 0).
    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    working_dir: str | None
    #: The requests of the pod this process belongs to (on the first process of a node only).
    resources: dict[str, str]
    #: Whether its output is the trial's output (metrics come only from it).
    primary: bool = False
    #: Whether the gang's success waits for this replica to exit 0.
    leader: bool = True
    #: The pod (node) it runs in: processes of one node share its GPUs.
    node: str = ""
    #: GPUs of its node (``nvidia.com/gpu`` of the pod).
    gpus: int = 0
    labels: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _int(value: Any, path: str, default: int, *, minimum: int, lenient: bool) -> int:
    if value is None:
        return default
    if isinstance(value, str) and "${" in value and lenient:
        return max(default, minimum)
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum:
        raise SpecError(path, f"must be a whole number >= {minimum}, not {value!r}")
    return number


def _quantity(raw: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][+-]?\d+)?)\s*(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?\s*", raw)
    if m is None:
        return math.nan
    factors = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
    factors.update({"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50})
    return float(m.group(1)) * factors.get(m.group(2) or "", 1.0)


def _format(number: float) -> str:
    return str(int(number)) if number == int(number) else repr(number)


def sum_resources(requests: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Requests of several pods added up (``cpu`` in cores, ``memory`` in bytes)."""
    totals: dict[str, float] = {}
    raw: dict[str, str] = {}
    for resources in requests:
        for key, value in resources.items():
            number = _quantity(str(value))
            if key in raw and math.isnan(number):
                continue
            totals[key] = totals.get(key, 0.0) + number
            raw[key] = str(value)
    return {k: (raw[k] if math.isnan(v) else _format(v)) for k, v in totals.items()}


def _gpus(resources: Mapping[str, str], path: str) -> int:
    raw = resources.get(GPU)
    if raw is None:
        return 0
    number = _quantity(str(raw))
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise SpecError(path, f"invalid {GPU} request {raw!r}", "ask for a whole number of GPUs")
    return int(number)


def _uses_torchrun(words: Sequence[str]) -> bool:
    return _TORCHRUN.search(" ".join(words)) is not None


def _pod_container(
    replica_spec: Mapping[str, Any], name: str | None, path: str
) -> tuple[Mapping[str, Any], str, dict[str, str]]:
    """The container a replica runs, its YAML path, and its pod template's labels."""
    template = replica_spec.get("template")
    template = template if isinstance(template, Mapping) else {}
    metadata = template.get("metadata")
    labels_raw = metadata.get("labels") if isinstance(metadata, Mapping) else None
    labels = (
        {str(k): str(v) for k, v in labels_raw.items()} if isinstance(labels_raw, Mapping) else {}
    )
    pod = template.get("spec")
    containers = pod.get("containers") if isinstance(pod, Mapping) else None
    containers = [c for c in containers or [] if isinstance(c, Mapping)]
    cpath = f"{path}.template.spec.containers"
    for i, container in enumerate(containers):
        if container.get("name") == name:
            return container, f"{cpath}[{i}]", labels
    if len(containers) == 1:
        return containers[0], f"{cpath}[0]", labels
    names = ", ".join(str(c.get("name")) for c in containers) or "none"
    raise SpecError(
        cpath,
        f"tunery runs one container per replica and cannot tell which of these to run "
        f"(containers: {names})",
        f"name the training container {name!r} (primaryContainerName) in every replica",
    )


def _command(
    container: Mapping[str, Any], path: str, what: str, entrypoint: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """A container's command and args; ``entrypoint`` (the ``tunery.dev/entrypoint``
    annotation: the image's ENTRYPOINT, shared by the job's replicas) stands in for a missing
    command, as the image's entrypoint does in a cluster."""
    command = _string_list(container.get("command")) or list(entrypoint)
    if not command:
        raise SpecError(
            f"{path}.command",
            f"{what} has no command; tunery runs trials without the container image and "
            "cannot read its entrypoint",
            "write the full command line in the container's command (and args)",
        )
    return command, _string_list(container.get("args"))


@dataclass
class _Proc:
    """A replica while it is planned: the env the operator sets is added last."""

    name: str
    rtype: str
    index: int
    container: Mapping[str, Any]
    path: str
    resources: dict[str, str]
    labels: dict[str, str]
    operator_env: dict[str, str] = field(default_factory=dict)
    leader: bool = False
    node: str = ""
    gpus: int = 0


# --------------------------------------------------------------------------- planning


def _training_operator_procs(
    kind: str, trial_spec: Mapping[str, Any], container_name: str | None, lenient: bool
) -> list[_Proc]:
    key, known = _REPLICA_TYPES[kind]
    spec = trial_spec.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    base = f"{_TT}.trialSpec.spec.{key}"
    replica_specs = spec.get(key)
    if not isinstance(replica_specs, Mapping) or not replica_specs:
        raise SpecError(base, f"a {kind} needs {key}", "add its Master/Worker replicas")
    by_lower = {t.lower(): t for t in known}
    for rtype in replica_specs:
        if str(rtype).lower() not in by_lower:
            raise SpecError(
                f"{base}.{rtype}",
                f"tunery cannot run {kind} replicas of type {rtype!r} locally",
                f"use the replica types {', '.join(known)}",
            )
    procs: list[_Proc] = []
    for canonical in known:
        for rtype, replica_spec in replica_specs.items():
            if str(rtype).lower() != canonical.lower() or not isinstance(replica_spec, Mapping):
                continue
            path = f"{base}.{rtype}"
            count = _int(
                replica_spec.get("replicas"), f"{path}.replicas", 1, minimum=0, lenient=lenient
            )
            if count == 0:
                continue
            container, cpath, labels = _pod_container(replica_spec, container_name, path)
            resources = _quantities(container.get("resources"))
            role = canonical.lower()
            for i in range(count):
                procs.append(
                    _Proc(
                        name=f"{role}-{i}",
                        rtype=role,
                        index=i,
                        container=container,
                        path=cpath,
                        resources=resources,
                        labels={
                            **labels,
                            "training.kubeflow.org/replica-type": role,
                            "training.kubeflow.org/replica-index": str(i),
                        },
                        node=f"{role}-{i}",
                        gpus=_gpus(resources, f"{cpath}.resources"),
                    )
                )
    if not procs:
        raise SpecError(base, f"the {kind} has no replicas", "set replicas: 1 or more")
    return procs


def _mark(leaders: Sequence[_Proc]) -> None:
    for p in leaders:
        p.leader = True


def _pytorch_env(procs: list[_Proc], spec: Mapping[str, Any], lenient: bool) -> None:
    path = f"{_TT}.trialSpec.spec"
    if spec.get("elasticPolicy") is not None:
        raise SpecError(
            f"{path}.elasticPolicy",
            "elastic PyTorchJobs (a changing number of workers) cannot run locally",
            "remove elasticPolicy and give a Master replica",
        )
    masters = [p for p in procs if p.rtype == "master"]
    if not masters:
        raise SpecError(
            f"{path}.pytorchReplicaSpecs",
            "a PyTorchJob without a Master replica relies on an external rendezvous and "
            "cannot run locally",
            "add a Master replica (replicas: 1)",
        )
    nproc_raw = spec.get("nprocPerNode")
    nproc = 1
    if nproc_raw is not None and str(nproc_raw).strip().isdigit():
        nproc = max(1, int(str(nproc_raw)))
    world = len(procs) * nproc
    for p in procs:
        rank = p.index + (1 if p.rtype == "worker" else 0)
        env = {
            "PYTHONUNBUFFERED": "1",
            "MASTER_PORT": port_token("master"),
            "PET_MASTER_PORT": port_token("master"),
            "MASTER_ADDR": LOCALHOST,
            "PET_MASTER_ADDR": LOCALHOST,
            "WORLD_SIZE": str(world),
            "RANK": str(rank),
            "PET_NODE_RANK": str(rank),
        }
        if nproc_raw is not None:
            env["PET_NPROC_PER_NODE"] = str(nproc_raw)
        env["PET_NNODES"] = str(len(procs))
        command = [
            *_string_list(p.container.get("command")),
            *_string_list(p.container.get("args")),
        ]
        if not _uses_torchrun(command):
            if nproc > 1:
                raise SpecError(
                    f"{path}.nprocPerNode",
                    f"nprocPerNode {nproc_raw} counts {nproc} processes per replica in "
                    "WORLD_SIZE, but the command starts one",
                    "start the command with torchrun, or remove nprocPerNode",
                )
            env["LOCAL_RANK"] = "0"
            env["LOCAL_WORLD_SIZE"] = "1"
        p.operator_env = env
        if p.rtype == "master":
            p.labels["training.kubeflow.org/job-role"] = "master"
    _mark(masters)


def _tf_env(procs: list[_Proc], spec: Mapping[str, Any]) -> None:
    cluster: dict[str, list[str]] = {}
    for p in procs:
        cluster.setdefault(p.rtype, []).append(f"localhost:{port_token(p.name)}")
    chiefs = [p for p in procs if p.rtype in ("chief", "master")]
    workers = [p for p in procs if p.rtype == "worker"]
    if chiefs:
        leaders = chiefs[:1]
    elif spec.get("successPolicy") == "AllWorkers":
        leaders = workers
    else:
        leaders = workers[:1]
    if not leaders:
        raise SpecError(
            f"{_TT}.trialSpec.spec.tfReplicaSpecs",
            "a TFJob needs a Chief, Master or Worker replica to decide its success",
            "add a Worker replica",
        )
    master_role = chiefs[:1] or workers[:1]
    for p in procs:
        if len(procs) > 1:
            config = {
                "cluster": cluster,
                "task": {"type": p.rtype, "index": p.index},
                "environment": "cloud",
            }
            p.operator_env = {"TF_CONFIG": json.dumps(config, separators=(",", ":"))}
        if p in master_role:
            p.labels["training.kubeflow.org/job-role"] = "master"
    _mark(leaders)


def _xgboost_env(procs: list[_Proc]) -> None:
    masters = [p for p in procs if p.rtype == "master"]
    if not masters:
        raise SpecError(
            f"{_TT}.trialSpec.spec.xgbReplicaSpecs",
            "an XGBoostJob needs a Master replica",
            "add a Master replica (replicas: 1)",
        )
    total = len(procs)
    for p in procs:
        rank = p.index + (len(masters) if p.rtype == "worker" else 0)
        env = {
            "MASTER_PORT": port_token("master"),
            "MASTER_ADDR": LOCALHOST,
            "WORLD_SIZE": str(total),
            "RANK": str(rank),
            "PYTHONUNBUFFERED": "1",
        }
        if total > 1:
            env["WORKER_PORT"] = port_token("worker")
            env["WORKER_ADDRS"] = ",".join([LOCALHOST] * (total - 1))
        p.operator_env = env
        if p.rtype == "master":
            p.labels["training.kubeflow.org/job-role"] = "master"
    _mark(masters[:1])


def _cpu_count(resources: Mapping[str, str]) -> int:
    raw = resources.get("cpu")
    number = _quantity(str(raw)) if raw is not None else 0.0
    return math.ceil(number) if math.isfinite(number) else 0


def _trainjob_procs(trial_spec: Mapping[str, Any], lenient: bool) -> list[_Proc]:
    spec = trial_spec.get("spec")
    trainer = spec.get("trainer") if isinstance(spec, Mapping) else None
    path = f"{_TT}.trialSpec.spec.trainer"
    if not isinstance(trainer, Mapping):
        raise SpecError(path, "a TrainJob needs spec.trainer", "give its command and numNodes")
    nodes = _int(trainer.get("numNodes"), f"{path}.numNodes", 1, minimum=1, lenient=lenient)
    resources = _quantities(trainer.get("resourcesPerNode"))
    gpus = _gpus(resources, f"{path}.resourcesPerNode")
    raw_nproc = trainer.get("numProcPerNode")
    if raw_nproc is None or str(raw_nproc).strip() == "auto":
        # Trainer: "auto" is the CPU request without GPUs; torchrun makes it the GPU count.
        nproc = gpus if gpus else max(1, _cpu_count(resources))
        nproc_text = "auto" if raw_nproc is None or gpus else str(nproc)
    else:
        nproc = _int(raw_nproc, f"{path}.numProcPerNode", 1, minimum=1, lenient=lenient)
        nproc_text = str(nproc)
    command = [*_string_list(trainer.get("command")), *_string_list(trainer.get("args"))]
    torchrun = _uses_torchrun(command)
    per_node = 1 if torchrun else nproc
    world = nodes * per_node
    procs: list[_Proc] = []
    for n in range(nodes):
        node = f"node-{n}"
        pet = {
            "PET_NNODES": str(nodes),
            "PET_NPROC_PER_NODE": nproc_text,
            "PET_NODE_RANK": str(n),
            "PET_MASTER_ADDR": LOCALHOST,
            "PET_MASTER_PORT": port_token("master"),
        }
        for local in range(per_node):
            env = dict(pet)
            if not torchrun:
                rank = n * per_node + local
                env.update(
                    {
                        "RANK": str(rank),
                        "LOCAL_RANK": str(local),
                        "GROUP_RANK": str(n),
                        "ROLE_RANK": str(rank),
                        "ROLE_NAME": "default",
                        "LOCAL_WORLD_SIZE": str(per_node),
                        "WORLD_SIZE": str(world),
                        "GROUP_WORLD_SIZE": str(nodes),
                        "ROLE_WORLD_SIZE": str(world),
                        "MASTER_ADDR": LOCALHOST,
                        "MASTER_PORT": port_token("master"),
                        "TORCHELASTIC_RESTART_COUNT": "0",
                        "TORCHELASTIC_MAX_RESTARTS": "0",
                        "TORCHELASTIC_RUN_ID": "none",
                        "TORCHELASTIC_USE_AGENT_STORE": "False",
                        "TORCH_NCCL_ASYNC_ERROR_HANDLING": "1",
                    }
                )
                if per_node > 1:
                    env["OMP_NUM_THREADS"] = "1"  # torchrun's default for several processes
            procs.append(
                _Proc(
                    name=node if per_node == 1 else f"{node}-{local}",
                    rtype="node",
                    index=n,
                    container=trainer,
                    path=path,
                    resources=resources if local == 0 else {},
                    labels={
                        "jobset.sigs.k8s.io/replicatedjob-name": "node",
                        "batch.kubernetes.io/job-completion-index": str(n),
                    },
                    operator_env=env,
                    leader=True,
                    node=node,
                    gpus=gpus,
                )
            )
    return procs


def _pick_primary(procs: list[_Proc], primary_labels: Mapping[str, str] | None) -> _Proc:
    if primary_labels:
        for p in procs:
            if all(p.labels.get(k) == v for k, v in primary_labels.items()):
                return p
    for p in procs:
        if p.labels.get("training.kubeflow.org/job-role") == "master":
            return p
    return procs[0]


# --------------------------------------------------------------------------- entry points


def _mpi_render(
    spec: ExperimentSpec, trial_spec: Mapping[str, Any], lenient: bool
) -> RenderedTrial:
    template = spec.trial_template
    job = trial_spec.get("spec")
    job = job if isinstance(job, Mapping) else {}
    base = f"{_TT}.trialSpec.spec.mpiReplicaSpecs"
    replica_specs = job.get("mpiReplicaSpecs")
    if not isinstance(replica_specs, Mapping):
        raise SpecError(base, "an MPIJob needs mpiReplicaSpecs", "add its Launcher and Worker")
    launcher = next((v for k, v in replica_specs.items() if str(k).lower() == "launcher"), None)
    if not isinstance(launcher, Mapping):
        raise SpecError(f"{base}.Launcher", "an MPIJob needs a Launcher replica", None)
    if shutil.which("mpirun") is None:
        raise SpecError(
            f"{_TT}.trialSpec",
            "this MPIJob runs its Launcher's command with mpirun, which is not installed here",
            "install Open MPI: apt-get install openmpi-bin",
        )
    container, cpath, _ = _pod_container(launcher, template.primary_container_name, base)
    cpath = f"{base}.Launcher{cpath.removeprefix(base)}"
    command, args = _command(
        container, cpath, "the MPIJob's Launcher container", entrypoint_override(spec)
    )
    requests = [_quantities(container.get("resources"))]
    for rtype, replica_spec in replica_specs.items():
        if str(rtype).lower() != "worker" or not isinstance(replica_spec, Mapping):
            continue
        count = _int(
            replica_spec.get("replicas"), f"{base}.{rtype}.replicas", 1, minimum=0, lenient=lenient
        )
        pod_template = replica_spec.get("template")
        pod = pod_template.get("spec") if isinstance(pod_template, Mapping) else None
        containers = pod.get("containers") if isinstance(pod, Mapping) else None
        for c in (containers if isinstance(containers, list) else [])[:1]:
            if isinstance(c, Mapping):
                requests.extend([_quantities(c.get("resources"))] * count)
    env = {**MPI_ENV, **_container_env(container)}
    wrap = spec.metrics_collector.kind in WRAPPED_COLLECTORS
    argv = [expand_k8s_vars(a, env) for a in katib_argv(command, args, wrap)]
    working_dir = container.get("workingDir")
    return RenderedTrial(
        argv=tuple(argv),
        env=env,
        working_dir=str(working_dir) if working_dir else None,
        timeout=_deadline(trial_spec),
        resources=sum_resources(requests),
    )


def render_distributed(
    spec: ExperimentSpec,
    trial_spec: Mapping[str, Any],
    trial_name: str,
    *,
    lenient: bool = False,
) -> RenderedTrial | None:
    """The trial of a distributed job kind (placeholders already substituted), else None.

    ``lenient`` (validation): replica counts that are still placeholders count as 1.
    """
    kind = trial_spec.get("kind")
    api = str(trial_spec.get("apiVersion", ""))
    if kind == "MPIJob" and api.startswith("kubeflow.org/"):
        return _mpi_render(spec, trial_spec, lenient)
    if kind == "TrainJob" and api.startswith("trainer.kubeflow.org/"):
        procs = _trainjob_procs(trial_spec, lenient)
    elif isinstance(kind, str) and kind in _REPLICA_TYPES and api.startswith("kubeflow.org/"):
        template = spec.trial_template
        procs = _training_operator_procs(kind, trial_spec, template.primary_container_name, lenient)
        job = trial_spec.get("spec")
        job = job if isinstance(job, Mapping) else {}
        if kind == "PyTorchJob":
            _pytorch_env(procs, job, lenient)
        elif kind == "TFJob":
            _tf_env(procs, job)
        else:
            _xgboost_env(procs)
    else:
        return None
    template = spec.trial_template
    primary = _pick_primary(procs, template.primary_pod_labels)
    wrap = spec.metrics_collector.kind in WRAPPED_COLLECTORS
    replicas: list[Replica] = []
    for p in procs:
        command, args = _command(
            p.container, p.path, f"replica {p.name}'s container", entrypoint_override(spec)
        )
        env = {**_container_env(p.container), **p.operator_env}
        argv = [expand_k8s_vars(a, env) for a in katib_argv(command, args, wrap)]
        working_dir = p.container.get("workingDir")
        replicas.append(
            Replica(
                name=p.name,
                argv=tuple(argv),
                env=env,
                working_dir=str(working_dir) if working_dir else None,
                resources=dict(p.resources),
                primary=p is primary,
                leader=p.leader,
                node=p.node or p.name,
                gpus=p.gpus,
                labels=dict(p.labels),
            )
        )
    first = next(r for r in replicas if r.primary)
    return RenderedTrial(
        argv=first.argv,
        env=dict(first.env),
        working_dir=first.working_dir,
        timeout=_deadline(trial_spec),
        resources=sum_resources([r.resources for r in replicas]),
        replicas=tuple(replicas),
    )


def check_distributed(spec: ExperimentSpec) -> None:
    """Refuse (one line) a distributed trial spec that cannot run locally."""
    trial_spec = spec.trial_template.trial_spec
    if trial_spec is not None:
        render_distributed(spec, trial_spec, "validate", lenient=True)


def gang_spec(
    replicas: Sequence[Replica], working_dirs: Sequence[str], linger: float = 5.0
) -> dict[str, Any]:
    """The JSON the gang supervisor (:mod:`tunery.gang`) runs."""
    ports = sorted(
        {
            m.group(1)
            for r in replicas
            for text in (*r.argv, *r.env.values())
            for m in PORT_TOKEN.finditer(text)
        }
    )
    return {
        "version": 1,
        "ports": ports,
        "linger": linger,
        "replicas": [
            {
                "name": r.name,
                "argv": list(r.argv),
                "env": r.env,
                "cwd": cwd,
                "primary": r.primary,
                "leader": r.leader,
                "node": r.node,
                "gpus": r.gpus,
            }
            for r, cwd in zip(replicas, working_dirs, strict=True)
        ],
    }


def gang_argv(python: str, spec: Mapping[str, Any]) -> tuple[str, ...]:
    return (python, "-m", "tunery.gang", json.dumps(spec, separators=(",", ":")))
