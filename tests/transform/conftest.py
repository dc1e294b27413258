"""Fixtures shared by the transform step tests: a run context rooted in the tmp folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tidegate.core.context import RunContext
from tidegate.events import EventBus

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(run_id="t", pipeline="p", bus=EventBus(), base_dir=tmp_path)
