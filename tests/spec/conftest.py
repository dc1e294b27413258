"""Fixtures of the spec tests: a registry of the test plugins and a pipeline-file writer."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from tests.spec.plugins import TARGETS
from tidegate.core import Registry

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture
def registry() -> Registry:
    """A registry holding only the test plugins of ``tests/spec/plugins.py``."""
    return Registry(TARGETS)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented YAML to ``tmp_path/<name>`` and return the path."""

    def _write(text: str, name: str = "pipeline.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
