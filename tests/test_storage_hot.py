"""The controller's driver-SQL writes on SQLite store exactly what the Core statements store."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.test_storage_store import full_trial, make_experiment, make_trial
from tunery.errors import LeaseLostError
from tunery.model import MetricSummary, Observation, TrialCondition
from tunery.storage import Store, TrialChange, hot, schema

C = TrialCondition


def _rows(store: Store, table: sa.Table) -> list[tuple[Any, ...]]:
    """Every row as SQLite holds it (JSON columns as their text), in insertion order."""
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY 1")]


def _pair(tmp_path: Path) -> tuple[Store, Store]:
    stores = Store(str(tmp_path / "hot.db")), Store(str(tmp_path / "core.db"))
    for store in stores:
        store.create_experiment(make_experiment())
    return stores


def _core_insert(store: Store, row: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.insert(schema.trials), row)


def test_a_created_trial_is_stored_byte_for_byte_as_core_stores_it(tmp_path: Path) -> None:
    hot_store, core_store = _pair(tmp_path)
    trial = full_trial()
    hot_store.create_trial(trial)  # SqlStore on SQLite: storage.hot
    row = {c.name: None for c in schema.trials.columns}
    with hot_store.engine.connect() as conn:
        stored = conn.execute(sa.select(schema.trials)).mappings().one()
    row.update(stored)  # JSON columns decoded by the Core type, written back through it
    _core_insert(core_store, row)
    assert _rows(hot_store, schema.trials) == _rows(core_store, schema.trials)
    assert hot_store.get_trial("exp", trial.name) == trial


def test_updates_and_observations_match_core_and_none_is_null(tmp_path: Path) -> None:
    hot_store, core_store = _pair(tmp_path)
    trial = make_trial(0, handle=None, cursor=None)
    hot_store.create_trial(trial)
    change = TrialChange(
        status=C.SUCCEEDED,
        reason="Succeeded",
        message="Trial has succeeded: ✓",
        metrics={"loss": MetricSummary(min=0.25, max=0.5, latest=0.25)},
        objective=0.25,
        completion_time=123.5,
        handle={"pid": 7, "nested": {"list": [1, "two", None]}},
        cursor=None,
        pending_outcome=None,
    )
    obs = [Observation(trial.name, "loss", v, i, 100.0 + i) for i, v in enumerate((0.5, 0.25))]
    assert hot_store.update_trial("exp", trial.name, change, expect=[C.CREATED], observations=obs)
    with hot_store.engine.connect() as conn:
        row = dict(conn.execute(sa.select(schema.trials)).mappings().one())
        obs_rows = [dict(r) for r in conn.execute(sa.select(schema.observations)).mappings()]
    _core_insert(core_store, row)
    with core_store.engine.begin() as conn:
        conn.execute(sa.insert(schema.observations), obs_rows)
    assert _rows(hot_store, schema.trials) == _rows(core_store, schema.trials)
    assert _rows(hot_store, schema.observations) == _rows(core_store, schema.observations)
    with hot_store.engine.connect() as conn:
        nulls = conn.exec_driver_sql("SELECT cursor IS NULL, pending_outcome IS NULL FROM trials")
        assert tuple(nulls.one()) == (1, 1)  # SQL NULL, not the JSON text 'null'
    assert hot_store.get_trial("exp", trial.name).handle == change.handle


def test_compare_and_set_only_from_the_expected_statuses(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.db"))
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(0))
    running = TrialChange(status=C.RUNNING, reason="Running")
    assert not store.update_trial("exp", "exp-0000", running, expect=[C.RUNNING])
    assert store.get_trial("exp", "exp-0000").status is C.CREATED
    assert store.update_trial("exp", "exp-0000", running, expect=[C.CREATED, C.RUNNING])
    with store.engine.begin() as conn:
        assert hot.update_trial(conn, "exp", "exp-0000", {"reason": "x"}, ["Created"]) == 0
        assert hot.update_trial(conn, "exp", "exp-0000", {"reason": "y"}, ["Running"]) == 1
    assert store.get_trial("exp", "exp-0000").reason == "y"


def test_non_finite_json_is_refused_as_by_core(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.db"))
    store.create_experiment(make_experiment())
    with pytest.raises(ValueError):
        store.create_trial(make_trial(0, handle={"x": math.nan}))
    assert store.list_trials("exp") == []


def test_a_fenced_write_after_the_lease_moved_writes_nothing(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.db"))
    store.create_experiment(make_experiment())
    store.acquire_lease("exp", "me", 0.0, 60.0)
    store.fence("exp", "me")
    store.create_trial(make_trial(0))
    with store.engine.begin() as conn:
        assert hot.lease_owner(conn, "exp") == "me"
        conn.exec_driver_sql("UPDATE leases SET owner = 'thief' WHERE experiment = 'exp'")
    change = TrialChange(status=C.RUNNING, reason="Running")
    with pytest.raises(LeaseLostError, match="thief"):
        store.update_trial("exp", "exp-0000", change, expect=[C.CREATED])
    with pytest.raises(LeaseLostError):
        store.create_trial(make_trial(1))
    assert [t.status for t in store.list_trials("exp")] == [C.CREATED]


def test_a_running_trials_reads_match_core(tmp_path: Path) -> None:
    hot_store, core_store = _pair(tmp_path)
    trial = make_trial(0, status=C.RUNNING)
    hot_store.create_trial(trial)
    obs = [Observation(trial.name, "acc", 0.5, 3, None)]
    hot_store.add_observations(
        "exp",
        trial.name,
        obs,
        metrics={"acc": MetricSummary(min=0.5, max=0.5, latest=0.5)},
        cursor={"source": "/r/out.log", "collector": {"offset": 12}},
        labels={"tunery.dev/observations-thinned": "acc"},
    )
    with hot_store.engine.connect() as conn:
        row = dict(conn.execute(sa.select(schema.trials)).mappings().one())
        obs_rows = [dict(r) for r in conn.execute(sa.select(schema.observations)).mappings()]
    assert row["cursor"] == {"source": "/r/out.log", "collector": {"offset": 12}}
    _core_insert(core_store, row)
    with core_store.engine.begin() as conn:
        conn.execute(sa.insert(schema.observations), obs_rows)
    assert _rows(hot_store, schema.trials) == _rows(core_store, schema.trials)
    assert _rows(hot_store, schema.observations) == _rows(core_store, schema.observations)
    assert hot_store.get_observations("exp", trial.name) == obs


def test_string_metrics_and_a_string_objective_go_through_the_driver_path(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "t.db"))
    store.create_experiment(make_experiment())
    trial = make_trial(0)
    store.create_trial(trial)
    genotype = "Genotype(normal=[[('max_pooling_3x3',0)]],normal_concat=range(2,3))"
    change = TrialChange(
        status=C.SUCCEEDED,
        reason="Succeeded",
        metrics={"Best-Genotype": MetricSummary(min=None, max=None, latest=None, text=genotype)},
        objective=None,
        objective_text=genotype,
    )
    obs = [Observation(trial.name, "Best-Genotype", None, 0, 1.0, text=genotype)]
    assert store.update_trial("exp", trial.name, change, expect=[C.CREATED], observations=obs)
    with store.engine.connect() as conn:
        texts = conn.exec_driver_sql("SELECT text FROM observations").all()
        objective = conn.exec_driver_sql("SELECT objective_text FROM trials").one()
    assert [tuple(t) for t in texts] == [(genotype,)]
    assert tuple(objective) == (genotype,)
    assert store.get_trial("exp", trial.name).objective_text == genotype
    assert [o.text for o in store.get_observations("exp", trial.name)] == [genotype]
