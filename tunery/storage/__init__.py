"""Storage: the database behind tunery (SQLite or PostgreSQL), reached only through ``Store``.

``schema`` holds the SQLAlchemy Core tables, ``codec`` turns specs into JSON and back, and the
Alembic migrations under ``migrations/`` are the only way the schema changes.
"""

from __future__ import annotations

from tunery.storage.store import Intent, Store, default_url

__all__ = ["Intent", "Store", "default_url"]
