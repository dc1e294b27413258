"""The ``sql`` source: the result of one query on any SQLAlchemy database, streamed.

The query runs with ``stream_results`` (a server-side cursor where the driver has one) and
``yield_per=batch_size``; every partition of rows becomes one RecordBatch by transposing the
rows into columns (``zip(*rows)``) and letting pyarrow convert each column in C++. The URL is
a secret: only ``render_as_string(hide_password=True)`` ever reaches a log line or an error.

A column's Arrow type is, in this order: its declared type (``columns``); the type the result
description gives (``_PG_TYPES``: PostgreSQL through psycopg, for database types whose values
convert to one Arrow type whatever they hold, and ``numeric(p,s)`` as ``decimal(p,s)``); else
the type pyarrow infers from the values of the first batch. Only the last depends on the data,
so ``peek_schema`` runs the query wrapped to return no rows (``SELECT * FROM (<query>) WHERE
1=0``), takes names and types from that result exactly as ``read`` does, and returns None when
a column's type would be inferred (always the case for undeclared SQLite columns, whose
description carries no types): declaring those columns in ``columns`` makes the schema known.

Errors are classified by where they happen and, for PostgreSQL, by SQLSTATE class: failing
to connect (server down, bad credentials) is a ``DependencyError``; a query the database
refuses (syntax, unknown table or column) is a ``ConfigError`` carrying the database's
message; bad values are ``DataError``; lock timeouts and serialization failures are
``TransientError``.

``health`` connects (with ``connect_timeout``, reporting the server version), runs ``SELECT 1``
and, on PostgreSQL and SQLite, ``EXPLAIN``s the query: it must parse and its tables and columns
exist, without running it. Engines ping pooled connections before use (``pool_pre_ping``).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import structlog
from pydantic import Field

from tidegate.core.health import Check, timed
from tidegate.core.protocols import SourceBatch
from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    TidegateError,
    TransientError,
)
from tidegate.sources._types import conform, parse_types, to_array
from tidegate.spec.connect import CONNECT_TIMEOUT_ARGS
from tidegate.spec.settings import PluginSettings, Secret
from tidegate.spec.types import TYPE_NAMES, ColumnTypes

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from sqlalchemy.engine import URL, Connection, Dialect, Engine

    from tidegate.core.context import RunContext

_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)

__all__ = ["SqlSettings", "SqlSource"]

log = structlog.get_logger(__name__)

_TRANSIENT_SQLSTATES = ("40", "53", "55P03", "57014", "57P")
_PRODUCTS = {
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
    "mssql": "SQL Server",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "oracle": "Oracle",
}
# backend -> the prefix that plans a query without running it
_EXPLAIN = {"postgresql": "EXPLAIN ", "sqlite": "EXPLAIN QUERY PLAN "}
# PostgreSQL type OID -> the Arrow type of the values psycopg returns for it, whatever they hold
# (int2/int4 come back as Python ints, which pyarrow reads as int64). numeric and timestamptz
# are mapped in _pg_type; json, arrays, uuid and the rest are left to inference.
_PG_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),  # bool
    17: pa.binary(),  # bytea
    19: pa.string(),  # name
    20: pa.int64(),  # int8
    21: pa.int64(),  # int2
    23: pa.int64(),  # int4
    25: pa.string(),  # text
    26: pa.int64(),  # oid
    700: pa.float64(),  # float4
    701: pa.float64(),  # float8
    1042: pa.string(),  # bpchar
    1043: pa.string(),  # varchar
    1082: pa.date32(),  # date
    1083: pa.time64("us"),  # time
    1114: pa.timestamp("us"),  # timestamp
    1186: pa.duration("us"),  # interval
}
_PG_NUMERIC = 1700
_PG_TIMESTAMPTZ = 1184


class SqlSettings(PluginSettings):
    """Settings of the ``sql`` source."""

    url: Secret = Field(
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db (a secret: "
        "literal, env:NAME or file:PATH)"
    )
    query: str = Field(description="The SELECT to run; use :name placeholders for params")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Values bound to the query's :name placeholders"
    )
    columns: ColumnTypes = Field(
        default_factory=dict,
        description=f"Explicit column types, name -> type ({TYPE_NAMES}); others are inferred",
    )
    batch_size: int = Field(65_536, ge=1, description="Rows fetched and yielded per batch")
    connect_timeout: float = Field(
        10, gt=0, description="Seconds to wait for the database connection"
    )


class SqlSource:
    """Streams the rows of one query as RecordBatches of at most ``batch_size`` rows."""

    kind: ClassVar[str] = "sql"
    Settings: ClassVar[type[PluginSettings]] = SqlSettings

    def __init__(self, settings: SqlSettings) -> None:
        self.settings = settings
        self._types = parse_types(settings.columns)

    def _url(self) -> URL:
        from sqlalchemy.engine import make_url  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import ArgumentError  # noqa: PLC0415 - heavy, imported on first use

        try:
            return make_url(self.settings.url.get_secret_value())
        except (ArgumentError, ValueError) as exc:
            raise ConfigError(
                "the sql source's url cannot be parsed",
                location="source.url",
                hint="use dialect+driver://user:password@host:port/database",
            ) from exc

    def _safe_url(self) -> str:
        try:
            return self._url().render_as_string(hide_password=True)
        except ConfigError:
            return "<unparseable url>"

    def check_resumable(self) -> None:
        """A resume re-runs the query and skips the rows already loaded: it needs ORDER BY."""
        if not _ORDER_BY.search(self.settings.query):
            raise ConfigError(
                "cannot resume: the query has no ORDER BY, so running it again may return the "
                "rows in another order and skipping the rows already loaded would be wrong",
                location="source.query",
                hint="order the query by a unique key (ORDER BY id), or start over with --fresh",
            )

    def describe(self) -> str:
        return f"sql:{self._safe_url()}"

    def _scrub(self, text: str) -> str:
        password = self._url().password
        if password:
            text = text.replace(str(password), "***")
        return text.replace(self.settings.url.get_secret_value(), self._safe_url())

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        from sqlalchemy import text  # noqa: PLC0415 - heavy, imported on first use

        with self._session(ctx) as (connection, safe):
            yield from self._stream(connection, text(self.settings.query), safe)

    def peek_schema(self, ctx: RunContext) -> pa.Schema | None:
        """The schema of the batches from a run of the query that returns no rows.

        None when a column's type is neither declared nor given by the result description,
        since ``read`` infers it from the values then.
        """
        from sqlalchemy import text  # noqa: PLC0415 - heavy, imported on first use

        # own lines, so a trailing `-- comment` in the query cannot swallow the closing paren
        query = self.settings.query.strip().rstrip(";").rstrip()
        statement = text(f"SELECT * FROM (\n{query}\n) AS _tidegate_peek WHERE 1=0")
        with self._session(ctx) as (connection, safe):
            result, names, types = self._execute(connection, statement)
            result.close()
        unknown = [name for name, kind in zip(names, types, strict=True) if kind is None]
        if unknown:
            log.info("sql_schema_unknown", source=self.describe(), columns=unknown)
            return None
        schema: pa.Schema = self._empty(names, types, safe).schema
        return schema

    @contextmanager
    def _session(self, ctx: RunContext) -> Iterator[tuple[Connection, str]]:
        """A connection and the password-free URL; query failures become classified errors."""
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError  # noqa: PLC0415 - heavy, imported on first use

        engine, safe = self._engine(ctx)
        try:
            with self._connect(engine, safe) as connection:
                try:
                    yield connection, safe
                except DBAPIError as exc:
                    raise self._classify(exc, safe) from exc
                except SQLAlchemyError as exc:
                    raise ConfigError(
                        f"query failed on {safe}: {self._scrub(str(exc).splitlines()[0])}",
                        location="source.query",
                        hint="check the query and its params",
                    ) from exc
        finally:
            engine.dispose()

    def _engine(self, ctx: RunContext) -> tuple[Engine, str]:
        """The engine (connect timeout, pre-ping) and the password-free URL it connects to."""
        from sqlalchemy import create_engine  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import NoSuchModuleError  # noqa: PLC0415 - heavy, imported on first use

        url = self._url()
        safe = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = ctx.resolve(str(url.database))
            if not database.is_file():
                raise ConfigError(
                    f"SQLite database file not found: {database}",
                    location="source.url",
                    hint="check the path in the url; relative paths resolve against the "
                    "pipeline file's folder",
                )
            url = url.set(database=str(database))
        try:
            engine = create_engine(url, pool_pre_ping=True, **self._engine_options(url))
        except (NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"no SQLAlchemy driver for {url.drivername!r}",
                location="source.url",
                hint="install the driver package (e.g. psycopg[binary] for postgresql+psycopg)",
            ) from exc
        return engine, safe

    def _engine_options(self, url: URL) -> dict[str, Any]:
        from sqlalchemy.exc import NoSuchModuleError  # noqa: PLC0415 - heavy, imported on first use

        try:
            driver = url.get_dialect().driver
        except (NoSuchModuleError, ImportError):
            return {}  # create_engine reports the missing driver
        arg = CONNECT_TIMEOUT_ARGS.get((url.get_backend_name(), driver))
        if arg is None:
            return {}
        seconds = self.settings.connect_timeout
        return {"connect_args": {arg: seconds if arg == "timeout" else max(1, int(seconds))}}

    def _connect(self, engine: Engine, safe: str) -> Connection:
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - heavy, imported on first use

        try:
            return engine.connect()
        except DBAPIError as exc:
            raise DependencyError(
                f"cannot connect to {safe}: {self._scrub(_first_line(exc.orig))}",
                location="source.url",
                hint="check that the server is up and reachable and that the user, "
                "password and database in the url are right",
            ) from exc

    # -- health -----------------------------------------------------------------------------

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """connect, select 1 and, where the database plans a query without running it, query."""
        component = self.describe()
        engines: list[Engine] = []
        connections: list[Connection] = []

        def connect() -> str:
            engine, safe = self._engine(ctx)
            engines.append(engine)
            connections.append(self._connect(engine, safe))
            return _server_version(connections[0].dialect)

        try:
            connected = timed(component, "connect", connect)
            yield connected
            if not connected.ok:
                return
            connection = connections[0]
            yield timed(component, "select 1", lambda: self._probe_select(connection))
            explain = _EXPLAIN.get(connection.dialect.name)
            if explain is not None:
                yield timed(component, "query", lambda: self._probe_query(connection, explain))
        finally:
            for opened in connections:
                opened.close()
            for engine in engines:
                engine.dispose()

    def _probe_select(self, connection: Connection) -> str:
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - heavy, imported on first use

        safe = self._safe_url()
        try:
            value = connection.execute(sa.select(sa.literal_column("1"))).scalar()
        except DBAPIError as exc:
            raise DependencyError(
                f"SELECT 1 failed on {safe}: {self._scrub(_first_line(exc.orig))}",
                location="source.url",
                hint="check the database server",
            ) from exc
        finally:
            connection.rollback()
        if value != 1:
            raise DependencyError(
                f"SELECT 1 returned {value!r} on {safe}",
                location="source.url",
                hint="check the database server",
            )
        return "ok"

    def _probe_query(self, connection: Connection, explain: str) -> str:
        """Plan the query with ``EXPLAIN``: it parses, its tables exist, nothing runs."""
        from sqlalchemy import text  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError  # noqa: PLC0415 - heavy, imported on first use

        safe = self._safe_url()
        try:
            connection.execute(text(explain + self.settings.query), self.settings.params).all()
        except DBAPIError as exc:
            raise self._classify(exc, safe) from exc
        except SQLAlchemyError as exc:  # a :param without a value, say
            raise ConfigError(
                f"query cannot be planned on {safe}: {self._scrub(str(exc).splitlines()[0])}",
                location="source.query",
                hint="check the query and its params",
            ) from exc
        finally:
            connection.rollback()
        return f"the query plans ({explain.strip()}; not run)"

    def _execute(
        self, connection: Connection, statement: Any
    ) -> tuple[Any, list[str], list[pa.DataType | None]]:
        """Run ``statement`` streamed; its result, column names and known column types."""
        size = self.settings.batch_size
        result = connection.execution_options(stream_results=True, yield_per=size).execute(
            statement, self.settings.params
        )
        names = list(result.keys())
        description = result.cursor.description if result.cursor is not None else None
        described = _described_types(connection, description, len(names))
        types = [self._types.get(name, kind) for name, kind in zip(names, described, strict=True)]
        return result, names, types

    def _stream(self, connection: Connection, statement: Any, safe: str) -> Iterator[SourceBatch]:
        result, names, types = self._execute(connection, statement)
        rows = 0
        schema: pa.Schema | None = None
        for part in result.partitions(self.settings.batch_size):
            batch = self._to_batch(names, types, part, first_row=rows + 1, safe=safe)
            batch = conform(batch, declared=self._types, established=schema, location=safe)
            schema = batch.schema
            rows += batch.num_rows
            yield SourceBatch(batch, {"rows": rows})
        if rows == 0:
            yield SourceBatch(self._empty(names, types, safe), {"rows": 0})

    def _empty(
        self, names: list[str], types: list[pa.DataType | None], safe: str
    ) -> pa.RecordBatch:
        """The batch of a result without rows; undescribed, undeclared columns are null-typed."""
        empty = self._to_batch(names, types, [], first_row=1, safe=safe)
        return conform(empty, declared=self._types, established=None, location=safe)

    def _to_batch(
        self,
        names: list[str],
        types: list[pa.DataType | None],
        part: Sequence[Any],
        *,
        first_row: int,
        safe: str,
    ) -> pa.RecordBatch:
        columns = list(zip(*part, strict=True)) if part else [() for _ in names]
        arrays = []
        for name, declared, values in zip(names, types, columns, strict=True):
            try:
                arrays.append(to_array(values, declared))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
                wanted = str(declared) if declared is not None else "one Arrow type"
                raise DataError(
                    f"column {name!r} in rows {first_row}-{first_row + len(part) - 1} cannot "
                    f"be converted to {wanted}: {str(exc).splitlines()[0]}",
                    location=f"{safe} query result",
                    hint=f"CAST the column in the query, or declare it in `columns` "
                    f"(e.g. {name}: string)",
                ) from exc
        return pa.RecordBatch.from_arrays(arrays, names=names)

    def _classify(self, exc: Any, safe: str) -> TidegateError:
        message = self._scrub(_first_line(exc.orig))
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        where = f"{safe} query"
        if exc.connection_invalidated or sqlstate.startswith("08"):
            return DependencyError(
                f"lost the connection to {safe}: {message}",
                location=where,
                hint="check the database server; the run can be retried",
            )
        if sqlstate.startswith(_TRANSIENT_SQLSTATES) or "database is locked" in message:
            return TransientError(
                f"query was interrupted: {message}", location=where, hint="retry the run"
            )
        if sqlstate.startswith("22") or type(exc).__name__ == "DataError":
            return DataError(
                f"the database refused a value: {message}",
                location=where,
                hint="fix the data or CAST it in the query",
            )
        return ConfigError(
            f"the database refused the query: {message}",
            location=where,
            hint="check the query's SQL, table and column names, and its params",
        )


def _described_types(
    connection: Connection, description: Sequence[Any] | None, count: int
) -> list[pa.DataType | None]:
    """The Arrow type of each result column that the result description fixes, else None."""
    if (
        description is None
        or connection.dialect.name != "postgresql"
        or connection.dialect.driver != "psycopg"
    ):
        return [None] * count
    return [_pg_type(connection, column) for column in description]


def _pg_type(connection: Connection, column: Any) -> pa.DataType | None:
    """The Arrow type of a psycopg result column, when its values do not decide it."""
    code = column.type_code
    if code == _PG_NUMERIC:
        precision, scale = column.precision, column.scale
        if precision is None or scale is None or not 0 <= scale <= precision <= 76:
            return None  # unconstrained numeric: the values set precision and scale
        if precision <= 38:
            return pa.decimal128(precision, scale)
        return pa.decimal256(precision, scale)
    if code == _PG_TIMESTAMPTZ:
        # values arrive in the session's time zone; pyarrow names it from the tzinfo
        zone = connection.connection.dbapi_connection.info.timezone  # type: ignore[union-attr]
        kind: pa.DataType = pa.scalar(datetime(2000, 1, 1, tzinfo=zone)).type
        return kind
    return _PG_TYPES.get(code)


def _server_version(dialect: Dialect) -> str:
    """``PostgreSQL 15.19``: the product and version the dialect read when connecting."""
    info = getattr(dialect, "server_version_info", None)
    version = ".".join(str(part) for part in info) if info else "(version unknown)"
    return f"{_PRODUCTS.get(dialect.name, dialect.name)} {version}"


def _first_line(error: Any) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
