"""load_pipeline: a valid file round trip, and the located, human problems of invalid ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from tests.spec.plugins import CsvLikeSettings, DuckLikeSettings, SqlLikeSettings
from tidegate.errors import ConfigError, Problem, SpecError
from tidegate.spec import LoggingSpec, PipelineSpec, PluginSpec, StepSpec, load_pipeline

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.core import Registry

VALID = """
name: customers
description: Load customers into the warehouse.
source:
  type: csv
  path: data/customers.csv
  delimiter: ";"
  batch_size: 500
steps:
  - type: sql
    name: clean
    query: SELECT * FROM input WHERE id IS NOT NULL
  - type: sql
    query: SELECT id, upper(name) AS name FROM input
destination:
  type: duckdb
  table: customers
logging:
  level: DEBUG
  format: json
"""


def _problems(error: pytest.ExceptionInfo[SpecError]) -> dict[str, Problem]:
    return {problem.path: problem for problem in error.value.problems}


def test_valid_file_becomes_a_frozen_spec(
    write: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    spec = load_pipeline(write(VALID), registry=registry)

    assert isinstance(spec, PipelineSpec)
    assert spec.name == "customers"
    assert spec.description == "Load customers into the warehouse."
    assert spec.file == tmp_path / "pipeline.yaml"
    assert spec.file.is_absolute()
    assert spec.base_dir == tmp_path
    assert spec.source == PluginSpec(
        type="csv",
        settings=CsvLikeSettings(path="data/customers.csv", delimiter=";", batch_size=500),
    )
    assert spec.steps == (
        StepSpec(
            type="sql",
            name="clean",
            settings=SqlLikeSettings(query="SELECT * FROM input WHERE id IS NOT NULL"),
        ),
        StepSpec(
            type="sql",
            name="sql_2",
            settings=SqlLikeSettings(query="SELECT id, upper(name) AS name FROM input"),
        ),
    )
    assert isinstance(spec.destination.settings, DuckLikeSettings)
    assert spec.destination.settings.path == ".tidegate/warehouse.duckdb"
    assert spec.logging == LoggingSpec(level="debug", format="json")

    with pytest.raises(ValidationError, match="frozen"):
        spec.name = "other"
    with pytest.raises(ValidationError, match="frozen"):
        spec.source.settings.path = "elsewhere.csv"  # type: ignore[attr-defined]


def test_optional_sections_take_their_defaults(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: minimal
        source: {type: csv, path: in.csv}
        steps:
        destination: {type: duckdb, table: t}
        """)

    spec = load_pipeline(path, registry=registry)

    assert spec.steps == ()
    assert spec.description is None
    assert spec.logging == LoggingSpec(level="info", format="auto")


def test_default_step_names_are_the_type_or_numbered_when_it_repeats(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, path: in.csv}
        steps:
          - {type: sql, query: SELECT 1}
        destination: {type: duckdb, table: t}
        """)
    assert [step.name for step in load_pipeline(path, registry=registry).steps] == ["sql"]

    path = write("""
        name: p
        source: {type: csv, path: in.csv}
        steps:
          - {type: sql, query: SELECT 1}
          - {type: sql, query: SELECT 2}
          - {type: sql, query: SELECT 3}
        destination: {type: duckdb, table: t}
        """)
    names = [step.name for step in load_pipeline(path, registry=registry).steps]
    assert names == ["sql_1", "sql_2", "sql_3"]


def test_every_problem_is_reported_at_once_with_its_line(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: bad name
        source:
          type: csv
          path: in.csv
          delimitr: ";"
          batch_size: abc
        steps:
          - type: sql
        destination:
          type: duckdb
        logging:
          level: loud
        colour: blue
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert {path: p.line for path, p in problems.items()} == {
        "name": 1,
        "source.delimitr": 5,
        "source.batch_size": 6,
        "steps.0.query": 8,
        "destination.table": 9,
        "logging.level": 12,
        "colour": 13,
    }
    assert all(p.file == str(path) for p in problems.values())
    assert problems["name"].message == (
        "must use only letters, digits, '_' and '-', got 'bad name'"
    )
    assert problems["logging.level"].message == (
        "expected one of 'debug', 'info', 'warning' or 'error', got 'loud'"
    )
    assert problems["colour"].message == "unknown key 'colour'"
    # The whole report is one readable text, each problem as file:line: path: message.
    text = str(error.value)
    assert text.startswith("pipeline spec has 7 problems")
    assert f"{path}:6: source.batch_size: expected an integer, got 'abc'" in text
    assert isinstance(error.value, ConfigError)
    assert error.value.exit_code == 2


def test_typo_in_a_setting_suggests_the_field(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, path: in.csv, delimitr: ";"}
        destination: {type: duckdb, table: t, tabel: u}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert problems["source.delimitr"].message == "unknown setting 'delimitr'"
    assert problems["source.delimitr"].hint == "did you mean 'delimiter'?"
    assert problems["source.delimitr"].line == 2
    assert problems["destination.tabel"].hint == "did you mean 'table'?"


def test_unknown_setting_without_a_near_match_lists_the_known_ones(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, path: in.csv, compression: gzip}
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    assert _problems(error)["source.compression"].hint == (
        "known settings: batch_size, delimiter, path, token, type"
    )


def test_misspelt_required_key_is_one_problem_not_two(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, pth: in.csv}
        destinaton: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    # "unknown 'pth', did you mean 'path'" explains the missing path; it is not repeated.
    assert set(problems) == {"source.pth", "destinaton"}
    assert problems["source.pth"].hint == "did you mean 'path'?"
    assert problems["destinaton"].message == "unknown key 'destinaton'"
    assert problems["destinaton"].hint == "did you mean 'destination'?"


def test_missing_required_setting_names_the_field(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source:
          type: csv
          delimiter: ","
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    (problem,) = error.value.problems
    assert problem.path == "source.path"
    assert problem.message == "required setting 'path' is missing"
    assert problem.hint == "path: Path of the CSV file, relative to the pipeline file."
    assert problem.line == 2  # the `source:` key: the missing one has no line of its own


def test_missing_sections_are_reported(write: Callable[..., Path], registry: Registry) -> None:
    path = write("""
        description: nothing else
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert set(problems) == {"name", "source", "destination"}
    assert problems["source"].message == "required key 'source' is missing"


def test_wrong_types_say_what_was_expected_and_given(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, path: [a, b], batch_size: 0}
        destination: {type: duckdb, table: yes}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert problems["source.path"].message == "expected a string, got a list"
    assert problems["source.batch_size"].message == "input should be greater than 0, got 0"
    assert problems["destination.table"].message == "expected a string, got true"
    assert problems["destination.table"].hint is not None
    assert "quote it" in problems["destination.table"].hint


def test_plugin_section_must_be_a_mapping_with_a_type(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: data/in.csv
        steps:
          - query: SELECT 1
          - type: 12
        destination:
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert problems["source"].message == "expected a mapping with a 'type' key, got a string"
    assert problems["source"].hint == "known source types: csv, jsonl"
    assert problems["steps.0"].message == "the step has no 'type'"
    assert problems["steps.0"].line == 4
    assert problems["steps.1.type"].message == "expected a step type name, got an integer"
    assert problems["destination"].message == ("expected a mapping with a 'type' key, got nothing")


def test_unknown_plugin_type_suggests_the_nearest_kind(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source:
          type: cvs
          path: in.csv
        steps:
          - type: python
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert problems["source.type"].message == "unknown source type 'cvs'"
    assert problems["source.type"].hint == "did you mean 'csv'? known source types: csv, jsonl"
    assert problems["source.type"].line == 3
    assert problems["steps.0.type"].hint == "known step types: sql"


def test_step_names_must_be_unique_and_well_formed(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, path: in.csv}
        steps:
          - {type: sql, name: clean, query: SELECT 1}
          - {type: sql, name: clean, query: SELECT 2}
          - {type: sql, name: "two words", query: SELECT 3}
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = _problems(error)
    assert set(problems) == {"steps.1.name", "steps.2.name"}
    assert problems["steps.1.name"].message == "step name 'clean' is already used by steps.0"
    assert problems["steps.1.name"].line == 5
    assert "'two words'" in problems["steps.2.name"].message


def test_loader_owned_fields_cannot_be_set_in_the_file(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write("""
        name: p
        source: {type: csv, path: in.csv}
        destination: {type: duckdb, table: t}
        base_dir: /etc
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    (problem,) = error.value.problems
    assert (problem.path, problem.line, problem.message) == (
        "base_dir",
        4,
        "unknown key 'base_dir'",
    )


def test_missing_file_says_how_to_create_one(tmp_path: Path, registry: Registry) -> None:
    missing = tmp_path / "nowhere.yaml"

    with pytest.raises(ConfigError) as error:
        load_pipeline(missing, registry=registry)

    assert error.value.location == str(missing)
    assert error.value.hint == "create one with `tidegate init`"
    assert isinstance(error.value.__cause__, FileNotFoundError)


def test_a_folder_means_its_pipeline_yaml(
    write: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    write(VALID)

    assert load_pipeline(tmp_path, registry=registry).file == tmp_path / "pipeline.yaml"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"folder without a pipeline\.yaml") as error:
        load_pipeline(tmp_path / "empty", registry=registry)
    assert error.value.hint is not None
    assert "tidegate init" in error.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the pipeline file is empty"),
        ("# only a comment\n", "the pipeline file is empty"),
        ("- a\n- b\n", "the pipeline file must be a mapping of keys, got a list"),
        ("just text\n", "the pipeline file must be a mapping of keys, got a single value (str)"),
    ],
)
def test_empty_or_non_mapping_file_is_one_clear_problem(
    write: Callable[..., Path], registry: Registry, text: str, message: str
) -> None:
    path = write(text)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    (problem,) = error.value.problems
    assert problem.file == str(path)
    assert problem.message == message


def test_relative_path_is_reported_as_written_and_stored_absolute(
    write: Callable[..., Path], registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("""
        name: p
        source: {type: csv}
        destination: {type: duckdb, table: t}
        """)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(SpecError) as error:
        load_pipeline("pipeline.yaml", registry=registry)
    assert str(error.value.problems[0]) == (
        "pipeline.yaml:2: source.path: required setting 'path' is missing "
        "(path: Path of the CSV file, relative to the pipeline file.)"
    )

    write(VALID)
    spec = load_pipeline("pipeline.yaml", registry=registry)
    assert spec.file == tmp_path / "pipeline.yaml"
    assert spec.base_dir == tmp_path
