"""The change log's arithmetic: spec diffs (paths as the YAML writes them, lists by index,
types, fingerprints of redacted values), source schema diffs and summaries."""

from __future__ import annotations

from tidegate.state.changes import dotted, schema_diff, spec_diff, summary

REDACTED = "**********"


def test_paths_read_as_the_yaml_writes_them() -> None:
    assert dotted(("destination", "table")) == "destination.table"
    assert dotted(("steps", 2, "columns", "a.b")) == 'steps[2].columns["a.b"]'
    assert dotted(("headers", 'say "hi"')) == 'headers["say \\"hi\\""]'
    assert dotted(()) == ""


def test_mappings_compare_by_key_lists_by_index_and_plugins_lose_settings() -> None:
    old = {
        "name": "orders",
        "destination": {"type": "duckdb", "settings": {"table": "a", "key": ["id"]}},
        "steps": [{"type": "derive", "name": "s", "settings": {"columns": {"x": "1"}}}],
        "owner": None,
        "sla": {"max_age": "1h"},
    }
    new = {
        "name": "orders",
        "destination": {"type": "duckdb", "settings": {"table": "b", "key": ["id", "day"]}},
        "steps": [
            {"type": "derive", "name": "s", "settings": {"columns": {"x": 1}}},
            {"type": "select", "name": "t", "settings": {}},
        ],
        "owner": "team",
        "batch_rows": 5000,
    }
    assert spec_diff(old, new) == [
        {"change": "added", "path": "batch_rows", "old": None, "new": 5000},
        {"change": "added", "path": "destination.key[1]", "old": None, "new": "day"},
        {"change": "changed", "path": "destination.table", "old": "a", "new": "b"},
        {"change": "changed", "path": "owner", "old": None, "new": "team"},
        {"change": "removed", "path": "sla", "old": {"max_age": "1h"}, "new": None},
        {"change": "changed", "path": "steps[0].columns.x", "old": "1", "new": 1},
        {
            "change": "added",
            "path": "steps[1]",
            "old": None,
            "new": {"type": "select", "name": "t", "settings": {}},
        },
    ]
    assert spec_diff(new, new) == []
    assert spec_diff({"a": True}, {"a": 1}) == [
        {"change": "changed", "path": "a", "old": True, "new": 1}
    ]


def test_a_redacted_value_whose_fingerprint_moved_is_changed_and_stays_redacted() -> None:
    spec = {
        "source": {"type": "rest", "settings": {"headers": {"Authorization": REDACTED}}},
        "name": "x",
    }
    moved = spec_diff(
        spec,
        {**spec, "name": "y"},
        old_fingerprints={"source.settings.headers.Authorization": "1"},
        new_fingerprints={"source.settings.headers.Authorization": "2"},
    )
    assert moved == [
        {"change": "changed", "path": "name", "old": "x", "new": "y"},
        {
            "change": "changed",
            "path": "source.headers.Authorization",
            "old": REDACTED,
            "new": REDACTED,
        },
    ]
    same = {"source.settings.headers.Authorization": "1"}
    assert spec_diff(spec, spec, old_fingerprints=same, new_fingerprints=same) == []
    assert spec_diff(spec, spec, old_fingerprints=None, new_fingerprints=same) == []
    assert spec_diff(spec, spec, old_fingerprints={}, new_fingerprints=same) == []


def test_schemas_compare_by_column_name() -> None:
    old = [
        {"name": "id", "type": "int64"},
        {"name": "v", "type": "int64"},
        {"name": "x", "type": "string"},
    ]
    new = [
        {"name": "id", "type": "int64"},
        {"name": "v", "type": "double"},
        {"name": "y", "type": "date32[day]"},
    ]
    assert schema_diff(old, new) == [
        {"change": "changed", "column": "v", "old": "int64", "new": "double"},
        {"change": "added", "column": "y", "old": None, "new": "date32[day]"},
        {"change": "removed", "column": "x", "old": "string", "new": None},
    ]
    assert schema_diff(old, old) == []


def test_summaries_count_by_kind() -> None:
    diff = [
        {"change": "changed"},
        {"change": "added"},
        {"change": "changed"},
        {"change": "removed"},
        {"change": "changed"},
    ]
    assert summary(diff) == "3 changed, 1 added, 1 removed"
    assert summary([]) == "no change"
    assert summary(None) == "first version"
