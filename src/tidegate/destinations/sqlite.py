"""The ``sqlite`` destination: exactly-once loads into a SQLite file.

Python's ``sqlite3`` driver is put in autocommit mode and SQLAlchemy emits ``BEGIN`` itself,
so DDL (creating the table, the staging swap) is part of the run's transactions like the rows:
SQLite's DDL is transactional, the driver's implicit transaction handling is not.

Bulk path: ``executemany`` of one prepared INSERT over the batch's columns. Arrow converts the
values column-wise first (decimals, dates, timestamps and times to ISO text, which is how
SQLite stores them), so no Python code runs per value beyond the driver's own loop.

Modes: ``append``; ``replace`` through ``_tidegate_staging_<table>`` swapped in with DROP +
``ALTER TABLE ... RENAME`` in the final transaction; ``merge`` with ``INSERT ... ON CONFLICT
(key) DO UPDATE`` (a table created by Tidegate gets a UNIQUE constraint on the key).

Lock: a ``_tidegate_locks`` row (target, run id, pid, host, time) committed on its own and
deleted at close; a row left by a dead process on this host is taken over.

Health (``health``, see ``_relational``): connecting to a file that does not exist yet creates
it (and its folders); the check removes what it created, so a health check leaves no empty
database behind. "Lock free" reads the lock row without writing one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from tidegate.destinations._relational import RelationalDestination, RelationalSettings
from tidegate.errors import ConfigError, TidegateError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import URL, Dialect, Engine

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check
    from tidegate.spec.settings import PluginSettings

__all__ = ["SqliteDestination", "SqliteSettings"]


class SqliteSettings(RelationalSettings):
    """Settings of the ``sqlite`` destination."""

    db_schema: str | None = Field(
        default="main", alias="schema", description="attached database that holds the table"
    )


class SqliteDestination(RelationalDestination):
    """Loads batches into a SQLite table, checkpointed, under a lock row."""

    kind: ClassVar[str] = "sqlite"
    Settings: ClassVar[type[PluginSettings]] = SqliteSettings
    default_schema: ClassVar[str | None] = "main"
    lenient_time: ClassVar[bool] = True  # SQLite keeps timestamps as text, with or without zone

    def __init__(self, settings: SqliteSettings) -> None:
        super().__init__(settings)
        if self.url.get_backend_name() != "sqlite":
            raise ConfigError(
                f"the sqlite destination needs a sqlite:/// url, not {self.url.drivername}://",
                location="destination.url",
                hint="use sqlite:///relative/path.db (relative to the pipeline file's folder)",
            )

    def _make_dialect(self) -> Dialect:
        from sqlalchemy.dialects.sqlite import pysqlite  # noqa: PLC0415 - heavy, first use

        dialect: Dialect = pysqlite.dialect()
        return dialect

    def _engine_url(self, ctx: RunContext) -> URL:
        database = self.url.database
        if database in (None, "", ":memory:"):
            return self.url.set(drivername="sqlite+pysqlite")
        path = ctx.resolve(str(database))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the folder of the SQLite file: {exc.strerror}",
                location=str(path),
                hint="check the url's path and the folder's permissions",
            ) from exc
        return self.url.set(drivername="sqlite+pysqlite", database=str(path))

    def _file(self, ctx: RunContext) -> Path | None:
        database = self.url.database
        if database in (None, "", ":memory:"):
            return None
        return ctx.resolve(str(database))

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """The shared checks; a database file (and folders) created by them is removed after."""
        path = self._file(ctx)
        created: list[Path] = []
        if path is not None and not path.exists():
            created = [path, *(f for f in path.parents if not f.exists())]
        try:
            for check in super().health(ctx):
                if check.name == "connect" and check.ok and created:
                    note = f"{path} does not exist yet (a run creates it)"
                    yield dataclasses.replace(check, detail=f"{check.detail}; {note}")
                else:
                    yield check
        finally:
            _remove_created(created)

    def _engine_options(self, ctx: RunContext) -> dict[str, Any]:
        return {"connect_args": {"timeout": self.settings.connect_timeout}}

    def _on_engine(self, engine: Engine) -> None:
        from sqlalchemy import event  # noqa: PLC0415 - heavy, imported on first use

        def autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we say BEGIN ourselves

        def begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        event.listen(engine, "connect", autocommit_driver)
        event.listen(engine, "begin", begin)

    # -- loading ----------------------------------------------------------------------------

    def _driver_values(self, column: pa.Array) -> pa.Array:
        """SQLite's storage form: ISO text for dates, times, timestamps and decimals."""
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        t = column.type
        if (
            pa.types.is_decimal(t)
            or pa.types.is_date(t)
            or pa.types.is_time(t)
            or pa.types.is_timestamp(t)
        ):
            return pc.cast(column, pa.string())
        if pa.types.is_uint64(t):
            return pc.cast(column, pa.string())  # beyond SQLite's signed 64-bit integers
        return column

    def _bulk_insert(self, table: str, batch: pa.RecordBatch, batch_number: int) -> None:
        if batch.num_rows == 0:
            return
        self._execute(
            self.insert_sql(table, batch.schema.names),
            action=f"inserting batch {batch_number}",
            params=self._python_rows(batch),
        )

    def _merge(self, batch: pa.RecordBatch, keys: list[str], batch_number: int) -> None:
        if batch.num_rows == 0:
            return
        names = batch.schema.names
        updates = ", ".join(
            f"{self.quote(n)} = excluded.{self.quote(n)}" for n in names if n not in keys
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        sql = (
            self.insert_sql(self.table, names)
            + f" ON CONFLICT ({', '.join(self.quote(k) for k in keys)}) {action}"
        )
        try:
            self._execute(
                sql, action=f"merging batch {batch_number}", params=self._python_rows(batch)
            )
        except TidegateError as exc:
            if "ON CONFLICT clause does not match" not in exc.message:
                raise
            raise ConfigError(
                f"table {self.target} has no unique constraint on the key "
                f"({', '.join(keys)}), so rows cannot be merged by it",
                location=self._location(),
                hint=f"create one: CREATE UNIQUE INDEX ... ON {self.qualified(self.table)} "
                f"({', '.join(self.quote(k) for k in keys)})",
            ) from exc


def _remove_created(created: list[Path]) -> None:
    """Remove a database file the health check created, its journals, then its empty folders."""
    if not created:
        return
    database, *folders = created
    try:
        if database.stat().st_size > 0:  # a run has written to it meanwhile: it is theirs
            return
        database.unlink()
    except FileNotFoundError:
        pass
    for folder in folders:  # deepest first, as Path.parents lists them
        try:
            folder.rmdir()
        except OSError:  # not empty: someone else wrote there meanwhile, leave it
            break
