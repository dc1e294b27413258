"""Small plugin classes for the spec tests: a registry needs real importable classes.

They mirror the plugin convention (``kind``, ``Settings``) without doing any work, so the tests
exercise the loader against settings shaped like real ones: required and defaulted fields,
numbers with bounds, and ``Secret`` fields.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tidegate.spec.settings import PluginSettings, Secret


class CsvLikeSettings(PluginSettings):
    """Settings of the test CSV-like source."""

    path: str = Field(description="Path of the CSV file, relative to the pipeline file.")
    delimiter: str = Field(default=",", description="Field separator character.")
    batch_size: int = Field(default=1000, gt=0, description="Rows per batch.")
    token: Secret | None = Field(default=None, description="Access token of the file store.")


class CsvLike:
    """Reads a CSV file (test stand-in)."""

    kind: ClassVar[str] = "csv"
    Settings: ClassVar[type[PluginSettings]] = CsvLikeSettings


class JsonlLikeSettings(PluginSettings):
    """Settings of the test JSON-lines source."""

    path: str = Field(description="Path of the JSON-lines file.")


class JsonlLike:
    """Reads a JSON-lines file (test stand-in)."""

    kind: ClassVar[str] = "jsonl"
    Settings: ClassVar[type[PluginSettings]] = JsonlLikeSettings


class SqlLikeSettings(PluginSettings):
    """Settings of the test SQL step."""

    query: str = Field(description="SQL run over the batch, which is the table `input`.")


class SqlLike:
    """Runs SQL over each batch (test stand-in)."""

    kind: ClassVar[str] = "sql"
    Settings: ClassVar[type[PluginSettings]] = SqlLikeSettings


class DuckLikeSettings(PluginSettings):
    """Settings of the test DuckDB-like destination."""

    path: str = Field(default=".tidegate/warehouse.duckdb", description="Database file.")
    table: str = Field(description="Table the rows are written to.")
    password: Secret | None = Field(default=None, description="Database password.")


class DuckLike:
    """Writes batches to a table (test stand-in)."""

    kind: ClassVar[str] = "duckdb"
    Settings: ClassVar[type[PluginSettings]] = DuckLikeSettings


TARGETS = {
    "sources": {"csv": f"{__name__}:CsvLike", "jsonl": f"{__name__}:JsonlLike"},
    "steps": {"sql": f"{__name__}:SqlLike"},
    "destinations": {"duckdb": f"{__name__}:DuckLike"},
}
