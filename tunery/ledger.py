"""The writer's kit: what the one writer of an experiment's trials does, whoever drives it.

Both the :class:`~tunery.controller.Controller` (trials as processes) and the ask/tell
:class:`~tunery.optimizer.Optimizer` (trials in the caller's loop) write trials the same way,
through one :class:`TrialLedger`:

* **the lease**: :meth:`~TrialLedger.acquire` (taking over at once from a dead owner on this
  host, :func:`owner_is_dead`), :meth:`~TrialLedger.renew`, :meth:`~TrialLedger.release`; a
  fenced lease makes every write of the store check, in its own transaction, that the lease is
  still ours;
* **naming**: the next trial index, and its name (:func:`tunery.launch.trial_name_for`);
* **writes**: :meth:`~TrialLedger.create_trial`, compare-and-set transitions
  (:meth:`~TrialLedger.transition`, with a :class:`~tunery.model.TrialReason`), observations
  with their metric summaries (:meth:`~TrialLedger.batch` and :meth:`~TrialLedger.record` for
  a collector's reads, thinned; :meth:`~TrialLedger.observe` for one value), the algorithm's
  state when it changed (:meth:`~TrialLedger.save_state`);
* **the cache**: every trial of the experiment in memory, with counts by status and the first
  trial that reached the goal, refreshed after each of its own writes: a tick costs the same
  with 10 or 10,000 finished trials.

The store is written first and the cache after it succeeds, so the two agree after every call,
failed ones included.  Without a store (an Optimizer with no storage) the ledger keeps memory
only.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tunery.completion import reaches_goal
from tunery.crashpoints import crashpoint
from tunery.errors import LeaseLostError
from tunery.launch import trial_name_for
from tunery.model import (
    DRIVEN_SECONDS_KEY,
    RERUN_LABEL,
    Assignment,
    MetricRecord,
    MetricSummary,
    Objective,
    Observation,
    Trial,
    TrialCondition,
    TrialReason,
    is_interrupted,
    is_seed,
    objective_text,
)
from tunery.storage.base import TrialChange  # the protocol's types only: no database code
from tunery.thinning import OBSERVATION_LIMIT, THINNED_LABEL, Thinning

if TYPE_CHECKING:
    from tunery.storage.base import BaseStore

log = logging.getLogger(__name__)

__all__ = [
    "Batch",
    "Counts",
    "TrialLedger",
    "default_owner",
    "owner_is_dead",
]


def default_owner() -> str:
    """A lease owner id: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists.

    Lets ``tunery resume`` take over at once after the previous controller was killed,
    instead of waiting for its lease to expire.
    """
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # The pid exists; it may be a zombie of a killed controller (our own child in tests).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except (OSError, IndexError):
        return False


@dataclass
class Counts:
    """How many trials are in each status."""

    by_status: dict[TrialCondition, int] = field(
        default_factory=lambda: {s: 0 for s in TrialCondition}
    )
    #: The Killed trials that Ctrl-C killed (``is_interrupted``): in ``by_status``, but not
    #: ``completed`` (they use no budget: ``tunery resume`` runs them again).
    interrupted: int = 0
    #: The seeded results (``is_seed``: warm starts): Succeeded in ``by_status``, but not
    #: ``completed`` (they were never run: they use no budget).
    seeded: int = 0

    @property
    def active(self) -> int:
        return sum(n for s, n in self.by_status.items() if s.is_active)

    @property
    def completed(self) -> int:
        done = sum(n for s, n in self.by_status.items() if s.is_completed)
        return done - self.interrupted - self.seeded

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.by_status.items() if s.is_failed)

    @property
    def results(self) -> int:
        """Trials that ran and have a result: Succeeded (seeds excepted: they never ran) and
        EarlyStopped (:func:`tunery.completion.no_result_note`)."""
        done = self.by_status[TrialCondition.SUCCEEDED] - self.seeded
        return done + self.by_status[TrialCondition.EARLY_STOPPED]


@dataclass
class Batch:
    """One bounded read of a trial's metrics, ready to store (:meth:`TrialLedger.batch`)."""

    #: The new observations that are kept (:mod:`tunery.thinning`).
    observations: list[Observation]
    #: The trial's metric summaries, from every value read so far.
    metrics: dict[str, MetricSummary]
    cursor: dict[str, Any]
    #: ``Store.add_observations``'s ``thin``: the stored curves to thin before adding these.
    thin: dict[str, tuple[int, int]]
    #: The trial's labels when this read thins a curve for the first time, else None.
    labels: dict[str, str] | None
    #: The read stopped at its bound: more lines are waiting.
    more: bool


class TrialLedger:
    """One experiment's trials, as their one writer keeps them (store and cache).

    ``store``: any :class:`~tunery.storage.base.BaseStore` (an ``InMemoryStore`` for an
    Optimizer without storage).  ``observation_limit``: which observations of a trial are
    stored: all up to that many per metric, then a thinned curve (:mod:`tunery.thinning`).
    """

    def __init__(
        self,
        store: BaseStore,
        experiment: str,
        *,
        owner: str | None = None,
        lease_ttl: float = 30.0,
        observation_limit: int = OBSERVATION_LIMIT,
    ) -> None:
        self.store = store
        self.name = experiment
        self.owner = owner or default_owner()
        self.lease_ttl = lease_ttl
        self.thinning = Thinning(observation_limit)
        #: When the lease was last taken or renewed (the clock's time).
        self.renewed_at = 0.0
        self._fenced = False
        self._objective: Objective | None = None
        self._trials: dict[str, Trial] = {}
        self._active: dict[str, Trial] = {}
        #: The interrupted trials that a trial runs again (its ``RERUN_LABEL``), by name.
        self._rerun: set[str] = set()
        self.counts = Counts()
        #: The first finished trial that reached the objective's goal, by name.
        self.goal_trial: str | None = None
        #: The algorithm state as last stored (a copy), to store it only when it changes.
        self._saved_state: dict[str, Any] | None = None
        #: The algorithm's last state (what the blob holds besides the driven seconds).
        self._algorithm_state: dict[str, Any] | None = None
        #: Seconds the experiment was driven, as stored (:meth:`load_state`, :meth:`save_driven`).
        self.driven = 0.0
        #: The highest trial index so far (the next trial's index is one past it).
        self._last_index = 0
        #: Called with every trial the cache takes (new or changed), after it took it: lets a
        #: reader keep its own view up to date per write instead of rescanning every trial.
        self.watch: Callable[[Trial], None] | None = None

    # ------------------------------------------------------------------ the lease

    def acquire(self, now: float, *, fence: bool = True) -> None:
        """Take the experiment's lease (LeaseHeldError when another live owner holds it).

        With ``fence``, from now on every write through the store checks, in its own
        transaction, that the lease is still ours: a writer that lost it never writes again.
        """
        self.store.acquire_lease(self.name, self.owner, now, self.lease_ttl, steal=owner_is_dead)
        if fence:
            self.store.fence(self.name, self.owner)
            self._fenced = True
        self.renewed_at = now

    def renew(self, now: float) -> None:
        """Renew the lease when a third of its time has passed; LeaseLostError if it is gone."""
        if now - self.renewed_at < self.lease_ttl / 3:
            return
        if not self.store.renew_lease(self.name, self.owner, now, self.lease_ttl):
            raise LeaseLostError(
                f"experiment {self.name!r}: this controller lost its lease to another one",
                "only one controller may drive an experiment; this one stops here",
            )
        self.renewed_at = now

    def release(self) -> None:
        """Give the lease back (another writer can take the experiment at once)."""
        if self._fenced:
            self.store.unfence(self.name)
            self._fenced = False
        self.store.release_lease(self.name, self.owner)

    # ------------------------------------------------------------------ the cache

    def load(self, objective: Objective) -> list[Trial]:
        """Forget the cache and read every trial again; returns them, by index."""
        self._objective = objective
        self._trials = {}
        self._active = {}
        self._rerun = set()
        self.counts = Counts()
        self.goal_trial = None
        self._last_index = 0
        trials = self.store.list_trials(self.name)
        for trial in trials:
            self.remember(trial)
        return trials

    @property
    def trials(self) -> list[Trial]:
        """Every trial of the experiment, by index."""
        return list(self._trials.values())

    def __len__(self) -> int:
        """How many trials the experiment has."""
        return len(self._trials)

    @property
    def active(self) -> Mapping[str, Trial]:
        """The Created and Running trials, by name (a live view: copy it to loop and write)."""
        return self._active

    def get(self, name: str) -> Trial | None:
        return self._trials.get(name)

    @property
    def rerun_pending(self) -> bool:
        """Some interrupted trial is not run again yet (cheap: counts, no scan)."""
        return self.counts.interrupted > len(self._rerun)

    def to_rerun(self) -> list[Trial]:
        """The interrupted trials that no trial runs again yet, by index."""
        return [t for t in self._trials.values() if is_interrupted(t) and t.name not in self._rerun]

    def results(self) -> list[Trial]:
        """Every trial but the interrupted ones, by index: what an algorithm is shown."""
        if not self.counts.interrupted:
            return self.trials
        return [t for t in self._trials.values() if not is_interrupted(t)]

    def remember(self, trial: Trial) -> Trial:
        """Put ``trial`` (as stored) in the cache; returns it."""
        old = self._trials.get(trial.name)
        if old is not None:
            self.counts.by_status[old.status] -= 1
            self.counts.interrupted -= is_interrupted(old)
            self.counts.seeded -= is_seed(old)
        self.counts.by_status[trial.status] += 1
        self.counts.interrupted += is_interrupted(trial)
        self.counts.seeded += is_seed(trial)
        rerun_of = trial.labels.get(RERUN_LABEL)
        if rerun_of is not None:
            self._rerun.add(rerun_of)
        self._trials[trial.name] = trial
        self._last_index = max(self._last_index, trial.index)
        if trial.status.is_active:
            self._active[trial.name] = trial
        else:
            self._active.pop(trial.name, None)
            goal = self._objective
            # A seed never ends the search it seeds: the goal is for a trial that ran.
            if (
                self.goal_trial is None
                and goal is not None
                and not is_seed(trial)
                and reaches_goal(goal, trial)
            ):
                self.goal_trial = trial.name
        if self.watch is not None:
            self.watch(trial)
        return trial

    def refresh(self, name: str) -> Trial:
        """Read one trial again from the store into the cache."""
        return self.remember(self.store.get_trial(self.name, name))

    # ------------------------------------------------------------------ writes

    def next_index(self) -> int:
        """The index of the next trial: one past the highest so far (from 1)."""
        return self._last_index + 1

    def create_trial(
        self,
        assignment: Assignment,
        now: float,
        *,
        status: TrialCondition = TrialCondition.CREATED,
        reason: TrialReason | None = TrialReason.CREATED,
        message: str | None = "Trial is created",
        metrics: Mapping[str, MetricSummary] | None = None,
        objective: float | None = None,
    ) -> Trial:
        """Store a new trial of ``assignment`` under the next index and name (one write).

        ``metrics`` and ``objective``: a result known already (a seed, ``tunery.warmstart``);
        a trial created finished gets its completion time."""
        index = self.next_index()
        trial = Trial(
            name=trial_name_for(self.name, index),
            experiment=self.name,
            index=index,
            parameters=dict(assignment.parameters),
            status=status,
            reason=reason,
            message=message,
            labels=assignment.trial_labels(),
            created_time=now,
            start_time=None if status is TrialCondition.CREATED or metrics else now,
            metrics=dict(metrics or {}),
            objective=objective,
            completion_time=now if status.is_completed else None,
        )
        self.store.create_trial(trial)
        return self.remember(trial)

    def transition(
        self, trial: Trial, expect: Iterable[TrialCondition], **changes: Any
    ) -> tuple[Trial, bool]:
        """Compare-and-set: apply ``changes`` only while the trial's status is in ``expect``.

        Returns the trial as it now is and whether the change applied (no read back when it
        did; the stored row is read again when it did not).  ``observations`` and ``thin``
        are stored with the change, in its transaction (``Store.update_trial``).
        """
        observations = changes.pop("observations", ())
        thin = changes.pop("thin", None)
        if "objective" in changes and "objective_text" not in changes and self._objective:
            metrics = changes.get("metrics", trial.metrics)
            changes["objective_text"] = objective_text(self._objective, metrics)
        change = TrialChange(**changes)
        applied = self.store.update_trial(
            self.name, trial.name, change, expect=expect, observations=observations, thin=thin
        )
        if applied:
            return self.remember(change.apply(trial)), True
        return self.refresh(trial.name), False

    def batch(
        self,
        trial: Trial,
        records: Sequence[MetricRecord],
        collector_cursor: dict[str, Any],
        more: bool,
    ) -> Batch:
        """A collector's read of ``trial`` as what to store: every value goes into the metric
        summaries (min, max, latest stay exact); the observations kept are thinned past the
        observation limit per metric (:mod:`tunery.thinning`)."""
        cursor = dict(trial.cursor or {})
        counts: dict[str, int] = dict(cursor.get("counts", {}))
        thinning = self.thinning
        strides: dict[str, int] = {}
        thin: dict[str, tuple[int, int]] = {}
        for name, n in Counter(r.name for r in records).items():
            strides[name], every = thinning.advance(counts.get(name, 0), n)
            if every > 1:
                thin[name] = (thinning.head, every)
        metrics = dict(trial.metrics)
        observations = []
        for record in records:
            name = record.name
            n = counts.get(name, 0)
            counts[name] = n + 1
            metrics[name] = metrics.get(name, MetricSummary()).add(record.value, record.text)
            if thinning.kept(n, strides[name]):
                step = record.step if record.step is not None else n
                observations.append(
                    Observation(trial.name, name, record.value, step, record.timestamp, record.text)
                )
        cursor["collector"] = collector_cursor
        cursor["counts"] = counts
        labels = None
        thinned = ",".join(sorted(name for name, n in counts.items() if thinning.thinned(n)))
        if thinned and trial.labels.get(THINNED_LABEL) != thinned:
            labels = {**trial.labels, THINNED_LABEL: thinned}
            log.warning(
                "trial %s reported more than %d observations of %s: its curve is thinned "
                "from here on (min, max and latest stay exact)",
                trial.name,
                thinning.limit,
                thinned,
            )
        return Batch(observations, metrics, cursor, thin, labels, more)

    def record(self, trial: Trial, batch: Batch) -> Trial:
        """Store a read's observations, metric summaries and cursor (and labels) together."""
        self.store.add_observations(
            self.name,
            trial.name,
            batch.observations,
            metrics=batch.metrics,
            cursor=batch.cursor,
            thin=batch.thin,
            labels=batch.labels,
        )
        crashpoint("controller.metrics_collected")
        if batch.labels is not None:
            trial = replace(trial, labels=batch.labels)
        return self.remember(replace(trial, metrics=batch.metrics, cursor=batch.cursor))

    def observe(
        self, trial: Trial, metric: str, value: float | None, step: int, now: float
    ) -> tuple[Trial, Observation]:
        """Store one observation of ``metric`` and the trial's summary with it (one write)."""
        obs = Observation(trial.name, metric, value, step, now)
        metrics = dict(trial.metrics)
        metrics[metric] = metrics.get(metric, MetricSummary()).add(value)
        self.store.add_observations(
            self.name, trial.name, [obs], metrics=metrics, cursor=trial.cursor
        )
        return self.remember(replace(trial, metrics=metrics)), obs

    # ------------------------------------------------------------------ algorithm state

    def load_state(self) -> dict[str, Any] | None:
        """The algorithm state as stored (None when there is none); the driven seconds kept
        in the same blob (:data:`DRIVEN_SECONDS_KEY`) go to :attr:`driven`, not to it."""
        state = self.store.load_algorithm_state(self.name)
        self._saved_state = copy.deepcopy(state)
        self.driven = 0.0
        if state is not None and DRIVEN_SECONDS_KEY in state:
            self.driven = float(state.pop(DRIVEN_SECONDS_KEY) or 0.0)
            state = state or None
        self._algorithm_state = copy.deepcopy(state)
        return state

    def save_state(self, state: dict[str, Any] | None) -> None:
        """Store the algorithm's state when it changed since it was last stored."""
        if state is None:
            return
        self._algorithm_state = copy.deepcopy(state)
        self._write_state()

    def save_driven(self, seconds: float) -> None:
        """Store the seconds the experiment was driven, beside the algorithm's state."""
        self.driven = seconds
        self._write_state()

    def _write_state(self) -> None:
        blob = dict(self._algorithm_state or {})
        if self.driven:
            blob[DRIVEN_SECONDS_KEY] = round(self.driven, 3)
        if not blob or blob == self._saved_state:
            return
        self.store.save_algorithm_state(self.name, blob)
        self._saved_state = copy.deepcopy(blob)
