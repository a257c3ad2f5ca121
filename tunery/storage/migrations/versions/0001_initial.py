"""The initial schema: experiments, trials, observations, algorithm state, leases, intents.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

Written by hand (a migration is a frozen snapshot: it never imports ``tunery.storage.schema``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("namespace", sa.String(), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_time", sa.Float(), nullable=True),
        sa.Column("start_time", sa.Float(), nullable=True),
        sa.Column("completion_time", sa.Float(), nullable=True),
        sa.Column("base_dir", sa.Text(), nullable=True),
        sa.Column("runs_dir", sa.Text(), nullable=True),
    )
    op.create_table(
        "trials",
        sa.Column("experiment", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("trial_index", sa.Integer(), nullable=False),
        sa.Column("parameters", JSON, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("created_time", sa.Float(), nullable=True),
        sa.Column("start_time", sa.Float(), nullable=True),
        sa.Column("completion_time", sa.Float(), nullable=True),
        sa.Column("handle", JSON, nullable=True),
        sa.Column("cursor", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment"],
            ["experiments.name"],
            ondelete="CASCADE",
            name="fk_trials_experiment",
        ),
        sa.UniqueConstraint("experiment", "trial_index", name="uq_trials_experiment_index"),
    )
    op.create_index("ix_trials_experiment_status", "trials", ["experiment", "status"])
    op.create_table(
        "observations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("experiment", sa.String(), nullable=False),
        sa.Column("trial_name", sa.String(), nullable=False),
        sa.Column("metric_name", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment", "trial_name"],
            ["trials.experiment", "trials.name"],
            ondelete="CASCADE",
            name="fk_observations_trial",
        ),
    )
    op.create_index(
        "ix_observations_trial_metric",
        "observations",
        ["experiment", "trial_name", "metric_name"],
    )
    op.create_table(
        "algorithm_states",
        sa.Column("experiment", sa.String(), primary_key=True),
        sa.Column("state", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment"],
            ["experiments.name"],
            ondelete="CASCADE",
            name="fk_algorithm_states_experiment",
        ),
    )
    op.create_table(
        "leases",
        sa.Column("experiment", sa.String(), primary_key=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment"],
            ["experiments.name"],
            ondelete="CASCADE",
            name="fk_leases_experiment",
        ),
    )
    op.create_table(
        "intents",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("experiment", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("created_time", sa.Float(), nullable=False),
        sa.Column("completed_time", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment"],
            ["experiments.name"],
            ondelete="CASCADE",
            name="fk_intents_experiment",
        ),
    )
    op.create_index("ix_intents_experiment_completed", "intents", ["experiment", "completed_time"])


def downgrade() -> None:
    op.drop_index("ix_intents_experiment_completed", table_name="intents")
    op.drop_table("intents")
    op.drop_table("leases")
    op.drop_table("algorithm_states")
    op.drop_index("ix_observations_trial_metric", table_name="observations")
    op.drop_table("observations")
    op.drop_index("ix_trials_experiment_status", table_name="trials")
    op.drop_table("trials")
    op.drop_table("experiments")
