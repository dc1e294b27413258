"""``--set a.b.c=value`` overrides: parsing, and applying them to the parsed spec data.

The value is read as a YAML scalar or flow value (``500`` is an int, ``[a, b]`` a list), but
text that YAML would turn into a block mapping (``SELECT a: b``) or fails to parse stays text,
so a query can be passed without extra quoting. Index segments address list items
(``steps.0.query``). A malformed override raises ``ConfigError`` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from tidegate.errors import ConfigError
from tidegate.spec._yaml import dotted, parse_yaml_value

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidegate.spec._yaml import KeyPath

__all__ = ["Override", "apply_overrides", "parse_override"]

_HINT = "write --set key.path=value, e.g. --set destination.table=customers or steps.0.query=..."


@dataclass(frozen=True, slots=True)
class Override:
    """One parsed ``--set``: its dotted path as written, the segments and the value."""

    path: str
    segments: tuple[str, ...]
    value: Any

    @property
    def label(self) -> str:
        """Where problems caused by this override are reported: ``--set a.b.c``."""
        return f"--set {self.path}"


def parse_override(raw: str) -> Override:
    """Parse ``a.b.c=value``; raises ``ConfigError`` when there is no ``=`` or no path."""
    path, sep, text = raw.partition("=")
    path = path.strip()
    if not sep:
        raise ConfigError(f"override {raw!r} has no '='", location="--set", hint=_HINT)
    segments = tuple(path.split("."))
    if not path or any(not segment for segment in segments):
        raise ConfigError(
            f"override --set {path}=... has an empty key path segment",
            location=f"--set {path}" if path else "--set",
            hint=_HINT,
        )
    return Override(path=path, segments=segments, value=_parse_value(text))


def _parse_value(text: str) -> Any:
    if not text.strip():
        return text
    try:
        value = parse_yaml_value(text)
    except yaml.YAMLError:
        return text
    stripped = text.lstrip()
    if isinstance(value, dict) and not stripped.startswith("{"):
        return text
    if isinstance(value, list) and not stripped.startswith("["):
        return text
    return value


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[Override]
) -> tuple[dict[str, Any], list[tuple[KeyPath, Override, list[KeyPath]]]]:
    """Apply the overrides in order to ``data`` (modified in place and returned).

    Returns, per override, the key path it set, the override, and the paths of the mappings it
    had to create on the way, so problems there can be located at the override.
    """
    applied: list[tuple[KeyPath, Override, list[KeyPath]]] = []
    for override in overrides:
        target, created = _apply(data, override)
        applied.append((target, override, created))
    return data, applied


def _apply(data: dict[str, Any], override: Override) -> tuple[KeyPath, list[KeyPath]]:
    node: Any = data
    path: KeyPath = ()
    created: list[KeyPath] = []
    last = len(override.segments) - 1
    for position, segment in enumerate(override.segments):
        key: str | int
        if isinstance(node, list):
            if not segment.lstrip("-").isdigit():
                raise _bad(
                    override, f"{dotted(path)} is a list; use an item number, not {segment!r}"
                )
            key = int(segment)
            if not 0 <= key < len(node):
                raise _bad(
                    override,
                    f"index {key} is out of range: {dotted(path)} has {len(node)} item(s)",
                )
        elif isinstance(node, dict):
            key = segment
        else:
            raise _bad(override, f"{dotted(path)} is {_kind(node)}, not a mapping or list")
        child_path = (*path, key)
        if position == last:
            node[key] = override.value
            return child_path, created
        child = node.get(key) if isinstance(node, dict) else node[int(key)]
        if child is None:
            child = {}
            node[key] = child
            created.append(child_path)
        node, path = child, child_path
    raise AssertionError("unreachable: an override has at least one segment")  # pragma: no cover


def _bad(override: Override, message: str) -> ConfigError:
    return ConfigError(f"cannot apply override: {message}", location=override.label, hint=_HINT)


def _kind(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a value"
