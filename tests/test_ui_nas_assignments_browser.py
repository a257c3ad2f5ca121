"""The UI over a neural architecture search in real Chromium: no parameters, the architectures
as text in the trials table and on the trial page, no parallel-coordinates axes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_controller_nas import _doc, toy_enas  # noqa: F401 (a fixture)
from tests.test_ui_browser import _served, browser, page  # noqa: F401 (fixtures)
from tunery.storage import Store

pytestmark = pytest.mark.browser


@pytest.fixture
def nas_site(toy_enas: None, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    from tunery.client import Client
    from tunery.ui.app import create_app

    store = Store(str(tmp_path / "tunery.db"))
    client = Client(store=store)
    client.create_experiment(_doc(tmp_path), base_dir=str(tmp_path), runs_dir=str(tmp_path / "r"))
    assert client.run_experiment("nas-run", progress=False).status == "Succeeded"
    app = create_app(store, "nas-token", runs_dir=str(tmp_path / "ui"))
    with _served(app) as base:
        yield base
    store.close()


def test_nas_experiment_page_shows_architectures_as_text(nas_site: str, page: Any) -> None:  # noqa: F811
    page.goto(f"{nas_site}/#/experiments/nas-run")
    page.wait_for_selector("body[data-ready='experiment']")
    page.wait_for_selector("body[data-graphs='drawn']")
    headers = page.locator("#trials thead th").all_inner_texts()
    assert "architecture" in headers and "nn_config" in headers
    col = headers.index("architecture")
    cells = page.locator(f"#trials tbody tr td:nth-child({col + 1})").all_inner_texts()
    assert sorted(cells) == ["[[0], [0, 1]]", "[[1], [0, 1]]", "[[2], [0, 1]]"]
    assert page.locator("#parcoords g.axis").count() == 0
    assert "no parameter axes" in page.locator("#parcoords").inner_text()
    assert "--architecture=" in page.locator("#best-cli").inner_text()
    page.goto(f"{nas_site}/#/experiments/nas-run/trials/nas-run-0002")
    page.wait_for_selector("body[data-ready='trial']")
    assert "[[1], [0, 1]]" in page.locator("body").inner_text()
