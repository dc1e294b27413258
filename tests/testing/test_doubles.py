"""The shipped test doubles: MemoryDestination's transactional quarantine and quarantine_rows."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import QUARANTINE_COLUMNS, Checkpoint, Destination, Quarantines
from tidegate.errors import ConfigError, DataError, TransientError
from tidegate.events import EventBus
from tidegate.testing import MemoryDestination
from tidegate.testing.doubles import quarantine_rows

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
CTX = RunContext(run_id="r1", pipeline="p", bus=EventBus())


def cp(batch: int, *, run_id: str = "r1", finished: bool = False) -> Checkpoint:
    return Checkpoint(
        pipeline="p", run_id=run_id, batch=batch, rows=0, position={}, finished=finished
    )


def ids(table: pa.Table) -> list[int]:
    return list(table.column("id").to_pylist()) if table.num_rows else []


def test_quarantine_rows_has_the_documented_shape() -> None:
    rows = quarantine_rows({"id": [5, 6]}, run_id="r1", batch=3, first_row=10, at=T0)
    assert rows.schema.names == ["id", *(name for name, _ in QUARANTINE_COLUMNS)]
    assert rows.column("_tidegate_qid").to_pylist() == ["r1:3:0", "r1:3:1"]
    assert rows.column("_tidegate_row").to_pylist() == [10, 11]
    assert rows.schema.field("_tidegate_quarantined_at").type == pa.timestamp("us", "UTC")
    unnumbered = quarantine_rows({"id": [1]}, run_id="r1", batch=1)
    assert unnumbered.column("_tidegate_row").to_pylist() == [None]


def test_memory_destination_is_a_quarantining_destination() -> None:
    dest = MemoryDestination(table="customers")
    assert isinstance(dest, Destination)
    assert isinstance(dest, Quarantines)
    assert dest.quarantine_name() == "customers__quarantine"


def test_quarantine_is_pending_until_commit_and_dropped_on_rollback() -> None:
    dest = MemoryDestination()
    dest.open(CTX)
    dest.start(resume=False)
    dest.write(pa.record_batch({"id": [1]}), batch_number=1)
    dest.write_quarantine(quarantine_rows({"id": [2]}, run_id="r1", batch=1))
    assert dest.quarantined == []
    assert ids(dest.read_quarantine()) == [2]  # the transaction sees its own writes
    dest.commit(cp(1))
    assert [b.num_rows for b in dest.quarantined] == [1]

    dest.write(pa.record_batch({"id": [3]}), batch_number=2)
    dest.write_quarantine(quarantine_rows({"id": [4]}, run_id="r1", batch=2))
    dest.rollback()
    assert ids(dest.table()) == [1]
    assert ids(dest.read_quarantine()) == [2]
    assert "write_quarantine:1" in dest.calls


def test_a_crashed_commit_keeps_neither_rows_nor_quarantine() -> None:
    dest = MemoryDestination(crash_after=0)
    dest.open(CTX)
    dest.start(resume=False)
    dest.write(pa.record_batch({"id": [1]}), batch_number=1)
    dest.write_quarantine(quarantine_rows({"id": [2]}, run_id="r1", batch=1))
    with pytest.raises(TransientError):
        dest.commit(cp(1))
    dest.rollback()
    assert dest.committed == []
    assert dest.quarantined == []


def test_read_order_run_filter_new_columns_and_delete() -> None:
    dest = MemoryDestination()
    dest.open(CTX)
    dest.start(resume=False)
    late = T0 + dt.timedelta(days=1)
    dest.write_quarantine(quarantine_rows({"id": [1]}, run_id="run-b", batch=1, at=late))
    dest.write_quarantine(
        quarantine_rows(
            {"id": pa.array([2], pa.int32()), "x": ["n"]}, run_id="run-a", batch=1, at=T0
        )
    )
    dest.finish(cp(1, finished=True))

    everything = dest.read_quarantine()
    assert ids(everything) == [2, 1]
    assert everything.column("x").to_pylist() == ["n", None]
    assert ids(dest.read_quarantine(run_id="run-b")) == [1]

    dest.start(resume=False)
    assert dest.delete_quarantine(["run-a:1:0", "run-a:1:0", "nope"]) == 1
    assert dest.delete_quarantine([]) == 0
    dest.rollback()
    assert ids(dest.read_quarantine()) == [2, 1]
    dest.start(resume=False)
    assert dest.delete_quarantine(["run-b:1:0"]) == 1
    dest.finish(cp(2, finished=True))
    assert ids(dest.read_quarantine()) == [2]


def test_a_type_conflict_is_a_data_error() -> None:
    dest = MemoryDestination()
    dest.open(CTX)
    dest.start(resume=False)
    dest.write_quarantine(quarantine_rows({"age": [41]}, run_id="r1", batch=1))
    with pytest.raises(DataError, match="column 'age' of the rejected rows is string, but int64"):
        dest.write_quarantine(quarantine_rows({"age": ["forty"]}, run_id="r1", batch=2))


def test_read_target_is_distinct_over_committed_rows() -> None:
    dest = MemoryDestination()
    dest.open(CTX)
    empty = dest.read_target(["id"])
    assert (empty.num_rows, empty.column_names) == (0, ["id"])
    dest.start(resume=False)
    dest.write(pa.record_batch({"id": [1, 1, 2], "c": ["a", "a", "b"]}), batch_number=1)
    dest.commit(cp(1))
    dest.write(pa.record_batch({"id": [3], "c": ["z"]}), batch_number=2)  # not committed
    assert sorted(dest.read_target(["id", "c"]).to_pylist(), key=str) == [
        {"id": 1, "c": "a"},
        {"id": 2, "c": "b"},
    ]
    with pytest.raises(ConfigError, match="nope"):
        dest.read_target(["nope"])
