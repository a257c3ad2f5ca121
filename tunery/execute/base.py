"""The executor protocol.

An executor starts a trial's process from a :class:`Launch` and returns a JSON handle; the
controller stores the handle, so that after a restart ``poll`` re-attaches through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from tunery.errors import TuneryError

if TYPE_CHECKING:
    from tunery.spec.replicas import Replica


class ResourcesUnavailable(TuneryError):
    """Not enough free resources (GPUs) right now; the controller retries the start later."""


class ResourcesImpossible(TuneryError):
    """The trial asks for more resources than the executor has at all."""


@dataclass(frozen=True)
class Launch:
    """Everything needed to run one trial."""

    trial_name: str
    argv: tuple[str, ...]
    #: Directory of the trial: output.log (stdout+stderr), exit code and pid files live here.
    trial_dir: str
    #: Extra environment on top of the controller's.
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    #: Seconds; the whole process tree is killed past it.
    timeout: float | None = None
    #: Katib resource requests/limits, e.g. {"nvidia.com/gpu": "1", "cpu": "2"}.
    resources: Mapping[str, str] = field(default_factory=dict)
    #: The trial's own metrics file (or directory) that the collector reads; None: the output
    #: log (StdOut).  Lives under ``trial_dir``.
    metrics_path: str | None = None
    #: Directories the controller empties and creates before the trial's first start.
    fresh_dirs: tuple[str, ...] = ()
    #: Files (or directories) the controller removes before the trial's first start.
    stale_files: tuple[str, ...] = ()
    #: A distributed trial's replicas (paths rewritten, working directories resolved), which
    #: ``argv`` (the gang supervisor, :mod:`tunery.gang`) runs together; empty: one process.
    replicas: tuple[Replica, ...] = ()


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit, killed by a signal, or timed out
    LOST = "lost"  # the process is gone and its exit status cannot be known


@dataclass(frozen=True)
class RunStatus:
    state: RunState
    exit_code: int | None = None
    #: A Katib-style reason for failures, e.g. "TrialTimeout", "ExitCode", "Signal".
    reason: str | None = None
    message: str | None = None


class Executor(Protocol):
    """What the controller needs to run trials."""

    def start(self, launch: Launch) -> dict[str, Any]:
        """Start the trial; return a JSON-serialisable handle."""
        ...

    def poll(self, handle: Mapping[str, Any]) -> RunStatus:
        """The trial's state; works on a handle stored by an earlier controller process."""
        ...

    def stop(self, handle: Mapping[str, Any]) -> None:
        """Kill the trial's whole process tree (idempotent)."""
        ...

    def output_path(self, handle: Mapping[str, Any]) -> str:
        """Local path of the trial's combined stdout+stderr log (what StdOut collects)."""
        ...
