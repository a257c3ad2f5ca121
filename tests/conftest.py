"""Shared test configuration.

Tests that need a system component (PostgreSQL, Chromium) skip with a reason when it is
absent, except when ``TUNERY_REQUIRE_SYSTEM=1`` (set by ``.ci/run``): then the skip becomes a
failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest


def require_system(reason: str) -> None:
    """Skip the current test because a system component is missing (fail in CI)."""
    if os.environ.get("TUNERY_REQUIRE_SYSTEM") == "1":
        pytest.fail(f"required system component missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a database on a throwaway PostgreSQL server (one server per test session)."""
    from tunery.testing.postgres import PostgresNotFound, throwaway_postgres

    try:
        import psycopg  # noqa: F401
    except ImportError:
        require_system("the psycopg package is missing (pip install 'tunery[postgres]')")
    server = throwaway_postgres()
    try:
        url = server.__enter__()
    except PostgresNotFound:
        require_system("PostgreSQL server binaries not found (apt-get install postgresql)")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def pg_fresh_url(pg_url: str) -> str:
    """URL of a new, empty database on the session's PostgreSQL server."""
    from tunery.testing.postgres import create_database

    return create_database(pg_url, f"t_{uuid.uuid4().hex[:12]}")
