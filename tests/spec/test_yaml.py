"""YAML reading: syntax errors at file:line:column, duplicate keys, lines of every key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tidegate.errors import ConfigError, SpecError
from tidegate.spec import load_pipeline
from tidegate.spec._yaml import parse_yaml

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.core import Registry


def test_syntax_error_reports_line_column_and_reason(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source:
          type: csv
          path: "unterminated
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(ConfigError) as error:
        load_pipeline(path, registry=registry)

    assert error.value.location is not None
    assert error.value.location.startswith(f"{path}:")
    line, column = error.value.location.removeprefix(f"{path}:").split(":")
    assert int(line) >= 4
    assert int(column) >= 1
    assert error.value.message.startswith("invalid YAML: ")
    assert "quoted scalar" in str(error.value)


def test_bad_indentation_points_at_the_offending_line(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("name: p\nsource:\n  type: csv\n   path: x\n")

    with pytest.raises(ConfigError) as error:
        load_pipeline(path, registry=registry)

    assert error.value.location == f"{path}:4:8"
    assert error.value.message == "invalid YAML: mapping values are not allowed here"


def test_duplicate_keys_are_problems_not_silently_dropped(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source:
          type: csv
          path: first.csv
          path: second.csv
        destination: {type: duckdb, table: t}
        name: q
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {p.path: p for p in error.value.problems}
    assert set(problems) == {"source.path", "name"}
    assert problems["source.path"].line == 5
    assert problems["source.path"].message == (
        "key 'path' appears twice in this mapping (first on line 4)"
    )
    assert problems["name"].line == 7


def test_lines_of_nested_keys_and_list_items() -> None:
    parsed = parse_yaml(
        "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\nwhen: 2024-01-02\non: yes\n",
        display="f.yaml",
    )

    assert parsed.data == {
        "a": {"b": 1, "c": ["x", {"d": 2}]},
        "when": "2024-01-02",  # timestamps stay text; a date field parses them anyway
        "on": True,  # keys are the text written, never YAML 1.1 booleans
    }
    assert parsed.lines[("a",)] == 1
    assert parsed.lines[("a", "b")] == 2
    assert parsed.lines[("a", "c", 0)] == 4
    assert parsed.lines[("a", "c", 1, "d")] == 5
    assert parsed.lines[("on",)] == 7


def test_merge_keys_fill_in_without_overriding() -> None:
    parsed = parse_yaml(
        "base: &base {path: a.csv, delimiter: ','}\nsource:\n  <<: *base\n  path: b.csv\n",
        display="f.yaml",
    )

    assert parsed.data["source"] == {"path": "b.csv", "delimiter": ","}
    assert parsed.problems == ()


def test_several_documents_are_refused(write: Callable[..., Path], registry: Registry) -> None:
    path = write("name: a\n---\nname: b\n")

    with pytest.raises(ConfigError, match="expected a single document") as error:
        load_pipeline(path, registry=registry)
    assert error.value.location == f"{path}:2:1"


def test_alias_cycles_and_alias_bombs_are_refused() -> None:
    cyclic = parse_yaml("a: &x\n  - *x\n", display="f.yaml")
    assert cyclic.data == {"a": [None]}
    assert [p.message for p in cyclic.problems] == ["a YAML alias refers to itself"]

    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(5)
    )
    with pytest.raises(ConfigError, match="expands to more than"):
        parse_yaml(bomb, display="f.yaml")
