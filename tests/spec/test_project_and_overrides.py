"""tidegate.yaml defaults merged under the pipeline, and --set overrides applied last."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.spec.plugins import CsvLikeSettings, DuckLikeSettings, SqlLikeSettings
from tidegate.errors import ConfigError, SpecError
from tidegate.spec import PROJECT_FILE, load_pipeline

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.core import Registry

PIPELINE = """
name: customers
source:
  type: csv
  path: data/customers.csv
steps:
  - type: sql
    query: SELECT * FROM input
  - type: sql
    name: second
    query: SELECT 2
destination:
  type: duckdb
  table: customers
"""


def test_project_defaults_merge_under_the_pipeline(
    write: Callable[..., Path], registry: Registry
) -> None:
    write(
        """
        description: from the project
        source:
          type: csv
          delimiter: "|"
          path: project.csv
        steps:
          - type: sql
            query: SELECT 'project'
        destination:
          path: shared/warehouse.duckdb
        logging:
          level: warning
          format: json
        """,
        PROJECT_FILE,
    )
    path = write(PIPELINE + "logging:\n  format: console\n")

    spec = load_pipeline(path, registry=registry)

    source = spec.source.settings
    assert isinstance(source, CsvLikeSettings)
    assert source.path == "data/customers.csv"  # the pipeline wins
    assert source.delimiter == "|"  # mappings merge key by key
    assert [s.settings for s in spec.steps] == [  # lists are replaced whole
        SqlLikeSettings(query="SELECT * FROM input"),
        SqlLikeSettings(query="SELECT 2"),
    ]
    assert spec.destination.settings == DuckLikeSettings(
        path="shared/warehouse.duckdb", table="customers"
    )
    assert (spec.logging.level, spec.logging.format) == ("warning", "console")
    assert spec.description == "from the project"


def test_problems_in_project_defaults_are_located_there(
    write: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    write(
        """
        source:
          batch_size: lots
        destination:
          tabel: x
        steps:
          - type: sql
            query: SELECT 1
            extra: 1
        """,
        PROJECT_FILE,
    )
    path = write(PIPELINE)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {p.path: p for p in error.value.problems}
    project = str(tmp_path / PROJECT_FILE)
    assert (problems["source.batch_size"].file, problems["source.batch_size"].line) == (project, 2)
    assert problems["source.batch_size"].message == "expected an integer, got 'lots'"
    assert (problems["destination.tabel"].file, problems["destination.tabel"].line) == (project, 4)
    # The project's steps list was replaced by the pipeline's: its bad key is not reported.
    assert set(problems) == {"source.batch_size", "destination.tabel"}
    assert [p.line for p in error.value.problems] == [2, 4]  # sorted by line


def test_project_file_that_is_not_a_mapping_is_a_problem(
    write: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    write("- a list\n", PROJECT_FILE)
    path = write(PIPELINE)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    (problem,) = error.value.problems
    assert problem.file == str(tmp_path / PROJECT_FILE)
    assert "project defaults file must be a mapping" in problem.message


def test_empty_project_file_is_fine(write: Callable[..., Path], registry: Registry) -> None:
    write("# nothing yet\n", PROJECT_FILE)

    assert load_pipeline(write(PIPELINE), registry=registry).name == "customers"


def test_overrides_parse_yaml_values_and_index_lists(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write(PIPELINE)

    spec = load_pipeline(
        path,
        registry=registry,
        overrides=[
            "source.batch_size=500",
            "steps.0.query=SELECT a: b FROM input",
            "steps.1.query='SELECT 1'",
            "destination.table=customers_copy",
            "description=nightly = full",
            "logging={level: error}",
        ],
    )

    source = spec.source.settings
    assert isinstance(source, CsvLikeSettings)
    assert source.batch_size == 500
    assert spec.steps[0].settings == SqlLikeSettings(query="SELECT a: b FROM input")
    assert spec.steps[1].settings == SqlLikeSettings(query="SELECT 1")
    assert isinstance(spec.destination.settings, DuckLikeSettings)
    assert spec.destination.settings.table == "customers_copy"
    assert spec.description == "nightly = full"
    assert spec.logging.level == "error"


def test_overrides_apply_after_project_defaults(
    write: Callable[..., Path], registry: Registry
) -> None:
    write("source:\n  delimiter: '|'\n", PROJECT_FILE)

    spec = load_pipeline(write(PIPELINE), registry=registry, overrides=["source.delimiter=;"])

    assert isinstance(spec.source.settings, CsvLikeSettings)
    assert spec.source.settings.delimiter == ";"


def test_problem_caused_by_an_override_is_located_at_the_override(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write(PIPELINE)

    with pytest.raises(SpecError) as error:
        load_pipeline(
            path,
            registry=registry,
            overrides=["source.batch_size=many", "source.options.fast=true"],
        )

    problems = {p.path: p for p in error.value.problems}
    size = problems["source.batch_size"]
    assert (size.file, size.line) == ("--set source.batch_size", None)
    assert size.message == "expected an integer, got 'many'"
    assert (
        str(size) == "--set source.batch_size: source.batch_size: expected an integer, got 'many'"
    )
    assert problems["source.options"].file == "--set source.options.fast"


@pytest.mark.parametrize(
    ("override", "location", "message"),
    [
        ("source.batch_size", "--set", "has no '='"),
        ("=5", "--set", "empty key path segment"),
        ("source..path=x", "--set source..path", "empty key path segment"),
        ("steps.5.query=x", "--set steps.5.query", "index 5 is out of range: steps has 2 item(s)"),
        ("steps.first.query=x", "--set steps.first.query", "steps is a list"),
        ("name.first=x", "--set name.first", "name is a string, not a mapping or list"),
    ],
)
def test_malformed_override_is_a_config_error_naming_it(
    write: Callable[..., Path], registry: Registry, override: str, location: str, message: str
) -> None:
    path = write(PIPELINE)

    with pytest.raises(ConfigError) as error:
        load_pipeline(path, registry=registry, overrides=[override])

    assert not isinstance(error.value, SpecError)
    assert error.value.location == location
    assert message in error.value.message
    assert error.value.hint is not None
    assert "--set" in error.value.hint
