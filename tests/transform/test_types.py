"""Type names of step settings parse to the Arrow types they name."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tidegate.transform.types import parse_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int64", pa.int64()),
        (" Int32 ", pa.int32()),
        ("double", pa.float64()),
        ("string", pa.string()),
        ("bool", pa.bool_()),
        ("date32", pa.date32()),
        ("timestamp[us]", pa.timestamp("us")),
        ("timestamp[ms, tz=Europe/Berlin]", pa.timestamp("ms", tz="Europe/Berlin")),
        ("time64[us]", pa.time64("us")),
        ("duration[s]", pa.duration("s")),
        ("decimal128(12,2)", pa.decimal128(12, 2)),
        ("decimal(12, 2)", pa.decimal128(12, 2)),
        ("decimal(50,4)", pa.decimal256(50, 4)),
        ("varchar", pa.string()),
    ],
)
def test_known_names(text: str, expected: pa.DataType) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("int65", "unknown type 'int65'; use one of int64"),
        ("time32[us]", "invalid type 'time32\\[us\\]'"),
        ("decimal128(12)", "unknown type"),
    ],
)
def test_bad_names_say_what_is_valid(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_type(text)
