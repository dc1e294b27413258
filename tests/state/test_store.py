"""The state store on SQLite and on PostgreSQL: the same tests, real databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
import structlog
from uuid6 import uuid7

from tidegate.errors import ConfigError, DependencyError
from tidegate.events import EventBus, RunFinished, RunRegressed, RunStarted
from tidegate.spec.observability import BaselineSpec
from tidegate.state import StateRecorder, StateStore
from tidegate.state.tables import HEAD, VERSION_TABLE

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def store(url: str) -> Iterator[StateStore]:
    opened = StateStore.open(url)
    yield opened
    opened.close()


class Recorded:
    """Events published on a bus, for assertions."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)


def _run(
    recorder: StateRecorder,
    *,
    pipeline: str = "orders",
    seconds: float = 1.0,
    rows: int = 1000,
    status: str = "succeeded",
) -> str:
    run_id = str(uuid7())
    recorder.handle(
        RunStarted(run_id=run_id, pipeline=pipeline, source="csv:x", destination="duckdb:y")
    )
    recorder.handle(
        RunFinished(
            run_id=run_id,
            pipeline=pipeline,
            status=status,
            rows_read=rows,
            rows_written=rows if status == "succeeded" else 0,
            rows_rejected=0,
            batches=1,
            seconds=seconds,
            error="boom" if status != "succeeded" else None,
            error_kind="data" if status != "succeeded" else None,
        )
    )
    return run_id


def _recorder(store: StateStore, bus: EventBus | None = None, **figures: Any) -> StateRecorder:
    return StateRecorder(
        store,
        bus=bus or EventBus(),
        baseline=BaselineSpec(runs=10, min_runs=5, sigma=2.0),
        spec_hash="0" * 64,
        profile="prod",
        figures=lambda: figures or None,
    )


def test_migrations_create_the_tables_once(url: str) -> None:
    StateStore.open(url).close()
    store = StateStore.open(url)  # a second open finds everything applied
    try:
        names = set(sa.inspect(store.engine).get_table_names())
        with store.engine.connect() as con:
            versions = con.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    finally:
        store.close()
    assert {"tidegate_runs", "tidegate_run_steps", "tidegate_run_quality"} <= names
    assert versions == [(HEAD,)]


def test_a_run_is_recorded_from_start_to_end(store: StateStore) -> None:
    steps = [
        {"step": "clean", "seconds": 0.5, "batches": 2, "rows_in": 10, "rows_out": 9, "rejected": 1}
    ]
    recorder = _recorder(store, steps=steps, cpu_seconds=1.5)
    run_id = str(uuid7())
    recorder.handle(
        RunStarted(run_id=run_id, pipeline="orders", source="csv:x", destination="duckdb:y")
    )
    running = store.runs(pipeline="orders")
    assert [(row.run_id, row.status) for row in running] == [(run_id, "running")]
    recorder.handle(
        RunFinished(
            run_id=run_id,
            pipeline="orders",
            status="succeeded",
            rows_read=10,
            rows_written=9,
            rows_rejected=1,
            batches=2,
            seconds=2.0,
        )
    )
    detail = store.find(run_id[:20])
    assert detail.run["status"] == "succeeded"
    assert (detail.run["rows_read"], detail.run["rows_written"]) == (10, 9)
    assert detail.run["profile"] == "prod"
    assert detail.run["figures"]["cpu_seconds"] == 1.5
    assert detail.steps == [{**steps[0], "position": 0}]
    assert datetime.fromisoformat(detail.run["started_at"]).tzinfo is not None


def test_runs_are_listed_newest_first_and_by_pipeline(store: StateStore) -> None:
    recorder = _recorder(store)
    first = _run(recorder, pipeline="orders")
    second = _run(recorder, pipeline="customers", status="failed")
    third = _run(recorder, pipeline="orders")
    assert [row.run_id for row in store.runs()] == [third, second, first]
    assert [row.run_id for row in store.runs(pipeline="orders", limit=1)] == [third]
    failed = store.runs(pipeline="customers")[0]
    assert (failed.status, failed.error_kind) == ("failed", "data")


def test_finding_a_run_by_a_prefix_that_matches_none_or_several(store: StateStore) -> None:
    recorder = _recorder(store)
    _run(recorder)
    _run(recorder)
    with pytest.raises(ConfigError, match="no run 'zz'"):
        store.find("zz")
    with pytest.raises(ConfigError, match="several runs start with '0'"):
        store.find("0")


def test_a_run_far_from_its_baseline_is_flagged_and_published(store: StateStore) -> None:
    bus = EventBus()
    seen = Recorded()
    bus.subscribe(seen)
    recorder = _recorder(store, bus)
    for seconds in (1.0, 1.1, 0.9, 1.05, 0.95):
        _run(recorder, seconds=seconds, rows=1000)
    slow = _run(recorder, seconds=3.0, rows=1000)
    detail = store.find(slow)
    flagged = {r["metric"]: r for r in detail.regressions}
    assert set(flagged) == {"seconds", "rows_per_s"}  # rows match the baseline
    assert flagged["seconds"]["sigmas"] > 2
    assert flagged["seconds"]["runs"] == 5
    published = [e for e in seen.events if isinstance(e, RunRegressed)]
    assert {e.metric for e in published} == {"seconds", "rows_per_s"}
    assert all(e.run_id == slow for e in published)


def test_no_regression_without_enough_runs_or_within_noise(store: StateStore) -> None:
    recorder = _recorder(store)
    for _ in range(4):
        _run(recorder, seconds=1.0)
    early = _run(recorder, seconds=10.0)  # only 4 runs before it
    assert store.find(early).regressions == []
    steady = _run(recorder, seconds=1.0, rows=1000)
    assert store.find(steady).regressions == []  # a flat baseline is not noise-free
    failed = _run(recorder, seconds=1.0, status="failed")  # a failed run is not compared
    assert store.find(failed).regressions == []


def test_an_unreachable_store_is_a_clear_error_without_password() -> None:
    with pytest.raises(DependencyError) as caught:
        StateStore.open("postgresql+psycopg://tidegate:s3cret-pw@127.0.0.1:1/nowhere")
    assert "s3cret-pw" not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_store_that_fails_mid_run_is_logged_once_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = StateStore.open(f"sqlite:///{path}")
    recorder = _recorder(store)
    with store.engine.begin() as con:
        con.execute(sa.text("DROP TABLE tidegate_run_columns"))
        con.execute(sa.text("DROP TABLE tidegate_run_regressions"))
        con.execute(sa.text("DROP TABLE tidegate_run_quality"))
        con.execute(sa.text("DROP TABLE tidegate_run_steps"))
        con.execute(sa.text("DROP TABLE tidegate_runs"))
    with structlog.testing.capture_logs() as logs:
        _run(recorder)
        _run(recorder)
    store.close()
    assert recorder.failures == 2  # each start failed; nothing raised into the run
    warnings = [line for line in logs if line["event"] == "state_store_unavailable"]
    assert len(warnings) == 1
    assert "tidegate_runs" in warnings[0]["error"]


def test_timestamps_keep_their_order(store: StateStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for minutes in (0, 5, 10):
        store.start_run(
            {
                "run_id": str(uuid.UUID(int=minutes)),
                "pipeline": "p",
                "status": "running",
                "started_at": base + timedelta(minutes=minutes),
                "spec_hash": "0" * 64,
                "host": "h",
                "user_name": "u",
                "version": "0",
            }
        )
    assert [row.started_at for row in store.runs()] == [
        base + timedelta(minutes=10),
        base + timedelta(minutes=5),
        base,
    ]


def test_head_names_the_newest_migration() -> None:
    from importlib.resources import files  # noqa: PLC0415

    from alembic.config import Config  # noqa: PLC0415
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    from tidegate.state.tables import HEAD  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(files("tidegate.state").joinpath("migrations")))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD
