"""What a store is: the :class:`BaseStore` protocol, its :class:`TrialChange` and :class:`Intent`.

Two stores implement it: :class:`~tunery.storage.store.SqlStore` (SQLite or PostgreSQL, the
one the controller, the CLI and the UI share) and :class:`~tunery.storage.memory.InMemoryStore`
(one process, for the ask/tell ``Optimizer`` without storage, and for tests).
:mod:`tunery.testing.store` checks both against the contract below.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, Self

from tunery.errors import AlreadyExistsError, AmbiguousNameError, NotFoundError
from tunery.model import (
    KEY_SEPARATOR,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    IntentKind,
    MetricSummary,
    Observation,
    Trial,
    TrialCondition,
    qualified_key,
)

__all__ = [
    "KEEP",
    "BaseStore",
    "Intent",
    "Keep",
    "KeyCandidate",
    "TrialChange",
    "intent_kind",
    "key_candidates",
    "new_key",
    "pick_key",
    "split_reference",
]


class Keep(enum.Enum):
    """The type of :data:`KEEP`."""

    KEEP = "keep"

    def __repr__(self) -> str:
        return "KEEP"


#: A :class:`TrialChange` field left at KEEP leaves that column as it is (None clears it).
KEEP = Keep.KEEP


@dataclass(frozen=True)
class TrialChange:
    """What :meth:`BaseStore.update_trial` sets on a trial; fields left at :data:`KEEP` stay.

    ``status`` must be a transition of :data:`tunery.model.TRIAL_TRANSITIONS` from the trial's
    status (or the same status).  ``cursor`` is the collector's position (source, collector
    cursor, counts); ``pending_outcome`` the outcome a controller is about to give a trial it
    stops (``{"status", "reason", "message"}``), written before it stops the process so that a
    controller that dies in between can finish the job.
    """

    status: TrialCondition | Keep = KEEP
    reason: str | Keep | None = KEEP
    message: str | Keep | None = KEEP
    labels: Mapping[str, str] | Keep = KEEP
    metrics: Mapping[str, MetricSummary] | Keep = KEEP
    objective: float | Keep | None = KEEP
    #: The objective's value when it is a string (``Trial.objective_text``).
    objective_text: str | Keep | None = KEEP
    start_time: float | Keep | None = KEEP
    completion_time: float | Keep | None = KEEP
    handle: Mapping[str, Any] | Keep | None = KEEP
    cursor: Mapping[str, Any] | Keep | None = KEEP
    pending_outcome: Mapping[str, Any] | Keep | None = KEEP

    def items(self) -> dict[str, Any]:
        """The fields that change, by name (in field order)."""
        # The instance dict holds the fields in order (faster than dataclasses.fields()).
        return {name: value for name, value in self.__dict__.items() if value is not KEEP}

    def apply(self, trial: Trial) -> Trial:
        """``trial`` with this change made (what the store holds after it applied)."""
        changes = self.items()
        return replace(trial, **changes) if changes else trial


@dataclass(frozen=True)
class Intent:
    """A request written by the CLI or UI for the experiment's controller to act on."""

    id: int
    experiment: str
    #: A kind this tunery does not know (written by a newer one) stays a string.
    kind: IntentKind | str
    target: str | None
    created_time: float


_INTENT_KINDS = {k.value: k for k in IntentKind}


def intent_kind(raw: str) -> IntentKind | str:
    """The :class:`IntentKind` stored as ``raw``, or ``raw`` itself when this tunery does not
    know it (a newer one wrote it)."""
    return _INTENT_KINDS.get(raw, raw)


@dataclass(frozen=True)
class KeyCandidate:
    """A stored experiment that a name may designate: its key, namespace and Katib name."""

    key: str
    namespace: str
    name: str


def key_candidates(name: str, namespace: str | None) -> tuple[str, ...] | None:
    """The keys an experiment ``name`` (in ``namespace``) can be stored under, or None when
    any key ending in ``.<name>`` can (no namespace given)."""
    if namespace is None:
        return None
    return (name, qualified_key(namespace, name))


def _designates(c: KeyCandidate, name: str, namespace: str | None) -> bool:
    if namespace is not None and c.namespace != namespace:
        return False
    return c.name == name or c.key == name


def pick_key(name: str, namespace: str | None, found: Sequence[KeyCandidate], where: str) -> str:
    """The key of experiment ``name`` among ``found`` (the stored experiments whose key is
    ``name`` or ends in ``.<name>``); ``where`` names the store in errors.

    ``namespace`` None: the only experiment of that name in any namespace (a qualified key
    ``<namespace>.<name>`` designates its experiment too); AmbiguousNameError (a
    UserInputError) naming the namespaces when there are several.  NotFoundError when there is
    none.
    """
    matches = [c for c in found if _designates(c, name, namespace)]
    exact = [c for c in matches if c.key == name and KEY_SEPARATOR in name]
    if exact:
        return exact[0].key
    if len(matches) == 1:
        return matches[0].key
    if not matches:
        if namespace is None:
            raise NotFoundError(
                f"no experiment named {name!r} in {where}",
                "`tunery list` shows the experiments there",
            )
        others = sorted({c.namespace for c in found if c.name == name})
        elsewhere = f" (there is one in namespace {', '.join(others)})" if others else ""
        raise NotFoundError(
            f"no experiment named {name!r} in namespace {namespace!r} in {where}{elsewhere}",
            f"`tunery list -n {namespace}` shows the experiments of that namespace",
        )
    spaces = sorted(c.namespace for c in matches)
    raise AmbiguousNameError(
        f"experiment name {name!r} is taken in several namespaces: {', '.join(spaces)}",
        f"say which with -n/--namespace (Python: namespace=), e.g. -n {spaces[0]}",
    )


_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def split_reference(name: str, found: Sequence[KeyCandidate]) -> tuple[str, str] | None:
    """``(namespace, name)`` when ``name`` is ``<namespace>.<name>`` naming no stored key itself
    (the experiment may be stored under the plain name), else None: so that
    ``<namespace>.<name>`` designates every experiment, whatever its key."""
    if any(c.key == name for c in found):
        return None
    namespace, sep, rest = name.partition(KEY_SEPARATOR)
    if not sep or not rest or KEY_SEPARATOR in rest or not _LABEL.match(namespace):
        return None
    return namespace, rest


def new_key(name: str, namespace: str, taken: Sequence[KeyCandidate]) -> str:
    """The key a new experiment ``name`` in ``namespace`` gets, given the stored experiments
    under its candidate keys (:func:`key_candidates`): the name itself unless another namespace
    holds that key, then ``<namespace>.<name>``.  AlreadyExistsError when ``namespace`` already
    has an experiment of that name."""
    if any(c.namespace == namespace and c.name == name for c in taken):
        where = "" if namespace == "default" else f" -n {namespace}"
        raise AlreadyExistsError(
            f"an experiment named {name!r} already exists in namespace {namespace!r}",
            f"use `tunery resume {name}{where}` to continue it, "
            f"or `tunery delete {name}{where}` to start over",
        )
    keys = {c.key for c in taken}
    if name not in keys:
        return name
    key = qualified_key(namespace, name)
    if key in keys:  # a hand-made key; cannot happen through create_experiment
        raise AlreadyExistsError(f"an experiment is already stored under the key {key!r}")
    return key


class BaseStore(Protocol):
    """The store the controller and the ask/tell ``Optimizer`` write through.

    **Safety.**  Every method may be called from several threads at once.  A SQL store may
    also be shared by processes (the controller, ``tunery`` commands, the web UI) and by
    machines (PostgreSQL); the in-memory store lives in one process.  Every call is one
    transaction: it happens whole or not at all, and a reader never sees half of a write.

    **Who writes what.**  An experiment's trials, observations, algorithm state and status are
    written by the holder of its lease only (one controller, or one Optimizer).  A writer
    takes the lease with :meth:`acquire_lease`, keeps it with :meth:`renew_lease`, and calls
    :meth:`fence` so that each later write of this store checks, in its own transaction, that
    it still holds the lease: a write made after another owner took it over raises
    :class:`~tunery.errors.LeaseLostError` and changes nothing.  Writes that do not need the
    lease: creating, re-specifying and deleting experiments (before a controller runs, or
    from the CLI), and intents (:meth:`add_intent`), which are the only writes that others
    (the CLI, the UI) make to a running experiment, but for a new budget: a running
    experiment's spec is re-specified with it, then an ``update-budget`` intent tells its
    controller to read the budget (only the budget) again.

    **Compare-and-set.**  :meth:`update_trial` applies its change only when the trial's
    status is one of ``expect`` and the new status is a legal transition
    (:data:`~tunery.model.TRIAL_TRANSITIONS`); it returns whether it applied.  An illegal
    transition from a status that ``expect`` allows is a ``ValueError``.  Leases are taken
    race-free: of two writers calling :meth:`acquire_lease` together, one wins.

    **Order.**  Experiments are listed oldest first (then by name), trials by index,
    observations by trial index then in the order they were added, intents oldest first.

    **Errors.**  A missing experiment or trial is :class:`~tunery.errors.NotFoundError`
    (``find_experiment`` returns None instead), a taken name or trial index
    :class:`~tunery.errors.AlreadyExistsError`, a lease held by a live other owner
    :class:`~tunery.errors.LeaseHeldError`.  Values are stored as given, except that
    non-finite numbers (objective, metric summaries, observation values) become None.

    **Observations** are bounded by the writer: ``thin`` (see :mod:`tunery.thinning`) deletes,
    in the same transaction as the new observations are added, the kept tail's points that a
    larger stride drops; which points stay depends only on the insertion order.
    """

    @property
    def url(self) -> str:
        """Where the data lives (a database URL with the password masked, or ``memory://``)."""
        ...

    def close(self) -> None:
        """Release the store's resources (connections); the data stays."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    # experiments

    def create_experiment(self, experiment: Experiment) -> Experiment:
        """Store a new experiment and return it as stored; AlreadyExistsError if its namespace
        has an experiment of that name.

        Its key (:attr:`Experiment.key`) is chosen here, race-free, whatever the one given:
        the name, or ``<namespace>.<name>`` when another namespace holds the name
        (:func:`new_key`).
        """
        ...

    def resolve(self, name: str, namespace: str | None = None) -> str:
        """The key of experiment ``name`` in ``namespace`` (None: the only one of that name in
        any namespace; a key, and ``<namespace>.<name>``, designate their experiment too).
        NotFoundError when there is none, AmbiguousNameError (a UserInputError) naming the
        namespaces when ``namespace`` is None and several hold the name (see :func:`pick_key`).
        """
        ...

    def find_experiment(self, name: str) -> Experiment | None:
        """The experiment stored under key ``name``, or None.  (Every method below that takes
        an experiment takes its key.)"""
        ...

    def get_experiment(self, name: str) -> Experiment:
        """The experiment stored under key ``name``; NotFoundError if there is none."""
        ...

    def list_experiments(self, namespace: str | None = None) -> list[Experiment]:
        """Every experiment (of ``namespace`` only, if given), oldest first (then by key; no
        creation time comes first)."""
        ...

    def update_experiment_spec(
        self, name: str, spec: ExperimentSpec, document: Mapping[str, Any]
    ) -> None:
        """Replace the spec and the document; NotFoundError if there is no such experiment."""
        ...

    def set_experiment_status(
        self,
        name: str,
        status: ExperimentCondition,
        reason: str | None,
        message: str | None,
        *,
        start_time: float | None = None,
        completion_time: float | None = None,
        clear_completion: bool = False,
    ) -> None:
        """Set the condition; None times leave their column as it is, ``clear_completion``
        empties the completion time.  NotFoundError if there is no such experiment."""
        ...

    def delete_experiment(self, name: str) -> None:
        """Delete the experiment with everything of it; NotFoundError if there is none."""
        ...

    # trials

    def create_trial(self, trial: Trial) -> None:
        """Store a new trial.  NotFoundError without its experiment; AlreadyExistsError when
        the experiment has a trial of that name or index."""
        ...

    def get_trial(self, experiment: str, name: str) -> Trial:
        """The trial; NotFoundError if there is none."""
        ...

    def list_trials(
        self, experiment: str, statuses: Iterable[TrialCondition] | None = None
    ) -> list[Trial]:
        """The experiment's trials (only those in ``statuses`` if given), by index; [] for an
        experiment that does not exist."""
        ...

    def update_trial(
        self,
        experiment: str,
        name: str,
        change: TrialChange,
        *,
        expect: Iterable[TrialCondition] | None = None,
        observations: Sequence[Observation] = (),
        thin: Mapping[str, tuple[int, int]] | None = None,
    ) -> bool:
        """Compare-and-set: make ``change`` only if the status is in ``expect`` (any if None).

        Returns whether it was made.  ``observations`` are appended and ``thin`` applied in the
        same transaction when (and only when) the change is made: a trial's last metric lines
        and its final status land together.  An empty change returns whether the status is in
        ``expect``.  NotFoundError for a missing trial; ValueError for an illegal transition
        from an expected status, or observations of another trial.
        """
        ...

    # observations

    def add_observations(
        self,
        experiment: str,
        trial_name: str,
        observations: Sequence[Observation],
        *,
        metrics: Mapping[str, MetricSummary],
        cursor: Mapping[str, Any] | None,
        thin: Mapping[str, tuple[int, int]] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """In one transaction: apply ``thin``, append observations, set the trial's metric
        summaries and collector cursor (None stores none), and its labels when given.

        ``thin`` maps a metric to ``(keep, every)``: of the trial's observations of that
        metric after the first ``keep`` (in insertion order) only the first, the
        ``every + 1``-th and so on stay.  NotFoundError for a missing trial.
        """
        ...

    def get_observations(
        self,
        experiment: str,
        trial_name: str | None = None,
        metric: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Observation]:
        """Observations by trial index, then in the order they were added; ``limit`` and
        ``offset`` cut that list."""
        ...

    def observation_counts(self, experiment: str, trial_name: str) -> dict[str, int]:
        """How many observations of each metric are stored for the trial."""
        ...

    # algorithm state

    def save_algorithm_state(self, experiment: str, state: Mapping[str, Any] | None) -> None:
        """Store the suggester's state (a JSON object; None deletes it).  NotFoundError
        without the experiment."""
        ...

    def load_algorithm_state(self, experiment: str) -> dict[str, Any] | None:
        """The state last saved (a copy), or None."""
        ...

    # lease

    def acquire_lease(
        self,
        experiment: str,
        owner: str,
        now: float,
        ttl: float,
        *,
        steal: Callable[[str], bool] | None = None,
    ) -> None:
        """Become the experiment's one writer until ``now + ttl``.

        Succeeds when there is no lease, it has expired, it is already ``owner``'s, or
        ``steal(current_owner)`` says its owner is gone; else LeaseHeldError.  NotFoundError
        without the experiment.
        """
        ...

    def renew_lease(self, experiment: str, owner: str, now: float, ttl: float) -> bool:
        """Extend ``owner``'s lease to ``now + ttl``; False when it no longer holds it."""
        ...

    def release_lease(self, experiment: str, owner: str) -> None:
        """Give the lease up (nothing happens if someone else holds it)."""
        ...

    def lease_owner(self, experiment: str) -> tuple[str, float] | None:
        """``(owner, expires_at)`` of the lease, or None."""
        ...

    def fence(self, experiment: str, owner: str) -> None:
        """Make every later write of this store object fail with LeaseLostError, and change
        nothing, once ``owner`` no longer holds ``experiment``'s lease."""
        ...

    def unfence(self, experiment: str) -> None:
        """Undo :meth:`fence`."""
        ...

    # intents

    def add_intent(
        self, experiment: str, kind: IntentKind | str, target: str | None, now: float
    ) -> int:
        """Ask the experiment's controller to do something; returns the intent's id (ids grow).
        NotFoundError without the experiment."""
        ...

    def pending_intents(self, experiment: str) -> list[Intent]:
        """Intents not yet completed, oldest first."""
        ...

    def complete_intent(self, intent_id: int, now: float) -> None:
        """Mark an intent done (an unknown id is ignored)."""
        ...
