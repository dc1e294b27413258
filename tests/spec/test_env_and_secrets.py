"""${VAR} substitution, env:/file: secrets, and that no secret value reaches an error message."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from tests.spec.plugins import CsvLikeSettings, DuckLikeSettings
from tidegate.errors import SpecError
from tidegate.spec import load_pipeline

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.core import Registry

SECRET = "hunter2-very-secret"  # noqa: S105 - a fake secret the tests look for in messages


def test_variables_are_substituted_with_defaults_and_escapes(
    write: Callable[..., Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_DATA", "/srv/data")
    monkeypatch.setenv("TG_BATCH", "250")
    monkeypatch.setenv("TG_EMPTY", "")
    monkeypatch.delenv("TG_TABLE", raising=False)
    path = write("""
        name: p
        description: costs $${HOME} and $5
        source:
          type: csv
          path: ${TG_DATA}/customers-${TG_EMPTY}.csv
          batch_size: ${TG_BATCH}
          delimiter: ${TG_EMPTY:-;}
        destination:
          type: duckdb
          table: ${TG_TABLE:-customers}
        """)

    spec = load_pipeline(path, registry=registry)

    source = spec.source.settings
    assert isinstance(source, CsvLikeSettings)
    assert source.path == "/srv/data/customers-.csv"
    assert source.batch_size == 250  # the text from the environment is validated as an int
    assert source.delimiter == ";"  # like the shell, an empty variable takes the default
    assert isinstance(spec.destination.settings, DuckLikeSettings)
    assert spec.destination.settings.table == "customers"
    assert spec.description == "costs ${HOME} and $5"


def test_unset_variable_is_a_problem_at_its_line(
    write: Callable[..., Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TG_UNSET_TABLE", raising=False)
    monkeypatch.delenv("TG_UNSET_SIZE", raising=False)
    path = write("""
        name: p
        source:
          type: csv
          path: in.csv
          batch_size: ${TG_UNSET_SIZE}
        destination:
          type: duckdb
          table: ${TG_UNSET_TABLE}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {p.path: p for p in error.value.problems}
    # One problem per unset variable; the int field does not also complain about '${...}'.
    assert set(problems) == {"source.batch_size", "destination.table"}
    table = problems["destination.table"]
    assert table.line == 8
    assert table.message == "environment variable TG_UNSET_TABLE is not set"
    assert table.hint == "export it or write ${TG_UNSET_TABLE:-default}"
    assert problems["source.batch_size"].line == 5


def test_malformed_reference_is_a_problem(write: Callable[..., Path], registry: Registry) -> None:
    path = write("""
        name: p
        source: {type: csv, path: "${1abc}/in.csv"}
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    (problem,) = error.value.problems
    assert problem.path == "source.path"
    assert problem.message == "malformed variable reference '${1abc}'"


def test_env_and_file_secrets_become_secret_strings(
    write: Callable[..., Path], registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TG_TOKEN", SECRET)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db_password").write_text("pa55word\n", encoding="utf-8")
    path = write("""
        name: p
        source: {type: csv, path: in.csv, token: "env:TG_TOKEN"}
        destination: {type: duckdb, table: t, password: "file:secrets/db_password"}
        """)

    spec = load_pipeline(path, registry=registry)

    source, destination = spec.source.settings, spec.destination.settings
    assert isinstance(source, CsvLikeSettings)
    assert isinstance(destination, DuckLikeSettings)
    assert isinstance(source.token, SecretStr)
    assert source.token.get_secret_value() == SECRET
    # A relative file: secret resolves against the pipeline's folder, not the working directory.
    assert destination.password is not None
    assert destination.password.get_secret_value() == "pa55word"
    assert SECRET not in repr(spec)
    assert SECRET not in str(spec.model_dump())


def test_unset_secret_variable_names_the_variable(
    write: Callable[..., Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TG_NO_TOKEN", raising=False)
    path = write("""
        name: p
        source: {type: csv, path: in.csv, token: "env:TG_NO_TOKEN"}
        destination: {type: duckdb, table: t, password: "file:missing.txt"}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {p.path: p for p in error.value.problems}
    assert "TG_NO_TOKEN" in problems["source.token"].message
    assert "is not set" in problems["source.token"].message
    assert "missing.txt" in problems["destination.password"].message


def test_wrong_type_on_a_secret_field_never_echoes_the_value(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write(f"""
        name: p
        source: {{type: csv, path: in.csv, token: [{SECRET}]}}
        destination: {{type: duckdb, table: t, password: {{value: {SECRET}}}}}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {p.path: p for p in error.value.problems}
    assert problems["source.token"].message == "expected a string, got a list"
    assert problems["destination.password"].message == "expected a string, got a mapping"
    assert SECRET not in str(error.value)


def test_values_from_the_environment_are_not_echoed(
    write: Callable[..., Path], registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_SIZE", SECRET)
    path = write("""
        name: p
        source: {type: csv, path: in.csv, batch_size: "${TG_SIZE}"}
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    (problem,) = error.value.problems
    assert problem.message == "expected an integer, got a string"
    assert SECRET not in str(error.value)


def test_secret_sounding_keys_are_not_echoed(
    write: Callable[..., Path], registry: Registry
) -> None:
    path = write(f"""
        name: p
        source: {{type: csv, path: in.csv, api_token: {SECRET}}}
        destination: {{type: duckdb, table: t, password: 12345678901}}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {p.path: p for p in error.value.problems}
    assert problems["source.api_token"].message == "unknown setting 'api_token'"
    assert problems["destination.password"].message == "expected a string, got an integer"
    assert SECRET not in str(error.value)
    assert "12345678901" not in str(error.value)
