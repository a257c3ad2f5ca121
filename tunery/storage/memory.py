"""A store in plain Python: :class:`InMemoryStore`, the :class:`~tunery.storage.base.BaseStore`
contract without a database.

It serves the ask/tell ``Optimizer`` without storage and tests that need a store but not SQL.
One lock makes each call one atomic step (the contract's "transaction"), so threads may share
it; it lives and dies with its process.  Values are normalized as the SQL store normalizes
them (JSON data copied in, non-finite numbers stored as None), observations are thinned by the
same rule, and the errors and their messages are the SQL store's.  Model objects are immutable:
one already in stored form (flat parameters and labels, finite numbers) is kept as given rather
than copied, so its caller must not mutate its mappings afterwards (tunery never does).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Self

from tunery.errors import AlreadyExistsError, LeaseHeldError, LeaseLostError, NotFoundError
from tunery.model import (
    KEY_SEPARATOR,
    TRIAL_TRANSITIONS,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    IntentKind,
    MetricSummary,
    Observation,
    Trial,
    TrialCondition,
)
from tunery.storage.base import (
    Intent,
    KeyCandidate,
    TrialChange,
    intent_kind,
    key_candidates,
    new_key,
    pick_key,
    split_reference,
)
from tunery.storage.codec import encode

__all__ = ["InMemoryStore"]


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _finite_summary(s: MetricSummary) -> MetricSummary:
    for value in (s.min, s.max, s.latest):
        if value is not None and (type(value) is not float or not math.isfinite(value)):
            return MetricSummary(_finite(s.min), _finite(s.max), _finite(s.latest), s.text)
    return s  # immutable and already as stored


def _summaries(metrics: Mapping[str, MetricSummary]) -> dict[str, MetricSummary]:
    return {str(name): _finite_summary(s) for name, s in metrics.items()}


_SCALARS = (str, int, type(None))


def _flat(value: Any) -> bool:
    """Whether ``value`` is a dict of JSON scalars (parameters, labels): stored as it is."""
    return type(value) is dict and all(
        type(k) is str and (type(v) in _SCALARS or (type(v) is float and math.isfinite(v)))
        for k, v in value.items()
    )


def _json(value: Any) -> Any:
    """``value`` as the JSON data a database would give back (a copy; NaN refused)."""
    if value is None:
        return None
    if _flat(value):
        return dict(value)  # a shallow copy is a deep one
    return json.loads(json.dumps(encode(value), allow_nan=False))


def _kept(value: Any) -> Any:
    """Like :func:`_json`, but a flat dict is kept, not copied (trials are immutable)."""
    return value if value is None or _flat(value) else _json(value)


class _Stored:
    """One experiment and everything of it."""

    __slots__ = ("experiment", "indexes", "intents", "lease", "observations", "state", "trials")

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        #: name -> trial, in creation order.
        self.trials: dict[str, Trial] = {}
        #: The trials' indexes (unique, as the names).
        self.indexes: set[int] = set()
        #: trial name -> [(id, observation)] in insertion order.
        self.observations: dict[str, list[tuple[int, Observation]]] = {}
        self.state: dict[str, Any] | None = None
        self.lease: tuple[str, float] | None = None
        #: id -> [intent, completed time]
        self.intents: dict[int, list[Any]] = {}


class InMemoryStore:
    """A :class:`~tunery.storage.base.BaseStore` held in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._experiments: dict[str, _Stored] = {}
        self._ids = itertools.count(1)
        self._fences: dict[str, str] = {}

    @property
    def url(self) -> str:
        return "memory://"

    def close(self) -> None:
        """Nothing to release: the data stays as long as the object."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _no_experiment(self, name: str) -> NotFoundError:
        return NotFoundError(
            f"no experiment named {name!r} in {self.url}",
            "`tunery list` shows the experiments there",
        )

    def _stored(self, name: str) -> _Stored:
        stored = self._experiments.get(name)
        if stored is None:
            raise self._no_experiment(name)
        return stored

    def _trial(self, experiment: str, name: str) -> tuple[_Stored, Trial]:
        stored = self._experiments.get(experiment)
        trial = None if stored is None else stored.trials.get(name)
        if stored is None or trial is None:
            raise NotFoundError(f"experiment {experiment!r} has no trial named {name!r}")
        return stored, trial

    def _check_fences(self) -> None:
        """Called under the lock before a write changes anything."""
        for experiment, owner in self._fences.items():
            stored = self._experiments.get(experiment)
            lease = None if stored is None else stored.lease
            if lease is None or lease[0] != owner:
                holder = f"controller {lease[0]}" if lease is not None else "nobody (released)"
                raise LeaseLostError(
                    f"experiment {experiment!r}: this controller ({owner}) lost its lease to "
                    f"{holder}; it stopped without writing",
                    f"the experiment goes on under its new controller: `tunery get {experiment}`",
                )

    def fence(self, experiment: str, owner: str) -> None:
        with self._lock:
            self._fences[experiment] = owner

    def unfence(self, experiment: str) -> None:
        with self._lock:
            self._fences.pop(experiment, None)

    # ------------------------------------------------------------------ experiments

    def create_experiment(self, experiment: Experiment) -> Experiment:
        with self._lock:
            key = new_key(
                experiment.name,
                experiment.spec.namespace,
                self._candidates(experiment.name, experiment.spec.namespace),
            )
            self._check_fences()
            stored = replace(
                experiment,
                key=key,
                status=ExperimentCondition(experiment.status),
                document=_json(experiment.document),
            )
            self._experiments[key] = _Stored(stored)
            return stored

    def _candidates(self, name: str, namespace: str | None) -> list[KeyCandidate]:
        keys = key_candidates(name, namespace)
        found = []
        for key, stored in self._experiments.items():
            if keys is not None and key not in keys:
                continue
            if keys is None and key != name and not key.endswith(KEY_SEPARATOR + name):
                continue
            found.append(KeyCandidate(key, stored.experiment.namespace, stored.experiment.name))
        return found

    def resolve(self, name: str, namespace: str | None = None) -> str:
        with self._lock:
            found = self._candidates(name, namespace)
            split = split_reference(name, found) if namespace is None else None
            if split is not None:
                name, namespace = split[1], split[0]
                found = self._candidates(name, namespace)
        return pick_key(name, namespace, found, self.url)

    def find_experiment(self, name: str) -> Experiment | None:
        with self._lock:
            stored = self._experiments.get(name)
            return None if stored is None else stored.experiment

    def get_experiment(self, name: str) -> Experiment:
        with self._lock:
            return self._stored(name).experiment

    def list_experiments(self, namespace: str | None = None) -> list[Experiment]:
        with self._lock:
            found = [
                s.experiment
                for s in self._experiments.values()
                if namespace is None or s.experiment.namespace == namespace
            ]
        return sorted(
            found,
            key=lambda e: (e.created_time is not None, e.created_time or 0.0, e.key),
        )

    def update_experiment_spec(
        self, name: str, spec: ExperimentSpec, document: Mapping[str, Any]
    ) -> None:
        with self._lock:
            stored = self._stored(name)
            self._check_fences()
            stored.experiment = replace(stored.experiment, spec=spec, document=_json(document))

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
        values: dict[str, Any] = {
            "status": ExperimentCondition(status),
            "reason": reason,
            "message": message,
        }
        if start_time is not None:
            values["start_time"] = start_time
        if completion_time is not None:
            values["completion_time"] = completion_time
        elif clear_completion:
            values["completion_time"] = None
        with self._lock:
            stored = self._stored(name)
            self._check_fences()
            stored.experiment = replace(stored.experiment, **values)

    def delete_experiment(self, name: str) -> None:
        with self._lock:
            self._stored(name)
            self._check_fences()
            del self._experiments[name]

    # ------------------------------------------------------------------ trials

    def create_trial(self, trial: Trial) -> None:
        with self._lock:
            stored = self._stored(trial.experiment)
            if trial.name in stored.trials or trial.index in stored.indexes:
                raise AlreadyExistsError(
                    f"experiment {trial.experiment!r} already has a trial named {trial.name!r} "
                    f"or with index {trial.index}",
                )
            self._check_fences()
            normal = {
                "parameters": _kept(trial.parameters),
                "status": TrialCondition(trial.status),
                "labels": _kept(trial.labels),
                "metrics": _summaries(trial.metrics) if trial.metrics else trial.metrics,
                "objective": _finite(trial.objective),
                "handle": _kept(trial.handle),
                "cursor": _kept(trial.cursor),
                "pending_outcome": _kept(trial.pending_outcome),
            }
            if all(value is getattr(trial, name) for name, value in normal.items()):
                # Already as stored: kept as it is (one object for the caller and the store).
                stored.trials[trial.name] = trial
            else:
                stored.trials[trial.name] = replace(trial, **normal)
            stored.indexes.add(trial.index)

    def get_trial(self, experiment: str, name: str) -> Trial:
        with self._lock:
            stored = self._experiments.get(experiment)
            trial = None if stored is None else stored.trials.get(name)
        if trial is None:
            raise NotFoundError(
                f"experiment {experiment!r} has no trial named {name!r}",
                f"`tunery trials {experiment}` lists its trials",
            )
        return trial

    def list_trials(
        self, experiment: str, statuses: Iterable[TrialCondition] | None = None
    ) -> list[Trial]:
        wanted = None if statuses is None else {TrialCondition(s) for s in statuses}
        with self._lock:
            stored = self._experiments.get(experiment)
            found = [] if stored is None else list(stored.trials.values())
        if wanted is not None:
            found = [t for t in found if t.status in wanted]
        return sorted(found, key=lambda t: t.index)

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
        new_obs = self._checked(name, observations)
        expected = None if expect is None else frozenset(TrialCondition(s) for s in expect)
        values = change.items()
        new_status: TrialCondition | None = None
        if "status" in values:
            new_status = values["status"] = TrialCondition(values["status"])
        for key in ("handle", "cursor", "pending_outcome"):
            if key in values:
                values[key] = _json(values[key])
        if "labels" in values:
            values["labels"] = _json(values["labels"] or {})
        if "metrics" in values:
            values["metrics"] = _summaries(values["metrics"] or {})
        if "objective" in values:
            values["objective"] = _finite(values["objective"])
        with self._lock:
            stored, trial = self._trial(experiment, name)
            current = trial.status
            if expected is not None and current not in expected:
                self._check_fences()
                return False
            if not values:
                self._check_fences()
                return True
            if new_status is not None and not (
                new_status is current or new_status in TRIAL_TRANSITIONS.get(current, ())
            ):
                raise ValueError(
                    f"trial {name!r} of {experiment!r}: illegal transition {current.value} -> "
                    f"{new_status.value}"
                )
            self._check_fences()
            stored.trials[name] = replace(trial, **values)
            self._append(stored, name, new_obs, thin)
            return True

    # ------------------------------------------------------------------ observations

    @staticmethod
    def _checked(trial_name: str, observations: Sequence[Observation]) -> list[Observation]:
        out = []
        for obs in observations:
            if obs.trial_name != trial_name:
                raise ValueError(
                    f"observation of trial {obs.trial_name!r} added to trial {trial_name!r}"
                )
            value = obs.value
            if (value is None or (type(value) is float and math.isfinite(value))) and type(
                obs.step
            ) is int:
                out.append(obs)  # immutable and already as stored
            else:
                out.append(
                    Observation(
                        trial_name,
                        obs.metric_name,
                        _finite(value),
                        int(obs.step),
                        obs.timestamp,
                        obs.text,
                    )
                )
        return out

    def _append(
        self,
        stored: _Stored,
        trial_name: str,
        observations: list[Observation],
        thin: Mapping[str, tuple[int, int]] | None,
    ) -> None:
        """Thin the trial's curves, then append (under the lock)."""
        curve = stored.observations.setdefault(trial_name, [])
        for metric, (keep, every) in (thin or {}).items():
            if every <= 1:
                continue
            rank = itertools.count()
            kept = []
            for entry in curve:
                if entry[1].metric_name == metric:
                    pos = next(rank) - keep
                    if pos > 0 and pos % every != 0:
                        continue
                kept.append(entry)
            curve[:] = kept
        curve.extend((next(self._ids), obs) for obs in observations)

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
        new_obs = self._checked(trial_name, observations)
        values: dict[str, Any] = {"metrics": _summaries(metrics), "cursor": _json(cursor)}
        if labels is not None:
            values["labels"] = _json(labels)
        with self._lock:
            stored, trial = self._trial(experiment, trial_name)
            self._check_fences()
            stored.trials[trial_name] = replace(trial, **values)
            self._append(stored, trial_name, new_obs, thin)

    def get_observations(
        self,
        experiment: str,
        trial_name: str | None = None,
        metric: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Observation]:
        with self._lock:
            stored = self._experiments.get(experiment)
            if stored is None:
                return []
            names = [t.name for t in sorted(stored.trials.values(), key=lambda t: t.index)]
            out = [
                obs
                for name in names
                if trial_name is None or name == trial_name
                for _, obs in stored.observations.get(name, ())
                if metric is None or obs.metric_name == metric
            ]
        start = max(0, offset)
        end = None if limit is None else start + max(0, limit)
        return out[start:end]

    def observation_counts(self, experiment: str, trial_name: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._lock:
            stored = self._experiments.get(experiment)
            curve = [] if stored is None else stored.observations.get(trial_name, [])
            for _, obs in curve:
                counts[obs.metric_name] = counts.get(obs.metric_name, 0) + 1
        return counts

    # ------------------------------------------------------------------ algorithm state

    def save_algorithm_state(self, experiment: str, state: Mapping[str, Any] | None) -> None:
        data = None if state is None else _json(state)
        with self._lock:
            stored = self._experiments.get(experiment)
            if stored is None:
                if data is None:
                    self._check_fences()
                    return
                raise self._no_experiment(experiment)
            self._check_fences()
            stored.state = data

    def load_algorithm_state(self, experiment: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._experiments.get(experiment)
            state = None if stored is None else stored.state
        return None if state is None else _json(state)

    # ------------------------------------------------------------------ lease

    def acquire_lease(
        self,
        experiment: str,
        owner: str,
        now: float,
        ttl: float,
        *,
        steal: Callable[[str], bool] | None = None,
    ) -> None:
        with self._lock:
            stored = self._stored(experiment)
            current = stored.lease
            if current is not None:
                old_owner, old_expires = current
                if not (old_owner == owner or old_expires <= now or (steal and steal(old_owner))):
                    raise LeaseHeldError(
                        f"experiment {experiment!r} is being run by another controller "
                        f"({old_owner}); its lease expires in {max(0.0, old_expires - now):.0f} s",
                        f"wait for it to finish, or `tunery stop {experiment}`",
                    )
            stored.lease = (owner, now + ttl)

    def renew_lease(self, experiment: str, owner: str, now: float, ttl: float) -> bool:
        with self._lock:
            stored = self._experiments.get(experiment)
            if stored is None or stored.lease is None or stored.lease[0] != owner:
                return False
            stored.lease = (owner, now + ttl)
            return True

    def release_lease(self, experiment: str, owner: str) -> None:
        with self._lock:
            stored = self._experiments.get(experiment)
            if stored is not None and stored.lease is not None and stored.lease[0] == owner:
                stored.lease = None

    def lease_owner(self, experiment: str) -> tuple[str, float] | None:
        with self._lock:
            stored = self._experiments.get(experiment)
            return None if stored is None else stored.lease

    # ------------------------------------------------------------------ intents

    def add_intent(
        self, experiment: str, kind: IntentKind | str, target: str | None, now: float
    ) -> int:
        with self._lock:
            stored = self._stored(experiment)
            self._check_fences()
            intent_id = next(self._ids)
            stored.intents[intent_id] = [
                Intent(intent_id, experiment, intent_kind(str(kind)), target, now),
                None,
            ]
            return intent_id

    def pending_intents(self, experiment: str) -> list[Intent]:
        with self._lock:
            stored = self._experiments.get(experiment)
            if stored is None:
                return []
            return [i for i, done in stored.intents.values() if done is None]

    def complete_intent(self, intent_id: int, now: float) -> None:
        with self._lock:
            self._check_fences()
            for stored in self._experiments.values():
                entry = stored.intents.get(intent_id)
                if entry is not None:
                    entry[1] = now
                    return
