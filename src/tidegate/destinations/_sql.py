"""Identifier quoting and DuckDB error translation shared by the SQL destinations.

Every table, schema and column name that reaches SQL text comes from configuration or from the
data, so none is ever pasted raw: ``quote_ident`` wraps it in double quotes and doubles any quote
inside, which is the only escaping a double-quoted SQL identifier needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    InternalError,
    TidegateError,
    TransientError,
    data_detail,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ARROW_BATCH_VIEW",
    "duckdb_error",
    "quote_ident",
    "quote_idents",
    "quote_qualified",
]

ARROW_BATCH_VIEW = "_tidegate_arrow_batch_"
"""How DuckDB SQL refers to the Arrow batch being written: a Python variable scanned in place."""


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier: ``a"b`` becomes ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_idents(names: Iterable[str]) -> str:
    """A comma-separated list of quoted identifiers."""
    return ", ".join(quote_ident(name) for name in names)


def quote_qualified(schema: str, table: str) -> str:
    """``schema.table`` with both parts quoted."""
    return quote_ident(schema) + "." + quote_ident(table)


def duckdb_error(exc: Exception, *, action: str, location: str) -> TidegateError:
    """Translate a DuckDB exception into the Tidegate error kind the caller should react to.

    Conversion and constraint failures are problems of the data; catalog, binder and parser
    failures of the configuration; I/O and lock failures of the environment.
    """
    import duckdb  # noqa: PLC0415 - heavy driver imported on first use (DESIGN §2)

    detail = str(exc).strip()
    message = f"{action} failed: {detail}"
    if isinstance(
        exc, duckdb.ConversionException | duckdb.ConstraintException | duckdb.OutOfRangeException
    ):
        return DataError(
            f"{action} failed: {data_detail(detail)}",
            location=location,
            hint="clean or cast the offending values with a cast or sql step, "
            "or change the table's column types",
        )
    if isinstance(
        exc,
        duckdb.CatalogException
        | duckdb.BinderException
        | duckdb.ParserException
        | duckdb.SyntaxException
        | duckdb.InvalidInputException,
    ):
        return ConfigError(
            message, location=location, hint="check the table, schema and column names"
        )
    if isinstance(exc, duckdb.TransactionException):
        return TransientError(
            message,
            location=location,
            hint="another writer changed the same table at the same time; run again",
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return DependencyError(
            message,
            location=location,
            hint="raise the destination's memory_limit or lower the source's batch_size",
        )
    if isinstance(exc, duckdb.IOException | duckdb.PermissionException):
        return DependencyError(
            message,
            location=location,
            hint="check that the file is writable and that no other process holds it open",
        )
    return InternalError(message, location=location)
