"""The ``derive`` step: adds (or replaces) columns computed by DuckDB SQL expressions.

``columns: {total: "price * quantity"}`` becomes ``SELECT *, (price * quantity) AS "total" FROM
input``; a name that already exists is replaced in place (``SELECT * REPLACE``). Expressions are
user SQL by design; the new column names are quoted, never pasted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from tidegate.spec.settings import PluginSettings
from tidegate.transform._common import INPUT, DuckdbRunner, quote_ident

if TYPE_CHECKING:
    import pyarrow as pa

    from tidegate.core.context import RunContext

__all__ = ["DeriveSettings", "DeriveStep"]


class DeriveSettings(PluginSettings):
    """Settings of the ``derive`` step."""

    columns: dict[str, str] = Field(
        min_length=1,
        description="new column name -> DuckDB SQL expression over the batch's columns",
    )


class DeriveStep:
    """Computes columns from SQL expressions, keeping every existing column and row."""

    kind: ClassVar[str] = "derive"
    keeps_rows: ClassVar[bool] = True
    Settings: ClassVar[type[PluginSettings]] = DeriveSettings

    def __init__(self, settings: DeriveSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings
        self._duckdb = DuckdbRunner(name, self.kind)
        self._queries: dict[tuple[str, ...], str] = {}

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``batch`` with the derived columns appended (or replaced where the name exists)."""
        names = tuple(batch.schema.names)
        sql = self._queries.get(names)
        if sql is None:
            sql = self._queries[names] = self._build(names)
        return self._duckdb.query(sql, batch)

    def _build(self, names: tuple[str, ...]) -> str:
        existing = {name.lower() for name in names}  # DuckDB names ignore case
        replaced: list[str] = []
        added: list[str] = []
        for column, expression in self.settings.columns.items():
            part = f"({expression}) AS {quote_ident(column)}"
            (replaced if column.lower() in existing else added).append(part)
        select = "*"
        if replaced:
            select += f" REPLACE ({', '.join(replaced)})"
        if added:
            select += ", " + ", ".join(added)
        return f"SELECT {select} FROM {INPUT}"
