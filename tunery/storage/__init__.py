"""Storage: the database behind tunery (SQLite or PostgreSQL), reached only through a store.

``base`` holds the :class:`BaseStore` protocol (the contract every store keeps) and
:class:`TrialChange`; ``store`` the SQL store (:class:`SqlStore`, also importable as ``Store``);
``memory`` the :class:`InMemoryStore`; ``engine`` connections, transactions and migrations;
``views`` the SQL-only bulk reads of the UI and the CLI; ``schema`` the SQLAlchemy Core tables;
``codec`` turns specs into JSON and back.  The Alembic migrations under ``migrations/`` are the
only way the schema changes.  The SQL names load SQLAlchemy when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunery.storage.base import KEEP, BaseStore, Intent, TrialChange
from tunery.storage.memory import InMemoryStore

if TYPE_CHECKING:
    from tunery.storage.store import SqlStore, Store, default_url

_SQL_NAMES = ("SqlStore", "Store", "default_url")


def __getattr__(name: str) -> Any:
    # The SQL store imports SQLAlchemy: only when asked for (``import tunery`` stays light).
    if name in _SQL_NAMES:
        from tunery.storage import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KEEP",
    "BaseStore",
    "InMemoryStore",
    "Intent",
    "SqlStore",
    "Store",
    "TrialChange",
    "default_url",
]
