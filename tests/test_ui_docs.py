"""The API reference at ``/docs`` (``tunery/ui/static/docs.{html,js}``): served from this
server only, rendered offline by a real headless Chromium with every other host blocked."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from tests import test_ui_browser
from tests.helpers import SCORE_IS_X, create, native_doc
from tests.test_ui_browser import DOCS, TOKEN, _served
from tunery.storage import Store
from tunery.ui.app import create_app

#: The headless Chromium and its page, as tests/test_ui_browser.py launches them.
browser = test_ui_browser.browser
page = test_ui_browser.page

LOCAL = "http://127.0.0.1"
#: XML namespace names: identifiers in the DOM API, never fetched.
NAMESPACES = {
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/1999/xhtml",
}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("docs")
    store = Store(f"sqlite:///{tmp / 'tunery.db'}")
    create(store, native_doc("documented", SCORE_IS_X), tmp)
    try:
        yield store
    finally:
        store.close()


def _assets(client: TestClient, html: str) -> list[str]:
    """The same-server scripts and stylesheets a page names (anything else fails)."""
    found = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)
    for url in found:
        assert url.startswith("/"), f"a page loads {url} from elsewhere"
    return found


def test_docs_and_the_page_name_no_other_host(store: Store) -> None:
    """Every page the UI serves, and every script and stylesheet they load, is searched for
    an http:// or https:// address: none may name another host (FastAPI's own /docs and
    /redoc load Swagger UI and ReDoc from cdn.jsdelivr.net, and would fail here)."""
    client = TestClient(create_app(store, TOKEN), base_url=LOCAL)
    texts: dict[str, str] = {}
    for page_path in ("/", "/docs"):
        response = client.get(page_path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        texts[page_path] = response.text
        for asset in _assets(client, response.text):
            got = client.get(asset)
            assert got.status_code == 200, asset
            texts[asset] = got.text
    assert "/static/docs.js" in texts and "/static/list.js" in texts
    for where, text in texts.items():
        for url in re.findall(r"https?://[^\s\"'`<>)]*", text):
            assert url in NAMESPACES, f"{where} names {url}"
    # ReDoc's address leads to the reference; Swagger's OAuth page is gone.
    response = client.get("/redoc", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "/docs"
    assert client.get("/docs/oauth2-redirect").status_code == 404
    # The page is not an operation of the API it documents.
    assert "/docs" not in client.get("/openapi.json").json()["paths"]


def test_docs_render_every_operation_offline_and_try_it_works(
    store: Store, page: Any, tmp_path: Path
) -> None:
    schema: dict[str, Any]
    with _served(create_app(store, TOKEN)) as base:
        schema = TestClient(create_app(store, TOKEN), base_url=LOCAL).get("/openapi.json").json()
        served: list[str] = []
        blocked: list[str] = []

        def gate(route: Any) -> None:
            url = route.request.url
            if url.startswith(base + "/"):
                served.append(url)
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        page.context.route("**/*", gate)
        page.goto(base + "/docs")
        page.wait_for_selector("body[data-ready='docs']")

        assert blocked == []
        assert base + "/openapi.json" in served  # the gate saw the page's requests
        operations = [
            (method.upper(), path)
            for path, item in schema["paths"].items()
            for method in item
            if method in METHODS
        ]
        assert len(operations) >= 13
        for method, path in operations:
            card = page.locator(f"section.operation[data-operation='{method} {path}']")
            assert card.count() == 1, (method, path)
            summary = schema["paths"][path][method.lower()].get("summary")
            if summary:
                assert summary in card.inner_text()
        assert page.locator("section.operation").count() == len(operations)
        for name in schema["components"]["schemas"]:
            assert page.locator(f"section.schema[data-schema='{name}']").count() == 1, name
        # Parameters with their limits, the token marked where it is needed.
        trials = page.locator(
            "section.operation[data-operation='GET /api/experiments/{name}/trials']"
        )
        assert "limit" in trials.locator("table.params").inner_text()
        assert "≤ 100000" in trials.locator("table.params").inner_text()
        delete = page.locator("section.operation[data-operation='DELETE /api/experiments/{name}']")
        assert delete.locator(".lock").count() == 1
        assert "force" in delete.locator("table.params").inner_text()
        page.screenshot(path=str(tmp_path / "ui-docs.png"))
        if os.environ.get("TUNERY_UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=str(DOCS / "ui-docs.png"))

        # Try it: a read, then a write refused without the token and done with it.
        listing = page.locator("section.operation[data-operation='GET /api/experiments']")
        listing.locator("summary").click()
        listing.locator("button.try-send").click()
        listing.locator(".try-status[data-status='200']").wait_for()
        assert '"name": "documented"' in listing.locator("pre.try-answer").inner_text()

        # A body: an experiment created from YAML typed into the form.
        create_op = page.locator("section.operation[data-operation='POST /api/experiments']")
        create_op.locator("summary").click()
        create_op.locator("select.try-type").select_option("application/yaml")
        create_op.locator("textarea.try-body").fill(
            yaml.safe_dump(native_doc("from-docs", SCORE_IS_X))
        )
        create_op.locator("button.try-send").click()
        create_op.locator(".try-status[data-status='401']").wait_for()
        page.fill("#token-input", TOKEN)
        page.click("#token-form button")
        create_op.locator("button.try-send").click()
        create_op.locator(".try-status[data-status='201']").wait_for()
        assert store.find_experiment("from-docs") is not None
        page.fill("#token-input", "")
        page.click("#token-form button")  # the token forgotten again

        delete.locator("summary").click()
        delete.locator("input[name='name']").fill("documented")
        delete.locator("button.try-send").click()
        delete.locator(".try-status[data-status='401']").wait_for()
        assert store.find_experiment("documented") is not None
        page.fill("#token-input", TOKEN)
        page.click("#token-form button")
        delete.locator("button.try-send").click()
        delete.locator(".try-status[data-status='200']").wait_for()
        assert store.find_experiment("documented") is None
        assert blocked == []
