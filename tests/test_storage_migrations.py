"""Alembic migrations: a fresh database migrates to exactly ``schema.py``, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.test_storage_codec import minimal_spec
from tunery.errors import StorageError
from tunery.model import Experiment
from tunery.storage import Store, schema
from tunery.storage.engine import MIGRATIONS_DIR


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        yield request.getfixturevalue("pg_fresh_url")


def _script(store: Store) -> ScriptDirectory:
    return ScriptDirectory.from_config(store._alembic_config())


def _diff(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))


def test_fresh_database_upgrades_to_the_schema(fresh_url: str) -> None:
    with Store(fresh_url, upgrade=False) as store:
        assert store.current_revision() is None
        assert store.upgrade() == schema.HEAD_REVISION
        assert store.current_revision() == schema.HEAD_REVISION
        tables = set(sa.inspect(store.engine).get_table_names())
        assert {t.name for t in schema.metadata.sorted_tables} <= tables
        assert _diff(store) == []


def test_second_upgrade_is_a_no_op_and_keeps_data(fresh_url: str) -> None:
    with Store(fresh_url) as store:
        store.create_experiment(Experiment(name="keep", spec=minimal_spec("keep")))
        assert store.upgrade() == schema.HEAD_REVISION
    with Store(fresh_url) as store:
        assert store.current_revision() == schema.HEAD_REVISION
        assert [e.name for e in store.list_experiments()] == ["keep"]


def test_downgrade_to_base_and_back(fresh_url: str) -> None:
    with Store(fresh_url) as store:
        config = store._alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert store.current_revision() is None
        assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
        assert store.upgrade() == schema.HEAD_REVISION
        assert _diff(store) == []


def test_database_newer_than_the_code_is_refused(fresh_url: str) -> None:
    with Store(fresh_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StorageError) as info:
        Store(fresh_url)
    assert "9999_future" in info.value.message
    assert "newer" in info.value.message
    assert info.value.hint
    with Store(fresh_url, upgrade=False) as store:
        assert store.current_revision() == "9999_future"
        with pytest.raises(StorageError):
            store.upgrade()


def test_head_constant_matches_the_migrations(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'x.db'}", upgrade=False) as store:
        script = _script(store)
    assert script.get_heads() == [schema.HEAD_REVISION]
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None  # one linear history from the first version


def test_migrations_ship_with_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_the_comparison_would_see_a_drift(tmp_path: Path) -> None:
    """Guards the tests above: a schema.py change without a migration shows up as a diff."""
    drifted = sa.MetaData()
    for table in schema.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["trials"].append_column(sa.Column("extra", sa.Integer(), nullable=True))
    sa.Index("ix_extra", drifted.tables["observations"].c.step)
    with Store(f"sqlite:///{tmp_path / 'd.db'}") as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        kinds = {diff[0] for diff in compare_metadata(context, drifted)}
    assert kinds == {"add_column", "add_index"}
