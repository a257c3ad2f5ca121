"""A trial's pending outcome gets its own column, out of the collector cursor.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

A controller about to stop a trial writes the outcome it will give it (``{"status", "reason",
"message"}``) first, so that a controller that dies in between can finish the job.  Revision
0001 kept it as ``cursor["stopping"]``; it moves to ``trials.pending_outcome`` here, and the
cursor keeps only the collector's position.  Written by hand (never imports the schema).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True)

_trials = sa.table(
    "trials",
    sa.column("experiment", sa.String()),
    sa.column("name", sa.String()),
    sa.column("cursor", JSON),
    sa.column("pending_outcome", JSON),
)


def _as_text(column: Any) -> Any:
    return sa.cast(column, sa.Text)


def _loaded(value: Any) -> Any:
    # A JSON column reads back parsed; tolerate drivers that hand over text.
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    # A plain ALTER TABLE on both backends (SQLite adds a column in place: no table copy).
    op.add_column("trials", sa.Column("pending_outcome", JSON, nullable=True))
    conn = op.get_bind()
    t = _trials.c
    rows = conn.execute(
        sa.select(t.experiment, t.name, t.cursor).where(
            t.cursor.is_not(None), _as_text(t.cursor).like('%"stopping"%')
        )
    ).all()
    for experiment, name, cursor in rows:
        cursor = _loaded(cursor)
        if not isinstance(cursor, dict) or "stopping" not in cursor:
            continue
        rest = dict(cursor)
        pending = rest.pop("stopping")
        conn.execute(
            sa.update(_trials)
            .where(t.experiment == experiment, t.name == name)
            .values(cursor=rest, pending_outcome=pending)
        )


def downgrade() -> None:
    conn = op.get_bind()
    t = _trials.c
    rows = conn.execute(
        sa.select(t.experiment, t.name, t.cursor, t.pending_outcome).where(
            t.pending_outcome.is_not(None)
        )
    ).all()
    for experiment, name, cursor, pending in rows:
        merged = dict(_loaded(cursor) or {})
        merged["stopping"] = _loaded(pending)
        conn.execute(
            sa.update(_trials)
            .where(t.experiment == experiment, t.name == name)
            .values(cursor=merged)
        )
    # In place (SQLite 3.35+): copying the table would cascade-delete its observations.
    op.execute("ALTER TABLE trials DROP COLUMN pending_outcome")
