"""Alembic environment for tunery's schema.

``tunery.storage.engine.Database`` runs the migrations programmatically and hands its open
connection over in ``config.attributes["connection"]`` (inside a transaction that also holds a
lock, so that two processes upgrading at once serialize).  Run by hand with the ``alembic`` CLI,
the URL comes from ``sqlalchemy.url`` of the config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from tunery.storage.schema import metadata

config = context.config
target_metadata = metadata


def _configure_and_run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _configure_and_run(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
