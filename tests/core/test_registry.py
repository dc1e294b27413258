"""The registry resolves kinds lazily and suggests the nearest kind for a typo."""

from __future__ import annotations

import sys

import pytest

from tidegate.core import Registry
from tidegate.errors import ConfigError, InternalError


def test_kinds_import_only_when_loaded() -> None:
    registry = Registry({"sources": {"memory": "tidegate.testing.doubles:MemorySource"}})
    sys.modules.pop("tidegate.testing.doubles", None)
    sys.modules.pop("tidegate.testing", None)
    assert registry.kinds("sources") == ["memory"]
    assert "tidegate.testing.doubles" not in sys.modules

    cls = registry.load("sources", "memory")

    assert cls.__name__ == "MemorySource"
    assert registry.load("sources", "memory") is cls


def test_unknown_kind_suggests_the_nearest() -> None:
    registry = Registry({"sources": {"csv": "a:B", "parquet": "a:C"}})
    with pytest.raises(ConfigError) as info:
        registry.load("sources", "parqet")
    assert "unknown source type 'parqet'" in str(info.value)
    assert "did you mean 'parquet'?" in str(info.value)
    assert "csv, parquet" in str(info.value)


def test_a_broken_target_is_an_internal_error_naming_it() -> None:
    registry = Registry({"steps": {"ghost": "tidegate.nowhere:Ghost"}})
    with pytest.raises(InternalError, match=r"tidegate\.nowhere:Ghost"):
        registry.load("steps", "ghost")


def test_register_adds_a_kind() -> None:
    registry = Registry({})
    registry.register("destinations", "memory", "tidegate.testing:MemoryDestination")
    assert registry.load("destinations", "memory").__name__ == "MemoryDestination"
