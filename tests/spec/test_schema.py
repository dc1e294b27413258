"""pipeline_json_schema: every registered kind, its settings and their descriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tidegate.core import Registry
from tidegate.spec import pipeline_json_schema


def _variants(schema: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    node = schema["properties"][section]
    if section == "steps":
        node = node["items"]
    return {v["properties"]["type"]["const"]: v for v in node["oneOf"]}


def test_schema_lists_every_kind_with_its_settings(registry: Registry) -> None:
    schema = pipeline_json_schema(registry)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(_variants(schema, "source")) == {"csv", "jsonl"}
    assert set(_variants(schema, "steps")) == {"sql"}
    assert set(_variants(schema, "destination")) == {"duckdb"}

    csv = _variants(schema, "source")["csv"]
    assert csv["required"] == ["type", "path"]
    assert csv["additionalProperties"] is False
    assert csv["description"] == "Reads a CSV file (test stand-in)."
    assert csv["properties"]["delimiter"]["description"] == "Field separator character."
    assert csv["properties"]["delimiter"]["default"] == ","
    assert csv["properties"]["batch_size"]["exclusiveMinimum"] == 0
    assert csv["properties"]["path"]["description"] == (
        "Path of the CSV file, relative to the pipeline file."
    )
    sql = _variants(schema, "steps")["sql"]
    assert "name" in sql["properties"]
    assert sql["properties"]["query"]["description"].startswith("SQL run over the batch")


def test_schema_top_level_describes_the_file_not_the_loader(registry: Registry) -> None:
    schema = pipeline_json_schema(registry)

    properties = schema["properties"]
    assert set(properties) == {
        "name",
        "owner",
        "criticality",
        "consumers",
        "description",
        "source",
        "steps",
        "destination",
        "logging",
        "batch_rows",
        "quality",
        "governance",
        "observability",
        "resilience",
        "faults",
        "lineage",
        "audit",
        "sla",
    }
    assert schema["required"] == ["name", "source", "destination"]
    assert schema["additionalProperties"] is False
    assert properties["name"]["description"].startswith("Pipeline name")
    assert properties["steps"]["type"] == "array"
    logging = schema["$defs"]["LoggingSpec"]["properties"]
    assert logging["level"]["enum"] == ["debug", "info", "warning", "error"]
    assert "PluginSpec" not in schema["$defs"]
    json.dumps(schema)  # serialisable as is, for `tidegate schema`


def test_a_kind_that_cannot_be_imported_is_left_out(registry: Registry) -> None:
    registry.register("sources", "broken", "tests.spec.no_such_module:Nothing")

    schema = pipeline_json_schema(registry)

    assert set(_variants(schema, "source")) == {"csv", "jsonl"}


def test_an_empty_registry_still_gives_a_usable_schema() -> None:
    schema = pipeline_json_schema(Registry({}))

    assert schema["properties"]["source"]["type"] == "object"
    assert schema["properties"]["steps"]["items"] == {"type": "object"}


def test_the_example_pipeline_with_rule_shorthands_matches_the_schema(registry: Registry) -> None:
    import jsonschema  # noqa: PLC0415 - only this test needs it
    import yaml  # noqa: PLC0415 - only this test needs it

    from tidegate.app.plugins import default_registry  # noqa: PLC0415 - the real kinds

    schema = pipeline_json_schema(default_registry())
    example = Path(__file__).parents[2] / "examples" / "customers" / "pipeline.yaml"
    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    assert document["quality"]["columns"]["customer_id"] == ["not_null", "unique"]
    jsonschema.validate(document, schema)
    document["quality"]["columns"]["customer_id"] = ["not_a_rule"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
    assert "origin" not in schema["$defs"]["Rule"]["properties"]
