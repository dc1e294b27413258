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
lock, no open connection. It lives in ``_relational_health``, inherited from
``RelationalHealthChecks``.

The quarantine (``<table>__quarantine``, the ``Quarantines`` protocol) is written on the run's
connection in the same transactions as the rows; it lives in ``_relational_quarantine``,
inherited from ``RelationalQuarantine``. Loaded rows are read back (the ``RowsRead`` protocol)
by ``RelationalRowsRead`` in ``_relational_read``.

Table and column types come from the Arrow schema through SQLAlchemy types compiled by the
target's dialect (``arrow_to_sqlalchemy`` in ``_relational_types``), and every identifier is
quoted by the dialect's own preparer, so hostile names (quotes, semicolons, keywords, non-ASCII)
reach SQL as names only.
The SQL text is built by pure methods (``create_table_sql``, ``merge_sql``, ``swap_sql``...) so
it can be checked against a dialect without a server (SQL Server is tested that way).

A lock row in ``_tidegate_locks`` (``LockRow`` in ``_lock_row``) serves dialects without
advisory locks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from pydantic import ConfigDict, Field, model_validator

from tidegate.core.protocols import Checkpoint
from tidegate.core.taxonomy import error_type, facts, rule_for
from tidegate.destinations._lock_row import LOCK_TABLE, LockRow
from tidegate.destinations._relational_health import (
    PROBE_PREFIX,
    RelationalHealthChecks,
    _first_line,
)
from tidegate.destinations._relational_quarantine import RelationalQuarantine
from tidegate.destinations._relational_read import RelationalRowsRead
from tidegate.destinations._relational_types import (
    _type_text,
    arrow_family,
    arrow_to_sqlalchemy,
    fits,
    type_family,
)
from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    ErrorKind,
    TidegateError,
    data_detail,
    values_shown,
)
from tidegate.spec.settings import PluginSettings, Secret

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Dialect, Engine

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
STAGING_PREFIX = "_tidegate_staging_"
_ORDINAL = "__tidegate_ordinal"

# How to fix a driver error of each kind (``_classify``); privileges and lost connections
# get hints that name the schema or the database.
_HINTS = {
    ErrorKind.TRANSIENT: "another session holds a lock or the statement timed out; run again",
    ErrorKind.DEPENDENCY: "check the database server or file and its disk",
    ErrorKind.DATA: "clean or cast the offending values with a cast or sql step, or change the "
    "table's column types",
    ErrorKind.CONFIG: "check the table, schema, column names and types",
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


# -- the destination --------------------------------------------------------------------------


class RelationalDestination(RelationalHealthChecks, RelationalQuarantine, RelationalRowsRead):
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
        self._rows = 0  # a retried run opens again: count only what this attempt writes
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
        self._quarantine_types = None
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

        self._quarantine_types = None  # a quarantine created or widened here is undone too
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
        """Translate a driver error into the Tidegate error kind the caller should react to;
        the kind comes from the classifier table (``tidegate.core.taxonomy``), the message and
        hint from what this destination was doing."""
        orig = getattr(exc, "orig", exc)
        rule = rule_for(exc)
        first = self._scrub(_first_line(orig))
        message = f"{action} failed: {first}"
        where = self._location()
        if rule.kind is ErrorKind.DEPENDENCY and rule.topic == "connection":
            return DependencyError(
                f"lost the connection to {self.safe_url} while {action}: {first}",
                location=where,
                hint="the open transaction was rolled back; the checkpoint table holds what was "
                "committed: run again with --resume once the database is back",
                severity=rule.severity,
            )
        if rule.kind is ErrorKind.DATA and not values_shown():
            # a governed run: the driver's text may quote the value
            message = (
                f"{action} failed: {type(orig).__name__} "
                f"(SQLSTATE {facts(exc).sqlstate or 'unknown'}; {data_detail('')})"
            )
        hint = _HINTS.get(rule.kind)
        if rule.kind is ErrorKind.CONFIG and rule.topic in {"privilege", "credentials"}:
            hint = (
                "grant the destination's user the right to create and write tables in "
                f"schema {self.schema or '(default)'} (e.g. GRANT CREATE, USAGE ON SCHEMA ...), "
                "or create the table beforehand"
            )
        return error_type(rule.kind)(message, location=where, hint=hint, severity=rule.severity)

    # -- tables -----------------------------------------------------------------------------

    def _reflect(self, table: str) -> dict[str, tuple[str, str]] | None:
        """The table's columns as name -> (family, SQL type), or None when it does not exist."""
        found = self._reflect_types(table)
        if found is None:
            return None
        return {
            name: (type_family(sa_type), _type_text(sa_type, self.dialect))
            for name, sa_type in found.items()
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

    def _probe_lock(self) -> str:
        """Is the target's lock free? Default: no live ``_tidegate_locks`` row for it."""
        return LockRow(self).check()

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
