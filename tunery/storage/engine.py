"""The database engine under the store: URLs, connections, transactions, errors, migrations.

Transactions are short and explicit.  On SQLite the driver's own transaction handling is turned
off and every transaction begins with ``BEGIN`` (reads) or ``BEGIN IMMEDIATE`` (writes), so that a
writer takes the write lock up front and waits (``busy_timeout``) instead of failing half way;
with WAL, readers in other processes never block the writer nor wait for it.  A write
transaction of a fenced store ends by checking the experiment's lease (:meth:`Database.fence`).
Driver errors become :class:`~tunery.errors.StorageError` (or ``StorageConnectionLost``) with a
hint.  Alembic migrations run under a lock (PostgreSQL: an advisory lock).
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL

from tunery.crashpoints import crashpoint
from tunery.errors import LeaseLostError, MissingExtraError, StorageConnectionLost, StorageError
from tunery.storage import hot
from tunery.storage.schema import HEAD_REVISION, leases

__all__ = [
    "DEFAULT_URL",
    "MIGRATIONS_DIR",
    "Database",
    "default_url",
    "normalize_url",
]

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///tunery.db"
#: Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT = 30.0
#: Seconds to wait for a PostgreSQL server to answer a connection.
PG_CONNECT_TIMEOUT = 10
#: Key of the PostgreSQL advisory lock that serializes concurrent migrations.
_PG_MIGRATION_LOCK = 0x74756E657279  # "tunery"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_URL_HINT = "give --db (or TUNERY_DB) as a file path, sqlite:///PATH or postgresql://USER@HOST/DB"


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


def _is_empty(conn: Connection) -> bool:
    """True when the database holds no table at all (a new file)."""
    return not sa.inspect(conn).get_table_names()


def create_head_schema(conn: Connection) -> None:
    """Create the schema at ``HEAD_REVISION`` in an empty database and stamp that revision.

    The tables come from :mod:`tunery.storage.schema` (the picture of the head migration) and
    the version table is the one Alembic creates, so Alembic migrates the database later as if
    it had built it.
    """
    from tunery.storage.schema import metadata

    metadata.create_all(conn)
    version = sa.Table(
        "alembic_version",
        sa.MetaData(),
        sa.Column("version_num", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(conn)
    conn.execute(version.insert().values(version_num=HEAD_REVISION))


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


class Database:
    """A connection to tunery's database (SQLite file or PostgreSQL server), with its schema.

    Opening one checks the connection and, with ``upgrade``, migrates the schema to the
    newest revision.  :class:`~tunery.storage.store.SqlStore` builds its typed API on it.
    """

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
            if self._backend == "sqlite":  # driver SQL: it ends every write (storage.hot)
                current = hot.lease_owner(conn, experiment)
            else:
                query = sa.select(leases.c.owner).where(leases.c.experiment == experiment)
                if self._backend == "postgresql":
                    query = query.with_for_update(read=True)
                row = conn.execute(query).first()
                current = None if row is None else row.owner
            if current != owner:
                holder = f"controller {current}" if current is not None else "nobody (released)"
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

    def __enter__(self) -> Self:
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
            if current is None and self._backend == "sqlite" and _is_empty(conn):
                # A new SQLite file: build the head schema directly and stamp it (Alembic's
                # "building an up to date database from scratch" recipe).  This spares every
                # `tunery run` with a new database Alembic's import and its migration scripts
                # (about 0.1-0.2 s); a test checks the result is the migrated schema exactly.
                create_head_schema(conn)
                current = _stored_revision(conn)
            elif current != HEAD_REVISION:
                from alembic import command

                log.info("migrating %s from %s to %s", self.url, current, HEAD_REVISION)
                config = self._alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                current = _stored_revision(conn)
        assert current is not None
        return current
