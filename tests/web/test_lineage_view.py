"""The pipeline page draws the column lineage of a served pipeline file: a real run recorded in
a real SQLite state store, the dashboard given the pipeline as ``tidegate serve`` gives it."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from tidegate.app.bootstrap import build, load, run_pipeline
from tidegate.app.dashboard import dashboard_app
from tidegate.state import StateStore, default_state_url

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

XSS = "<script>alert(1)</script>"

PIPELINE = f"""\
name: shop
source: {{type: csv, path: orders.csv}}
steps:
  - type: derive
    name: priced
    columns: {{total: "amount * 2", "{XSS}": "'x'"}}
  - type: rename
    columns: {{id: order_id}}
destination: {{type: duckdb, path: shop.duckdb, table: orders, mode: replace}}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[StateStore, Path]]:
    (tmp_path / "orders.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(PIPELINE, encoding="utf-8")
    assert run_pipeline(spec, log_level="error").error is None
    store = StateStore.open(default_state_url(tmp_path))
    yield store, spec
    store.close()


def test_the_pipeline_page_draws_where_each_loaded_column_comes_from(
    served: tuple[StateStore, Path],
) -> None:
    store, spec = served
    with TestClient(dashboard_app(store, pipelines=[build(load(spec))])) as client:
        lineage = client.get("/api/pipelines/shop").json()["lineage"]
        page = client.get("/pipelines/shop").text
    assert lineage["inputs"] == [str(spec.parent / "orders.csv")]
    assert lineage["output"].endswith("orders")
    by_column = {c["column"]: c for c in lineage["columns"]}
    assert set(by_column) == {"order_id", "amount", "total", XSS}
    assert by_column["order_id"]["transformation"] == "renamed"
    assert [i["column"] for i in by_column["order_id"]["inputs"]] == ["id"]
    assert by_column["amount"]["transformation"] == "identity"
    assert by_column["total"]["transformation"] == "derived"
    assert [i["column"] for i in by_column["total"]["inputs"]] == ["amount"]
    assert by_column[XSS]["inputs"] == []  # a constant: no input column

    section = page[page.index("<h2>Column lineage</h2>") : page.index("<h2>History</h2>")]
    # one line per feeding input: id -> order_id, amount -> amount, amount -> total
    assert len(re.findall(r'<line class="link link-', section)) == 3
    assert 'class="link link-renamed"' in section
    assert 'class="link link-derived"' in section
    assert "<title>amount → total: derived</title>" in section
    assert XSS not in page
    assert html.escape(XSS) in section


def test_without_the_pipeline_file_the_page_says_how_to_see_it(
    served: tuple[StateStore, Path],
) -> None:
    store, _ = served
    with TestClient(dashboard_app(store)) as client:
        assert client.get("/api/pipelines/shop").json()["lineage"] is None
        page = client.get("/pipelines/shop").text
    assert "Serve the pipeline file" in page
