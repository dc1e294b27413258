"""``tidegate lineage show|export`` through the typer sub-app, on the demo pipeline."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from tidegate.app.lineage_cli import lineage_app
from tidegate.app.logs import configure_logging

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(autouse=True)
def _cli_logging() -> None:
    """What the root command does before any sub-command: warnings and up, on stderr."""
    configure_logging("warning", "auto")


def test_show_prints_each_column_with_its_inputs_and_transformation(demo: Path) -> None:
    done = CliRunner().invoke(lineage_app, ["show", str(demo)], env={"COLUMNS": "200"})

    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "country_name" in line and "renamed" in line)
    assert "<- countries.csv.name  renamed" in lines[at + 1]
    assert any("age_at_signup  masked:generalize" in line for line in lines)
    assert any("<- source.ip_address  renamed" in line for line in lines)
    at = next(i for i, line in enumerate(lines) if "rows chosen by (indirect)" in line)
    assert "countries.csv.code  JOIN  in shape" in lines[at + 1]
    assert "source.country  JOIN  in shape" in lines[at + 2]


def test_show_json_and_export_atlas_to_a_file(demo: Path, tmp_path: Path) -> None:
    shown = CliRunner().invoke(lineage_app, ["show", str(demo), "--json"])
    target = tmp_path / "atlas.json"
    exported = CliRunner().invoke(lineage_app, ["export", str(demo), "-o", str(target)])

    assert shown.exit_code == 0, shown.output
    graph = json.loads(shown.stdout)
    region = next(c for c in graph["columns"] if c["column"] == "region")
    assert region["inputs"][0]["column"] == "region"
    assert region["inputs"][0]["name"].endswith("countries.csv")
    assert exported.exit_code == 0, exported.output
    document = json.loads(target.read_text(encoding="utf-8"))
    assert {"typeDefs", "entities"} <= set(document)


def test_without_data_the_lineage_comes_from_the_spec_with_a_note(tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(
        "name: p\nsource: {type: csv, path: missing.csv, column_names: [a]}\n"
        "steps: [{type: derive, columns: {b: 'a * 2'}}]\n"
        "destination: {type: files, path: out.csv}\n",
        encoding="utf-8",
    )

    done = CliRunner().invoke(lineage_app, ["show", str(pipeline), "--json"])

    assert done.exit_code == 0, done.output
    assert "lineage from the spec alone" in done.stderr
    columns = {c["column"]: c["transformation"] for c in json.loads(done.stdout)["columns"]}
    assert columns == {"a": "identity", "b": "derived"}


def test_an_invalid_pipeline_fails_with_the_config_exit_code(tmp_path: Path) -> None:
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("name: p\n", encoding="utf-8")

    done = CliRunner().invoke(lineage_app, ["show", str(pipeline)])

    assert done.exit_code == 2
