"""The SQL views of trials (tunery.storage.views): rows, JSON columns, counts, summaries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_storage_store import C, make_experiment, make_trial, open_store
from tunery.model import MetricSummary, Objective, ObjectiveType, Observation, Trial
from tunery.storage import Store, TrialChange, views
from tunery.ui import queries


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    yield from open_store(request, tmp_path)


def test_the_ui_sorts_by_view_keys() -> None:
    """The UI's camelCase sort keys translate to the views' snake_case ones, all of them."""
    assert set(queries.ORDER_COLUMNS.values()) == set(views.ORDER_COLUMNS)
    assert queries.ORDER_COLUMNS["createdTime"] == "created_time"


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
    read = views.trial_rows(store, "exp")
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
    only = views.trial_rows(store, "exp", statuses=[C.FAILED, "Running"]).rows
    assert [r.trial_index for r in only] == [1, 2]
    empty = views.trial_rows(store, "nothing")
    assert empty.rows == [] and empty.max_index is None and empty.max_completion is None


def test_trial_rows_changed_since(store: Store) -> None:
    _bulk_trials(store)
    # Active trials, later indexes, and finishes at or after the mark.
    since = views.trial_rows(store, "exp", changed_since=(4, 21.0)).rows
    assert [r.trial_index for r in since] == [1, 2, 3, 4, 5]
    since = views.trial_rows(store, "exp", changed_since=(5, 22.0)).rows
    assert [r.trial_index for r in since] == [2, 3, 4, 5]
    since = views.trial_rows(store, "exp", changed_since=(5, None)).rows
    assert [r.trial_index for r in since] == [0, 1, 2, 3, 4, 5]
    store.update_trial("exp", "exp-0002", TrialChange(status=C.KILLED, completion_time=30.0))
    since = views.trial_rows(store, "exp", changed_since=(5, 22.0), statuses=["Killed"]).rows
    assert [r.name for r in since] == ["exp-0002"]


def test_trial_rows_sorted_and_cut_by_the_database(store: Store) -> None:
    _bulk_trials(store)
    everything = views.trial_rows(store, "exp").rows

    def reference(column: str, descending: bool) -> list[str]:
        present = [r for r in everything if getattr(r, column) is not None]
        missing = [r.name for r in everything if getattr(r, column) is None]
        present.sort(key=lambda r: getattr(r, column), reverse=descending)  # stable: by index
        return [r.name for r in present] + missing

    for key, column in views.ORDER_COLUMNS.items():
        for descending in (False, True):
            got = views.trial_rows(store, "exp", order=(key, descending)).rows
            assert [r.name for r in got] == reference(column, descending), (key, descending)
    page = views.trial_rows(store, "exp", order=("objective", True), limit=2, offset=1)
    assert [r.name for r in page.rows] == reference("objective", True)[1:3]
    assert page.matched == len(everything)
    assert views.trial_rows(store, "exp").matched is None
    failed = views.trial_rows(store, "exp", statuses=["Failed"], limit=5)
    assert failed.matched == 1 and len(failed.rows) == 1


def test_trial_columns_match_trial_rows(store: Store) -> None:

    _bulk_trials(store)
    for kwargs in ({}, {"changed_since": (4, 22.0)}, {"statuses": ["Succeeded", "Created"]}):
        rows = views.trial_rows(store, "exp", **kwargs)  # type: ignore[arg-type]
        cols = views.trial_columns(store, "exp", **kwargs)  # type: ignore[arg-type]
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
    assert json.loads(views.trial_columns(store, "exp").columns["completion_ms"])[0] == 20_300
    empty = views.trial_columns(store, "nothing")
    assert empty.length == 0 and set(empty.columns.values()) == {"[]"}


def test_best_trial_and_summaries(store: Store) -> None:

    _bulk_trials(store)
    best = views.best_trial(store, "exp", Objective(ObjectiveType.MINIMIZE, "loss"))
    assert best is not None and best.name == "exp-0000"  # ties: the earliest
    assert best.metrics["loss"] == MetricSummary(0.25, 2.0, 0.25)
    best = views.best_trial(store, "exp", Objective(ObjectiveType.MAXIMIZE, "loss"))
    assert best is not None and best.name == "exp-0005"
    assert views.best_trial(store, "nothing", Objective(ObjectiveType.MINIMIZE, "loss")) is None
    summaries = views.trial_summaries(store)
    assert summaries["other"] == {"Succeeded": (1, -1.0, -1.0)}
    assert summaries["exp"]["Succeeded"] == (2, 0.25, 0.1 + 0.2)
    assert summaries["exp"]["Running"] == (1, None, None)
    assert "Killed" not in summaries["exp"]


def _observe(store: Store, trial: str, points: list[tuple[str, int, float | None]]) -> None:
    obs = [Observation(trial, metric, value, step) for metric, step, value in points]
    store.add_observations("exp", trial, obs, metrics={}, cursor=None)


def test_metric_curves_group_each_trials_observations_in_stored_order(store: Store) -> None:
    _bulk_trials(store)
    # Interleaved writes of two trials and two metrics, steps out of order, a missing value:
    # each curve keeps the order its points were stored in, whatever the others did between.
    _observe(store, "exp-0002", [("loss", 5, 1.5), ("acc", 5, 0.1)])
    _observe(store, "exp-0000", [("loss", 0, 2.0), ("loss", 1, 1 / 3)])
    _observe(store, "exp-0002", [("loss", 3, None), ("loss", 7, 0.25)])
    _observe(store, "exp-0000", [("acc", 0, 0.5), ("loss", 2, 1e-7)])
    _observe(store, "exp-0004", [("acc", 1, 0.9)])
    read = views.metric_curves(store, "exp", "loss")
    got = [
        (c.name, c.trial_index, c.status, c.stored, json.loads(c.steps), json.loads(c.values))
        for c in read.curves
    ]
    assert [g[:4] for g in got] == [
        ("exp-0000", 0, "Succeeded", 3),
        ("exp-0002", 2, "Running", 3),
    ]  # exp-0004 has no loss; trials by index
    assert got[0][4:] == ([0, 1, 2], [2.0, 1 / 3, 1e-7])
    assert got[1][4:] == ([5, 3, 7], [1.5, None, 0.25])
    assert [c.name for c in views.metric_curves(store, "exp", "acc").curves] == [
        "exp-0000",
        "exp-0002",
        "exp-0004",
    ]
    assert views.metric_curves(store, "exp", "nothing").curves == []
    assert read.counts["Running"] == 1 and (read.max_index, read.max_completion) == (5, 22.0)
    # Changed since: the running trial and those finished at or after the mark.
    since = views.metric_curves(store, "exp", "acc", changed_since=(5, 22.0)).curves
    assert [c.name for c in since] == ["exp-0002", "exp-0004"]
    assert views.metric_curves(store, "other", "loss").curves == []


def test_active_curve_marks_move_with_every_point_of_a_running_trial(store: Store) -> None:
    _bulk_trials(store)
    _observe(store, "exp-0002", [("loss", 0, 1.0)])
    _observe(store, "exp-0000", [("loss", 0, 1.0)])  # finished: not in the marks
    before = views.active_curve_marks(store, "exp", "loss")
    assert [m[:2] for m in before] == [("exp-0002", 1)]
    _observe(store, "exp-0002", [("loss", 1, 1.0)])  # the same value: the summary may not move
    after = views.active_curve_marks(store, "exp", "loss")
    assert [m[:2] for m in after] == [("exp-0002", 2)] and after[0][2] > before[0][2]
    assert views.active_curve_marks(store, "exp", "acc") == ()


def _progress_trials(store: Store) -> None:
    """Trials of every kind for :func:`views.progress`, with observations of ``loss``."""
    from tunery.model import Observation, TrialReason

    store.create_experiment(make_experiment())
    for trial in (
        make_trial(0, status=C.SUCCEEDED, objective=0.5, start_time=10.0, completion_time=14.0),
        make_trial(1, status=C.EARLY_STOPPED, objective=0.2, start_time=11.0,
                   completion_time=13.0),
        make_trial(2, status=C.FAILED, start_time=12.0, completion_time=18.0),
        make_trial(3, status=C.KILLED, reason=TrialReason.INTERRUPTED.value, start_time=12.0,
                   completion_time=30.0),
        make_trial(4, status=C.KILLED, reason="Killed", start_time=13.0, completion_time=15.0),
        make_trial(5, status=C.RUNNING, parameters={"x": 0.25}, start_time=20.0),
        make_trial(6, status=C.RUNNING, start_time=21.0),
        make_trial(7, status=C.CREATED),
    ):  # fmt: skip
        store.create_trial(trial)
    for step, value in enumerate([3.0, 2.0, None, 1.5]):
        store.add_observations(
            "exp",
            "exp-0005",
            [Observation("exp-0005", "loss", value, step), Observation("exp-0005", "acc", 9.0, 7)],
            metrics={"loss": MetricSummary(1.5, 3.0, value)},
            cursor=None,
        )


def test_progress_reads_new_watched_and_active_trials_with_their_latest_report(
    store: Store,
) -> None:
    _progress_trials(store)
    got = views.progress(store, "exp", "loss")
    assert [r.name for r in got.rows] == [f"exp-{i:04d}" for i in range(8)]
    assert got.rows[3] == ("exp-0003", 3, "Killed", "Interrupted", {"x": 3.5}, None, 12.0, 30.0)
    assert got.rows[5].parameters == {"x": 0.25} and got.rows[0].objective == 0.5
    # The last stored observation of the metric, for the active trials only.
    assert got.latest == {"exp-0005": (1.5, 3)}
    # After index 6, watching exp-0001 (finished since) and exp-0005: those, the active
    # ones and the new one.
    later = views.progress(store, "exp", "loss", after_index=6, watch=["exp-0001", "exp-0005"])
    assert [r.name for r in later.rows] == ["exp-0001", "exp-0005", "exp-0006", "exp-0007"]
    assert views.progress(store, "exp", "acc").latest == {"exp-0005": (9.0, 7)}
    assert views.progress(store, "nothing", "loss") == views.ProgressRead([], {})
    # The stored spec's text comes with it: the same text until the spec is stored again.
    from dataclasses import replace

    from tunery.storage.codec import spec_from_json

    exp = store.get_experiment("exp")
    text = got.spec_text
    assert text is not None and spec_from_json(json.loads(text)) == exp.spec
    assert views.progress(store, "exp", "loss").spec_text == text
    store.update_experiment_spec("exp", replace(exp.spec, max_trial_count=77), exp.document)
    edited = views.progress(store, "exp", "loss").spec_text
    assert edited != text and spec_from_json(json.loads(edited or "{}")).max_trial_count == 77
    # And the driven seconds of the time budget, read out of the algorithm's state.
    from tunery.model import DRIVEN_SECONDS_KEY

    assert views.progress(store, "exp", "loss").driven_seconds == 0.0  # never recorded
    store.save_algorithm_state("exp", {"mean": [0.1] * 100, DRIVEN_SECONDS_KEY: 42.25})
    assert views.progress(store, "exp", "loss").driven_seconds == 42.25


def test_count_seeds_counts_succeeded_warm_started_trials(store: Store) -> None:
    from tunery.model import TrialReason

    for key in ("exp", "other"):
        store.create_experiment(make_experiment(key))
    for i, (status, reason) in enumerate(
        [
            (C.SUCCEEDED, TrialReason.WARM_STARTED),
            (C.SUCCEEDED, TrialReason.WARM_STARTED),
            (C.SUCCEEDED, TrialReason.SUCCEEDED),
            (C.FAILED, TrialReason.WARM_STARTED),  # not a seed: not a result
        ]
    ):
        store.create_trial(make_trial(i, status=status, reason=reason.value))
    assert views.count_seeds(store) == {"exp": 2}
    assert views.count_seeds(store, "exp") == {"exp": 2}
    assert views.count_seeds(store, "other") == {}


def test_pareto_front_of_stored_trials_is_the_brute_force_feasible_front(tmp_path: Path) -> None:
    """Property: whatever trials are stored, ``views.pareto_front`` (and the best feasible
    trial) equal a brute-force computation over what the store gives back."""
    from dataclasses import replace

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tunery.model import Constraint, MetricStrategyType, ObjectiveTerm

    objective = Objective(
        ObjectiveType.MAXIMIZE,
        "acc",
        terms=(
            ObjectiveTerm("acc", ObjectiveType.MAXIMIZE, None, MetricStrategyType.MAX),
            ObjectiveTerm("lat", ObjectiveType.MINIMIZE, None, MetricStrategyType.MIN),
        ),
        constraints=(Constraint("mem", max=2.0),),
    )
    base = make_experiment("mo")
    exp = replace(base, spec=replace(base.spec, objective=objective))
    value = st.one_of(st.none(), st.integers(0, 4).map(float))
    rows = st.lists(
        st.tuples(
            st.sampled_from([C.SUCCEEDED, C.EARLY_STOPPED, C.FAILED, C.RUNNING]),
            value,
            value,
            value,
        ),
        max_size=10,
    )
    counter = iter(range(10**6))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows)
    def check(drawn: list[tuple[C, float | None, float | None, float | None]]) -> None:
        store = Store(str(tmp_path / f"p{next(counter)}.db"))
        store.create_experiment(exp)
        for i, (status, acc, lat, mem) in enumerate(drawn):
            metrics = {
                k: MetricSummary().add(v)
                for k, v in (("acc", acc), ("lat", lat), ("mem", mem))
                if v is not None
            }
            store.create_trial(make_trial(i, "mo", status=status, metrics=metrics, objective=acc))
        stored = store.list_trials("mo")

        def point(t: Trial) -> tuple[float, float] | None:
            m = t.metrics
            if t.status not in (C.SUCCEEDED, C.EARLY_STOPPED) or not {"acc", "lat", "mem"} <= set(
                m
            ):
                return None
            if m["mem"].latest > 2.0:  # type: ignore[operator]
                return None
            return (-m["acc"].max, m["lat"].min)  # type: ignore[operator]

        points = {t.name: p for t in stored if (p := point(t)) is not None}

        def beaten(p: tuple[float, float]) -> bool:
            return any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points.values())

        expected = [name for name, p in points.items() if not beaten(p)]
        assert [t.name for t in views.pareto_front(store, "mo", objective)] == expected
        best = views.best_trial(store, "mo", objective)
        if expected:
            assert best is not None and best.name in expected
            assert points[best.name][0] == min(points[n][0] for n in expected)
        else:
            assert best is None
        store.close()

    check()


def test_best_trial_with_a_string_objective_is_the_latest_one_as_on_katib(store: Store) -> None:
    """views.best_trial (SQL) agrees with tunery.model.best_trial: the latest finished trial
    with a string objective, before any number; rows and columns carry the text."""
    from tunery import wire
    from tunery.model import best_trial

    made = _bulk_trials(store)  # numeric objectives
    genotype = (
        "Genotype(normal=[[('skip_connect',0)]],normal_concat=[2],reduce=[],reduce_concat=[])"
    )
    summary = MetricSummary(None, None, None, genotype)
    for index, status in ((6, C.SUCCEEDED), (7, C.EARLY_STOPPED), (8, C.FAILED), (9, C.RUNNING)):
        trial = make_trial(
            index, status=status, objective_text=f"{genotype}#{index}", metrics={"loss": summary}
        )
        store.create_trial(trial)
        made.append(trial)
    for direction in ObjectiveType:
        objective = Objective(direction, "loss")
        best = views.best_trial(store, "exp", objective)
        assert best is not None and best.name == "exp-0007"
        assert best == best_trial(objective, store.list_trials("exp"))
        assert best.objective_text == f"{genotype}#7"
    rows = {r.name: r for r in views.trial_rows(store, "exp").rows}
    assert rows["exp-0007"].metrics["loss"] == summary.to_json()
    objective = Objective(ObjectiveType.MAXIMIZE, "loss")
    row_json = wire.trial_row_json(rows["exp-0007"], objective)
    assert row_json["objectiveText"] == genotype  # the summary's text (the row has no column)
    assert "objectiveText" not in wire.trial_row_json(rows["exp-0000"], objective)
    columns = views.trial_columns(store, "exp", fields=("name", "metrics"))
    names, summaries = (json.loads(columns.columns[k]) for k in ("name", "metrics"))
    metrics = dict(zip(names, summaries, strict=True))
    assert metrics["exp-0006"]["loss"]["text"] == genotype
    obs = [Observation("exp-0006", "loss", None, 0, 1.0, genotype)]
    store.add_observations("exp", "exp-0006", obs, metrics={"loss": summary}, cursor=None)
    assert store.observation_series("exp", "exp-0006", 10)["loss"].points == obs
