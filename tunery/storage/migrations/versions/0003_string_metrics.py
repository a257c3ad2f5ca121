"""String-valued metrics: an observation's text and a trial's string objective.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Katib stores every metric value as a string; a value that is not a number (DARTS's
``Best-Genotype=Genotype(...)``) stays a string, and the experiment's best trial is the latest
trial with one.  tunery keeps numbers in ``observations.value`` as before and such a value
verbatim in the new ``observations.text`` (``value`` NULL); a trial's objective, when it is a
string, goes to ``trials.objective_text`` (``objective`` NULL).  Both columns are nullable and
added in place: every existing row stays as it was, its new columns NULL.  Written by hand
(never imports the schema).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER TABLE on both backends (SQLite adds a column in place: no table copy).
    op.add_column("observations", sa.Column("text", sa.Text(), nullable=True))
    op.add_column("trials", sa.Column("objective_text", sa.Text(), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+): copying the table would cascade-delete its observations.
    op.execute("ALTER TABLE trials DROP COLUMN objective_text")
    op.execute("ALTER TABLE observations DROP COLUMN text")
