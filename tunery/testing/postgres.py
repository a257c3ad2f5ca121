"""A throwaway PostgreSQL server for tests: ``with throwaway_postgres() as url: ...``.

It runs the system's ``initdb`` and ``pg_ctl`` (``/usr/lib/postgresql/*/bin`` or ``PATH``) on a
data directory in a fresh temporary directory, listening on 127.0.0.1 at a free port with trust
authentication and ``fsync=off``, creates a database and yields its URL.  On exit the server is
stopped (``pg_ctl stop -m immediate``) and the directory deleted.  PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user (``runuser``), which owns the directory.

Needs the ``psycopg`` package (the ``postgres`` extra) to create the database.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PostgresNotFound", "create_database", "find_binaries", "throwaway_postgres"]

DEFAULT_DATABASE = "tunery"


class PostgresNotFound(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl) are not installed."""


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def find_binaries() -> tuple[str, str]:
    """Paths of ``initdb`` and ``pg_ctl``, newest installed version first; else PostgresNotFound."""
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)[::-1]:
        pg_ctl = os.path.join(os.path.dirname(initdb), "pg_ctl")
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return initdb, pg_ctl
    initdb_path, pg_ctl_path = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb_path and pg_ctl_path:
        return initdb_path, pg_ctl_path
    raise PostgresNotFound("PostgreSQL server binaries (initdb, pg_ctl) not found")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(argv: list[str], as_user: str | None, timeout: float = 60) -> None:
    if as_user is not None:
        argv = ["runuser", "-u", as_user, "--", *argv]
    result = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}")


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; returns the new database's URL."""
    import psycopg
    from psycopg import sql

    base = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


@contextlib.contextmanager
def throwaway_postgres(database: str = DEFAULT_DATABASE) -> Iterator[str]:
    """Start a private PostgreSQL server; yields ``postgresql://postgres@127.0.0.1:PORT/DB``."""
    initdb, pg_ctl = find_binaries()
    user = None
    if os.geteuid() == 0:
        # The server refuses to run as root: run it as the postgres user the package created.
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise PostgresNotFound("running as root needs the 'postgres' user") from None
        if shutil.which("runuser") is None:
            raise PostgresNotFound("running as root needs runuser (util-linux)")
    # A short path: the server's Unix socket lives there (about 100 characters at most).
    tmp = Path(tempfile.mkdtemp(prefix="tunery-pg-", dir="/tmp" if os.path.isdir("/tmp") else None))
    data = tmp / "data"
    log_file = tmp / "server.log"
    started = False
    try:
        if user is not None:
            shutil.chown(tmp, user=user)
        _run(
            [
                initdb,
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            user,
        )
        pg_ctl_args = [pg_ctl, "-D", str(data), "-l", str(log_file), "-w", "-t", "60"]
        last_error: Exception | None = None
        for _attempt in range(3):  # the free port may be taken before the server binds it
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off "
                f"-c unix_socket_directories={tmp}"
            )
            try:
                _run(
                    [*pg_ctl_args, "-o", options, "start"],
                    user,
                    timeout=90,
                )
            except RuntimeError as exc:
                last_error = exc
                continue
            started = True
            break
        if not started:
            log = log_file.read_text(errors="replace") if log_file.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{log}")
        server = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        yield create_database(server, database)
    finally:
        if started:
            with contextlib.suppress(Exception):
                _run([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], user, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
