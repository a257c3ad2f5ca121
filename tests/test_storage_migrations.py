"""Alembic migrations: a fresh database migrates to exactly ``schema.py``, idempotently."""

from __future__ import annotations

import json
import subprocess
import sys
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
from tunery.errors import StorageError, UserInputError
from tunery.model import Experiment, ExperimentCondition, TrialCondition
from tunery.storage import Store, schema
from tunery.storage.codec import spec_from_json, spec_to_json
from tunery.storage.engine import MIGRATIONS_DIR
from tunery.thinning import THINNED_LABEL


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


def _sqlite_structure(url: str) -> dict[str, Any]:
    """Every table's columns, indexes and foreign keys as SQLite reports them."""
    engine = sa.create_engine(url)
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        for table in tables:
            pragma = conn.exec_driver_sql
            indexes = []
            for row in pragma(f"PRAGMA index_list('{table}')").all():
                columns = [c[2] for c in pragma(f"PRAGMA index_info('{row[1]}')").all()]
                indexes.append((row[1], row[2], row[3], columns))  # name, unique, origin
            out[table] = {
                "columns": pragma(f"PRAGMA table_info('{table}')").all(),
                "indexes": sorted(indexes),
                "foreign_keys": sorted(pragma(f"PRAGMA foreign_key_list('{table}')").all()),
            }
        out["revision"] = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    return out


def test_a_new_sqlite_file_gets_the_migrated_schema_without_alembic(tmp_path: Path) -> None:
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    code = (
        "import sys\n"
        "from tunery.storage import Store\n"
        "Store(sys.argv[1]).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, direct], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"  # built from schema.py, Alembic never imported
    with Store(migrated, upgrade=False) as store:
        config = store._alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")  # every migration script, as before
    assert _sqlite_structure(direct) == _sqlite_structure(migrated)
    with Store(direct) as store:
        assert store.current_revision() == schema.HEAD_REVISION
        assert _diff(store) == []
        # Alembic migrates it like a database it built: down to base and back up.
        config = store._alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert store.upgrade() == schema.HEAD_REVISION
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


# ---------------------------------------------------------------------- from revision 0001

#: A database written by the release at schema 0001 (tools/schema_0001_fixture.py made it).
SCHEMA_0001 = Path(__file__).parent / "data" / "schema_0001.sql"


def _load_0001(url: str, base: Path) -> dict[str, list[dict[str, Any]]]:
    """Create schema 0001 in the empty database at ``url``, load the fixture's rows into it,
    and return every table's rows as stored (JSON parsed), read before any upgrade."""
    text = SCHEMA_0001.read_text(encoding="utf-8")
    text = text.replace("@BASE@", str(base)).replace("@PYTHON@", sys.executable)
    with Store(url, upgrade=False) as store:
        config = store._alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            for line in text.splitlines():
                if line.startswith("INSERT INTO "):
                    conn.exec_driver_sql(line)
        assert store.current_revision() == "0001"
        meta = sa.MetaData()
        meta.reflect(store.engine)
        raw: dict[str, list[dict[str, Any]]] = {}
        with store.engine.connect() as conn:
            for name in ("experiments", "trials", "observations", "algorithm_states", "leases"):
                table = meta.tables[name]
                key = table.c.id if "id" in table.c else next(iter(table.primary_key.columns))
                rows = conn.execute(sa.select(table).order_by(key)).mappings().all()
                raw[name] = [
                    {k: _parsed(v) if k in JSON_COLUMNS else v for k, v in row.items()}
                    for row in rows
                ]  # fmt: skip
            intents = meta.tables["intents"]
            raw["intents"] = [
                dict(r) for r in conn.execute(sa.select(intents).order_by(intents.c.id)).mappings()
            ]
    return raw


def _parsed(value: Any) -> Any:
    # Reflected JSON columns come back parsed on one backend and as text on another.
    return json.loads(value) if isinstance(value, str) else value


JSON_COLUMNS = {"spec", "document", "parameters", "labels", "metrics", "handle", "cursor", "state"}


def test_a_0001_database_upgrades_in_place_and_reads_back(fresh_url: str, tmp_path: Path) -> None:
    raw = _load_0001(fresh_url, tmp_path)
    with Store(fresh_url) as store:  # upgrades in place
        assert store.current_revision() == schema.HEAD_REVISION
        assert _diff(store) == []  # the same schema as a fresh database's
        experiments = {e.name: e for e in store.list_experiments()}
        assert list(experiments) == ["katib", "resumable"]
        for row in raw["experiments"]:
            got = experiments[row["name"]]
            # Nothing stored is lost; fields added since 0001 read back as their defaults.
            again = spec_to_json(got.spec)
            assert _kept(row["spec"], again), (row["spec"], again)
            assert spec_from_json(again) == got.spec == spec_from_json(row["spec"])
            assert got.document == row["document"]
            assert (got.status.value, got.reason, got.message) == (
                row["status"], row["reason"], row["message"],
            )  # fmt: skip
            assert (got.created_time, got.start_time, got.completion_time) == (
                row["created_time"], row["start_time"], row["completion_time"],
            )  # fmt: skip
            assert (got.base_dir, got.runs_dir) == (row["base_dir"], row["runs_dir"])
        assert experiments["katib"].document["apiVersion"] == "kubeflow.org/v1beta1"
        trials = {t.name: t for e in experiments for t in store.list_trials(e)}
        assert len(trials) == len(raw["trials"])
        assert {t.status for t in trials.values()} == set(TrialCondition)
        for row in raw["trials"]:
            got = trials[row["name"]]
            cursor = dict(row["cursor"]) if row["cursor"] is not None else None
            pending = cursor.pop("stopping", None) if cursor is not None else None
            assert (got.experiment, got.index, got.status.value) == (
                row["experiment"], row["trial_index"], row["status"],
            )  # fmt: skip
            assert (got.reason, got.message, got.objective) == (
                row["reason"], row["message"], row["objective"],
            )  # fmt: skip
            assert (dict(got.parameters), dict(got.labels)) == (row["parameters"], row["labels"])
            assert {k: v.to_json() for k, v in got.metrics.items()} == row["metrics"]
            assert (got.created_time, got.start_time, got.completion_time) == (
                row["created_time"], row["start_time"], row["completion_time"],
            )  # fmt: skip
            assert (got.handle, got.cursor, got.pending_outcome) == (row["handle"], cursor, pending)
        # The "stopping" records moved out of the cursors.
        assert trials["katib-0002"].pending_outcome == {
            "status": "EarlyStopped", "reason": "TrialEarlyStopped", "message": "median",
        }  # fmt: skip
        assert trials["katib-0002"].cursor == {
            "source": f"{tmp_path}/t2/output.log",
            "collector": {"offset": 20},
            "counts": {"loss": 2, "acc": 1},
        }
        assert trials["resumable-0002"].pending_outcome == {
            "status": "Killed", "reason": "TrialKilled", "message": "by you",
        }  # fmt: skip
        assert sum(t.pending_outcome is not None for t in trials.values()) == 2
        assert trials["katib-0003"].labels[THINNED_LABEL] == "loss"
        observations = [
            (o.trial_name, o.metric_name, o.value, o.step, o.timestamp)
            for e in experiments
            for o in store.get_observations(e)
        ]
        by_trial = {t.name: t.index for t in trials.values()}
        expected = sorted(
            [
                (r["trial_name"], r["metric_name"], r["value"], r["step"], r["timestamp"])
                for r in raw["observations"]
            ],
            # by experiment, then trial index (the ids are in insertion order: a stable sort).
            key=lambda o: (trials[o[0]].experiment, by_trial[o[0]]),
        )
        assert observations == expected
        assert [o.step for o in store.get_observations("katib", "katib-0003")] == [
            0, 1, 2, 3, 4, 8, 12, 16,
        ]  # fmt: skip
        for row in raw["algorithm_states"]:
            assert store.load_algorithm_state(row["experiment"]) == row["state"]
        for row in raw["leases"]:
            assert store.lease_owner(row["experiment"]) == (row["owner"], row["expires_at"])
        pending = [
            (i.experiment, i.kind, i.target, i.created_time)
            for e in experiments
            for i in store.pending_intents(e)
        ]
        assert pending == [
            (r["experiment"], r["kind"], r["target"], r["created_time"])
            for r in raw["intents"]
            if r["completed_time"] is None
        ]
        # New rows get new ids after the loaded ones.
        assert store.add_intent("katib", "StopExperiment", None, 2000.0) > max(
            r["id"] for r in raw["intents"]
        )


def test_a_controller_resumes_a_0001_database(fresh_url: str, tmp_path: Path) -> None:
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor

    _load_0001(fresh_url, tmp_path)
    with Store(fresh_url) as store:
        controller = Controller(store, "resumable", LocalExecutor(), poll_interval=0.02)
        controller.run()
        exp = store.get_experiment("resumable")
        assert exp.status is ExperimentCondition.SUCCEEDED, (exp.reason, exp.message)
        trials = store.list_trials("resumable")
        assert [t.status for t in trials] == [
            TrialCondition.SUCCEEDED,
            TrialCondition.KILLED,  # the outcome the dead controller was giving it
            TrialCondition.SUCCEEDED,
        ]
        assert (trials[1].reason, trials[1].message) == ("TrialKilled", "by you")
        assert trials[2].objective is not None
        assert store.lease_owner("resumable") is None


def test_a_0001_database_reaches_its_experiments_by_name_in_namespaces(
    fresh_url: str, tmp_path: Path
) -> None:
    """Stored before namespaces were looked up, ``katib`` (namespace kubeflow) keeps its key;
    a new ``katib`` elsewhere gets a qualified one and the name needs a namespace."""
    from tunery.client import Client

    _load_0001(fresh_url, tmp_path)
    with Store(fresh_url) as store:
        client = Client(store=store)
        old = client.get_experiment("katib")
        assert (old.key, old.name, old.namespace) == ("katib", "katib", "kubeflow")
        assert client.get_experiment("katib", "kubeflow") == old
        assert [e.key for e in client.list_experiments("default")] == ["resumable"]
        trials = [t.name for t in client.list_trials("katib")]
        assert trials
        doc = old.document | {"metadata": {"name": "katib"}}  # in namespace default
        new = client.create_experiment(doc)
        assert (new.key, new.namespace) == ("default.katib", "default")
        with pytest.raises(UserInputError, match="default, kubeflow"):
            client.get_experiment("katib")
        assert [t.name for t in client.list_trials("katib", "kubeflow")] == trials
        assert client.list_trials("katib", "default") == []


def test_the_0001_migration_leaves_a_cursor_without_stopping_alone(tmp_path: Path) -> None:
    """Downgrading puts the pending outcomes back into the cursors, upgrading takes them out."""
    url = f"sqlite:///{tmp_path / 'round.db'}"
    _load_0001(url, tmp_path)
    with Store(url) as store:
        before = {t.name: t for t in store.list_trials("katib")}
        config = store._alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
            cursor = conn.execute(
                sa.text("SELECT cursor FROM trials WHERE name = 'katib-0002'")
            ).scalar_one()
            assert _parsed(cursor)["stopping"]["reason"] == "TrialEarlyStopped"
            # Observations survive the column's removal (no table copy, no cascade).
            assert conn.execute(sa.text("SELECT count(*) FROM observations")).scalar_one() == 12
        assert store.upgrade() == schema.HEAD_REVISION
        assert {t.name: t for t in store.list_trials("katib")} == before


def _kept(old: object, new: object) -> bool:
    """Whether every key and value of ``old`` is in ``new`` (which may hold more keys)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _kept(v, new[k]) for k, v in old.items())
    if isinstance(old, list):
        return (
            isinstance(new, list)
            and len(old) == len(new)
            and all(_kept(a, b) for a, b in zip(old, new, strict=True))
        )
    return old == new


def _rows(store: Store, table: str, key: str) -> list[dict[str, Any]]:
    meta = sa.MetaData()
    meta.reflect(store.engine, only=[table])
    t = meta.tables[table]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(*[t.c[k] for k in key.split(",")])).mappings()
        return [{k: _parsed(v) if k in JSON_COLUMNS else v for k, v in r.items()} for r in rows]


def test_the_0003_migration_keeps_every_row_and_adds_string_values(
    fresh_url: str, tmp_path: Path
) -> None:
    """0002 -> 0003 adds ``observations.text`` and ``trials.objective_text`` in place: every
    row stays as it was (the new columns NULL); string values then round-trip; a downgrade
    drops them and keeps the rows."""
    from tunery.model import MetricSummary, Observation, Trial

    _load_0001(fresh_url, tmp_path)
    with Store(fresh_url, upgrade=False) as store:
        config = store._alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
        trials_0002 = _rows(store, "trials", "experiment,name")
        observations_0002 = _rows(store, "observations", "id")
        assert len(trials_0002) > 0 and len(observations_0002) == 12
        assert store.upgrade() == schema.HEAD_REVISION == "0003"
        trials_now = _rows(store, "trials", "experiment,name")
        observations_now = _rows(store, "observations", "id")
        assert [{**r, "objective_text": None} for r in trials_0002] == trials_now
        assert [{**r, "text": None} for r in observations_0002] == observations_now
        genotype = "Genotype(normal=[[('sep_conv_3x3', 0)]], normal_concat=range(2, 3))"
        summary = MetricSummary().add(None, genotype)
        store.create_trial(
            Trial(
                name="katib-0100",
                experiment="katib",
                index=100,
                parameters={},
                metrics={"Best-Genotype": summary},
                objective_text=genotype,
            )
        )
        store.add_observations(
            "katib",
            "katib-0100",
            [Observation("katib-0100", "Best-Genotype", None, 0, 1.0, genotype)],
            metrics={"Best-Genotype": summary},
            cursor=None,
        )
        got = store.get_trial("katib", "katib-0100")
        assert got.objective_text == genotype and got.objective is None
        assert got.metrics["Best-Genotype"] == MetricSummary(None, None, None, genotype)
        assert [o.text for o in store.get_observations("katib", "katib-0100")] == [genotype]
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        assert len(_rows(store, "observations", "id")) == 13
        assert "text" not in _rows(store, "observations", "id")[0]
        assert store.upgrade() == schema.HEAD_REVISION
        assert store.get_trial("katib", "katib-0100").objective_text is None
