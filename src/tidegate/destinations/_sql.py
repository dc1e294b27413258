"""Identifier quoting and DuckDB error translation shared by the SQL destinations.

Every table, schema and column name that reaches SQL text comes from configuration or from the
data, so none is ever pasted raw: ``quote_ident`` wraps it in double quotes and doubles any quote
inside, which is the only escaping a double-quoted SQL identifier needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.core.taxonomy import Topic, error_type, rule_for
from tidegate.errors import ErrorKind, TidegateError, data_detail

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

_FILE_HINT = "check that the file is writable and that no other process holds it open"
# How to fix a DuckDB error of a kind (and topic, where the kind alone says too little).
_DUCKDB_HINTS: dict[tuple[ErrorKind, Topic | None], str] = {
    (ErrorKind.DATA, None): "clean or cast the offending values with a cast or sql step, "
    "or change the table's column types",
    (ErrorKind.CONFIG, None): "check the table, schema and column names",
    (ErrorKind.TRANSIENT, "conflict"): "another writer changed the same table at the same "
    "time; run again",
    (ErrorKind.TRANSIENT, "lock"): _FILE_HINT,
    (ErrorKind.DEPENDENCY, "resources"): "raise the destination's memory_limit or lower the "
    "source's batch_size",
    (ErrorKind.DEPENDENCY, None): _FILE_HINT,
}


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

    The kind comes from the classifier table (``tidegate.core.taxonomy``): conversion and
    constraint failures are problems of the data; catalog, binder and parser failures of the
    configuration; write conflicts and a file lock held by another process are transient;
    memory and I/O failures are the environment's.
    """
    rule = rule_for(exc)
    detail = str(exc).strip()
    if rule.kind is ErrorKind.DATA:
        detail = data_detail(detail)
    hint = _DUCKDB_HINTS.get((rule.kind, rule.topic)) or _DUCKDB_HINTS.get((rule.kind, None))
    return error_type(rule.kind)(
        f"{action} failed: {detail}", location=location, hint=hint, severity=rule.severity
    )
