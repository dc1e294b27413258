"""The pipeline page's Changes section and its API fields, after real runs of a pipeline whose
spec changes between runs in a real git repository; a changed key named like an XSS payload
shows escaped."""

from __future__ import annotations

import html
import subprocess
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.dashboard import dashboard_app
from tidegate.state import StateStore, default_state_url

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"

PIPELINE = """\
name: orders
source: {{type: csv, path: orders.csv}}
steps:
  - type: derive
    name: stamped
    columns: {{{columns}}}
destination: {{type: duckdb, path: orders.duckdb, table: t, mode: replace}}
"""


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two versions of a spec, each committed, recorded by real runs in a SQLite store."""
    folder = tmp_path_factory.mktemp("changes")
    _git(folder, "init", "-q")
    _git(folder, "config", "user.name", "Ann Lee")
    _git(folder, "config", "user.email", "ann@example.com")
    _git(folder, "config", "commit.gpgsign", "false")
    rows = "\n".join(f"{i},{i % 10}" for i in range(100))
    (folder / "orders.csv").write_text(f"id,amount\n{rows}\n", encoding="utf-8")
    spec = folder / "pipeline.yaml"
    found: dict[str, str] = {}
    for label, columns in (
        ("first", 'twice: "amount * 2"'),
        ("second", f"twice: \"amount * 3\", '{XSS}': \"'{IMG}'\""),
    ):
        spec.write_text(PIPELINE.format(columns=columns), encoding="utf-8")
        _git(folder, "add", "pipeline.yaml")
        _git(folder, "commit", "-q", "-m", label)
        found[f"{label}_commit"] = _git(folder, "rev-parse", "HEAD")
        result = run_pipeline(spec, log_level="error")
        assert result.error is None
        found[label] = result.run_id
    found["url"] = default_state_url(folder)
    return found


@pytest.fixture
def client(history: dict[str, str]) -> Iterator[TestClient]:
    store = StateStore.open(history["url"])
    with TestClient(dashboard_app(store)) as client:
        yield client
    store.close()


def test_the_pipeline_page_shows_its_changes_escaped(
    client: TestClient, history: dict[str, str]
) -> None:
    page = client.get("/pipelines/orders")
    assert page.status_code == 200
    body = page.text
    changes = body[body.index("<h2>Changes</h2>") : body.index("<h2>Alerts</h2>")]
    assert "1 changed, 1 added" in changes
    assert "first version" in changes
    assert changes.index(history["second"][:13]) < changes.index(history["first"][:13])
    assert history["second_commit"][:12] in changes
    assert history["first_commit"][:12] in changes
    assert "Ann Lee &lt;ann@example.com&gt;" in changes
    assert "uncommitted changes" not in changes
    assert "~ steps[0].columns.twice</code>: &#34;amount * 2&#34; → &#34;amount * 3&#34;" in (
        changes
    )
    assert html.escape(XSS) in changes
    assert html.escape(IMG) in changes
    assert XSS not in body
    assert IMG not in body


def test_the_api_carries_the_change_log(client: TestClient, history: dict[str, str]) -> None:
    detail = client.get("/api/pipelines/orders").json()
    newest, first = detail["changes"]
    assert (newest["run_id"], newest["summary"]) == (history["second"], "1 changed, 1 added")
    assert newest["previous_hash"] == first["spec_hash"]
    assert (newest["git_commit"], newest["git_author"], newest["git_dirty"]) == (
        history["second_commit"],
        "Ann Lee <ann@example.com>",
        False,
    )
    assert newest["changes"] == [
        {
            "change": "added",
            "path": f'steps[0].columns["{XSS}"]',
            "old": None,
            "new": f"'{IMG}'",
            "old_text": "null",
            "new_text": f"\"'{IMG}'\"",
        },
        {
            "change": "changed",
            "path": "steps[0].columns.twice",
            "old": "amount * 2",
            "new": "amount * 3",
            "old_text": '"amount * 2"',
            "new_text": '"amount * 3"',
        },
    ]
    assert (first["summary"], first["changes"], first["previous_hash"]) == (
        "first version",
        None,
        None,
    )
