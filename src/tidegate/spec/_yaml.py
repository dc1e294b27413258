"""YAML reading that keeps where every key came from.

PyYAML's ``safe_load`` forgets line numbers and silently keeps the last of two equal keys. Here
the document is composed into nodes and walked by hand, so every key path maps to its line and
duplicate keys become problems. Scalars are built by PyYAML's safe constructor, except
timestamps, which stay text: a ``str`` setting should not receive a ``date``, and a ``date``
setting parses text anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tidegate.errors import ConfigError, Problem

__all__ = ["Key", "KeyPath", "ParsedYaml", "dotted", "parse_yaml", "parse_yaml_value"]

Key = str | int
KeyPath = tuple[Key, ...]

_MAX_NODES = 100_000
"""Built values per document: aliases may not expand a small file into a huge one."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def dotted(path: KeyPath) -> str:
    """``("steps", 0, "query")`` as ``steps.0.query``, the form ``--set`` takes."""
    return ".".join(str(part) for part in path)


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """A YAML document as plain data, the line of every key path, and the problems found."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def parse_yaml(text: str, *, display: str) -> ParsedYaml:
    """Parse one YAML document; syntax errors raise ``ConfigError`` at ``file:line:column``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, display) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"invalid YAML: {exc}", location=display, hint="check the file's syntax"
        ) from exc
    if node is None:
        return ParsedYaml(data=None, lines={(): 1})
    builder = _Builder(display)
    data = builder.build(node, ())
    builder.lines[()] = node.start_mark.line + 1
    return ParsedYaml(data=data, lines=builder.lines, problems=tuple(builder.problems))


def parse_yaml_value(text: str) -> Any:
    """One flow value or scalar as YAML reads it (``500`` -> int); raises ``yaml.YAMLError``."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None
    builder = _Builder("--set")
    value = builder.build(node, ())
    if builder.problems:
        raise yaml.YAMLError(builder.problems[0].message)
    return value


def _syntax_error(exc: yaml.MarkedYAMLError, display: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    location = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
    reason = exc.problem or exc.context or "cannot be parsed"
    hint = "check indentation, colons and quoting on this line and the one above"
    if exc.context and exc.problem and exc.context_mark is not None:
        hint = f"{exc.context} on line {exc.context_mark.line + 1}; " + hint
    return ConfigError(f"invalid YAML: {reason}", location=location, hint=hint)


class _Builder:
    """Walks composed nodes into dicts, lists and scalars, recording lines and duplicates."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")
        self._open: set[int] = set()  # nodes being built: an alias back to one is a cycle
        self._built = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self._built += 1
        if self._built > _MAX_NODES:
            raise ConfigError(
                f"the YAML document expands to more than {_MAX_NODES} values",
                location=f"{self.display}:{node.start_mark.line + 1}",
                hint="use fewer nested aliases (*name)",
            )
        if id(node) in self._open:
            self._problem(node, path, "a YAML alias refers to itself", "remove the cycle")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                items: list[Any] = []
                for index, child in enumerate(node.value):
                    self.lines[(*path, index)] = child.start_mark.line + 1
                    items.append(self.build(child, (*path, index)))
                return items
            return self._scalar(node, path)
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or "cannot be read"
            self._problem(node, path, f"unsupported YAML value: {reason}", "remove the YAML tag")
            return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        # Merge keys (``<<: *defaults``) first, so explicit keys override them as YAML says.
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge(result, value_node, path)
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, path, "a key must be a plain word, not a list or mapping")
                continue
            # The raw text, so ``on:`` or ``1:`` stay the keys the user wrote.
            key = str(key_node.value)
            if key in first_seen:
                self._problem(
                    key_node,
                    (*path, key),
                    f"key {key!r} appears twice in this mapping (first on line {first_seen[key]})",
                    "remove one of them; YAML would silently keep only the last",
                )
            first_seen[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _merge(self, result: dict[str, Any], value_node: yaml.Node, path: KeyPath) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self._problem(source, path, "a '<<' merge key needs a mapping or list of mappings")
                continue
            for key, value in self._mapping(source, path).items():
                result.setdefault(key, value)

    def _problem(
        self, node: yaml.Node, path: KeyPath, message: str, hint: str | None = None
    ) -> None:
        self.problems.append(
            Problem(
                file=self.display,
                line=node.start_mark.line + 1,
                path=dotted(path),
                message=message,
                hint=hint,
            )
        )
