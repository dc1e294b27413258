"""The overview snapshot: shared by requests, re-read in the background once stale, rendered
and gzipped once per snapshot. Against a real SQLite state store filled by real runs."""

from __future__ import annotations

import gzip
import time
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.dashboard import StoreReader
from tidegate.state import StateStore, default_state_url
from tidegate.web import create_app

if TYPE_CHECKING:
    from pathlib import Path

PIPELINE = """\
name: {name}
source: {{type: csv, path: data.csv}}
destination: {{type: duckdb, path: {name}.duckdb, table: t, mode: replace}}
"""


def _run(folder: Path, name: str) -> str:
    spec = folder / f"{name}.yaml"
    spec.write_text(PIPELINE.format(name=name), encoding="utf-8")
    result = run_pipeline(spec, log_level="error")
    assert result.error is None
    return result.run_id


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "data.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    return tmp_path


def test_a_stale_snapshot_is_served_while_one_background_read_replaces_it(folder: Path) -> None:
    _run(folder, "first")
    store = StateStore.open(default_state_url(folder))
    try:
        reader = StoreReader(store, ttl=0.2)
        before = reader.overview()
        assert [p.pipeline for p in before.pipelines] == ["first"]
        assert reader.overview() is before  # within the ttl: the same snapshot

        _run(folder, "second")
        time.sleep(0.25)
        assert reader.overview() is before  # stale: answered at once, a re-read starts
        deadline = time.monotonic() + 10
        while (after := reader.overview()) is before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [p.pipeline for p in after.pipelines] == ["first", "second"]
        assert after.generated_at > before.generated_at
    finally:
        store.close()


def test_ttl_zero_reads_the_history_on_every_request(folder: Path) -> None:
    _run(folder, "first")
    store = StateStore.open(default_state_url(folder))
    try:
        reader = StoreReader(store, ttl=0)
        assert reader.overview() is not reader.overview()
        _run(folder, "second")
        assert len(reader.overview().pipelines) == 2
    finally:
        store.close()


def test_the_overview_is_rendered_once_per_snapshot_and_gzipped_on_request(folder: Path) -> None:
    _run(folder, "first")
    store = StateStore.open(default_state_url(folder))
    try:
        with TestClient(create_app(StoreReader(store, ttl=60))) as client:
            plain = client.get("/", headers={"Accept-Encoding": "identity"})
            assert plain.headers.get("content-encoding") is None
            assert "first" in plain.text
            # ask without httpx decoding, to see the bytes as sent
            request = client.build_request("GET", "/", headers={"Accept-Encoding": "gzip"})
            packed = client.send(request, stream=True)
            raw = b"".join(packed.iter_raw())
            assert packed.headers["content-encoding"] == "gzip"
            assert packed.headers["vary"] == "Accept-Encoding"
            assert gzip.decompress(raw) == plain.content
            assert len(raw) < len(plain.content)
            fragment = client.get("/fragments/overview")
            assert "first" in fragment.text
            assert "<html" not in fragment.text
            again = client.get("/", headers={"Accept-Encoding": "identity"})
            assert again.content == plain.content  # same snapshot, same bytes
    finally:
        store.close()


def test_a_failed_re_read_keeps_the_snapshot_and_the_next_one_recovers(folder: Path) -> None:
    _run(folder, "first")
    database = folder / ".tidegate" / "state.db"
    store = StateStore.open(default_state_url(folder))
    reader = StoreReader(store, ttl=0.05)
    try:
        before = reader.overview()
        store.engine.dispose()
        kept = database.with_suffix(".kept")
        database.rename(kept)
        database.mkdir()  # a path SQLite cannot open: every re-read fails
        time.sleep(0.1)
        for _ in range(5):
            assert reader.overview() is before
            time.sleep(0.05)
        database.rmdir()
        kept.rename(database)
        deadline = time.monotonic() + 10
        while (after := reader.overview()) is before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert after is not before
        assert [p.pipeline for p in after.pipelines] == ["first"]
    finally:
        store.close()
