"""In-memory implementations of the Source, Destination and Listener protocols."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa

from tidegate.core import Checkpoint, SourceBatch
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
    """Keeps committed batches and checkpoints in memory, as a database destination would.

    ``committed`` and ``checkpoints`` survive a failed run, so a second run on the same object
    can ``resume``; ``crash_after`` raises inside ``commit`` number N to simulate a crash.
    """

    def __init__(self, *, crash_after: int | None = None) -> None:
        self.committed: list[pa.RecordBatch] = []
        self.checkpoints: list[Checkpoint] = []
        self.pending: list[pa.RecordBatch] = []
        self.calls: list[str] = []
        self.crash_after = crash_after

    def describe(self) -> str:
        """Say this is memory."""
        return "memory"

    def open(self, ctx: RunContext) -> Checkpoint | None:
        """Return the latest stored checkpoint."""
        self.calls.append("open")
        return self.checkpoints[-1] if self.checkpoints else None

    def start(self, *, resume: bool) -> None:
        """Begin an empty transaction."""
        self.calls.append(f"start:{'resume' if resume else 'new'}")
        self.pending = []

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Hold the batch until commit."""
        self.calls.append(f"write:{batch_number}")
        self.pending.append(batch)

    def commit(self, checkpoint: Checkpoint) -> bool:
        """Make pending batches committed together with ``checkpoint``."""
        if self.crash_after is not None and len(self.checkpoints) >= self.crash_after:
            raise TransientError("memory destination crashed on purpose")
        self.calls.append(f"commit:{checkpoint.batch}")
        self.committed.extend(self.pending)
        self.checkpoints.append(checkpoint)
        self.pending = []
        return True

    def finish(self, checkpoint: Checkpoint) -> None:
        """Commit the rest with the final checkpoint."""
        self.calls.append("finish")
        self.committed.extend(self.pending)
        self.checkpoints.append(checkpoint)
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
