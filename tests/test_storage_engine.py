"""The engine under the SQL store (tunery.storage.engine): URLs, connections, SQLite pragmas,
errors, opening a new database from several processes, fork safety."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from tests.test_storage_store import _context, make_experiment
from tunery.errors import StorageError
from tunery.storage import Store, default_url, schema


@pytest.fixture
def sqlite_path(tmp_path: Path) -> str:
    path = str(tmp_path / "shared.db")
    Store(path).close()
    return path


def _open_fresh(path: str, results: Any) -> None:
    try:
        with Store(path) as store:
            results.put(store.current_revision())
    except Exception as exc:
        results.put(f"error: {exc!r}")


def test_processes_opening_a_new_database_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    ctx = _context()
    results = ctx.Queue()
    procs = [ctx.Process(target=_open_fresh, args=(path, results)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert outcomes == [schema.HEAD_REVISION] * 4


# ---------------------------------------------------------------------------- URLs


def test_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TUNERY_DB", raising=False)
    assert default_url() == "sqlite:///tunery.db"
    with Store() as store:
        assert store.url == "sqlite:///tunery.db"
    assert (tmp_path / "tunery.db").exists()
    with Store("runs.db") as store:
        assert store.url == "sqlite:///runs.db"
        assert store.backend == "sqlite"
    assert (tmp_path / "runs.db").exists()
    monkeypatch.setenv("TUNERY_DB", str(tmp_path / "env.db"))
    assert default_url() == str(tmp_path / "env.db")
    with Store() as store:
        assert store.url == f"sqlite:///{tmp_path}/env.db"
    with Store("sqlite://") as store:  # in memory
        store.create_experiment(make_experiment())
        assert store.get_experiment("exp").name == "exp"


def test_journal_mode_is_wal(tmp_path: Path) -> None:
    with Store(str(tmp_path / "w.db")) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@host/db",
        "sqlite:///{tmp}/missing/dir/x.db",
        "no-such-driver+x://a/b",
        "postgresql://u:secret@127.0.0.1:1/db",
    ],
)
def test_bad_or_unreachable_urls_raise_storage_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        Store(url.format(tmp=tmp_path))
    text = info.value.one_line()
    assert "\n" not in text
    assert info.value.hint
    assert "secret" not in text


def test_password_is_masked() -> None:
    from tunery.storage.store import normalize_url

    url = normalize_url("postgresql://me:secret@db.example/tunery")
    assert url.drivername == "postgresql+psycopg"
    assert "secret" not in url.render_as_string(hide_password=True)


def test_upgrade_false_on_an_empty_database_says_to_upgrade(tmp_path: Path) -> None:
    with Store(str(tmp_path / "empty.db"), upgrade=False) as store:
        with pytest.raises(StorageError) as info:
            store.list_experiments()
        assert "tunery db upgrade" in (info.value.hint or "")


def _use_inherited_store(store: Store, results: Any) -> None:
    try:
        store.add_intent("exp", "stop-experiment", None, 2.0)
        results.put(len(store.pending_intents("exp")))
    except Exception as exc:
        results.put(repr(exc))


def test_a_forked_child_can_use_its_parents_store(sqlite_path: str) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    with Store(sqlite_path) as store:
        store.create_experiment(make_experiment())
        store.add_intent("exp", "kill-trial", "exp-0001", 1.0)  # a pooled connection exists
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        child = ctx.Process(target=_use_inherited_store, args=(store, results))
        child.start()
        assert results.get(timeout=30) == 2
        child.join(timeout=30)
        assert len(store.pending_intents("exp")) == 2


# ---------------------------------------------------------------------------- bulk reads
