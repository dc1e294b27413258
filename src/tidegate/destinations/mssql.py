"""The ``mssql`` destination: exactly-once loads into SQL Server through SQLAlchemy + pyodbc.

SQL Server cannot run on the development and CI machines, so the live path is untested here:
the tests compile every statement this module emits through SQLAlchemy's real mssql dialect
and compare it with the expected T-SQL (see tests/destinations/test_mssql.py).

Bulk path: ``executemany`` of one prepared INSERT with pyodbc's ``fast_executemany`` (parameter
arrays sent in one round trip). Timezone-aware timestamps are sent as naive UTC values, which
SQL Server stores in ``DATETIMEOFFSET`` columns with offset +00:00.

Types: ``NVARCHAR(max)`` text, ``VARBINARY(max)`` binary, ``BIT`` booleans, ``DATETIME2(7)`` and
``DATETIMEOFFSET(7)`` timestamps, ``NUMERIC(p, s)`` decimals (at most 38 digits).

Modes: ``append``; ``replace`` through ``_tidegate_staging_<table>``, swapped in by
``DROP TABLE`` + ``sp_rename`` in the final transaction (SQL Server's DDL is transactional);
``merge`` loads the batch into the session temp table ``#tidegate_merge`` and runs one T-SQL
``MERGE ... WITH (HOLDLOCK)``.

Lock: ``sp_getapplock`` with ``@LockOwner = 'Session'`` on ``tidegate:<schema.table>``, held by
the run's connection, released at close.

Health (``health``, see ``_relational``): an existing target is checked with
``HAS_PERMS_BY_NAME(..., 'OBJECT', 'INSERT')``; "lock free" takes the app lock and releases it
at once. Untested live, like the rest of the live path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from tidegate.destinations._relational import RelationalDestination, RelationalSettings
from tidegate.errors import ConfigError, DependencyError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Dialect

    from tidegate.core.context import RunContext
    from tidegate.spec.settings import PluginSettings

__all__ = ["MssqlDestination", "MssqlSettings"]

MERGE_TEMP = "#tidegate_merge"


class MssqlSettings(RelationalSettings):
    """Settings of the ``mssql`` destination."""

    db_schema: str | None = Field(
        default="dbo", alias="schema", description="schema that holds the table"
    )


class MssqlDestination(RelationalDestination):
    """Loads batches into a SQL Server table, checkpointed, under a session app lock."""

    kind: ClassVar[str] = "mssql"
    Settings: ClassVar[type[PluginSettings]] = MssqlSettings
    default_schema: ClassVar[str | None] = "dbo"
    paramstyle: ClassVar[str | None] = "qmark"  # pyodbc

    def __init__(self, settings: MssqlSettings) -> None:
        super().__init__(settings)
        if self.url.get_backend_name() != "mssql":
            raise ConfigError(
                f"the mssql destination needs a mssql+pyodbc:// url, not {self.url.drivername}://",
                location="destination.url",
                hint="use mssql+pyodbc://user:password@host:1433/db?driver=ODBC+Driver+18+for+SQL+Server",
            )
        self._locked = False

    def _make_dialect(self) -> Dialect:
        from sqlalchemy.dialects.mssql import pyodbc  # noqa: PLC0415 - heavy, first use

        dialect: Dialect = pyodbc.dialect()  # type: ignore[no-untyped-call]
        return dialect

    def _engine_url(self, ctx: RunContext) -> URL:
        if self.url.drivername == "mssql":
            return self.url.set(drivername="mssql+pyodbc")
        return self.url

    def _engine_options(self, ctx: RunContext) -> dict[str, Any]:
        options: dict[str, Any] = {
            "connect_args": {"timeout": max(1, math.ceil(self.settings.connect_timeout))}
        }
        if self.url.get_driver_name() in {"pyodbc", ""}:
            options["fast_executemany"] = True
        return options

    # -- SQL text ---------------------------------------------------------------------------

    def _literal(self, text: str) -> str:
        return "N'" + text.replace("'", "''") + "'"

    def swap_sql(self) -> list[str]:
        """``DROP TABLE`` the target, then ``sp_rename`` the staging table into its place."""
        return [
            self.drop_sql(self.table),
            f"EXEC sp_rename {self._literal(self.qualified(self.staging))}, "
            f"{self._literal(self.table)}, N'OBJECT'",
        ]

    def merge_temp_sql(self, names: list[str]) -> list[str]:
        """Recreate the session temp table with the batch's columns, typed like the target."""
        cols = ", ".join(self.quote(n) for n in names)
        temp = self.quote(MERGE_TEMP)
        return [
            f"DROP TABLE IF EXISTS {temp}",
            f"SELECT TOP 0 {cols} INTO {temp} FROM {self.qualified(self.table)}",
        ]

    def merge_sql(self, source: str, names: list[str], keys: list[str]) -> str:
        """T-SQL ``MERGE`` of ``source`` into the target by ``keys``."""
        tgt, src = self.quote("tgt"), self.quote("src")
        on = " AND ".join(f"{tgt}.{self.quote(k)} = {src}.{self.quote(k)}" for k in keys)
        updates = ", ".join(
            f"{tgt}.{self.quote(n)} = {src}.{self.quote(n)}" for n in names if n not in keys
        )
        matched = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
        cols = ", ".join(self.quote(n) for n in names)
        values = ", ".join(f"{src}.{self.quote(n)}" for n in names)
        return (
            f"MERGE INTO {self.qualified(self.table)} WITH (HOLDLOCK) AS {tgt} "
            f"USING {source} AS {src} ON {on}{matched} "
            f"WHEN NOT MATCHED BY TARGET THEN INSERT ({cols}) VALUES ({values});"
        )

    def lock_sql(self) -> str:
        """Take the session app lock without waiting; selects the result code (>= 0: granted)."""
        return (
            "DECLARE @result int; EXEC @result = sp_getapplock @Resource = "
            f"{self._literal('tidegate:' + self.target)}, @LockMode = 'Exclusive', "
            "@LockOwner = 'Session', @LockTimeout = 0; SELECT @result"
        )

    def unlock_sql(self) -> str:
        """Release the session app lock."""
        return (
            f"EXEC sp_releaseapplock @Resource = {self._literal('tidegate:' + self.target)}, "
            "@LockOwner = 'Session'"
        )

    # -- lock -------------------------------------------------------------------------------

    def _acquire_lock(self, ctx: RunContext) -> None:
        result = self._execute(self.lock_sql(), action="taking the app lock").scalar()
        if result is not None and int(result) >= 0:
            self._locked = True
            self._commit_now("taking the app lock")
            return
        self.conn.rollback()
        raise self._lock_held()

    def _lock_held(self) -> DependencyError:
        return DependencyError(
            f"table {self.target} is being loaded by another session (app lock "
            f"'tidegate:{self.target}' is held)",
            location=self._location(),
            hint="wait for that run to finish; sys.dm_tran_locks (resource_type APPLICATION) "
            "with sys.dm_exec_sessions names the holder's session and program",
        )

    def _release_lock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        self.conn.rollback()
        self._execute(self.unlock_sql(), action="releasing the app lock")
        self._commit_now("releasing the app lock")

    # -- health -----------------------------------------------------------------------------

    def insert_permission_sql(self) -> str:
        """1 when the session's user may INSERT into the target, else 0."""
        return (
            f"SELECT HAS_PERMS_BY_NAME({self._literal(self.qualified(self.table))}, "
            "N'OBJECT', N'INSERT')"
        )

    def _probe_insert(self) -> str:
        allowed = self._execute(
            self.insert_permission_sql(), action=f"checking INSERT on table {self.target}"
        ).scalar()
        if not allowed:
            raise ConfigError(
                f"the user has no INSERT permission on table {self.target}",
                location=self._location(),
                hint=f"GRANT INSERT ON {self.qualified(self.table)} TO <the url's user>",
            )
        return f"table {self.target} exists; INSERT allowed"

    def _probe_lock(self) -> str:
        result = self._execute(self.lock_sql(), action="testing the app lock").scalar()
        if result is None or int(result) < 0:
            raise self._lock_held()
        self._execute(self.unlock_sql(), action="releasing the app lock")
        return "free (app lock taken and released)"

    # -- loading ----------------------------------------------------------------------------

    def _driver_values(self, column: pa.Array) -> pa.Array:
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        t = column.type
        if pa.types.is_timestamp(t) and t.tz is not None:
            return pc.cast(column, pa.timestamp(t.unit))  # naive UTC wall-clock values
        return column

    def _bulk_insert(self, table: str, batch: pa.RecordBatch, batch_number: int) -> None:
        self._insert_into(self.qualified(table), batch, batch_number)

    def _insert_into(self, target_sql: str, batch: pa.RecordBatch, batch_number: int) -> None:
        if batch.num_rows == 0:
            return
        self._execute(
            self.insert_sql(target_sql, batch.schema.names, raw_target=True),
            action=f"inserting batch {batch_number}",
            params=self._python_rows(batch),
        )

    def _merge(self, batch: pa.RecordBatch, keys: list[str], batch_number: int) -> None:
        if batch.num_rows == 0:
            return
        for sql in self.merge_temp_sql(batch.schema.names):
            self._execute(sql, action="preparing the merge")
        temp = self.quote(MERGE_TEMP)
        self._insert_into(temp, batch, batch_number)
        self._execute(
            self.merge_sql(temp, batch.schema.names, keys), action=f"merging batch {batch_number}"
        )
