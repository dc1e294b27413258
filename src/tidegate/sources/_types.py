"""Declared column types of sources, and conforming batches to them.

Sources accept explicit column types as short strings in pipeline.yaml; the strings are parsed
by ``tidegate.spec.types`` (shared with the cast step) and checked when the pipeline is loaded.
This module maps a settings ``columns`` mapping to pyarrow types (``ConfigError`` naming the
column), converts Python values to Arrow columns, casts declared columns of a batch, and keeps
the schema of a stream stable from one batch to the next, so a column that is all-null in the
first page of an API does not become a different type later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tidegate.errors import ConfigError, DataError
from tidegate.spec.types import parse_type

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["conform", "parse_types", "to_array"]


def parse_types(columns: Mapping[str, str]) -> dict[str, pa.DataType]:
    """Parse a ``name -> type string`` mapping from settings.

    Settings validated by ``ColumnTypes`` always parse; this raises ``ConfigError`` naming the
    column for settings built without validation (``model_construct``).
    """
    types: dict[str, pa.DataType] = {}
    for name, text in columns.items():
        try:
            types[name] = parse_type(text)
        except ValueError as exc:
            raise ConfigError(
                f"column {name!r}: {exc}",
                location=f"columns.{name}",
                hint="write a type such as int64, double, string, date32 or decimal(12,2)",
            ) from exc
    return types


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
