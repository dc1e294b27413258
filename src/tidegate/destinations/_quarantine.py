"""The quarantine's rules that every destination shares, as pure functions over Arrow.

A quarantine (``<table>__quarantine``, see ``tidegate.core.protocols.Quarantines``) holds the
rows a step rejected: the row's own columns with their types, then the bookkeeping
``QUARANTINE_COLUMNS``. It is append-only across runs and modes, so rows rejected by different
runs (and different steps) must fit one schema over time. The rules for that live here, once,
so DuckDB, the SQL databases, Parquet files and the in-memory double agree:

- ``prepare`` checks rows handed to ``write_quarantine`` and gives the bookkeeping columns their
  canonical types (an all-null ``_tidegate_row`` arrives as Arrow ``null``, it is stored as
  ``int64``).
- ``castable``/``conform`` decide whether an incoming column fits the quarantine's existing
  column of the same name: same type, a type of the same family that casts without loss of
  meaning (``int32`` into ``int64``, a date into a timestamp), an all-null column, or anything
  but binary into a text column (stored as its text). Anything else is a ``DataError`` naming the
  column, both types and the way out; it never silently turns a column into something else.
- ``arrange`` puts what a destination read back into the documented shape: the row's columns
  first (as stored), then the bookkeeping columns in their order and types, time zones as UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.core.protocols import (
    QUARANTINE_COLUMNS,
    QUARANTINE_SUFFIX,
    ROW_COLUMN,
    RULES_COLUMN,
)
from tidegate.destinations._relational_types import arrow_family, fits
from tidegate.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "QID",
    "QUARANTINED_AT",
    "QUARANTINE_TYPES",
    "RUN_ID",
    "arrange",
    "castable",
    "conflict",
    "conform",
    "empty_target",
    "fill",
    "in_utc",
    "nulls_as_text",
    "ordered",
    "prepare",
    "quarantine_table",
    "sort_oldest_first",
]

QID = "_tidegate_qid"
RUN_ID = "_tidegate_run_id"
QUARANTINED_AT = "_tidegate_quarantined_at"

_TYPES = (
    pa.string(),
    pa.string(),
    pa.string(),
    pa.int64(),
    pa.int64(),
    pa.string(),
    pa.string(),
    pa.timestamp("us", "UTC"),
)
QUARANTINE_TYPES: dict[str, pa.DataType] = dict(
    zip((name for name, _ in QUARANTINE_COLUMNS), _TYPES, strict=True)
)
"""Each bookkeeping column and the Arrow type it is stored and read back with."""

_OPTIONAL = frozenset({ROW_COLUMN, RULES_COLUMN})
_HINT = (
    "cast the column to the quarantine's type before the step that rejects rows, or rename or "
    "drop the quarantine (after replaying or exporting its rows) so the next run creates it anew"
)


def quarantine_table(table: str) -> str:
    """``customers`` -> ``customers__quarantine``."""
    return table + QUARANTINE_SUFFIX


def prepare(rows: pa.RecordBatch, *, location: str) -> pa.RecordBatch:
    """Check rows handed to ``write_quarantine`` and give the bookkeeping columns their types.

    Dictionary columns are decoded (no engine stores them as such); a missing optional
    bookkeeping column (``_tidegate_row``, ``_tidegate_rules``) is added as nulls; the
    bookkeeping columns are moved after the row's own columns, in the documented order.
    """
    _check_names(rows.schema, location)
    names = rows.schema.names
    missing = [n for n in QUARANTINE_TYPES if n not in names and n not in _OPTIONAL]
    if missing:
        raise DataError(
            f"the rows to quarantine lack the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (they have {', '.join(names)})",
            location=location,
            hint="rows handed to write_quarantine carry their own columns followed by the "
            "QUARANTINE_COLUMNS of tidegate.core.protocols",
        )
    own = [n for n in names if n not in QUARANTINE_TYPES]
    arrays: list[pa.Array] = [_decoded(rows.column(n)) for n in own]
    for name, arrow_type in QUARANTINE_TYPES.items():
        if name not in names:
            arrays.append(pa.nulls(rows.num_rows, arrow_type))
            continue
        column = _decoded(rows.column(name))
        try:
            arrays.append(column if column.type == arrow_type else pc.cast(column, arrow_type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"quarantine column {name} is {column.type}, which does not cast to {arrow_type}",
                location=location,
                hint="give the bookkeeping columns the types listed in QUARANTINE_COLUMNS",
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, names=[*own, *QUARANTINE_TYPES])


def castable(incoming: pa.DataType, existing: pa.DataType) -> bool:
    """Whether a column of type ``incoming`` may be stored in a column of type ``existing``."""
    if incoming == existing or pa.types.is_null(incoming):
        return True
    source, target = arrow_family(incoming), arrow_family(existing)
    if target == "text":
        return source not in {"binary", "other"}
    if "other" in {source, target}:
        return False  # fits() lets "other" through; here it would be a silent guess
    return fits(source, target)


def conflict(
    column: str,
    incoming: pa.DataType | str,
    existing: pa.DataType | str,
    *,
    quarantine: str,
    location: str | None = None,
) -> DataError:
    """The error for a column whose type does not fit the quarantine's column of that name."""
    return DataError(
        f"column {column!r} of the rejected rows is {incoming}, but {existing} in quarantine "
        f"{quarantine}",
        location=location or quarantine,
        hint=_HINT,
    )


def conform(
    rows: pa.RecordBatch, existing: pa.Schema, *, quarantine: str, location: str | None = None
) -> tuple[pa.RecordBatch, list[pa.Field]]:
    """Cast ``rows``' columns to the types of the quarantine's ``existing`` columns.

    Returns the cast rows and the fields the quarantine lacks (to be added as nullable
    columns); new all-null columns become ``string``, since a null type cannot be stored.
    """
    arrays: list[pa.Array] = []
    new: list[pa.Field] = []
    for field, original in zip(rows.schema, rows.columns, strict=True):
        column = original
        index = existing.get_field_index(field.name)
        if index < 0:
            if pa.types.is_null(field.type):
                column = pa.nulls(len(column), pa.string())
            new.append(pa.field(field.name, column.type))
            arrays.append(column)
            continue
        target = existing.field(index).type
        if not castable(field.type, target):
            raise conflict(field.name, field.type, target, quarantine=quarantine, location=location)
        arrays.append(_cast(column, target, field.name, quarantine, location or quarantine))
    return pa.RecordBatch.from_arrays(arrays, names=rows.schema.names), new


def ordered(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the row's own fields first and the bookkeeping fields after, in order."""
    own = [f for f in schema if f.name not in QUARANTINE_TYPES]
    meta = [schema.field(n) for n in QUARANTINE_TYPES if n in schema.names]
    return pa.schema([*own, *meta])


def fill(rows: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``rows`` with ``schema``'s columns in its order, those it lacks as nulls.

    Shared columns are cast to ``schema``'s type (a widening, as ``unify_schemas`` chose it).
    """
    names = rows.schema.names
    arrays = [
        _widened(rows.column(f.name), f.type) if f.name in names else pa.nulls(len(rows), f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _widened(column: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    return column if column.type == arrow_type else pc.cast(column, arrow_type)


def arrange(table: pa.Table) -> pa.Table:
    """The row's own columns first, then the bookkeeping ones in order, typed, zones as UTC.

    Engines that store values as text (SQLite) hand back strings; the bookkeeping columns are
    cast back to their types, the row's columns keep whatever the destination made of them.
    """
    own = [n for n in table.column_names if n not in QUARANTINE_TYPES]
    columns: list[pa.ChunkedArray | pa.Array] = [_utc(table.column(n)) for n in own]
    for name, arrow_type in QUARANTINE_TYPES.items():
        if name in table.column_names:
            columns.append(_as(table.column(name), arrow_type))
        else:
            columns.append(pa.nulls(table.num_rows, arrow_type))
    return pa.table(columns, names=[*own, *QUARANTINE_TYPES])


def nulls_as_text(rows: pa.RecordBatch) -> pa.RecordBatch:
    """All-null columns of unknown type become text: a column needs a type to be created."""
    if not any(pa.types.is_null(t) for t in rows.schema.types):
        return rows
    arrays = [
        pa.nulls(len(c), pa.string()) if pa.types.is_null(c.type) else c for c in rows.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=rows.schema.names)


def in_utc(table: pa.Table) -> pa.Table:
    """``table`` with every zoned timestamp column shown in UTC (the same instants)."""
    return pa.table([_utc(c) for c in table.columns], names=table.column_names)


def sort_oldest_first(table: pa.Table) -> pa.Table:
    """Rows ordered by ``_tidegate_quarantined_at`` then ``_tidegate_qid``, as documented."""
    if table.num_rows == 0:
        return table
    return table.sort_by([(QUARANTINED_AT, "ascending"), (QID, "ascending")])


def empty_target(columns: Sequence[str]) -> pa.Table:
    """What ``read_target`` returns when the target does not exist: no rows, null-typed."""
    return pa.table({name: pa.array([], pa.null()) for name in columns})


# -- helpers -----------------------------------------------------------------------------------


def _check_names(schema: pa.Schema, location: str) -> None:
    seen: set[str] = set()
    for name in schema.names:
        if not name:
            raise DataError(
                "the rows to quarantine have a column with an empty name",
                location=location,
                hint="name it with a rename or sql step",
            )
        if name in seen:
            raise DataError(
                f"the rows to quarantine have two columns named {name!r}",
                location=location,
                hint="rename one of them with a rename step",
            )
        seen.add(name)


def _decoded(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        return column.dictionary_decode()
    return column


def _cast(
    column: pa.Array, target: pa.DataType, name: str, quarantine: str, location: str
) -> pa.Array:
    if column.type == target:
        return column
    try:
        return pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"column {name!r} of the rejected rows does not fit quarantine {quarantine}'s "
            f"{target} column: {exc}",
            location=location,
            hint=_HINT,
        ) from exc


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A zoned timestamp column shown in UTC (the same instants; engines drop the zone name)."""
    t = column.type
    if pa.types.is_timestamp(t) and t.tz is not None and t.tz != "UTC":
        return column.cast(pa.timestamp(t.unit, "UTC"))
    return column


def _as(column: pa.ChunkedArray, arrow_type: pa.DataType) -> pa.ChunkedArray:
    """A bookkeeping column in its type, parsing the text some engines store it as."""
    if column.type == arrow_type:
        return column
    if pa.types.is_timestamp(arrow_type) and pa.types.is_string(column.type):
        return _parse_timestamps(column, arrow_type)
    return column.cast(arrow_type)


def _parse_timestamps(column: pa.ChunkedArray, arrow_type: pa.DataType) -> pa.ChunkedArray:
    """ISO text to ``arrow_type``: with a zone offset if the text has one, else taken as UTC."""
    try:
        return column.cast(arrow_type)
    except pa.ArrowInvalid:
        naive = column.cast(pa.timestamp(arrow_type.unit))
        return naive.cast(arrow_type)
