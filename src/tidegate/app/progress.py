"""A live progress display for terminals: rows, rows/s, batches and elapsed time.

It is a listener like any other, so the runner never knows whether a terminal is watching.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tidegate.events import BatchWritten, Event, RowsRejected, RunFinished, RunStarted

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ProgressListener"]


class ProgressListener:
    """Shows one live line per run on ``console`` while batches are written."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[rows]:>12,} rows"),
            TextColumn("{task.fields[rate]:>10,.0f} rows/s"),
            TextColumn("{task.fields[batches]:>6} batches"),
            TextColumn("{task.fields[rejected]} rejected"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(
            "starting", total=None, rows=0, rate=0.0, batches=0, rejected=0, start=False
        )
        self._started = time.perf_counter()
        self._rows = 0
        self._rejected = 0

    def handle(self, event: Event) -> None:
        """Advance the display for the events it shows."""
        match event:
            case RunStarted():
                self._started = time.perf_counter()
                self._progress.start()
                self._progress.start_task(self._task)
                self._progress.update(self._task, description=event.pipeline)
            case BatchWritten():
                self._rows += event.rows
                elapsed = max(time.perf_counter() - self._started, 1e-9)
                self._progress.update(
                    self._task, rows=self._rows, rate=self._rows / elapsed, batches=event.batch
                )
            case RowsRejected():
                self._rejected += event.rows
                self._progress.update(self._task, rejected=self._rejected)
            case RunFinished():
                self._progress.update(self._task, description=f"{event.pipeline} {event.status}")
                self._progress.stop()
            case _:
                pass
