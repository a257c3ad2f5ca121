"""The only database API: typed methods over SQLAlchemy Core, on SQLite or PostgreSQL.

Everything that a controller needs to resume lives here: experiments (spec and the user's
document), trials with executor handles and collector cursors, append-only observations,
algorithm state, the experiment lease and the intents that the CLI and the UI write.

Transactions are short and explicit.  On SQLite the driver's own transaction handling is turned
off and every transaction begins with ``BEGIN`` (reads) or ``BEGIN IMMEDIATE`` (writes), so that a
writer takes the write lock up front and waits (``busy_timeout``) instead of failing half way;
with WAL, readers in other processes never block the writer nor wait for it.  Status changes
are compare-and-set in a single ``UPDATE ... WHERE status IN (...)``, and the lease is taken with
an ``INSERT`` on its primary key or a conditional ``UPDATE``, so both are race-free between
processes on both backends.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL

from tunery.crashpoints import crashpoint
from tunery.errors import (
    AlreadyExistsError,
    LeaseHeldError,
    LeaseLostError,
    MissingExtraError,
    NotFoundError,
    StorageConnectionLost,
    StorageError,
)
from tunery.model import (
    TRIAL_TRANSITIONS,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    IntentKind,
    MetricSummary,
    Objective,
    ObjectiveType,
    Observation,
    Trial,
    TrialCondition,
)
from tunery.storage import schema
from tunery.storage.codec import CodecError, encode, spec_from_json, spec_to_json
from tunery.storage.schema import (
    HEAD_REVISION,
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
    "Store",
    "TrialColumns",
    "TrialRow",
    "TrialRows",
    "default_url",
    "normalize_url",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_URL = "sqlite:///tunery.db"
#: Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT = 30.0
#: Seconds to wait for a PostgreSQL server to answer a connection.
PG_CONNECT_TIMEOUT = 10
#: Key of the PostgreSQL advisory lock that serializes concurrent migrations.
_PG_MIGRATION_LOCK = 0x74756E657279  # "tunery"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_TRIAL_CHANGE_KEYS = frozenset(
    {
        "status",
        "reason",
        "message",
        "labels",
        "metrics",
        "objective",
        "start_time",
        "completion_time",
        "handle",
        "cursor",
    }
)
_TRIAL_STATUS = {c.value: c for c in TrialCondition}
_URL_HINT = "give --db (or TUNERY_DB) as a file path, sqlite:///PATH or postgresql://USER@HOST/DB"


def _fast_constructor(cls: type[T], names: Iterable[str]) -> Callable[..., T]:
    """A keyword constructor for a frozen dataclass that skips the frozen ``__setattr__``.

    Building 10,000 trials is a third faster this way.  Callers pass exactly ``names``; when
    the dataclass has other fields (the model grew), a ``__post_init__`` or slots, this is
    the class itself, so defaults and checks still apply.
    """
    if (
        {f.name for f in dataclasses.fields(cls)} != set(names)  # type: ignore[arg-type]
        or hasattr(cls, "__post_init__")
        or hasattr(cls, "__slots__")
    ):
        return cls
    new = object.__new__

    def make(**values: Any) -> T:
        obj = new(cls)
        obj.__dict__.update(values)
        return obj

    return make


_make_trial = _fast_constructor(
    Trial,
    (
        "name",
        "experiment",
        "index",
        "parameters",
        "status",
        "reason",
        "message",
        "labels",
        "metrics",
        "objective",
        "created_time",
        "start_time",
        "completion_time",
        "handle",
        "cursor",
    ),
)
_new_summary = _fast_constructor(MetricSummary, ("min", "max", "latest"))


def _make_summary(data: Mapping[str, Any]) -> MetricSummary:
    return _new_summary(min=data.get("min"), max=data.get("max"), latest=data.get("latest"))


@dataclass(frozen=True)
class Intent:
    """A request written by the CLI or UI for the experiment's controller to act on."""

    id: int
    experiment: str
    #: A kind this tunery does not know (written by a newer one) stays a string.
    kind: IntentKind | str
    target: str | None
    created_time: float


class TrialRow(NamedTuple):
    """A trial as plain data, for readers that list many (no handle or cursor; the cursor's
    ``source`` as ``metrics_source``)."""

    name: str
    trial_index: int
    status: str
    reason: str | None
    message: str | None
    parameters: dict[str, Any]
    metrics: dict[str, dict[str, float | None]]
    objective: float | None
    created_time: float | None
    start_time: float | None
    completion_time: float | None
    labels: dict[str, str]
    metrics_source: str | None


class Series(NamedTuple):
    """A metric's curve as :meth:`Store.observation_series` gives it."""

    #: Observations stored.
    stored: int
    #: All of them, or a downsample.
    points: list[Observation]


@dataclass(frozen=True)
class TrialMarks:
    """Where an experiment's trials stand, read with them in one transaction.

    ``counts``: every trial by status (every condition is a key); ``max_index`` and
    ``max_completion``: the largest trial index and completion time (None: no trial / none
    finished).  A reader passes ``(max_index, max_completion)`` back as ``changed_since``.
    """

    counts: dict[str, int]
    max_index: int | None
    max_completion: float | None


@dataclass(frozen=True)
class TrialRows(TrialMarks):
    """The answer of :meth:`Store.trial_rows`."""

    rows: list[TrialRow]
    #: How many trials matched before ``limit``/``offset`` (None when neither was given).
    matched: int | None = None


@dataclass(frozen=True)
class TrialColumns(TrialMarks):
    """The answer of :meth:`Store.trial_columns`: each column as JSON array text.

    Keys of ``columns``: ``name``, ``index``, ``status``, ``reason``, ``message``,
    ``objective``, ``created_ms``, ``start_ms``, ``completion_ms`` (times as integer
    milliseconds since the epoch), ``parameters`` and ``metrics`` (one object per trial, as
    stored).  The arrays are aligned, in index order; ``length`` is their length.
    """

    length: int
    columns: dict[str, str]


def default_url() -> str:
    """The database URL when none is given: ``$TUNERY_DB``, else ``tunery.db`` in the cwd."""
    return os.environ.get("TUNERY_DB") or DEFAULT_URL


def normalize_url(url: str | None) -> URL:
    """The SQLAlchemy URL for what a user gave: a URL, a bare SQLite file path, or None."""
    text = (url if url is not None else default_url()).strip()
    if not text:
        text = DEFAULT_URL
    if "://" not in text and text != "sqlite:":
        # A bare file path: SQLite.
        text = "sqlite:///" + text
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
    try:
        return make_url(text)
    except sa.exc.ArgumentError as exc:
        raise StorageError(f"not a database URL: {text!r} ({exc})", _URL_HINT) from None


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _metrics_json(metrics: Mapping[str, MetricSummary]) -> dict[str, dict[str, float | None]]:
    return {
        str(name): {"min": _finite(s.min), "max": _finite(s.max), "latest": _finite(s.latest)}
        for name, s in metrics.items()
    }


def _json_dumps(value: Any) -> str:
    # NaN and infinities are not JSON and PostgreSQL refuses them: a bug, fail loudly.
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _dispose_in_forked_child(engine: Engine) -> None:
    """A forked child must not use its parent's pooled connections: it opens its own."""
    ref = weakref.ref(engine)

    def after_fork() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork)


def _stored_revision(conn: Connection) -> str | None:
    """The revision in Alembic's version table (read directly: importing Alembic is slow)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    revisions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(revisions) > 1:
        raise StorageError(
            f"the database has several schema revisions ({', '.join(revisions)})",
            "it was migrated by something other than tunery; use another database",
        )
    return revisions[0] if revisions else None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


class Store:
    """Typed access to tunery's database (SQLite file or PostgreSQL server)."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self._url = normalize_url(url)
        self._backend = self._url.get_backend_name()
        #: experiment -> lease owner whose holding every write checks (:meth:`fence`).
        self._fences: dict[str, str] = {}
        self.engine: Engine = self._create_engine()
        self._check_connection()
        _dispose_in_forked_child(self.engine)
        if upgrade:
            current = self.current_revision()
            if current != HEAD_REVISION:
                self.upgrade()

    # ------------------------------------------------------------------ connection

    def _create_engine(self) -> Engine:
        url = self._url
        try:
            if self._backend == "sqlite":
                return self._create_sqlite_engine(url)
            if self._backend == "postgresql":
                return sa.create_engine(
                    url,
                    connect_args={"connect_timeout": PG_CONNECT_TIMEOUT},
                    json_serializer=_json_dumps,
                    pool_pre_ping=True,
                )
        except ImportError as exc:
            name = getattr(exc, "name", None) or "psycopg"
            raise MissingExtraError(name, "postgres") from None
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise StorageError(f"cannot use database URL {self.url}: {exc}", _URL_HINT) from None
        raise StorageError(
            f"unsupported database {self.url}: tunery stores its data in SQLite or PostgreSQL",
            _URL_HINT,
        )

    def _create_sqlite_engine(self, url: URL) -> Engine:
        memory = url.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {}
        if memory:
            kwargs["poolclass"] = sa.pool.StaticPool
        engine = sa.create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
            json_serializer=_json_dumps,
            **kwargs,
        )
        busy_ms = int(SQLITE_BUSY_TIMEOUT * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control away from the driver: we emit BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
                if not memory:
                    cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("tunery_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def _check_connection(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise StorageError(
                f"cannot open the database {self.url}: {_first_line(exc)}", self._connect_hint()
            ) from None

    def _connect_hint(self) -> str:
        if self._backend == "sqlite":
            folder = os.path.dirname(os.path.abspath(self._url.database or "."))
            return f"check that the folder {folder} exists and is writable; {_URL_HINT}"
        return f"check that the server is running and the URL is right; {_URL_HINT}"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated and not isinstance(
                exc, (sa.exc.OperationalError, sa.exc.ProgrammingError)
            ):
                raise
            message = _first_line(exc)
            if exc.connection_invalidated:
                # The pool has dropped the dead connection; the next operation opens a new one.
                raise StorageConnectionLost(
                    f"lost the connection to {self.url}: {message}",
                    "check the database server; tunery reconnects when it is back",
                ) from exc
            hint = None
            if "no such table" in message or "does not exist" in message:
                hint = "the database has no tunery schema yet: run `tunery db upgrade`"
            raise StorageError(f"database error on {self.url}: {message}", hint) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self, *, fenced: bool = True) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            conn.execution_options(tunery_write=True)
            with conn.begin():
                yield conn
                if fenced and self._fences:
                    self._check_fences(conn)
                crashpoint("store.commit")

    # ------------------------------------------------------------------ fencing

    def fence(self, experiment: str, owner: str) -> None:
        """Make every later write of this store conditional on ``owner`` holding the lease.

        Each write transaction ends by reading the lease row (``FOR SHARE`` on PostgreSQL, so
        a takeover waits for the transaction; SQLite write transactions are exclusive): when
        another controller has taken the lease, the transaction is rolled back and
        :class:`LeaseLostError` raised, so a controller that lost its lease (a stalled tick, a
        paused machine) never writes again.
        """
        self._fences[experiment] = owner

    def unfence(self, experiment: str) -> None:
        self._fences.pop(experiment, None)

    def _check_fences(self, conn: Connection) -> None:
        for experiment, owner in self._fences.items():
            query = sa.select(leases.c.owner).where(leases.c.experiment == experiment)
            if self._backend == "postgresql":
                query = query.with_for_update(read=True)
            row = conn.execute(query).first()
            if row is None or row.owner != owner:
                holder = f"controller {row.owner}" if row is not None else "nobody (released)"
                raise LeaseLostError(
                    f"experiment {experiment!r}: this controller ({owner}) lost its lease to "
                    f"{holder}; it stopped without writing",
                    f"the experiment goes on under its new controller: `tunery get {experiment}`",
                )

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._backend

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ migrations

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        config.set_main_option("path_separator", "os")
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return config

    def current_revision(self) -> str | None:
        """The database's schema revision (None: no tunery schema yet)."""
        with self._read() as conn:
            return _stored_revision(conn)

    def _check_known(self, revision: str | None) -> None:
        if revision is None or revision == HEAD_REVISION:
            return
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(self._alembic_config())
        try:
            known = script.get_revision(revision) is not None
        except Exception:
            known = False
        if not known:
            raise StorageError(
                f"the database {self.url} has schema revision {revision!r}, newer than this "
                f"version of tunery knows (its newest is {HEAD_REVISION!r})",
                "upgrade tunery (pip install -U tunery) or use another database",
            )

    def upgrade(self) -> str:
        """Migrate the schema to the newest revision; returns that revision."""
        with self._write() as conn:
            if self._backend == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            current = _stored_revision(conn)
            self._check_known(current)
            if current != HEAD_REVISION:
                from alembic import command

                log.info("migrating %s from %s to %s", self.url, current, HEAD_REVISION)
                config = self._alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                current = _stored_revision(conn)
        assert current is not None
        return current

    # ------------------------------------------------------------------ experiments

    def create_experiment(self, experiment: Experiment) -> Experiment:
        """Store a new experiment; AlreadyExistsError if the name is taken."""
        row = {
            "name": experiment.name,
            "namespace": experiment.spec.namespace,
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
        try:
            with self._write() as conn:
                conn.execute(sa.insert(experiments), row)
        except sa.exc.IntegrityError:
            raise AlreadyExistsError(
                f"an experiment named {experiment.name!r} already exists",
                f"use `tunery resume {experiment.name}` to continue it, "
                f"or `tunery delete {experiment.name}` to start over",
            ) from None
        return self.get_experiment(experiment.name)

    def _experiment(self, row: Any) -> Experiment:
        try:
            spec = spec_from_json(row.spec)
        except CodecError as exc:
            raise StorageError(
                f"the stored spec of experiment {row.name!r} cannot be read: {exc}",
                "was the database written by a newer tunery?",
            ) from None
        return Experiment(
            name=row.name,
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

    def list_experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        query = sa.select(experiments).order_by(
            sa.nulls_first(experiments.c.created_time.asc()), experiments.c.name
        )
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
        }
        try:
            with self._write() as conn:
                conn.execute(sa.insert(trials), row)
        except sa.exc.IntegrityError:
            if self.find_experiment(trial.experiment) is None:
                raise self._no_experiment(trial.experiment) from None
            raise AlreadyExistsError(
                f"experiment {trial.experiment!r} already has a trial named {trial.name!r} "
                f"or with index {trial.index}",
            ) from None

    def _trial_query(self) -> sa.Select[Any]:
        """Select trials with the five JSON columns as one JSON array text per row.

        One ``json.loads`` per row instead of five (and no per-column processing) makes
        listing 10,000 trials several times faster.
        """
        cols = trials.c
        texts = []
        for col in (cols.parameters, cols.labels, cols.metrics, cols.handle, cols.cursor):
            text: Any = (
                sa.cast(col, sa.Text)
                if self._backend == "postgresql"
                else sa.type_coerce(col, sa.Text)
            )
            texts.append(sa.func.coalesce(text, sa.literal("null", sa.Text)))
        blob: sa.ColumnElement[str] = sa.literal("[", sa.Text)
        for i, text in enumerate(texts):
            blob = blob + (sa.literal(",", sa.Text) if i else sa.literal("", sa.Text)) + text
        blob = blob + sa.literal("]", sa.Text)
        return sa.select(
            cols.name,
            cols.experiment,
            cols.trial_index,
            cols.status,
            cols.reason,
            cols.message,
            cols.objective,
            cols.created_time,
            cols.start_time,
            cols.completion_time,
            blob.label("json"),
        )

    @staticmethod
    def _trials(rows: Sequence[Any]) -> list[Trial]:
        # One json.loads for the whole result: the per-call overhead dominates small documents.
        blobs = json.loads("[" + ",".join([row[-1] for row in rows]) + "]")
        status_of = _TRIAL_STATUS.__getitem__
        out = []
        for row, blob in zip(rows, blobs, strict=True):
            name, exp, index, status, reason, message, objective, t0, t1, t2, _ = row
            parameters, labels, metrics, handle, cursor = blob
            out.append(
                _make_trial(
                    name=name,
                    experiment=exp,
                    index=index,
                    parameters=parameters,
                    status=status_of(status),
                    reason=reason,
                    message=message,
                    labels=labels,
                    metrics={k: _make_summary(v) for k, v in metrics.items()} if metrics else {},
                    objective=objective,
                    created_time=t0,
                    start_time=t1,
                    completion_time=t2,
                    handle=handle,
                    cursor=cursor,
                )
            )
        return out

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
        return self._trials(rows)[0]

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
        return self._trials(rows)

    def count_trials(self, experiment: str) -> dict[TrialCondition, int]:
        """How many trials are in each condition (every condition is a key)."""
        counts = dict.fromkeys(TrialCondition, 0)
        query = (
            sa.select(trials.c.status, sa.func.count())
            .where(trials.c.experiment == experiment)
            .group_by(trials.c.status)
        )
        with self._read() as conn:
            for status, count in conn.execute(query):
                counts[_TRIAL_STATUS[status]] = int(count)
        return counts

    # ------------------------------------------------------------------ bulk reads

    def _trial_filter(
        self,
        experiment: str,
        changed_since: tuple[int, float | None] | None,
        statuses: Iterable[TrialCondition | str] | None,
    ) -> list[Any]:
        c = trials.c
        where: list[Any] = [c.experiment == experiment]
        if changed_since is not None:
            max_index, max_completion = changed_since
            changed = [
                c.status.in_([s.value for s in TrialCondition if s.is_active]),
                c.trial_index > max_index,
                c.completion_time.is_not(None)
                if max_completion is None
                else c.completion_time >= max_completion,
            ]
            where.append(sa.or_(*changed))
        if statuses is not None:
            where.append(c.status.in_([TrialCondition(s).value for s in statuses]))
        return where

    @staticmethod
    def _marks(conn: Connection, experiment: str) -> dict[str, Any]:
        c = trials.c
        counts = {s.value: 0 for s in TrialCondition}
        query = (
            sa.select(c.status, sa.func.count())
            .where(c.experiment == experiment)
            .group_by(c.status)
        )
        for status, count in conn.execute(query):
            counts[status] = int(count)
        max_index, max_completion = conn.execute(
            sa.select(sa.func.max(c.trial_index), sa.func.max(c.completion_time)).where(
                c.experiment == experiment
            )
        ).one()
        return {
            "counts": counts,
            "max_index": None if max_index is None else int(max_index),
            "max_completion": max_completion,
        }

    def _json_text(self, column: Any) -> Any:
        if self._backend == "postgresql":
            return sa.cast(column, sa.Text)
        return sa.type_coerce(column, sa.Text)

    def trial_rows(
        self,
        experiment: str,
        *,
        changed_since: tuple[int, float | None] | None = None,
        statuses: Iterable[TrialCondition | str] | None = None,
        order: tuple[str, bool] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> TrialRows:
        """The experiment's trials as plain tuples, by index, with their marks, in one read.

        ``order=(column, descending)`` sorts by one of :attr:`ORDER_COLUMNS` in the database
        instead (missing values last either way, ties by index), and ``limit``/``offset``
        then cut the sorted list there, so a page of a large experiment costs a page.

        ``changed_since=(max_index, max_completion)`` (the marks of an earlier read) keeps
        only the trials that may have changed since: every active trial, every trial with a
        larger index, and every trial that finished at or after ``max_completion`` (``>=``:
        one that finished in the same clock tick is not lost).  One controller writes an
        experiment's trials and a finished trial never changes, so a reader that merges these
        by name has every trial as stored; ``counts`` lets it check.
        """
        c = trials.c
        query = sa.select(
            c.name,
            c.trial_index,
            c.status,
            c.reason,
            c.message,
            c.objective,
            c.created_time,
            c.start_time,
            c.completion_time,
            self._json_text(c.parameters),
            self._json_text(c.metrics),
            self._json_text(c.labels),
            c.cursor["source"].as_string(),
        ).where(*self._trial_filter(experiment, changed_since, statuses))
        if order is not None:
            column = getattr(c, self.ORDER_COLUMNS[order[0]])
            query = query.order_by(
                column.is_(None), column.desc() if order[1] else column.asc(), c.trial_index
            )
        else:
            query = query.order_by(c.trial_index)
        sliced = limit is not None or offset > 0
        if sliced:
            query = query.offset(max(0, offset))
            if limit is not None:
                query = query.limit(max(0, limit))
        with self._read() as conn:
            rows = conn.execute(query).all()
            marks = self._marks(conn, experiment)
            matched = None
            if sliced:
                matched = int(
                    conn.execute(
                        sa.select(sa.func.count()).where(
                            *self._trial_filter(experiment, changed_since, statuses)
                        )
                    ).scalar_one()
                )
        # One json.loads for the whole result: the per-call overhead dominates small documents.
        blobs = json.loads("[" + ",".join([f"[{r[9]},{r[10]},{r[11]}]" for r in rows]) + "]")
        out = [
            TrialRow(
                *row[:5], blob[0] or {}, blob[1] or {}, *row[5:9], blob[2] or {}, row[12] or None
            )
            for row, blob in zip(rows, blobs, strict=True)
        ]
        return TrialRows(rows=out, matched=matched, **marks)

    #: Sort keys :meth:`trial_rows` can order by in the database -> their trials column.
    ORDER_COLUMNS = {
        "index": "trial_index",
        "name": "name",
        "status": "status",
        "objective": "objective",
        "createdTime": "created_time",
        "startTime": "start_time",
        "completionTime": "completion_time",
    }

    #: The columns :meth:`trial_columns` can build.
    TRIAL_COLUMNS = (
        "name",
        "index",
        "status",
        "reason",
        "message",
        "objective",
        "created_ms",
        "start_ms",
        "completion_ms",
        "parameters",
        "metrics",
    )

    def trial_columns(
        self,
        experiment: str,
        *,
        changed_since: tuple[int, float | None] | None = None,
        statuses: Iterable[TrialCondition | str] | None = None,
        fields: Iterable[str] | None = None,
    ) -> TrialColumns:
        """The trials of :meth:`trial_rows` as columns of JSON text, built by the database.

        For readers that pass trials on as JSON (the web UI): no Python object per trial.
        ``fields`` picks columns of :attr:`TRIAL_COLUMNS` (default: all).  Numbers keep
        every digit (they round-trip to the same double).
        """
        c = trials.c
        names = self.TRIAL_COLUMNS if fields is None else tuple(fields)
        unknown = set(names) - set(self.TRIAL_COLUMNS)
        if unknown:
            raise ValueError(f"trial_columns() got unknown fields: {', '.join(sorted(unknown))}")
        where = self._trial_filter(experiment, changed_since, statuses)

        def ms(column: Any) -> Any:
            # Whole milliseconds, cut as ISO 8601 text to the millisecond is (after rounding
            # to microseconds, so that 0.3 s is 300 ms, not 299).
            return sa.cast(sa.func.round(column * 1_000_000), sa.BigInteger) // 1000

        if self._backend == "postgresql":
            from sqlalchemy.dialects.postgresql import aggregate_order_by

            pg: dict[str, Any] = {
                "name": c.name,
                "index": c.trial_index,
                "status": c.status,
                "reason": c.reason,
                "message": c.message,
                "objective": c.objective,
                "created_ms": ms(c.created_time),
                "start_ms": ms(c.start_time),
                "completion_ms": ms(c.completion_time),
                "parameters": c.parameters,
                "metrics": c.metrics,
            }
            aggregates = [
                sa.func.coalesce(
                    sa.cast(sa.func.json_agg(aggregate_order_by(pg[name], c.trial_index)), sa.Text),
                    sa.literal("[]", sa.Text),
                )
                for name in names
            ]
            query = sa.select(sa.func.count(), *aggregates).where(*where)
        else:
            # SQLite's json_group_array() quotes text and writes integers; the stored JSON
            # columns are joined with commas as they are (never parsed), and so are the
            # objectives, written with 17 digits (SQLite's JSON functions write 15).
            def joined(value: Any) -> Any:
                return (
                    sa.literal("[", sa.Text)
                    + sa.func.coalesce(sa.func.group_concat(value, ","), "", type_=sa.Text)
                    + sa.literal("]", sa.Text)
                )

            lite: dict[str, tuple[Any, Any]] = {
                "name": (c.name, sa.func.json_group_array),
                "index": (c.trial_index, sa.func.json_group_array),
                "status": (c.status, sa.func.json_group_array),
                "reason": (c.reason, sa.func.json_group_array),
                "message": (c.message, sa.func.json_group_array),
                "objective": (
                    sa.case(
                        (c.objective.is_(None), "null"),
                        else_=sa.func.printf("%!.17g", c.objective),
                    ),
                    joined,
                ),
                "created_ms": (ms(c.created_time), sa.func.json_group_array),
                "start_ms": (ms(c.start_time), sa.func.json_group_array),
                "completion_ms": (ms(c.completion_time), sa.func.json_group_array),
                "parameters": (sa.func.coalesce(self._json_text(c.parameters), "null"), joined),
                "metrics": (sa.func.coalesce(self._json_text(c.metrics), "null"), joined),
            }
            # An ORDER BY in a subquery of an aggregate is kept (SQLite does not flatten it).
            inner = (
                sa.select(*[lite[name][0].label(f"c{i}") for i, name in enumerate(names)])
                .where(*where)
                .order_by(c.trial_index)
                .subquery()
            )
            query = sa.select(
                sa.func.count(),
                *[lite[name][1](inner.c[f"c{i}"]) for i, name in enumerate(names)],
            )
        with self._read() as conn:
            length, *texts = conn.execute(query).one()
            marks = self._marks(conn, experiment)
        return TrialColumns(
            length=int(length), columns=dict(zip(names, texts, strict=True)), **marks
        )

    def best_trial(self, experiment: str, objective: Objective) -> Trial | None:
        """The succeeded or early-stopped trial with the best objective (ties: the earliest).

        Katib's ``currentOptimalTrial``; None before any such trial has an objective.
        """
        c = trials.c
        order = (
            c.objective.asc() if objective.type is ObjectiveType.MINIMIZE else c.objective.desc()
        )
        query = (
            self._trial_query()
            .where(
                c.experiment == experiment,
                c.status.in_([TrialCondition.SUCCEEDED.value, TrialCondition.EARLY_STOPPED.value]),
                c.objective.is_not(None),
            )
            .order_by(order, c.trial_index)
            .limit(1)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return self._trials(rows)[0] if rows else None

    def trial_summaries(self) -> dict[str, dict[str, tuple[int, float | None, float | None]]]:
        """Per experiment and trial status: ``(count, min objective, max objective)``."""
        c = trials.c
        query = sa.select(
            c.experiment,
            c.status,
            sa.func.count(),
            sa.func.min(c.objective),
            sa.func.max(c.objective),
        ).group_by(c.experiment, c.status)
        out: dict[str, dict[str, tuple[int, float | None, float | None]]] = {}
        with self._read() as conn:
            for exp, status, count, low, high in conn.execute(query):
                out.setdefault(exp, {})[status] = (int(count), low, high)
        return out

    def update_trial(
        self,
        experiment: str,
        name: str,
        *,
        expect: Iterable[TrialCondition] | None = None,
        observations: Sequence[Observation] = (),
        thin: Mapping[str, tuple[int, int]] | None = None,
        **changes: Any,
    ) -> bool:
        """Compare-and-set: apply ``changes`` only if the status is in ``expect``.

        Returns whether the change was applied.  A status change must be a transition of
        ``TRIAL_TRANSITIONS`` (or keep the status) else ValueError; unknown change keys are a
        TypeError.  ``observations`` are appended in the same transaction when (and only when)
        the change applies: a trial's last metric lines and its final status land together;
        so is ``thin`` applied (see :meth:`add_observations`).
        """
        obs_rows = self._observation_rows(experiment, name, observations)
        unknown = set(changes) - _TRIAL_CHANGE_KEYS
        if unknown:
            raise TypeError(f"update_trial() got unknown changes: {', '.join(sorted(unknown))}")
        expected = None if expect is None else frozenset(TrialCondition(s) for s in expect)
        legal = frozenset(TrialCondition)
        new_status: TrialCondition | None = None
        values: dict[str, Any] = {}
        for key, value in changes.items():
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
            elif key in ("handle", "cursor"):
                values[key] = None if value is None else encode(value)
            else:
                values[key] = value
        allowed = legal if expected is None else legal & expected
        where = (trials.c.experiment == experiment, trials.c.name == name)
        with self._write() as conn:
            if values and allowed:
                query = (
                    sa.update(trials)
                    .where(*where, trials.c.status.in_([s.value for s in allowed]))
                    .values(values)
                )
                if conn.execute(query).rowcount == 1:
                    self._thin(conn, experiment, name, thin)
                    if obs_rows:
                        conn.execute(sa.insert(schema.observations), obs_rows)
                    return True
            row = conn.execute(sa.select(trials.c.status).where(*where)).first()
            if row is None:
                raise NotFoundError(f"experiment {experiment!r} has no trial named {name!r}")
            current = _TRIAL_STATUS[row.status]
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
        with self._write() as conn:
            result = conn.execute(
                sa.update(trials)
                .where(trials.c.experiment == experiment, trials.c.name == trial_name)
                .values(values)
            )
            if result.rowcount != 1:
                raise NotFoundError(f"experiment {experiment!r} has no trial named {trial_name!r}")
            self._thin(conn, experiment, trial_name, thin)
            if rows:
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
            sa.select(obs.c.trial_name, obs.c.metric_name, obs.c.value, obs.c.step, obs.c.timestamp)
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
        return [Observation(r[0], r[1], r[2], r[3], r[4]) for r in rows]

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
            sa.select(obs.c.metric_name, obs.c.value, obs.c.step, obs.c.timestamp)
            .where(obs.c.experiment == experiment, obs.c.trial_name == trial_name)
            .order_by(obs.c.metric_name, obs.c.id)
        )
        out: dict[str, Series] = {}
        with self._read() as conn:
            counts = self._observation_counts(conn, experiment, trial_name)
            rows = conn.execution_options(yield_per=2000).execute(query)
            for metric, group in itertools.groupby(rows, key=lambda r: r[0]):
                points = (Observation(trial_name, metric, r[1], r[2], r[3]) for r in group)
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
        known = {k.value: k for k in IntentKind}
        return [
            Intent(r.id, r.experiment, known.get(r.kind, r.kind), r.target, r.created_time)
            for r in rows
        ]

    def complete_intent(self, intent_id: int, now: float) -> None:
        """Mark an intent done."""
        with self._write() as conn:
            conn.execute(
                sa.update(intents).where(intents.c.id == intent_id).values(completed_time=now)
            )
