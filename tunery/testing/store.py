"""The store contract suite: what every :class:`~tunery.storage.base.BaseStore` must do.

:class:`StoreContract` is a pytest test class; a test module subclasses it and provides a
``store`` fixture yielding an empty store (``tests/test_storage_memory.py`` runs it over the
in-memory store, ``tests/test_storage_store.py`` over SQLite and PostgreSQL).  The checks are
those of the contract in :class:`~tunery.storage.base.BaseStore`'s docstring: round trips,
compare-and-set, ordering, thinning by :mod:`tunery.thinning`'s rule, leases and fences,
intents, errors, and a few threads racing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tunery.errors import (
    AlreadyExistsError,
    LeaseHeldError,
    LeaseLostError,
    NotFoundError,
    UserInputError,
)
from tunery.model import (
    AlgorithmSpec,
    Experiment,
    ExperimentCondition,
    ExperimentSpec,
    FeasibleSpace,
    MetricSummary,
    Objective,
    ObjectiveType,
    Observation,
    ParameterSpec,
    ParameterType,
    Trial,
    TrialCondition,
    TrialTemplate,
)
from tunery.storage.base import BaseStore, TrialChange
from tunery.thinning import Thinning

__all__ = ["StoreContract", "experiment_named", "trial_of"]

C = TrialCondition


def experiment_named(
    name: str = "exp", created: float | None = 100.0, namespace: str = "default"
) -> Experiment:
    """A small valid experiment (in ``namespace``)."""
    spec = ExperimentSpec(
        name=name,
        namespace=namespace,
        objective=Objective(ObjectiveType.MINIMIZE, "loss"),
        algorithm=AlgorithmSpec("random"),
        parameters=(ParameterSpec("x", ParameterType.DOUBLE, FeasibleSpace("0", "1")),),
        trial_template=TrialTemplate(command=("python", "t.py")),
    )
    return Experiment(
        name=name, spec=spec, created_time=created, document={"metadata": {"name": name}}
    )


def trial_of(index: int, experiment: str = "exp", **kw: Any) -> Trial:
    """Trial ``index`` of ``experiment`` (name ``<experiment>-<index:04d>``)."""
    return Trial(
        name=kw.pop("name", f"{experiment}-{index:04d}"),
        experiment=experiment,
        index=index,
        parameters=kw.pop("parameters", {"x": index / 10}),
        **kw,
    )


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; their results (or errors)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class StoreContract:
    """Subclass with a ``store`` fixture that yields an empty store."""

    # ------------------------------------------------------------------ experiments

    def test_experiment_round_trip_and_errors(self, store: BaseStore) -> None:
        made = experiment_named()
        assert store.create_experiment(made) == made
        assert store.get_experiment("exp") == made
        assert store.find_experiment("ghost") is None
        with pytest.raises(AlreadyExistsError, match="already exists"):
            store.create_experiment(made)
        with pytest.raises(NotFoundError, match="no experiment named 'ghost'") as info:
            store.get_experiment("ghost")
        assert info.value.hint

    def test_same_name_in_two_namespaces(self, store: BaseStore) -> None:
        plain = store.create_experiment(experiment_named("exp", 1.0))
        other = store.create_experiment(experiment_named("exp", 2.0, namespace="kubeflow"))
        assert (plain.key, plain.name, plain.namespace) == ("exp", "exp", "default")
        assert (other.key, other.name, other.namespace) == ("kubeflow.exp", "exp", "kubeflow")
        assert store.get_experiment("kubeflow.exp") == other
        with pytest.raises(AlreadyExistsError, match="in namespace 'kubeflow'") as info:
            store.create_experiment(experiment_named("exp", namespace="kubeflow"))
        assert info.value.hint is not None and "-n kubeflow" in info.value.hint
        with pytest.raises(UserInputError, match="several namespaces: default, kubeflow") as amb:
            store.resolve("exp")
        assert amb.value.hint is not None and "--namespace" in amb.value.hint
        assert store.resolve("exp", "default") == "exp"
        assert store.resolve("exp", "kubeflow") == "kubeflow.exp"
        assert store.resolve("kubeflow.exp") == "kubeflow.exp"
        assert store.resolve("default.exp") == "exp"  # <namespace>.<name>, whatever the key
        with pytest.raises(NotFoundError, match="in namespace 'team'"):
            store.resolve("team.exp")
        with pytest.raises(NotFoundError, match=r"in namespace 'team'.*one in namespace"):
            store.resolve("exp", "team")
        with pytest.raises(NotFoundError, match="no experiment named 'ghost'"):
            store.resolve("ghost")
        with pytest.raises(NotFoundError):
            store.resolve("xp")  # a suffix of a key, not a name
        assert [e.key for e in store.list_experiments()] == ["exp", "kubeflow.exp"]
        assert [e.key for e in store.list_experiments("kubeflow")] == ["kubeflow.exp"]
        assert store.list_experiments("team") == []
        # Each has its own trials (same index, names apart), deleted with it alone.
        store.create_trial(trial_of(1, "exp"))
        store.create_trial(trial_of(1, "kubeflow.exp"))
        assert [t.name for t in store.list_trials("kubeflow.exp")] == ["kubeflow.exp-0001"]
        store.delete_experiment("exp")
        assert store.resolve("exp") == "kubeflow.exp"
        assert [t.name for t in store.list_trials("kubeflow.exp")] == ["kubeflow.exp-0001"]
        # The plain key is free again: a new experiment in another namespace takes it.
        again = store.create_experiment(experiment_named("exp", 3.0, namespace="team"))
        assert (again.key, again.namespace) == ("exp", "team")
        assert store.resolve("exp", "kubeflow") == "kubeflow.exp"

    def test_same_name_created_in_namespaces_at_once(self, store: BaseStore) -> None:
        results = _race(4, lambda i: store.create_experiment(experiment_named(namespace=f"n{i}")))
        made = [r for r in results if isinstance(r, Experiment)]
        assert len(made) == 4, results
        assert sorted(e.key for e in made).count("exp") == 1
        assert {e.namespace for e in made} == {"n0", "n1", "n2", "n3"}
        for e in made:
            assert store.resolve("exp", e.namespace) == e.key
        results = _race(3, lambda i: store.create_experiment(experiment_named(namespace="n9")))
        assert sum(isinstance(r, Experiment) for r in results) == 1
        assert sum(isinstance(r, AlreadyExistsError) for r in results) == 2

    def test_experiments_listed_oldest_first(self, store: BaseStore) -> None:
        for name, created in (("b", 5.0), ("a", 5.0), ("c", 1.0), ("d", None)):
            store.create_experiment(experiment_named(name, created))
        assert [e.name for e in store.list_experiments()] == ["d", "c", "a", "b"]

    def test_experiment_spec_status_and_delete(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        other = experiment_named("other").spec
        store.update_experiment_spec("exp", other, {"new": [1, 2]})
        got = store.get_experiment("exp")
        assert (got.spec, got.document) == (other, {"new": [1, 2]})
        store.set_experiment_status(
            "exp", ExperimentCondition.RUNNING, "R", "running", start_time=3.0
        )
        store.set_experiment_status(
            "exp", ExperimentCondition.SUCCEEDED, "S", "done", completion_time=9.0
        )
        got = store.get_experiment("exp")
        assert (got.status, got.reason, got.message) == (ExperimentCondition.SUCCEEDED, "S", "done")
        assert (got.start_time, got.completion_time) == (3.0, 9.0)
        store.set_experiment_status(
            "exp", ExperimentCondition.RESTARTING, None, None, clear_completion=True
        )
        got = store.get_experiment("exp")
        assert (got.start_time, got.completion_time, got.reason) == (3.0, None, None)
        for call in (
            lambda: store.update_experiment_spec("ghost", other, {}),
            lambda: store.set_experiment_status("ghost", ExperimentCondition.RUNNING, None, None),
            lambda: store.delete_experiment("ghost"),
        ):
            with pytest.raises(NotFoundError):
                call()

    def test_delete_takes_everything_with_it(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1))
        store.add_observations(
            "exp", "exp-0001", [Observation("exp-0001", "loss", 1.0, 0)], metrics={}, cursor=None
        )
        store.save_algorithm_state("exp", {"k": 1})
        store.acquire_lease("exp", "me", 0.0, 30.0)
        store.add_intent("exp", "StopExperiment", None, 1.0)
        store.delete_experiment("exp")
        assert store.find_experiment("exp") is None
        store.create_experiment(experiment_named())
        assert store.list_trials("exp") == []
        assert store.get_observations("exp") == []
        assert store.load_algorithm_state("exp") is None
        assert store.lease_owner("exp") is None
        assert store.pending_intents("exp") == []

    # ------------------------------------------------------------------ trials

    def test_trial_round_trip_with_every_field(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        full = trial_of(
            3,
            parameters={"x": 0.25, "opt": "adam", "n": 3},
            status=C.RUNNING,
            reason="TrialRunning",
            message="running",
            labels={"a": "b"},
            metrics={"loss": MetricSummary(0.1, 0.9, 0.5)},
            objective=0.1,
            created_time=1.0,
            start_time=2.0,
            completion_time=None,
            handle={"pid": 7, "dir": "/x"},
            cursor={"source": "out.log", "counts": {"loss": 2}},
            pending_outcome={"status": "Killed", "reason": "r", "message": "m"},
        )
        store.create_trial(full)
        assert store.get_trial("exp", full.name) == full
        assert store.list_trials("exp") == [full]

    def test_trial_uniqueness_missing_and_order(self, store: BaseStore) -> None:
        with pytest.raises(NotFoundError):
            store.create_trial(trial_of(1))
        store.create_experiment(experiment_named())
        for index, status in ((3, C.FAILED), (1, C.RUNNING), (2, C.SUCCEEDED)):
            store.create_trial(trial_of(index, status=status))
        with pytest.raises(AlreadyExistsError):
            store.create_trial(trial_of(1))
        with pytest.raises(AlreadyExistsError):
            store.create_trial(trial_of(1, name="another"))
        with pytest.raises(NotFoundError):
            store.get_trial("exp", "ghost")
        assert [t.index for t in store.list_trials("exp")] == [1, 2, 3]
        chosen = store.list_trials("exp", [C.FAILED, C.RUNNING])
        assert [t.index for t in chosen] == [1, 3]
        assert store.list_trials("nothing") == []

    def test_non_finite_numbers_are_stored_as_none(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, objective=math.nan))
        assert store.get_trial("exp", "exp-0001").objective is None
        store.update_trial(
            "exp",
            "exp-0001",
            TrialChange(objective=math.inf, metrics={"m": MetricSummary(latest=math.nan)}),
        )
        got = store.get_trial("exp", "exp-0001")
        assert (got.objective, got.metrics) == (None, {"m": MetricSummary()})

    # ------------------------------------------------------------------ compare-and-set

    def test_update_trial_applies_only_when_the_status_is_expected(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1))
        name = "exp-0001"
        assert not store.update_trial(
            "exp", name, TrialChange(status=C.SUCCEEDED, reason="x"), expect=[C.RUNNING]
        )
        assert store.get_trial("exp", name) == trial_of(1)
        change = TrialChange(
            status=C.RUNNING, start_time=5.0, handle={"pid": 9}, cursor={"source": "s"}
        )
        assert store.update_trial("exp", name, change, expect=[C.CREATED])
        assert store.get_trial("exp", name) == change.apply(trial_of(1))
        # A finished trial is not finished again by a racing writer.
        assert store.update_trial(
            "exp", name, TrialChange(status=C.SUCCEEDED, objective=0.5), expect=[C.RUNNING]
        )
        assert not store.update_trial("exp", name, TrialChange(status=C.KILLED), expect=[C.RUNNING])
        got = store.get_trial("exp", name)
        assert (got.status, got.objective, got.start_time) == (C.SUCCEEDED, 0.5, 5.0)
        # Fields left out stay; None clears.
        assert store.update_trial("exp", name, TrialChange(handle=None), expect=[C.SUCCEEDED])
        got = store.get_trial("exp", name)
        assert (got.handle, got.cursor) == (None, {"source": "s"})
        # An empty change answers whether the status is expected.
        assert store.update_trial("exp", name, TrialChange(), expect=[C.SUCCEEDED])
        assert not store.update_trial("exp", name, TrialChange(), expect=[C.RUNNING])

    def test_update_trial_refuses_illegal_transitions(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.SUCCEEDED))
        with pytest.raises(ValueError, match="illegal transition"):
            store.update_trial("exp", "exp-0001", TrialChange(status=C.RUNNING))
        with pytest.raises(ValueError, match="illegal transition"):
            store.update_trial(
                "exp", "exp-0001", TrialChange(status=C.FAILED), expect=[C.SUCCEEDED]
            )
        assert store.get_trial("exp", "exp-0001").status is C.SUCCEEDED
        with pytest.raises(NotFoundError):
            store.update_trial("exp", "ghost", TrialChange(message="m"))
        with pytest.raises(ValueError, match="added to trial"):
            store.update_trial(
                "exp",
                "exp-0001",
                TrialChange(message="m"),
                observations=[Observation("exp-0002", "loss", 1.0, 0)],
            )
        assert store.get_trial("exp", "exp-0001").message is None

    def test_observations_land_only_with_an_applied_change(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.RUNNING))
        last = [Observation("exp-0001", "loss", 0.5, 3, 10.0)]
        finish = TrialChange(status=C.SUCCEEDED, completion_time=11.0)
        assert not store.update_trial(
            "exp", "exp-0001", finish, expect=[C.CREATED], observations=last
        )
        assert store.get_observations("exp") == []
        assert store.update_trial("exp", "exp-0001", finish, expect=[C.RUNNING], observations=last)
        assert store.get_observations("exp") == last

    def test_pending_outcome_is_apart_from_the_cursor(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.RUNNING, cursor={"source": "s"}))
        outcome = {"status": "EarlyStopped", "reason": "TrialEarlyStopped", "message": "m"}
        assert store.update_trial("exp", "exp-0001", TrialChange(pending_outcome=outcome))
        store.add_observations("exp", "exp-0001", [], metrics={}, cursor={"source": "t"})
        got = store.get_trial("exp", "exp-0001")
        assert (got.cursor, got.pending_outcome) == ({"source": "t"}, outcome)

    def test_string_values_round_trip_verbatim(self, store: BaseStore) -> None:
        """A string-valued metric (Katib's Best-Genotype): the observation's ``text``, the
        summary's ``text`` and the trial's ``objective_text``, as given, with the update and
        its observations in one change."""
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.RUNNING))
        text = "Genotype(normal=[[('sep_conv_3x3', 0)]], normal_concat=range(2, 3)) é ✓"
        summary = MetricSummary(0.5, 0.5, None, text)
        obs = [
            Observation("exp-0001", "loss", 0.5, 0, 1.0),
            Observation("exp-0001", "loss", None, 1, 2.0, text),
        ]
        change = TrialChange(
            status=C.SUCCEEDED, metrics={"loss": summary}, objective=None, objective_text=text
        )
        assert store.update_trial("exp", "exp-0001", change, expect=[C.RUNNING], observations=obs)
        got = store.get_trial("exp", "exp-0001")
        assert (got.objective, got.objective_text, got.metrics["loss"]) == (None, text, summary)
        assert store.get_observations("exp") == obs
        created = trial_of(2, status=C.SUCCEEDED, objective_text="x", metrics={"loss": summary})
        store.create_trial(created)
        assert store.get_trial("exp", created.name) == created

    def test_concurrent_finishers_exactly_one_wins(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.RUNNING))
        finals = [C.SUCCEEDED, C.FAILED, C.KILLED, C.EARLY_STOPPED]
        results = _race(
            len(finals),
            lambda i: store.update_trial(
                "exp", "exp-0001", TrialChange(status=finals[i]), expect=[C.RUNNING]
            ),
        )
        assert sorted(results, key=repr) == [False, False, False, True]
        assert store.get_trial("exp", "exp-0001").status is finals[results.index(True)]

    # ------------------------------------------------------------------ observations

    def test_observations_order_pages_and_counts(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(2))
        store.create_trial(trial_of(1))
        first = [
            Observation("exp-0002", "loss", 0.5, 0, 100.0),
            Observation("exp-0002", "acc", math.nan, 0, None),
            Observation("exp-0002", "loss", 0.25, 1, 101.0),
        ]
        summary = {"loss": MetricSummary(0.25, 0.5, 0.25)}
        store.add_observations(
            "exp", "exp-0002", first, metrics=summary, cursor={"o": 3}, labels={"l": "v"}
        )
        got = store.get_trial("exp", "exp-0002")
        assert (got.metrics, got.cursor, got.labels) == (summary, {"o": 3}, {"l": "v"})
        store.add_observations(
            "exp", "exp-0001", [Observation("exp-0001", "loss", 1.0, 7)], metrics={}, cursor=None
        )
        assert store.get_trial("exp", "exp-0002").labels == {"l": "v"}
        everything = [
            Observation("exp-0001", "loss", 1.0, 7, None),
            Observation("exp-0002", "loss", 0.5, 0, 100.0),
            Observation("exp-0002", "acc", None, 0, None),
            Observation("exp-0002", "loss", 0.25, 1, 101.0),
        ]
        assert store.get_observations("exp") == everything
        assert store.get_observations("exp", limit=2, offset=1) == everything[1:3]
        assert store.get_observations("exp", "exp-0002", "loss") == [everything[1], everything[3]]
        assert store.get_observations("exp", metric="acc") == [everything[2]]
        assert store.observation_counts("exp", "exp-0002") == {"loss": 2, "acc": 1}
        assert store.observation_counts("exp", "ghost") == {}
        with pytest.raises(NotFoundError):
            store.add_observations("exp", "ghost", [], metrics={}, cursor=None)
        with pytest.raises(ValueError, match="added to trial"):
            store.add_observations("exp", "exp-0001", first, metrics={}, cursor=None)
        assert len(store.get_observations("exp")) == 4

    def test_thinning_keeps_the_rules_points(self, store: BaseStore) -> None:
        """Curves fed in batches, thinned as the controller does, keep exactly the rule's
        points (the other metric untouched)."""
        rule = Thinning(8)
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.RUNNING))
        counts = {"loss": 0}
        total = 0
        for size in (5, 1, 7, 3, 12, 2, 30):
            before = counts["loss"]
            stride, every = rule.advance(before, size)
            thin = {"loss": (rule.head, every)} if every > 1 else {}
            rows = [
                Observation("exp-0001", "loss", float(n), n)
                for n in range(before, before + size)
                if rule.kept(n, stride)
            ]
            rows.append(Observation("exp-0001", "acc", 1.0, total))
            counts["loss"] = before + size
            total += 1
            if total % 2:
                store.add_observations("exp", "exp-0001", rows, metrics={}, cursor=None, thin=thin)
            else:
                store.update_trial(
                    "exp", "exp-0001", TrialChange(message=str(total)), observations=rows, thin=thin
                )
        count = counts["loss"]
        final = rule.stride(count)
        expected = [n for n in range(count) if rule.kept(n, final)]
        steps = [o.step for o in store.get_observations("exp", metric="loss")]
        assert steps == expected
        assert len(steps) == rule.stored(count) <= rule.limit
        assert [o.step for o in store.get_observations("exp", metric="acc")] == list(range(total))

    # ------------------------------------------------------------------ algorithm state

    def test_algorithm_state(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        assert store.load_algorithm_state("exp") is None
        state = {"rng": [1, 2, 3], "nested": {"a": None}}
        store.save_algorithm_state("exp", state)
        loaded = store.load_algorithm_state("exp")
        assert loaded == state
        assert loaded is not None
        loaded["rng"].append(4)
        assert store.load_algorithm_state("exp") == state
        store.save_algorithm_state("exp", {"v": 2})
        assert store.load_algorithm_state("exp") == {"v": 2}
        store.save_algorithm_state("exp", None)
        assert store.load_algorithm_state("exp") is None
        with pytest.raises(NotFoundError):
            store.save_algorithm_state("ghost", {"v": 1})

    # ------------------------------------------------------------------ lease and fences

    def test_lease_acquire_refuse_expire_steal_renew_release(self, store: BaseStore) -> None:
        with pytest.raises(NotFoundError):
            store.acquire_lease("ghost", "me", 0.0, 30.0)
        store.create_experiment(experiment_named())
        store.acquire_lease("exp", "host:1", 100.0, 30.0)
        assert store.lease_owner("exp") == ("host:1", 130.0)
        store.acquire_lease("exp", "host:1", 110.0, 30.0)  # ours already: renewed
        assert store.lease_owner("exp") == ("host:1", 140.0)
        with pytest.raises(LeaseHeldError, match="host:1") as info:
            store.acquire_lease("exp", "host:2", 120.0, 30.0)
        assert info.value.hint
        store.acquire_lease("exp", "host:2", 120.0, 30.0, steal=lambda owner: owner == "host:1")
        assert store.lease_owner("exp") == ("host:2", 150.0)
        store.acquire_lease("exp", "host:3", 150.0, 30.0)  # expired
        assert not store.renew_lease("exp", "host:2", 151.0, 30.0)
        assert store.renew_lease("exp", "host:3", 151.0, 30.0)
        assert store.lease_owner("exp") == ("host:3", 181.0)
        store.release_lease("exp", "host:2")  # not ours: nothing happens
        assert store.lease_owner("exp") is not None
        store.release_lease("exp", "host:3")
        assert store.lease_owner("exp") is None

    def test_threads_racing_for_the_lease_exactly_one_wins(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        results = _race(6, lambda i: store.acquire_lease("exp", f"host:{i}", 0.0, 30.0))
        winners = [i for i, r in enumerate(results) if r is None]
        assert len(winners) == 1
        assert all(isinstance(r, LeaseHeldError) for r in results if r is not None)
        assert store.lease_owner("exp") == (f"host:{winners[0]}", 30.0)

    def test_a_fenced_store_that_lost_its_lease_writes_nothing(self, store: BaseStore) -> None:
        store.create_experiment(experiment_named())
        store.create_trial(trial_of(1, status=C.RUNNING))
        store.acquire_lease("exp", "old", 0.0, 30.0)
        store.fence("exp", "old")
        assert store.update_trial("exp", "exp-0001", TrialChange(message="while held"))
        store.acquire_lease("exp", "new", 100.0, 30.0)  # expired: taken over
        writes: list[Callable[[], object]] = [
            lambda: store.update_trial("exp", "exp-0001", TrialChange(status=C.SUCCEEDED)),
            lambda: store.add_observations(
                "exp",
                "exp-0001",
                [Observation("exp-0001", "loss", 1.0, 0)],
                metrics={"loss": MetricSummary(1.0, 1.0, 1.0)},
                cursor={"x": 1},
            ),
            lambda: store.create_trial(trial_of(2)),
            lambda: store.save_algorithm_state("exp", {"v": 1}),
            lambda: store.set_experiment_status("exp", ExperimentCondition.FAILED, None, None),
        ]
        for write in writes:
            with pytest.raises(LeaseLostError, match="lost its lease"):
                write()
        got = store.get_trial("exp", "exp-0001")
        assert (got.status, got.message, got.metrics) == (C.RUNNING, "while held", {})
        assert [t.index for t in store.list_trials("exp")] == [1]
        assert store.get_observations("exp") == []
        assert store.load_algorithm_state("exp") is None
        assert store.get_experiment("exp").status is ExperimentCondition.CREATED
        store.unfence("exp")
        assert store.update_trial("exp", "exp-0001", TrialChange(message="unfenced"))

    # ------------------------------------------------------------------ intents

    def test_intents_in_order_until_completed(self, store: BaseStore) -> None:
        with pytest.raises(NotFoundError):
            store.add_intent("ghost", "StopExperiment", None, 1.0)
        store.create_experiment(experiment_named())
        store.create_experiment(experiment_named("other"))
        first = store.add_intent("exp", "KillTrial", "exp-0001", 1.0)
        store.add_intent("other", "StopExperiment", None, 1.5)
        second = store.add_intent("exp", "StopExperiment", None, 2.0)
        assert second > first
        pending = store.pending_intents("exp")
        assert [(i.id, i.kind, i.target, i.created_time) for i in pending] == [
            (first, "KillTrial", "exp-0001", 1.0),
            (second, "StopExperiment", None, 2.0),
        ]
        assert {i.experiment for i in pending} == {"exp"}
        store.complete_intent(first, 3.0)
        assert [i.id for i in store.pending_intents("exp")] == [second]
        store.complete_intent(10**9, 3.0)  # unknown: ignored
        assert len(store.pending_intents("other")) == 1
