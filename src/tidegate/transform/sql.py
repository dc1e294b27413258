"""The ``sql`` step: a DuckDB query over the batch, which it sees as the table ``input``.

The batch is handed to DuckDB zero-copy (Arrow) and the result comes back as Arrow, so a filter,
a join or a computed column costs no Python per row. One in-memory connection per step
instance, created on the first batch.

``tables: {countries: data/countries.csv}`` adds reference tables the query can join by name:
small lookup files (CSV, Parquet or JSON lines) read once, on the first batch, and registered
beside ``input`` in the step's connection. Their names are registered, never pasted into SQL.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator

from tidegate.errors import ConfigError
from tidegate.spec.settings import PluginSettings
from tidegate.transform._common import INPUT, DuckdbRunner

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

    from tidegate.core.context import RunContext

__all__ = ["TABLE_FORMATS", "SqlSettings", "SqlStep", "table_format"]

TABLE_FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
"""File endings a reference table may have, and the format each is read as."""

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def table_format(path: str) -> str | None:
    """The format a reference table file is read as, by its ending; None when unknown."""
    lowered = path.lower()
    return next((fmt for end, fmt in TABLE_FORMATS.items() if lowered.endswith(end)), None)


class SqlSettings(PluginSettings):
    """Settings of the ``sql`` step."""

    query: str = Field(
        min_length=1,
        description="DuckDB SELECT over the batch, which is the table `input`",
    )
    tables: dict[str, str] = Field(
        default_factory=dict,
        description="reference tables the query can join: name -> CSV, Parquet or JSONL file "
        "relative to the pipeline file, read once per run",
    )

    @field_validator("tables")
    @classmethod
    def _table_names_and_files(cls, tables: dict[str, str]) -> dict[str, str]:
        for name, path in tables.items():
            if not _TABLE_NAME.match(name):
                raise ValueError(
                    f"table name {name!r} must be letters, digits and _, not starting with a digit"
                )
            if name.lower() == INPUT:
                raise ValueError(f"{INPUT!r} is the batch itself; give the table another name")
            if table_format(path) is None:
                raise ValueError(
                    f"table {name!r}: {path!r} is not a file the step can read; use one ending "
                    f"in {', '.join(TABLE_FORMATS)}"
                )
        return tables


class SqlStep:
    """Replaces each batch by the result of a DuckDB query over it."""

    kind: ClassVar[str] = "sql"
    Settings: ClassVar[type[PluginSettings]] = SqlSettings

    def __init__(self, settings: SqlSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings
        self._duckdb = DuckdbRunner(name, self.kind)
        self._tables_loaded = not settings.tables
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
        if not self._tables_loaded:
            self._load_tables(ctx)
            self._tables_loaded = True
        return self._duckdb.query(self.settings.query, batch)

    def _load_tables(self, ctx: RunContext) -> None:
        """Read every reference table into memory and register it under its name."""
        connection = self._duckdb.connection()
        for name, path in self.settings.tables.items():
            connection.register(name, self._read_table(name, path, ctx.resolve(path)))

    def _read_table(self, name: str, path: str, file: Path) -> pa.Table:
        import pyarrow.csv as pa_csv  # noqa: PLC0415 - readers imported on first use
        import pyarrow.json as pa_json  # noqa: PLC0415
        import pyarrow.parquet as pq  # noqa: PLC0415

        where = f"sql step {self.name!r}, table {name!r}"
        if not file.is_file():
            raise ConfigError(
                f"{where}: file not found: {file}",
                location=f"steps.{self.name}.tables.{name}",
                hint="fix the path (relative paths start at the pipeline file's folder)",
            )
        fmt = table_format(path)
        try:
            if fmt == "parquet":
                return pq.read_table(file)
            if fmt == "jsonl":
                return pa_json.read_json(file)
            options = pa_csv.ParseOptions(delimiter="\t" if path.lower().endswith(".tsv") else ",")
            return pa_csv.read_csv(file, parse_options=options)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise ConfigError(
                f"{where}: {file} cannot be read as {fmt}: {str(exc).strip()}",
                location=f"steps.{self.name}.tables.{name}",
                hint="check the file's format and its first lines",
            ) from exc
