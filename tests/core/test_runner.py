"""The runner drives batches end to end, emits events, and commits once or rolls back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tidegate.core import Check, OnUnfinished, RunContext, Runner, RunResult, StepResult, timed
from tidegate.core.protocols import REASON_COLUMN
from tidegate.errors import DataError, DependencyError, ErrorKind, TransientError
from tidegate.events import (
    BatchRead,
    BatchWritten,
    EventBus,
    PreflightChecked,
    RowsRejected,
    RunFinished,
    RunStarted,
    StepFinished,
)
from tidegate.testing import FlakySource, MemoryDestination, MemorySource, RecordingListener

if TYPE_CHECKING:
    from collections.abc import Iterator


def _batches(count: int, rows: int = 3) -> list[pa.RecordBatch]:
    return [
        pa.record_batch({"id": pa.array(range(i * rows, (i + 1) * rows), pa.int64())})
        for i in range(count)
    ]


class Doubler:
    """Doubles ``id``."""

    name = "double"

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        return batch.set_column(0, "id", pc.multiply(batch.column(0), 2))


class RejectOdd:
    """Splits odd ids off with a reason."""

    name = "reject_odd"

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> StepResult:
        odd = pc.equal(pc.bit_wise_and(batch.column(0), 1), 1)
        rejected = batch.filter(odd)
        reasons = pa.array(["odd id"] * rejected.num_rows, pa.string())
        return StepResult(
            batch=batch.filter(pc.invert(odd)),
            rejected=rejected.append_column(REASON_COLUMN, reasons),
        )


class Exploding:
    """Raises a plain Python error, as a buggy plugin would."""

    name = "exploding"

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        raise ZeroDivisionError("division by zero")


def _context(listener: RecordingListener) -> RunContext:
    bus = EventBus()
    bus.subscribe(listener)
    return RunContext(run_id="run-1", pipeline="p", bus=bus, base_dir=Path.cwd())


def test_batches_flow_through_steps_and_commit_once() -> None:
    listener = RecordingListener()
    destination = MemoryDestination()
    result = Runner(
        source=MemorySource(_batches(3)),
        steps=[Doubler()],
        destination=destination,
        context=_context(listener),
    ).run()

    assert result.ok
    assert (result.rows_read, result.rows_written, result.batches) == (9, 9, 3)
    assert destination.table().column("id").to_pylist() == [i * 2 for i in range(9)]
    assert destination.calls == [
        "open",
        "start:new",
        "write:1",
        "commit:1",
        "write:2",
        "commit:2",
        "write:3",
        "commit:3",
        "finish",
        "close",
    ]
    assert [(c.batch, c.rows, c.finished) for c in destination.checkpoints] == [
        (1, 3, False),
        (2, 6, False),
        (3, 9, False),
        (3, 9, True),
    ]
    kinds = [type(e) for e in listener.events]
    assert kinds[0] is RunStarted
    assert kinds[-1] is RunFinished
    assert len(listener.of(BatchRead)) == 3
    assert len(listener.of(StepFinished)) == 3
    assert [e.rows for e in listener.of(BatchWritten)] == [3, 3, 3]
    assert listener.of(BatchRead)[-1].position == {"rows": 9}


def test_rejected_rows_are_counted_and_reported_with_reasons() -> None:
    listener = RecordingListener()
    destination = MemoryDestination()
    result = Runner(
        source=MemorySource(_batches(2, rows=4)),
        steps=[RejectOdd()],
        destination=destination,
        context=_context(listener),
    ).run()

    assert result.ok
    assert result.rows_rejected == 4
    assert result.rows_written == 4
    assert destination.table().column("id").to_pylist() == [0, 2, 4, 6]
    rejected = listener.of(RowsRejected)
    assert [(e.step, e.rows, dict(e.reasons)) for e in rejected] == [
        ("reject_odd", 2, {"odd id": 2}),
        ("reject_odd", 2, {"odd id": 2}),
    ]


def test_a_failing_source_keeps_committed_batches_and_rolls_back_the_rest() -> None:
    listener = RecordingListener()
    destination = MemoryDestination()
    error = DataError("bad row", location="x.csv line 7")
    result = Runner(
        source=FlakySource(_batches(3), fail_after=2, error=error),
        steps=[],
        destination=destination,
        context=_context(listener),
    ).run()

    assert not result.ok
    assert result.error is error
    assert destination.table().num_rows == 6
    assert destination.checkpoints[-1].rows == 6
    assert not destination.checkpoints[-1].finished
    assert destination.calls[-2:] == ["rollback", "close"]
    finished = listener.of(RunFinished)[0]
    assert finished.status == "failed"
    assert finished.error_kind == ErrorKind.DATA
    assert finished.error is not None
    assert "x.csv line 7" in finished.error


def _rerun(destination: MemoryDestination, source: MemorySource, how: OnUnfinished) -> RunResult:
    listener = RecordingListener()
    return Runner(
        source=source,
        steps=[],
        destination=destination,
        context=_context(listener),
        on_unfinished=how,
    ).run()


def _interrupted() -> MemoryDestination:
    destination = MemoryDestination(crash_after=2)
    first = _rerun(destination, MemorySource(_batches(4, rows=5)), "refuse")
    assert first.error is not None
    assert destination.table().num_rows == 10
    destination.crash_after = None
    return destination


def test_a_plain_run_refuses_to_start_over_an_unfinished_run() -> None:
    destination = _interrupted()
    result = _rerun(destination, MemorySource(_batches(4, rows=5)), "refuse")
    assert result.error is not None
    assert result.error.kind == ErrorKind.CONFIG
    assert "--resume" in str(result.error)
    assert "10 source rows committed" in str(result.error)
    assert destination.table().num_rows == 10


def test_resume_skips_exactly_the_committed_rows_even_when_batches_differ() -> None:
    destination = _interrupted()
    rechunked = pa.Table.from_batches(_batches(4, rows=5)).to_batches(max_chunksize=7)
    result = _rerun(destination, MemorySource(rechunked), "resume")

    assert result.ok, result.error
    assert result.resumed_from == "run-1"
    assert result.rows_read == 10
    assert destination.table().column("id").to_pylist() == list(range(20))
    assert destination.checkpoints[-1].finished
    assert destination.checkpoints[-1].rows == 20
    assert destination.calls.count("start:resume") == 1


def test_resume_after_a_finished_run_loads_nothing_again() -> None:
    destination = MemoryDestination()
    first = _rerun(destination, MemorySource(_batches(1)), "refuse")
    assert first.ok
    again = _rerun(destination, MemorySource(_batches(1)), "resume")
    assert again.ok
    assert again.resumed_from == first.run_id
    assert again.rows_read == 0
    assert destination.table().num_rows == 3


def test_resume_without_any_checkpoint_starts_from_the_first_row() -> None:
    destination = MemoryDestination()
    result = _rerun(destination, MemorySource(_batches(2)), "resume")
    assert result.ok
    assert result.resumed_from is None
    assert destination.table().num_rows == 6


def test_fresh_starts_over() -> None:
    destination = _interrupted()
    result = _rerun(destination, MemorySource(_batches(4, rows=5)), "fresh")
    assert result.ok
    assert result.rows_read == 20
    assert "start:new" in destination.calls[-12:]


def test_resume_fails_when_the_source_shrank() -> None:
    destination = _interrupted()
    result = _rerun(destination, MemorySource(_batches(1, rows=5)), "resume")
    assert result.error is not None
    assert result.error.kind == ErrorKind.DATA
    assert "5 fewer rows" in str(result.error)


def test_an_unexpected_plugin_exception_becomes_an_internal_error_with_its_step() -> None:
    destination = MemoryDestination()
    result = Runner(
        source=MemorySource(_batches(1)),
        steps=[Exploding()],
        destination=destination,
        context=_context(RecordingListener()),
    ).run()

    assert result.error is not None
    assert result.error.kind == ErrorKind.INTERNAL
    assert "ZeroDivisionError" in str(result.error)
    assert isinstance(result.error.__cause__, ZeroDivisionError)
    assert destination.committed == []


def test_a_failing_listener_does_not_stop_the_run() -> None:
    class Broken:
        def handle(self, event: object) -> None:
            raise RuntimeError("listener bug")

    bus = EventBus()
    bus.subscribe(Broken())
    destination = MemoryDestination()
    result = Runner(
        source=MemorySource(_batches(2)),
        steps=[],
        destination=destination,
        context=RunContext(run_id="r", pipeline="p", bus=bus),
    ).run()

    assert result.ok
    assert destination.table().num_rows == 6
    assert bus.failures["Broken"] > 0


def test_a_fail_closed_listener_fails_the_run() -> None:
    class Audit:
        fail_closed = True

        def handle(self, event: object) -> None:
            if isinstance(event, BatchWritten):
                raise TransientError("audit store unavailable")

    bus = EventBus()
    bus.subscribe(Audit())
    destination = MemoryDestination()
    result = Runner(
        source=MemorySource(_batches(2)),
        steps=[],
        destination=destination,
        context=RunContext(run_id="r", pipeline="p", bus=bus),
    ).run()

    assert not result.ok
    assert "audit store unavailable" in str(result.error)
    assert destination.committed == []


@pytest.mark.parametrize("fail_after", [0, 1])
def test_flaky_source_fails_at_the_requested_batch(fail_after: int) -> None:
    listener = RecordingListener()
    result = Runner(
        source=FlakySource(_batches(3), fail_after=fail_after),
        steps=[],
        destination=MemoryDestination(),
        context=_context(listener),
    ).run()

    assert result.error is not None
    assert result.error.kind == ErrorKind.TRANSIENT
    assert result.batches == fail_after


class _Unhealthy(MemoryDestination):
    """A destination whose connection check fails."""

    def health(self, ctx: RunContext) -> Iterator[Check]:
        yield timed("memory", "connect", lambda: "ok")
        yield timed("memory", "can write", self._refuse)

    @staticmethod
    def _refuse() -> str:
        raise DependencyError("permission denied for schema sales", hint="GRANT CREATE")


def test_a_failed_preflight_check_stops_the_run_before_the_destination_opens() -> None:
    listener = RecordingListener()
    destination = _Unhealthy()
    result = Runner(
        source=MemorySource(_batches(1)),
        steps=[],
        destination=destination,
        context=_context(listener),
    ).run()

    assert result.error is not None
    assert result.error.kind == ErrorKind.DEPENDENCY
    assert "pre-flight check 'can write' failed: permission denied" in str(result.error)
    assert "open" not in destination.calls
    checks = [(e.check, e.ok) for e in listener.of(PreflightChecked)]
    assert checks == [("connect", True), ("can write", False)]
