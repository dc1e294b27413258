"""The lazy plugin registry: ``kind -> "module:Class"`` per group, imported on first use.

Built-in plugins are registered by the composition root; third parties register through the
entry-point groups ``tidegate.sources``, ``tidegate.steps`` and ``tidegate.destinations``.
Nothing is imported or scanned until a kind is asked for, so ``import tidegate`` stays cheap.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from tidegate.errors import ConfigError, InternalError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["GROUPS", "Registry"]

GROUPS = ("sources", "steps", "destinations")


class Registry:
    """Maps plugin kinds to their classes, by group, importing each only when it is asked for."""

    def __init__(self, builtins: Mapping[str, Mapping[str, str]]) -> None:
        self._targets: dict[str, dict[str, str]] = {g: dict(builtins.get(g, {})) for g in GROUPS}
        self._loaded: dict[tuple[str, str], type[Any]] = {}
        self._entry_points_read = False

    def register(self, group: str, kind: str, target: str) -> None:
        """Register ``kind`` in ``group`` as ``"package.module:Class"``."""
        self._targets[group][kind] = target

    def kinds(self, group: str) -> list[str]:
        """Every kind known in ``group``, built-in and from entry points, sorted."""
        self._read_entry_points()
        return sorted(self._targets[group])

    def suggest(self, group: str, kind: str) -> str | None:
        """The nearest known kind to a misspelt one, if any is close."""
        matches = difflib.get_close_matches(kind, self.kinds(group), n=1, cutoff=0.6)
        return matches[0] if matches else None

    def load(self, group: str, kind: str) -> type[Any]:
        """The plugin class for ``kind``; raises ``ConfigError`` for an unknown kind."""
        key = (group, kind)
        if key in self._loaded:
            return self._loaded[key]
        self._read_entry_points()
        target = self._targets[group].get(kind)
        if target is None:
            near = self.suggest(group, kind)
            raise ConfigError(
                f"unknown {group[:-1]} type {kind!r}",
                hint=(f"did you mean {near!r}? " if near else "")
                + f"known types: {', '.join(self.kinds(group))}",
            )
        module_name, _, attr = target.partition(":")
        try:
            cls: type[Any] = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InternalError(
                f"plugin {kind!r} ({target}) could not be imported: {exc}",
                hint="install the extra or package that provides it",
            ) from exc
        self._loaded[key] = cls
        return cls

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        for group in GROUPS:
            for ep in entry_points(group=f"tidegate.{group}"):
                self._targets[group].setdefault(ep.name, ep.value)
