"""The controller's per-trial writes as plain driver SQL, on SQLite.

Every trial costs the controller three write transactions (create; Running with its handle; the
last observations with the final status) and each ends with the lease check (fencing).  Built
as SQLAlchemy Core statements, each costs about 0.4 ms of CPU in statement construction,
cache-key generation and compilation, more than SQLite takes to run it; these few fixed
statements are written once here instead and passed to the driver as they are
(``exec_driver_sql``: the transaction, the error wrapping and the events stay SQLAlchemy's).

Only for SQLite (the ``?`` parameter style); PostgreSQL keeps the Core statements.  The column
names come from this code, never from input; JSON columns are serialized as
:data:`tunery.storage.schema.JSON` does (compact text, ``None`` as SQL ``NULL``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["insert_observations", "insert_trial", "lease_owner", "update_trial"]

#: The JSON columns of the tables written here.
_JSON_COLUMNS = frozenset(
    {"parameters", "labels", "metrics", "handle", "cursor", "pending_outcome"}
)
_OBSERVATION_COLUMNS = (
    "experiment",
    "trial_name",
    "metric_name",
    "value",
    "step",
    "timestamp",
    "text",
)


def _dumps(value: Any) -> str:
    # As the engine's json_serializer: NaN and infinities are a bug, fail loudly.
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _bound(column: str, value: Any) -> Any:
    if column in _JSON_COLUMNS and value is not None:
        return _dumps(value)
    return value


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


@functools.lru_cache(maxsize=256)
def _update_sql(columns: tuple[str, ...], statuses: int) -> str:
    assignments = ", ".join(f"{c} = ?" for c in columns)
    where = "experiment = ? AND name = ?"
    if statuses:
        where += f" AND status IN ({', '.join('?' * statuses)})"
    return f"UPDATE trials SET {assignments} WHERE {where}"


def insert_trial(conn: Connection, row: Mapping[str, Any]) -> None:
    """``INSERT`` one trial row (column -> model value, JSON columns as data)."""
    columns = tuple(row)
    conn.exec_driver_sql(_insert_sql("trials", columns), tuple(_bound(c, row[c]) for c in columns))


def update_trial(
    conn: Connection,
    experiment: str,
    name: str,
    values: Mapping[str, Any],
    statuses: Collection[str],
) -> int:
    """``UPDATE`` a trial's ``values`` if its status is one of ``statuses`` (empty: whatever
    its status); the number of rows changed."""
    columns = tuple(values)
    ordered = sorted(statuses)
    params = (
        *(_bound(c, values[c]) for c in columns),
        experiment,
        name,
        *ordered,
    )
    return int(conn.exec_driver_sql(_update_sql(columns, len(ordered)), params).rowcount)


def insert_observations(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` observation rows (the keys of :data:`_OBSERVATION_COLUMNS`), one statement."""
    sql = _insert_sql("observations", _OBSERVATION_COLUMNS)
    conn.exec_driver_sql(sql, [tuple(r[c] for c in _OBSERVATION_COLUMNS) for r in rows])


def lease_owner(conn: Connection, experiment: str) -> str | None:
    """The owner of the experiment's lease (None: no lease)."""
    row = conn.exec_driver_sql(
        "SELECT owner FROM leases WHERE experiment = ?", (experiment,)
    ).first()
    return None if row is None else str(row[0])
