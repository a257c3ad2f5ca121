"""String objectives and NAS architectures in the UI (tunery/ui/static/nas.js and the trial
endpoint's ``architecture``), in a real headless Chromium over a real run: the genotype
experiment of tests/test_cli_nas.py run by a controller (each trial a real subprocess printing
``Best-Genotype=Genotype(...)``), and stored ENAS trials with Katib's architecture/nn_config.
With ``TUNERY_UPDATE_SCREENSHOTS=1`` the DARTS trial page is saved as ``docs/ui-nas-cell.png``.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import test_ui_browser
from tests.helpers import create, native_doc
from tests.test_cli_nas import TRIAL, genotype_of
from tests.test_nas_render import KATIB_ARCHITECTURE, KATIB_EMBEDDING, katib_nn_config
from tests.test_ui_browser import TOKEN, _served
from tunery.model import ExperimentCondition, MetricSummary, Trial, TrialCondition
from tunery.nas.render import parse_enas, parse_genotype
from tunery.storage import Store

pytestmark = pytest.mark.browser

browser = test_ui_browser.browser
page = test_ui_browser.page

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def nas_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    """``genotypes`` (run for real: three trials, each with a string objective) and ``enas``
    (two stored trials whose parameters are Katib's ENAS assignments)."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.ui.app import create_app

    tmp = tmp_path_factory.mktemp("nas")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    (tmp / "trial.py").write_text(textwrap.dedent(TRIAL))
    doc = native_doc(
        "genotypes",
        "",
        parameters=[
            {"name": "x", "parameterType": "int", "feasibleSpace": {"min": "0", "max": "2"}}
        ],
        objective={"type": "maximize", "objectiveMetricName": "Best-Genotype"},
        algorithm="grid",
        parallel=1,
        max_trials=3,
        extra_spec={
            "metricsCollectorSpec": {
                "collector": {"kind": "StdOut"},
                "source": {"filter": {"metricsFormat": [r"([\w-]+)=(Genotype.*)"]}},
            }
        },
    )
    doc["spec"]["trialTemplate"]["command"] = [
        sys.executable,
        str(tmp / "trial.py"),
        "--x=${trialParameters.x}",
    ]
    create(store, doc, tmp)
    Controller(store, "genotypes", LocalExecutor(), poll_interval=0.02).run()
    assert store.get_experiment("genotypes").status is ExperimentCondition.SUCCEEDED

    config = katib_nn_config(KATIB_EMBEDDING)
    enas = native_doc(
        "enas",
        "print('accuracy=0.5')",
        parameters=[
            {
                "name": "architecture",
                "parameterType": "categorical",
                "feasibleSpace": {"list": [KATIB_ARCHITECTURE]},
            },
            {
                "name": "nn_config",
                "parameterType": "categorical",
                "feasibleSpace": {"list": [config]},
            },
        ],
        objective={"type": "maximize", "objectiveMetricName": "accuracy"},
    )
    create(store, enas, tmp)
    store.create_trial(
        Trial(
            name="enas-0000",
            experiment="enas",
            index=0,
            parameters={"architecture": KATIB_ARCHITECTURE, "nn_config": config},
            status=TrialCondition.SUCCEEDED,
            metrics={"accuracy": MetricSummary(0.8, 0.8, 0.8)},
            objective=0.8,
        )
    )
    app = create_app(store, TOKEN, runs_dir=str(tmp / "runs"))
    try:
        with _served(app) as base:
            yield base, store
    finally:
        store.close()


def test_the_trial_endpoint_gives_the_string_objective_and_the_architecture(
    nas_site: tuple[str, Store],
) -> None:
    import httpx

    base, _ = nas_site
    got = httpx.get(f"{base}/api/experiments/genotypes/trials/genotypes-0002").json()
    assert got["objective"] is None and got["objectiveText"] == genotype_of(1)
    assert got["metrics"]["Best-Genotype"]["text"] == genotype_of(1)
    assert got["architecture"] == parse_genotype(genotype_of(1)).to_json()
    enas = httpx.get(f"{base}/api/experiments/enas/trials/enas-0000").json()
    config = katib_nn_config(KATIB_EMBEDDING)
    assert enas["architecture"] == parse_enas(KATIB_ARCHITECTURE, config).to_json()
    assert "objectiveText" not in enas
    exp = httpx.get(f"{base}/api/experiments/genotypes").json()
    assert exp["best"] is None  # no number
    assert exp["bestTrial"]["name"] == "genotypes-0003"
    assert exp["bestTrial"]["objectiveText"] == genotype_of(2)
    assert exp["bestHyperparameters"]["parameters"] == {"x": 2}


def test_the_table_elides_genotypes_and_marks_the_latest_as_best(
    nas_site: tuple[str, Store], page: Any
) -> None:
    base, _ = nas_site
    page.goto(f"{base}/#/experiments/genotypes")
    page.wait_for_selector("body[data-ready='experiment']")
    page.wait_for_selector("#trials tr[data-trial='genotypes-0003']")
    best = page.eval_on_selector_all("#trials tr.best", "(rs) => rs.map((r) => r.dataset.trial)")
    assert best == ["genotypes-0003"]  # Katib's rule: the latest string objective
    cells = page.eval_on_selector_all(
        "#trials td.elided", "(cs) => cs.map((c) => [c.textContent, c.title])"
    )
    # The objective and the Best-Genotype metric column of each trial: elided, whole as title.
    assert sorted(title for _, title in cells) == sorted([genotype_of(x) for x in range(3)] * 2)
    assert all(len(text) == 48 and text.endswith("…") for text, _ in cells)
    assert page.locator("#best-text").get_attribute("title") == genotype_of(2)


def test_a_darts_trial_page_lists_and_draws_its_cells(
    nas_site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, _ = nas_site
    page.goto(f"{base}/#/experiments/genotypes/trials/genotypes-0003")
    page.wait_for_selector("body[data-ready='trial']")
    page.wait_for_selector("#trial-architecture-card svg.nas-cell")
    genotype = parse_genotype(genotype_of(2))
    assert page.locator("#trial-architecture").inner_text().splitlines() == genotype.lines()
    assert page.locator("#trial-objective-text").get_attribute("title") == genotype_of(2)
    cells = page.eval_on_selector_all("svg.nas-cell", "(ss) => ss.map((s) => s.dataset.cell)")
    assert cells == ["normal", "reduce"]
    for kind, cell in (("normal", genotype.normal), ("reduce", genotype.reduce)):
        svg = f"svg.nas-cell[data-cell='{kind}']"
        ops = page.eval_on_selector_all(
            f"{svg} text.nas-op", "(ts) => ts.map((t) => t.textContent)"
        )
        assert ops == [op for edges in cell.nodes for op, _ in edges]  # one label per edge
        assert page.locator(f"{svg} path.nas-edge").count() == len(ops)
        nodes = page.eval_on_selector_all(f"{svg} g text", "(ts) => ts.map((t) => t.textContent)")
        assert nodes == ["c[k-2]", "c[k-1]", "2", "3", "c[k]"]
        # Each drawn edge starts at its source node's circle and ends at its node's.
        ends = page.eval_on_selector_all(
            f"{svg} path.nas-edge",
            "(ps) => ps.map((p) => { const n = p.getTotalLength();"
            " const a = p.getPointAtLength(0), b = p.getPointAtLength(n);"
            " return [a.x, a.y, b.x, b.y]; })",
        )
        centre = page.eval_on_selector_all(
            f"{svg} g circle",
            "(cs) => cs.map((c) => [+c.getAttribute('cx'), +c.getAttribute('cy')])",
        )
        edges = [(src, i + 2) for i, incoming in enumerate(cell.nodes) for _, src in incoming]
        for (x0, y0, x1, y1), (src, dst) in zip(ends, edges, strict=True):
            assert (round(x0), round(y0)) == tuple(round(v) for v in centre[src])
            assert (round(x1), round(y1)) == tuple(round(v) for v in centre[dst])
    page.locator("#trial-architecture-card").screenshot(path=str(tmp_path / "ui-nas-cell.png"))
    if os.environ.get("TUNERY_UPDATE_SCREENSHOTS") == "1":
        page.locator("#trial-architecture-card").screenshot(path=str(DOCS / "ui-nas-cell.png"))


def test_an_enas_trial_page_lists_its_layers(nas_site: tuple[str, Store], page: Any) -> None:
    base, _ = nas_site
    page.goto(f"{base}/#/experiments/enas/trials/enas-0000")
    page.wait_for_selector("body[data-ready='trial']")
    page.wait_for_selector("#trial-architecture")
    arc = parse_enas(KATIB_ARCHITECTURE, katib_nn_config(KATIB_EMBEDDING))
    assert page.locator("#trial-architecture").inner_text().splitlines() == arc.lines()
    assert page.locator("svg.nas-cell").count() == 0
