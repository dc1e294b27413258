"""The ``files`` destination: streams a run's batches into one CSV or Parquet file, atomically.

Batches are written as they come (``pyarrow.csv.CSVWriter`` / ``pyarrow.parquet.ParquetWriter``)
into a temp file next to the target, ``.<name>.<run_id>.tmp``; ``commit`` fsyncs it and renames it
onto the target in one ``os.replace``, so a reader sees the old file or the new one, never a
partial one. ``rollback`` deletes the temp file and leaves an existing output untouched.

A run that writes no batch leaves an existing output as it was: with no batch there is no
schema to write a file with.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import structlog
from pydantic import Field

from tidegate.core.health import timed
from tidegate.errors import ConfigError, DataError, DependencyError
from tidegate.spec.settings import PluginSettings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

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
        """Finish the file, fsync it and rename it onto the target in one atomic step."""
        if self._target is None or self._temp is None:
            return
        if self._writer is None:
            log.warning("files_no_data", path=str(self._target))
            return
        target, temp = self._target, self._temp
        try:
            self._finish()
            _fsync(temp)
            if self.settings.if_exists == "fail":
                os.link(temp, target)  # refuses to overwrite a file made since open
                temp.unlink()
            else:
                os.replace(temp, target)
            _fsync(target.parent)
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
        for folder in self._created_dirs:
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                folder.rmdir()
        self._created_dirs = []
        log.info("files_rolled_back", path=str(self._target), rows_discarded=self._rows)

    def close(self) -> None:
        """Release the writer if commit or rollback has not."""
        with contextlib.suppress(Exception):
            self._finish()

    # -- helpers ---------------------------------------------------------------------------

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
                tsv = target.removesuffix(".gz").endswith(".tsv")
                delimiter = options.delimiter or ("\t" if tsv else ",")
                self._writer = pacsv.CSVWriter(
                    self._sink,
                    schema,
                    write_options=pacsv.WriteOptions(
                        include_header=options.header, delimiter=delimiter
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


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's) data to disk, so a rename never exposes a hollow file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
