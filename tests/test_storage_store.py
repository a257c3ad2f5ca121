"""The Store contract, run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.test_storage_codec import full_spec, minimal_spec
from tunery.errors import AlreadyExistsError, LeaseHeldError, NotFoundError, StorageError
from tunery.model import (
    Experiment,
    ExperimentCondition,
    MetricSummary,
    Observation,
    Trial,
    TrialCondition,
)
from tunery.storage import Intent, Store, default_url, schema
from tunery.storage.store import _make_trial

C = TrialCondition


def _clear(store: Store) -> None:
    with store.engine.begin() as conn:
        names = ", ".join(t.name for t in schema.TABLES_CHILDREN_FIRST)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(str(tmp_path / "tunery.db"))
    else:
        s = Store(request.getfixturevalue("pg_url"))
        _clear(s)
    yield s
    s.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> str:
    path = str(tmp_path / "shared.db")
    Store(path).close()
    return path


def make_experiment(name: str = "exp", created: float | None = 100.0, **kw: Any) -> Experiment:
    return Experiment(
        name=name,
        spec=kw.pop("spec", None) or minimal_spec(name),
        created_time=created,
        document=kw.pop("document", {"metadata": {"name": name}}),
        **kw,
    )


def make_trial(index: int, experiment: str = "exp", **kw: Any) -> Trial:
    return Trial(
        name=kw.pop("name", f"{experiment}-{index:04d}"),
        experiment=experiment,
        index=index,
        parameters=kw.pop("parameters", {"x": 0.5 + index}),
        **kw,
    )


# ---------------------------------------------------------------------------- experiments


def test_experiment_round_trip_with_every_field(store: Store) -> None:
    exp = Experiment(
        name="full",
        spec=full_spec("full"),
        status=ExperimentCondition.RUNNING,
        reason="ExperimentRunning",
        message="Experiment is running",
        created_time=1_700_000_000.123456,
        start_time=1_700_000_001.5,
        completion_time=None,
        document={
            "apiVersion": "kubeflow.org/v1beta1",
            "kind": "Experiment",
            "spec": {"maxTrialCount": 40, "goal": 0.99, "list": [1, "two", None, True]},
            "unicode": "ünïcode ✓",
        },
        base_dir="/home/me/project",
        runs_dir="/home/me/project/tunery-runs",
    )
    returned = store.create_experiment(exp)
    assert returned == exp
    assert store.get_experiment("full") == exp
    assert store.find_experiment("full") == exp
    assert store.find_experiment("nope") is None


def test_create_twice_raises_already_exists_with_hint(store: Store) -> None:
    store.create_experiment(make_experiment("dup"))
    with pytest.raises(AlreadyExistsError) as info:
        store.create_experiment(make_experiment("dup"))
    assert "tunery resume dup" in (info.value.hint or "")
    assert "tunery delete dup" in (info.value.hint or "")


def test_get_missing_experiment_raises_not_found_with_hint(store: Store) -> None:
    with pytest.raises(NotFoundError) as info:
        store.get_experiment("ghost")
    assert "tunery list" in (info.value.hint or "")


def test_list_experiments_by_creation_time(store: Store) -> None:
    store.create_experiment(make_experiment("b", created=300.0))
    store.create_experiment(make_experiment("a", created=200.0))
    store.create_experiment(make_experiment("c", created=None))
    assert [e.name for e in store.list_experiments()] == ["c", "a", "b"]


def test_update_experiment_spec(store: Store) -> None:
    store.create_experiment(make_experiment("exp"))
    spec = full_spec("exp")
    store.update_experiment_spec("exp", spec, {"new": "document"})
    got = store.get_experiment("exp")
    assert got.spec == spec
    assert got.document == {"new": "document"}
    with pytest.raises(NotFoundError):
        store.update_experiment_spec("ghost", spec, {})


def test_set_experiment_status_times(store: Store) -> None:
    store.create_experiment(make_experiment("exp"))
    store.set_experiment_status("exp", ExperimentCondition.RUNNING, "R", "m1", start_time=10.0)
    got = store.get_experiment("exp")
    assert (got.status, got.reason, got.message, got.start_time) == ("Running", "R", "m1", 10.0)
    store.set_experiment_status(
        "exp", ExperimentCondition.SUCCEEDED, "Done", None, completion_time=20.0
    )
    got = store.get_experiment("exp")
    assert got.status is ExperimentCondition.SUCCEEDED
    assert (got.start_time, got.completion_time, got.message) == (10.0, 20.0, None)
    store.set_experiment_status("exp", ExperimentCondition.RESTARTING, "Again", "x")
    assert store.get_experiment("exp").completion_time == 20.0
    store.set_experiment_status(
        "exp", ExperimentCondition.RESTARTING, "Again", "x", clear_completion=True
    )
    got = store.get_experiment("exp")
    assert (got.start_time, got.completion_time) == (10.0, None)
    with pytest.raises(NotFoundError):
        store.set_experiment_status("ghost", ExperimentCondition.RUNNING, None, None)


# ---------------------------------------------------------------------------- trials


def full_trial(index: int = 1) -> Trial:
    return Trial(
        name=f"exp-{index:04d}",
        experiment="exp",
        index=index,
        parameters={"lr": 0.001, "layers": 3, "optimizer": "adam", "batch": 32, "one": 1.0},
        status=C.RUNNING,
        reason="TrialRunning",
        message="Trial is running",
        labels={"parent": "exp-0000"},
        metrics={"accuracy": MetricSummary(0.5, 0.9, 0.8), "loss": MetricSummary()},
        objective=0.9,
        created_time=1.25,
        start_time=2.5,
        completion_time=None,
        handle={"pid": 1234, "pgid": 1234, "host": "box", "argv": ["python", "t.py"]},
        cursor={"source": "/runs/exp-0001/stdout.log", "collector": {"offset": 77}},
    )


def test_trial_round_trip_with_every_field(store: Store) -> None:
    store.create_experiment(make_experiment())
    trial = full_trial()
    store.create_trial(trial)
    got = store.get_trial("exp", trial.name)
    assert got == trial
    assert type(got.parameters["lr"]) is float
    assert type(got.parameters["one"]) is float
    assert type(got.parameters["layers"]) is int
    assert type(got.parameters["optimizer"]) is str
    assert got.status is C.RUNNING
    assert isinstance(got.metrics["accuracy"], MetricSummary)
    assert store.list_trials("exp") == [trial]


def test_trial_defaults_round_trip(store: Store) -> None:
    store.create_experiment(make_experiment())
    trial = make_trial(1)
    store.create_trial(trial)
    assert store.get_trial("exp", trial.name) == trial


def test_trial_uniqueness_and_missing_experiment(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(1))
    with pytest.raises(AlreadyExistsError):
        store.create_trial(make_trial(2, name="exp-0001"))
    with pytest.raises(AlreadyExistsError):
        store.create_trial(make_trial(1, name="other"))
    with pytest.raises(NotFoundError):
        store.create_trial(make_trial(1, experiment="ghost"))
    with pytest.raises(NotFoundError):
        store.get_trial("exp", "nope")
    assert len(store.list_trials("exp")) == 1


def test_list_trials_by_index_with_status_filter_and_counts(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_experiment(make_experiment("other"))
    statuses = [C.SUCCEEDED, C.RUNNING, C.FAILED, C.SUCCEEDED, C.CREATED]
    for index in (3, 1, 5, 2, 4):
        store.create_trial(make_trial(index, status=statuses[index - 1]))
    store.create_trial(make_trial(1, experiment="other"))
    assert [t.index for t in store.list_trials("exp")] == [1, 2, 3, 4, 5]
    assert [t.index for t in store.list_trials("exp", [C.SUCCEEDED])] == [1, 4]
    assert [t.index for t in store.list_trials("exp", {C.RUNNING, C.CREATED})] == [2, 5]
    assert store.list_trials("exp", []) == []
    assert store.list_trials("ghost") == []
    counts = store.count_trials("exp")
    assert set(counts) == set(TrialCondition)
    assert counts[C.SUCCEEDED] == 2
    assert counts[C.RUNNING] == counts[C.FAILED] == counts[C.CREATED] == 1
    assert counts[C.KILLED] == 0
    assert sum(store.count_trials("ghost").values()) == 0


def test_update_trial_compare_and_set(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(1))
    name = "exp-0001"
    # Wrong expected status: nothing changes.
    assert not store.update_trial("exp", name, expect=[C.RUNNING], status=C.SUCCEEDED, reason="x")
    assert store.get_trial("exp", name) == make_trial(1)
    assert store.update_trial(
        "exp",
        name,
        expect=[C.CREATED],
        status=C.RUNNING,
        reason="TrialRunning",
        message="Trial is running",
        start_time=5.0,
        handle={"pid": 9},
        cursor={"offset": 0},
        labels={"a": "b"},
    )
    got = store.get_trial("exp", name)
    assert (got.status, got.reason, got.start_time, got.handle) == (
        C.RUNNING,
        "TrialRunning",
        5.0,
        {"pid": 9},
    )
    assert (got.cursor, got.labels) == ({"offset": 0}, {"a": "b"})
    # Same status again is allowed; no expectation means any status.
    assert store.update_trial("exp", name, status=C.RUNNING, message="still")
    assert store.update_trial(
        "exp",
        name,
        expect=[C.CREATED, C.RUNNING],
        status=C.SUCCEEDED,
        metrics={"loss": MetricSummary(0.1, 0.4, 0.2)},
        objective=0.1,
        completion_time=9.0,
        handle=None,
    )
    got = store.get_trial("exp", name)
    assert got.status is C.SUCCEEDED
    assert got.metrics == {"loss": MetricSummary(0.1, 0.4, 0.2)}
    assert (got.objective, got.completion_time, got.handle) == (0.1, 9.0, None)
    assert got.start_time == 5.0
    # A finished trial cannot be finished again by a racing writer.
    assert not store.update_trial("exp", name, expect=[C.RUNNING], status=C.KILLED)
    assert store.get_trial("exp", name).status is C.SUCCEEDED
    # No status change: a plain CAS on other fields.
    assert store.update_trial("exp", name, expect=[C.SUCCEEDED], message="note")
    assert not store.update_trial("exp", name, expect=[C.RUNNING], message="other")
    assert store.get_trial("exp", name).message == "note"


def test_update_trial_illegal_transition_unknown_key_missing_trial(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(1, status=C.SUCCEEDED))
    with pytest.raises(ValueError, match="illegal transition"):
        store.update_trial("exp", "exp-0001", status=C.RUNNING)
    with pytest.raises(ValueError, match="illegal transition"):
        store.update_trial("exp", "exp-0001", expect=[C.SUCCEEDED], status=C.FAILED)
    assert store.get_trial("exp", "exp-0001").status is C.SUCCEEDED
    with pytest.raises(TypeError, match="nonsense"):
        store.update_trial("exp", "exp-0001", nonsense=1)
    with pytest.raises(NotFoundError):
        store.update_trial("exp", "ghost", status=C.RUNNING)


def test_non_finite_numbers_are_stored_as_null(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(1, objective=math.nan))
    assert store.get_trial("exp", "exp-0001").objective is None
    store.update_trial(
        "exp", "exp-0001", objective=math.inf, metrics={"m": MetricSummary(latest=math.nan)}
    )
    got = store.get_trial("exp", "exp-0001")
    assert got.objective is None
    assert got.metrics == {"m": MetricSummary()}


# ---------------------------------------------------------------------------- observations


def test_add_observations_moves_rows_metrics_and_cursor_together(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(2))
    store.create_trial(make_trial(1))
    first = [
        Observation("exp-0002", "loss", 0.5, 0, 100.0),
        Observation("exp-0002", "acc", math.nan, 0, None),
        Observation("exp-0002", "loss", 0.25, 1, 101.0),
    ]
    summary = {"loss": MetricSummary(0.25, 0.5, 0.25), "acc": MetricSummary()}
    store.add_observations("exp", "exp-0002", first, metrics=summary, cursor={"offset": 30})
    trial = store.get_trial("exp", "exp-0002")
    assert trial.metrics == summary
    assert trial.cursor == {"offset": 30}
    store.add_observations(
        "exp", "exp-0001", [Observation("exp-0001", "loss", 1.0, 7)], metrics={}, cursor=None
    )
    assert store.get_trial("exp", "exp-0001").cursor is None
    # Ordered by trial index, then insertion.
    assert store.get_observations("exp") == [
        Observation("exp-0001", "loss", 1.0, 7, None),
        Observation("exp-0002", "loss", 0.5, 0, 100.0),
        Observation("exp-0002", "acc", None, 0, None),
        Observation("exp-0002", "loss", 0.25, 1, 101.0),
    ]
    assert [o.value for o in store.get_observations("exp", "exp-0002", "loss")] == [0.5, 0.25]
    assert store.get_observations("exp", metric="acc") == [
        Observation("exp-0002", "acc", None, 0, None)
    ]
    assert store.get_observations("exp", "exp-0003") == []
    # An empty batch still moves the cursor.
    store.add_observations("exp", "exp-0002", [], metrics=summary, cursor={"offset": 31})
    assert store.get_trial("exp", "exp-0002").cursor == {"offset": 31}


def test_add_observations_is_atomic(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_trial(make_trial(1, cursor={"offset": 1}))
    bad = [
        Observation("exp-0001", "loss", 0.5, 0),
        Observation("exp-0001", None, 0.5, 1),  # type: ignore[arg-type]  # NOT NULL violation
    ]
    with pytest.raises(sa.exc.IntegrityError):
        store.add_observations(
            "exp",
            "exp-0001",
            bad,
            metrics={"loss": MetricSummary(0.5, 0.5, 0.5)},
            cursor={"offset": 99},
        )
    trial = store.get_trial("exp", "exp-0001")
    assert trial.cursor == {"offset": 1}
    assert trial.metrics == {}
    assert store.get_observations("exp") == []
    with pytest.raises(NotFoundError):
        store.add_observations("exp", "ghost", [], metrics={}, cursor=None)
    with pytest.raises(ValueError):
        store.add_observations(
            "exp", "exp-0001", [Observation("other", "loss", 1.0, 0)], metrics={}, cursor=None
        )


# ---------------------------------------------------------------------------- state, delete


def test_algorithm_state(store: Store) -> None:
    store.create_experiment(make_experiment())
    assert store.load_algorithm_state("exp") is None
    state = {"rng": [1, 2, 3], "best": 0.5, "nested": {"a": None, "b": "x"}}
    store.save_algorithm_state("exp", state)
    assert store.load_algorithm_state("exp") == state
    store.save_algorithm_state("exp", {"v": 2})
    assert store.load_algorithm_state("exp") == {"v": 2}
    store.save_algorithm_state("exp", None)
    assert store.load_algorithm_state("exp") is None
    with pytest.raises(NotFoundError):
        store.save_algorithm_state("ghost", {"v": 1})


def _row_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in schema.TABLES_CHILDREN_FIRST
        }


def test_delete_cascades_to_everything(store: Store) -> None:
    for name in ("exp", "keep"):
        store.create_experiment(make_experiment(name))
        store.create_trial(make_trial(1, experiment=name))
        store.add_observations(
            name, f"{name}-0001", [Observation(f"{name}-0001", "m", 1.0, 0)], metrics={}, cursor={}
        )
        store.save_algorithm_state(name, {"s": 1})
        store.acquire_lease(name, "me", 0.0, 10.0)
        store.add_intent(name, "stop-experiment", None, 1.0)
    store.delete_experiment("exp")
    assert _row_counts(store) == {
        "intents": 1,
        "leases": 1,
        "algorithm_states": 1,
        "observations": 1,
        "trials": 1,
        "experiments": 1,
    }
    assert store.find_experiment("exp") is None
    with pytest.raises(NotFoundError):
        store.delete_experiment("exp")
    # The name is free again, with nothing left over.
    store.create_experiment(make_experiment("exp"))
    assert store.list_trials("exp") == []
    assert store.get_observations("exp") == []
    assert store.load_algorithm_state("exp") is None
    assert store.lease_owner("exp") is None
    assert store.pending_intents("exp") == []


# ---------------------------------------------------------------------------- lease


def test_lease_acquire_refuse_expire_steal_renew_release(store: Store) -> None:
    store.create_experiment(make_experiment())
    assert store.lease_owner("exp") is None
    store.acquire_lease("exp", "host:1", now=100.0, ttl=30.0)
    assert store.lease_owner("exp") == ("host:1", 130.0)
    store.acquire_lease("exp", "host:1", now=110.0, ttl=30.0)  # ours already: extended
    assert store.lease_owner("exp") == ("host:1", 140.0)
    with pytest.raises(LeaseHeldError) as info:
        store.acquire_lease("exp", "host:2", now=120.0, ttl=30.0)
    assert "host:1" in info.value.message
    assert "20 s" in info.value.message
    assert "tunery stop exp" in (info.value.hint or "")
    # steal() is asked about the current owner; refusing keeps the lease.
    asked: list[str] = []
    with pytest.raises(LeaseHeldError):
        store.acquire_lease("exp", "host:2", 120.0, 30.0, steal=lambda o: asked.append(o) or False)
    assert asked == ["host:1"]
    store.acquire_lease("exp", "host:2", 120.0, 30.0, steal=lambda owner: owner == "host:1")
    assert store.lease_owner("exp") == ("host:2", 150.0)
    assert not store.renew_lease("exp", "host:1", 121.0, 30.0)
    assert store.renew_lease("exp", "host:2", 121.0, 30.0)
    assert store.lease_owner("exp") == ("host:2", 151.0)
    # Expiry: at expires_at the lease is free for the taking.
    store.acquire_lease("exp", "host:3", now=151.0, ttl=30.0)
    assert store.lease_owner("exp") == ("host:3", 181.0)
    assert not store.renew_lease("exp", "host:2", 152.0, 30.0)
    store.release_lease("exp", "host:2")  # not ours: nothing happens
    assert store.lease_owner("exp") == ("host:3", 181.0)
    store.release_lease("exp", "host:3")
    assert store.lease_owner("exp") is None
    assert not store.renew_lease("exp", "host:3", 152.0, 30.0)
    store.acquire_lease("exp", "host:4", 152.0, 30.0)
    assert store.lease_owner("exp") == ("host:4", 182.0)
    with pytest.raises(NotFoundError):
        store.acquire_lease("ghost", "host:1", 0.0, 1.0)


# ---------------------------------------------------------------------------- intents


def test_intents(store: Store) -> None:
    store.create_experiment(make_experiment())
    store.create_experiment(make_experiment("other"))
    assert store.pending_intents("exp") == []
    first = store.add_intent("exp", "kill-trial", "exp-0001", 10.0)
    second = store.add_intent("exp", "stop-experiment", None, 11.0)
    store.add_intent("other", "stop-experiment", None, 12.0)
    assert second > first
    assert store.pending_intents("exp") == [
        Intent(first, "exp", "kill-trial", "exp-0001", 10.0),
        Intent(second, "exp", "stop-experiment", None, 11.0),
    ]
    store.complete_intent(first, 20.0)
    assert [i.id for i in store.pending_intents("exp")] == [second]
    assert len(store.pending_intents("other")) == 1
    with pytest.raises(NotFoundError):
        store.add_intent("ghost", "stop-experiment", None, 1.0)


# ---------------------------------------------------------------------------- scale


def test_list_trials_at_10000_trials(store: Store) -> None:
    """10,000 rows through the fast row decoder (speed is measured in benchmarks/, not here)."""
    store.create_experiment(make_experiment())
    rows = [
        {
            "experiment": "exp",
            "name": f"exp-{i:05d}",
            "trial_index": i,
            "parameters": {"lr": 0.001 * i, "layers": i % 7, "opt": "adam"},
            "status": "Succeeded",
            "reason": "TrialSucceeded",
            "message": "Trial has succeeded",
            "labels": {},
            "metrics": {"loss": {"min": 0.1, "max": 0.9, "latest": 0.2}},
            "objective": 0.1,
            "created_time": 1.0,
            "start_time": 2.0,
            "completion_time": 3.0,
            "handle": {"pid": i, "host": "box"},
            "cursor": {"offset": i},
        }
        for i in range(1, 10_001)
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.insert(schema.trials), rows)
    trials = store.list_trials("exp")
    assert len(trials) == 10_000
    assert trials[0] == Trial(**{f: getattr(trials[0], f) for f in Trial.__dataclass_fields__})
    # The fast constructor is in use (a new Trial field must be added to its list of names).
    assert _make_trial is not Trial
    assert trials[-1].metrics["loss"] == MetricSummary(0.1, 0.9, 0.2)


@pytest.mark.parametrize("expired", [False, True], ids=["free", "expired"])
def test_threads_racing_for_the_lease_exactly_one_wins(store: Store, expired: bool) -> None:
    """Both backends: concurrent first acquires (INSERT) or takeovers (conditional UPDATE)."""
    store.create_experiment(make_experiment())
    if expired:
        store.acquire_lease("exp", "old", now=0.0, ttl=10.0)
    n = 8
    barrier = threading.Barrier(n)
    outcomes: dict[str, str] = {}

    def race(owner: str) -> None:
        barrier.wait()
        try:
            store.acquire_lease("exp", owner, now=100.0, ttl=60.0)
            outcomes[owner] = "won"
        except LeaseHeldError:
            outcomes[owner] = "refused"
        except Exception as exc:
            outcomes[owner] = repr(exc)

    threads = [threading.Thread(target=race, args=(f"t{i}",)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes.values()) == ["refused"] * (n - 1) + ["won"], outcomes
    winner = next(o for o, r in outcomes.items() if r == "won")
    assert store.lease_owner("exp") == (winner, 160.0)


# ---------------------------------------------------------------------------- processes


def _race_for_lease(path: str, owner: str, barrier: Any, results: Any) -> None:
    store = Store(path, upgrade=False)
    barrier.wait()
    try:
        store.acquire_lease("exp", owner, now=100.0, ttl=60.0)
        results.put((owner, "won"))
    except LeaseHeldError:
        results.put((owner, "refused"))
    except Exception as exc:  # reported to the parent as a failure
        results.put((owner, f"error: {exc!r}"))
    finally:
        store.close()


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def test_processes_racing_for_the_lease_exactly_one_wins(sqlite_path: str) -> None:
    with Store(sqlite_path) as store:
        store.create_experiment(make_experiment())
    ctx = _context()
    n = 6
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_race_for_lease, args=(sqlite_path, f"p{i}", barrier, results))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=30) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert sorted(outcomes.values()) == ["refused"] * (n - 1) + ["won"], outcomes
    winner = next(o for o, r in outcomes.items() if r == "won")
    with Store(sqlite_path) as store:
        assert store.lease_owner("exp") == (winner, 160.0)


def _writer(path: str, n: int, done: Any) -> None:
    store = Store(path, upgrade=False)
    for i in range(1, n + 1):
        name = f"exp-{i:04d}"
        store.create_trial(make_trial(i))
        store.update_trial("exp", name, expect=[C.CREATED], status=C.RUNNING, start_time=float(i))
        obs = [Observation(name, "loss", 1.0 / i, s) for s in range(5)]
        store.add_observations(
            "exp", name, obs, metrics={"loss": MetricSummary(latest=1.0 / i)}, cursor={"n": 5}
        )
        store.update_trial("exp", name, expect=[C.RUNNING], status=C.SUCCEEDED, objective=1.0 / i)
    store.close()
    done.set()


def _reader(path: str, stop: Any, results: Any) -> None:
    store = Store(path, upgrade=False)
    reads = 0
    try:
        while not stop.is_set():
            trials = store.list_trials("exp")
            store.get_observations("exp")
            store.count_trials("exp")
            store.pending_intents("exp")
            for t in trials:
                # A reader sees whole transactions: observations come with their cursor.
                assert t.cursor is None or len(store.get_observations("exp", t.name)) == 5
                break
            reads += 1
        results.put(("ok", reads))
    except Exception as exc:
        results.put(("error", repr(exc)))
    finally:
        store.close()


def test_reader_processes_while_a_writer_writes(sqlite_path: str) -> None:
    """SQLite WAL: readers in other processes never hit 'database is locked'."""
    with Store(sqlite_path) as store:
        store.create_experiment(make_experiment())
    ctx = _context()
    stop, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    readers = [ctx.Process(target=_reader, args=(sqlite_path, stop, results)) for _ in range(2)]
    writer = ctx.Process(target=_writer, args=(sqlite_path, 150, done))
    for p in readers:
        p.start()
    writer.start()
    # The parent also writes (intents, as the CLI does) while the controller writes trials.
    with Store(sqlite_path) as cli:
        while not done.is_set() and writer.is_alive():
            cli.add_intent("exp", "kill-trial", "exp-0001", 1.0)
            time.sleep(0.005)
    writer.join(timeout=60)
    stop.set()
    outcomes = [results.get(timeout=30) for _ in readers]
    for p in readers:
        p.join(timeout=30)
    assert writer.exitcode == 0
    assert all(kind == "ok" and reads > 0 for kind, reads in outcomes), outcomes
    with Store(sqlite_path) as store:
        assert store.count_trials("exp")[C.SUCCEEDED] == 150
        assert len(store.get_observations("exp")) == 750


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


def _bulk_trials(store: Store) -> list[Trial]:
    """Trials of every kind: finished, active, with and without objectives and times."""
    store.create_experiment(make_experiment())
    store.create_experiment(make_experiment("other"))
    made = [
        make_trial(
            0,
            status=C.SUCCEEDED,
            objective=0.25,
            metrics={"loss": MetricSummary(0.25, 2.0, 0.25)},
            created_time=10.0,
            start_time=10.5,
            completion_time=20.3,
            reason="TrialSucceeded",
            labels={"tunery.dev/generation": "1"},
            cursor={"source": "/runs/exp/exp-0000/metrics/m.log", "offset": 7},
        ),
        make_trial(
            1, status=C.FAILED, message="<b>boom</b>", created_time=11.0, completion_time=21.0
        ),
        make_trial(2, status=C.RUNNING, parameters={"x": 1 / 3, "opt": "adam"}, start_time=12.0),
        make_trial(3, status=C.CREATED),
        make_trial(4, status=C.EARLY_STOPPED, objective=0.25, completion_time=22.0),
        make_trial(5, status=C.SUCCEEDED, objective=0.1 + 0.2, completion_time=22.0),
    ]
    for trial in made:
        store.create_trial(trial)
    store.create_trial(make_trial(0, "other", status=C.SUCCEEDED, objective=-1.0))
    return made


def test_trial_rows_are_plain_and_carry_their_marks(store: Store) -> None:
    made = _bulk_trials(store)
    read = store.trial_rows("exp")
    assert [r.name for r in read.rows] == [t.name for t in made]
    first = read.rows[0]
    assert first == (
        "exp-0000", 0, "Succeeded", "TrialSucceeded", None, {"x": 0.5},
        {"loss": {"min": 0.25, "max": 2.0, "latest": 0.25}}, 0.25, 10.0, 10.5, 20.3,
        {"tunery.dev/generation": "1"}, "/runs/exp/exp-0000/metrics/m.log",
    )  # fmt: skip
    assert read.rows[2].parameters == {"x": 1 / 3, "opt": "adam"}
    assert (read.rows[2].labels, read.rows[2].metrics_source) == ({}, None)
    assert read.rows[1].metrics == {} and read.rows[1].message == "<b>boom</b>"
    assert read.counts == {
        "Created": 1, "Running": 1, "Succeeded": 2, "Failed": 1, "Killed": 0,
        "EarlyStopped": 1, "MetricsUnavailable": 0,
    }  # fmt: skip
    assert (read.max_index, read.max_completion) == (5, 22.0)
    only = store.trial_rows("exp", statuses=[C.FAILED, "Running"]).rows
    assert [r.trial_index for r in only] == [1, 2]
    empty = store.trial_rows("nothing")
    assert empty.rows == [] and empty.max_index is None and empty.max_completion is None


def test_trial_rows_changed_since(store: Store) -> None:
    _bulk_trials(store)
    # Active trials, later indexes, and finishes at or after the mark.
    since = store.trial_rows("exp", changed_since=(4, 21.0)).rows
    assert [r.trial_index for r in since] == [1, 2, 3, 4, 5]
    since = store.trial_rows("exp", changed_since=(5, 22.0)).rows
    assert [r.trial_index for r in since] == [2, 3, 4, 5]
    since = store.trial_rows("exp", changed_since=(5, None)).rows
    assert [r.trial_index for r in since] == [0, 1, 2, 3, 4, 5]
    store.update_trial("exp", "exp-0002", status=C.KILLED, completion_time=30.0)
    since = store.trial_rows("exp", changed_since=(5, 22.0), statuses=["Killed"]).rows
    assert [r.name for r in since] == ["exp-0002"]


def test_trial_rows_sorted_and_cut_by_the_database(store: Store) -> None:
    _bulk_trials(store)
    everything = store.trial_rows("exp").rows

    def reference(column: str, descending: bool) -> list[str]:
        present = [r for r in everything if getattr(r, column) is not None]
        missing = [r.name for r in everything if getattr(r, column) is None]
        present.sort(key=lambda r: getattr(r, column), reverse=descending)  # stable: by index
        return [r.name for r in present] + missing

    for key, column in Store.ORDER_COLUMNS.items():
        for descending in (False, True):
            got = store.trial_rows("exp", order=(key, descending)).rows
            assert [r.name for r in got] == reference(column, descending), (key, descending)
    page = store.trial_rows("exp", order=("objective", True), limit=2, offset=1)
    assert [r.name for r in page.rows] == reference("objective", True)[1:3]
    assert page.matched == len(everything)
    assert store.trial_rows("exp").matched is None
    failed = store.trial_rows("exp", statuses=["Failed"], limit=5)
    assert failed.matched == 1 and len(failed.rows) == 1


def test_trial_columns_match_trial_rows(store: Store) -> None:
    import json

    _bulk_trials(store)
    for kwargs in ({}, {"changed_since": (4, 22.0)}, {"statuses": ["Succeeded", "Created"]}):
        rows = store.trial_rows("exp", **kwargs)  # type: ignore[arg-type]
        cols = store.trial_columns("exp", **kwargs)  # type: ignore[arg-type]
        data = {key: json.loads(text) for key, text in cols.columns.items()}
        assert cols.length == len(rows.rows)
        assert (cols.counts, cols.max_index, cols.max_completion) == (
            rows.counts,
            rows.max_index,
            rows.max_completion,
        )
        for i, r in enumerate(rows.rows):
            assert data["name"][i] == r.name and data["index"][i] == r.trial_index
            assert (data["status"][i], data["reason"][i]) == (r.status, r.reason)
            assert data["message"][i] == r.message
            assert data["objective"][i] == r.objective  # every digit
            assert data["parameters"][i] == r.parameters and data["metrics"][i] == r.metrics
            for key, value in (
                ("created_ms", r.created_time),
                ("start_ms", r.start_time),
                ("completion_ms", r.completion_time),
            ):
                assert data[key][i] == (None if value is None else round(value * 1e6) // 1000)
    assert json.loads(store.trial_columns("exp").columns["completion_ms"])[0] == 20_300
    empty = store.trial_columns("nothing")
    assert empty.length == 0 and set(empty.columns.values()) == {"[]"}


def test_best_trial_and_summaries(store: Store) -> None:
    from tunery.model import Objective, ObjectiveType

    _bulk_trials(store)
    best = store.best_trial("exp", Objective(ObjectiveType.MINIMIZE, "loss"))
    assert best is not None and best.name == "exp-0000"  # ties: the earliest
    assert best.metrics["loss"] == MetricSummary(0.25, 2.0, 0.25)
    best = store.best_trial("exp", Objective(ObjectiveType.MAXIMIZE, "loss"))
    assert best is not None and best.name == "exp-0005"
    assert store.best_trial("nothing", Objective(ObjectiveType.MINIMIZE, "loss")) is None
    summaries = store.trial_summaries()
    assert summaries["other"] == {"Succeeded": (1, -1.0, -1.0)}
    assert summaries["exp"]["Succeeded"] == (2, 0.25, 0.1 + 0.2)
    assert summaries["exp"]["Running"] == (1, None, None)
    assert "Killed" not in summaries["exp"]
