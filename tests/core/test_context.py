"""Run ids sort by time; relative paths resolve against the pipeline's folder."""

from __future__ import annotations

import uuid
from pathlib import Path

from tidegate.core import RunContext, new_run_id
from tidegate.events import EventBus


def test_run_ids_are_uuid7_and_sort_by_creation() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert sorted(ids) == ids
    assert len(set(ids)) == 50


def test_resolve_is_relative_to_base_dir(tmp_path: Path) -> None:
    ctx = RunContext(run_id="r", pipeline="p", bus=EventBus(), base_dir=tmp_path)
    assert ctx.resolve("data/x.csv") == tmp_path / "data" / "x.csv"
    assert ctx.resolve("/abs/x.csv") == Path("/abs/x.csv")
