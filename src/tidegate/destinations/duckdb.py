"""The ``duckdb`` destination: loads batches into a DuckDB table with exactly-once checkpoints.

One connection; every batch is handed to DuckDB zero-copy (the Arrow batch is scanned in place
and inserted set-wise, no Python per row). Every ``commit_every`` batches, once at least
``commit_min_rows`` rows wait, the rows are committed together with a row in
``_tidegate_checkpoints`` in the same transaction, so after a crash the
file itself says which source rows it holds; ``rollback`` discards only the open transaction
(DuckDB's DDL is transactional). DuckDB locks its file for one writing process, so a second run
on the same file is refused with the holder's process id.

Modes:

- ``append`` inserts the rows; the table is created from the first batch's schema if missing.
- ``replace`` loads into the staging table ``_tidegate_staging_<table>`` (kept across a resume),
  then at the end drops the old table and renames the staging table in one transaction, so
  readers see the old table or the new one, never half of it. A run with no rows empties an
  existing table.
- ``merge`` upserts by ``key`` with ``MERGE INTO``: matched rows get the batch's columns updated,
  new keys are inserted, columns absent from the batch keep their values. When a key occurs more
  than once in the input, the last occurrence wins. A null in a key column is a data error.

By default the inserts and commits run in order on one writer thread fed through a queue of one
item, so DuckDB stores batch n while the source parses batch n+1 (both release the GIL); memory
stays bounded by two batches in flight. Only that thread touches the connection until
``finish``/``rollback`` have waited for it. A commit handed to the thread is durable once the
thread has run it: a crash in between loses only work that the checkpoint does not cover yet,
which a resumed run redoes.

The quarantine (``<table>__quarantine``, the ``Quarantines`` protocol) goes through the same
writer thread and transactions as the rows; it lives in ``_duckdb_quarantine``, inherited from
``DuckdbQuarantine``. Loaded rows are read back (the ``RowsRead`` protocol) by ``DuckdbRowsRead``
in ``_duckdb_read``.

Every schema, table and column name is quoted by ``quote_ident``; none is pasted raw into SQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from pydantic import ConfigDict, Field, model_validator

from tidegate.core.health import timed
from tidegate.core.protocols import Checkpoint
from tidegate.destinations._duckdb_quarantine import DuckdbQuarantine, QuarantineRows
from tidegate.destinations._duckdb_read import DuckdbRowsRead
from tidegate.destinations._sql import (
    ARROW_BATCH_VIEW,
    duckdb_error,
    quote_ident,
    quote_idents,
    quote_qualified,
)
from tidegate.errors import ConfigError, DataError
from tidegate.spec.settings import PluginSettings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check

__all__ = ["DuckdbDestination", "DuckdbSettings"]

log = structlog.get_logger(__name__)

_BATCH_VIEW = ARROW_BATCH_VIEW
_ORDINAL = "__tidegate_ordinal"
_CHECKPOINT_DDL = """
CREATE TABLE IF NOT EXISTS _tidegate_checkpoints (
    pipeline VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    batch INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    position VARCHAR NOT NULL,
    finished BOOLEAN NOT NULL,
    committed_at TIMESTAMP WITH TIME ZONE NOT NULL
)
"""


class DuckdbSettings(PluginSettings):
    """Settings of the ``duckdb`` destination."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: str = Field(
        default=".tidegate/warehouse.duckdb",
        description="DuckDB database file, relative to the pipeline file's folder",
    )
    db_schema: str = Field(
        default="main",
        alias="schema",
        description="schema that holds the table; created if missing",
    )
    table: str = Field(description="table to load into")
    mode: Literal["append", "replace", "merge"] = Field(
        default="append", description="append rows, replace the table's content, or merge by key"
    )
    key: list[str] = Field(
        default_factory=list, description="columns identifying a row; required for mode merge"
    )
    create: bool = Field(
        default=True, description="create the table from the first batch if missing"
    )
    schema_evolution: Literal["fail", "add_columns"] = Field(
        default="fail",
        description="a data column missing from the table stops the run, or is added as nullable",
    )
    commit_every: int = Field(
        default=1, ge=1, description="commit (with a checkpoint) after this many batches"
    )
    commit_min_rows: int = Field(
        default=1_000_000,
        ge=0,
        description=(
            "and only once this many rows wait: each DuckDB commit costs from 0.1 s (small) to"
            " seconds (it rewrites row groups), so a resumed run redoes at most this many rows"
        ),
    )
    memory_limit: str | None = Field(
        default="128MB",
        description=(
            "DuckDB buffer-pool cap for the load, such as '1GB'; written pages spill to the file,"
            " so a small cap keeps memory flat however many rows are loaded; null for DuckDB's"
        ),
    )
    threads: int | None = Field(
        default=None, ge=1, description="DuckDB worker threads; null for one per CPU core"
    )
    background: bool = Field(
        default=True,
        description="store each batch on a writer thread while the next one is read",
    )
    preserve_order: bool = Field(
        default=True,
        description="keep the input's row order in the table; false loads faster in parallel",
    )

    @model_validator(mode="after")
    def _key_fits_mode(self) -> DuckdbSettings:
        if self.mode == "merge" and not self.key:
            raise ValueError(
                "mode merge needs 'key': the columns that identify a row, such as key: [id]"
            )
        if len(set(self.key)) != len(self.key):
            raise ValueError("'key' lists a column more than once")
        return self


class DuckdbDestination(DuckdbQuarantine, DuckdbRowsRead):
    """Writes a run's batches into one DuckDB table, all or nothing."""

    kind: ClassVar[str] = "duckdb"
    Settings: ClassVar[type[PluginSettings]] = DuckdbSettings

    def __init__(self, settings: DuckdbSettings) -> None:
        if settings.mode == "merge" and not settings.key:  # settings built without validation
            raise ConfigError(
                "duckdb destination: mode merge needs 'key'",
                hint="list the columns that identify a row, such as key: [id]",
            )
        self.settings = settings
        self._con: Any = None
        self._path: Path | None = None
        self._target = quote_qualified(settings.db_schema, settings.table)
        self._target_name = f"{settings.db_schema}.{settings.table}"
        self._pipeline = ""
        self._staging_name: str | None = None
        self._table_exists = False
        self._columns: dict[str, tuple[str, str]] = {}  # lower name -> (name, DuckDB type)
        self._checked: pa.Schema | None = None
        self._staged_columns: dict[str, tuple[str, str]] = {}
        self._merge_keys: list[str] = list(settings.key)
        self._rows = 0
        self._batch: pa.RecordBatch | None = None
        self._register = False
        self._queue: queue.Queue[
            tuple[pa.RecordBatch, int] | QuarantineRows | Checkpoint | None
        ] = queue.Queue(maxsize=1)
        self._staging_created = False
        self._uncommitted = 0
        self._rows_waiting = 0
        self._worker: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._aborting = False

    def describe(self) -> str:
        """``duckdb:<path>/<schema>.<table>``."""
        s = self.settings
        return f"duckdb:{s.path}/{s.db_schema}.{s.table}"

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Open the file (refused while another process writes it), SELECT 1, try a write."""
        import duckdb  # noqa: PLC0415 - heavy driver imported on first use (DESIGN §2)

        path = ctx.resolve(self.settings.path)
        component = self.describe()
        if not path.exists():
            yield timed(component, "can create", lambda: _creatable(path))
            return
        con: Any = None

        def connect() -> str:
            nonlocal con
            try:
                con = duckdb.connect(str(path))
            except duckdb.Error as exc:
                raise duckdb_error(
                    exc, action="opening the DuckDB file", location=str(path)
                ) from exc
            return f"DuckDB {duckdb.__version__}"

        opened = timed(component, "connect", connect)
        yield opened
        if not opened.ok:
            return
        try:
            yield timed(component, "select 1", lambda: str(con.execute("SELECT 1").fetchone()[0]))

            def write() -> str:
                con.execute("BEGIN TRANSACTION")
                try:
                    con.execute("CREATE TABLE _tidegate_probe (ok BOOLEAN)")
                    con.execute("INSERT INTO _tidegate_probe VALUES (true)")
                finally:
                    con.execute("ROLLBACK")
                return "probe table created, written and rolled back"

            yield timed(component, "can write", write)
        finally:
            con.close()

    # -- lifecycle -------------------------------------------------------------------------

    def open(self, ctx: RunContext) -> Checkpoint | None:
        """Connect, make sure the checkpoint table exists, return the target's last checkpoint."""
        import duckdb  # noqa: PLC0415 - heavy driver imported on first use (DESIGN §2)

        s = self.settings
        # the same object may serve several runs (a read, then a replay): start clean each time
        self._aborting = False
        self._failure = None
        self._rows = 0
        self._rows_waiting = 0
        self._uncommitted = 0
        path = ctx.resolve(s.path)
        self._path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the folder of the DuckDB file: {exc.strerror}",
                location=str(path),
                hint="check the destination's path and the folder's permissions",
            ) from exc
        if path.is_dir():
            raise ConfigError(
                "the DuckDB path is a folder, not a database file",
                location=str(path),
                hint="point path at a file such as .tidegate/warehouse.duckdb",
            )
        config: dict[str, Any] = {
            "preserve_insertion_order": s.preserve_order,
            "python_enable_replacements": True,
        }
        if s.memory_limit:
            config["memory_limit"] = s.memory_limit
        if s.threads:
            config["threads"] = s.threads
        try:
            self._con = duckdb.connect(str(path), config=config)
        except duckdb.Error as exc:
            raise duckdb_error(exc, action="opening the DuckDB file", location=str(path)) from exc
        self._execute(_CHECKPOINT_DDL, action="creating the checkpoint table")
        self._pipeline = ctx.pipeline
        self._register = self._name_taken(_BATCH_VIEW)
        log.debug("duckdb_opened", path=str(path), table=s.table, mode=s.mode)
        return self._latest_checkpoint()

    def start(self, *, resume: bool) -> None:
        """Begin the first transaction; a resumed replace keeps the interrupted run's staging.

        What the tables look like is read from the file again, never carried over: after a
        retried failure the rollback has undone the staging table, the table or the columns
        an earlier attempt created in its uncommitted transaction.
        """
        s = self.settings
        self._quarantine_schema = None
        self._checked = None
        self._execute("BEGIN TRANSACTION", action="beginning the transaction")
        self._columns = self._load_columns(s.table)
        self._table_exists = bool(self._columns)
        self._staged_columns = {}
        self._staging_created = False
        if s.mode == "replace":
            self._staging_name = f"_tidegate_staging_{s.table}"
            staging = quote_qualified(s.db_schema, self._staging_name)
            if resume:
                self._staged_columns = self._load_columns(self._staging_name)
            if self._staged_columns:
                self._staging_created = True
            else:
                self._execute(
                    f"DROP TABLE IF EXISTS {staging}", action="clearing the staging table"
                )

    def _latest_checkpoint(self) -> Checkpoint | None:
        row = self._execute(
            "SELECT run_id, batch, rows, position, finished FROM _tidegate_checkpoints "
            "WHERE pipeline = ? AND target = ? "
            "ORDER BY run_id DESC, batch DESC, finished DESC LIMIT 1",
            action="reading the last checkpoint",
            params=[self._pipeline, self._target_name],
        ).fetchone()
        if row is None:
            return None
        run_id, batch, rows, position, finished = row
        return Checkpoint(
            pipeline=self._pipeline,
            run_id=run_id,
            batch=batch,
            rows=rows,
            position=json.loads(position),
            finished=finished,
        )

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Insert (or merge) one batch inside the open transaction.

        With ``background`` on, the batch is handed to the writer thread and this returns at
        once, so the source reads the next batch while DuckDB stores this one; a failure of the
        writer is raised by the next ``write`` or by ``commit``.
        """
        if self._con is None:
            raise ConfigError("duckdb destination: write before open")
        self._raise_failure()
        if batch.num_rows == 0:
            return
        if self.settings.mode == "merge":
            batch = self._prepare_merge(batch, batch_number)
        self._rows_waiting += batch.num_rows
        if self.settings.background:
            self._enqueue((batch, batch_number))
        else:
            self._write_now(batch, batch_number)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._failure is not None or self._aborting:
                continue  # drain what is queued without writing it
            try:
                if isinstance(item, Checkpoint):
                    self._commit_now(item)
                elif isinstance(item, QuarantineRows):
                    self._write_quarantine_now(item.rows)
                else:
                    self._write_now(*item)
            except BaseException as exc:
                self._failure = exc

    def _enqueue(self, item: tuple[pa.RecordBatch, int] | QuarantineRows | Checkpoint) -> None:
        if self._worker is None:
            self._worker = threading.Thread(
                target=self._work, name=f"tidegate-duckdb-{self.settings.table}", daemon=True
            )
            self._worker.start()
        self._queue.put(item)  # blocks while the writer is busy: bounded

    def _drain(self) -> None:
        """Wait until every queued batch is written (or skipped after a failure)."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _write_now(self, batch: pa.RecordBatch, batch_number: int) -> None:
        mode = self.settings.mode
        with self._scanning(batch):
            if mode == "replace":
                self._write_staging(batch)
            elif not self._table_exists:
                self._create_from(batch)
            else:
                self._check_drift(batch.schema)
                if mode == "append":
                    self._execute(
                        f"INSERT INTO {self._target} ({quote_idents(batch.schema.names)}) "
                        f"SELECT {quote_idents(batch.schema.names)} FROM {_BATCH_VIEW}",
                        action=f"inserting batch {batch_number}",
                    )
                else:
                    self._merge(batch, batch_number)
        self._rows += batch.num_rows

    @contextlib.contextmanager
    def _scanning(self, batch: pa.RecordBatch) -> Iterator[None]:
        """Make ``batch`` what ``_BATCH_VIEW`` names in the statements run meanwhile."""
        if self._register:
            self._con.register(_BATCH_VIEW, batch)
        self._batch = batch
        try:
            yield
        finally:
            self._batch = None
            if self._register:
                self._con.unregister(_BATCH_VIEW)

    def commit(self, checkpoint: Checkpoint) -> bool:
        """Every ``commit_every`` batches, commit the rows written with ``checkpoint``.

        With ``background`` on, the commit is handed to the writer thread, in order after the
        batches it covers; it returns True once handed over.
        """
        if self._con is None:
            raise ConfigError("duckdb destination: commit before open")
        self._raise_failure()
        self._uncommitted += 1
        s = self.settings
        if self._uncommitted < s.commit_every or self._rows_waiting < s.commit_min_rows:
            return False
        self._uncommitted = 0
        self._rows_waiting = 0
        if self.settings.background:
            self._enqueue(checkpoint)
        else:
            self._commit_now(checkpoint)
        return True

    def finish(self, checkpoint: Checkpoint) -> None:
        """Swap the staging table in (mode replace) and commit with the final checkpoint."""
        if self._con is None:
            return
        self._drain()
        self._raise_failure()
        s = self.settings
        if s.mode == "replace":
            self._swap_in_staging()
        self._store_checkpoint(checkpoint)
        self._execute("COMMIT", action="committing")
        log.info("duckdb_committed", table=s.table, mode=s.mode, rows=self._rows)

    def _commit_now(self, checkpoint: Checkpoint) -> None:
        self._store_checkpoint(checkpoint)
        self._execute("COMMIT", action=f"committing batch {checkpoint.batch}")
        self._execute("BEGIN TRANSACTION", action="beginning the next transaction")

    def _store_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._execute(
            "INSERT INTO _tidegate_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, now())",
            action="writing the checkpoint",
            params=[
                checkpoint.pipeline,
                self._target_name,
                checkpoint.run_id,
                checkpoint.batch,
                checkpoint.rows,
                json.dumps(dict(checkpoint.position), sort_keys=True),
                checkpoint.finished,
            ],
        )

    def rollback(self) -> None:
        """Discard the run's rows, tables and staging table; safe after a failed ``open``."""
        import duckdb  # noqa: PLC0415 - heavy driver imported on first use (DESIGN §2)

        if self._con is None:
            return
        self._drain()  # what was handed to commit() still commits; the rest is rolled back
        self._failure = None  # the run failed already; its first error is the one reported
        self._quarantine_schema = None  # a quarantine created or widened here is undone too
        try:
            self._con.execute("ROLLBACK")
        except duckdb.Error as exc:  # no transaction left (failed BEGIN or COMMIT): nothing to undo
            log.debug("duckdb_rollback_skipped", reason=str(exc))
        log.info("duckdb_rolled_back", table=self.settings.table, rows_discarded=self._rows)

    def close(self) -> None:
        """Stop the writer thread and close the connection."""
        self._aborting = True
        self._drain()
        if self._con is not None:
            self._con.close()
            self._con = None

    # -- helpers ---------------------------------------------------------------------------

    def _location(self) -> str:
        s = self.settings
        return f"{self._path or s.path} table {s.db_schema}.{s.table}"

    def _execute(self, sql: str, *, action: str, params: list[Any] | None = None) -> Any:
        import duckdb  # noqa: PLC0415 - heavy driver imported on first use (DESIGN §2)

        try:
            if params:
                return self._con.execute(sql, params)
            return _execute_over(self._con, sql, self._batch)
        except duckdb.Error as exc:
            raise duckdb_error(exc, action=action, location=self._location()) from exc

    def _name_taken(self, name: str) -> bool:
        """Whether a table or view shadows the name under which DuckDB scans the batch."""
        rows = self._execute(
            "SELECT 1 FROM duckdb_tables() WHERE lower(table_name) = lower(?) UNION ALL "
            "SELECT 1 FROM duckdb_views() WHERE lower(view_name) = lower(?)",
            action="looking up names",
            params=[name, name],
        ).fetchall()
        return bool(rows)

    def _load_columns(self, table: str) -> dict[str, tuple[str, str]]:
        """The table's columns by lower-case name; empty when the table is missing."""
        rows = self._execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND lower(schema_name) = lower(?) "
            "AND lower(table_name) = lower(?) ORDER BY column_index",
            action="reading the table's columns",
            params=[self.settings.db_schema, table],
        ).fetchall()
        return {name.lower(): (name, dtype) for name, dtype in rows}

    def _batch_types(self) -> list[tuple[str, str]]:
        rows = self._execute(
            f"DESCRIBE SELECT * FROM {_BATCH_VIEW}", action="reading the batch's types"
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def _create_from(self, batch: pa.RecordBatch) -> None:
        """Create the missing table from the batch, rows included (the first batch of a run)."""
        s = self.settings
        if not s.create:
            raise ConfigError(
                f"table {s.db_schema}.{s.table} does not exist",
                location=self._location(),
                hint="create it first, or set create: true to create it from the data",
            )
        self._check_names(batch.schema)
        self._execute(
            f"CREATE SCHEMA IF NOT EXISTS {quote_ident(s.db_schema)}",
            action="creating the schema",
        )
        self._execute(
            f"CREATE TABLE {self._target} AS SELECT * FROM {_BATCH_VIEW}",
            action="creating the table",
        )
        self._columns = self._load_columns(s.table)
        self._table_exists = True
        self._checked = batch.schema

    def _check_names(self, schema: pa.Schema) -> None:
        seen: dict[str, str] = {}
        for name in schema.names:
            if not name:
                raise DataError(
                    "the data has a column with an empty name",
                    location=self._location(),
                    hint="name it with a rename or sql step",
                )
            other = seen.setdefault(name.lower(), name)
            if other != name or schema.names.count(name) > 1:
                raise DataError(
                    f"the data has two columns named {other!r} and {name!r}; DuckDB column "
                    "names ignore case",
                    location=self._location(),
                    hint="rename one of them with a rename step",
                )

    def _add_columns(self, names: list[str]) -> None:
        """Add new data columns to the table as nullable, in the load's transaction."""
        types = dict(self._batch_types())
        for name in names:
            self._execute(
                f"ALTER TABLE {self._target} ADD COLUMN {quote_ident(name)} {types[name]}",
                action=f"adding column {name!r}",
            )
            log.info("duckdb_column_added", table=self.settings.table, column=name)
        self._columns = self._load_columns(self.settings.table)

    def _check_drift(self, schema: pa.Schema) -> None:
        """Refuse a batch whose columns are missing from the table or of another type family."""
        if self._checked is not None and schema.equals(self._checked):
            return
        self._check_names(schema)
        s = self.settings
        missing = [name for name in schema.names if name.lower() not in self._columns]
        if missing and s.schema_evolution == "add_columns":
            self._add_columns(missing)
        elif missing:
            raise ConfigError(
                f"column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing)} of the data "
                f"{'are' if len(missing) > 1 else 'is'} not in table {s.db_schema}.{s.table} "
                f"(table columns: {', '.join(name for name, _ in self._columns.values())})",
                location=self._location(),
                hint="set schema_evolution: add_columns, add the column to the table yourself, "
                "drop it with a select step, or use mode: replace to recreate the table",
            )
        for name, batch_type in self._batch_types():
            table_type = self._columns[name.lower()][1]
            if not _compatible(batch_type, table_type):
                raise ConfigError(
                    f"column {name!r} is {batch_type} in the data but {table_type} in table "
                    f"{s.db_schema}.{s.table}",
                    location=self._location(),
                    hint=f"cast it with a cast step (columns: {{{name}: ...}}), or use "
                    "mode: replace to recreate the table",
                )
        self._checked = schema

    def _write_staging(self, batch: pa.RecordBatch) -> None:
        assert self._staging_name is not None  # noqa: S101 - set by open in mode replace
        staging = quote_qualified(self.settings.db_schema, self._staging_name)
        if not self._staging_created:
            self._check_names(batch.schema)
            self._execute(
                f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.settings.db_schema)}",
                action="creating the schema",
            )
            self._execute(
                f"CREATE TABLE {staging} AS SELECT * FROM {_BATCH_VIEW}",
                action="loading the staging table",
            )
            self._staging_created = True
            self._checked = batch.schema
            self._staged_columns = {
                name.lower(): (name, dtype) for name, dtype in self._batch_types()
            }
            return
        if self._checked is None or not batch.schema.equals(self._checked):
            self._check_names(batch.schema)
            for name, batch_type in self._batch_types():
                known = self._staged_columns.get(name.lower())
                if known is None or not _compatible(batch_type, known[1]):
                    raise DataError(
                        f"batch column {name!r} ({batch_type}) does not match the earlier "
                        f"batches of this run ({known[1] if known else 'absent'})",
                        location=self._location(),
                        hint="make the source's schema stable, for example with a cast step",
                    )
            self._checked = batch.schema
        names = quote_idents(batch.schema.names)
        self._execute(
            f"INSERT INTO {staging} ({names}) SELECT {names} FROM {_BATCH_VIEW}",
            action="loading the staging table",
        )

    def _swap_in_staging(self) -> None:
        s = self.settings
        if not self._staging_created:  # no rows at all: replace means an empty table
            if self._table_exists:
                self._execute(f"DELETE FROM {self._target}", action="emptying the table")
            else:
                log.warning("duckdb_replace_without_data", table=s.table)
            return
        assert self._staging_name is not None  # noqa: S101 - set by open in mode replace
        self._execute(f"DROP TABLE IF EXISTS {self._target}", action="dropping the old table")
        self._execute(
            f"ALTER TABLE {quote_qualified(s.db_schema, self._staging_name)} "
            f"RENAME TO {quote_ident(s.table)}",
            action="swapping in the staging table",
        )

    def _prepare_merge(self, batch: pa.RecordBatch, batch_number: int) -> pa.RecordBatch:
        """Check the key columns and keep only the last row of each key."""
        lowered = {name.lower(): name for name in batch.schema.names}
        keys = []
        for key in self.settings.key:
            name = key if key in batch.schema.names else lowered.get(key.lower())
            if name is None:
                raise ConfigError(
                    f"key column {key!r} is not in the data "
                    f"(columns: {', '.join(batch.schema.names)})",
                    location=self._location(),
                    hint="fix the destination's key, or add the column with a derive step",
                )
            column = batch.column(name)
            if column.null_count:
                row = pc.index(pc.is_null(column), True).as_py()
                raise DataError(
                    f"key column {name!r} is null in row {row} of batch {batch_number}",
                    location=self._location(),
                    hint="a merge key must identify a row: filter null keys with a sql step",
                )
            keys.append(name)
        self._merge_keys = keys
        ordinal = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), len(batch))), 1)
        table = pa.Table.from_batches([batch]).append_column(_ORDINAL, ordinal)
        last = table.group_by(keys, use_threads=False).aggregate([(_ORDINAL, "max")])
        if last.num_rows == batch.num_rows:
            return batch
        ordinals = last.column(_ORDINAL + "_max").combine_chunks()
        taken = pc.take(ordinals, pc.array_sort_indices(ordinals))  # keep the input's order
        log.debug("duckdb_merge_duplicates", batch=batch_number, dropped=len(batch) - len(taken))
        return batch.take(taken)

    def _merge(self, batch: pa.RecordBatch, batch_number: int) -> None:
        target_alias, source_alias = "__tidegate_target", "__tidegate_source"
        keys = self._merge_keys
        key_set = {k.lower() for k in keys}
        for key in keys:
            if key.lower() not in self._columns:
                raise ConfigError(
                    f"key column {key!r} is not in table "
                    f"{self.settings.db_schema}.{self.settings.table}",
                    location=self._location(),
                    hint="fix the destination's key, or use mode: replace to recreate the table",
                )
        on = " AND ".join(
            f"{target_alias}.{quote_ident(k)} = {source_alias}.{quote_ident(k)}" for k in keys
        )
        names = batch.schema.names
        updates = ", ".join(
            f"{quote_ident(n)} = {source_alias}.{quote_ident(n)}"
            for n in names
            if n.lower() not in key_set
        )
        matched = f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else ""
        values = ", ".join(f"{source_alias}.{quote_ident(n)}" for n in names)
        self._execute(
            f"MERGE INTO {self._target} AS {target_alias} "
            f"USING {_BATCH_VIEW} AS {source_alias} ON ({on}) "
            f"{matched}WHEN NOT MATCHED THEN INSERT ({quote_idents(names)}) VALUES ({values})",
            action=f"merging batch {batch_number}",
        )


def _creatable(path: Path) -> str:
    """Whether a missing database file could be created: its nearest existing folder is writable."""
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot create {path}: {folder} is not writable")
    return f"{path.name} does not exist yet; {folder} is writable"


def _execute_over(con: Any, sql: str, _tidegate_arrow_batch_: pa.RecordBatch | None) -> Any:
    """Run ``sql`` with the batch visible to DuckDB as ``_tidegate_arrow_batch_``.

    DuckDB's replacement scan reads the Arrow batch straight from this frame's variable. Unlike
    ``register``, which pins every registered batch until the transaction ends (memory growing
    with the run), the scanned batch is released as soon as the statement is done.
    """
    return con.execute(sql)


_FAMILIES = (
    (
        "numeric",
        re.compile(
            r"^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL\(\d+,\s*\d+\))$"
        ),
    ),
    ("temporal", re.compile(r"^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE)$")),
    ("time", re.compile(r"^TIME( WITH TIME ZONE)?$")),
)


def _family(duckdb_type: str) -> str:
    for name, pattern in _FAMILIES:
        if pattern.match(duckdb_type):
            return name
    return duckdb_type


def _compatible(batch_type: str, table_type: str) -> bool:
    """Whether DuckDB may cast a batch column into a table column without losing its meaning.

    Numbers go into numbers and timestamps into timestamps (an overflow is still reported as a
    data error by DuckDB on insert); an all-null column goes anywhere; anything else must match.
    """
    if batch_type in {table_type, '"NULL"', "NULL"}:
        return True
    return _family(batch_type) == _family(table_type)
