"""The multi-objective cards of the experiment page (tunery/ui/static/pareto.js) in a real
headless Chromium, over stored experiments and one run of examples/multiobjective by a real
controller.  With ``TUNERY_UPDATE_SCREENSHOTS=1`` the example's Pareto card is saved as
``docs/ui-pareto.png`` (and the three-objective matrix as ``docs/ui-pareto-matrix.png``)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import test_ui_browser
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
from tests.test_ui_browser import TOKEN, _served
from tunery.model import ExperimentCondition, MetricSummary, Trial, TrialCondition
from tunery.storage import Store

pytestmark = pytest.mark.browser

# The browser and page fixtures of the UI's browser tests (Chromium as they launch it).
browser = test_ui_browser.browser
page = test_ui_browser.page

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLE = ROOT / "examples" / "multiobjective"
#: The example's trials run here: 12, or the whole example (40) when the docs' pictures are
#: taken (``TUNERY_UPDATE_SCREENSHOTS=1``), so that they show what the example gives.
EXAMPLE_TRIALS = 40 if os.environ.get("TUNERY_UPDATE_SCREENSHOTS") == "1" else 12


@pytest.fixture(scope="module")
def mo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    """A served UI over ``mo2`` (accuracy against latency, a size constraint), ``mo3`` (three
    objectives), ``single`` (one objective) and ``example`` (examples/multiobjective run for
    real, 12 trials; all 40 when the docs' pictures are taken)."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from tests.helpers import create, native_doc
    from tunery.client import Client
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.ui.app import create_app

    tmp = tmp_path_factory.mktemp("pareto")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    store_experiment(store, tmp, "mo2", TWO, two_objective_rows(), CONSTRAINTS)
    store_experiment(store, tmp, "mo3", THREE, three_objective_rows())
    create(store, native_doc("single", "print('score=1')"), tmp)
    store_experiment(store, tmp, "con1", TWO[:1], two_objective_rows(), CONSTRAINTS)
    store_experiment(store, tmp, "livemo", TWO, two_objective_rows()[:6], CONSTRAINTS)
    store.set_experiment_status("livemo", ExperimentCondition.RUNNING, "ExperimentRunning", None)

    pytest.importorskip("sklearn", reason="the example trains a scikit-learn model")
    doc = yaml.safe_load((EXAMPLE / "experiment.yaml").read_text())
    doc["metadata"]["name"] = "example"
    doc["spec"]["maxTrialCount"] = EXAMPLE_TRIALS
    container = doc["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    container["containers"][0]["command"][0] = sys.executable
    client = Client(store=store)
    client.create_experiment(doc, base_dir=str(EXAMPLE), runs_dir=str(tmp / "runs"))
    Controller(store, "example", LocalExecutor(), poll_interval=0.05).run()

    app = create_app(store, TOKEN, runs_dir=str(tmp / "runs"))
    try:
        with _served(app) as base:
            yield base, store
    finally:
        store.close()


def _open(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/#/experiments/{name}")
    page.wait_for_selector("body[data-ready='experiment']")
    page.wait_for_selector("body[data-pareto='drawn']")


def _shot_of(page: Any, selector: str, tmp_path: Path, name: str) -> None:
    page.locator(selector).screenshot(path=str(tmp_path / f"ui-{name}.png"))
    if os.environ.get("TUNERY_UPDATE_SCREENSHOTS") == "1":
        page.locator(selector).screenshot(path=str(DOCS / f"ui-{name}.png"))


def _front_points(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(
        f"{selector} circle.front-point", "(cs) => cs.map((c) => c.dataset.trial)"
    )


def test_two_objectives_draw_exactly_the_front_joined_and_infeasible_marked(
    mo_site: tuple[str, Store], page: Any
) -> None:
    base, _ = mo_site
    _open(page, base, "mo2")
    rows = two_objective_rows()
    front = expected_front("mo2", TWO, rows, CONSTRAINTS)
    drawn = _front_points(page, "#pareto")
    assert len(drawn) == len(front) and set(drawn) == front  # the tie is drawn twice
    assert "mo2-0023" in drawn and "mo2-0017" in drawn  # equal points: both on the front
    chart = page.evaluate(
        "() => { const c = document.getElementById('pareto').tuneryChart;"
        " return {names: c.options.names, kind: c.options.kind}; }"
    )
    kinds = dict(zip(chart["names"], chart["kind"], strict=True))
    # The failed and the running trial have no values: not drawn.
    assert len(kinds) == len(rows)
    assert {n for n, k in kinds.items() if k == "infeasible"} == infeasible("mo2", rows)
    assert {n for n, k in kinds.items() if k == "front"} == front
    # The legend names the three kinds, the axes the objectives and their directions.
    legend = page.eval_on_selector_all("#pareto g.legend", "(gs) => gs.map((g) => g.dataset.kind)")
    assert legend == ["front", "feasible", "infeasible"]
    assert page.locator("#pareto text.xlabel").text_content() == "accuracy (maximize ↑)"
    assert page.locator("#pareto text.ylabel").text_content() == "latency_ms (minimize ↓)"
    # The step line visits every front point, from the most accurate down.
    path = page.locator("#pareto path.front-line").get_attribute("d")
    assert path.count("H") == len(front) - 1
    note = page.locator("#pareto-note").inner_text()
    assert f"{len(front)} of {len(rows)} finished trials on the Pareto front" in note
    assert "model_kb ≤ 100" in note and f"{len(infeasible('mo2', rows))} infeasible" in note


def test_the_front_step_line_corners_follow_the_directions(
    mo_site: tuple[str, Store], page: Any
) -> None:
    base, _ = mo_site
    _open(page, base, "mo2")
    # Each step: from a front point along x to the next one's x, then along y to it; between
    # two front points no feasible trial lies below-right (accuracy up, latency down).
    steps = page.evaluate(
        """() => {
          const c = document.getElementById('pareto').tuneryChart;
          return c.frontOrder().map((i) => [c.options.x[i], c.options.y[i]]);
        }"""
    )
    xs = [x for x, _ in steps]
    ys = [y for _, y in steps]
    assert xs == sorted(xs, reverse=True)  # the most accurate first
    assert ys == sorted(ys, reverse=True)  # then ever faster


def test_a_click_on_a_front_point_opens_its_trial(mo_site: tuple[str, Store], page: Any) -> None:
    base, _ = mo_site
    _open(page, base, "mo2")
    point = page.locator("#pareto circle.front-point").first
    name = point.get_attribute("data-trial")
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("body[data-ready='trial']")
    shown = page.locator("#trial-name").inner_text()
    assert shown == name or {shown, name} == {"mo2-0017", "mo2-0023"}  # the tie: either
    row = two_objective_rows()[int(shown[4:])]
    objectives = page.locator("#trial-objectives").inner_text()
    assert objectives == f"objectives {row['accuracy']}, {row['latency_ms']}"
    assert page.locator("#trial-infeasible").count() == 0
    # An infeasible trial says so on its page.
    page.goto(f"{base}/#/experiments/mo2/trials/mo2-0008")
    page.wait_for_selector("body[data-ready='trial']")
    assert page.locator("#trial-infeasible").inner_text() == "infeasible"


def test_three_objectives_draw_a_pairwise_matrix_with_the_whole_front(
    mo_site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, _ = mo_site
    _open(page, base, "mo3")
    rows = three_objective_rows()
    front = expected_front("mo3", THREE, rows)
    cells = page.locator("#pareto .pareto-cell:not(.empty)")
    assert cells.count() == 3
    pairs = [cells.nth(i).get_attribute("data-pair") for i in range(3)]
    assert pairs == ["f1 \u00d7 f2", "f1 \u00d7 f3", "f2 \u00d7 f3"]
    assert page.locator("#pareto .pareto-cell.empty").count() == 1
    for i in range(3):
        assert set(_front_points(page, f"#pareto .pareto-cell[data-pair='{pairs[i]}']")) == front
    assert page.locator("#pareto path.front-line").count() == 0  # no staircase in projections
    assert page.locator("#pareto text.ylabel").first.text_content() == "f2 (maximize ↑)"
    _shot_of(page, "#pareto-card", tmp_path, "pareto-matrix")


@pytest.mark.parametrize("name", ["mo2", "mo3", "example"])
def test_hypervolume_history_never_decreases_and_states_its_reference_point(
    mo_site: tuple[str, Store], page: Any, name: str
) -> None:
    base, _ = mo_site
    _open(page, base, name)
    data = page.evaluate(f"() => fetch('/api/experiments/{name}/pareto').then((r) => r.json())")
    chart = page.evaluate(
        "() => { const c = document.getElementById('hypervolume').tuneryChart;"
        " return {x: c.options.x, y: c.options.y}; }"
    )
    ys = chart["y"]
    assert ys and all(b >= a for a, b in itertools.pairwise(ys))
    assert ys[-1] == pytest.approx(data["hypervolume"]) and ys[-1] > 0
    assert chart["x"] == sorted(chart["x"])
    note = page.locator("#hypervolume-note").inner_text()
    for objective, value in zip(data["objectives"], data["referencePoint"], strict=True):
        assert objective["metric"] in note
        assert value is not None
    assert "reference point" in note


def test_parallel_coordinates_get_an_axis_per_objective(
    mo_site: tuple[str, Store], page: Any
) -> None:
    base, _ = mo_site
    _open(page, base, "mo3")
    page.wait_for_function("() => [...document.querySelectorAll('#parcoords g.axis')].length === 5")
    labels = page.eval_on_selector_all(
        "#parcoords g.axis", "(gs) => gs.map((g) => g.dataset.label)"
    )
    assert labels == ["x", "y", "f1 (minimize ↓)", "f2 (maximize ↑)", "f3 (minimize ↓)"]
    colour = page.locator("#parcoords g.colorbar text.title").text_content()
    assert colour == "f1"
    # Coloured by the first objective: f1 is minimized, so the better end is the bottom.
    assert page.locator("#parcoords g.colorbar").get_attribute("data-better") == "bottom"
    values = page.evaluate(
        "() => { const c = document.getElementById('parcoords').tuneryChart;"
        " return c.options.dims.slice(2).map((d) => Array.from(d.values)); }"
    )
    rows = three_objective_rows()
    for k, metric in enumerate(["f1", "f2", "f3"]):
        assert sorted(values[k]) == pytest.approx(sorted(row[metric] for row in rows))


def test_the_table_marks_the_front_and_the_infeasible_trials(
    mo_site: tuple[str, Store], page: Any
) -> None:
    base, _ = mo_site
    _open(page, base, "mo2")
    page.wait_for_selector("#trials .badge-front")
    rows = two_objective_rows()
    marked = page.eval_on_selector_all(
        "#trials tbody tr[data-trial]",
        "(rs) => rs.map((r) => [r.dataset.trial, r.querySelector('.badge')?.textContent || ''])",
    )
    marks = dict(marked)
    assert {n for n, m in marks.items() if m == "front"} == expected_front(
        "mo2", TWO, rows, CONSTRAINTS
    )
    assert {n for n, m in marks.items() if m == "infeasible"} == infeasible("mo2", rows)
    assert marks["mo2-0024"] == "" and marks["mo2-0025"] == ""  # failed, running
    assert "Pareto" in page.locator("#trials thead").inner_text()
    # No single "best" row for several objectives; sorting by the mark groups the front.
    assert page.locator("#trials tbody tr.best").count() == 0
    page.click("#trials th[data-key='pareto']")
    first = page.locator("#trials tbody tr[data-trial]").first.locator(".badge").inner_text()
    assert first == "front"


def test_a_single_objective_page_has_no_pareto_cards(mo_site: tuple[str, Store], page: Any) -> None:
    base, _ = mo_site
    page.goto(f"{base}/#/experiments/single")
    page.wait_for_selector("body[data-ready='experiment']")
    assert page.locator("#pareto-card, #hypervolume-card, #constraints-card").count() == 0
    assert "Pareto" not in page.locator("#trials thead").inner_text()


def test_the_example_run_for_real_shows_its_front(
    mo_site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, store = mo_site
    _open(page, base, "example")
    trials = [t for t in store.list_trials("example") if t.status.value == "Succeeded"]
    assert len(trials) == EXAMPLE_TRIALS
    rows = [{k: m.latest for k, m in t.metrics.items()} for t in trials]
    limit = [{"metric": "model_kb", "max": 1024}]
    front = {trials[int(n[2:])].name for n in expected_front("x", TWO, rows, limit)}
    assert set(_front_points(page, "#pareto")) == front
    for selector in ("#pareto-card", "#hypervolume-card"):
        page.locator(selector).scroll_into_view_if_needed()
    _shot_of(page, "#pareto-card", tmp_path, "pareto")
    _shot_of(page, "#hypervolume-card", tmp_path, "hypervolume")


def test_one_objective_with_a_constraint_marks_the_infeasible_and_never_picks_them(
    mo_site: tuple[str, Store], page: Any
) -> None:
    base, _ = mo_site
    _open(page, base, "con1")
    rows = two_objective_rows()
    assert page.locator("#pareto-card, #hypervolume-card").count() == 0
    note = page.locator("#constraints-card").inner_text()
    assert "model_kb ≤ 100" in note and f"{len(infeasible('mo2', rows))} of {len(rows)}" in note
    page.wait_for_selector("#trials .badge-infeasible")
    marks = dict(
        page.eval_on_selector_all(
            "#trials tbody tr[data-trial]",
            "(rs) => rs.map((r) => [r.dataset.trial, r.querySelector('.badge')?.textContent"
            " || ''])",
        )
    )
    assert {n for n, m in marks.items() if m} == {
        n.replace("mo2", "con1") for n in infeasible("mo2", rows)
    }
    assert set(marks.values()) == {"", "infeasible"}  # no "front" badge for one objective
    assert "feasible" in page.locator("#trials thead").inner_text()
    # The most accurate trials are too big: the highlighted best is the best feasible one.
    best = max(
        (i for i, row in enumerate(rows) if row["model_kb"] <= 100),
        key=lambda i: (rows[i]["accuracy"], -i),
    )
    page.wait_for_function(
        f"() => document.querySelector('#trials tr.best')?.dataset.trial === 'con1-{best:04d}'"
    )


def test_the_cards_follow_a_running_experiment(mo_site: tuple[str, Store], page: Any) -> None:
    base, store = mo_site
    _open(page, base, "livemo")
    before = set(_front_points(page, "#pareto"))
    # A new trial better than every other on both objectives: the front becomes it alone.
    values = {"accuracy": 0.99, "latency_ms": 0.5, "model_kb": 10.0}
    store.create_trial(
        Trial(
            name="livemo-0100",
            experiment="livemo",
            index=100,
            parameters={"x": 0.1, "y": 0.2},
            status=TrialCondition.SUCCEEDED,
            metrics={k: MetricSummary(v, v, v) for k, v in values.items()},
            objective=values["accuracy"],
        )
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#pareto circle.front-point')]"
        ".map((c) => c.dataset.trial).join() === 'livemo-0100'",
        timeout=20_000,
    )
    assert "livemo-0100" not in before
    assert page.locator("#trials tr[data-trial='livemo-0100'] .badge-front").count() == 1
    ys = page.evaluate("() => document.getElementById('hypervolume').tuneryChart.options.y")
    assert ys == sorted(ys) and len(ys) == 7


@pytest.mark.parametrize("graph", ["pareto", "hypervolume"])
def test_the_cards_download_as_png_and_svg(
    mo_site: tuple[str, Store], page: Any, graph: str
) -> None:
    base, _ = mo_site
    _open(page, base, "mo2")
    for kind in ("png", "svg"):
        button = page.locator(f"#{graph}").locator("xpath=..").locator(f"button.{kind}")
        with page.expect_download() as info:
            button.click()
        assert info.value.suggested_filename == f"mo2-{graph}.{kind}"
        data = Path(info.value.path()).read_bytes()
        assert data.startswith(b"\x89PNG" if kind == "png" else b"<svg")
