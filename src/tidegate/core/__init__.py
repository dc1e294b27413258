"""The small control plane: protocols at the seams, the run context, the runner, the registry.

``core`` imports only ``errors``, ``events`` and pyarrow; it never reads YAML or environment
variables and knows no concrete source, step, destination or listener.
"""

from tidegate.core.context import BatchCursor, RunContext, new_run_id
from tidegate.core.health import Check, HealthChecked, timed
from tidegate.core.protocols import (
    CallPolicy,
    Checkpoint,
    Destination,
    Finishing,
    Position,
    ProtectsQuarantine,
    Quarantines,
    Recovery,
    RowsRead,
    SchemaPeeked,
    Source,
    SourceBatch,
    Step,
    StepResult,
)
from tidegate.core.registry import Registry
from tidegate.core.runner import OnUnfinished, Runner, RunResult

__all__ = [
    "BatchCursor",
    "CallPolicy",
    "Check",
    "Checkpoint",
    "Destination",
    "Finishing",
    "HealthChecked",
    "OnUnfinished",
    "Position",
    "ProtectsQuarantine",
    "Quarantines",
    "Recovery",
    "Registry",
    "RowsRead",
    "RunContext",
    "RunResult",
    "Runner",
    "SchemaPeeked",
    "Source",
    "SourceBatch",
    "Step",
    "StepResult",
    "new_run_id",
    "timed",
]
