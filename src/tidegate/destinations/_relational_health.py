"""The pre-flight ``health`` checks of the SQLAlchemy-family destinations.

Split out of ``_relational`` because they are a separate use of the destination: on a
connection of their own, never during a run, they check connect (server version), ``SELECT 1``,
"can write" (a probe table ``_tidegate_probe_<random>``, or the INSERT privilege on an existing
target, rolled back) and "lock free", and leave nothing behind. ``RelationalDestination``
inherits them from ``RelationalHealthChecks``; dialects override the ``_probe_*`` hooks.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Literal

import structlog

from tidegate.core.health import Check, timed
from tidegate.errors import DependencyError, TidegateError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy.engine import Connection, Dialect, Engine

    from tidegate.core.context import RunContext
    from tidegate.destinations._relational import RelationalSettings

__all__ = ["PROBE_PREFIX", "RelationalHealthChecks"]

log = structlog.get_logger(__name__)

PROBE_PREFIX = "_tidegate_probe_"
_PRODUCTS = {
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite",
    "mssql": "SQL Server",
    "mysql": "MySQL",
    "mariadb": "MariaDB",
    "oracle": "Oracle",
}


class RelationalHealthChecks:
    """The health checks ``RelationalDestination`` inherits, on its connection machinery."""

    if TYPE_CHECKING:  # provided by RelationalDestination
        settings: RelationalSettings
        dialect: Dialect
        schema: str | None
        table: str
        target: str
        _engine: Engine | None
        _conn: Connection | None
        _purpose: Literal["run", "health"]

        @property
        def conn(self) -> Connection: ...
        def describe(self) -> str: ...
        def _location(self) -> str: ...
        def _scrub(self, text: str) -> str: ...
        def quote(self, name: str) -> str: ...
        def qualified(self, table: str) -> str: ...
        def drop_sql(self, table: str) -> str: ...
        def _connect(self, ctx: RunContext) -> None: ...
        def _execute(self, sql: str, *, action: str, params: Any = None) -> Any: ...
        def _run(self, statement: Any, *, action: str, params: Any = None) -> Any: ...
        def _commit_now(self, action: str) -> None: ...
        def _classify(self, exc: Any, action: str) -> TidegateError: ...
        def _probe_lock(self) -> str: ...

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


def _first_line(error: Any) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
