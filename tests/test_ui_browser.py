"""The UI in a real headless Chromium (Playwright), against a real experiment's database.

Skips when Playwright or Chromium is missing (fails instead under ``TUNERY_REQUIRE_SYSTEM=1``).
Screenshots of each page go to the test's tmp dir; with ``TUNERY_UPDATE_SCREENSHOTS=1`` the
experiment page's is also saved as ``docs/ui-experiment.png`` (and the others next to it).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_system
from tests.helpers import create, native_doc
from tunery.model import ExperimentCondition, MetricSummary, Observation, Trial, TrialCondition
from tunery.storage import Store, TrialChange

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("TUNERY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-token"
EVIL = "<img src=x onerror=alert(1)>"
DOCS = Path(__file__).resolve().parents[1] / "docs"

SCRIPT = """
import math, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
lr, layers = float(args["lr"]), int(args["layers"])
final = (math.log10(lr) + 2.5) ** 2 / 4 + 0.05 * layers + (0.2 if args["opt"] == "sgd" else 0.0)
for step in range(8):
    print(f"epoch={step} loss={final + math.exp(-step / 2)} accuracy={1 - final / 3}", flush=True)
"""
PARAMS = [
    {
        "name": "lr",
        "parameterType": "double",
        "feasibleSpace": {"min": "0.0001", "max": "0.1", "distribution": "logUniform"},
    },
    {"name": "layers", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "6"}},
    {
        "name": "opt",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["sgd", "adam", EVIL]},
    },
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    """A served UI over: ``demo`` (a finished real experiment), ``live`` (running, with a
    running trial) and an experiment whose name is markup."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.ui.app import create_app

    tmp = tmp_path_factory.mktemp("browser")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    doc = native_doc(
        "demo",
        SCRIPT,
        parameters=copy.deepcopy(PARAMS),
        objective={
            "type": "minimize",
            "objectiveMetricName": "loss",
            "additionalMetricNames": ["accuracy"],
        },
        parallel=4,
        max_trials=16,
    )
    demo = replace(create(store, doc, tmp), created_time=time.time())
    store.delete_experiment("demo")
    store.create_experiment(demo)
    Controller(store, "demo", LocalExecutor(), poll_interval=0.02).run()

    live_doc = copy.deepcopy(doc)
    live_doc["metadata"]["name"] = "live"
    create(store, live_doc, tmp)
    store.set_experiment_status("live", ExperimentCondition.RUNNING, "ExperimentRunning", None)
    store.create_trial(
        Trial(
            name="live-0000",
            experiment="live",
            index=0,
            parameters={"lr": 0.01, "layers": 2, "opt": EVIL},
            status=TrialCondition.RUNNING,
            message=EVIL,
        )
    )
    store.create_trial(
        Trial(
            name="live-0001",
            experiment="live",
            index=1,
            parameters={"lr": 0.01, "layers": 2, "opt": "sgd"},
            status=TrialCondition.FAILED,
            reason="ExitCode",
            message=f"exit code 1: ModuleNotFoundError: {EVIL}",
        )
    )
    # A name no spec allows, as a database written by something else could hold.
    store.create_experiment(replace(demo, name=EVIL, spec=replace(demo.spec, name=EVIL)))
    for index in range(2):
        store.create_trial(
            Trial(
                name=f"{EVIL}-{index}",
                experiment=EVIL,
                index=index,
                parameters={"lr": 0.01, "layers": 2 + index, "opt": EVIL},
                status=TrialCondition.SUCCEEDED,
                metrics={"loss": MetricSummary(0.5 + index, 0.5 + index, 0.5 + index)},
                objective=0.5 + index,
            )
        )

    # Maximized, with an int parameter of three values and three trials (a fractional tick
    # would fall between them on either axis).
    max_doc = native_doc(
        "maxdemo",
        SCRIPT,
        parameters=[
            {"name": "units", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "3"}},
            copy.deepcopy(PARAMS[0]),
        ],
        objective={"type": "maximize", "objectiveMetricName": "accuracy"},
    )
    create(store, max_doc, tmp)
    for index, (units, lr, accuracy) in enumerate([(1, 1e-3, 0.7), (3, 3e-2, 0.9), (2, 1e-4, 0.4)]):
        store.create_trial(
            Trial(
                name=f"maxdemo-{index}",
                experiment="maxdemo",
                index=index,
                parameters={"units": units, "lr": lr},
                status=TrialCondition.SUCCEEDED,
                metrics={"accuracy": MetricSummary(accuracy, accuracy, accuracy)},
                objective=accuracy,
            )
        )

    _curves_experiment(store, doc, tmp)

    app = create_app(store, TOKEN, runs_dir=str(tmp / "runs"))
    try:
        with _served(app) as base:
            yield base, store
    finally:
        store.close()


def _curves_experiment(store: Store, doc: dict[str, Any], tmp: Path) -> None:
    """``curves``: learning curves as an early-stopping run leaves them: nine trials that
    finished their ten epochs, three stopped early (their loss stays high), one running."""
    curves_doc = copy.deepcopy(doc)
    curves_doc["metadata"]["name"] = "curves"
    create(store, curves_doc, tmp)
    store.set_experiment_status("curves", ExperimentCondition.RUNNING, "ExperimentRunning", None)
    plan = [(TrialCondition.SUCCEEDED, 10)] * 9 + [(TrialCondition.EARLY_STOPPED, 4)] * 3
    plan.append((TrialCondition.RUNNING, 3))
    for index, (status, steps) in enumerate(plan):
        lr = 10 ** (-4 + 3 * ((index * 7) % 13) / 12)
        layers = 1 + (index * 5) % 6
        opt = ["sgd", "adam"][index % 2]
        final = (math.log10(lr) + 2.5) ** 2 / 4 + 0.05 * layers + (0.2 if opt == "sgd" else 0.0)
        if status is not TrialCondition.SUCCEEDED:
            final += 0.6 if status is TrialCondition.EARLY_STOPPED else 0.3
        losses = [final + math.exp(-step / 2.5) for step in range(steps)]
        name = f"curves-{index:04d}"
        finished = status is not TrialCondition.RUNNING
        store.create_trial(
            Trial(
                name=name,
                experiment="curves",
                index=index,
                parameters={"lr": lr, "layers": layers, "opt": opt},
                status=status,
                objective=min(losses) if finished else None,
                metrics={"loss": MetricSummary(min(losses), max(losses), losses[-1])},
                start_time=1_700_000_000.0 + index * 5,
                completion_time=1_700_000_000.0 + index * 5 + steps if finished else None,
            )
        )
        store.add_observations(
            "curves",
            name,
            [Observation(name, "loss", v, step) for step, v in enumerate(losses)],
            metrics={"loss": MetricSummary(min(losses), max(losses), losses[-1])},
            cursor=None,
        )


@pytest.fixture(scope="module")
def private_site(
    site: tuple[str, Store], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Store]]:
    """The same database served as ``tunery ui --host 0.0.0.0`` serves it: every read needs
    the token (on 127.0.0.1 here)."""
    from tunery.ui.app import create_app

    runs = tmp_path_factory.mktemp("private") / "runs"
    app = create_app(site[1], TOKEN, runs_dir=str(runs), reads_need_token=True)
    with _served(app) as base:
        yield base, site[1]


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 (a free port) in a thread; its base URL."""
    uvicorn = pytest.importorskip("uvicorn")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the UI server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_system("the playwright package is missing (pip install playwright)")
    if not os.path.exists(CHROMIUM) and not shutil.which("chromium"):
        require_system(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = context.new_page()
    p.set_default_timeout(30_000)
    p.dialogs = []
    p.errors = []

    def on_dialog(dialog: Any) -> None:
        p.dialogs.append(dialog.message)
        dialog.dismiss()

    p.on("dialog", on_dialog)
    p.on("pageerror", lambda exc: p.errors.append(str(exc)))

    def on_console(message: Any) -> None:
        # A script the page's Content-Security-Policy refused (eval, inline code, a foreign
        # origin) is a fault of the page, even where the script caught the error.
        if message.type == "error" and "Content Security Policy" in message.text:
            p.errors.append(message.text)

    p.on("console", on_console)
    try:
        yield p
    finally:
        assert p.errors == []
        context.close()


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"ui-{name}.png"), full_page=name != "experiment")
    if os.environ.get("TUNERY_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"ui-{name}.png"), full_page=name != "experiment")


def _shot_of(page: Any, selector: str, tmp_path: Path, name: str) -> None:
    """A screenshot of one element, to the test's tmp dir (and docs/ under the variable)."""
    page.locator(selector).screenshot(path=str(tmp_path / f"ui-{name}.png"))
    if os.environ.get("TUNERY_UPDATE_SCREENSHOTS") == "1":
        page.locator(selector).screenshot(path=str(DOCS / f"ui-{name}.png"))


def _open_experiment(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/#/experiments/{name}")
    page.wait_for_selector("body[data-ready='experiment']")


def test_list_experiment_graphs_table_and_trial(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, store = site
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='list']")
    assert page.locator("#experiments tbody tr").count() >= 3
    _shot(page, tmp_path, "list")

    page.get_by_role("link", name="demo", exact=True).click()
    page.wait_for_selector("body[data-ready='experiment']")
    # Graphs come after the table: lines on a canvas, axes and brushes in SVG.
    page.wait_for_selector("body[data-graphs='drawn']")
    page.wait_for_selector("body[data-curves='drawn']")
    axes = page.locator("#parcoords svg.overlay g.axis")
    assert axes.count() == 4  # lr (log10), layers, opt and the objective
    assert page.locator("#parcoords g.axis").first.get_attribute("data-label") == "log10 lr"
    assert page.locator("#parcoords canvas").count() == 1
    assert page.locator("#history path.best-line").count() == 1
    assert page.locator("#importance rect.bar").count() == 3
    assert not page.evaluate(
        "[...document.querySelectorAll('#parcoords canvas, #history canvas')].every((c) =>"
        " c.getContext('2d').getImageData(0, 0, c.width, c.height).data.every((v) => v === 0))"
    )  # something was drawn
    rows = page.locator("#trials tbody tr[data-trial]")
    assert rows.count() == 16
    best = store.list_trials("demo")
    best_name = min(
        (t for t in best if t.objective is not None), key=lambda t: (t.objective, t.index)
    ).name
    assert page.locator("#trials tbody tr.best").get_attribute("data-trial") == best_name
    assert "--lr=" in page.locator("#best-cli").inner_text()
    assert "apiVersion" in page.locator("#experiment-yaml").inner_text()
    _shot(page, tmp_path, "experiment")

    # Sort by objective, ascending then descending.
    def objectives() -> list[float]:
        col = page.locator("#trials thead th").all_inner_texts().index("objective")
        cells = page.locator(f"#trials tbody tr td:nth-child({col + 1})").all_inner_texts()
        return [float(c) for c in cells]

    page.click("#trials th[data-key='objective']")
    assert objectives() == sorted(objectives())
    assert len(objectives()) == 16
    page.click("#trials th[data-key='objective']")
    assert objectives() == sorted(objectives(), reverse=True)
    assert page.locator("#trials tbody tr").first.get_attribute("data-trial") != best_name

    # Filter by a parameter.
    page.select_option("#filter-column", "param:layers")
    page.select_option("#filter-op", "<=")
    page.fill("#filter-value", "3")
    shown = page.locator("#trials tbody tr[data-trial]").count()
    assert shown == sum(1 for t in best if int(t.parameters["layers"]) <= 3)
    page.fill("#filter-value", "")

    # Brush the objective's axis (the last): the table keeps the trials in the range.
    page.locator("#parcoords").scroll_into_view_if_needed()
    area = page.locator("#parcoords g.axis").last.locator("rect.brush-area").bounding_box()
    x = area["x"] + area["width"] / 2
    page.mouse.move(x, area["y"] + area["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(x, area["y"] + area["height"] * 0.8, steps=5)
    page.mouse.move(x, area["y"] + area["height"] * 1.0, steps=5)
    page.mouse.up()
    page.wait_for_selector("#parcoords rect.brush")
    kept = page.locator("#trials tbody tr[data-trial]").count()
    assert 0 < kept < 16
    note = page.locator("#parcoords-note").inner_text()
    assert f"{kept} of 16 trials in the selected ranges" in note
    assert "selection" in page.locator("#trial-count").inner_text()
    # The brush covers the lowest half of the objectives: the kept ones are the best.
    losses = sorted(t.objective for t in best if t.objective is not None)
    col = page.locator("#trials thead th").all_inner_texts().index("objective")
    cells = page.locator(f"#trials tbody tr td:nth-child({col + 1})").all_inner_texts()
    assert max(float(c) for c in cells) <= losses[kept] + 1e-6
    # A click on the axis clears it.
    page.mouse.click(x, area["y"] + area["height"] * 0.3)
    page.wait_for_function("() => document.querySelectorAll('#parcoords rect.brush').length === 0")
    assert page.locator("#trials tbody tr[data-trial]").count() == 16

    # Every graph downloads as PNG and SVG.
    for graph in (
        "parcoords",
        "history",
        "importance",
        "edf",
        "timeline",
        "contour",
        "intermediate",
    ):
        for kind in ("png", "svg"):
            button = page.locator(f"#{graph}").locator("xpath=..").locator(f"button.{kind}")
            with page.expect_download() as info:
                button.click()
            download = info.value
            assert download.suggested_filename == f"demo-{graph}.{kind}"
            data = Path(download.path()).read_bytes()
            assert data.startswith(b"\x89PNG" if kind == "png" else b"<svg")
    # And the trials, as the server exports them.
    with page.expect_download() as info:
        page.get_by_text("Export JSON").click()
    assert info.value.suggested_filename == "demo-trials.json"
    assert len(json.loads(Path(info.value.path()).read_text())) == 16

    # Open the best trial.
    page.locator("#trials tbody tr.best a").click()
    page.wait_for_selector("body[data-ready='trial']")
    assert page.locator("#trial-name").inner_text() == best_name
    page.wait_for_selector("#curves .curve .main-svg")
    assert page.locator("#curves .curve").count() == 2  # loss and accuracy
    assert "epoch=7 loss=" in page.locator("#trial-log").inner_text()
    assert page.locator("#kill-trial").is_disabled()
    _shot(page, tmp_path, "trial")


COLOUR_MAPPING = """() => {
  const chart = document.getElementById("parcoords").tuneryChart;
  const bar = document.querySelector("#parcoords g.colorbar");
  const box = bar.querySelector("rect").getBBox();
  const better = bar.querySelector("text.better");
  return {
    objectives: Array.from(chart.options.color),
    colours: chart.options.color.map((_, i) => chart.lineColour(i)),
    top: box.y, bottom: box.y + box.height,
    betterY: Number(better.getAttribute("y")), betterText: better.textContent,
    stops: [...document.querySelectorAll("#parcoords linearGradient stop")].map(
      (s) => [Number(s.getAttribute("offset")), s.getAttribute("stop-color")]),
    ticks: [...bar.querySelectorAll("text.tick")].map(
      (t) => [Number(t.textContent), Number(t.getAttribute("y"))]),
  };
}"""
YELLOW = (253, 231, 37)  # Viridis' better end
PURPLE = (68, 1, 84)


def _rgb(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text[text.index("(") + 1 : text.index(")")].split(","))


def _near(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 24


@pytest.mark.parametrize(("name", "direction"), [("demo", "minimize"), ("maxdemo", "maximize")])
def test_colour_bar_gives_the_better_end_to_the_better_trials(
    site: tuple[str, Store], page: Any, tmp_path: Path, name: str, direction: str
) -> None:
    base, _ = site
    _open_experiment(page, base, name)
    page.wait_for_selector("body[data-graphs='drawn']")
    m = page.evaluate(COLOUR_MAPPING)
    objectives = m["objectives"]
    pick = min if direction == "minimize" else max
    best = objectives.index(pick(objectives))
    worst = objectives.index((max if pick is min else min)(objectives))
    # The best trial's line is at the good (yellow) end, the worst one's at the other.
    assert _near(_rgb(m["colours"][best]), YELLOW), m["colours"][best]
    assert _near(_rgb(m["colours"][worst]), PURPLE), m["colours"][worst]
    # On the bar, values rise upwards (the lowest tick is the lowest on the page) ...
    ticks = sorted(m["ticks"])
    assert len(ticks) >= 2 and ticks[0][1] > ticks[-1][1]
    # ... the end where the best value is has the best trial's colour, and says "better".
    best_at_bottom = direction == "minimize"
    stops = sorted(m["stops"])  # offset 0 is the bottom of the bar
    good, bad = (stops[0], stops[-1]) if best_at_bottom else (stops[-1], stops[0])
    assert _near(_rgb(good[1]), _rgb(m["colours"][best]))
    assert _near(_rgb(bad[1]), _rgb(m["colours"][worst]))
    assert "better" in m["betterText"]
    if best_at_bottom:
        assert m["betterY"] > m["bottom"] and "\u25bc" in m["betterText"]
    else:
        assert m["betterY"] < m["top"] and "\u25b2" in m["betterText"]
    _shot_of(page, "#parcoords", tmp_path, f"parcoords-{direction}")


def _tick_texts(page: Any, selector: str) -> list[str]:
    return [t for t in page.locator(selector).all_text_contents() if t]


def test_integer_axes_have_whole_ticks_and_log_axes_real_values(
    site: tuple[str, Store], page: Any
) -> None:
    base, _ = site
    _open_experiment(page, base, "maxdemo")
    page.wait_for_selector("body[data-graphs='drawn']")
    units = _tick_texts(page, "#parcoords g.axis[data-label='units'] text.tick")
    assert units == ["1", "2", "3"]
    indices = _tick_texts(page, "#history text.xtick")
    assert indices == ["0", "1", "2"]
    # The log parameter: drawn on log10, labelled with the values themselves.
    lr = [float(t) for t in _tick_texts(page, "#parcoords g.axis[data-label='log10 lr'] text.tick")]
    assert len(lr) >= 2 and all(1e-4 <= v <= 3e-2 for v in lr)
    # Round values: whole decades, or 1-2-5 steps within fewer than two decades.
    assert all(float(f"{v:.0e}") == pytest.approx(v) and f"{v:.0e}"[0] in "125" for v in lr)
    _open_experiment(page, base, "demo")
    page.wait_for_selector("body[data-graphs='drawn']")
    layers = _tick_texts(page, "#parcoords g.axis[data-label='layers'] text.tick")
    assert layers and all(float(t).is_integer() for t in layers)
    lr = [float(t) for t in _tick_texts(page, "#parcoords g.axis[data-label='log10 lr'] text.tick")]
    assert len(lr) >= 2
    assert all(float(f"{v:.0e}") == pytest.approx(v) and f"{v:.0e}"[0] in "125" for v in lr)


def test_edf_is_the_sorted_objectives_and_their_cumulative_fraction(
    site: tuple[str, Store], page: Any
) -> None:
    base, store = site
    _open_experiment(page, base, "demo")
    page.wait_for_selector("body[data-graphs='drawn']")
    edf = page.evaluate(
        "(() => { const o = document.getElementById('edf').tuneryChart.options;"
        " return {x: o.x, y: o.y, names: o.names}; })()"
    )
    finished = sorted(
        (t for t in store.list_trials("demo") if t.objective is not None),
        key=lambda t: (t.objective, t.index),
    )
    assert edf["x"] == pytest.approx([t.objective for t in finished])
    assert edf["names"] == [t.name for t in finished]
    assert edf["y"] == pytest.approx([(i + 1) / len(finished) for i in range(len(finished))])
    assert page.locator("#edf path.best-line").count() == 1
    assert "fraction at or below" in page.locator("#edf svg.overlay").text_content()
    assert page.locator("#edf canvas").count() == 1


def test_slice_plot_has_a_panel_per_parameter_with_its_axis(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, _ = site
    _open_experiment(page, base, "maxdemo")
    page.wait_for_selector("body[data-graphs='drawn']")
    panels = page.locator("#slice .slice")
    assert [panels.nth(i).get_attribute("data-param") for i in range(panels.count())] == [
        "units",
        "log10 lr",
    ]
    assert _tick_texts(page, "#slice .slice[data-param='units'] text.xtick") == ["1", "2", "3"]
    lr = _tick_texts(page, "#slice .slice[data-param='log10 lr'] text.xtick")
    assert [float(t) for t in lr] == [1e-4, 1e-3, 1e-2]
    data = page.evaluate(
        "(() => { const o = document.querySelector(\"#slice .slice[data-param='units']\")"
        ".tuneryChart.options; return {x: o.x, y: o.y}; })()"
    )
    assert data == {"x": [1, 3, 2], "y": [0.7, 0.9, 0.4]}
    _open_experiment(page, base, "demo")
    page.wait_for_selector("body[data-graphs='drawn']")
    assert page.locator("#slice .slice").count() == 3
    opt = _tick_texts(page, "#slice .slice[data-param='opt'] text.xtick")
    assert opt == ["sgd", "adam", EVIL]  # categories in the space's order, as text
    _shot_of(page, "#slice", tmp_path, "slice")
    _shot_of(page, "#edf", tmp_path, "edf")
    assert page.evaluate("document.querySelectorAll('img').length === 0")


def test_timeline_bars_every_started_trial_in_slots_that_never_overlap(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, store = site
    _open_experiment(page, base, "demo")
    page.wait_for_selector("body[data-graphs='drawn']")
    data = page.evaluate(
        "(() => { const c = document.getElementById('timeline').tuneryChart;"
        " return {slots: c.slots, items: c.options.items.map("
        "(i) => [i.name, i.start, i.end, i.status, c.slotOf.get(i.name)])}; })()"
    )
    trials = {t.name: t for t in store.list_trials("demo") if t.start_time is not None}
    assert sorted(i[0] for i in data["items"]) == sorted(trials)
    for name, start, end, status, _ in data["items"]:
        t = trials[name]
        assert start == pytest.approx(t.start_time * 1000, abs=1)
        assert end == pytest.approx(t.completion_time * 1000, abs=1)
        assert status == t.status.value
    # Never more slots than trials ran at once (parallelTrialCount 4), never two bars at once
    # in one slot.
    assert 1 <= data["slots"] <= 4
    by_slot: dict[int, list[tuple[float, float]]] = {}
    for _, start, end, _, slot in data["items"]:
        by_slot.setdefault(slot, []).append((start, end))
    for bars in by_slot.values():
        bars.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(bars))
    assert "Succeeded" in page.locator("#timeline svg.overlay").text_content()
    _shot_of(page, "#timeline", tmp_path, "timeline")


def test_importance_shares_sum_to_one_and_name_the_method(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, _ = site
    _open_experiment(page, base, "demo")
    page.wait_for_selector("body[data-graphs='drawn']")
    page.wait_for_selector("#importance rect.bar")
    shares = page.evaluate(
        "document.getElementById('importance').tuneryChart.options.items.map((i) => i.value)"
    )
    assert len(shares) == 3 and sum(shares) == pytest.approx(1)
    labels = page.locator("#importance rect.bar title").all_text_contents()
    assert sum(float(t.rsplit(": ", 1)[1]) for t in labels) == pytest.approx(1, abs=0.002)
    from tunery.ui.importance import METHOD_NAME

    title = page.locator("#importance svg.overlay text.title").text_content()
    assert title == f"Method: {METHOD_NAME}"

    # The fANOVA-style method, chosen in the card: named on the chart, shares summing to 1.
    from tunery.ui import fanova

    page.select_option("#importance-method", "fanova")
    page.wait_for_function(
        "(name) => document.querySelector('#importance svg.overlay text.title')"
        "?.textContent === 'Method: ' + name",
        arg=fanova.METHOD_NAME,
    )
    shares = page.evaluate(
        "document.getElementById('importance').tuneryChart.options.items.map((i) => i.value)"
    )
    assert len(shares) == 3 and sum(shares) == pytest.approx(1)
    assert "random forest" in page.locator("#importance-note").inner_text()
    _shot_of(page, "#importance", tmp_path, "importance")


CONTOUR = """() => {
  const chart = document.getElementById("contour").tuneryChart;
  return {
    pair: chart.pair, order: document.getElementById("contour").dataset.order,
    options: [...document.querySelectorAll("#contour-pair option")].map((o) => JSON.parse(o.value)),
    z: Array.from(chart.options.z), names: chart.options.names,
    xLabel: chart.options.x.label, yLabel: chart.options.y.label,
    xticks: [...document.querySelectorAll("#contour text.xtick")].map((t) => t.textContent),
    yticks: [...document.querySelectorAll("#contour text.ytick")].map((t) => t.textContent),
    better: document.querySelector("#contour g.colorbar").dataset.better,
    parcoordsBetter: document.querySelector("#parcoords g.colorbar").dataset.better,
    stops: [...document.querySelectorAll("#contour linearGradient stop")].map(
      (s) => s.getAttribute("stop-color")),
    parcoordsStops: [...document.querySelectorAll("#parcoords linearGradient stop")].map(
      (s) => s.getAttribute("stop-color")),
  };
}"""


def test_contour_pairs_follow_the_importance_and_the_selector_switches_them(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    from tunery.plots import contour_pairs

    base, store = site
    _open_experiment(page, base, "demo")
    page.wait_for_selector("#contour[data-order='importance']")
    order = [
        p["name"]
        for p in json.loads(
            page.evaluate("fetch('/api/experiments/demo/importance').then((r) => r.text())")
        )["parameters"]
    ]
    c = page.evaluate(CONTOUR)
    # The SDK's order of pairs, from the importance the card shows; the first one drawn.
    assert [tuple(p) for p in c["options"]] == contour_pairs(order) and len(order) == 3
    assert tuple(c["pair"]) == contour_pairs(order)[0]
    done = {t.name: t.objective for t in store.list_trials("demo") if t.objective is not None}
    assert dict(zip(c["names"], c["z"], strict=True)) == pytest.approx(done)
    # The colour bar is the parallel coordinates' one: same end better, same colours.
    assert c["better"] == c["parcoordsBetter"] == "bottom"
    assert c["stops"] == c["parcoordsStops"]
    assert "\u25bc better" in page.locator("#contour g.colorbar text.better").text_content()
    # Every pair can be chosen; each has its axes (log values, categories as their text).
    labels = {"lr": "log10 lr", "layers": "layers", "opt": "opt"}
    for pair in contour_pairs(order):
        page.select_option("#contour-pair", json.dumps(list(pair), separators=(",", ":")))
        page.wait_for_function(
            "(p) => JSON.stringify(document.getElementById('contour').tuneryChart.pair) === p",
            arg=json.dumps(list(pair), separators=(",", ":")),
        )
        c = page.evaluate(CONTOUR)
        assert (c["xLabel"], c["yLabel"]) == (labels[pair[0]], labels[pair[1]])
        ticks = {pair[0]: c["xticks"], pair[1]: c["yticks"]}
        if "opt" in ticks:
            assert ticks["opt"] == ["sgd", "adam", EVIL]
        if "lr" in ticks:
            lr = [float(t) for t in ticks["lr"]]
            assert len(lr) >= 2 and all(f"{v:.0e}"[0] in "125" for v in lr)
        if "layers" in ticks:
            assert all(float(t).is_integer() for t in ticks["layers"])
        if pair == ("lr", "opt") or pair == ("opt", "lr"):
            _shot_of(page, "#contour", tmp_path, "contour")
    assert page.evaluate("document.querySelectorAll('img').length === 0")


def test_contour_falls_back_to_the_space_order_with_few_trials(
    site: tuple[str, Store], page: Any
) -> None:
    base, _ = site
    _open_experiment(page, base, "maxdemo")
    page.wait_for_selector("body[data-graphs='drawn']")
    page.wait_for_selector("#importance-note:has-text('needs')")
    c = page.evaluate(CONTOUR)
    assert c["order"] == "space" and c["pair"] == ["units", "lr"]
    assert page.locator("#contour-pair").is_hidden()  # one pair: nothing to choose
    assert c["xticks"] == ["1", "2", "3"]  # whole ticks on the int axis
    assert c["better"] == c["parcoordsBetter"] == "top"
    assert "\u25b2 better" in page.locator("#contour g.colorbar text.better").text_content()
    # The worst trial's cell is at Viridis' purple end, the best one's at the yellow end.
    colours = page.evaluate(
        """() => {
      const chart = document.getElementById("contour").tuneryChart;
      const z = chart.options.z;
      const at = (i) => {
        const k = Math.min(chart.ny - 1, Math.max(0, Math.floor((chart.options.y.values[i]
          - chart.yr[0]) / (chart.yr[1] - chart.yr[0]) * chart.ny))) * chart.nx
          + Math.min(chart.nx - 1, Math.max(0, Math.floor((chart.options.x.values[i]
          - chart.xr[0]) / (chart.xr[1] - chart.xr[0]) * chart.nx)));
        return chart.colour(chart.cells[k]);
      };
      return [at(z.indexOf(Math.max(...z))), at(z.indexOf(Math.min(...z)))];
    }"""
    )
    assert _near(_rgb(colours[0]), YELLOW) and _near(_rgb(colours[1]), PURPLE)


CURVES = """() => {
  const chart = document.getElementById("intermediate").tuneryChart;
  const marks = document.querySelector("#intermediate path.stop-marks");
  return {
    series: chart.options.series.map((s) => [s.name, s.status, s.steps, s.values]),
    stopped: chart.stopped, marks: marks ? Number(marks.dataset.count) : 0,
    legend: [...document.querySelectorAll("#intermediate g.legend")].map((g) => g.dataset.style),
  };
}"""


def test_intermediate_values_draw_every_curve_and_mark_the_early_stops(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, store = site
    _open_experiment(page, base, "curves")
    page.wait_for_selector("body[data-curves='drawn']")
    c = page.evaluate(CURVES)
    stored: dict[str, list[tuple[int, float | None]]] = {}
    for o in store.get_observations("curves", metric="loss"):
        stored.setdefault(o.trial_name, []).append((o.step, o.value))
    statuses = {t.name: t.status.value for t in store.list_trials("curves")}
    assert [s[0] for s in c["series"]] == list(stored)
    for name, status, steps, values in c["series"]:
        assert status == statuses[name]
        assert list(zip(steps, values, strict=True)) == stored[name]  # every digit
    early = [n for n, s in statuses.items() if s == "EarlyStopped"]
    assert sorted(c["stopped"]) == sorted(early) and c["marks"] == len(early) == 3
    assert c["legend"] == ["Succeeded", "EarlyStopped", "Running", "best"]
    assert (
        "early-stopped"
        in page.locator("#intermediate g.legend[data-style='EarlyStopped']").text_content()
    )
    assert "3 early-stopped" in page.locator("#intermediate-note").inner_text()
    _shot_of(page, "#intermediate", tmp_path, "intermediate")
    # Hover the last point of an early-stopped curve: its trial, step and value; a click opens it.
    name = early[0]
    x, y = page.evaluate(
        """(name) => {
      const chart = document.getElementById("intermediate").tuneryChart;
      const s = chart.options.series.find((c) => c.name === name);
      const box = chart.canvas.getBoundingClientRect();
      const i = s.steps.length - 1;
      return [box.left + chart.px(s.steps[i]), box.top + chart.py(s.values[i])];
    }""",
        name,
    )
    page.mouse.move(x, y)
    tip = page.locator("#intermediate .chart-tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().startswith(f"{name} (EarlyStopped) step {len(stored[name]) - 1}: ")
    page.mouse.click(x, y)
    page.wait_for_selector("body[data-ready='trial']")
    assert page.locator("#trial-name").inner_text() == name


def test_intermediate_values_follow_a_running_trial(site: tuple[str, Store], page: Any) -> None:
    base, store = site
    exp = store.get_experiment("demo")
    live = replace(exp, name="growing", spec=replace(exp.spec, name="growing"))
    store.create_experiment(live)
    store.set_experiment_status("growing", ExperimentCondition.RUNNING, "ExperimentRunning", None)
    assert exp.spec.objective.objective_metric_name == "loss"
    store.create_trial(
        Trial("growing-0", "growing", 0, {"lr": 0.01, "layers": 2, "opt": "adam"},
              TrialCondition.RUNNING, start_time=time.time())
    )  # fmt: skip

    def report(step: int) -> None:
        value = 1.0 / (step + 1)
        store.add_observations(
            "growing",
            "growing-0",
            [Observation("growing-0", "loss", value, step)],
            metrics={"loss": MetricSummary(value, 1.0, value)},
            cursor=None,
        )

    report(0)
    _open_experiment(page, base, "growing")
    page.wait_for_selector("body[data-curves='drawn']")
    steps = "document.getElementById('intermediate').tuneryChart.options.series[0].steps.length"
    assert page.evaluate(steps) == 1
    report(1)
    report(2)
    page.wait_for_function(f"() => {steps} === 3", timeout=15_000)
    assert page.locator("#intermediate path.stop-marks").count() == 0
    # Stopped early: the next poll draws it dashed with its cross.
    store.update_trial(
        "growing",
        "growing-0",
        TrialChange(
            status=TrialCondition.EARLY_STOPPED, completion_time=time.time(), objective=1 / 3
        ),
    )
    page.wait_for_selector("#intermediate path.stop-marks[data-count='1']", timeout=15_000)
    assert page.evaluate(CURVES)["legend"][0] == "EarlyStopped"


def test_stop_is_refused_without_the_token_and_done_with_it(
    site: tuple[str, Store], page: Any
) -> None:
    base, store = site
    _open_experiment(page, base, "live")
    stop = page.locator("#stop-experiment")
    stop.click()
    stop.click()  # the second click confirms
    page.wait_for_selector("#notice.error")
    assert "refused" in page.locator("#notice").inner_text()
    assert "token" in page.locator("#notice").inner_text()
    assert store.pending_intents("live") == []

    page.fill("#token-input", "wrong")
    page.click("#token-save")
    stop.click()
    stop.click()
    page.wait_for_function(
        "() => document.querySelector('#notice').textContent.includes('refused')"
    )
    assert store.pending_intents("live") == []

    page.fill("#token-input", TOKEN)
    page.click("#token-save")
    stop.click()
    stop.click()
    page.wait_for_function(
        "() => document.querySelector('#notice').textContent.includes('stop requested')"
    )
    assert [i.kind for i in store.pending_intents("live")] == ["stop-experiment"]


def test_markup_in_names_and_values_shows_as_text(
    site: tuple[str, Store], page: Any, tmp_path: Path
) -> None:
    base, _ = site
    no_injected_image = "document.querySelectorAll('img').length === 0"
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='list']")
    assert page.get_by_role("link", name=EVIL, exact=True).count() == 1
    assert page.locator("#experiments tbody tr").count() >= 3
    assert page.evaluate(no_injected_image)

    page.get_by_role("link", name=EVIL, exact=True).click()
    page.wait_for_selector("body[data-ready='experiment']")
    assert page.locator("#experiment-name").inner_text() == EVIL
    page.wait_for_selector("body[data-graphs='drawn']")
    # Labels of the graphs are text too (the categorical value is a parcoords tick).
    assert EVIL in page.locator("#parcoords svg.overlay").text_content()
    assert page.locator("#trials tbody").inner_text().count(EVIL) == 4  # names and values
    assert page.evaluate(no_injected_image)

    _open_experiment(page, base, "live")
    # the parameter value of the running trial, and the failed trial's message
    assert page.locator("#trials tbody").inner_text().count(EVIL) == 2
    assert page.locator("#trials th[data-key='message']").inner_text() == "failure"
    failure = page.locator("#trials tbody tr[data-trial='live-0001'] td.failure")
    assert failure.inner_text() == f"exit code 1: ModuleNotFoundError: {EVIL}"
    assert page.locator("#trials tbody tr[data-trial='live-0000'] td.failure").inner_text() == ""
    page.locator("#trials tbody a").first.click()
    page.wait_for_selector("body[data-ready='trial']")
    assert page.locator("#trial-message").inner_text().endswith(EVIL)
    assert EVIL in page.locator("#trial-parameters").inner_text()
    assert page.evaluate(no_injected_image)
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_create_from_yaml(site: tuple[str, Store], page: Any) -> None:
    base, store = site
    text = (
        "apiVersion: tunery/v1\nkind: Experiment\nmetadata: {name: fromform}\nspec:\n"
        "  objective: {type: minimize, objectiveMetricName: loss}\n"
        "  algorithm: {algorithmName: random}\n  maxTrialCount: 3\n"
        "  parameters:\n  - {name: x, parameterType: double, feasibleSpace: {min: '0', max: '1'}}\n"
        "  trialTemplate:\n    command: [python, train.py, '--x=${trialParameters.x}']\n"
    )
    page.goto(base + "/#/create")
    page.wait_for_selector("body[data-ready='create']")
    page.fill("#create-yaml", text)
    page.click("#create-submit")
    page.wait_for_function("() => document.querySelector('#create-result').textContent.length > 0")
    assert "Refused" in page.locator("#create-result").inner_text()
    assert store.find_experiment("fromform") is None

    page.fill("#token-input", TOKEN)
    page.click("#token-save")
    page.fill("#create-yaml", text.replace("max: '1'", "max: 'one'"))
    page.click("#create-submit")
    page.wait_for_function(
        "() => document.querySelector('#create-result').textContent.includes('feasibleSpace.max')"
    )
    page.fill("#create-yaml", text)
    page.click("#create-submit")
    page.wait_for_function(
        "() => document.querySelector('#create-result').textContent.includes('Stored')"
    )
    assert store.get_experiment("fromform").status is ExperimentCondition.CREATED


def test_the_list_shows_namespaces_and_links_twins_apart(
    site: tuple[str, Store], page: Any
) -> None:
    base, store = site
    demo = store.get_experiment("demo")
    for namespace in ("default", "team"):
        spec = replace(demo.spec, name="twin", namespace=namespace)
        store.create_experiment(replace(demo, name="twin", key="", spec=spec))
    store.create_trial(
        Trial(
            name="team.twin-0001",
            experiment="team.twin",
            index=1,
            parameters={"lr": 0.01, "layers": 2, "opt": "sgd"},
            status=TrialCondition.SUCCEEDED,
            metrics={"loss": MetricSummary(0.25, 0.25, 0.25)},
            objective=0.25,
        )
    )
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='list']")
    headers = page.locator("#experiments thead th").all_inner_texts()
    assert headers[:2] == ["name", "namespace"]
    demo_row = page.locator("#experiments tbody tr", has=page.get_by_role("link", name="demo"))
    assert demo_row.locator("td").nth(1).inner_text() == "default"
    links = page.get_by_role("link", name="twin", exact=True)
    assert sorted(links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")) == [
        "#/experiments/default.twin",
        "#/experiments/team.twin",
    ]
    page.locator("a[href='#/experiments/team.twin']").click()
    page.wait_for_selector("body[data-ready='experiment']")
    page.locator("#trials").get_by_role("link", name="team.twin-0001").click()
    page.wait_for_selector("body[data-ready='trial']")
    assert page.url.endswith("#/experiments/team.twin/trials/team.twin-0001")


def test_reads_need_the_token_beyond_loopback(
    private_site: tuple[str, Store], browser: Any, page: Any
) -> None:
    base, _ = private_site
    # Without the token the page loads but its data does not, and it says what to do.
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='error']")
    assert "token" in page.locator("main .error").inner_text()
    assert page.locator("#need-token").is_visible()
    # The token pasted in the box loads the page that was refused.
    page.fill("#token-input", TOKEN)
    page.click("#token-save")
    page.wait_for_selector("body[data-ready='list']")
    assert page.locator("#experiments tbody tr").count() >= 3

    # The printed address signs a tab in once: the token leaves the address bar, the tab
    # keeps it (reloads, the experiment and trial pages, exports).
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        signed = context.new_page()
        errors: list[str] = []
        signed.on("pageerror", lambda exc: errors.append(str(exc)))
        signed.goto(f"{base}/#token={TOKEN}")
        signed.wait_for_selector("body[data-ready='list']")
        assert TOKEN not in signed.url
        signed.reload()
        signed.wait_for_selector("body[data-ready='list']")
        signed.get_by_role("link", name="demo", exact=True).click()
        signed.wait_for_selector("body[data-ready='experiment']")
        signed.wait_for_selector("body[data-graphs='drawn']")
        with signed.expect_download() as info:
            signed.get_by_text("Export CSV").click()
        assert info.value.suggested_filename == "demo-trials.csv"
        assert Path(info.value.path()).read_text().startswith("name,index,status")
        signed.locator("#trials tbody tr a").first.click()
        signed.wait_for_selector("body[data-ready='trial']")
        signed.wait_for_selector("#curves .curve .main-svg")
        assert errors == []
    finally:
        context.close()


def test_time_budget_and_the_algorithm_that_suggested_a_trial(
    site: tuple[str, Store], page: Any
) -> None:
    from tunery.model import DRIVEN_SECONDS_KEY, AlgorithmSpec

    base, store = site
    demo = store.get_experiment("demo")
    spec = replace(
        demo.spec, name="autotimed", algorithm=AlgorithmSpec("auto"), max_experiment_duration=7200.0
    )
    store.create_experiment(replace(demo, name="autotimed", key="", spec=spec))
    store.save_algorithm_state("autotimed", {DRIVEN_SECONDS_KEY: 4320.0})
    store.create_trial(
        Trial(
            name="autotimed-0001",
            experiment="autotimed",
            index=1,
            parameters={"lr": 0.01, "layers": 2, "opt": "sgd"},
            status=TrialCondition.SUCCEEDED,
            labels={"tunery.dev/suggested-by": "sobol"},
            metrics={"loss": MetricSummary(0.25, 0.25, 0.25)},
            objective=0.25,
        )
    )
    _open_experiment(page, base, "autotimed")
    budget = page.locator("#experiment-time-budget").inner_text()
    assert budget == "time budget 1h12m of 2h00m driven, 48m00s left (KillRunning)"
    page.locator("#trials").get_by_role("link", name="autotimed-0001").click()
    page.wait_for_selector("body[data-ready='trial']")
    assert page.locator("#trial-suggested-by").inner_text() == "suggested by sobol"
    _open_experiment(page, base, "demo")
    assert page.locator("#experiment-time-budget").count() == 0


def test_inactive_parameters_are_blank_and_lines_skip_their_axes(page: Any, tmp_path: Path) -> None:
    from tunery.ui.app import create_app

    params = [
        {"name": "model", "parameterType": "categorical", "feasibleSpace": {"list": ["a", "b"]}},
        {
            "name": "x",
            "parameterType": "double",
            "feasibleSpace": {"min": "0", "max": "1"},
            "activeWhen": {"model": ["a"]},
        },
        {
            "name": "n",
            "parameterType": "int",
            "feasibleSpace": {"min": "1", "max": "5"},
            "activeWhen": {"model": ["b"]},
        },
    ]
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    create(store, native_doc("cond", "print('score=1')", parameters=params), tmp_path)
    for index in range(8):
        branch = {"model": "a", "x": index / 8} if index % 2 else {"model": "b", "n": 1 + index % 5}
        store.create_trial(
            Trial(
                name=f"cond-{index}",
                experiment="cond",
                index=index,
                parameters=branch,
                status=TrialCondition.SUCCEEDED,
                metrics={"score": MetricSummary(index, index, index)},
                objective=float(index),
            )
        )
    app = create_app(store, TOKEN, runs_dir=str(tmp_path / "runs"))
    try:
        with _served(app) as base:
            _open_experiment(page, base, "cond")
            page.wait_for_selector("body[data-graphs='drawn']")
            headers = page.locator("#trials thead th").all_inner_texts()
            col = headers.index("n")
            for row in page.locator("#trials tbody tr[data-trial]").all():
                cells = row.locator("td").all_inner_texts()
                model = cells[headers.index("model")]
                # An inactive value is a dash, never 0.
                assert (cells[col] == "\u2013") == (model == "a"), cells
                assert (cells[headers.index("x")] == "\u2013") == (model == "b"), cells
            assert (
                "skips the axes of the parameters inactive"
                in page.locator("#parcoords-note").inner_text()
            )
            # Brushing the lower half of x keeps trials where x is active and in the range
            # (x = 1/8 and 3/8), none of those without x.
            area = page.locator("#parcoords g.axis[data-label='x'] rect.brush-area").bounding_box()
            mid = area["x"] + area["width"] / 2
            page.mouse.move(mid, area["y"] + area["height"] * 0.5)
            page.mouse.down()
            page.mouse.move(mid, area["y"] + area["height"] * 0.8, steps=5)
            page.mouse.move(mid, area["y"] + area["height"] * 1.0, steps=5)
            page.mouse.up()
            page.wait_for_selector("#parcoords rect.brush")
            kept = page.locator("#trials tbody tr[data-trial]")
            assert kept.count() == 2
            model_col = f"td:nth-child({headers.index('model') + 1})"
            assert set(kept.locator(model_col).all_inner_texts()) == {"a"}
    finally:
        store.close()


def test_warm_start_seeds_are_counted_apart_from_the_trials_that_ran(
    site: tuple[str, Store], page: Any
) -> None:
    base, store = site
    demo = store.get_experiment("demo")
    spec = replace(demo.spec, name="seeded", max_trial_count=2)
    store.create_experiment(replace(demo, name="seeded", key="", spec=spec))
    params = {"lr": 0.01, "layers": 2, "opt": "sgd"}
    for index, (status, reason) in enumerate(
        [("Succeeded", "WarmStarted")] * 2 + [("Failed", "ExitCode")] * 2, start=1
    ):
        store.create_trial(
            Trial(
                name=f"seeded-{index:04d}",
                experiment="seeded",
                index=index,
                parameters=params,
                status=TrialCondition(status),
                reason=reason,
                metrics={"loss": MetricSummary(0.3, 0.3, 0.3)} if status == "Succeeded" else {},
                objective=0.3 if status == "Succeeded" else None,
            )
        )
    _open_experiment(page, base, "seeded")
    assert page.locator("#experiment-trials").inner_text() == (
        "trials 2/2: 0 succeeded, 0 running, 2 failed, 0 killed, 0 early-stopped, "
        "2 seeded (warm start, not run)"
    )
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='list']")
    row = page.locator("#experiments tbody tr", has=page.get_by_role("link", name="seeded"))
    headers = page.locator("#experiments thead th").all_inner_texts()
    cell = row.locator("td").nth(headers.index("trials"))
    assert cell.inner_text() == "0/2 ok, 2 failed, 2 seeded"
