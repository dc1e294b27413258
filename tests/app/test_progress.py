"""The terminal progress line follows the run's events."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
from rich.console import Console

from tidegate.app.progress import ProgressListener
from tidegate.core import RunContext, Runner
from tidegate.events import EventBus
from tidegate.testing import MemoryDestination, MemorySource


def test_progress_shows_rows_batches_and_final_status() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, color_system=None)
    bus = EventBus()
    bus.subscribe(ProgressListener(console))
    batch = pa.record_batch({"id": pa.array(range(1000), pa.int64())})
    result = Runner(
        source=MemorySource([batch] * 3),
        steps=[],
        destination=MemoryDestination(),
        context=RunContext(run_id="r", pipeline="orders", bus=bus, base_dir=Path.cwd()),
    ).run()

    assert result.ok
    final = buffer.getvalue().rsplit("\r", 1)[-1]
    assert "orders succeeded" in final
    assert "3,000 rows" in final
    assert "3 batches" in final
    assert "rows/s" in final
    assert not bus.failures
