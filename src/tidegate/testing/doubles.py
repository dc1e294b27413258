"""In-memory implementations of the Source, Destination and Listener protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa

from tidegate.core import SourceBatch
from tidegate.errors import TidegateError, TransientError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tidegate.core import RunContext
    from tidegate.events import Event

__all__ = ["FlakySource", "MemoryDestination", "MemorySource", "RecordingListener"]

E = TypeVar("E")


class MemorySource:
    """Yields the given batches in order; the position is the running row count."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self.batches = list(batches)

    def describe(self) -> str:
        """Say how many batches are held."""
        return f"memory:{len(self.batches)} batches"

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        """Yield every batch with its position."""
        rows = 0
        for batch in self.batches:
            rows += batch.num_rows
            yield SourceBatch(batch, {"rows": rows})


class FlakySource(MemorySource):
    """Like ``MemorySource`` but raises ``error`` after yielding ``fail_after`` batches."""

    def __init__(
        self,
        batches: Iterable[pa.RecordBatch],
        *,
        fail_after: int,
        error: TidegateError | None = None,
    ) -> None:
        super().__init__(batches)
        self.fail_after = fail_after
        self.error = error or TransientError("flaky source failed on purpose")

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        """Yield ``fail_after`` batches, then raise."""
        for count, item in enumerate(super().read(ctx)):
            if count == self.fail_after:
                raise self.error
            yield item
        if self.fail_after >= len(self.batches):
            raise self.error


class MemoryDestination:
    """Keeps committed batches in ``committed``; uncommitted ones are dropped on rollback."""

    def __init__(self) -> None:
        self.committed: list[pa.RecordBatch] = []
        self.pending: list[pa.RecordBatch] = []
        self.calls: list[str] = []

    def describe(self) -> str:
        """Say this is memory."""
        return "memory"

    def open(self, ctx: RunContext) -> None:
        """Begin an empty transaction."""
        self.calls.append("open")
        self.pending = []

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Hold the batch until commit."""
        self.calls.append(f"write:{batch_number}")
        self.pending.append(batch)

    def commit(self) -> None:
        """Make pending batches committed."""
        self.calls.append("commit")
        self.committed.extend(self.pending)
        self.pending = []

    def rollback(self) -> None:
        """Drop pending batches."""
        self.calls.append("rollback")
        self.pending = []

    def close(self) -> None:
        """Record the close."""
        self.calls.append("close")

    def table(self) -> pa.Table:
        """Everything committed, as one table."""
        return pa.Table.from_batches(self.committed)


class RecordingListener:
    """Records every event it sees, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        """Record the event."""
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The recorded events of one type."""
        return [event for event in self.events if isinstance(event, kind)]
