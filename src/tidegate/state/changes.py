"""The change log's arithmetic: the structured diff of two stored specs and of two source
schemas, the dotted paths that name a key, and the one-line summary of a diff.

A spec diff is a list of ``{change, path, old, new}`` with ``change`` one of ``added``,
``removed``, ``changed``, and ``path`` the key as the YAML (and ``--set``) writes it
(``destination.table``, ``steps[1].columns.twice``, ``source.headers["X.Y"]`` for a key that
is not a plain word), though the stored spec keeps a plugin's settings under ``settings``.
Stored specs have their secrets redacted already, so two versions of a rotated token both read
``**********``; the fingerprints of the redacted values (``redacted_fingerprints``, made by the
app layer from the values before redaction) tell that such a value changed, and the diff says
so with both sides still redacted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["GitInfo", "SpecOrigin", "dotted", "schema_diff", "spec_diff", "summary"]

_WORD = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, kw_only=True)
class GitInfo:
    """Where the spec file stands in git: the last commit that touched it (``commit``, its
    ``author`` as ``name <email>``; None when the file was never committed) and whether the
    file has changes not committed (``dirty``)."""

    commit: str | None
    author: str | None
    dirty: bool


@dataclass(frozen=True, kw_only=True)
class SpecOrigin:
    """What a run knows of its spec beyond the spec itself, for the change log: the file it
    was read from, that file's git state (None outside a git work tree, or when git could not
    tell), and the fingerprints of the values its stored spec shows redacted, by dotted path.
    """

    spec_file: str | None = None
    git: GitInfo | None = None
    fingerprints: Mapping[str, str] = field(default_factory=dict)


def dotted(path: Sequence[str | int]) -> str:
    """``("steps", 0, "settings", "a.b")`` as ``steps[0].settings["a.b"]``."""
    shown = ""
    for key in path:
        if isinstance(key, int):
            shown += f"[{key}]"
        elif _WORD.fullmatch(key):
            shown += f".{key}" if shown else key
        else:
            shown += f"[{json.dumps(key, ensure_ascii=False)}]"
    return shown


def spec_diff(
    old: Any,
    new: Any,
    *,
    old_fingerprints: Mapping[str, str] | None = None,
    new_fingerprints: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """What changed from spec ``old`` to spec ``new`` (both JSON documents), in key order.

    Mappings are compared key by key, lists item by item (``[i]``); a key or item only on one
    side is one ``added`` or ``removed`` entry holding its whole value. A redacted value that
    reads the same on both sides is ``changed`` when its fingerprints differ (or exist on one
    side only): the secret behind it changed.
    """
    found: list[dict[str, Any]] = []
    _walk(old, new, (), found)
    if old_fingerprints is not None and new_fingerprints is not None:
        seen = {dotted(entry["path"]) for entry in found}
        for path, fingerprint in new_fingerprints.items():
            if path not in seen and old_fingerprints.get(path, fingerprint) != fingerprint:
                keys = tuple(_keys(path))
                found.append(
                    {
                        "change": "changed",
                        "path": keys,
                        "old": _at(old, keys),
                        "new": _at(new, keys),
                    }
                )
        found.sort(key=lambda entry: _order(entry["path"]))
    return [{**entry, "path": dotted(_shown(entry["path"]))} for entry in found]


def _shown(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A path of the stored spec as the YAML's: a plugin's settings sit under ``settings``
    there, not in the file (``destination.settings.table`` is ``destination.table``)."""
    if len(path) > 2 and path[0] in {"source", "destination"} and path[1] == "settings":
        return (path[0], *path[2:])
    if len(path) > 3 and path[0] == "steps" and path[2] == "settings":
        return (*path[:2], *path[3:])
    return path


def _walk(old: Any, new: Any, path: tuple[str | int, ...], found: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            where = (*path, key)
            if key not in new:
                found.append({"change": "removed", "path": where, "old": old[key], "new": None})
            elif key not in old:
                found.append({"change": "added", "path": where, "old": None, "new": new[key]})
            else:
                _walk(old[key], new[key], where, found)
        return
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            where = (*path, index)
            if index >= len(new):
                found.append({"change": "removed", "path": where, "old": old[index], "new": None})
            elif index >= len(old):
                found.append({"change": "added", "path": where, "old": None, "new": new[index]})
            else:
                _walk(old[index], new[index], where, found)
        return
    if old != new or type(old) is not type(new):
        found.append({"change": "changed", "path": path, "old": old, "new": new})


def _at(document: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` of ``document`` (for a fingerprint's entry), else None."""
    for key in path:
        inside = (isinstance(document, dict) and key in document) or (
            isinstance(document, list) and isinstance(key, int) and key < len(document)
        )
        if inside:
            document = document[key]
        else:
            return None
    return document


_PART = re.compile(r'\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([A-Za-z0-9_-]+)')


def _keys(path: str) -> list[str | int]:
    """The keys of a dotted path, the inverse of ``dotted``."""
    keys: list[str | int] = []
    for index, quoted, word in _PART.findall(path):
        if index:
            keys.append(int(index))
        elif quoted:
            keys.append(str(json.loads(quoted)))
        else:
            keys.append(word)
    return keys


def _order(path: tuple[str | int, ...]) -> list[tuple[int, Any]]:
    """A sort key putting paths in the order ``_walk`` visits them (keys sorted, items by
    index), so fingerprint entries land where the walk would have put them."""
    return [(0, key) if isinstance(key, int) else (1, key) for key in path]


def schema_diff(
    old: Sequence[Mapping[str, str]] | None, new: Sequence[Mapping[str, str]] | None
) -> list[dict[str, Any]]:
    """Columns ``added``, ``removed`` or whose type ``changed`` between two source schemas
    (lists of ``{name, type}``), in the new schema's order, then the removed ones."""
    before = {column["name"]: column["type"] for column in old or ()}
    after = {column["name"]: column["type"] for column in new or ()}
    found: list[dict[str, Any]] = []
    for name, kind in after.items():
        if name not in before:
            found.append({"change": "added", "column": name, "old": None, "new": kind})
        elif before[name] != kind:
            found.append({"change": "changed", "column": name, "old": before[name], "new": kind})
    found.extend(
        {"change": "removed", "column": name, "old": kind, "new": None}
        for name, kind in before.items()
        if name not in after
    )
    return found


def summary(diff: Sequence[Mapping[str, Any]] | None) -> str:
    """``3 changed, 1 added`` for a diff; ``first version`` for None; ``no change`` for []."""
    if diff is None:
        return "first version"
    counts = {kind: sum(1 for entry in diff if entry["change"] == kind) for kind in _KINDS}
    said = [f"{count} {kind}" for kind, count in counts.items() if count]
    return ", ".join(said) or "no change"


_KINDS = ("changed", "added", "removed")
