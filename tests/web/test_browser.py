"""The dashboard in a real browser: Debian's Chromium driven by Playwright against uvicorn
serving a state store filled by real runs. Each page loads without console errors, shows what
it must, is screenshotted under ``test-artifacts/``, and the XSS payload stays text."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from tests.web.test_app import XSS, history  # noqa: F401 - the module fixture of real runs
from tests.web.test_health_page import SECRET, served, serving  # noqa: F401 - real pipelines
from tests.web.test_lineage_view import XSS as COLUMN_XSS
from tests.web.test_lineage_view import served as lineage_served  # noqa: F401 - a real run
from tidegate.app.bootstrap import build, load
from tidegate.app.dashboard import dashboard_app
from tidegate.state import StateStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs the Debian package `chromium`")
        pytest.skip("Chromium is not installed here (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def server(history: dict[str, str]) -> Iterator[str]:  # noqa: F811 - the imported fixture
    store = StateStore.open(history["url"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        dashboard_app(store, refresh_seconds=1), host="127.0.0.1", port=port, log_level="warning"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield launched
        launched.close()


def _visit(browser: Browser, url: str, shot: str) -> tuple[Page, list[str]]:
    """Open ``url`` in a fresh page at laptop size; the console errors seen while loading."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
    response = page.goto(url, wait_until="networkidle")
    assert response is not None
    assert response.status == 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    return page, errors


def test_overview_in_the_browser(browser: Browser, server: str) -> None:
    page, errors = _visit(browser, server + "/", "dashboard-overview")
    text = page.inner_text("body")
    assert "2 of 3 pipelines need a look" in text
    assert "broken" in text
    assert "api.example.com" in text
    assert errors == []
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.wait_for_timeout(2500)  # refresh_seconds=1: the rows are fetched, the page stays
    assert any("/fragments/overview" in url for url in fetched)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert errors == []
    page.close()


def test_pipeline_page_in_the_browser(browser: Browser, server: str) -> None:
    page, errors = _visit(browser, server + "/pipelines/orders", "dashboard-pipeline")
    text = page.inner_text("body")
    assert "99 rejected" in text
    assert page.locator("svg").count() >= 5  # four history charts and the data flow
    flow = page.locator("svg.flow")
    assert flow.locator("text", has_text="csv: orders.csv").count() == 1
    assert flow.locator("text", has_text="duckdb: t").count() == 1
    spec = page.locator("pre.spec")
    assert not spec.is_visible()  # folded until asked for
    page.locator("details.spec summary").click()
    assert spec.is_visible()
    assert "path: orders.csv" in spec.inner_text()
    assert XSS in spec.inner_text()  # the rule's column, as text
    assert "Not governed: no column was classified" in text
    assert errors == []
    page.close()


def test_run_pages_in_the_browser_and_the_payload_stays_text(
    browser: Browser,
    server: str,
    history: dict[str, str],  # noqa: F811 - the imported fixture
) -> None:
    page, errors = _visit(browser, server + f"/runs/{history['orders']}", "dashboard-run")
    assert XSS in page.inner_text("body")  # shown as text
    assert page.locator("script:not([src])").count() == 0
    timeline = page.locator("table.timeline tbody tr")
    assert [row.get_attribute("class") for row in timeline.all()] == [
        "entry-start",
        "entry-rejected warn",
        "entry-finish",
    ]
    assert "99 rows rejected by quality in batch 1" in timeline.nth(1).inner_text()
    rejects = page.locator("table.rejects")
    assert rejects.locator("tbody tr").count() == 20
    assert XSS in rejects.locator("thead").inner_text()
    assert errors == []  # no alert dialog, no console error
    page.close()
    failed, errors = _visit(browser, server + f"/runs/{history['broken']}", "dashboard-run-failed")
    text = failed.inner_text("body")
    assert "data" in text
    assert "fault injected at mid_batch" in text
    error = failed.locator("table.timeline tr.entry-error")
    assert "Next action: `tidegate quarantine show <pipeline>` shows" in error.inner_text()
    assert error.evaluate("row => getComputedStyle(row).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert errors == []
    failed.close()


def test_health_page_in_the_browser_refreshes_live(
    browser: Browser,
    served: dict[str, Any],  # noqa: F811 - the imported fixture
) -> None:
    app = dashboard_app(
        served["store"], pipelines=served["pipelines"], refresh_seconds=1, health_ttl=0
    )
    with serving(app) as base:
        page, errors = _visit(browser, base + "/health", "health")
        text = page.inner_text("body")
        assert "checks failed." in text
        assert text.index("broken") < text.index("warehouse")  # the failing pipeline first
        assert "✖ failed" in text
        assert "✔ ok" in text
        assert "hint: " in text
        assert SECRET not in page.content()
        assert page.locator("nav a[href='/health']").count() == 1
        assert errors == []
        checked = page.inner_text("#health-report time")
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.wait_for_timeout(2500)  # refresh_seconds=1, health_ttl=0: checked again, live
        assert any("/fragments/health" in url for url in fetched)
        assert page.inner_text("#health-report time") != checked
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert errors == []
        page.close()


def test_column_lineage_in_the_browser(
    browser: Browser,
    lineage_served: tuple[StateStore, Path],  # noqa: F811 - the imported fixture
) -> None:
    store, spec = lineage_served
    with serving(dashboard_app(store, pipelines=[build(load(spec))])) as base:
        page, errors = _visit(browser, f"{base}/pipelines/shop", "dashboard-lineage")
        try:
            svg = page.locator("svg.lineage")
            assert svg.is_visible()
            assert svg.locator("line.link").count() == 3
            labels = svg.locator("text.lineage-out").evaluate_all(
                "texts => texts.map(text => text.firstChild.textContent)"
            )
            assert labels == [
                "order_id",
                "amount",
                "total",
                COLUMN_XSS,
            ]
            page.locator("details.lineage summary").click()
            table = page.locator("details.lineage table")
            assert "renamed" in table.inner_text()
            assert errors == []
        finally:
            page.close()
