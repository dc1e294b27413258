"""The ``cast`` step: converts columns to other types, vectorised with ``pyarrow.compute.cast``.

Type names are those of ``tidegate.spec.types`` (``int64``, ``decimal128(12,2)``,
``timestamp[us]`` …), shared with the sources; an unknown one is refused when the pipeline is
loaded. With ``safe: true`` (the default) a value that cannot be converted stops the run with a
data error naming the column, the row within the batch and the value; with ``safe: false`` such
values become nulls. Bad values are located by bisection (a logarithmic number of vectorised
casts), so a clean batch costs exactly one cast per column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from tidegate.errors import ConfigError, DataError, shown_value, values_shown
from tidegate.spec.settings import PluginSettings
from tidegate.spec.types import ColumnTypes, parse_type
from tidegate.transform._common import missing_column_error

if TYPE_CHECKING:
    from tidegate.core.context import RunContext

__all__ = ["CastSettings", "CastStep"]

_CAST_FAILED = (pa.ArrowInvalid, pa.ArrowTypeError)
_LEAF = 16  # below this many values, bisection gives way to one cast per value


class CastSettings(PluginSettings):
    """Settings of the ``cast`` step."""

    columns: ColumnTypes = Field(
        min_length=1, description="column -> type, such as int64, double or decimal128(12,2)"
    )
    safe: bool = Field(
        default=True,
        description="fail on a value that cannot be converted; false turns it into null",
    )


class CastStep:
    """Converts the listed columns to the listed types."""

    kind: ClassVar[str] = "cast"
    keeps_rows: ClassVar[bool] = True
    Settings: ClassVar[type[PluginSettings]] = CastSettings

    def __init__(self, settings: CastSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings
        self.types: dict[str, pa.DataType] = {}
        for column, text in settings.columns.items():
            try:
                self.types[column] = parse_type(text)
            except ValueError as exc:
                raise ConfigError(
                    f"cast step {name!r}: column {column!r}: {exc}",
                    hint="write a type such as int64, double, string, date32 or decimal(12,2)",
                ) from exc

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``batch`` with the listed columns converted."""
        names = batch.schema.names
        for column, target in self.types.items():
            if column not in names:
                raise missing_column_error(self.name, self.kind, column, names)
            index = names.index(column)
            array = batch.column(index)
            if array.type == target:
                continue
            converted = self._cast(column, array, target)
            batch = batch.set_column(index, pa.field(column, target), converted)
        return batch

    def _cast(self, column: str, array: pa.Array, target: pa.DataType) -> pa.Array:
        try:
            pc.cast(array.slice(0, 0), target)
        except pa.ArrowNotImplementedError as exc:
            raise ConfigError(
                f"cast step {self.name!r}: column {column!r} cannot be cast from "
                f"{array.type} to {target}",
                hint="cast through an intermediate type (such as string), or use a sql step",
            ) from exc
        try:
            return pc.cast(array, target, safe=True)
        except _CAST_FAILED as exc:
            if not self.settings.safe:
                return _cast_or_null(array, target)
            row = _first_failure(array, target)
            try:  # Arrow's own words for this value (its first message may name another row)
                pc.cast(array.slice(row, 1), target, safe=True)
                reason = str(exc)
            except _CAST_FAILED as single:
                reason = str(single)
            value = shown_value(array[row].as_py())
            raise DataError(
                f"cast step {self.name!r}: column {column!r} value {value} "
                f"in row {row} of the batch cannot be cast to {target}"
                + (f": {reason}" if values_shown() else ""),
                hint="set safe: false to turn such values into nulls, "
                "or clean them first with a sql step",
            ) from exc


def _fails(array: pa.Array, target: pa.DataType) -> bool:
    try:
        pc.cast(array, target, safe=True)
    except _CAST_FAILED:
        return True
    return False


def _first_failure(array: pa.Array, target: pa.DataType) -> int:
    """Index of the first value that cannot be cast, found by bisection over slices."""
    low, high = 0, len(array)  # array[:low] casts; array[low:high] holds a failure
    while high - low > 1:
        middle = (low + high) // 2
        if _fails(array.slice(low, middle - low), target):
            high = middle
        else:
            low = middle
    return low


def _cast_or_null(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast ``array``, turning values that cannot be cast into nulls; splits around failures."""
    pieces: list[pa.Array] = []
    pending = [array]
    while pending:
        part = pending.pop()
        try:
            pieces.append(pc.cast(part, target, safe=True))
            continue
        except _CAST_FAILED:
            pass
        if len(part) <= _LEAF:
            pieces.extend(
                pa.nulls(1, target) if _fails(one, target) else pc.cast(one, target)
                for one in (part.slice(i, 1) for i in range(len(part)))
            )
            continue
        middle = len(part) // 2
        pending.append(part.slice(middle))  # a stack: the first half is handled first
        pending.append(part.slice(0, middle))
    return pa.concat_arrays(pieces)
