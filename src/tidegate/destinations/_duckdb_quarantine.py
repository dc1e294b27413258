"""The duckdb destination's quarantine: ``<schema>.<table>__quarantine`` in the same file.

``DuckdbDestination`` inherits ``DuckdbQuarantine``. Quarantined rows are written on the run's
one connection, inside its open transaction, so they are committed by exactly the COMMIT that
commits the data rows of the same batches, and rolled back with them:

- With ``background`` on, ``write_quarantine`` hands the rows to the writer thread through the
  same queue as the batches and the commits (``QuarantineRows``), so they are stored in call
  order: a commit handed over after them covers them, one handed over before does not. A
  deferred commit (``commit_every``, ``commit_min_rows``) carries them like the batches it
  covers; quarantined rows do not count toward ``commit_min_rows``.
- ``read_quarantine``, ``delete_quarantine`` and ``read_target`` first wait for the writer
  thread (everything handed over is stored), then run on the connection, in the open
  transaction when there is one: they see this run's uncommitted rows, and a delete is undone
  by a rollback.

The table is created on first use from the rows' Arrow types (``CREATE TABLE ... AS`` over the
batch, scanned in place); columns it lacks are added as nullable; an incoming column is cast to
the existing column's type when that is safe and refused otherwise (rules in ``_quarantine``).
DuckDB column names ignore case, so ``Email`` fills an existing ``email`` column. The
quarantine is append-only across runs and modes: ``replace`` swaps the target only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog

from tidegate.destinations._quarantine import (
    QID,
    QUARANTINED_AT,
    RUN_ID,
    arrange,
    conform,
    empty_target,
    in_utc,
    nulls_as_text,
    prepare,
    quarantine_table,
)
from tidegate.destinations._sql import (
    ARROW_BATCH_VIEW,
    duckdb_error,
    quote_ident,
    quote_idents,
    quote_qualified,
)
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.destinations.duckdb import DuckdbSettings

__all__ = ["DuckdbQuarantine", "QuarantineRows"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class QuarantineRows:
    """Rows to quarantine, as an item of the writer thread's queue."""

    rows: pa.RecordBatch


class DuckdbQuarantine:
    """The ``Quarantines`` protocol that ``DuckdbDestination`` inherits."""

    _quarantine_schema: pa.Schema | None = None
    """The quarantine's columns as Arrow types, once known in this transaction."""

    if TYPE_CHECKING:  # provided by DuckdbDestination
        settings: DuckdbSettings
        _con: Any
        _path: Path | None

        def _location(self) -> str: ...
        def _execute(self, sql: str, *, action: str, params: list[Any] | None = None) -> Any: ...
        def _load_columns(self, table: str) -> dict[str, tuple[str, str]]: ...
        def _batch_types(self) -> list[tuple[str, str]]: ...
        def _check_names(self, schema: pa.Schema) -> None: ...
        def _scanning(self, batch: pa.RecordBatch) -> AbstractContextManager[None]: ...
        def _enqueue(self, item: tuple[pa.RecordBatch, int] | QuarantineRows) -> None: ...
        def _drain(self) -> None: ...
        def _raise_failure(self) -> None: ...

    # -- names ------------------------------------------------------------------------------

    def quarantine_name(self) -> str:
        """``<schema>.<table>__quarantine``."""
        return f"{self.settings.db_schema}.{quarantine_table(self.settings.table)}"

    def _quarantine_sql(self) -> str:
        return quote_qualified(self.settings.db_schema, quarantine_table(self.settings.table))

    def _quarantine_location(self) -> str:
        return f"{self._path or self.settings.path} table {self.quarantine_name()}"

    # -- the protocol -----------------------------------------------------------------------

    def write_quarantine(self, rows: pa.RecordBatch) -> None:
        """Append rejected rows to the open transaction, in order with the batches and commits."""
        if self._con is None:
            raise ConfigError("duckdb destination: write_quarantine before open")
        self._raise_failure()
        rows = prepare(rows, location=self._quarantine_location())
        if rows.num_rows == 0:
            return
        if self.settings.background:
            self._enqueue(QuarantineRows(rows))
        else:
            self._write_quarantine_now(rows)

    def read_quarantine(self, *, run_id: str | None = None) -> pa.Table:
        """Quarantined rows (of one run, or all), oldest first; empty when there is none."""
        self._settle()
        if not self._load_columns(quarantine_table(self.settings.table)):
            return pa.table({})
        where, params = (f" WHERE {quote_ident(RUN_ID)} = ?", [run_id]) if run_id else ("", None)
        table = self._arrow(
            f"SELECT * FROM {self._quarantine_sql()}{where} "
            f"ORDER BY {quote_idents([QUARANTINED_AT, QID])}",
            action=f"reading quarantine {self.quarantine_name()}",
            params=params,
        )
        return arrange(table)

    def delete_quarantine(self, qids: Sequence[str]) -> int:
        """Remove rows by ``_tidegate_qid`` in the open transaction; how many were removed."""
        self._settle()
        wanted = sorted(set(qids))
        if not wanted or not self._load_columns(quarantine_table(self.settings.table)):
            return 0
        with self._scanning(pa.record_batch({"qid": pa.array(wanted, pa.string())})):
            removed = self._execute(
                f"DELETE FROM {self._quarantine_sql()} WHERE {quote_ident(QID)} IN "
                f"(SELECT qid FROM {ARROW_BATCH_VIEW})",
                action=f"deleting from quarantine {self.quarantine_name()}",
            ).fetchone()[0]
        log.info("quarantine_deleted", quarantine=self.quarantine_name(), rows=removed)
        return int(removed)

    def read_target(self, columns: Sequence[str]) -> pa.Table:
        """The distinct values of ``columns`` in the live target; empty when it does not exist."""
        self._settle()
        s = self.settings
        found = self._load_columns(s.table)
        if not found:
            return empty_target(columns)
        check_columns(
            columns,
            found,
            table=f"{s.db_schema}.{s.table}",
            location=self._location(),
            hint="check the column names the rule refers to",
        )
        if not columns:
            return pa.table({})
        table = self._arrow(
            f"SELECT DISTINCT {quote_idents(columns)} FROM {quote_qualified(s.db_schema, s.table)}",
            action=f"reading the distinct values of table {s.db_schema}.{s.table}",
        )
        return in_utc(table)

    # -- on the writer thread ---------------------------------------------------------------

    def _write_quarantine_now(self, rows: pa.RecordBatch) -> None:
        """Create, widen and append to the quarantine table (the writer thread, or inline)."""
        s = self.settings
        name = self.quarantine_name()
        self._check_names(rows.schema)
        existing = self._known_quarantine_schema()
        if existing is None:
            rows = nulls_as_text(rows)
            with self._scanning(rows):
                self._execute(
                    f"CREATE SCHEMA IF NOT EXISTS {quote_ident(s.db_schema)}",
                    action="creating the schema",
                )
                self._execute(
                    f"CREATE TABLE {self._quarantine_sql()} AS SELECT * FROM {ARROW_BATCH_VIEW}",
                    action=f"creating quarantine {name}",
                )
            self._quarantine_schema = None
            log.info("quarantine_created", quarantine=name, columns=rows.num_columns)
            return
        rows, new = conform(
            _same_case(rows, existing),
            existing,
            quarantine=name,
            location=self._quarantine_location(),
        )
        names = quote_idents(rows.schema.names)
        with self._scanning(rows):
            if new:
                types = dict(self._batch_types())
                for field in new:
                    self._execute(
                        f"ALTER TABLE {self._quarantine_sql()} ADD COLUMN "
                        f"{quote_ident(field.name)} {types[field.name]}",
                        action=f"adding column {field.name!r} to quarantine {name}",
                    )
                    log.info("quarantine_column_added", quarantine=name, column=field.name)
                self._quarantine_schema = None
            self._execute(
                f"INSERT INTO {self._quarantine_sql()} ({names}) "
                f"SELECT {names} FROM {ARROW_BATCH_VIEW}",
                action=f"writing to quarantine {name}",
            )

    def _known_quarantine_schema(self) -> pa.Schema | None:
        """The quarantine's columns as Arrow types (zones as UTC); None when it does not exist."""
        if self._quarantine_schema is None:
            if not self._load_columns(quarantine_table(self.settings.table)):
                return None
            empty = self._arrow(
                f"SELECT * FROM {self._quarantine_sql()} LIMIT 0",
                action=f"reading the columns of quarantine {self.quarantine_name()}",
            )
            self._quarantine_schema = in_utc(empty).schema
        return self._quarantine_schema

    # -- helpers ----------------------------------------------------------------------------

    def _settle(self) -> None:
        """Wait for the writer thread and raise its failure: reads see every write handed over."""
        if self._con is None:
            raise ConfigError("duckdb destination: quarantine used before open or after close")
        self._drain()
        self._raise_failure()

    def _arrow(self, sql: str, *, action: str, params: list[Any] | None = None) -> pa.Table:
        import duckdb  # noqa: PLC0415 - heavy driver imported on first use (DESIGN §2)

        try:
            table: pa.Table = self._con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise duckdb_error(exc, action=action, location=self._location()) from exc
        return table


def _same_case(rows: pa.RecordBatch, existing: pa.Schema) -> pa.RecordBatch:
    """Rename columns to the existing quarantine's spelling (DuckDB names ignore case)."""
    spelled = {name.lower(): name for name in existing.names}
    names = [spelled.get(name.lower(), name) for name in rows.schema.names]
    if names == rows.schema.names:
        return rows
    return rows.rename_columns(names)


def check_columns(
    columns: Sequence[str],
    found: Mapping[str, tuple[str, str]],
    *,
    table: str,
    location: str,
    hint: str,
) -> None:
    """Raise a ``ConfigError`` naming the ``columns`` not in ``found`` (lowercased name ->
    stored name and type) and the columns the table has."""
    missing = [c for c in columns if c.lower() not in found]
    if missing:
        raise ConfigError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"not in table {table} (columns: {', '.join(name for name, _ in found.values())})",
            location=location,
            hint=hint,
        )
