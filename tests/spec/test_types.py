"""Column type strings parse to the Arrow types they name; unknown ones are refused at load."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from pydantic import BaseModel, ValidationError

from tidegate.core import Registry
from tidegate.errors import SpecError
from tidegate.sources.csv import CsvSettings
from tidegate.sources.jsonl import JsonlSettings
from tidegate.sources.rest import RestSettings
from tidegate.sources.sql import SqlSettings
from tidegate.spec import TYPE_NAMES, ColumnTypes, load_pipeline, parse_type
from tidegate.transform.cast import CastSettings

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int64", pa.int64()),
        (" Int32 ", pa.int32()),
        ("integer", pa.int32()),
        ("bigint", pa.int64()),
        ("smallint", pa.int16()),
        ("tinyint", pa.int8()),
        ("uint16", pa.uint16()),
        ("float", pa.float32()),
        ("real", pa.float32()),
        ("float32", pa.float32()),
        ("double", pa.float64()),
        ("float64", pa.float64()),
        ("string", pa.string()),
        ("varchar", pa.string()),
        ("TEXT", pa.string()),
        ("large_string", pa.large_string()),
        ("bool", pa.bool_()),
        ("boolean", pa.bool_()),
        ("date", pa.date32()),
        ("date32", pa.date32()),
        ("date64", pa.date64()),
        ("time", pa.time64("us")),
        ("time64[us]", pa.time64("us")),
        ("time32[ms]", pa.time32("ms")),
        ("timestamp", pa.timestamp("us")),
        ("timestamp[us]", pa.timestamp("us")),
        ("timestamp[ns, tz=UTC]", pa.timestamp("ns", tz="UTC")),
        ("timestamp[ms, tz=Europe/Berlin]", pa.timestamp("ms", tz="Europe/Berlin")),
        ("Timestamp[MS, tz=America/New_York]", pa.timestamp("ms", tz="America/New_York")),
        ("timestamp[s, tz=+01:00]", pa.timestamp("s", tz="+01:00")),
        ("duration[s]", pa.duration("s")),
        ("decimal128(12,2)", pa.decimal128(12, 2)),
        ("decimal(12, 2)", pa.decimal128(12, 2)),
        ("numeric(38,0)", pa.decimal128(38, 0)),
        ("decimal(50,4)", pa.decimal256(50, 4)),
        ("decimal256(12,2)", pa.decimal256(12, 2)),
        ("decimal128(10,-2)", pa.decimal128(10, -2)),
        ("binary", pa.binary()),
        ("blob", pa.binary()),
        ("large_binary", pa.large_binary()),
        ("null", pa.null()),
    ],
)
def test_known_names(text: str, expected: pa.DataType) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("money", r"unknown type 'money'; use one of: int8 \(tinyint\), int16"),
        ("int65", r"unknown type 'int65' \(did you mean 'int64'\?\); use one of: int8"),
        ("integr", r"unknown type 'integr' \(did you mean 'integer'\?\)"),
        ("decimal128(12)", "unknown type 'decimal128\\(12\\)'"),
        ("timestamp[us, tz=]", "unknown type"),
        ("time32[us]", r"invalid type 'time32\[us\]': time32 takes s or ms; use time64\[us\]"),
        ("time64[s]", r"time64 takes us or ns"),
        ("decimal128(50,2)", r"decimal128 precision must be 1 to 38 \(decimal256 holds up to 76\)"),
        ("decimal(77,2)", "decimal precision must be 1 to 76"),
        ("numeric(0,0)", "numeric precision must be 1 to 76"),
    ],
)
def test_bad_names_say_what_is_valid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_type(text)


def test_the_listed_plain_names_all_parse() -> None:
    parts = TYPE_NAMES.replace("(", ",").replace(")", ",").split(",")
    decimal_parts = {"decimal", "numeric", "decimal128", "decimal256", "precision", "scale"}
    words = [w.strip() for w in parts if w.strip().isidentifier()]
    words = [w for w in words if w not in decimal_parts]
    assert len(words) > 20
    for word in words:
        assert isinstance(parse_type(word), pa.DataType), word


class _Typed(BaseModel):
    columns: ColumnTypes


def test_column_types_refuse_unknown_strings_naming_column_and_string() -> None:
    assert _Typed(columns={"id": "int64"}).columns == {"id": "int64"}

    with pytest.raises(ValidationError) as error:
        _Typed(columns={"id": "int64", "amount": "dbl", "at": "time32[us]"})

    errors = {error["loc"]: error["msg"] for error in error.value.errors()}
    assert set(errors) == {("columns", "amount"), ("columns", "at")}
    assert "unknown type 'dbl'" in errors[("columns", "amount")]
    assert "invalid type 'time32[us]'" in errors[("columns", "at")]


@pytest.mark.parametrize(
    ("settings", "required"),
    [
        (CsvSettings, {"path": "x.csv"}),
        (JsonlSettings, {"path": "x.jsonl"}),
        (SqlSettings, {"url": "sqlite://", "query": "select 1"}),
        (RestSettings, {"url": "http://127.0.0.1/items"}),
        (CastSettings, {}),
    ],
)
def test_every_columns_setting_uses_the_shared_parser(
    settings: type[BaseModel], required: dict[str, Any]
) -> None:
    accepted = settings(**required, columns={"n": "integer", "f": "float"})
    assert accepted.columns == {"n": "integer", "f": "float"}  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match=r"columns\.n\s+Value error, unknown type 'int65'"):
        settings(**required, columns={"n": "int65"})


def test_an_unknown_type_is_reported_at_its_file_and_line(
    write: Callable[..., Path],
) -> None:
    registry = Registry(
        {
            "sources": {"csv": "tidegate.sources.csv:CsvSource"},
            "steps": {"cast": "tidegate.transform.cast:CastStep"},
            "destinations": {"duckdb": "tests.spec.plugins:DuckLike"},
        }
    )
    path = write("""
        name: p
        source:
          type: csv
          path: in.csv
          columns:
            id: int64
            amount: numerc(12,2)
        steps:
          - type: cast
            columns: {id: bigint, day: dat}
        destination: {type: duckdb, table: t}
        """)

    with pytest.raises(SpecError) as error:
        load_pipeline(path, registry=registry)

    problems = {problem.path: problem for problem in error.value.problems}
    assert set(problems) == {"source.columns.amount", "steps.0.columns.day"}
    source = problems["source.columns.amount"]
    assert (source.file, source.line) == (str(path), 7)
    assert source.message.startswith("unknown type 'numerc(12,2)'")
    step = problems["steps.0.columns.day"]
    assert step.line == 10
    assert step.message.startswith("unknown type 'dat' (did you mean 'date'?)")
