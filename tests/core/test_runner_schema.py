"""The runner tells the source's schema once per run, on the first ``BatchRead``: what the
source produced (before any step changed it), never again on later batches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.core import RunContext, Runner
from tidegate.events import BatchRead, EventBus
from tidegate.testing import MemoryDestination, MemorySource, RecordingListener


class Renamer:
    """Turns ``amount`` into a string column ``label``: the schema the runner tells is the
    source's, not this step's."""

    name = "rename"

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        label = pc.cast(batch.column(1), pa.string())
        return pa.record_batch([batch.column(0), label], names=["id", "label"])


def test_the_first_batch_read_carries_the_source_schema_and_no_other() -> None:
    batches = [
        pa.record_batch(
            {
                "id": pa.array([i, i + 1], pa.int64()),
                "amount": pa.array([1.5, 2.5], pa.float64()),
            }
        )
        for i in range(0, 6, 2)
    ]
    listener = RecordingListener()
    bus = EventBus()
    bus.subscribe(listener)
    result = Runner(
        source=MemorySource(batches),
        steps=[Renamer()],
        destination=MemoryDestination(),
        context=RunContext(run_id="run-1", pipeline="p", bus=bus, base_dir=Path.cwd()),
    ).run()
    assert result.ok
    told = [event.schema for event in listener.of(BatchRead)]
    assert told == [(("id", "int64"), ("amount", "double")), None, None]
