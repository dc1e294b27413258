"""The standalone run report: the run page as one HTML file that refers to nothing outside.

Drawn from a state store filled by real runs (and one run recorded with a pipeline and a step
named like an XSS payload), parsed to prove it has no script and no reference outside the
file, and opened in Chromium from disk: no console error (the inlined stylesheet passes the
file's own Content-Security-Policy) and no network request at all.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import pytest

from tests.web.test_app import XSS, history  # noqa: F401 - the module fixture of real runs
from tests.web.test_browser import ARTIFACTS, browser  # noqa: F401 - Chromium, launched once
from tidegate.app.dashboard import StoreReader
from tidegate.state import StateStore
from tidegate.web.report import run_report

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Page

_OUTSIDE = re.compile(r"^\s*(https?:|//|/|\.\.?/|file:|ftp:)", re.IGNORECASE)


class _Parsed(HTMLParser):
    """Every start tag with its attributes, and the text of each <style> element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _parse(page: str) -> _Parsed:
    parsed = _Parsed()
    parsed.feed(page)
    parsed.close()
    return parsed


@pytest.fixture(scope="module")
def payload_run(history: dict[str, str]) -> str:  # noqa: F811 - the imported fixture
    """A run recorded with a pipeline and a step named like the payload (names a spec would
    refuse; the store would not, and a report must still show them as text)."""
    store = StateStore.open(history["url"])
    run_id = str(uuid.uuid4())
    began = datetime.now(UTC) - timedelta(minutes=1)
    store.start_run(
        {
            "run_id": run_id,
            "pipeline": XSS,
            "status": "running",
            "started_at": began,
            "spec_hash": "0" * 64,
            "host": "test",
            "user_name": "test",
            "version": "0",
        }
    )
    store.finish_run(
        run_id,
        {
            "status": "failed",
            "finished_at": began + timedelta(seconds=3),
            "seconds": 3.0,
            "rows_read": 10,
            "rows_written": 0,
            "rows_rejected": 0,
            "error_kind": "data",
            "error": f"bad value {XSS}",
        },
        steps=[
            {
                "step": XSS,
                "position": 1,
                "batches": 1,
                "rows_in": 10,
                "rows_out": 10,
                "rejected": 0,
                "seconds": 0.5,
            }
        ],
    )
    store.close()
    return run_id


def _report(url: str, run_id: str) -> str:
    store = StateStore.open(url)
    try:
        view = StoreReader(store, ttl=0).run(run_id)
        assert view is not None
        return run_report(view, source=store.shown_url)
    finally:
        store.close()


def test_the_report_refers_to_nothing_outside_itself(history: dict[str, str]) -> None:  # noqa: F811
    page = _report(history["url"], history["orders"])
    parsed = _parse(page)
    tags = [tag for tag, _ in parsed.tags]
    assert "script" not in tags
    assert "a" not in tags  # links to dashboard pages are plain text: no dashboard beside a file
    assert "iframe" not in tags
    assert "object" not in tags
    for tag, attrs in parsed.tags:
        for name in ("href", "src", "srcset", "action", "poster", "data", "xlink:href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, name, value)
                assert not _OUTSIDE.match(value), (tag, name, value)
    assert "/static/" not in page
    assert not re.search(r"https?://", page.replace("http://www.w3.org/2000/svg", ""))
    assert re.findall(r"url\((?!#)", "".join(parsed.styles)) == []
    assert "@import" not in "".join(parsed.styles)
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]


def test_the_report_carries_a_restrictive_policy_that_allows_its_own_style(
    history: dict[str, str],  # noqa: F811 - the imported fixture
) -> None:
    parsed = _parse(_report(history["url"], history["orders"]))
    (policy,) = [
        attrs["content"]
        for tag, attrs in parsed.tags
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert policy is not None
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "script-src" not in policy  # default-src 'none' forbids every script
    (style,) = parsed.styles
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert ".verdict" in style  # the dashboard's stylesheet, inlined


def test_the_report_is_the_run_page(history: dict[str, str]) -> None:  # noqa: F811
    run_id = history["orders"]
    page = _report(history["url"], run_id)
    assert f"<h1>Run {run_id}</h1>" in page
    assert '<span class="link-off">orders</span>' in page
    assert "✔</span> succeeded" in page
    assert "step doubled" in page  # where the time went, an inline SVG
    assert '<svg class="bars"' in page
    assert "91.8" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the rule's column, as text
    assert "report written " in page


def test_a_payload_as_pipeline_and_step_name_stays_text(
    history: dict[str, str],  # noqa: F811 - the imported fixture
    payload_run: str,
) -> None:
    page = _report(history["url"], payload_run)
    assert XSS not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<span class="link-off">{escaped}</span>' in page  # the pipeline
    assert f"<td>{escaped}</td>" in page  # the step
    assert f"bad value {escaped}" in page  # the error
    assert "script" not in [tag for tag, _ in _parse(page).tags]


def _open_file(chromium: Browser, path: Path, shot: str) -> tuple[Page, list[str], list[str]]:
    """Open ``path`` from disk; the console errors and the requests seen while loading."""
    page = chromium.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri(), wait_until="networkidle")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    return page, errors, requests


def test_the_report_opens_in_chromium_without_errors_or_requests(
    browser: Browser,  # noqa: F811 - the imported fixture
    history: dict[str, str],  # noqa: F811 - the imported fixture
    payload_run: str,
    tmp_path: Path,
) -> None:
    for shot, run_id in (("report", history["orders"]), ("report-payload", payload_run)):
        path = tmp_path / f"{shot}.html"
        path.write_text(_report(history["url"], run_id), encoding="utf-8")
        page, errors, requests = _open_file(browser, path, shot)
        assert requests == [path.as_uri()], requests  # the file itself, nothing else
        assert errors == []  # a refused style or resource would be a console error
        # the inlined stylesheet applied (a refused one would leave the brand's weight at 400)
        assert page.locator(".brand").evaluate("e => getComputedStyle(e).fontWeight") == "700"
        if run_id == payload_run:
            assert XSS in page.inner_text("body")  # shown as text, not run
        page.close()
