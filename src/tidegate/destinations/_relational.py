"""The shared machinery of the SQLAlchemy-family destinations: postgres, sqlite, mssql, sqlalchemy.

One run holds one connection and writes through a chain of transactions. Each transaction ends
with a row in ``_tidegate_checkpoints`` committed *together with* the rows it covers, so after a
crash the checkpoint table says exactly which source rows are in the table (DESIGN §3):

    open      connect (timeout), take the target's lock, create the checkpoint table, return the
              latest checkpoint of (pipeline, target)
    start     replace mode: drop the staging table, or keep it when resuming
    write     bulk-load the batch (dialect hook) into the target, the staging table, or through a
              merge; the table is created from the Arrow schema on the first batch
    commit    every ``commit_every`` calls: insert the checkpoint row and COMMIT
    finish    replace mode swaps staging into the target, then the final checkpoint and COMMIT
    rollback  discard the open transaction; close releases the lock and the connection

``health`` is the pre-flight check, on a connection of its own: connect (timeout, server
version), ``SELECT 1``, "can write" (a probe table ``_tidegate_probe_<random>`` created and
written, or the INSERT privilege on an existing target, in a transaction that is rolled back),
and "lock free" (no other run holds the target's lock). It leaves nothing behind: no table, no
lock, no open connection.

Table and column types come from the Arrow schema through SQLAlchemy types compiled by the
target's dialect (``arrow_to_sqlalchemy``), and every identifier is quoted by the dialect's own
preparer, so hostile names (quotes, semicolons, keywords, non-ASCII) reach SQL as names only.
The SQL text is built by pure methods (``create_table_sql``, ``merge_sql``, ``swap_sql``...) so
it can be checked against a dialect without a server (SQL Server is tested that way).

A lock row in ``_tidegate_locks`` (``LockRow``) serves dialects without advisory locks.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from pydantic import ConfigDict, Field, model_validator

from tidegate.core.health import Check, timed
from tidegate.core.protocols import Checkpoint
from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    TidegateError,
    TransientError,
)
from tidegate.spec.settings import PluginSettings, Secret

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.engine import URL, Connection, Dialect, Engine
    from sqlalchemy.types import TypeEngine

    from tidegate.core.context import RunContext

__all__ = [
    "CHECKPOINT_TABLE",
    "LOCK_TABLE",
    "PROBE_PREFIX",
    "LockRow",
    "RelationalDestination",
    "RelationalSettings",
    "arrow_to_sqlalchemy",
    "type_family",
]

log = structlog.get_logger(__name__)

CHECKPOINT_TABLE = "_tidegate_checkpoints"
LOCK_TABLE = "_tidegate_locks"
STAGING_PREFIX = "_tidegate_staging_"
PROBE_PREFIX = "_tidegate_probe_"
_ORDINAL = "__tidegate_ordinal"
_PRODUCTS = {
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
    "mssql": "SQL Server",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "oracle": "Oracle",
}


class RelationalSettings(PluginSettings):
    """Settings shared by the SQL database destinations."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: Secret = Field(
        description="SQLAlchemy database URL; a literal, env:NAME or file:PATH (never logged)"
    )
    db_schema: str | None = Field(
        default=None,
        alias="schema",
        description="schema that holds the table; null for the connection's default schema",
    )
    table: str = Field(description="table to load into; created from the data if missing")
    mode: Literal["append", "replace", "merge"] = Field(
        default="append",
        description="append rows, replace the table's content atomically, or merge (upsert) by key",
    )
    key: list[str] = Field(
        default_factory=list,
        description="columns identifying a row: required for merge; replace makes them UNIQUE",
    )
    commit_every: int = Field(
        default=1, ge=1, description="batches per transaction; each commit stores a checkpoint"
    )
    schema_evolution: Literal["add_columns", "fail"] = Field(
        default="fail",
        description="a new source column is added as a nullable column, or stops the run",
    )
    connect_timeout: float = Field(
        default=10, gt=0, description="seconds to wait for the database connection"
    )

    @model_validator(mode="after")
    def _key_fits_mode(self) -> RelationalSettings:
        if self.mode == "merge" and not self.key:
            raise ValueError(
                "mode merge needs 'key': the columns that identify a row, such as key: [id]"
            )
        if len(set(self.key)) != len(self.key):
            raise ValueError("'key' lists a column more than once")
        return self


# -- types ------------------------------------------------------------------------------------


def arrow_to_sqlalchemy(  # noqa: PLR0911, PLR0912 - one flat dispatch over Arrow types reads best
    arrow_type: pa.DataType, dialect: str
) -> TypeEngine[Any]:
    """The column type for ``arrow_type`` on ``dialect`` (postgresql, sqlite, mssql, ...).

    Raises ``ValueError`` for Arrow types no SQL column can hold (lists, structs, maps...).
    """
    import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
    from sqlalchemy.dialects import mssql  # noqa: PLC0415

    t = arrow_type
    on_mssql = dialect == "mssql"
    if pa.types.is_dictionary(t):
        return arrow_to_sqlalchemy(t.value_type, dialect)
    if pa.types.is_boolean(t):
        return sa.Boolean()
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return sa.SmallInteger()
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return sa.Integer()
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return sa.BigInteger()
    if pa.types.is_uint64(t):
        return sa.Numeric(20, 0)
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return sa.REAL()
    if pa.types.is_float64(t):
        return mssql.FLOAT(53) if on_mssql else sa.Double()
    if pa.types.is_decimal(t):
        if on_mssql and t.precision > 38:
            raise ValueError(f"SQL Server decimals hold at most 38 digits, not {t.precision}")
        return sa.Numeric(t.precision, t.scale)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return mssql.NVARCHAR(None) if on_mssql else sa.Text()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        if on_mssql:
            return mssql.VARBINARY("max")  # type: ignore[no-untyped-call]
        return sa.LargeBinary()
    if pa.types.is_date(t):
        return mssql.DATE() if on_mssql else sa.Date()
    if pa.types.is_timestamp(t):
        if on_mssql:
            return mssql.DATETIMEOFFSET(7) if t.tz else mssql.DATETIME2(7)  # type: ignore[no-untyped-call]
        return sa.DateTime(timezone=t.tz is not None)
    if pa.types.is_time(t):
        return mssql.TIME(6) if on_mssql else sa.Time()  # type: ignore[no-untyped-call]
    raise ValueError(f"no SQL column type holds Arrow type {t}")


def arrow_family(arrow_type: pa.DataType) -> str:
    """The type family of an Arrow type, compared with ``type_family`` of the table's column."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return arrow_family(t.value_type)
    checks = (
        ("null", pa.types.is_null),
        ("boolean", pa.types.is_boolean),
        ("integer", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("decimal", pa.types.is_decimal),
        ("text", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)),
        ("binary", lambda x: pa.types.is_binary(x) or pa.types.is_large_binary(x)),
        ("binary", pa.types.is_fixed_size_binary),
        ("date", pa.types.is_date),
        ("time", pa.types.is_time),
    )
    for name, check in checks:
        if check(t):
            return name
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz else "timestamp"
    return "other"


def type_family(sa_type: TypeEngine[Any]) -> str:  # noqa: PLR0911 - flat dispatch
    """The type family of a reflected column type; ``other`` accepts anything."""
    import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

    if isinstance(sa_type, sa.Boolean):
        return "boolean"
    if isinstance(sa_type, sa.Integer):
        return "integer"
    if isinstance(sa_type, sa.Float):
        return "float"
    if isinstance(sa_type, sa.Numeric):
        return "decimal"
    if isinstance(sa_type, sa.DateTime):
        tz = getattr(sa_type, "timezone", False) or type(sa_type).__name__ == "DATETIMEOFFSET"
        return "timestamptz" if tz else "timestamp"
    if isinstance(sa_type, sa.Date):
        return "date"
    if isinstance(sa_type, sa.Time):
        return "time"
    if isinstance(sa_type, sa.String | sa.Enum):
        return "text"
    if isinstance(sa_type, sa.LargeBinary | sa.types._Binary):
        return "binary"
    return "other"


_FITS = {
    "integer": {"integer", "decimal", "float"},
    "float": {"float", "decimal"},
    "decimal": {"decimal", "float"},
    "date": {"date", "timestamp", "timestamptz"},
    "timestamp": {"timestamp", "timestamptz"},
}


def fits(source: str, target: str, *, lenient_time: bool = False) -> bool:
    """Whether data of family ``source`` may be stored in a column of family ``target``."""
    if source in {"null", "other"} or target in {"other", source}:
        return True
    if lenient_time and {source, target} <= {"timestamp", "timestamptz"}:
        return True
    return target in _FITS.get(source, set())


# -- the destination --------------------------------------------------------------------------


class RelationalDestination:
    """A transactional, checkpointed, locked load into one table of a SQL database.

    Subclasses set ``kind``/``Settings``/``dialect_name`` and override the hooks: ``_bulk_insert``
    (the fast path), ``merge_sql`` and ``_merge`` (upsert), ``swap_sql`` (replace), and the lock
    (``_acquire_lock``/``_release_lock``).
    """

    kind: ClassVar[str] = "sqlalchemy"
    Settings: ClassVar[type[PluginSettings]] = RelationalSettings
    default_schema: ClassVar[str | None] = None
    lenient_time: ClassVar[bool] = False
    paramstyle: ClassVar[str | None] = None
    """The DBAPI driver's paramstyle for ``exec_driver_sql``; None: the dialect's."""

    def __init__(self, settings: RelationalSettings) -> None:
        if settings.mode == "merge" and not settings.key:  # settings built without validation
            raise ConfigError(
                f"{self.kind} destination: mode merge needs 'key'",
                hint="list the columns that identify a row, such as key: [id]",
            )
        self.settings = settings
        self.url = self._parse_url()
        self.dialect: Dialect = self._make_dialect()
        self.schema: str | None = settings.db_schema or self.default_schema
        self.table = settings.table
        self.target = f"{self.schema}.{self.table}" if self.schema else self.table
        self.staging = STAGING_PREFIX + settings.table
        self._engine: Engine | None = None
        self._lock: LockRow | None = None
        self._conn: Connection | None = None
        self._ctx: RunContext | None = None
        self._columns: dict[str, tuple[str, str]] | None = None  # name -> (family, SQL type)
        self._staging_columns: dict[str, tuple[str, str]] | None = None
        self._checked: pa.Schema | None = None
        self._since_commit = 0
        self._rows = 0
        self._purpose: Literal["run", "health"] = "run"

    # -- url and descriptions ---------------------------------------------------------------

    def _parse_url(self) -> URL:
        from sqlalchemy.engine import make_url  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

        try:
            return make_url(self.settings.url.get_secret_value())
        except (ArgumentError, ValueError):
            raise ConfigError(
                f"the {self.kind} destination's url cannot be parsed",
                location="destination.url",
                hint="use dialect+driver://user:password@host:port/database",
            ) from None  # the parser's message quotes the whole url, password included

    def _make_dialect(self) -> Dialect:
        """The SQLAlchemy dialect that compiles this destination's SQL (no connection needed)."""
        dialect: Dialect = self.url.get_dialect()()
        return dialect

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden: the only form that reaches logs and errors."""
        return self.url.render_as_string(hide_password=True)

    def describe(self) -> str:
        """``<kind>:<url without password>/<schema>.<table>``."""
        return f"{self.kind}:{self.safe_url}/{self.target}"

    def _location(self) -> str:
        return f"{self.safe_url} table {self.target}"

    def _scrub(self, text: str) -> str:
        password = self.url.password
        if password:
            text = text.replace(str(password), "***")
        return text

    # -- SQL text (pure: no connection) -----------------------------------------------------

    def quote(self, name: str) -> str:
        """``name`` quoted by the dialect, always (so case, keywords and symbols survive)."""
        quoted: str = self.dialect.identifier_preparer.quote_identifier(name)
        return quoted

    def qualified(self, table: str) -> str:
        """``schema.table`` quoted, or just the table when no schema is set."""
        if self.schema:
            return self.quote(self.schema) + "." + self.quote(table)
        return self.quote(table)

    def column_type_sql(self, arrow_type: pa.DataType, column: str) -> str:
        """The dialect's SQL type for an Arrow type; a ConfigError naming the column if none."""
        try:
            sa_type = arrow_to_sqlalchemy(arrow_type, self.dialect.name)
        except ValueError as exc:
            raise ConfigError(
                f"column {column!r} has type {arrow_type}: {exc}",
                location=self._location(),
                hint="cast it to a scalar type (string, int64, decimal...) with a cast step",
            ) from exc
        compiled: str = sa_type.compile(dialect=self.dialect)
        return compiled

    def create_table_sql(self, table: str, schema: pa.Schema, *, key: list[str]) -> str:
        """``CREATE TABLE`` for the Arrow schema, key columns NOT NULL and UNIQUE together."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.schema import CreateTable  # noqa: PLC0415
        from sqlalchemy.sql.elements import quoted_name  # noqa: PLC0415

        columns: list[Any] = [
            sa.Column(
                quoted_name(field.name, quote=True),
                sa.types.NullType(),
                nullable=field.name not in key,
            )
            for field in schema
        ]
        if key:
            columns.append(sa.UniqueConstraint(*(quoted_name(k, quote=True) for k in key)))
        sa_table = sa.Table(
            quoted_name(table, quote=True),
            sa.MetaData(),
            *columns,
            schema=quoted_name(self.schema, quote=True) if self.schema else None,
        )
        for field in schema:  # first, so an unsupported type's error names its column
            self.column_type_sql(field.type, field.name)
        for field, column in zip(schema, sa_table.columns, strict=True):
            column.type = arrow_to_sqlalchemy(field.type, self.dialect.name)
        return str(CreateTable(sa_table).compile(dialect=self.dialect)).strip()

    def add_column_sql(self, table: str, name: str, arrow_type: pa.DataType) -> str:
        """``ALTER TABLE ... ADD`` a nullable column."""
        word = "ADD" if self.dialect.name == "mssql" else "ADD COLUMN"
        return (
            f"ALTER TABLE {self.qualified(table)} {word} {self.quote(name)} "
            f"{self.column_type_sql(arrow_type, name)} NULL"
        )

    def drop_sql(self, table: str) -> str:
        """``DROP TABLE IF EXISTS``."""
        return f"DROP TABLE IF EXISTS {self.qualified(table)}"

    def swap_sql(self) -> list[str]:
        """The statements that put the staging table in the target's place (one transaction)."""
        return [
            self.drop_sql(self.table),
            f"ALTER TABLE {self.qualified(self.staging)} RENAME TO {self.quote(self.table)}",
        ]

    def insert_sql(self, table: str, names: list[str], *, raw_target: bool = False) -> str:
        """A parametrised ``INSERT`` in the DBAPI's paramstyle, for executemany.

        ``raw_target`` takes ``table`` as already-quoted SQL (a temp table such as ``[#t]``).
        """
        marks = ", ".join(self._placeholder(i, n) for i, n in enumerate(names))
        cols = ", ".join(self.quote(n) for n in names)
        target = table if raw_target else self.qualified(table)
        return f"INSERT INTO {target} ({cols}) VALUES ({marks})"

    def _placeholder(self, index: int, name: str) -> str:
        style = self.paramstyle or self.dialect.paramstyle
        if style == "qmark":
            return "?"
        if style in {"format", "pyformat"}:
            return "%s"
        if style == "numeric":
            return f":{index + 1}"
        return f":p{index}"

    # -- lifecycle --------------------------------------------------------------------------

    def open(self, ctx: RunContext) -> Checkpoint | None:
        """Connect, lock the target, create the checkpoint table; the latest checkpoint or None."""
        self._ctx = ctx
        self._connect(ctx)
        self._acquire_lock(ctx)
        self._ensure_checkpoint_table()
        checkpoint = self._latest_checkpoint(ctx.pipeline)
        self._columns = self._reflect(self.table)
        self._commit_now("opening")
        log.info(
            "destination_opened",
            destination=self.describe(),
            table_exists=self._columns is not None,
            checkpoint_batch=checkpoint.batch if checkpoint else None,
        )
        return checkpoint

    def start(self, *, resume: bool) -> None:
        """Replace mode: keep the staging table when resuming, else drop it."""
        self._since_commit = 0
        self._checked = None
        if self.settings.mode != "replace":
            return
        if resume:
            self._staging_columns = self._reflect(self.staging)
        else:
            self._execute(self.drop_sql(self.staging), action="dropping the old staging table")
            self._staging_columns = None

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Load one batch into the open transaction."""
        mode = self.settings.mode
        if mode == "replace":
            self._staging_columns = self._conform(
                batch, self.staging, self._staging_columns, key=list(self.settings.key)
            )
            self._bulk_insert(self.staging, batch, batch_number)
        elif mode == "append":
            self._columns = self._conform(batch, self.table, self._columns, key=[])
            self._bulk_insert(self.table, batch, batch_number)
        else:
            keys = self._merge_keys(batch)
            self._columns = self._conform(batch, self.table, self._columns, key=keys)
            self._merge(self._last_per_key(batch, keys, batch_number), keys, batch_number)
        self._rows += batch.num_rows

    def commit(self, checkpoint: Checkpoint) -> bool:
        """Every ``commit_every`` calls: store the checkpoint and COMMIT with the rows."""
        self._since_commit += 1
        if self._since_commit < self.settings.commit_every:
            return False
        self._store_checkpoint(checkpoint)
        self._commit_now(f"committing batch {checkpoint.batch}")
        self._since_commit = 0
        return True

    def finish(self, checkpoint: Checkpoint) -> None:
        """Swap staging in (replace), store the final checkpoint and COMMIT, all at once."""
        if self.settings.mode == "replace":
            if self._staging_columns is not None:
                for sql in self.swap_sql():
                    self._execute(sql, action="swapping in the staging table")
            elif self._columns is not None:  # no rows at all: replace means an empty table
                self._execute(f"DELETE FROM {self.qualified(self.table)}", action="emptying")
        self._store_checkpoint(checkpoint)
        self._commit_now("committing the end of the run")
        log.info("destination_finished", destination=self.describe(), rows=self._rows)

    def rollback(self) -> None:
        """Discard the open transaction; safe after a failed open or a dead connection."""
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except SQLAlchemyError as exc:  # connection gone: the server rolled back already
            log.warning("destination_rollback_failed", error=self._scrub(_first_line(exc)))
        log.info("destination_rolled_back", destination=self.describe())

    def close(self) -> None:
        """Release the lock and the connection."""
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

        try:
            if self._conn is not None:
                try:
                    self._release_lock()
                except (SQLAlchemyError, TidegateError) as exc:
                    log.warning("destination_unlock_failed", error=self._scrub(_first_line(exc)))
                try:
                    self._conn.close()
                except SQLAlchemyError as exc:
                    log.warning("destination_close_failed", error=self._scrub(_first_line(exc)))
        finally:
            self._conn = None
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- connection -------------------------------------------------------------------------

    def _engine_url(self, ctx: RunContext) -> URL:
        return self.url

    def _engine_options(self, ctx: RunContext) -> dict[str, Any]:
        return {}

    def _on_engine(self, engine: Engine) -> None:
        """Attach dialect-specific event listeners (SQLite's transactional DDL)."""

    def _connect(self, ctx: RunContext) -> None:
        from sqlalchemy import create_engine  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError, NoSuchModuleError  # noqa: PLC0415
        from sqlalchemy.pool import NullPool  # noqa: PLC0415

        try:
            engine = create_engine(
                self._engine_url(ctx),
                poolclass=NullPool,
                pool_pre_ping=True,  # a no-op on NullPool's fresh connections; kept if pooled
                **self._engine_options(ctx),
            )
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"no SQLAlchemy driver for {self.url.drivername!r}",
                location="destination.url",
                hint="install the driver package (e.g. tidegate[postgres] for PostgreSQL)",
            ) from exc
        self._on_engine(engine)
        self._engine = engine
        try:
            self._conn = engine.connect()
        except DBAPIError as exc:
            raise DependencyError(
                f"cannot connect to {self.safe_url}: {self._scrub(_first_line(exc.orig))}",
                location="destination.url",
                hint="check that the server is up and reachable (host, port, firewall) and "
                "that the user, password and database in the url are right",
            ) from None  # the driver's error may quote the connection string
        self.dialect = engine.dialect

    @property
    def conn(self) -> Connection:
        """The run's connection; an error if ``open`` has not connected."""
        if self._conn is None:
            raise ConfigError(
                f"{self.kind} destination used before open() or after close()",
                location=self._location(),
            )
        return self._conn

    def _execute(self, sql: str, *, action: str, params: Any = None) -> Any:
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - heavy, imported on first use

        try:
            if params is None:
                return self.conn.exec_driver_sql(sql)
            return self.conn.exec_driver_sql(sql, params)
        except DBAPIError as exc:
            raise self._classify(exc, action) from exc

    def _run(self, statement: Any, *, action: str, params: Any = None) -> Any:
        """Execute a SQLAlchemy Core statement with error translation."""
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

        try:
            return self.conn.execute(statement, params)
        except DBAPIError as exc:
            raise self._classify(exc, action) from exc

    def _begin(self) -> None:
        """Make sure SQLAlchemy knows a transaction is open before raw driver calls."""
        if not self.conn.in_transaction():
            self.conn.begin()

    def _commit_now(self, action: str) -> None:
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

        try:
            self.conn.commit()
        except DBAPIError as exc:
            raise self._classify(exc, action) from exc

    def _classify(self, exc: Any, action: str) -> TidegateError:
        """Translate a driver error into the Tidegate error kind the caller should react to."""
        orig = getattr(exc, "orig", exc)
        message = f"{action} failed: {self._scrub(_first_line(orig))}"
        where = self._location()
        sqlstate = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        text = str(orig).lower()
        lost = getattr(exc, "connection_invalidated", False) or sqlstate.startswith(("08", "57P"))
        if lost or "server closed the connection" in text or "connection is closed" in text:
            return DependencyError(
                f"lost the connection to {self.safe_url} while {action}: "
                f"{self._scrub(_first_line(orig))}",
                location=where,
                hint="the open transaction was rolled back; the checkpoint table holds what was "
                "committed: run again with --resume once the database is back",
            )
        if sqlstate == "42501" or "permission denied" in text or "readonly database" in text:
            return ConfigError(
                message,
                location=where,
                hint="grant the destination's user the right to create and write tables in "
                f"schema {self.schema or '(default)'} (e.g. GRANT CREATE, USAGE ON SCHEMA ...), "
                "or create the table beforehand",
            )
        if sqlstate.startswith(("40", "55P")) or "database is locked" in text:
            return TransientError(
                message, location=where, hint="another session holds a lock; run again"
            )
        if sqlstate.startswith(("22", "23")) or type(orig).__name__ in {
            "IntegrityError",
            "DataError",
        }:
            return DataError(
                message,
                location=where,
                hint="clean or cast the offending values with a cast or sql step, or change "
                "the table's column types",
            )
        environment = ("unable to open", "disk i/o", "disk is full", "timeout", "connect")
        if type(orig).__name__ == "OperationalError" and any(w in text for w in environment):
            return DependencyError(
                message, location=where, hint="check the database server or file and its disk"
            )
        return ConfigError(
            message, location=where, hint="check the table, schema, column names and types"
        )

    # -- health -----------------------------------------------------------------------------

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Pre-flight checks: connect, select 1, can write, lock free, each timed.

        They run on a connection of their own (never during a run): every write is rolled
        back, a lock taken to test it is released, and the connection is closed at the end,
        even when the caller stops iterating early. Nothing runs after a failed connect.
        """
        component = self.describe()
        if self._conn is not None:
            yield Check(
                component=component,
                name="connect",
                ok=False,
                seconds=0.0,
                detail="the destination is open for a run; check its health before open()",
            )
            return
        self._purpose = "health"
        try:
            connected = timed(component, "connect", lambda: self._probe_connect(ctx))
            yield connected
            if not connected.ok:
                return
            yield timed(component, "select 1", self._rolled_back(self._probe_select))
            yield timed(component, "can write", self._rolled_back(self._probe_write))
            yield timed(component, "lock free", self._rolled_back(self._probe_lock))
        finally:
            self._purpose = "run"
            self._disconnect()

    def _probe_connect(self, ctx: RunContext) -> str:
        self._connect(ctx)
        return self._server_version()

    def _server_version(self) -> str:
        """``PostgreSQL 15.19``: the product and version the dialect read when connecting."""
        info = getattr(self.dialect, "server_version_info", None)
        version = ".".join(str(part) for part in info) if info else "(version unknown)"
        return f"{_PRODUCTS.get(self.dialect.name, self.dialect.name)} {version}"

    def _rolled_back(self, probe: Callable[[], str]) -> Callable[[], str]:
        """``probe``, followed by a ROLLBACK whatever it did (and however it ended)."""

        def run() -> str:
            from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - heavy, first use

            try:
                return probe()
            except SQLAlchemyError as exc:  # untranslated: scrub it like every other error
                raise self._classify(exc, "the check") from None
            finally:
                try:
                    self.conn.rollback()
                except SQLAlchemyError as exc:  # connection gone: nothing is left open
                    log.warning("health_rollback_failed", error=self._scrub(_first_line(exc)))

        return run

    def _probe_select(self) -> str:
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        # compiled by the dialect, so databases that need FROM DUAL get it
        value = self._run(sa.select(sa.literal_column("1")), action="SELECT 1").scalar()
        if value != 1:
            raise DependencyError(
                f"SELECT 1 returned {value!r}",
                location=self._location(),
                hint="check the database server",
            )
        return "ok"

    def _probe_write(self) -> str:
        """Existing target (append/merge): the INSERT right on it; else create a probe table.

        Replace mode always creates (its staging table), so it is checked by creating.
        """
        if self.settings.mode != "replace" and self._has_table(self.table, self.schema):
            return self._probe_insert()
        return self._probe_create()

    def _probe_insert(self) -> str:
        """May we INSERT into the existing target? Default: a zero-row INSERT, rolled back."""
        target = self.qualified(self.table)
        self._execute(
            f"INSERT INTO {target} SELECT * FROM {target} WHERE 1 = 0",
            action=f"checking INSERT on table {self.target}",
        )
        return f"table {self.target} exists; INSERT allowed (zero-row insert, rolled back)"

    def _probe_create(self) -> str:
        """Create and write ``_tidegate_probe_<random>`` in the target schema, then roll back."""
        probe = PROBE_PREFIX + secrets.token_hex(4)
        name, column = self.qualified(probe), self.quote("probe")
        where = f"schema {self.schema}" if self.schema else "the default schema"
        try:
            self._execute(
                f"CREATE TABLE {name} ({column} INTEGER)",
                action=f"creating a probe table in {where}",
            )
            self._execute(
                f"INSERT INTO {name} ({column}) VALUES (1)", action="writing to a probe table"
            )
        finally:
            self._drop_leftover(probe)
        return f"created and wrote probe table {probe} in {where} (rolled back)"

    def _drop_leftover(self, probe: str) -> None:
        """Roll back, then drop the probe table if it survived (DDL that commits: MySQL)."""
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - heavy, first use

        try:
            self.conn.rollback()
            if self._has_table(probe, self.schema):
                self._execute(self.drop_sql(probe), action="dropping the probe table")
                self._commit_now("dropping the probe table")
                log.warning("health_probe_table_dropped", table=probe)
            self.conn.rollback()
        except (SQLAlchemyError, TidegateError) as exc:  # the probe's own error matters more
            log.warning(
                "health_probe_cleanup_failed", table=probe, error=self._scrub(_first_line(exc))
            )

    def _probe_lock(self) -> str:
        """Is the target's lock free? Default: no live ``_tidegate_locks`` row for it."""
        return LockRow(self).check()

    def _has_table(self, table: str, schema: str | None) -> bool:
        from sqlalchemy import inspect  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

        try:
            return bool(inspect(self.conn).has_table(table, schema=schema))
        except DBAPIError as exc:
            raise self._classify(exc, f"looking up table {table}") from None

    def _disconnect(self) -> None:
        """Roll back, close the connection and dispose of the engine; never raises."""
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 - heavy, first use

        try:
            if self._conn is not None:
                try:
                    self._conn.rollback()
                    self._conn.close()
                except SQLAlchemyError as exc:
                    log.warning("destination_close_failed", error=self._scrub(_first_line(exc)))
        finally:
            self._conn = None
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    # -- tables -----------------------------------------------------------------------------

    def _reflect(self, table: str) -> dict[str, tuple[str, str]] | None:
        """The table's columns as name -> (family, SQL type), or None when it does not exist."""
        from sqlalchemy import inspect  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError, NoSuchTableError  # noqa: PLC0415

        try:
            inspector = inspect(self.conn)
            if not inspector.has_table(table, schema=self.schema):
                return None
            found = inspector.get_columns(table, schema=self.schema)
        except NoSuchTableError:
            return None
        except DBAPIError as exc:
            raise self._classify(exc, f"reading the columns of {table}") from None
        return {
            str(col["name"]): (type_family(col["type"]), _type_text(col["type"], self.dialect))
            for col in found
        }

    def _conform(
        self,
        batch: pa.RecordBatch,
        table: str,
        columns: dict[str, tuple[str, str]] | None,
        *,
        key: list[str],
    ) -> dict[str, tuple[str, str]]:
        """Create ``table`` from the batch, or check the batch against it (schema evolution)."""
        schema = batch.schema
        if columns is not None and self._checked is not None and schema.equals(self._checked):
            return columns
        _check_names(schema, self._location())
        if columns is None:
            self._execute(
                self.create_table_sql(table, schema, key=key), action=f"creating table {table}"
            )
            self._checked = schema
            return {
                f.name: (arrow_family(f.type), self.column_type_sql(f.type, f.name)) for f in schema
            }
        columns = dict(columns)
        missing = [f for f in schema if f.name not in columns]
        if missing and self.settings.schema_evolution == "fail":
            names = ", ".join(repr(f.name) for f in missing)
            raise ConfigError(
                f"column{'s' if len(missing) > 1 else ''} {names} of the data "
                f"{'are' if len(missing) > 1 else 'is'} not in table {self.target} "
                f"(table columns: {', '.join(columns)})",
                location=self._location(),
                hint="set schema_evolution: add_columns to add new columns as nullable, drop "
                "them with a select step, or use mode: replace to recreate the table",
            )
        for field in missing:
            self._execute(
                self.add_column_sql(table, field.name, field.type),
                action=f"adding column {field.name!r}",
            )
            columns[field.name] = (
                arrow_family(field.type),
                self.column_type_sql(field.type, field.name),
            )
            log.info("destination_column_added", table=self.target, column=field.name)
        for field in schema:
            family, sql_type = columns[field.name]
            if not fits(arrow_family(field.type), family, lenient_time=self.lenient_time):
                raise ConfigError(
                    f"column {field.name!r} is {field.type} in the data but {sql_type} in "
                    f"table {self.target}",
                    location=self._location(),
                    hint=f"cast it with a cast step (columns: {{{field.name}: ...}}), alter the "
                    "table's column, or use mode: replace to recreate the table",
                )
        self._checked = schema
        return columns

    # -- checkpoints ------------------------------------------------------------------------

    def _checkpoint_table(self) -> Any:
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.dialects import mssql  # noqa: PLC0415
        from sqlalchemy.sql.elements import quoted_name as q  # noqa: PLC0415

        text = sa.UnicodeText().with_variant(mssql.NVARCHAR(None), "mssql")
        name = sa.Unicode(400)
        # every name quoted: ROWS is reserved in T-SQL, POSITION in others
        return sa.Table(
            q(CHECKPOINT_TABLE, quote=True),
            sa.MetaData(),
            sa.Column(q("pipeline", quote=True), name, nullable=False, key="pipeline"),
            sa.Column(q("target", quote=True), name, nullable=False, key="target"),
            sa.Column(q("run_id", quote=True), name, nullable=False, key="run_id"),
            sa.Column(q("batch", quote=True), sa.Integer(), nullable=False, key="batch"),
            sa.Column(q("rows", quote=True), sa.BigInteger(), nullable=False, key="rows"),
            sa.Column(q("position", quote=True), text, nullable=False, key="position"),
            sa.Column(q("finished", quote=True), sa.Boolean(), nullable=False, key="finished"),
            sa.Column(
                q("committed_at", quote=True),
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            ),
        )

    def _ensure_checkpoint_table(self) -> None:
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - heavy, imported on first use

        try:
            self._checkpoint_table().create(self.conn, checkfirst=True)
        except DBAPIError as exc:
            raise self._classify(exc, f"creating the {CHECKPOINT_TABLE} table") from None

    def latest_checkpoint_query(self, pipeline: str) -> Any:
        """The SELECT of the latest checkpoint of (pipeline, target), as a Core statement."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        t = self._checkpoint_table()
        return (
            sa.select(t.c.run_id, t.c.batch, t.c.rows, t.c.position, t.c.finished)
            .where(t.c.pipeline == pipeline, t.c.target == self.target)
            .order_by(t.c.run_id.desc(), t.c.batch.desc(), t.c.finished.desc())
            .limit(1)
        )

    def _latest_checkpoint(self, pipeline: str) -> Checkpoint | None:
        query = self.latest_checkpoint_query(pipeline)
        row = self._run(query, action="reading the latest checkpoint").first()
        if row is None:
            return None
        return Checkpoint(
            pipeline=pipeline,
            run_id=row.run_id,
            batch=int(row.batch),
            rows=int(row.rows),
            position=json.loads(row.position),
            finished=bool(row.finished),
        )

    def _store_checkpoint(self, checkpoint: Checkpoint) -> None:
        t = self._checkpoint_table()
        self._run(
            t.insert().values(
                pipeline=checkpoint.pipeline,
                target=self.target,
                run_id=checkpoint.run_id,
                batch=checkpoint.batch,
                rows=checkpoint.rows,
                position=json.dumps(dict(checkpoint.position), sort_keys=True, default=str),
                finished=checkpoint.finished,
            ),
            action=f"storing checkpoint {checkpoint.batch}",
        )

    # -- locking (hooks) --------------------------------------------------------------------

    def _acquire_lock(self, ctx: RunContext) -> None:
        """Stop a second run loading the same target at once. Default: a ``_tidegate_locks`` row."""
        self._lock = LockRow(self)
        self._lock.acquire(ctx)

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- loading (hooks) --------------------------------------------------------------------

    def _bulk_insert(self, table: str, batch: pa.RecordBatch, batch_number: int) -> None:
        """The slow, portable path: SQLAlchemy Core ``insert`` executemany of the batch's rows."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        if batch.num_rows == 0:
            return
        sa_table = sa.table(table, *(sa.column(n) for n in batch.schema.names), schema=self.schema)
        rows = self._python_rows(batch)
        self._run(
            sa_table.insert(),
            action=f"inserting batch {batch_number}",
            params=[dict(zip(batch.schema.names, row, strict=True)) for row in rows],
        )

    def _python_rows(self, batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
        """The batch as row tuples of Python values, built column-wise by Arrow."""
        columns = [self._driver_values(column).to_pylist() for column in batch.columns]
        return list(zip(*columns, strict=True))

    def _driver_values(self, column: pa.Array) -> pa.Array:
        """Convert a column to values the driver accepts; default: decode dictionaries."""
        if pa.types.is_dictionary(column.type):
            return column.dictionary_decode()
        return column

    def _merge_keys(self, batch: pa.RecordBatch) -> list[str]:
        names = batch.schema.names
        for key in self.settings.key:
            if key not in names:
                raise ConfigError(
                    f"key column {key!r} is not in the data (columns: {', '.join(names)})",
                    location=self._location(),
                    hint="fix the destination's key, or add the column with a derive step",
                )
        return list(self.settings.key)

    def _last_per_key(
        self, batch: pa.RecordBatch, keys: list[str], batch_number: int
    ) -> pa.RecordBatch:
        """Refuse null keys and keep only the last row of each key (set-wise, in Arrow)."""
        for key in keys:
            column = batch.column(key)
            if column.null_count:
                row = pc.index(pc.is_null(column), True).as_py()
                raise DataError(
                    f"key column {key!r} is null in row {row} of batch {batch_number}",
                    location=self._location(),
                    hint="a merge key must identify a row: filter null keys with a sql step",
                )
        ordinal = pa.array(range(batch.num_rows), pa.int64())
        table = pa.Table.from_batches([batch]).append_column(_ORDINAL, ordinal)
        last = table.group_by(keys, use_threads=False).aggregate([(_ORDINAL, "max")])
        if last.num_rows == batch.num_rows:
            return batch
        ordinals = last.column(_ORDINAL + "_max").combine_chunks()
        return batch.take(pc.take(ordinals, pc.array_sort_indices(ordinals)))

    def merge_sql(self, source: str, names: list[str], keys: list[str]) -> str:
        """Upsert rows of table ``source`` into the target: ``INSERT ... ON CONFLICT``."""
        cols = ", ".join(self.quote(n) for n in names)
        updates = ", ".join(
            f"{self.quote(n)} = excluded.{self.quote(n)}" for n in names if n not in keys
        )
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        return (
            f"INSERT INTO {self.qualified(self.table)} ({cols}) SELECT {cols} FROM {source} "
            f"WHERE true ON CONFLICT ({', '.join(self.quote(k) for k in keys)}) {action}"
        )

    def _merge(self, batch: pa.RecordBatch, keys: list[str], batch_number: int) -> None:
        """Portable upsert: delete the batch's keys from the target, then insert the batch."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        if batch.num_rows == 0:
            return
        sa_table = sa.table(
            self.table, *(sa.column(n) for n in batch.schema.names), schema=self.schema
        )
        condition = sa.and_(*(sa_table.c[k] == sa.bindparam("k_" + k) for k in keys))
        key_rows = zip(*(batch.column(k).to_pylist() for k in keys), strict=True)
        self._run(
            sa.delete(sa_table).where(condition),
            action=f"merging batch {batch_number}",
            params=[{"k_" + k: v for k, v in zip(keys, row, strict=True)} for row in key_rows],
        )
        self._bulk_insert(self.table, batch, batch_number)


# -- lock row ---------------------------------------------------------------------------------


class LockRow:
    """A ``_tidegate_locks`` row per target, committed on its own, deleted at close.

    A row left by a process that died on this host (its pid is gone) is stale and taken over; a
    row from another host is reported with its host and pid, to be deleted by hand if stale.
    """

    def __init__(self, owner: RelationalDestination) -> None:
        self.owner = owner
        self.run_id: str | None = None

    def _table(self) -> Any:
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.sql.elements import quoted_name as q  # noqa: PLC0415

        return sa.Table(
            q(LOCK_TABLE, quote=True),
            sa.MetaData(),
            sa.Column(q("target", quote=True), sa.Unicode(400), primary_key=True, key="target"),
            sa.Column(q("run_id", quote=True), sa.Unicode(400), nullable=False, key="run_id"),
            sa.Column(q("pid", quote=True), sa.Integer(), nullable=False, key="pid"),
            sa.Column(q("host", quote=True), sa.Unicode(400), nullable=False, key="host"),
            sa.Column(
                q("acquired_at", quote=True), sa.Unicode(64), nullable=False, key="acquired_at"
            ),
        )

    def acquire(self, ctx: RunContext) -> None:
        """Insert the lock row, or fail naming the live holder."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError, IntegrityError  # noqa: PLC0415

        owner = self.owner
        t = self._table()
        try:
            t.create(owner.conn, checkfirst=True)
        except DBAPIError as exc:
            raise owner._classify(exc, f"creating the {LOCK_TABLE} table") from None
        owner._commit_now("creating the lock table")
        held = owner._run(
            sa.select(t).where(t.c.target == owner.target), action="reading the lock"
        ).first()
        host = socket.gethostname()
        if held is not None:
            if held.host == host and not _alive(int(held.pid)):
                log.warning("destination_stale_lock_taken", target=owner.target, run=held.run_id)
                owner._run(
                    t.delete().where(t.c.target == owner.target, t.c.run_id == held.run_id),
                    action="removing a stale lock",
                )
            else:
                owner.conn.rollback()
                raise self._held(held)
        try:
            owner._run(
                t.insert().values(
                    target=owner.target,
                    run_id=ctx.run_id,
                    pid=os.getpid(),
                    host=host,
                    acquired_at=datetime.now(UTC).isoformat(timespec="seconds"),
                ),
                action="taking the lock",
            )
            owner._commit_now("taking the lock")
        except (IntegrityError, DataError):
            owner.conn.rollback()
            held = owner._run(
                sa.select(t).where(t.c.target == owner.target), action="reading the lock"
            ).first()
            owner.conn.rollback()
            if held is None:
                raise
            raise self._held(held) from None
        self.run_id = ctx.run_id

    def check(self) -> str:
        """Whether a run could take the lock now, without taking it; fails naming a live holder."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        owner = self.owner
        if not owner._has_table(LOCK_TABLE, None):
            return f"free (no {LOCK_TABLE} table yet)"
        t = self._table()
        held = owner._run(
            sa.select(t).where(t.c.target == owner.target), action="reading the lock"
        ).first()
        if held is None:
            return "free"
        if held.host == socket.gethostname() and not _alive(int(held.pid)):
            return (
                f"free: the lock of run {held.run_id} is stale (pid {held.pid} is gone) and "
                "the next run takes it over"
            )
        raise self._held(held)

    def _held(self, held: Any) -> DependencyError:
        owner = self.owner
        return DependencyError(
            f"table {owner.target} is being loaded by run {held.run_id} (pid {held.pid} on "
            f"host {held.host}, since {held.acquired_at})",
            location=owner._location(),
            hint="wait for that run to finish; if it is dead on another host, delete its row "
            f"from {LOCK_TABLE}",
        )

    def release(self) -> None:
        """Delete our lock row in its own transaction."""
        if self.run_id is None:
            return
        owner = self.owner
        t = self._table()
        owner.conn.rollback()
        owner._run(
            t.delete().where(t.c.target == owner.target, t.c.run_id == self.run_id),
            action="releasing the lock",
        )
        owner._commit_now("releasing the lock")
        self.run_id = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_names(schema: pa.Schema, location: str) -> None:
    seen: set[str] = set()
    for name in schema.names:
        if not name:
            raise DataError(
                "the data has a column with an empty name",
                location=location,
                hint="name it with a rename or sql step",
            )
        if name in seen:
            raise DataError(
                f"the data has two columns named {name!r}",
                location=location,
                hint="rename one of them with a rename step",
            )
        seen.add(name)


def _type_text(sa_type: TypeEngine[Any], dialect: Dialect) -> str:
    try:
        text: str = sa_type.compile(dialect=dialect)
    except Exception:
        return repr(sa_type)
    return text


def _first_line(error: Any) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
