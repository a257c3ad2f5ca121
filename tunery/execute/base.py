"""The executor contract: :class:`Executor` (what the controller calls) and
:class:`ExecutorBase` (its defaults, which every executor derives from).

An executor starts a trial's process from a :class:`Launch` and returns a JSON handle (in
:class:`Started`); the controller stores the handle, so that after a restart ``poll``
re-attaches through it.  The controller calls every method of :class:`Executor`
unconditionally: an executor overrides only what it does differently from the defaults of
:class:`ExecutorBase` (as httpx's ``BaseTransport``).  A new executor is one module, one line
in :mod:`tunery.execute`'s registry and one ``TestXContract(ExecutorContract)`` class
(:mod:`tunery.testing.executor`).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from tunery.clock import Clock, SystemClock
from tunery.errors import TuneryError

if TYPE_CHECKING:
    from tunery.spec.replicas import Replica


#: How to name an executor, for one-line errors.
URL_HINT = "use --executor local, or --executor dask://HOST:PORT (a running Dask scheduler)"


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
    #: Whether ``metrics_path`` names a directory (TensorFlowEvent) rather than a file.
    metrics_is_dir: bool = False
    #: The trial's checkpoint directory (pbt's ``suggestion_trial_dir``, emulated), or None.
    checkpoint_dir: str | None = None
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


@dataclass(frozen=True)
class Started:
    """A trial that runs (or ran): its JSON-serialisable handle, and when it started
    (epoch seconds, the executor's clock)."""

    handle: dict[str, Any]
    started_at: float


class Executor(Protocol):
    """What the controller needs to run trials (defaults: :class:`ExecutorBase`)."""

    def start(self, launch: Launch) -> Started:
        """Start the trial; its handle must survive a JSON round-trip and a new executor."""
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

    def adopt(self, handle: Mapping[str, Any]) -> None:
        """Take a re-attached running trial into account (its GPUs, its task) after a restart."""
        ...

    def recover(self, launch: Launch, not_before: float | None = None) -> Started | None:
        """The trial started from ``launch`` whose handle was never saved (the controller died
        in between), or None when it never started.  Traces older than ``not_before`` (the
        trial's creation time) belong to an earlier experiment of the same name."""
        ...

    def wait(
        self, handles: Iterable[Mapping[str, Any]], timeout: float, clock: Clock | None = None
    ) -> None:
        """Sleep up to ``timeout`` seconds on ``clock`` (None: the system clock); an executor
        may return early when one of the trials ends."""
        ...

    def close(self) -> None:
        """Release the executor's connections (running trials go on)."""
        ...

    def reopen_url(self, handle: Mapping[str, Any]) -> str:
        """The executor URL that re-attaches to the trial of ``handle`` (``tunery stop``)."""
        ...

    def prepare_checkpoint(
        self, parent_dir: str | None, trial_dir: str, not_before: float | None = None
    ) -> None:
        """Give a trial its checkpoint directory ``trial_dir`` before it starts: a copy of
        the checkpoint directory ``parent_dir`` of its parent trial (pbt), or an empty one."""
        ...


log = logging.getLogger(__name__)


class ExecutorBase:
    """The defaults of :class:`Executor`; every executor derives from this class.

    Subclasses set :attr:`scheme` (their URL scheme and the ``"executor"`` field of their
    handles) and implement ``start``, ``poll``, ``stop`` and ``output_path``.
    """

    #: The URL scheme (and the handles' ``"executor"`` kind) of this executor.
    scheme: ClassVar[str] = ""
    #: Whether a trial sees the stop marker the controller writes in its trial directory
    #: (:mod:`tunery.stopfile`): then early stopping asks it to end and waits a grace period
    #: before :meth:`stop`; otherwise it is stopped at once.
    stop_channel: ClassVar[bool] = False

    def start(self, launch: Launch) -> Started:  # pragma: no cover - abstract
        raise NotImplementedError

    def poll(self, handle: Mapping[str, Any]) -> RunStatus:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self, handle: Mapping[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def output_path(self, handle: Mapping[str, Any]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def adopt(self, handle: Mapping[str, Any]) -> None:
        """Nothing to take into account by default."""

    def recover(self, launch: Launch, not_before: float | None = None) -> Started | None:
        """By default a trial without a saved handle never started."""
        return None

    def wait(
        self, handles: Iterable[Mapping[str, Any]], timeout: float, clock: Clock | None = None
    ) -> None:
        """Sleep ``timeout`` seconds on ``clock``."""
        (clock or SystemClock()).sleep(max(0.0, timeout))

    def close(self) -> None:
        """Nothing to release by default."""

    @classmethod
    def reopen_url(cls, handle: Mapping[str, Any]) -> str:
        """The scheme alone (an executor without an address)."""
        return cls.scheme

    @classmethod
    def check_url(cls, url: str) -> None:
        """Refuse a URL of this scheme that does not name an executor (by default only the
        bare scheme does): :class:`~tunery.errors.UserInputError`, one line."""
        if url.strip() != cls.scheme:
            from tunery.errors import UserInputError

            raise UserInputError(f"--executor {url!r} is not an executor URL", URL_HINT)

    @classmethod
    def from_url(cls, url: str, *, gpus: Sequence[str] | None = None) -> ExecutorBase:
        """The executor a (checked) URL names; ``gpus``: a local GPU pool, if it has one."""
        return cls()

    def prepare_checkpoint(
        self, parent_dir: str | None, trial_dir: str, not_before: float | None = None
    ) -> None:
        """A local copy (:func:`copy_checkpoint`): the controller's disk holds checkpoints."""
        copy_checkpoint(parent_dir, trial_dir, not_before)

    def __enter__(self) -> ExecutorBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def copy_checkpoint(
    parent_dir: str | None, trial_dir: str, not_before: float | None = None
) -> None:
    """Give a trial its checkpoint directory before it starts: a copy of its parent's, or empty.

    Atomic and idempotent: the copy is made under a temporary name and renamed into place, so a
    crash never leaves a half copy under the trial's name, and a directory already in place is
    kept.  One older than ``not_before`` (the trial's creation time) is a leftover of an earlier
    experiment of the same name and is replaced.  A parent without a directory (it never
    started) gives an empty one.
    """
    if checkpoint_in_place(trial_dir, not_before):
        return
    if os.path.isdir(trial_dir):
        shutil.rmtree(trial_dir)
    partial = trial_dir + ".partial"
    if os.path.lexists(partial):
        shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(os.path.dirname(trial_dir) or ".", exist_ok=True)
    if parent_dir is not None and os.path.isdir(parent_dir):
        shutil.copytree(parent_dir, partial, symlinks=True)
    else:
        if parent_dir is not None:
            log.warning("checkpoint %s of the parent trial is missing; starting empty", parent_dir)
        os.makedirs(partial)
    os.rename(partial, trial_dir)


def checkpoint_in_place(trial_dir: str, not_before: float | None = None) -> bool:
    """Whether the trial's checkpoint directory is there already, and not older than
    ``not_before`` (then it is a leftover of an earlier experiment of the same name)."""
    if not os.path.isdir(trial_dir):
        return False
    return not_before is None or _changed_at(trial_dir) >= not_before - 1.0


def _changed_at(path: str) -> float:
    st = os.stat(path)
    return max(st.st_mtime, st.st_ctime)
