"""The SQL store: :class:`SqlStore`, the typed API over SQLAlchemy Core (SQLite or PostgreSQL).

Everything that a controller needs to resume lives here: experiments (spec and the user's
document), trials with executor handles, collector cursors and pending outcomes, append-only
observations, algorithm state, the experiment lease and the intents that the CLI and the UI
write.  It implements :class:`~tunery.storage.base.BaseStore` (the contract is written there);
the connection, transactions and migrations are :class:`~tunery.storage.engine.Database`'s,
the UI's bulk reads live in :mod:`tunery.storage.views`.

Status changes are compare-and-set in a single ``UPDATE ... WHERE status IN (...)``, and the
lease is taken with an ``INSERT`` on its primary key or a conditional ``UPDATE``, so both are
race-free between processes on both backends.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunery.errors import AlreadyExistsError, LeaseHeldError, NotFoundError, StorageError
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
    name_of_key,
)
from tunery.storage import hot, schema
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
from tunery.storage.codec import CodecError, encode, spec_from_json, spec_to_json
from tunery.storage.engine import DEFAULT_URL, Database, default_url, normalize_url
from tunery.storage.rows import TRIAL_STATUS, trial_query, trials_from_rows
from tunery.storage.schema import (
    algorithm_states,
    experiments,
    intents,
    leases,
    observations,
    trials,
)
from tunery.thinning import downsample

__all__ = [
    "DEFAULT_URL",
    "Intent",
    "Series",
    "SqlStore",
    "Store",
    "TrialChange",
    "default_url",
    "normalize_url",
]

log = logging.getLogger(__name__)


class Series(NamedTuple):
    """A metric's curve as :meth:`Store.observation_series` gives it."""

    #: Observations stored.
    stored: int
    #: All of them, or a downsample.
    points: list[Observation]


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _metrics_json(metrics: Mapping[str, MetricSummary]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, s in metrics.items():
        row: dict[str, Any] = {"min": _finite(s.min), "max": _finite(s.max)}
        row["latest"] = _finite(s.latest)
        if s.text is not None:  # a string value: only then the key, numeric rows unchanged
            row["text"] = s.text
        out[str(name)] = row
    return out


def _encoded(value: Mapping[str, Any] | None) -> Any:
    return None if value is None else encode(value)


class SqlStore(Database):
    """Typed access to tunery's database (SQLite file or PostgreSQL server)."""

    # ------------------------------------------------------------------ experiments

    def create_experiment(self, experiment: Experiment) -> Experiment:
        """Store a new experiment under its key (see :meth:`BaseStore.create_experiment`);
        AlreadyExistsError if its namespace has an experiment of that name."""
        namespace = experiment.spec.namespace
        row = {
            "name": experiment.name,
            "namespace": namespace,
            "spec": spec_to_json(experiment.spec),
            "document": encode(experiment.document),
            "status": experiment.status.value,
            "reason": experiment.reason,
            "message": experiment.message,
            "created_time": experiment.created_time,
            "start_time": experiment.start_time,
            "completion_time": experiment.completion_time,
            "base_dir": experiment.base_dir,
            "runs_dir": experiment.runs_dir,
        }
        # Two tries: a creator in another namespace may take the plain name in between.
        for attempt in range(2):
            row["name"] = new_key(
                experiment.name, namespace, self._candidates(experiment.name, namespace)
            )
            try:
                with self._write() as conn:
                    conn.execute(sa.insert(experiments), row)
                break
            except sa.exc.IntegrityError:
                if attempt == 1:
                    raise AlreadyExistsError(
                        f"an experiment named {experiment.name!r} already exists in namespace "
                        f"{namespace!r}",
                        f"use `tunery resume {experiment.name} -n {namespace}` to continue it, "
                        f"or `tunery delete {experiment.name} -n {namespace}` to start over",
                    ) from None
        return self.get_experiment(row["name"])

    def _candidates(self, name: str, namespace: str | None) -> list[KeyCandidate]:
        """The stored experiments that ``name`` (in ``namespace``) may designate."""
        keys = key_candidates(name, namespace)
        c = experiments.c
        where = (
            c.name.in_(keys)
            if keys is not None
            else sa.or_(c.name == name, c.name.endswith(KEY_SEPARATOR + name, autoescape=True))
        )
        query = sa.select(c.name, c.namespace, c.spec).where(where)
        with self._read() as conn:
            rows = conn.execute(query).all()
        found = []
        for row in rows:
            spec_name = row.spec.get("name") if isinstance(row.spec, Mapping) else None
            found.append(
                KeyCandidate(
                    row.name, row.namespace, name_of_key(row.name, row.namespace, str(spec_name))
                )
            )
        return found

    def resolve(self, name: str, namespace: str | None = None) -> str:
        """The key of experiment ``name`` (see :meth:`BaseStore.resolve`)."""
        found = self._candidates(name, namespace)
        split = split_reference(name, found) if namespace is None else None
        if split is not None:
            return pick_key(split[1], split[0], self._candidates(split[1], split[0]), self.url)
        return pick_key(name, namespace, found, self.url)

    def _experiment(self, row: Any) -> Experiment:
        try:
            spec = spec_from_json(row.spec)
        except CodecError as exc:
            raise StorageError(
                f"the stored spec of experiment {row.name!r} cannot be read: {exc}",
                "was the database written by a newer tunery?",
            ) from None
        return Experiment(
            name=name_of_key(row.name, row.namespace, spec.name),
            key=row.name,
            spec=spec,
            status=ExperimentCondition(row.status),
            reason=row.reason,
            message=row.message,
            created_time=row.created_time,
            start_time=row.start_time,
            completion_time=row.completion_time,
            document=row.document if row.document is not None else {},
            base_dir=row.base_dir,
            runs_dir=row.runs_dir,
        )

    def find_experiment(self, name: str) -> Experiment | None:
        """The experiment, or None."""
        with self._read() as conn:
            row = conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()
        return None if row is None else self._experiment(row)

    def get_experiment(self, name: str) -> Experiment:
        """The experiment; NotFoundError if there is none of that name."""
        experiment = self.find_experiment(name)
        if experiment is None:
            raise self._no_experiment(name)
        return experiment

    def _no_experiment(self, name: str) -> NotFoundError:
        return NotFoundError(
            f"no experiment named {name!r} in {self.url}",
            "`tunery list` shows the experiments there",
        )

    def list_experiments(self, namespace: str | None = None) -> list[Experiment]:
        """Every experiment (of ``namespace`` only, if given), oldest first."""
        query = sa.select(experiments).order_by(
            sa.nulls_first(experiments.c.created_time.asc()), experiments.c.name
        )
        if namespace is not None:
            query = query.where(experiments.c.namespace == namespace)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [self._experiment(row) for row in rows]

    def update_experiment_spec(
        self, name: str, spec: ExperimentSpec, document: Mapping[str, Any]
    ) -> None:
        """Replace the spec and the document (e.g. a larger budget on resume)."""
        values = {
            "spec": spec_to_json(spec),
            "document": encode(document),
            "namespace": spec.namespace,
        }
        with self._write() as conn:
            result = conn.execute(
                sa.update(experiments).where(experiments.c.name == name).values(values)
            )
            if result.rowcount != 1:
                raise self._no_experiment(name)

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
        """Set the condition; None times leave their column as it is.

        ``clear_completion`` empties the completion time (an experiment restarting).
        """
        values: dict[str, Any] = {
            "status": ExperimentCondition(status).value,
            "reason": reason,
            "message": message,
        }
        if start_time is not None:
            values["start_time"] = start_time
        if completion_time is not None:
            values["completion_time"] = completion_time
        elif clear_completion:
            values["completion_time"] = None
        with self._write() as conn:
            result = conn.execute(
                sa.update(experiments).where(experiments.c.name == name).values(values)
            )
            if result.rowcount != 1:
                raise self._no_experiment(name)

    def delete_experiment(self, name: str) -> None:
        """Delete the experiment with its trials, observations, state, lease and intents."""
        with self._write() as conn:
            result = conn.execute(sa.delete(experiments).where(experiments.c.name == name))
            if result.rowcount != 1:
                raise self._no_experiment(name)

    # ------------------------------------------------------------------ trials

    def create_trial(self, trial: Trial) -> None:
        """Store a new trial (names and indexes are unique within an experiment)."""
        row = {
            "experiment": trial.experiment,
            "name": trial.name,
            "trial_index": trial.index,
            "parameters": encode(trial.parameters),
            "status": TrialCondition(trial.status).value,
            "reason": trial.reason,
            "message": trial.message,
            "labels": encode(trial.labels),
            "metrics": _metrics_json(trial.metrics),
            "objective": _finite(trial.objective),
            "created_time": trial.created_time,
            "start_time": trial.start_time,
            "completion_time": trial.completion_time,
            "handle": None if trial.handle is None else encode(trial.handle),
            "cursor": None if trial.cursor is None else encode(trial.cursor),
            "pending_outcome": _encoded(trial.pending_outcome),
            "objective_text": trial.objective_text,
        }
        try:
            with self._write() as conn:
                if self._backend == "sqlite":
                    hot.insert_trial(conn, row)
                else:
                    conn.execute(sa.insert(trials), row)
        except sa.exc.IntegrityError:
            if self.find_experiment(trial.experiment) is None:
                raise self._no_experiment(trial.experiment) from None
            raise AlreadyExistsError(
                f"experiment {trial.experiment!r} already has a trial named {trial.name!r} "
                f"or with index {trial.index}",
            ) from None

    def _trial_query(self) -> sa.Select[Any]:
        return trial_query(self.backend)

    def get_trial(self, experiment: str, name: str) -> Trial:
        """The trial; NotFoundError if there is none."""
        query = self._trial_query().where(trials.c.experiment == experiment, trials.c.name == name)
        with self._read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            raise NotFoundError(
                f"experiment {experiment!r} has no trial named {name!r}",
                f"`tunery trials {experiment}` lists its trials",
            )
        return trials_from_rows(rows)[0]

    def list_trials(
        self, experiment: str, statuses: Iterable[TrialCondition] | None = None
    ) -> list[Trial]:
        """The experiment's trials (only those in ``statuses`` if given), by index."""
        query = self._trial_query().where(trials.c.experiment == experiment)
        if statuses is not None:
            query = query.where(trials.c.status.in_([TrialCondition(s).value for s in statuses]))
        query = query.order_by(trials.c.trial_index)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return trials_from_rows(rows)

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
        """Compare-and-set: make ``change`` only if the status is in ``expect``.

        Returns whether the change was made.  A status change must be a transition of
        ``TRIAL_TRANSITIONS`` (or keep the status) else ValueError.  ``observations`` are
        appended in the same transaction when (and only when) the change applies: a trial's
        last metric lines and its final status land together; so is ``thin`` applied (see
        :meth:`add_observations`).
        """
        obs_rows = self._observation_rows(experiment, name, observations)
        expected = None if expect is None else frozenset(TrialCondition(s) for s in expect)
        legal = frozenset(TrialCondition)
        new_status: TrialCondition | None = None
        values: dict[str, Any] = {}
        for key, value in change.items().items():
            if key == "status":
                new_status = TrialCondition(value)
                values["status"] = new_status.value
                legal = frozenset(
                    {s for s, targets in TRIAL_TRANSITIONS.items() if new_status in targets}
                    | {new_status}
                )
            elif key == "metrics":
                values["metrics"] = _metrics_json(value or {})
            elif key == "labels":
                values["labels"] = encode(value or {})
            elif key == "objective":
                values["objective"] = _finite(value)
            elif key in ("handle", "cursor", "pending_outcome"):
                values[key] = _encoded(value)
            else:
                values[key] = value
        allowed = legal if expected is None else legal & expected
        sqlite = self._backend == "sqlite"
        with self._write() as conn:
            if values and allowed:
                statuses = [s.value for s in allowed]
                if sqlite:  # the controller's per-trial writes: driver SQL (storage.hot)
                    changed = hot.update_trial(conn, experiment, name, values, statuses)
                else:
                    query = (
                        sa.update(trials)
                        .where(
                            trials.c.experiment == experiment,
                            trials.c.name == name,
                            trials.c.status.in_(statuses),
                        )
                        .values(values)
                    )
                    changed = conn.execute(query).rowcount
                if changed == 1:
                    self._thin(conn, experiment, name, thin)
                    if obs_rows and sqlite:
                        hot.insert_observations(conn, obs_rows)
                    elif obs_rows:
                        conn.execute(sa.insert(schema.observations), obs_rows)
                    return True
            where = (trials.c.experiment == experiment, trials.c.name == name)
            row = conn.execute(sa.select(trials.c.status).where(*where)).first()
            if row is None:
                raise NotFoundError(f"experiment {experiment!r} has no trial named {name!r}")
            current = TRIAL_STATUS[row.status]
            if expected is not None and current not in expected:
                return False
            if not values:
                return True
            raise ValueError(
                f"trial {name!r} of {experiment!r}: illegal transition {current.value} -> "
                f"{new_status.value if new_status else '?'}"
            )

    # ------------------------------------------------------------------ observations

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
        """In one transaction: append observations, set the metrics summary and the cursor.

        A ``cursor`` of None stores NULL; ``labels``, when given, replace the trial's labels.
        ``thin`` maps a metric to ``(keep, every)``: before the new observations are added, of
        the trial's observations of that metric after the first ``keep`` (in the order they
        were added) only the first, the ``every + 1``-th and so on stay; the others are
        deleted (the controller bounds a trial's curve so, see :mod:`tunery.thinning`).
        """
        rows = self._observation_rows(experiment, trial_name, observations)
        values = {
            "metrics": _metrics_json(metrics),
            "cursor": None if cursor is None else encode(cursor),
        }
        if labels is not None:
            values["labels"] = encode(labels)
        sqlite = self._backend == "sqlite"
        with self._write() as conn:
            if sqlite:  # a running trial's reads: driver SQL too (storage.hot)
                changed = hot.update_trial(conn, experiment, trial_name, values, ())
            else:
                changed = conn.execute(
                    sa.update(trials)
                    .where(trials.c.experiment == experiment, trials.c.name == trial_name)
                    .values(values)
                ).rowcount
            if changed != 1:
                raise NotFoundError(f"experiment {experiment!r} has no trial named {trial_name!r}")
            self._thin(conn, experiment, trial_name, thin)
            if rows and sqlite:
                hot.insert_observations(conn, rows)
            elif rows:
                conn.execute(sa.insert(schema.observations), rows)

    @staticmethod
    def _thin(
        conn: Connection,
        experiment: str,
        trial_name: str,
        thin: Mapping[str, tuple[int, int]] | None,
    ) -> None:
        """Delete the observations that ``thin`` drops (see :meth:`add_observations`)."""
        obs = observations
        for metric, (keep, every) in (thin or {}).items():
            if every <= 1:
                continue
            ranked = (
                sa.select(
                    obs.c.id,
                    (sa.func.row_number().over(order_by=obs.c.id) - 1 - keep).label("pos"),
                )
                .where(
                    obs.c.experiment == experiment,
                    obs.c.trial_name == trial_name,
                    obs.c.metric_name == metric,
                )
                .subquery()
            )
            doomed = sa.select(ranked.c.id).where(ranked.c.pos > 0, ranked.c.pos % every != 0)
            conn.execute(sa.delete(obs).where(obs.c.id.in_(doomed)))

    @staticmethod
    def _observation_rows(
        experiment: str, trial_name: str, observations: Sequence[Observation]
    ) -> list[dict[str, Any]]:
        rows = []
        for obs in observations:
            if obs.trial_name != trial_name:
                raise ValueError(
                    f"observation of trial {obs.trial_name!r} added to trial {trial_name!r}"
                )
            rows.append(
                {
                    "experiment": experiment,
                    "trial_name": trial_name,
                    "metric_name": obs.metric_name,
                    "value": _finite(obs.value),
                    "step": int(obs.step),
                    "timestamp": obs.timestamp,
                    "text": obs.text,
                }
            )
        return rows

    def get_observations(
        self,
        experiment: str,
        trial_name: str | None = None,
        metric: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Observation]:
        """Observations by trial index, then in the order they were added.

        ``limit``/``offset`` cut that list (a page of a long curve costs a page).
        """
        obs = observations
        query = (
            sa.select(
                obs.c.trial_name,
                obs.c.metric_name,
                obs.c.value,
                obs.c.step,
                obs.c.timestamp,
                obs.c.text,
            )
            .join(
                trials,
                sa.and_(trials.c.experiment == obs.c.experiment, trials.c.name == obs.c.trial_name),
            )
            .where(obs.c.experiment == experiment)
        )
        if trial_name is not None:
            query = query.where(obs.c.trial_name == trial_name)
        if metric is not None:
            query = query.where(obs.c.metric_name == metric)
        query = query.order_by(trials.c.trial_index, obs.c.id)
        if limit is not None or offset > 0:
            query = query.offset(max(0, offset))
            if limit is not None:
                query = query.limit(max(0, limit))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [Observation(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def observation_counts(self, experiment: str, trial_name: str) -> dict[str, int]:
        """How many observations of each metric are stored for the trial."""
        with self._read() as conn:
            return self._observation_counts(conn, experiment, trial_name)

    @staticmethod
    def _observation_counts(conn: Connection, experiment: str, trial_name: str) -> dict[str, int]:
        obs = observations
        query = (
            sa.select(obs.c.metric_name, sa.func.count())
            .where(obs.c.experiment == experiment, obs.c.trial_name == trial_name)
            .group_by(obs.c.metric_name)
        )
        return {name: int(n) for name, n in conn.execute(query)}

    def observation_series(
        self, experiment: str, trial_name: str, max_points: int
    ) -> dict[str, Series]:
        """Each metric's stored observations, at most ``max_points`` of them per metric.

        A metric with more is downsampled by :func:`tunery.thinning.downsample` (its first and
        last points, and the lowest and highest of each stretch in between).  Rows are
        streamed: memory stays bounded however many are stored.
        """
        obs = observations
        query = (
            sa.select(obs.c.metric_name, obs.c.value, obs.c.step, obs.c.timestamp, obs.c.text)
            .where(obs.c.experiment == experiment, obs.c.trial_name == trial_name)
            .order_by(obs.c.metric_name, obs.c.id)
        )
        out: dict[str, Series] = {}
        with self._read() as conn:
            counts = self._observation_counts(conn, experiment, trial_name)
            rows = conn.execution_options(yield_per=2000).execute(query)
            for metric, group in itertools.groupby(rows, key=lambda r: r[0]):
                points = (Observation(trial_name, metric, r[1], r[2], r[3], r[4]) for r in group)
                stored = counts.get(metric, 0)
                out[metric] = Series(stored, downsample(points, stored, max_points))
        return out

    # ------------------------------------------------------------------ algorithm state

    def save_algorithm_state(self, experiment: str, state: Mapping[str, Any] | None) -> None:
        """Store the suggester's state (None deletes it)."""
        table = algorithm_states
        with self._write() as conn:
            if state is None:
                conn.execute(sa.delete(table).where(table.c.experiment == experiment))
                return
            data = encode(state)
            if self._backend == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                stmt: Any = pg_insert(table)
            else:
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt = sqlite_insert(table)
            stmt = stmt.values(experiment=experiment, state=data).on_conflict_do_update(
                index_elements=[table.c.experiment], set_={"state": data}
            )
            try:
                conn.execute(stmt)
            except sa.exc.IntegrityError:
                raise self._no_experiment(experiment) from None

    def load_algorithm_state(self, experiment: str) -> dict[str, Any] | None:
        """The state last saved, or None."""
        table = algorithm_states
        with self._read() as conn:
            state = conn.execute(
                sa.select(table.c.state).where(table.c.experiment == experiment)
            ).scalar_one_or_none()
        return None if state is None else dict(state)

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
        """Become the experiment's one controller until ``now + ttl`` (renew before then).

        Succeeds when there is no lease, it has expired, it is already ours, or
        ``steal(current_owner)`` says its owner is gone; else LeaseHeldError.
        """
        expires = now + ttl
        for _attempt in range(10):
            current = self.lease_owner(experiment)
            if current is None:
                try:
                    with self._write(fenced=False) as conn:
                        conn.execute(
                            sa.insert(leases),
                            {"experiment": experiment, "owner": owner, "expires_at": expires},
                        )
                    return
                except sa.exc.IntegrityError:
                    if self.find_experiment(experiment) is None:
                        raise self._no_experiment(experiment) from None
                    continue  # someone else inserted first: look again
            old_owner, old_expires = current
            if not (old_owner == owner or old_expires <= now or (steal and steal(old_owner))):
                raise LeaseHeldError(
                    f"experiment {experiment!r} is being run by another controller "
                    f"({old_owner}); its lease expires in {max(0.0, old_expires - now):.0f} s",
                    f"wait for it to finish, or `tunery stop {experiment}`",
                )
            with self._write(fenced=False) as conn:
                result = conn.execute(
                    sa.update(leases)
                    .where(
                        leases.c.experiment == experiment,
                        leases.c.owner == old_owner,
                        leases.c.expires_at == old_expires,
                    )
                    .values(owner=owner, expires_at=expires)
                )
            if result.rowcount == 1:
                if old_owner != owner:
                    log.info("experiment %s: lease taken over from %s", experiment, old_owner)
                return
        raise LeaseHeldError(
            f"experiment {experiment!r}: could not take the lease (other controllers keep "
            "changing it)",
            f"wait for it to finish, or `tunery stop {experiment}`",
        )

    def renew_lease(self, experiment: str, owner: str, now: float, ttl: float) -> bool:
        """Extend our lease to ``now + ttl``; False when we no longer hold it."""
        with self._write(fenced=False) as conn:
            result = conn.execute(
                sa.update(leases)
                .where(leases.c.experiment == experiment, leases.c.owner == owner)
                .values(expires_at=now + ttl)
            )
        return bool(result.rowcount == 1)

    def release_lease(self, experiment: str, owner: str) -> None:
        """Give the lease up (nothing happens if someone else holds it)."""
        with self._write(fenced=False) as conn:
            conn.execute(
                sa.delete(leases).where(leases.c.experiment == experiment, leases.c.owner == owner)
            )

    def lease_owner(self, experiment: str) -> tuple[str, float] | None:
        """``(owner, expires_at)`` of the lease, or None."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(leases.c.owner, leases.c.expires_at).where(
                    leases.c.experiment == experiment
                )
            ).first()
        return None if row is None else (row.owner, row.expires_at)

    # ------------------------------------------------------------------ intents

    def add_intent(
        self, experiment: str, kind: IntentKind | str, target: str | None, now: float
    ) -> int:
        """Ask the experiment's controller to do something; returns the intent's id."""
        try:
            with self._write() as conn:
                result = conn.execute(
                    sa.insert(intents),
                    {"experiment": experiment, "kind": kind, "target": target, "created_time": now},
                )
                key = result.inserted_primary_key
        except sa.exc.IntegrityError:
            raise self._no_experiment(experiment) from None
        assert key is not None
        return int(key[0])

    def pending_intents(self, experiment: str) -> list[Intent]:
        """Intents not yet completed, oldest first."""
        query = (
            sa.select(intents)
            .where(intents.c.experiment == experiment, intents.c.completed_time.is_(None))
            .order_by(intents.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            Intent(r.id, r.experiment, intent_kind(r.kind), r.target, r.created_time) for r in rows
        ]

    def complete_intent(self, intent_id: int, now: float) -> None:
        """Mark an intent done."""
        with self._write() as conn:
            conn.execute(
                sa.update(intents).where(intents.c.id == intent_id).values(completed_time=now)
            )


#: The SQL store under the name it has always had (``Store(url)``).
Store = SqlStore
