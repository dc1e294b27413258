"""A process-wide in-memory DuckDB database for the small questions rules ask of DuckDB.

Checking a regular expression, parsing an SQL expression, casting a literal, running a rule
set: each needs DuckDB, and opening a database costs some 20 ms where a connection to an open
one costs microseconds. Everyone asks ``scratch()`` for a connection of their own (what they
register or create in temporary tables stays theirs); the database opens once, in UTC.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["scratch"]


@functools.cache
def _database() -> Any:
    import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

    database = duckdb.connect(":memory:")
    database.execute("SET TimeZone = 'UTC'")
    return database


def scratch() -> Any:
    """A new connection to the shared in-memory database (its own views and temp tables)."""
    return _database().cursor()
