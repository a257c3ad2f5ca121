"""The SDK's Pareto figures (tunery/plots.py: pareto_figure, hypervolume_figure) through
``ExperimentHandle.plot_pareto_front`` / ``plot_hypervolume_history``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import create, native_doc
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
from tunery.client import Client
from tunery.handle import ExperimentHandle
from tunery.storage import Store

pytest.importorskip("plotly")


@pytest.fixture
def client(tmp_path: Path) -> Client:
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    store_experiment(store, tmp_path, "mo2", TWO, two_objective_rows(), CONSTRAINTS)
    store_experiment(store, tmp_path, "mo3", THREE, three_objective_rows())
    create(store, native_doc("single", "print('score=1')"), tmp_path)
    return Client(store=store)


def _by_name(fig: object) -> dict[str, object]:
    return {trace.name: trace for trace in fig.data}  # type: ignore[attr-defined]


def test_two_objectives_scatter_front_joined_infeasible_crossed(client: Client) -> None:
    fig = ExperimentHandle(client, "mo2").plot_pareto_front()
    traces = _by_name(fig)
    rows = two_objective_rows()
    front = traces["Pareto front"]
    assert set(front.text) == expected_front("mo2", TWO, rows, CONSTRAINTS)
    assert front.mode == "lines+markers" and front.line.shape == "hv"
    # Along the step line: accuracy falls and latency falls (best accuracy first).
    assert list(front.x) == sorted(front.x, reverse=True)
    assert list(front.y) == sorted(front.y, reverse=True)
    crossed = traces["infeasible (violates a constraint)"]
    assert set(crossed.text) == infeasible("mo2", rows) and crossed.marker.symbol == "x"
    dominated = traces["dominated"]
    assert len(front.text) + len(crossed.text) + len(dominated.text) == len(rows)
    assert fig.layout.xaxis.title.text == "accuracy (maximize ↑)"
    assert fig.layout.yaxis.title.text == "latency_ms (minimize ↓)"


def test_three_objectives_pairwise_or_3d(client: Client) -> None:
    handle = ExperimentHandle(client, "mo3")
    fig = handle.plot_pareto_front()
    front = expected_front("mo3", THREE, three_objective_rows())
    panels = [t for t in fig.data if t.name == "Pareto front"]
    assert len(panels) == 3 and all(set(p.text) == front for p in panels)
    assert fig.layout.yaxis.title.text == "f2 (maximize ↑)"
    cube = handle.plot_pareto_front(three_d=True)
    assert {t.type for t in cube.data} == {"scatter3d"}
    assert cube.layout.scene.zaxis.title.text == "f3 (minimize ↓)"


def test_hypervolume_history_rises_and_names_the_reference_point(client: Client) -> None:
    fig = ExperimentHandle(client, "mo2").plot_hypervolume_history()
    (trace,) = fig.data
    ys = list(trace.y)
    assert ys == sorted(ys) and ys[-1] > 0
    assert list(trace.x) == list(range(len(two_objective_rows())))
    assert "reference point: accuracy " in fig.layout.title.text
    assert "latency_ms " in fig.layout.title.text


def test_one_objective_is_refused_in_one_line(client: Client) -> None:
    with pytest.raises(ValueError, match="has one objective; plot_pareto_front needs two"):
        ExperimentHandle(client, "single").plot_pareto_front()
