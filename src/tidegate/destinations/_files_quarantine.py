"""The files destination's quarantine: a folder of Parquet files next to the output, one per run.

For an output ``out/customers.csv`` the quarantine is ``out/customers__quarantine/``, holding
``<run_id>.parquet`` for each run that rejected rows. A files destination's transaction is the
whole run, and the quarantine follows it:

- ``write`` puts each call's rows in a hidden part file of the run
  (``.<run_id>.part000001.parquet.tmp``); ``commit``, called by ``finish`` right after the output
  file is renamed into place, merges the parts into ``.<run_id>.parquet.tmp``, fsyncs it and
  renames it to ``<run_id>.parquet`` in one ``os.replace``, then fsyncs the folder. A reader
  sees all of a run's rows or none. ``rollback`` deletes the parts and temp files.
  The output goes first: if the process dies between the two renames the run failed, and
  running it again rewrites the output and writes the quarantine file (no row is lost or kept
  twice); the opposite order would leave a second copy of the rows after that re-run.
- ``delete`` writes each affected file again without the deleted rows into a hidden temp file,
  applied by ``commit`` (``os.replace``; a file left with no rows is removed) and dropped by
  ``rollback``. Rows of the open run's parts are deleted from the parts directly.
- ``read`` reads the committed files with this run's pending deletes applied, plus this run's
  parts, so inside a run it sees the run's own writes, as a database transaction would.

The files of different runs may have different columns (the rows' own columns changed between
runs); they are unified when read (``pa.unify_schemas``, permissive promotion: a column missing
from a file reads as nulls, ``int32`` and ``int64`` read as ``int64``). A new run's rows are
checked against the unified schema first, with the same rules as the database quarantines
(``_quarantine.conform``), so a column cannot change to an unrelated type between runs.
Memory stays bounded by one part file or one row group: nothing reads the whole folder at once
except ``read``, whose result is the whole quarantine by definition.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from tidegate.destinations._quarantine import (
    QID,
    RUN_ID,
    arrange,
    conform,
    fill,
    nulls_as_text,
    ordered,
    prepare,
    sort_oldest_first,
)
from tidegate.errors import DataError, DependencyError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

__all__ = ["QuarantineFolder", "fsync_path"]

log = structlog.get_logger(__name__)

_SPACE_HINT = "check the free disk space and the folder's permissions"
T = TypeVar("T")


class QuarantineFolder:
    """The quarantine folder of one files destination, for one run (``run_id``)."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.folder = folder
        self.run_id = run_id
        self._parts: list[Path] = []
        self._rewrites: dict[Path, Path | None] = {}  # committed file -> its new version
        self._schema: pa.Schema | None = None  # unified schema of everything visible
        self._created: list[Path] = []
        self._written = 0
        self._temps = itertools.count(1)

    @property
    def final(self) -> Path:
        """Where this run's rows are kept once committed: ``<folder>/<run_id>.parquet``."""
        return self.folder / f"{self.run_id}.parquet"

    # -- the protocol's operations ----------------------------------------------------------

    def write(self, rows: pa.RecordBatch) -> None:
        """Keep rejected rows in a part file of this run, until ``commit`` or ``rollback``."""
        rows = prepare(rows, location=str(self.folder))
        if rows.num_rows == 0:
            return
        known = self._known()
        if known is None:
            rows = nulls_as_text(rows)
            schema = rows.schema
        else:
            rows, new = conform(rows, known, quarantine=str(self.folder))
            schema = pa.schema([*known, *new])
        self._make_folder()
        part = self.folder / f".{self.run_id}.part{len(self._parts) + 1:06d}.parquet.tmp"
        self._write_table(pa.Table.from_batches([rows]), part)
        self._parts.append(part)
        self._schema = schema
        self._written += rows.num_rows

    def read(self, *, run_id: str | None = None) -> pa.Table:
        """Every visible row (of one run, or all), oldest first; empty when there is none."""
        import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet work needs it

        filters = [(RUN_ID, "=", run_id)] if run_id is not None else None
        tables = [
            (path, self._read(path, lambda p: pq.read_table(p, filters=filters)))
            for path in self._visible()
        ]
        if not tables:
            return pa.table({})
        _unify((path, table.schema) for path, table in tables)  # names a conflicting column
        merged = pa.concat_tables([t for _, t in tables], promote_options="permissive")
        return sort_oldest_first(arrange(merged))

    def delete(self, qids: Sequence[str]) -> int:
        """Remove rows by ``_tidegate_qid`` (applied at ``commit``); how many were removed."""
        wanted = pa.array(sorted(set(qids)), pa.string())
        if len(wanted) == 0:
            return 0
        removed = 0
        for path in self._committed():
            source = self._rewrites.get(path, path)
            if source is None:
                continue
            hits, target = self._without(source, wanted)
            if hits:
                removed += hits
                self._rewrites[path] = target
                if source != path:  # an earlier delete's rewrite, superseded
                    source.unlink(missing_ok=True)
        parts: list[Path] = []
        for part in self._parts:
            hits, target = self._without(part, wanted)
            if hits:
                removed += hits
                part.unlink(missing_ok=True)
            if target is not None:
                parts.append(target)
            elif not hits:
                parts.append(part)
        self._parts = parts
        log.info("quarantine_deleted", quarantine=str(self.folder), rows=removed)
        return removed

    def commit(self) -> None:
        """Make this run's rows and deletes visible: merge, fsync, rename, fsync the folder."""
        import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet work needs it

        if not self._parts and not self._rewrites:
            return
        try:
            if self._parts:
                schema = ordered(
                    _unify((part, self._read(part, pq.read_schema)) for part in self._parts)
                ).remove_metadata()
                temp = self.folder / f".{self.run_id}.parquet.tmp"
                with pq.ParquetWriter(temp, schema, compression="zstd") as writer:
                    for part in self._parts:
                        for batch in pq.ParquetFile(part).iter_batches():
                            writer.write_batch(fill(batch, schema))
                fsync_path(temp)
                os.replace(temp, self.final)
                for part in self._parts:
                    part.unlink(missing_ok=True)
            for path, staged in self._rewrites.items():
                if staged is None:
                    path.unlink(missing_ok=True)
                else:
                    fsync_path(staged)
                    os.replace(staged, path)
            fsync_path(self.folder)
        except OSError as exc:
            raise DependencyError(
                f"cannot commit the quarantine: {exc.strerror}",
                location=str(self.folder),
                hint=_SPACE_HINT,
            ) from exc
        log.info(
            "quarantine_committed",
            quarantine=str(self.folder),
            rows=self._written,
            files_rewritten=len(self._rewrites),
        )
        self._parts, self._rewrites, self._created, self._written = [], {}, [], 0

    def rollback(self) -> None:
        """Drop this run's parts and pending rewrites, and any folder this run created."""
        staged = [p for p in self._rewrites.values() if p is not None]
        for path in (*self._parts, *staged, self.folder / f".{self.run_id}.parquet.tmp"):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        for folder in self._created:
            with contextlib.suppress(OSError):  # not empty: other runs' files are in it
                folder.rmdir()
        self._parts, self._rewrites, self._created, self._written = [], {}, [], 0
        self._schema = None

    # -- helpers ----------------------------------------------------------------------------

    def _committed(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p for p in self.folder.glob("*.parquet") if p.is_file() and not p.name.startswith(".")
        )

    def _visible(self) -> list[Path]:
        """The committed files as this run would leave them, then this run's parts."""
        paths = [self._rewrites.get(p, p) for p in self._committed()]
        return [p for p in paths if p is not None] + self._parts

    def _known(self) -> pa.Schema | None:
        import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet work needs it

        if self._schema is None:
            visible = self._visible()
            if visible:
                self._schema = _unify((p, self._read(p, pq.read_schema)) for p in visible)
        return self._schema

    def _without(self, source: Path, wanted: pa.Array) -> tuple[int, Path | None]:
        """``source`` minus the ``wanted`` qids: (rows removed, the new file or None).

        The new file is a hidden temp written only when rows are removed and some are kept;
        ``source`` itself is never changed, so a rollback until ``commit`` has nothing to undo.
        """
        import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet work needs it

        qids = self._read(source, lambda p: pq.read_table(p, columns=[QID])).column(QID)
        hits = pc.sum(pc.is_in(qids, value_set=wanted)).as_py() or 0
        if not hits or hits == len(qids):
            return hits, None
        target = self.folder / f".{self.run_id}.rewrite{next(self._temps):06d}.parquet.tmp"
        parquet = self._read(source, pq.ParquetFile)
        try:
            with pq.ParquetWriter(target, parquet.schema_arrow, compression="zstd") as writer:
                for batch in parquet.iter_batches():
                    writer.write_batch(batch.filter(pc.invert(pc.is_in(batch[QID], wanted))))
        except OSError as exc:
            target.unlink(missing_ok=True)
            raise DependencyError(
                f"cannot rewrite quarantine file {source.name}: {exc.strerror}",
                location=str(self.folder),
                hint=_SPACE_HINT,
            ) from exc
        return hits, target

    def _make_folder(self) -> None:
        if self.folder.is_dir():
            return
        missing = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DependencyError(
                f"cannot create the quarantine folder: {exc.strerror}",
                location=str(self.folder),
                hint=_SPACE_HINT,
            ) from exc
        self._created = missing  # deepest first, removed again on rollback

    def _write_table(self, table: pa.Table, path: Path) -> None:
        import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet work needs it

        try:
            pq.write_table(table, path, compression="zstd")
        except OSError as exc:
            raise DependencyError(
                f"cannot write the quarantine: {exc.strerror or exc}",
                location=str(path),
                hint=_SPACE_HINT,
            ) from exc

    def _read(self, path: Path, read: Callable[[Path], T]) -> T:
        """``read(path)``, a damaged or unreadable file named in a Tidegate error."""
        try:
            return read(path)
        except OSError as exc:
            raise DependencyError(
                f"cannot read quarantine file {path.name}: {exc.strerror or exc}",
                location=str(self.folder),
                hint="check the folder's permissions",
            ) from exc
        except pa.ArrowException as exc:
            raise DataError(
                f"quarantine file {path.name} cannot be read: {exc}",
                location=str(self.folder),
                hint="move the damaged file out of the folder (its rows are lost to replay)",
            ) from exc


def _unify(schemas: Iterable[tuple[Path, pa.Schema]]) -> pa.Schema:
    """One schema for files whose columns differ; a DataError names a column that conflicts."""
    fields: dict[str, tuple[pa.DataType, Path]] = {}
    for path, schema in schemas:
        for field in schema:
            seen = fields.get(field.name)
            if seen is None:
                fields[field.name] = (field.type, path)
                continue
            known, first = seen
            if known == field.type:
                continue
            try:
                merged = pa.unify_schemas(
                    [pa.schema([(field.name, known)]), pa.schema([field])],
                    promote_options="permissive",
                ).field(0)
            except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
                raise DataError(
                    f"column {field.name!r} is {known} in quarantine file {first.name} but "
                    f"{field.type} in {path.name}",
                    location=str(path.parent),
                    hint="cast the column in one of the files, or move one of them out of the "
                    "folder",
                ) from exc
            fields[field.name] = (merged.type, first)
    return pa.schema([(name, arrow_type) for name, (arrow_type, _) in fields.items()])


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) data to disk, so a rename never exposes a hollow file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
