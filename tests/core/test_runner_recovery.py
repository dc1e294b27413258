"""A load that fails retryably continues after its own last checkpoint, exactly once."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.core import RunContext, Runner
from tidegate.errors import ConfigError, TidegateError, TransientError
from tidegate.events import EventBus, RetryAttempted
from tidegate.resilience.retry import LoadRecovery
from tidegate.spec.resilience import RetryPolicySpec
from tidegate.testing import MemoryDestination, MemorySource, RecordingListener

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tidegate.core.protocols import SourceBatch

FAST = RetryPolicySpec(attempts=3, initial_delay=0.0, max_delay=0.0)


def _batches(count: int, rows: int = 4) -> list[pa.RecordBatch]:
    return [
        pa.record_batch({"id": pa.array(range(i * rows, (i + 1) * rows), pa.int64())})
        for i in range(count)
    ]


class FailingOnce(MemorySource):
    """Raises ``error`` once, after ``after`` batches of its first read."""

    def __init__(self, batches: list[pa.RecordBatch], *, after: int, error: TidegateError) -> None:
        super().__init__(batches)
        self.after, self.error, self.reads = after, error, 0

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        self.reads += 1
        for count, item in enumerate(super().read(ctx)):
            if self.reads == 1 and count == self.after:
                raise self.error
            yield item


class FailOnceAt:
    """Fault points raising ``error`` once at ``point`` of batch ``batch``."""

    def __init__(self, point: str, batch: int, error: TidegateError) -> None:
        self.point, self.batch, self.error, self.fired = point, batch, error, False

    def reached(self, point: str, *, batch: int) -> None:
        if not self.fired and (point, batch) == (self.point, self.batch):
            self.fired = True
            raise self.error


def _run(
    source: MemorySource, *, faults: FailOnceAt | None = None, policy: RetryPolicySpec = FAST
) -> tuple[Runner, MemoryDestination, RecordingListener]:
    bus, seen = EventBus(), RecordingListener()
    bus.subscribe(seen)
    context = RunContext(run_id="r1", pipeline="p", bus=bus)
    if faults is not None:
        context = RunContext(run_id="r1", pipeline="p", bus=bus, faults=faults)
    destination = MemoryDestination()
    runner = Runner(
        source=source,
        steps=[],
        destination=destination,
        context=context,
        recovery=LoadRecovery(policy, rng=random.Random(0)),  # noqa: S311 - not secrets
    )
    return runner, destination, seen


def _ids(destination: MemoryDestination) -> list[int]:
    return sorted(pc.cast(destination.table().column("id"), pa.int64()).to_pylist())


def test_a_source_failing_mid_read_is_read_again_after_the_checkpoint() -> None:
    source = FailingOnce(_batches(6), after=3, error=TransientError("socket reset"))
    runner, destination, seen = _run(source)
    result = runner.run()
    assert result.ok, result.error
    assert _ids(destination) == list(range(24))  # every row once
    assert (result.rows_read, result.rows_written, result.batches) == (24, 24, 6)
    retries = [e for e in seen.events if isinstance(e, RetryAttempted)]
    assert [(e.operation, e.attempt, e.error_kind) for e in retries] == [("source", 1, "transient")]
    assert result.resumed_from is None  # its own checkpoint: a retry, not a resume


def test_a_failed_commit_reruns_its_transaction_once() -> None:
    runner, destination, seen = _run(
        MemorySource(_batches(5)), faults=FailOnceAt("before_commit", 3, TransientError("lock"))
    )
    result = runner.run()
    assert result.ok, result.error
    assert _ids(destination) == list(range(20))
    assert result.rows_written == 20
    retries = [e for e in seen.events if isinstance(e, RetryAttempted)]
    assert [(e.operation, e.target) for e in retries] == [("load", "memory")]


def test_errors_that_are_not_retryable_fail_the_run_at_once() -> None:
    runner, destination, seen = _run(
        MemorySource(_batches(4)), faults=FailOnceAt("mid_batch", 2, ConfigError("bad"))
    )
    result = runner.run()
    assert not result.ok
    assert isinstance(result.error, ConfigError)
    assert not [e for e in seen.events if isinstance(e, RetryAttempted)]
    assert _ids(destination) == list(range(4))  # batch 1 stays committed


def test_retries_stop_when_attempts_run_out() -> None:
    class AlwaysFails:
        def reached(self, point: str, *, batch: int) -> None:
            if point == "before_commit" and batch == 2:
                raise TransientError("still locked")

    bus = EventBus()
    seen = RecordingListener()
    bus.subscribe(seen)
    runner = Runner(
        source=MemorySource(_batches(3)),
        steps=[],
        destination=MemoryDestination(),
        context=RunContext(run_id="r1", pipeline="p", bus=bus, faults=AlwaysFails()),
        recovery=LoadRecovery(FAST),
    )
    result = runner.run()
    assert isinstance(result.error, TransientError)
    assert len([e for e in seen.events if isinstance(e, RetryAttempted)]) == 2  # 3 tries in all
