"""The ``parquet`` source: one Parquet file, a folder of them, or a glob, read in batches.

Each file is read with ``pyarrow.parquet.ParquetFile.iter_batches`` (row groups are decoded
in C++, ``batch_size`` rows at a time, only the selected columns). Files are read in sorted
path order; every file must have the schema of the first one (columns in any order), so a
folder with a stray, differently shaped file fails loudly rather than loading mixed data.
That rule is also why ``peek_schema`` reads only the first file's footer: its schema, cut to
the selected ``columns``, is the schema of every batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from tidegate.core.protocols import SourceBatch
from tidegate.errors import ConfigError, DataError
from tidegate.sources._files import expand_paths, head_bytes, readable_check
from tidegate.spec.settings import PluginSettings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check

__all__ = ["ParquetSettings", "ParquetSource"]


class ParquetSettings(PluginSettings):
    """Settings of the ``parquet`` source."""

    path: str = Field(
        description="A Parquet file, a folder (all *.parquet below it) or a glob pattern"
    )
    columns: list[str] | None = Field(None, description="Columns to read; default all")
    batch_size: int = Field(65_536, ge=1, description="Rows per batch")


class ParquetSource:
    """Reads Parquet files in order, yielding batches of at most ``batch_size`` rows."""

    kind: ClassVar[str] = "parquet"
    Settings: ClassVar[type[PluginSettings]] = ParquetSettings

    def __init__(self, settings: ParquetSettings) -> None:
        self.settings = settings

    def describe(self) -> str:
        return f"parquet:{self.settings.path}"

    def _files(self, ctx: RunContext) -> list[Path]:
        files = expand_paths(ctx, self.settings.path)
        if len(files) == 1 and files[0].is_dir():
            folder = files[0]
            files = sorted(p for p in folder.rglob("*.parquet") if p.is_file())
            if not files:
                raise ConfigError(
                    f"no *.parquet files in folder {folder}",
                    location="source.path",
                    hint="point `path` at a Parquet file, a folder holding some, or a glob",
                )
        return files

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Check that the input file(s) exist and can be read."""
        yield readable_check(ctx, self.settings.path, self.describe())

    def peek_schema(self, ctx: RunContext) -> pa.Schema:
        """The schema of every batch, from the first file's footer (no row group is read)."""
        path = self._files(ctx)[0]
        handle = self._open(path)
        try:
            return self._selected(path, handle)
        finally:
            handle.close()

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        rows = 0
        first: pa.Schema | None = None
        columns = self.settings.columns
        for path in self._files(ctx):
            handle = self._open(path)
            schema = self._selected(path, handle)
            if first is None:
                first = schema
            elif set(schema) != set(first):
                raise DataError(
                    f"schema differs from the first file's: {_difference(first, schema)}",
                    location=str(path),
                    hint="read files of one shape per pipeline, or select common `columns`",
                )
            order = columns if columns is not None else first.names
            file_rows = 0
            try:
                for batch in handle.iter_batches(
                    batch_size=self.settings.batch_size, columns=order
                ):
                    rows += batch.num_rows
                    file_rows += batch.num_rows
                    yield SourceBatch(
                        batch.select(order),
                        {"rows": rows, "file": path.name, "file_rows": file_rows},
                    )
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(
                    f"cannot read Parquet data after {file_rows} rows: {exc}",
                    location=str(path),
                    hint="the file is damaged or truncated; write it again",
                ) from exc
            finally:
                handle.close()
        if rows == 0 and first is not None:
            yield SourceBatch(pa.RecordBatch.from_pylist([], schema=first), {"rows": 0})

    def _selected(self, path: Path, handle: pq.ParquetFile) -> pa.Schema:
        """The file's schema cut to the selected ``columns``, in their order, metadata kept."""
        schema: pa.Schema = handle.schema_arrow
        columns = self.settings.columns
        if columns is None:
            return schema
        missing = [c for c in columns if c not in schema.names]
        if missing:
            raise ConfigError(
                f"columns not in the file: {', '.join(missing)}",
                location=str(path),
                hint=f"the file has: {', '.join(schema.names)}",
            )
        return pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)

    def _open(self, path: Path) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(str(path))
        except (pa.ArrowInvalid, OSError) as exc:
            head = head_bytes(path, 4096)
            hint = "check `path`; the file is not Parquet or is damaged"
            if head and b"\x00" not in head:
                hint = "it looks like text: use `type: csv` or `type: jsonl` for it"
            raise DataError(
                "file does not look like Parquet (no valid Parquet footer)",
                location=str(path),
                hint=hint,
            ) from exc


def _difference(first: pa.Schema, other: pa.Schema) -> str:
    lost = [f"{f.name} {f.type}" for f in first if f not in set(other)]
    added = [f"{f.name} {f.type}" for f in other if f not in set(first)]
    parts = []
    if lost:
        parts.append("missing " + ", ".join(lost))
    if added:
        parts.append("has " + ", ".join(added))
    return "; ".join(parts)
