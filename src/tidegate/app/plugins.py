"""The built-in plugin table: ``kind -> "module:Class"`` for each group.

Only strings live here, so nothing is imported until a pipeline asks for a kind.
"""

from __future__ import annotations

from tidegate.core import Registry

__all__ = ["BUILTINS", "default_registry"]

BUILTINS: dict[str, dict[str, str]] = {
    "sources": {
        "csv": "tidegate.sources.csv:CsvSource",
        "parquet": "tidegate.sources.parquet:ParquetSource",
        "jsonl": "tidegate.sources.jsonl:JsonlSource",
        "sql": "tidegate.sources.sql:SqlSource",
        "rest": "tidegate.sources.rest:RestSource",
    },
    "steps": {
        "sql": "tidegate.transform.sql:SqlStep",
        "select": "tidegate.transform.select:SelectStep",
        "rename": "tidegate.transform.rename:RenameStep",
        "cast": "tidegate.transform.cast:CastStep",
        "derive": "tidegate.transform.derive:DeriveStep",
        "python": "tidegate.transform.python:PythonStep",
        "mask": "tidegate.governance.mask:MaskStep",
        "encrypt": "tidegate.governance.encrypt_step:EncryptStep",
    },
    "destinations": {
        "duckdb": "tidegate.destinations.duckdb:DuckdbDestination",
        "files": "tidegate.destinations.files:FilesDestination",
        "postgres": "tidegate.destinations.postgres:PostgresDestination",
        "sqlite": "tidegate.destinations.sqlite:SqliteDestination",
        "mssql": "tidegate.destinations.mssql:MssqlDestination",
        "sqlalchemy": "tidegate.destinations.sqlalchemy:SqlalchemyDestination",
    },
}


def default_registry() -> Registry:
    """A registry with the built-in plugins; entry-point plugins are read on first lookup."""
    return Registry(BUILTINS)
