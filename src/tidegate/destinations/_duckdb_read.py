"""Reading a duckdb destination's loaded rows back (the ``RowsRead`` protocol).

``DuckdbDestination`` inherits ``DuckdbRowsRead``. The rows are read on the run's connection
after ``open`` (and after the writer thread has stored everything handed to it), straight from
DuckDB into Arrow: BLOB columns come back as Arrow binary, zoned timestamps in UTC, as the
quarantine reads them. Names are quoted with ``quote_ident``, the limit is a bound parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidegate.destinations._duckdb_quarantine import check_columns
from tidegate.destinations._quarantine import empty_target, in_utc
from tidegate.destinations._sql import quote_ident, quote_qualified
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from tidegate.destinations.duckdb import DuckdbSettings

__all__ = ["DuckdbRowsRead"]


class DuckdbRowsRead:
    """The ``RowsRead`` protocol that ``DuckdbDestination`` inherits."""

    if TYPE_CHECKING:  # provided by DuckdbDestination and DuckdbQuarantine
        settings: DuckdbSettings
        _con: Any

        def _location(self) -> str: ...
        def _load_columns(self, table: str) -> dict[str, tuple[str, str]]: ...
        def _drain(self) -> None: ...
        def _raise_failure(self) -> None: ...
        def _arrow(self, sql: str, *, action: str, params: list[Any] | None = None) -> pa.Table: ...

    def read_rows(
        self, *, columns: Sequence[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """Up to ``limit`` rows of the live target (``columns`` only, when given), in table
        order; an empty table when the target does not exist."""
        if self._con is None:
            raise ConfigError("duckdb destination: read_rows before open or after close")
        self._drain()
        self._raise_failure()
        s = self.settings
        found = self._load_columns(s.table)
        if not found:
            return empty_target(columns or [])
        if columns is None:
            select = "*"
        else:
            check_columns(
                columns,
                found,
                table=f"{s.db_schema}.{s.table}",
                location=self._location(),
                hint="name columns the table has",
            )
            # DuckDB names ignore case: select the stored name under the one asked for
            select = ", ".join(
                f"{quote_ident(found[c.lower()][0])} AS {quote_ident(c)}" for c in columns
            )
        sql = f"SELECT {select} FROM {quote_qualified(s.db_schema, s.table)}"
        params: list[Any] | None = None
        if limit is not None:
            sql += " LIMIT ?"
            params = [limit]
        table = self._arrow(
            sql, action=f"reading the rows of table {s.db_schema}.{s.table}", params=params
        )
        return in_utc(table)
