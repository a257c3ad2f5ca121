"""Katib's ``kubeflow.katib.types.types``: :class:`TrainerResources`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class TrainerResources:
    """A distributed (PyTorchJob) trial: ``num_workers`` nodes of ``num_procs_per_worker``
    processes, each node with ``resources_per_worker`` (``{"cpu": "2", "gpu": "1"}``).

    Locally the nodes are processes of one gang (``tunery.gang``) on this machine."""

    num_workers: int
    num_procs_per_worker: int
    resources_per_worker: Mapping[str, Any]
