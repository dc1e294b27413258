"""The runner's side of quality: rejects to the quarantine, the batch cursor, end-of-run checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tidegate.core import RunContext, Runner, StepResult
from tidegate.core.protocols import QUARANTINE_COLUMNS, REASON_COLUMN, ROW_COLUMN
from tidegate.errors import DataError
from tidegate.events import EventBus, RowsRejected
from tidegate.testing import MemoryDestination, MemorySource, RecordingListener

if TYPE_CHECKING:
    from pathlib import Path


class DropOdd:
    """Rejects odd ids and records where the runner said each batch starts."""

    name = "drop_odd"
    keeps_rows = False

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> StepResult:
        self.seen.append((ctx.batch.number, ctx.batch.first_row))
        odd = pc.equal(pc.bit_wise_and(batch.column("id"), 1), 1)
        rejected = batch.filter(odd)
        reasons = pa.array(["odd id"] * rejected.num_rows, pa.string())
        return StepResult(
            batch=batch.filter(pc.invert(odd)),
            rejected=pa.RecordBatch.from_arrays(
                [*rejected.columns, reasons], names=[*rejected.schema.names, REASON_COLUMN]
            ),
        )


class EndCheck:
    """A step with an end-of-run check that fails when told to."""

    name = "end_check"

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.finished = 0

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        return batch

    def finish(self, ctx: RunContext) -> None:
        self.finished += 1
        if self.fail:
            raise DataError("too few rows")


def _source(batches: int, rows: int = 4) -> MemorySource:
    return MemorySource(
        pa.record_batch({"id": pa.array(range(i * rows, (i + 1) * rows), pa.int64())})
        for i in range(batches)
    )


def _ctx(tmp_path: Path, listener: RecordingListener | None = None) -> RunContext:
    bus = EventBus()
    if listener is not None:
        bus.subscribe(listener)
    return RunContext(run_id="run-1", pipeline="p", bus=bus, base_dir=tmp_path)


def test_rejected_rows_reach_the_quarantine_with_bookkeeping_columns(tmp_path: Path) -> None:
    destination = MemoryDestination()
    listener = RecordingListener()
    step = DropOdd()
    result = Runner(
        source=_source(3), steps=[step], destination=destination, context=_ctx(tmp_path, listener)
    ).run()

    assert result.ok
    assert result.rows_written == 6
    assert result.rows_rejected == 6
    assert step.seen == [(1, 1), (2, 5), (3, 9)]
    quarantined = pa.Table.from_batches(destination.quarantined)
    assert quarantined.column_names == ["id", *(name for name, _ in QUARANTINE_COLUMNS)]
    assert quarantined["id"].to_pylist() == [1, 3, 5, 7, 9, 11]
    assert quarantined["_tidegate_qid"].to_pylist()[:2] == [
        "run-1:000000001:000000000",
        "run-1:000000001:000000001",
    ]
    assert set(quarantined["_tidegate_step"].to_pylist()) == {"drop_odd"}
    assert quarantined["_tidegate_batch"].to_pylist() == [1, 1, 2, 2, 3, 3]
    assert quarantined[ROW_COLUMN].null_count == 6  # the step did not say
    assert quarantined["_tidegate_quarantined_at"].type == pa.timestamp("us", tz="UTC")
    events = listener.of(RowsRejected)
    assert [event.quarantine for event in events] == ["memory__quarantine"] * 3


def test_quarantined_rows_of_a_failed_batch_are_rolled_back(tmp_path: Path) -> None:
    destination = MemoryDestination(crash_after=1)
    result = Runner(
        source=_source(3), steps=[DropOdd()], destination=destination, context=_ctx(tmp_path)
    ).run()

    assert not result.ok
    assert pa.Table.from_batches(destination.quarantined)["id"].to_pylist() == [1, 3]
    assert pa.Table.from_batches(destination.committed)["id"].to_pylist() == [0, 2]


def test_a_resumed_run_numbers_rows_from_where_it_continues(tmp_path: Path) -> None:
    destination = MemoryDestination(crash_after=1)
    first = Runner(
        source=_source(3), steps=[DropOdd()], destination=destination, context=_ctx(tmp_path)
    ).run()
    assert not first.ok
    destination.crash_after = None
    step = DropOdd()
    resumed = Runner(
        source=_source(3),
        steps=[step],
        destination=destination,
        context=_ctx(tmp_path),
        on_unfinished="resume",
    ).run()
    assert resumed.ok
    assert step.seen == [(2, 5), (3, 9)]


@pytest.mark.parametrize("fail", [False, True])
def test_end_of_run_checks_come_before_the_final_commit(tmp_path: Path, fail: bool) -> None:
    destination = MemoryDestination()
    check = EndCheck(fail=fail)
    result = Runner(
        source=_source(2), steps=[check], destination=destination, context=_ctx(tmp_path)
    ).run()

    assert check.finished == 1
    assert result.ok is not fail
    assert ("finish" in destination.calls) is not fail
    if fail:
        assert result.error is not None
        assert result.error.message == "too few rows"
        assert destination.calls[-2:] == ["rollback", "close"]
