"""What a plugin may know about the run it serves: ids, the event bus, the working folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from uuid6 import uuid7

from tidegate.core.protocols import CallPolicy, DirectCalls, FaultPoints, NoFaults

if TYPE_CHECKING:
    from tidegate.events import Event, EventBus

__all__ = ["BatchCursor", "RunContext", "new_run_id"]


def new_run_id() -> str:
    """A UUIDv7 as text: unique, and sortable by start time so run listings need no extra key."""
    return str(uuid7())


@dataclass
class BatchCursor:
    """The batch in flight, kept current by the runner for steps that report row positions.

    ``first_row`` is the 1-based source row number of the batch's first row (counted across a
    resume), so a step that sees rows one-to-one can say which source row failed.
    """

    number: int = 0
    first_row: int = 1


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """Per-run facts handed to every source, step and destination.

    ``base_dir`` is the folder of the pipeline file: relative paths in settings resolve
    against it, not against the process's working directory. ``calls`` is the retry and
    circuit-breaker policy for calls to other systems; ``faults`` the fault injection points
    (both do nothing unless the pipeline configures them).
    """

    run_id: str
    pipeline: str
    bus: EventBus
    base_dir: Path = field(default_factory=Path.cwd)
    batch: BatchCursor = field(default_factory=BatchCursor)
    calls: CallPolicy = field(default_factory=DirectCalls)
    faults: FaultPoints = field(default_factory=NoFaults)

    def resolve(self, path: str | Path) -> Path:
        """Resolve a path from the settings against the pipeline's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def emit(self, event: Event) -> None:
        """Publish an event on the run's bus."""
        self.bus.publish(event)
