"""The state store: run history (runs, steps, quality, classification, regressions) in SQL.

SQLite at ``.tidegate/state.db`` beside the pipeline by default, any SQLAlchemy URL for a team
(PostgreSQL tested). Schema changes go through the Alembic migrations in ``migrations/``.
"""

from tidegate.state.recorder import StateRecorder
from tidegate.state.store import (
    PipelineSummary,
    RunDetail,
    RunRow,
    StateStore,
    default_state_url,
)

__all__ = [
    "PipelineSummary",
    "RunDetail",
    "RunRow",
    "StateRecorder",
    "StateStore",
    "default_state_url",
]
