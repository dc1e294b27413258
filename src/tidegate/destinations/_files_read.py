"""Reading a files destination's output back (the ``RowsRead`` protocol), streamed.

``FilesDestination.read_rows`` calls ``read_output_rows``: the output file in place is read
batch by batch (``ParquetFile.iter_batches``, ``pyarrow.csv.open_csv``) and reading stops once
``limit`` rows are in hand, so showing 20 rows of a 10 GB output reads one batch, not the file.
Parquet keeps every Arrow type (binary stays binary); a CSV file is typed by Arrow's inference
over its first block, with the destination's delimiter and the null convention it writes
(empty is null, a quoted empty string is ``""``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Sequence
    from pathlib import Path

__all__ = ["read_output_rows"]


def read_output_rows(
    target: Path,
    *,
    file_format: Literal["csv", "parquet"],
    header: bool,
    delimiter: str,
    columns: Sequence[str] | None,
    limit: int | None,
) -> pa.Table:
    """The first ``limit`` rows (all when None) of ``target``, ``columns`` only when given.

    Raises ``ConfigError`` naming the columns the file lacks; lets ``OSError`` and
    ``ArrowException`` through for the destination to turn into its own errors.
    """
    if file_format == "parquet":
        schema, batches = _parquet(target, columns)
    else:
        if not header:
            raise ConfigError(
                "the output file has no header line, so its columns cannot be read by name",
                location=str(target),
                hint="set options.header: true to write the column names",
            )
        schema, batches = _csv(target, columns, delimiter)
    kept: list[pa.RecordBatch] = []
    rows = 0
    with contextlib.closing(batches):
        for batch in batches:
            if limit is not None and rows + batch.num_rows >= limit:
                kept.append(batch.slice(0, limit - rows))
                break
            kept.append(batch)
            rows += batch.num_rows
    return pa.Table.from_batches(kept, schema=schema)


def _parquet(
    target: Path, columns: Sequence[str] | None
) -> tuple[pa.Schema, Generator[pa.RecordBatch, None, None]]:
    import pyarrow.parquet as pq  # noqa: PLC0415 - only parquet outputs need it

    parquet = pq.ParquetFile(target)
    schema = parquet.schema_arrow
    if columns is not None:
        check_columns(columns, schema.names, target, hint="name columns the file has")
        schema = pa.schema([schema.field(c) for c in columns])
    wanted = None if columns is None else list(columns)
    return schema, _closing_after(parquet, parquet.iter_batches(columns=wanted))


def _csv(
    target: Path, columns: Sequence[str] | None, delimiter: str
) -> tuple[pa.Schema, Generator[pa.RecordBatch, None, None]]:
    import pyarrow.csv as pacsv  # noqa: PLC0415 - only csv outputs need it

    parse = pacsv.ParseOptions(delimiter=delimiter)
    if columns is not None:
        with pacsv.open_csv(target, parse_options=parse) as peek:
            check_columns(columns, peek.schema.names, target, hint="name columns the file has")
    reader = pacsv.open_csv(
        target,
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(
            include_columns=None if columns is None else list(columns),
            strings_can_be_null=True,  # as written: null is empty, "" is quoted
            quoted_strings_can_be_null=False,
        ),
    )
    return reader.schema, _closing_after(reader, reader)


def _closing_after(
    resource: Any, batches: Iterable[pa.RecordBatch]
) -> Generator[pa.RecordBatch, None, None]:
    """``batches``, closing ``resource`` when done or when the caller stops early."""
    try:
        yield from batches
    finally:
        resource.close()


def check_columns(columns: Sequence[str], names: list[str], target: Path, *, hint: str) -> None:
    """Raise a ``ConfigError`` naming the ``columns`` the output file lacks and those it has."""
    missing = [c for c in columns if c not in names]
    if missing:
        raise ConfigError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not "
            f"in the output file (columns: {', '.join(names)})",
            location=str(target),
            hint=hint,
        )
