"""Column type strings in settings (``int64``, ``decimal128(12,2)``, …) and batch conforming.

Sources accept explicit column types as short strings in pipeline.yaml. This module turns
them into pyarrow types (raising ``ConfigError`` that names an unknown string), casts declared
columns of a batch, and keeps the schema of a stream stable from one batch to the next, so a
column that is all-null in the first page of an API does not become a different type later.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tidegate.errors import ConfigError, DataError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "TYPE_NAMES",
    "check_type_strings",
    "conform",
    "parse_type",
    "parse_types",
    "to_array",
]

_SIMPLE: dict[str, pa.DataType] = {
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float": pa.float32(),
    "float64": pa.float64(),
    "double": pa.float64(),
    "string": pa.string(),
    "utf8": pa.string(),
    "large_string": pa.large_string(),
    "binary": pa.binary(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date32": pa.date32(),
    "date": pa.date32(),
    "date64": pa.date64(),
    "time64[us]": pa.time64("us"),
    "null": pa.null(),
}
_TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:,\s*tz=([\w/+:-]+))?\]$")
_DECIMAL = re.compile(r"^decimal(?:128)?\((\d+),\s*(-?\d+)\)$")

TYPE_NAMES = (
    "int8..int64, uint8..uint64, float32, float64 (double), string, large_string, binary, "
    "bool, date32, date64, time64[us], timestamp[s|ms|us|ns] (optionally "
    "timestamp[us, tz=UTC]), decimal128(precision,scale)"
)
"""The accepted type strings, for hints and field descriptions."""


def parse_type(text: str, *, column: str | None = None) -> pa.DataType:
    """Turn a type string such as ``decimal128(12,2)`` into a pyarrow type.

    Raises ``ConfigError`` naming the string (and the column) when it is not understood.
    """
    key = text.strip().lower()
    if key in _SIMPLE:
        return _SIMPLE[key]
    if match := _TIMESTAMP.match(key):
        unit, tz = match.groups()
        if tz is not None:
            tz = text.strip()[text.lower().index("tz=") + 3 : -1].strip()
        return pa.timestamp(unit, tz=tz)
    if match := _DECIMAL.match(key):
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38:
            raise ConfigError(
                f"decimal precision {precision} in {text!r} is out of range",
                location=f"columns.{column}" if column else None,
                hint="use a precision between 1 and 38, e.g. decimal128(12,2)",
            )
        return pa.decimal128(precision, scale)
    raise ConfigError(
        f"unknown column type {text!r}" + (f" for column {column!r}" if column else ""),
        location=f"columns.{column}" if column else None,
        hint=f"use one of: {TYPE_NAMES}",
    )


def parse_types(columns: Mapping[str, str]) -> dict[str, pa.DataType]:
    """Parse a ``name -> type string`` mapping from settings."""
    return {name: parse_type(text, column=name) for name, text in columns.items()}


def check_type_strings(columns: Mapping[str, str]) -> Mapping[str, str]:
    """Pydantic validator body: refuse unknown type strings when the pipeline is loaded."""
    try:
        parse_types(columns)
    except ConfigError as exc:
        raise ValueError(f"{exc.message}; {exc.hint}") from None
    return columns


def to_array(values: Sequence[Any], declared: pa.DataType | None) -> pa.Array:
    """Convert Python values to one Arrow column; values of another type are cast.

    Text dates (``"2024-01-02"``) for a ``date32`` column, for instance, are read as strings
    first and then cast.
    """
    try:
        return pa.array(values, type=declared)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        if declared is None:
            raise
        return pa.array(values).cast(declared)


def conform(
    batch: pa.RecordBatch,
    *,
    declared: Mapping[str, pa.DataType],
    established: pa.Schema | None,
    location: str,
) -> pa.RecordBatch:
    """Cast declared columns and bring a batch to the schema of the batches before it.

    Declared columns get their declared type (and appear as nulls when a batch lacks them);
    columns seen in earlier batches keep their earlier type; a column that changes type in a
    way that cannot be cast raises ``DataError`` with a hint to declare it.
    """
    wanted: dict[str, pa.DataType] = {}
    if established is not None:
        for field in established:
            if not pa.types.is_null(field.type):
                wanted[field.name] = field.type
    wanted.update(declared)
    names = list(established.names) if established is not None else []
    names += [name for name in batch.schema.names if name not in names]
    names += [name for name in declared if name not in names]
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for name in names:
        index = batch.schema.get_field_index(name)
        target = wanted.get(name)
        if index < 0:
            column = pa.nulls(batch.num_rows, type=target or pa.null())
        else:
            column = batch.column(index)
            if target is not None and column.type != target:
                column = _cast(column, target, name=name, location=location)
        arrays.append(column)
        fields.append(pa.field(name, column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _cast(column: pa.Array, target: pa.DataType, *, name: str, location: str) -> pa.Array:
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), type=target)
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"column {name!r} holds {column.type} values that cannot be read as {target}: "
            f"{str(exc).splitlines()[0]}",
            location=location,
            hint=f"fix the data, or declare the column's type in `columns` (e.g. {name}: string)",
        ) from exc
