"""The writer's kit (tunery.ledger): lease, naming, compare-and-set, observations, state."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_storage_codec import minimal_spec
from tunery.errors import LeaseHeldError, LeaseLostError
from tunery.launch import trial_name_for
from tunery.ledger import TrialLedger, default_owner, owner_is_dead
from tunery.model import (
    Assignment,
    Experiment,
    MetricRecord,
    MetricStrategy,
    MetricStrategyType,
    MetricSummary,
    Objective,
    ObjectiveType,
    Trial,
    TrialCondition,
    TrialReason,
)
from tunery.storage import Store, TrialChange
from tunery.storage.base import BaseStore
from tunery.storage.memory import InMemoryStore
from tunery.thinning import THINNED_LABEL

GOAL = Objective(ObjectiveType.MINIMIZE, "loss", goal=0.1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    s.create_experiment(
        Experiment(name="exp", spec=minimal_spec("exp"), document={}, created_time=1.0)
    )
    yield s
    s.close()


def ledger_of(store: BaseStore, **kw: object) -> TrialLedger:
    ledger = TrialLedger(store, "exp", **kw)  # type: ignore[arg-type]
    ledger.load(GOAL)
    return ledger


def dead_pid() -> int:
    """The pid of a process of ours that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------------------- the lease


def test_owner_ids_name_this_host_and_process() -> None:
    host, pid, token = default_owner().split(":")
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert len(token) == 8 and default_owner() != default_owner()


def test_only_a_local_process_that_is_gone_is_dead() -> None:
    host = socket.gethostname()
    assert owner_is_dead(f"{host}:{dead_pid()}:x")
    assert not owner_is_dead(f"{host}:{os.getppid()}:x")  # alive
    assert not owner_is_dead(f"{host}:{os.getpid()}:x")  # ourselves
    assert not owner_is_dead(f"elsewhere-{host}:{dead_pid()}:x")  # another host: unknown
    assert not owner_is_dead(f"{host}:not-a-pid")
    assert not owner_is_dead("no-colon")


def test_the_lease_is_taken_at_once_from_a_dead_owner_only(store: Store) -> None:
    host = socket.gethostname()
    store.acquire_lease("exp", f"{host}:{os.getppid()}:live", 100.0, 30.0)
    with pytest.raises(LeaseHeldError):
        ledger_of(store).acquire(110.0)
    store.release_lease("exp", f"{host}:{os.getppid()}:live")
    store.acquire_lease("exp", f"{host}:{dead_pid()}:dead", 100.0, 30.0)
    ledger = ledger_of(store, owner="me:1:a")
    ledger.acquire(110.0)  # long before the dead owner's lease expires
    assert store.lease_owner("exp") == ("me:1:a", 140.0)
    ledger.release()
    assert store.lease_owner("exp") is None


def test_renewal_comes_after_a_third_of_the_ttl_and_a_lost_lease_is_an_error(
    store: Store,
) -> None:
    ledger = ledger_of(store, owner="me:1:a", lease_ttl=30.0)
    ledger.acquire(100.0, fence=False)
    ledger.renew(105.0)  # too early: nothing written
    assert store.lease_owner("exp") == ("me:1:a", 130.0)
    ledger.renew(111.0)
    assert store.lease_owner("exp") == ("me:1:a", 141.0)
    assert ledger.renewed_at == 111.0
    store.acquire_lease("exp", "other:2:b", 200.0, 30.0)  # ours expired: taken
    with pytest.raises(LeaseLostError, match="lost its lease"):
        ledger.renew(201.0)


def test_a_fenced_ledger_never_writes_after_losing_its_lease(store: Store) -> None:
    ledger = ledger_of(store, owner="me:1:a", lease_ttl=30.0)
    ledger.acquire(100.0)
    trial = ledger.create_trial(Assignment({"x": 1.0}), 100.0)
    store.acquire_lease("exp", "other:2:b", 200.0, 30.0)
    with pytest.raises(LeaseLostError, match="stopped without writing"):
        ledger.transition(trial, [TrialCondition.CREATED], status=TrialCondition.RUNNING)
    assert store.get_trial("exp", trial.name).status is TrialCondition.CREATED
    ledger.release()  # unfenced: the store writes again for others
    store.create_trial(Trial("exp-0009", "exp", 9, {"x": 2.0}))


# ---------------------------------------------------------------------------- naming


def test_trials_are_named_from_the_next_index(store: Store) -> None:
    assert trial_name_for("exp", 12) == "exp-0012"
    store.create_trial(Trial("exp-0007", "exp", 7, {"x": 0.0}))
    ledger = ledger_of(store)
    assert ledger.next_index() == 8
    first = ledger.create_trial(Assignment({"x": 1.0}, {"tier": "a"}), 50.0)
    assert (first.name, first.index, first.status) == ("exp-0008", 8, TrialCondition.CREATED)
    assert (first.reason, first.message) == ("TrialCreated", "Trial is created")
    assert first.start_time is None and first.created_time == 50.0
    running = ledger.create_trial(
        Assignment({"x": 2.0}), 60.0, status=TrialCondition.RUNNING, reason=None, message=None
    )
    assert (running.name, running.start_time, running.reason) == ("exp-0009", 60.0, None)
    assert store.list_trials("exp") == ledger.trials
    assert store.get_trial("exp", "exp-0008").labels == {"tier": "a"}
    assert ledger.counts.active == 3


# ---------------------------------------------------------------------------- transitions


def test_compare_and_set_applies_only_from_the_expected_status(store: Store) -> None:
    ledger = ledger_of(store)
    trial = ledger.create_trial(Assignment({"x": 1.0}), 1.0)
    trial, applied = ledger.transition(
        trial, [TrialCondition.CREATED], status=TrialCondition.RUNNING, reason=TrialReason.RUNNING
    )
    assert applied and trial.status is TrialCondition.RUNNING
    assert store.get_trial("exp", trial.name).reason == "TrialRunning"
    # Someone else finished it meanwhile: the change is refused and the cache reads the row.
    store.update_trial(
        "exp", trial.name, TrialChange(status=TrialCondition.KILLED, reason="KilledByUser")
    )
    stale = trial
    trial, applied = ledger.transition(
        stale, [TrialCondition.RUNNING], status=TrialCondition.FAILED, reason=TrialReason.FAILED
    )
    assert not applied
    assert (trial.status, trial.reason) == (TrialCondition.KILLED, "KilledByUser")
    assert ledger.get(trial.name) == trial
    assert ledger.counts.by_status[TrialCondition.KILLED] == 1
    assert ledger.counts.active == 0 and not ledger.active


def test_the_first_success_that_reaches_the_goal_is_remembered(store: Store) -> None:
    ledger = ledger_of(store)
    done = []
    for value in (0.5, 0.05, 0.01):
        trial = ledger.create_trial(Assignment({"x": value}), 1.0)
        trial, _ = ledger.transition(
            trial,
            [TrialCondition.CREATED],
            status=TrialCondition.SUCCEEDED,
            reason=TrialReason.SUCCEEDED,
            objective=value,
        )
        done.append(trial.name)
        if value == 0.5:
            assert ledger.goal_trial is None
    assert ledger.goal_trial == done[1]
    assert ledger_of(store).goal_trial == done[1]  # the same when read again


def test_reasons_are_the_strings_stored_before() -> None:
    assert TrialReason.EARLY_STOPPED == "TrialEarlyStopped"
    assert f"{TrialReason.KILLED_BY_USER}" == "KilledByUser"
    assert TrialReason.EXPERIMENT_GOAL_REACHED == "ExperimentGoalReached"


# ---------------------------------------------------------------------------- observations


def test_observe_stores_the_value_and_the_summary_together(store: Store) -> None:
    ledger = ledger_of(store)
    trial = ledger.create_trial(Assignment({"x": 1.0}), 1.0)
    for step, value in enumerate((3.0, 1.0, None, 2.0)):
        trial, obs = ledger.observe(trial, "loss", value, step, 10.0 + step)
        assert (obs.value, obs.step) == (value, step)
    summary = MetricSummary(min=1.0, max=3.0, latest=2.0)
    assert trial.metrics["loss"] == summary
    assert store.get_trial("exp", trial.name).metrics["loss"] == summary
    assert [o.value for o in store.get_observations("exp", trial.name)] == [3.0, 1.0, None, 2.0]


def test_a_read_past_the_limit_is_thinned_and_labelled(store: Store) -> None:
    ledger = ledger_of(store, observation_limit=4)
    trial = ledger.create_trial(Assignment({"x": 1.0}), 1.0)
    records = [MetricRecord("loss", float(i)) for i in range(10)]
    batch = ledger.batch(trial, records, {"offset": 99}, more=True)
    assert batch.more and batch.cursor == {"collector": {"offset": 99}, "counts": {"loss": 10}}
    assert batch.metrics["loss"] == MetricSummary(min=0.0, max=9.0, latest=9.0)
    assert batch.labels == {THINNED_LABEL: "loss"}
    kept = [o.step for o in batch.observations]
    assert kept[:2] == [0, 1] and len(kept) < 10
    trial = ledger.record(trial, batch)
    assert trial.labels == {THINNED_LABEL: "loss"} and trial.cursor == batch.cursor
    stored = store.get_trial("exp", trial.name)
    assert (stored.labels, stored.cursor, stored.metrics) == (
        trial.labels,
        trial.cursor,
        trial.metrics,
    )
    assert [o.step for o in store.get_observations("exp", trial.name)] == kept
    # The next read counts on from the cursor, and labels only once.
    again = ledger.batch(trial, [MetricRecord("loss", -1.0)], {"offset": 120}, more=False)
    assert again.cursor["counts"] == {"loss": 11} and again.labels is None
    assert again.metrics["loss"] == MetricSummary(min=-1.0, max=9.0, latest=-1.0)


def test_a_string_value_is_stored_and_becomes_the_finished_trials_objective_text(
    store: Store,
) -> None:
    """A collector's string record (Katib's Best-Genotype) lands verbatim in the observation
    and the summary; finishing the trial with its objective sets ``objective_text`` too."""
    genotype = (
        "Genotype(normal=[[('skip_connect',0)]],normal_concat=[2],reduce=[],reduce_concat=[])"
    )
    ledger = ledger_of(store)
    trial = ledger.create_trial(Assignment({"x": 1.0}), 1.0, status=TrialCondition.RUNNING)
    records = [MetricRecord("loss", 0.5), MetricRecord("loss", None, text=genotype)]
    batch = ledger.batch(trial, records, {"offset": 10}, more=False)
    assert batch.metrics["loss"] == MetricSummary(0.5, 0.5, None, genotype)
    assert [(o.value, o.text) for o in batch.observations] == [(0.5, None), (None, genotype)]
    trial = ledger.record(trial, batch)
    done, applied = ledger.transition(
        trial, [TrialCondition.RUNNING], status=TrialCondition.SUCCEEDED, objective=None
    )
    # GOAL minimizes loss by min: 0.5 is a number, so the objective is no string.
    assert applied and done.objective_text is None
    # By its latest value (a string here), the objective is the string.
    strategy = (MetricStrategy("loss", MetricStrategyType.LATEST),)
    ledger.load(Objective(ObjectiveType.MINIMIZE, "loss", metric_strategies=strategy))
    other = ledger.create_trial(Assignment({"x": 2.0}), 2.0, status=TrialCondition.RUNNING)
    other = ledger.record(other, ledger.batch(other, records, {"offset": 10}, more=False))
    done, applied = ledger.transition(
        other, [TrialCondition.RUNNING], status=TrialCondition.SUCCEEDED, objective=None
    )
    assert applied and done.objective_text == genotype
    stored = store.get_trial("exp", other.name)
    assert (stored.objective, stored.objective_text) == (None, genotype)
    assert [o.text for o in store.get_observations("exp", other.name)] == [None, genotype]


# ---------------------------------------------------------------------------- state


def test_algorithm_state_is_stored_only_when_it_changed(store: Store) -> None:
    ledger = ledger_of(store)
    assert ledger.load_state() is None
    ledger.save_state({"round": 1})
    assert store.load_algorithm_state("exp") == {"round": 1}
    # Written behind the ledger's back: an unchanged state is not written again...
    store.save_algorithm_state("exp", {"round": 0})
    ledger.save_state({"round": 1})
    ledger.save_state(None)
    assert store.load_algorithm_state("exp") == {"round": 0}
    # ... a changed one is, and a state mutated in place after saving counts as changed.
    state = {"round": 2, "seen": [1]}
    ledger.save_state(state)
    state["seen"].append(2)
    ledger.save_state(state)
    assert store.load_algorithm_state("exp") == {"round": 2, "seen": [1, 2]}
    # A new ledger starts from what is stored.
    fresh = ledger_of(store)
    assert fresh.load_state() == {"round": 2, "seen": [1, 2]}
    fresh.save_state({"round": 2, "seen": [1, 2]})
    store.save_algorithm_state("exp", {"round": 5})
    fresh.save_state({"round": 2, "seen": [1, 2]})
    assert store.load_algorithm_state("exp") == {"round": 5}


def test_over_an_in_memory_store_the_ledger_keeps_the_same_rules() -> None:
    memory = InMemoryStore()
    memory.create_experiment(
        Experiment(name="exp", spec=minimal_spec("exp"), document={}, created_time=1.0)
    )
    ledger = ledger_of(memory)
    ledger.acquire(1.0)
    trial = ledger.create_trial(Assignment({"x": 1.0}), 1.0, status=TrialCondition.RUNNING)
    trial, _ = ledger.observe(trial, "loss", 0.5, 0, 2.0)
    assert trial.metrics["loss"] == MetricSummary(min=0.5, max=0.5, latest=0.5)
    trial, applied = ledger.transition(
        trial, [TrialCondition.RUNNING], status=TrialCondition.SUCCEEDED, objective=0.5
    )
    assert applied and ledger.trials == [trial]
    assert memory.get_trial("exp", trial.name) == trial
    _, again = ledger.transition(trial, [TrialCondition.RUNNING], status=TrialCondition.FAILED)
    assert not again and ledger.trials == [trial]
    assert ledger.counts.completed == 1 and ledger.load_state() is None
    ledger.save_state({"a": 1})
    assert memory.load_algorithm_state("exp") == {"a": 1}
    ledger.renew(1e9)
    ledger.release()
    assert memory.lease_owner("exp") is None
