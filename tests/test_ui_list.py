"""The experiment list (sort, filter, remembered) and deleting an experiment from its page
(``tunery/ui/static/list.js``), in a real headless Chromium against real stores; a running
experiment is deleted with its controller and trial processes really running.

Skips when Playwright or Chromium is missing (fails instead under ``TUNERY_REQUIRE_SYSTEM=1``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests import test_ui_browser
from tests.helpers import SCORE_IS_X, create, native_doc
from tests.test_ui_browser import TOKEN, _served, _shot, _shot_of
from tests.test_ui_removal import LONG, _alive, _trial_pids
from tunery.model import ExperimentCondition, MetricSummary, Trial, TrialCondition
from tunery.storage import Store

pytestmark = pytest.mark.browser

#: The headless Chromium and its page, as tests/test_ui_browser.py launches them.
browser = test_ui_browser.browser
page = test_ui_browser.page

#: name: (created time, status, objectives of its succeeded trials)
EXPERIMENTS: dict[str, tuple[float, ExperimentCondition, list[float]]] = {
    "alpha-mnist": (3000.0, ExperimentCondition.SUCCEEDED, [0.9, 0.3, 0.4]),
    "beta-cifar": (1000.0, ExperimentCondition.FAILED, [0.2]),
    "gamma-mnist": (2000.0, ExperimentCondition.RUNNING, [0.5, 0.1, 0.1, 0.2, 0.3]),
    "delta": (4000.0, ExperimentCondition.CREATED, []),
}


def _add(store: Store, tmp: Path, name: str, created: float) -> None:
    doc = native_doc(name, SCORE_IS_X, parallel=1, max_trials=10)
    exp = create(store, doc, tmp)
    store.delete_experiment(name)
    store.create_experiment(replace(exp, created_time=created))


@pytest.fixture
def listed(tmp_path: Path) -> Iterator[tuple[str, Store, Path]]:
    """A served UI over the EXPERIMENTS (maximized, score = each trial's objective)."""
    pytest.importorskip("fastapi")
    from tunery.ui.app import create_app

    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    for name, (created, status, objectives) in EXPERIMENTS.items():
        _add(store, tmp_path, name, created)
        if status is not ExperimentCondition.CREATED:
            store.set_experiment_status(name, status, "Test", None, start_time=created + 1)
        for index, value in enumerate(objectives):
            store.create_trial(
                Trial(
                    name=f"{name}-{index}",
                    experiment=name,
                    index=index,
                    parameters={"x": value},
                    status=TrialCondition.SUCCEEDED,
                    metrics={"score": MetricSummary(value, value, value)},
                    objective=value,
                )
            )
    app = create_app(store, TOKEN, runs_dir=str(tmp_path / "runs"), base_dir=str(tmp_path))
    try:
        with _served(app) as base:
            yield base, store, tmp_path
    finally:
        store.close()


def _names(page: Any) -> list[str]:
    return [
        n
        for n in page.locator("#experiments tbody tr").evaluate_all(
            "(rows) => rows.map((r) => r.dataset.name || '')"
        )
        if n
    ]


def test_the_list_sorts_filters_and_remembers(
    listed: tuple[str, Store, Path], page: Any, tmp_path: Path
) -> None:
    base, _store, _tmp = listed
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready='list']")
    # Oldest first by default.
    assert _names(page) == ["beta-cifar", "gamma-mnist", "alpha-mnist", "delta"]
    assert page.locator("#experiment-count").inner_text() == "4 of 4 experiments"

    header = "#experiments th[data-key='{}']"
    page.click(header.format("name"))
    assert _names(page) == ["alpha-mnist", "beta-cifar", "delta", "gamma-mnist"]
    assert page.locator(header.format("name")).get_attribute("aria-sort") == "ascending"
    assert page.evaluate("location.hash") == "#/?sort=name"
    page.click(header.format("name"))
    assert _names(page) == ["gamma-mnist", "delta", "beta-cifar", "alpha-mnist"]
    assert page.locator(header.format("name")).get_attribute("aria-sort") == "descending"
    assert page.evaluate("location.hash") == "#/?sort=-name"

    page.click(header.format("trials"))
    assert _names(page) == ["delta", "beta-cifar", "alpha-mnist", "gamma-mnist"]
    # Best objective: an experiment without one comes last either way.
    page.click(header.format("best"))
    assert _names(page) == ["beta-cifar", "gamma-mnist", "alpha-mnist", "delta"]
    page.click(header.format("best"))
    assert _names(page) == ["alpha-mnist", "gamma-mnist", "beta-cifar", "delta"]
    page.click(header.format("status"))
    assert _names(page) == ["delta", "beta-cifar", "gamma-mnist", "alpha-mnist"]
    # From the keyboard: Enter on a focused header sorts, and the header keeps the focus.
    page.focus(header.format("created"))
    page.keyboard.press("Enter")
    assert _names(page) == ["beta-cifar", "gamma-mnist", "alpha-mnist", "delta"]
    page.keyboard.press("Enter")
    assert _names(page) == ["delta", "alpha-mnist", "gamma-mnist", "beta-cifar"]
    assert page.evaluate("document.activeElement.dataset.key") == "created"

    page.fill("#list-filter", "MNIST")
    assert _names(page) == ["alpha-mnist", "gamma-mnist"]
    assert page.locator("#experiment-count").inner_text() == "2 of 4 experiments"
    assert page.locator("#list-status option[value='Running']").inner_text() == "Running (1)"
    page.select_option("#list-status", "Running")
    assert _names(page) == ["gamma-mnist"]
    assert page.evaluate("location.hash") == "#/?sort=-created&q=MNIST&status=Running"
    _shot(page, tmp_path, "list-filtered")

    # A reload shows the same list (the address); so does coming back to #/ (localStorage).
    page.reload()
    page.wait_for_selector("body[data-ready='list']")
    assert _names(page) == ["gamma-mnist"]
    assert page.input_value("#list-filter") == "MNIST"
    assert page.input_value("#list-status") == "Running"
    page.get_by_role("link", name="gamma-mnist").click()
    page.wait_for_selector("body[data-ready='experiment']")
    page.get_by_role("link", name="Experiments").click()
    page.wait_for_selector("body[data-ready='list']")
    assert _names(page) == ["gamma-mnist"]
    assert page.locator(header.format("created")).get_attribute("aria-sort") == "descending"

    page.fill("#list-filter", "nothing-like-this")
    assert _names(page) == []
    assert "No experiment matches" in page.locator("#experiments tbody").inner_text()
    page.fill("#list-filter", "")
    page.select_option("#list-status", "")
    assert len(_names(page)) == 4


def _open_delete_dialog(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/#/experiments/{name}")
    page.wait_for_selector("body[data-ready='experiment']")
    page.click("#delete-experiment")
    page.wait_for_selector("dialog#delete-dialog[open]")
    assert page.locator("#delete-name").inner_text() == name


def test_delete_asks_then_deletes_and_the_list_follows(
    listed: tuple[str, Store, Path], page: Any, tmp_path: Path
) -> None:
    base, store, _tmp = listed
    _open_delete_dialog(page, base, "beta-cifar")
    assert page.locator(".delete-force").is_hidden()  # it has ended: nothing to stop
    assert page.locator("#delete-token").is_visible()  # the tab has no token yet
    _shot_of(page, "dialog#delete-dialog", tmp_path, "delete")
    page.click("#delete-cancel")
    page.wait_for_selector("dialog#delete-dialog", state="detached")
    assert store.find_experiment("beta-cifar") is not None

    _open_delete_dialog(page, base, "beta-cifar")
    page.click("#delete-confirm")
    assert "token is needed" in page.locator("#delete-error").inner_text()
    page.fill("#delete-token", "wrong")
    page.click("#delete-confirm")
    page.wait_for_selector("#delete-error:has-text('bearer token')")
    assert store.find_experiment("beta-cifar") is not None
    page.fill("#delete-token", TOKEN)
    page.click("#delete-confirm")
    page.wait_for_selector("body[data-ready='list']")
    assert "beta-cifar" not in _names(page) and len(_names(page)) == 3
    assert "deleted experiment beta-cifar" in page.locator("#notice").inner_text()
    assert store.find_experiment("beta-cifar") is None
    assert page.locator("#token-state").inner_text() == "token set"  # kept for the tab


def test_a_running_experiment_is_stopped_then_deleted(
    listed: tuple[str, Store, Path], page: Any
) -> None:
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor

    base, store, tmp = listed
    create(store, native_doc("busy", LONG, parallel=2, max_trials=2), tmp)
    thread = threading.Thread(
        target=lambda: Controller(store, "busy", LocalExecutor(), poll_interval=0.05).run(),
        daemon=True,
    )
    thread.start()
    pids = _trial_pids(tmp / "runs", "busy", 2)
    page.goto(base + "/#token=" + TOKEN)
    page.wait_for_selector("body[data-ready='list']")

    _open_delete_dialog(page, base, "busy")
    assert page.locator("#delete-token").count() == 0  # the tab's token is used
    assert page.is_checked("#delete-force")
    page.uncheck("#delete-force")
    page.click("#delete-confirm")
    page.wait_for_selector("#delete-error:has-text('force')")
    assert "is running" in page.locator("#delete-error").inner_text()
    assert all(_alive(pid) for pid in pids)

    page.check("#delete-force")
    page.click("#delete-confirm")
    page.wait_for_selector("body[data-ready='list']", timeout=60_000)
    assert "busy" not in _names(page)
    assert "(stopped first)" in page.locator("#notice").inner_text()
    thread.join(30)
    assert not any(_alive(pid) for pid in pids)
    assert store.find_experiment("busy") is None


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A served UI over 1,000 experiments, every tenth with three trials."""
    pytest.importorskip("fastapi")
    from tunery.ui.app import create_app

    tmp = tmp_path_factory.mktemp("thousand")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    first = create(store, native_doc("e0000", SCORE_IS_X), tmp)
    for i in range(1, 1000):
        name = f"e{i:04d}"
        spec = replace(first.spec, name=name)
        store.create_experiment(replace(first, name=name, spec=spec, created_time=float(i)))
    for i in range(0, 1000, 10):
        for j in range(3):
            store.create_trial(
                Trial(
                    name=f"e{i:04d}-{j}",
                    experiment=f"e{i:04d}",
                    index=j,
                    parameters={"x": j / 10},
                    status=TrialCondition.SUCCEEDED,
                    metrics={"score": MetricSummary(j / 10, j / 10, j / 10)},
                    objective=j / 10 + i / 10_000,
                )
            )
    try:
        with _served(create_app(store, TOKEN)) as base:
            yield base
    finally:
        store.close()


def test_a_thousand_experiments_sort_and_filter_at_once(thousand: str, page: Any) -> None:
    """Typing in the filter and sorting a column each take well under a second (laid out);
    the 2-core test machine, busy, takes a few tens of milliseconds."""
    started = time.monotonic()
    page.goto(thousand + "/")
    page.wait_for_selector("body[data-ready='list']")
    assert time.monotonic() - started < 15
    assert len(_names(page)) == 1000
    # The best of three: a busy machine (parallel test workers) may stall one of them.
    typed = min(
        page.evaluate(
            """() => {
        const input = document.getElementById('list-filter');
        input.value = '';
        input.dispatchEvent(new Event('input'));
        const t0 = performance.now();
        input.value = 'e05';
        input.dispatchEvent(new Event('input'));
        document.body.offsetHeight;  // the layout too
        return performance.now() - t0;
    }"""
        )
        for _ in range(3)
    )
    assert len(_names(page)) == 100
    sorted_ms = page.evaluate(
        """() => {
        const t0 = performance.now();
        document.getElementById('list-filter').value = '';
        document.getElementById('list-filter').dispatchEvent(new Event('input'));
        document.querySelector("#experiments th[data-key='best']").click();
        document.body.offsetHeight;
        return performance.now() - t0;
    }"""
    )
    names = _names(page)
    assert len(names) == 1000
    assert names[:3] == ["e0000", "e0010", "e0020"]  # best is the maximum: 0.2 + i/10,000
    assert names[99] == "e0990" and names[100] == "e0001"  # then those without one
    assert typed < 750 and sorted_ms < 750, (typed, sorted_ms)
