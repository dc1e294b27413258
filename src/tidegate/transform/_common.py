"""Small helpers shared by the transform steps: name suggestions, DuckDB over one batch.

DuckDB is imported on first use only. Each DuckDB-backed step owns one in-memory connection,
created lazily and reused for every batch, and sees the batch as the table ``input``.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tidegate.errors import ConfigError, DataError, TidegateError, data_detail

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["DuckdbRunner", "missing_column_error", "quote_ident", "table_to_batch"]

INPUT = "input"
"""The name under which SQL run by a step sees the batch."""


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier: ``a"b`` becomes ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def missing_column_error(
    step: str, kind: str, column: str, available: Iterable[str]
) -> ConfigError:
    """A ConfigError for an unknown column that lists the columns and the nearest match."""
    names = list(available)
    near = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return ConfigError(
        f"{kind} step {step!r}: column {column!r} is not in the batch "
        f"(columns: {', '.join(names) or 'none'})",
        hint=hint + "fix the column name in the step's settings",
    )


def table_to_batch(table: pa.Table) -> pa.RecordBatch:
    """One RecordBatch holding all of ``table`` (an empty one keeps the schema)."""
    batches = table.combine_chunks().to_batches()
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


class DuckdbRunner:
    """Runs SQL over one batch exposed as the table ``input``, on a lazily made connection."""

    def __init__(self, step: str, kind: str) -> None:
        self.step = step
        self.kind = kind
        self._con: Any = None

    def connection(self) -> Any:
        """The step's DuckDB connection, made on first use (steps register their own tables)."""
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        if self._con is None:
            self._con = duckdb.connect(":memory:")
        return self._con

    def query(self, sql: str, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The result of ``sql`` over ``batch`` as one RecordBatch."""
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        self.connection().register(INPUT, batch)
        try:
            relation = self._con.sql(sql)
            if relation is None:
                raise ConfigError(
                    f"{self.kind} step {self.step!r}: the query returned no result set",
                    hint="write a SELECT over the table `input`",
                )
            return table_to_batch(relation.to_arrow_table())
        except duckdb.Error as exc:
            raise self._error(exc) from exc
        finally:
            self._con.unregister(INPUT)

    def _error(self, exc: Exception) -> TidegateError:
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        detail = str(exc).strip()
        if isinstance(
            exc,
            duckdb.ConversionException | duckdb.OutOfRangeException | duckdb.ConstraintException,
        ):
            return DataError(
                f"{self.kind} step {self.step!r}: DuckDB could not convert a value: "
                f"{data_detail(detail)}",
                hint="use TRY_CAST to turn bad values into nulls, or filter them out first",
            )
        return ConfigError(
            f"{self.kind} step {self.step!r}: query failed: {detail}",
            hint="the batch is available as the table `input`; check the SQL and the column names",
        )
