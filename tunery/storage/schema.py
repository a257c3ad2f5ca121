"""The database schema as SQLAlchemy Core tables.

This module is the picture of the schema at the head migration; the schema itself changes only
through the Alembic migrations in ``tunery/storage/migrations/versions``.  A test migrates a fresh
database and compares it with this metadata, so the two cannot drift apart.

Every name is explicit (tables, indexes, constraints) so that migrations can refer to them.
Times are floats (seconds since the epoch).  JSON columns use ``sa.JSON``, which maps to
``TEXT`` holding JSON on SQLite and ``json`` on PostgreSQL; Python ``None`` is stored as SQL
``NULL``.
"""

from __future__ import annotations

import sqlalchemy as sa

#: The Alembic revision this code's schema corresponds to (checked against the migrations by a
#: test); a database at this revision needs no migration.
HEAD_REVISION = "0003"

metadata = sa.MetaData()

#: A JSON column type whose Python ``None`` is SQL ``NULL`` (not the JSON ``null``).
JSON = sa.JSON(none_as_null=True)

#: Autoincrementing primary keys: BIGINT on PostgreSQL, INTEGER (the rowid) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

experiments = sa.Table(
    "experiments",
    metadata,
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

trials = sa.Table(
    "trials",
    metadata,
    sa.Column(
        "experiment",
        sa.String(),
        sa.ForeignKey("experiments.name", ondelete="CASCADE", name="fk_trials_experiment"),
        primary_key=True,
    ),
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
    #: The collector's position: ``source``, the collector's own ``collector`` cursor, ``counts``.
    sa.Column("cursor", JSON, nullable=True),
    #: The outcome a controller stopping the trial will give it (revision 0002).
    sa.Column("pending_outcome", JSON, nullable=True),
    #: The objective's value when it is a string, not a number (revision 0003).
    sa.Column("objective_text", sa.Text(), nullable=True),
    sa.UniqueConstraint("experiment", "trial_index", name="uq_trials_experiment_index"),
    sa.Index("ix_trials_experiment_status", "experiment", "status"),
)

observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("experiment", sa.String(), nullable=False),
    sa.Column("trial_name", sa.String(), nullable=False),
    sa.Column("metric_name", sa.String(), nullable=False),
    #: NULL: the metric was reported but is not a finite number ("unavailable"); never NaN.
    sa.Column("value", sa.Float(), nullable=True),
    sa.Column("step", sa.Integer(), nullable=False),
    sa.Column("timestamp", sa.Float(), nullable=True),
    #: A string-valued report verbatim (``value`` NULL), e.g. a genotype (revision 0003).
    sa.Column("text", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(
        ["experiment", "trial_name"],
        ["trials.experiment", "trials.name"],
        ondelete="CASCADE",
        name="fk_observations_trial",
    ),
    sa.Index("ix_observations_trial_metric", "experiment", "trial_name", "metric_name"),
)

algorithm_states = sa.Table(
    "algorithm_states",
    metadata,
    sa.Column(
        "experiment",
        sa.String(),
        sa.ForeignKey(
            "experiments.name", ondelete="CASCADE", name="fk_algorithm_states_experiment"
        ),
        primary_key=True,
    ),
    sa.Column("state", JSON, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column(
        "experiment",
        sa.String(),
        sa.ForeignKey("experiments.name", ondelete="CASCADE", name="fk_leases_experiment"),
        primary_key=True,
    ),
    sa.Column("owner", sa.String(), nullable=False),
    sa.Column("expires_at", sa.Float(), nullable=False),
)

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "experiment",
        sa.String(),
        sa.ForeignKey("experiments.name", ondelete="CASCADE", name="fk_intents_experiment"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("target", sa.String(), nullable=True),
    sa.Column("created_time", sa.Float(), nullable=False),
    sa.Column("completed_time", sa.Float(), nullable=True),
    sa.Index("ix_intents_experiment_completed", "experiment", "completed_time"),
)

#: Tables children first, the order in which rows can be deleted.
TABLES_CHILDREN_FIRST = (intents, leases, algorithm_states, observations, trials, experiments)
