"""The ``files`` destination: streams a run's batches into one CSV or Parquet file, atomically.

Batches are written as they come (``pyarrow.csv.CSVWriter`` / ``pyarrow.parquet.ParquetWriter``)
into a temp file next to the target, ``.<name>.<run_id>.tmp``; ``commit`` fsyncs it and renames it
onto the target in one ``os.replace``, so a reader sees the old file or the new one, never a
partial one. ``rollback`` deletes the temp file and leaves an existing output untouched.

A run that writes no batch leaves an existing output as it was: with no batch there is no
schema to write a file with.

Quarantine (the ``Quarantines`` protocol): rows rejected on the way to ``out/customers.csv`` are
kept in ``out/customers__quarantine/<run_id>.parquet``, one Parquet file per run, made visible
by ``finish`` right after the output file (temp file, fsync, ``os.replace``) and dropped by
``rollback``; see ``_files_quarantine`` for the details. It is append-only across runs, whatever
``if_exists`` says. ``read_target`` reads the distinct values of columns of the output file
that is in place (the previous run's, during a run); ``read_rows`` (the ``RowsRead`` protocol)
streams its first rows back, see ``_files_read``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import structlog
from pydantic import Field

from tidegate.core.health import timed
from tidegate.core.protocols import QUARANTINE_SUFFIX
from tidegate.destinations._files_quarantine import QuarantineFolder, fsync_path
from tidegate.destinations._files_read import check_columns, read_output_rows
from tidegate.destinations._quarantine import empty_target, in_utc
from tidegate.errors import ConfigError, DataError, DependencyError
from tidegate.spec.settings import PluginSettings

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check
    from tidegate.core.protocols import Checkpoint

__all__ = ["FilesDestination", "FilesOptions", "FilesSettings"]

log = structlog.get_logger(__name__)

_EXTENSIONS: dict[str, Literal["csv", "parquet"]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class FilesOptions(PluginSettings):
    """Format options of the ``files`` destination."""

    compression: str | None = Field(
        default=None,
        description="parquet: zstd (default), snappy, gzip or none; csv: gzip (default for .gz)"
        " or none",
    )
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="csv: field delimiter (default ',')"
    )
    header: bool = Field(default=True, description="csv: write a header line with the column names")


class FilesSettings(PluginSettings):
    """Settings of the ``files`` destination."""

    path: str = Field(description="output file, relative to the pipeline file's folder")
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="csv or parquet; by default taken from the file's extension"
    )
    if_exists: Literal["replace", "fail"] = Field(
        default="replace", description="replace an existing output file, or fail the run"
    )
    options: FilesOptions = Field(
        default=FilesOptions(), description="compression, delimiter and header"
    )


class FilesDestination:
    """Writes a run's batches into one file that appears, complete, at commit."""

    kind: ClassVar[str] = "files"
    Settings: ClassVar[type[PluginSettings]] = FilesSettings

    def __init__(self, settings: FilesSettings) -> None:
        self.settings = settings
        self.format = settings.format or _format_from(settings.path)
        options = settings.options
        if self.format == "csv" and options.compression not in {None, "gzip", "none"}:
            raise ConfigError(
                f"files destination: compression {options.compression!r} is not available for csv",
                hint="use gzip or none for csv, or write parquet",
            )
        self._target: Path | None = None
        self._temp: Path | None = None
        self._sink: Any = None
        self._writer: Any = None
        self._schema: pa.Schema | None = None
        self._created_dirs: list[Path] = []
        self._rows = 0
        self._quarantine: QuarantineFolder | None = None

    def describe(self) -> str:
        """``files:<path>``."""
        return f"files:{self.settings.path}"

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Check that the output folder exists or can be created, and is writable."""

        def probe() -> str:
            target = ctx.resolve(self.settings.path)
            folder = target.parent
            while not folder.exists():
                folder = folder.parent
            if not os.access(folder, os.W_OK):
                raise ConfigError(f"{folder} is not writable", location=str(target))
            if self.settings.if_exists == "fail" and target.exists():
                raise ConfigError("the output file already exists", location=str(target))
            return f"{folder} is writable"

        yield timed(self.describe(), "can write", probe)

    def open(self, ctx: RunContext) -> Checkpoint | None:
        """Check the target and pick the temp file next to it; the file is made on first write.

        A file is all or nothing, so there is never a checkpoint to resume from: an interrupted
        run left only its temp file, and the next run writes the whole file again.
        """
        target = ctx.resolve(self.settings.path)
        self._target = target
        self._rows = 0  # a retried run opens again: count only what this attempt writes
        if target.is_dir():
            raise ConfigError(
                "the output path is a folder",
                location=str(target),
                hint="point path at a file such as out/customers.parquet",
            )
        if self.settings.if_exists == "fail" and target.exists():
            raise ConfigError(
                "the output file already exists",
                location=str(target),
                hint="remove it, or set if_exists: replace",
            )
        missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the output folder: {exc.strerror}",
                location=str(target.parent),
                hint="check the path and the folder's permissions",
            ) from exc
        self._created_dirs = missing  # deepest first, removed again on rollback
        self._temp = target.with_name(f".{target.name}.{ctx.run_id}.tmp")
        self._quarantine = QuarantineFolder(_quarantine_folder(target), ctx.run_id)
        return None

    def start(self, *, resume: bool) -> None:
        """Nothing to begin: the temp file is created by the first write."""

    def commit(self, checkpoint: Checkpoint) -> bool:
        """Nothing to do per batch: the file becomes visible whole, at ``finish``."""
        return False

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Append one batch to the temp file."""
        if self._temp is None:
            raise ConfigError("files destination: write before open")
        if self._writer is None:
            self._start(batch.schema)
        elif not batch.schema.equals(self._schema):
            batch = self._conform(batch, batch_number)
        try:
            self._writer.write_batch(batch)
        except (OSError, pa.ArrowException) as exc:
            raise DependencyError(
                f"writing batch {batch_number} failed: {exc}",
                location=str(self._temp),
                hint="check the free disk space and the folder's permissions",
            ) from exc
        self._rows += batch.num_rows

    def finish(self, checkpoint: Checkpoint) -> None:
        """Rename the finished output onto the target, then commit the run's quarantine.

        Each is made visible in one atomic step (temp file, fsync, ``os.replace``).
        """
        if self._target is None or self._temp is None:
            return
        if self._writer is None:
            log.warning("files_no_data", path=str(self._target))
        else:
            self._commit_output(self._target, self._temp)
        if self._quarantine is not None:
            self._quarantine.commit()

    def _commit_output(self, target: Path, temp: Path) -> None:
        try:
            self._finish()
            fsync_path(temp)
            if self.settings.if_exists == "fail":
                os.link(temp, target)  # refuses to overwrite a file made since open
                temp.unlink()
            else:
                os.replace(temp, target)
            fsync_path(target.parent)
        except FileExistsError as exc:
            raise ConfigError(
                "the output file appeared during the run",
                location=str(target),
                hint="remove it, or set if_exists: replace",
            ) from exc
        except OSError as exc:
            raise DependencyError(
                f"cannot finish the output file: {exc.strerror}",
                location=str(target),
                hint="check the free disk space and the folder's permissions",
            ) from exc
        self._created_dirs = []
        log.info("files_committed", path=str(target), rows=self._rows, format=self.format)

    def rollback(self) -> None:
        """Delete the temp file and any folder this run created; safe after a failed ``open``."""
        with contextlib.suppress(Exception):  # a broken writer must not hide the run's error
            self._finish()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
        if self._quarantine is not None:
            self._quarantine.rollback()  # first: its folder may be inside ours
        for folder in self._created_dirs:
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                folder.rmdir()
        self._created_dirs = []
        log.info("files_rolled_back", path=str(self._target), rows_discarded=self._rows)

    def close(self) -> None:
        """Release the writer if commit or rollback has not."""
        with contextlib.suppress(Exception):
            self._finish()

    # -- quarantine ------------------------------------------------------------------------

    def quarantine_name(self) -> str:
        """The quarantine folder: ``<output folder>/<output stem>__quarantine``."""
        folder = (
            self._quarantine.folder
            if self._quarantine
            else _quarantine_folder(Path(self.settings.path))
        )
        return str(folder)

    def write_quarantine(self, rows: pa.RecordBatch) -> None:
        """Keep rejected rows with this run, made visible by ``finish`` with the output file."""
        self._quarantine_folder("write_quarantine").write(rows)

    def read_quarantine(self, *, run_id: str | None = None) -> pa.Table:
        """Quarantined rows (of one run, or all), oldest first; empty when there is none."""
        return self._quarantine_folder("read_quarantine").read(run_id=run_id)

    def delete_quarantine(self, qids: Sequence[str]) -> int:
        """Remove rows by ``_tidegate_qid``, applied by ``finish``; how many were removed."""
        return self._quarantine_folder("delete_quarantine").delete(qids)

    def read_target(self, columns: Sequence[str]) -> pa.Table:
        """The distinct values of ``columns`` in the output file in place; empty without one."""
        if self._target is None:
            raise ConfigError("files destination: read_target before open")
        target = self._target
        if not target.is_file():
            return empty_target(columns)
        with _reading_output(target):
            table = self._read_output(target, columns)
        if not columns:
            return pa.table({})
        return in_utc(table.group_by(list(columns), use_threads=False).aggregate([]))

    def read_rows(
        self, *, columns: Sequence[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """Up to ``limit`` rows of the output file in place (``columns`` only, when given), in
        file order; an empty table without one (``_files_read``)."""
        if self._target is None:
            raise ConfigError("files destination: read_rows before open")
        target = self._target
        if not target.is_file():
            return empty_target(columns or [])
        with _reading_output(target):
            table = read_output_rows(
                target,
                file_format=self.format,
                header=self.settings.options.header,
                delimiter=self._delimiter(),
                columns=columns,
                limit=limit,
            )
        return in_utc(table)

    def _quarantine_folder(self, operation: str) -> QuarantineFolder:
        if self._quarantine is None:
            raise ConfigError(f"files destination: {operation} before open")
        return self._quarantine

    def _read_output(self, target: Path, columns: Sequence[str]) -> pa.Table:
        """The output's ``columns``; a ConfigError naming those the file does not have."""
        if self.format == "parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet outputs need it

            names = pq.read_schema(target).names
            check_columns(columns, names, target, hint=_RULE_COLUMNS)
            return pq.read_table(target, columns=list(columns))
        import pyarrow.csv as pacsv  # noqa: PLC0415 - only csv outputs need it

        if not self.settings.options.header:
            raise ConfigError(
                "the output file has no header line, so its columns cannot be read by name",
                location=str(target),
                hint="set options.header: true to write the column names",
            )
        parse = pacsv.ParseOptions(delimiter=self._delimiter())
        with pacsv.open_csv(target, parse_options=parse) as reader:
            names = reader.schema.names
        check_columns(columns, names, target, hint=_RULE_COLUMNS)
        return pacsv.read_csv(
            target,
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                include_columns=list(columns),
                strings_can_be_null=True,  # as written: null is empty, "" is quoted
                quoted_strings_can_be_null=False,
            ),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _delimiter(self) -> str:
        tsv = self.settings.path.lower().removesuffix(".gz").endswith(".tsv")
        return self.settings.options.delimiter or ("\t" if tsv else ",")

    def _start(self, schema: pa.Schema) -> None:
        assert self._temp is not None  # noqa: S101 - write checks that open ran
        options = self.settings.options
        try:
            self._sink = pa.OSFile(str(self._temp), "wb")
            if self.format == "parquet":
                import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet outputs need it

                codec = options.compression or "zstd"
                self._writer = pq.ParquetWriter(
                    self._sink, schema, compression=None if codec == "none" else codec
                )
            else:
                import pyarrow.csv as pacsv  # noqa: PLC0415 - only csv outputs need it

                target = self.settings.path.lower()
                gzip = options.compression == "gzip" or (
                    options.compression is None and target.endswith(".gz")
                )
                if gzip:
                    self._sink = pa.CompressedOutputStream(self._sink, "gzip")
                self._writer = pacsv.CSVWriter(
                    self._sink,
                    schema,
                    write_options=pacsv.WriteOptions(
                        include_header=options.header, delimiter=self._delimiter()
                    ),
                )
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise ConfigError(
                f"cannot start the {self.format} file: {exc}",
                location=str(self._temp),
                hint="check the options (compression codec, delimiter) and the folder",
            ) from exc
        self._schema = schema

    def _conform(self, batch: pa.RecordBatch, batch_number: int) -> pa.RecordBatch:
        """Cast a batch to the file's schema; a different set of columns is a data error."""
        assert self._schema is not None  # noqa: S101 - set by the first write
        if batch.schema.names != self._schema.names:
            raise DataError(
                f"batch {batch_number} has columns {batch.schema.names}, but the file was "
                f"started with {self._schema.names}",
                location=str(self._target),
                hint="make every batch carry the same columns, for example with a select step",
            )
        try:
            return batch.cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"batch {batch_number} does not fit the file's column types: {exc}",
                location=str(self._target),
                hint="cast the columns to stable types with a cast step",
            ) from exc

    def _finish(self) -> None:
        writer, sink = self._writer, self._sink
        self._writer = self._sink = None
        if writer is not None:
            writer.close()
        if sink is not None and not sink.closed:
            sink.close()


def _format_from(path: str) -> Literal["csv", "parquet"]:
    name = path.lower().removesuffix(".gz")
    for extension, kind in _EXTENSIONS.items():
        if name.endswith(extension):
            return kind
    raise ConfigError(
        f"files destination: cannot tell the format of {path!r} from its extension",
        hint="set format: csv or format: parquet, or name the file .csv or .parquet",
    )


def _quarantine_folder(target: Path) -> Path:
    """``out/customers.csv.gz`` -> ``out/customers__quarantine``."""
    name = target.name
    base = name.lower().removesuffix(".gz")
    for extension in _EXTENSIONS:
        if base.endswith(extension):
            return target.with_name(name[: len(base) - len(extension)] + QUARANTINE_SUFFIX)
    return target.with_name(Path(name).stem + QUARANTINE_SUFFIX)


_RULE_COLUMNS = "check the column names the rule refers to"


@contextlib.contextmanager
def _reading_output(target: Path) -> Iterator[None]:
    """Turn the errors of reading the output file back into located, actionable ones."""
    try:
        yield
    except OSError as exc:
        raise DependencyError(
            f"cannot read the output file: {exc.strerror or exc}",
            location=str(target),
            hint="check the file's permissions",
        ) from exc
    except pa.ArrowException as exc:
        raise DataError(
            f"cannot read the output file: {exc}",
            location=str(target),
            hint="the file may be damaged or not in the destination's format; run the "
            "pipeline again to write it anew",
        ) from exc
