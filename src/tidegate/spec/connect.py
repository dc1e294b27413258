"""What the database drivers call their connect timeout, for sources and destinations alike.

A ``connect_timeout`` setting reaches a SQLAlchemy engine as a DBAPI ``connect()`` argument
whose name depends on the driver. Both the ``sql`` source and the SQL destinations need the
same table, so it lives here, in the layer both may import.
"""

from __future__ import annotations

__all__ = ["CONNECT_TIMEOUT_ARGS"]

CONNECT_TIMEOUT_ARGS: dict[tuple[str, str], str] = {
    ("postgresql", "psycopg"): "connect_timeout",
    ("postgresql", "psycopg2"): "connect_timeout",
    ("postgresql", "pg8000"): "timeout",
    ("mysql", "mysqldb"): "connect_timeout",
    ("mysql", "pymysql"): "connect_timeout",
    ("mariadb", "mysqldb"): "connect_timeout",
    ("mariadb", "pymysql"): "connect_timeout",
    ("mssql", "pyodbc"): "timeout",
    ("sqlite", "pysqlite"): "timeout",
}
"""(backend, driver) -> the DBAPI ``connect()`` argument holding the timeout in seconds."""
