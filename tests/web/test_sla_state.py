"""The overview's SLA column is read from the SLA of each pipeline's last recorded spec, so a
pipeline shows late as soon as it breaks ``sla.max_age`` or ``sla.max_duration``, without an
alert having fired. Real runs into a real SQLite state store; time passing is simulated by
moving the recorded run back in the history."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.dashboard import StoreReader, dashboard_app
from tidegate.state import StateStore, default_state_url
from tidegate.state.tables import RUNS

if TYPE_CHECKING:
    from pathlib import Path

PIPELINE = """\
name: {name}
source: {{type: csv, path: data.csv}}
destination: {{type: duckdb, path: {name}.duckdb, table: t, mode: replace}}
{sla}
"""


def _run(folder: Path, name: str, sla: str = "", *, inject: tuple[str, ...] = ()) -> str:
    spec = folder / f"{name}.yaml"
    spec.write_text(PIPELINE.format(name=name, sla=sla), encoding="utf-8")
    return run_pipeline(spec, log_level="error", inject=inject, allow_faults=bool(inject)).run_id


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    (tmp_path / "data.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    _run(tmp_path, "fresh", "sla: {max_age: 1h}")
    stale = _run(tmp_path, "stale", "sla: {max_age: 1h}")
    slow = _run(tmp_path, "slow", "sla: {max_duration: 10s}")
    _run(tmp_path, "plain")
    _run(tmp_path, "broken", "sla: {max_age: 1h}", inject=("mid_batch:raise:data",))
    opened = StateStore.open(default_state_url(tmp_path))
    with opened.engine.begin() as connection:
        started, finished = connection.execute(
            sa.select(RUNS.c.started_at, RUNS.c.finished_at).where(RUNS.c.run_id == stale)
        ).one()
        two_hours = timedelta(hours=2)
        connection.execute(
            sa.update(RUNS)
            .where(RUNS.c.run_id == stale)
            .values(started_at=started - two_hours, finished_at=finished - two_hours)
        )
        connection.execute(sa.update(RUNS).where(RUNS.c.run_id == slow).values(seconds=42.0))
    return opened


def test_the_sla_state_follows_the_last_spec_and_says_why(store: StateStore) -> None:
    try:
        health = {h.pipeline: h for h in StoreReader(store, ttl=0).overview().pipelines}
    finally:
        store.close()
    assert (health["fresh"].sla, health["fresh"].sla_detail) == ("ok", None)
    assert (health["plain"].sla, health["plain"].sla_detail) == ("ok", None)
    assert health["stale"].sla == "late"
    assert health["stale"].sla_detail == "no success within sla.max_age 1h"
    assert health["slow"].sla == "late"
    assert health["slow"].sla_detail == "the last run took 42.00 s, over sla.max_duration"
    assert health["broken"].sla == "failing"
    assert health["broken"].sla_detail == "the last run failed (data)"
    # late and failing sort first: they need a look
    assert [h.problem for h in health.values()].count(True) == 3


def test_the_overview_shows_why_a_pipeline_is_late(store: StateStore) -> None:
    try:
        with TestClient(dashboard_app(store)) as client:
            body = client.get("/").text
            stale = client.get("/pipelines/stale").text
    finally:
        store.close()
    assert "no success within sla.max_age 1h" in body
    assert "over sla.max_duration" in body
    assert body.index(">broken<") < body.index(">slow<") < body.index(">fresh<")
    assert "no success within sla.max_age 1h" in stale
