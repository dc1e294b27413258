"""The ``postgres`` destination: exactly-once loads into PostgreSQL through ``COPY``.

Bulk path: each batch is written as CSV by Arrow (``pyarrow.csv.write_csv``, vectorised, into a
buffer) and streamed with psycopg 3's ``COPY ... FROM STDIN (FORMAT csv)`` on the run's own
connection, inside the run's transaction. Arrow quotes every string and leaves nulls unquoted
and empty, which is exactly how PostgreSQL's CSV format tells NULL from ``''``. Binary columns
are turned into ``\\x`` hex text first (the one per-value conversion, only for binary columns).

Modes (see ``_relational`` for the checkpoint protocol):

- ``append``: COPY into the table (created from the Arrow schema when missing).
- ``replace``: COPY into ``_tidegate_staging_<table>``; ``finish`` drops the old table and
  renames the staging table in the same transaction as the final checkpoint. Readers keep
  seeing the old table until that commit, then the new one (DDL is transactional). Grants,
  views and indexes of the old table are not carried over: the table is recreated.
- ``merge``: COPY into a session temp table, then ``INSERT ... ON CONFLICT (key) DO UPDATE``.
  A table created by Tidegate gets a UNIQUE constraint on the key; an existing table needs one.

Lock: a session-level ``pg_try_advisory_lock`` on a hash of ``tidegate:<schema.table>``, held
by the run's connection (it survives the run's commits and dies with the connection). The
connection's ``application_name`` is ``tidegate:<pipeline>:<run_id>`` so a refused second run
can name the holder from ``pg_stat_activity``.

Health (``health``, see ``_relational``): an existing target is checked with
``has_table_privilege(..., 'INSERT')``; "lock free" takes ``pg_try_advisory_lock`` and releases
it at once, or names the holder. The health connection's ``application_name`` is
``tidegate-health:<pipeline>``.

Quarantine (see ``_relational_quarantine``): ``<table>__quarantine`` is loaded through the same
COPY path as the target, in the run's transactions.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import structlog
from pydantic import Field

from tidegate.core.protocols import QUARANTINE_SUFFIX
from tidegate.destinations._relational import RelationalDestination, RelationalSettings
from tidegate.errors import ConfigError, DependencyError, TidegateError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Dialect

    from tidegate.core.context import RunContext
    from tidegate.spec.settings import PluginSettings

__all__ = ["PostgresDestination", "PostgresSettings"]

log = structlog.get_logger(__name__)

_MERGE_TEMP = "_tidegate_merge"
_NAME_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer identifiers


class PostgresSettings(RelationalSettings):
    """Settings of the ``postgres`` destination."""

    db_schema: str | None = Field(
        default="public", alias="schema", description="schema that holds the table"
    )


class PostgresDestination(RelationalDestination):
    """Loads batches into a PostgreSQL table with COPY, checkpointed, under an advisory lock."""

    kind: ClassVar[str] = "postgres"
    Settings: ClassVar[type[PluginSettings]] = PostgresSettings
    default_schema: ClassVar[str | None] = "public"

    def __init__(self, settings: PostgresSettings) -> None:
        super().__init__(settings)
        self.staging = _truncate(self.staging)
        self._lock_key = lock_key(self.target)
        self._locked = False

    def _make_dialect(self) -> Dialect:
        from sqlalchemy.dialects.postgresql import psycopg  # noqa: PLC0415 - heavy, first use

        dialect: Dialect = psycopg.dialect()  # type: ignore[no-untyped-call]
        return dialect

    def _engine_url(self, ctx: RunContext) -> URL:
        backend = self.url.get_backend_name()
        if backend not in {"postgresql", "postgres"}:
            raise ConfigError(
                f"the postgres destination needs a postgresql:// url, not {backend}://",
                location="destination.url",
                hint="use postgresql://user:password@host:5432/database, or the destination "
                "type matching your database",
            )
        return self.url.set(drivername="postgresql+psycopg")

    def _engine_options(self, ctx: RunContext) -> dict[str, Any]:
        name = (
            f"tidegate-health:{ctx.pipeline}"
            if self._purpose == "health"
            else f"tidegate:{ctx.pipeline}:{ctx.run_id}"
        )
        return {
            "connect_args": {
                "connect_timeout": max(1, math.ceil(self.settings.connect_timeout)),
                "application_name": _truncate(name),
            }
        }

    # -- lock -------------------------------------------------------------------------------

    def _acquire_lock(self, ctx: RunContext) -> None:
        got = self._execute(
            "SELECT pg_try_advisory_lock(%s)",
            action="taking the advisory lock",
            params=(self._lock_key,),
        ).scalar()
        if got:
            self._locked = True
            self._commit_now("taking the advisory lock")
            return
        who = self._lock_holder()
        self.conn.rollback()
        raise self._lock_held(who)

    def _lock_holder(self) -> str:
        """Who holds the target's advisory lock: application name, pid, user, client, since."""
        holder = self._execute(
            "SELECT a.pid, a.application_name, a.usename, a.client_addr::text, "
            "a.backend_start::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
            "AND l.objsubid = 1",
            action="looking up the lock's holder",
            params=((self._lock_key >> 32) & 0xFFFFFFFF, self._lock_key & 0xFFFFFFFF),
        ).first()
        if holder is None:  # released between the two statements, or not visible to us
            return "another session"
        return (
            f"{holder.application_name or '(no application_name)'} (pid {holder.pid}, user "
            f"{holder.usename}, client {holder.client_addr or 'local socket'}, connected since "
            f"{holder.backend_start})"
        )

    def _lock_held(self, who: str) -> DependencyError:
        return DependencyError(
            f"table {self.target} is being loaded by {who}",
            location=self._location(),
            hint="wait for that run to finish, or stop it (SELECT pg_terminate_backend(pid)) "
            "if it is stuck",
        )

    def _release_lock(self) -> None:
        if not self._locked:
            return
        self._locked = False
        self.conn.rollback()
        self._execute(
            "SELECT pg_advisory_unlock(%s)", action="releasing the lock", params=(self._lock_key,)
        )
        self._commit_now("releasing the lock")

    # -- health -----------------------------------------------------------------------------

    def _probe_insert(self) -> str:
        row = self._execute(
            "SELECT current_user, has_schema_privilege(%s, 'USAGE'), "
            "has_table_privilege(%s, 'INSERT')",
            action=f"checking the privileges on table {self.target}",
            params=(self.schema, self.qualified(self.table)),
        ).first()
        user, usage, insert = row
        if not usage:
            raise ConfigError(
                f"user {user} has no USAGE privilege on schema {self.schema}",
                location=self._location(),
                hint=f"GRANT USAGE ON SCHEMA {self.quote(str(self.schema))} TO {self.quote(user)}",
            )
        if not insert:
            raise ConfigError(
                f"user {user} has no INSERT privilege on table {self.target}",
                location=self._location(),
                hint=f"GRANT INSERT ON {self.qualified(self.table)} TO {self.quote(user)}",
            )
        return f"table {self.target} exists; user {user} may INSERT into it"

    def _probe_lock(self) -> str:
        got = self._execute(
            "SELECT pg_try_advisory_lock(%s)",
            action="testing the advisory lock",
            params=(self._lock_key,),
        ).scalar()
        if not got:
            raise self._lock_held(self._lock_holder())
        self._execute(
            "SELECT pg_advisory_unlock(%s)",
            action="releasing the advisory lock",
            params=(self._lock_key,),
        )
        return "free (advisory lock taken and released)"

    # -- quarantine -------------------------------------------------------------------------

    def quarantine_table(self) -> str:
        """``<table>__quarantine``, the table part cut so the whole fits in 63 bytes.

        PostgreSQL would cut a longer name itself, from the end: the suffix would go first and
        the quarantine could end up with the target's own name.
        """
        room = _NAME_BYTES - len(QUARANTINE_SUFFIX.encode())
        return _truncate(self.table, room) + QUARANTINE_SUFFIX

    # -- loading ----------------------------------------------------------------------------

    def _bulk_insert(self, table: str, batch: pa.RecordBatch, batch_number: int) -> None:
        self._copy(self.qualified(table), batch, batch_number)

    def _copy(self, target_sql: str, batch: pa.RecordBatch, batch_number: int) -> None:
        """``COPY target (columns) FROM STDIN`` fed with the batch as Arrow-written CSV."""
        import psycopg  # noqa: PLC0415 - heavy driver imported on first use

        if batch.num_rows == 0:
            return
        data = csv_payload(batch)
        cols = ", ".join(self.quote(n) for n in batch.schema.names)
        sql = f"COPY {target_sql} ({cols}) FROM STDIN (FORMAT csv)"
        self._begin()
        raw: Any = self.conn.connection.driver_connection
        try:
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                copy.write(data)
        except psycopg.Error as exc:
            raise self._classify(exc, f"copying batch {batch_number}") from exc

    def _merge(self, batch: pa.RecordBatch, keys: list[str], batch_number: int) -> None:
        if batch.num_rows == 0:
            return
        temp = "pg_temp." + self.quote(_MERGE_TEMP)
        cols = ", ".join(self.quote(n) for n in batch.schema.names)
        self._execute(f"DROP TABLE IF EXISTS {temp}", action="preparing the merge")
        self._execute(
            f"CREATE TEMP TABLE {self.quote(_MERGE_TEMP)} ON COMMIT DROP AS "
            f"SELECT {cols} FROM {self.qualified(self.table)} WITH NO DATA",
            action="preparing the merge",
        )
        self._copy(temp, batch, batch_number)
        try:
            self._execute(
                self.merge_sql(temp, batch.schema.names, keys),
                action=f"merging batch {batch_number}",
            )
        except TidegateError as exc:
            if "ON CONFLICT" not in exc.message:
                raise
            raise ConfigError(
                f"table {self.target} has no unique constraint on the key "
                f"({', '.join(keys)}), so rows cannot be merged by it",
                location=self._location(),
                hint=f"create one: CREATE UNIQUE INDEX ON {self.qualified(self.table)} "
                f"({', '.join(self.quote(k) for k in keys)})",
            ) from exc


def lock_key(target: str) -> int:
    """The signed 64-bit advisory lock key of a target: a hash of ``tidegate:<target>``."""
    digest = hashlib.sha256(("tidegate:" + target).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def csv_payload(batch: pa.RecordBatch) -> pa.Buffer:
    """The batch as header-less CSV that ``COPY ... (FORMAT csv)`` reads back losslessly."""
    arrays = []
    for original in batch.columns:
        column = original
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = _hex(column)
        elif pa.types.is_fixed_size_binary(column.type):
            column = _hex(pc.cast(column, pa.binary()))
        arrays.append(column)
    table = pa.Table.from_arrays(arrays, names=batch.schema.names)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    buffer: pa.Buffer = sink.getvalue()
    return buffer


def _hex(column: pa.Array) -> pa.Array:
    """bytea input text ``\\x0a0b`` per value (PostgreSQL's hex format)."""
    return pa.array(
        [None if v is None else "\\x" + v.hex() for v in column.to_pylist()], pa.string()
    )


def _truncate(name: str, limit: int = _NAME_BYTES) -> str:
    """``name`` cut to ``limit`` bytes (PostgreSQL's identifier length), on a character boundary."""
    encoded = name.encode()
    if len(encoded) <= limit:
        return name
    return encoded[:limit].decode(errors="ignore")
