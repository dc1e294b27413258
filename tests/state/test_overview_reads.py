"""The aggregated reads behind the dashboard's overview, on SQLite and on PostgreSQL: every
pipeline at once, or one pipeline alone (its page), with the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tidegate.state import StateStore

if TYPE_CHECKING:
    from collections.abc import Iterator

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(url: str) -> Iterator[StateStore]:
    opened = StateStore.open(url)
    # orders: 25 runs a day apart, the newest first in id; every fifth failed
    for day in range(25):
        status = "failed" if day % 5 == 0 else "succeeded"
        _record(opened, "orders", day, status, seconds=float(day + 1))
    _record(opened, "refunds", 40, "succeeded", seconds=7.0)
    _record(opened, "refunds", 2, "failed", seconds=None)
    yield opened
    opened.close()


def _record(
    store: StateStore, pipeline: str, days_ago: int, status: str, *, seconds: float | None
) -> None:
    started = NOW - timedelta(days=days_ago)
    run_id = f"{pipeline}-{1000 - days_ago:04d}"  # sorts as the start does
    store.start_run(
        {
            "run_id": run_id,
            "pipeline": pipeline,
            "status": "running",
            "started_at": started,
            "spec_hash": "0" * 64,
            "host": "h",
            "user_name": "u",
            "version": "0",
        }
    )
    store.finish_run(
        run_id,
        {
            "status": status,
            "error_kind": "data" if status == "failed" else None,
            "finished_at": started + timedelta(seconds=seconds or 1),
            "seconds": seconds,
            "rows_read": 10,
            "rows_written": 10,
            "rows_rejected": 0,
            "batches": 1,
        },
        steps=[],
        quality=None,
        columns=[],
        regressions=[],
    )


def test_pipelines_summarise_each_latest_run_and_counts(store: StateStore) -> None:
    orders, refunds = store.pipelines()
    assert orders.pipeline == "orders"
    assert orders.last_run_id == "orders-1000"
    assert orders.last_status == "failed"  # day 0 is a fifth day
    assert orders.last_error_kind == "data"
    assert orders.last_success_at == NOW - timedelta(days=1) + timedelta(seconds=2)
    assert orders.runs == {"failed": 5, "succeeded": 20}
    assert refunds.last_run_id == "refunds-0998"
    assert refunds.last_seconds is None
    assert refunds.runs == {"failed": 1, "succeeded": 1}


def test_one_pipeline_alone_reads_the_same_as_among_all(store: StateStore) -> None:
    everything = {summary.pipeline: summary for summary in store.pipelines()}
    assert store.pipelines(pipeline="refunds") == [everything["refunds"]]
    assert store.pipelines(pipeline="missing") == []

    windows = [NOW - timedelta(days=7, hours=1), NOW - timedelta(days=30)]
    all_counts = store.window_counts(windows)
    assert all_counts["orders"] == [(8, 6), (25, 20)]
    assert all_counts["refunds"] == [(1, 0), (1, 0)]
    assert store.window_counts(windows, pipeline="orders") == {"orders": all_counts["orders"]}


def test_recent_seconds_are_the_latest_durations_newest_first(store: StateStore) -> None:
    recent = store.recent_seconds(per_pipeline=20)
    assert recent["orders"] == [float(day + 1) for day in range(20)]
    assert recent["refunds"] == [7.0]  # the failed run without a duration is left out
    assert store.recent_seconds(per_pipeline=3, pipeline="orders") == {"orders": [1.0, 2.0, 3.0]}
