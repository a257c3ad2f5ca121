"""``GET /api/experiments/{name}/pareto`` (tunery/ui/routes/pareto.py) and the data behind it
(:func:`tunery.plots.pareto_data`): the front, feasibility, reference point, hypervolume history."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from tests.pareto_fixtures import (
    CONSTRAINTS,
    THREE,
    TWO,
    expected_front,
    infeasible,
    store_experiment,
    three_objective_rows,
    two_objective_rows,
)
from tunery.pareto import hypervolume, reference_point
from tunery.plots import pareto_data
from tunery.storage import Store

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from tunery.ui.app import create_app

LOCAL = "http://127.0.0.1"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    store_experiment(s, tmp_path, "mo2", TWO, two_objective_rows(), CONSTRAINTS)
    store_experiment(s, tmp_path, "mo3", THREE, three_objective_rows())
    return s


def _api(store: Store) -> TestClient:
    return TestClient(create_app(store, "token"), base_url=LOCAL)


def _brute_hypervolume(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """The union of the boxes [p, ref] by inclusion-exclusion (small sets only)."""
    total = 0.0
    inside = [p for p in points if all(a < r for a, r in zip(p, ref, strict=True))]
    for k in range(1, len(inside) + 1):
        for subset in itertools.combinations(inside, k):
            corner = [max(c) for c in zip(*subset, strict=True)]
            volume = 1.0
            for c, r in zip(corner, ref, strict=True):
                volume *= r - c
            total += (-1) ** (k + 1) * volume
    return total


def test_the_answer_holds_the_front_feasibility_and_the_history(store: Store) -> None:
    body = _api(store).get("/api/experiments/mo2/pareto").json()
    rows = two_objective_rows()
    assert body["objectives"] == TWO
    assert body["constraints"] == [{"metric": "model_kb", "min": None, "max": 100.0}]
    assert [t["name"] for t in body["trials"]] == [f"mo2-{i:04d}" for i in range(len(rows))]
    assert set(body["front"]) == expected_front("mo2", TWO, rows, CONSTRAINTS)
    assert {t["name"] for t in body["trials"] if not t["feasible"]} == infeasible("mo2", rows)
    for t, row in zip(body["trials"], rows, strict=True):
        assert t["values"] == [row["accuracy"], row["latency_ms"]]
        assert t["front"] == (t["name"] in body["front"])
    # The reference point: tunery.pareto's rule over the feasible losses, in the metrics' units.
    feasible = [(-r["accuracy"], r["latency_ms"]) for r in rows if r["model_kb"] <= 100]
    ref = reference_point(feasible)
    assert body["referencePoint"] == pytest.approx([-ref[0], ref[1]])
    assert body["hypervolume"] == pytest.approx(hypervolume(feasible, ref))
    history = body["history"]
    assert [h["index"] for h in history] == list(range(len(rows)))
    volumes = [h["hypervolume"] for h in history]
    assert volumes == sorted(volumes) and volumes[-1] == body["hypervolume"]
    # Each step is the hypervolume of the feasible trials so far (brute force).
    for k in (3, 9, 15):
        so_far = [(-r["accuracy"], r["latency_ms"]) for r in rows[: k + 1] if r["model_kb"] <= 100]
        assert volumes[k] == pytest.approx(_brute_hypervolume(so_far, ref))


def test_three_objectives_exact_hypervolume(store: Store) -> None:
    body = _api(store).get("/api/experiments/mo3/pareto").json()
    rows = three_objective_rows()
    losses = [(r["f1"], -r["f2"], r["f3"]) for r in rows]
    front = expected_front("mo3", THREE, rows)
    assert set(body["front"]) == front
    assert all(t["feasible"] for t in body["trials"])  # no constraints
    ref = reference_point(losses)
    small = [losses[int(n[4:])] for n in sorted(front)][:8]
    assert hypervolume(small, ref) == pytest.approx(_brute_hypervolume(small, ref))
    assert body["hypervolume"] == pytest.approx(hypervolume(losses, ref))


def test_no_feasible_trial_no_reference_point(tmp_path: Path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    rows = [{"accuracy": 0.9, "latency_ms": 3.0, "model_kb": 500.0}]
    store_experiment(s, tmp_path, "tight", TWO, rows, CONSTRAINTS, extra_trials=False)
    body = _api(s).get("/api/experiments/tight/pareto").json()
    assert body["front"] == [] and body["referencePoint"] is None
    assert body["hypervolume"] is None and body["history"] == []
    assert body["trials"][0]["feasible"] is False


def test_unknown_experiment_is_404(store: Store) -> None:
    answer = _api(store).get("/api/experiments/nope/pareto")
    assert answer.status_code == 404 and "nope" in answer.json()["detail"]


def test_the_route_is_in_the_openapi_document(store: Store) -> None:
    doc: dict[str, Any] = _api(store).get("/openapi.json").json()
    operation = doc["paths"]["/api/experiments/{name}/pareto"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ParetoOut")


def test_pareto_data_reads_the_trials_as_the_store_holds_them(store: Store) -> None:
    exp = store.get_experiment("mo2")
    data = pareto_data(exp.spec, store.list_trials("mo2"))
    assert {p.name for p in data.front} == expected_front(
        "mo2", TWO, two_objective_rows(), CONSTRAINTS
    )
    assert len(data.points) == len(two_objective_rows())  # failed and running left out


def test_a_long_history_is_sampled_and_ends_at_the_last_trial(tmp_path: Path) -> None:
    from tunery.plots import MAX_HISTORY

    s = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    n = MAX_HISTORY * 2 + 5
    rows = [
        {"accuracy": (i % 97) / 97, "latency_ms": ((i * 31) % 89) / 89, "model_kb": 1.0}
        for i in range(n)
    ]
    store_experiment(s, tmp_path, "long", TWO, rows, CONSTRAINTS, extra_trials=False)
    data = pareto_data(s.get_experiment("long").spec, s.list_trials("long"))
    assert len(data.history) <= MAX_HISTORY + 1
    assert [h[0] for h in data.history][:3] == [0, 3, 6]  # every third
    assert data.history[-1][0] == n - 1
    assert data.history[-1][2] == pytest.approx(data.hypervolume)
    volumes = [h[2] for h in data.history]
    assert volumes == sorted(volumes)


def test_the_experiment_json_agrees_with_the_pareto_answer(store: Store) -> None:
    api = _api(store)
    for name in ("mo2", "mo3"):
        exp = api.get(f"/api/experiments/{name}").json()
        body = api.get(f"/api/experiments/{name}/pareto").json()
        assert sorted(exp["paretoFront"]) == sorted(body["front"])
        assert exp["hypervolume"] == pytest.approx(body["hypervolume"])
        assert exp["referencePoint"] == pytest.approx(body["referencePoint"])
        assert [o["metric"] for o in exp["objectives"]] == [o["metric"] for o in body["objectives"]]
