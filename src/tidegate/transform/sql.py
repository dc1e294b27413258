"""The ``sql`` step: a DuckDB query over the batch, which it sees as the table ``input``.

The batch is handed to DuckDB zero-copy (Arrow) and the result comes back as Arrow, so a filter,
a join against a file or a computed column costs no Python per row. One in-memory connection
per step instance, created on the first batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from tidegate.errors import ConfigError
from tidegate.spec.settings import PluginSettings
from tidegate.transform._common import DuckdbRunner

if TYPE_CHECKING:
    import pyarrow as pa

    from tidegate.core.context import RunContext

__all__ = ["SqlSettings", "SqlStep"]


class SqlSettings(PluginSettings):
    """Settings of the ``sql`` step."""

    query: str = Field(
        min_length=1,
        description="DuckDB SELECT over the batch, which is the table `input`",
    )


class SqlStep:
    """Replaces each batch by the result of a DuckDB query over it."""

    kind: ClassVar[str] = "sql"
    Settings: ClassVar[type[PluginSettings]] = SqlSettings

    def __init__(self, settings: SqlSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings
        self._duckdb = DuckdbRunner(name, self.kind)
        self._check_query()

    def _check_query(self) -> None:
        """Refuse, before any data flows, a query that does not parse or is not one SELECT."""
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        hint = "write one SELECT over the table `input`, such as SELECT * FROM input WHERE ..."
        try:
            statements = duckdb.extract_statements(self.settings.query)
        except duckdb.Error as exc:
            raise ConfigError(
                f"sql step {self.name!r}: the query does not parse: {str(exc).strip()}",
                hint=hint,
            ) from exc
        kinds = [statement.type.name for statement in statements]
        # PIVOT and similar rewritten queries parse as MULTI
        if len(kinds) != 1 or kinds[0] not in {"SELECT", "MULTI"}:
            raise ConfigError(
                f"sql step {self.name!r}: the query must be one SELECT, "
                f"not {' + '.join(kinds) or 'empty'}",
                hint=hint,
            )

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """The query's result over ``batch``; an empty result keeps the query's schema."""
        return self._duckdb.query(self.settings.query, batch)
