"""Fixtures shared by the destination tests: a run context rooted in the test's tmp folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tidegate.core.context import RunContext, new_run_id
from tidegate.events import EventBus

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    """A context with a real, time-sortable run id, as checkpoints are ordered by it."""
    return RunContext(run_id=new_run_id(), pipeline="p", bus=EventBus(), base_dir=tmp_path)
