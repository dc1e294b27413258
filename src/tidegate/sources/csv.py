"""The ``csv`` source: a streaming pyarrow CSV reader with clear errors and a quarantine.

The hot path is pyarrow's own reader (``pyarrow.csv.open_csv``): blocks of ``block_size``
bytes are parsed and converted in C++ and yielded as RecordBatches, so memory stays bounded and
no Python runs per row.

A malformed row never crashes the run blindly and never vanishes silently:

- ``on_malformed: fail`` (default) stops with a ``DataError`` located at ``<path> line N``
  that says what is wrong (``expected 5 columns, got 7``). pyarrow reports row numbers only
  when it parses on one thread, so after a failure on the fast multi-threaded path the file is
  read again on one thread up to the failure, to name the line.
- ``on_malformed: quarantine`` parses on one thread with an invalid-row handler: each row with
  the wrong number of fields is appended to the quarantine CSV (columns ``line, reason,
  text``) and returned as ``SourceBatch.rejected`` so the runner counts it. Values that do not
  convert to a declared column type still fail the run (the row is well-formed; the data or
  the declared type is wrong).

pyarrow numbers records from the top of the file without counting blank lines; errors map
that number back to the physical line. With ``newlines_in_values: true`` (or a UTF-16/32
encoding) a record may not start on its own line, so locations say ``record N`` instead.

Column types not declared in ``columns`` are inferred from the first block only: pyarrow's
streaming reader then fixes the schema, and a later value that does not fit (text in a column
inferred as int64) fails the read rather than widening the type. ``peek_schema`` opens the
reader exactly as ``read`` does and returns that schema, so it parses one block, never the file.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import structlog
from pydantic import Field, field_validator, model_validator

from tidegate.core.protocols import REASON_COLUMN, SourceBatch
from tidegate.errors import ConfigError, DataError, TidegateError, shown_value, values_shown
from tidegate.sources._files import (
    RecordLines,
    existing_file,
    head_bytes,
    not_text_error,
    readable_check,
)
from tidegate.sources._types import parse_types
from tidegate.spec.settings import PluginSettings
from tidegate.spec.types import TYPE_NAMES, ColumnTypes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check

__all__ = ["CsvSettings", "CsvSource"]

log = structlog.get_logger(__name__)

_ROW = re.compile(r"Row #(\d+)")
_COLUMN = re.compile(r"In CSV column #(\d+)")
_CONVERSION = re.compile(r"CSV conversion error to ([^:]+): invalid value '(.*)'", re.DOTALL)
_CONVERTING = re.compile(r"Error converting '(.*)' to ([^:]+): (.*)", re.DOTALL)
_COUNT = re.compile(r"Expected (\d+) columns, got (\d+)(?:: (.*))?", re.DOTALL)

REJECTED_SCHEMA = pa.schema(
    [("line", pa.int64()), ("text", pa.string()), (REASON_COLUMN, pa.string())]
)
"""Schema of ``SourceBatch.rejected`` for quarantined CSV rows."""


class CsvSettings(PluginSettings):
    """Settings of the ``csv`` source."""

    path: str = Field(description="CSV file to read (.gz/.bz2/.zst are decompressed)")
    delimiter: str = Field(",", description="Field separator, one character")
    quote_char: str | None = Field('"', description="Quote character; null disables quoting")
    escape_char: str | None = Field(
        None, description="Escape character inside quoted values; null means doubled quotes"
    )
    encoding: str = Field(
        "utf-8",
        description="Text encoding: utf-8 (a BOM is stripped), utf-8-sig, latin-1, cp1252, …",
    )
    header: bool = Field(True, description="Whether the first row holds column names")
    column_names: list[str] | None = Field(
        None, description="Column names; required when header is false, else replace the header"
    )
    null_values: list[str] | None = Field(
        None,
        description="Strings read as null (also in string columns); default pyarrow's list "
        "('', 'NULL', 'null', 'NA', 'N/A', 'NaN', …) for non-string columns only",
    )
    columns: ColumnTypes = Field(
        default_factory=dict,
        description=f"Explicit column types, name -> type ({TYPE_NAMES}); others are inferred",
    )
    skip_rows: int = Field(0, ge=0, description="Rows to skip at the top, before the header")
    block_size: int = Field(
        2 << 20, ge=1024, description="Bytes parsed per batch; bounds memory (default 2 MiB)"
    )
    on_malformed: Literal["fail", "quarantine"] = Field(
        "fail",
        description="Rows with a wrong field count: fail the run, or quarantine them and go on",
    )
    quarantine_path: str | None = Field(
        None,
        description="Quarantine CSV (line, reason, text), rewritten each run; default "
        ".tidegate/quarantine/<file stem>.malformed.csv",
    )
    newlines_in_values: bool = Field(
        False, description="Allow line breaks inside quoted values (slower to parse)"
    )

    @field_validator("delimiter", "quote_char", "escape_char")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"must be exactly one character, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; use utf-8, latin-1, cp1252, …") from None
        return value

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvSettings:
        if not self.header and not self.column_names:
            raise ValueError("header is false, so column_names must list the columns")
        return self


def _skip_row(_row: Any) -> str:
    """An invalid-row handler that sets nothing aside: the row is skipped, as in quarantine."""
    return "skip"


@dataclass(slots=True)
class _Quarantine:
    """Collects invalid rows from pyarrow's handler and writes them to the quarantine file."""

    path: Path
    lines: RecordLines
    line_word: str
    quote_char: str | None
    pending: list[tuple[int, str, str]]
    written: int = 0
    _handle: io.TextIOWrapper | None = None

    def handle(self, row: Any) -> str:
        """pyarrow's ``invalid_row_handler``: remember the row, tell pyarrow to skip it."""
        reason = f"expected {row.expected_columns} columns, got {row.actual_columns}"
        if self.quote_char and row.text.count(self.quote_char) % 2 == 1:
            reason += " (unterminated quoted value)"
        self.pending.append((row.number or 0, row.text, reason))
        return "skip"

    def drain(self) -> pa.RecordBatch | None:
        """Write pending rows to the file and return them as a rejected batch."""
        if not self.pending:
            return None
        rows, self.pending = self.pending, []
        located = [
            (self.lines.line_of(number) if self.line_word == "line" else number, text, reason)
            for number, text, reason in rows
        ]
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            pycsv.writer(self._handle).writerow(["line", "reason", "text"])
        writer = pycsv.writer(self._handle)
        writer.writerows((line, reason, text) for line, text, reason in located)
        self._handle.flush()
        self.written += len(located)
        return pa.RecordBatch.from_arrays(
            [
                pa.array([row[0] for row in located], type=pa.int64()),
                pa.array([row[1] for row in located], type=pa.string()),
                pa.array([row[2] for row in located], type=pa.string()),
            ],
            schema=REJECTED_SCHEMA,
        )

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class CsvSource:
    """Reads one CSV file as a stream of RecordBatches of about ``block_size`` bytes each."""

    kind: ClassVar[str] = "csv"
    Settings: ClassVar[type[PluginSettings]] = CsvSettings

    def __init__(self, settings: CsvSettings) -> None:
        self.settings = settings
        self._types = parse_types(settings.columns)
        name = codecs.lookup(settings.encoding).name
        # pyarrow strips a UTF-8 BOM itself and reads UTF-8 natively; any other name would
        # send every block through a Python codec.
        self._encoding = "utf8" if name in ("utf-8", "utf-8-sig") else settings.encoding
        self._ascii_compatible = "\n".encode(name) == b"\n" and "a,".encode(name) == b"a,"

    def describe(self) -> str:
        return f"csv:{self.settings.path}"

    @property
    def _line_word(self) -> str:
        if self.settings.newlines_in_values or not self._ascii_compatible:
            return "record"
        return "line"

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Check that the input file(s) exist and can be read."""
        yield readable_check(ctx, self.settings.path, self.describe())

    def peek_schema(self, ctx: RunContext) -> pa.Schema:
        """The schema of every batch, from the header and the first block's inferred types.

        Malformed rows in the first block fail (or, when quarantined, are skipped) as in
        ``read``, since they take part in the inference; nothing is written to the quarantine.
        """
        path = self._checked_path(ctx)
        quarantining = self.settings.on_malformed == "quarantine"
        try:
            reader = self._started(path, on_invalid=_skip_row if quarantining else None)
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._failure(path, exc) from exc
        schema: pa.Schema = reader.schema
        reader.close()
        return schema

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        path = self._checked_path(ctx)
        quarantine: _Quarantine | None = None
        if self.settings.on_malformed == "quarantine":
            target = self.settings.quarantine_path or (
                f".tidegate/quarantine/{path.name.split('.')[0]}.malformed.csv"
            )
            quarantine = _Quarantine(
                path=ctx.resolve(target),
                lines=RecordLines(path),
                line_word=self._line_word,
                quote_char=self.settings.quote_char,
                pending=[],
            )
            quarantine.path.unlink(missing_ok=True)
        try:
            yield from self._stream(path, quarantine)
        finally:
            if quarantine is not None:
                quarantine.close()
                if quarantine.written:
                    log.warning(
                        "csv_rows_quarantined",
                        path=str(path),
                        rows=quarantine.written,
                        quarantine=str(quarantine.path),
                    )

    def _checked_path(self, ctx: RunContext) -> Path:
        """The resolved file, refused when missing or when it is clearly not text."""
        path = existing_file(ctx, self.settings.path)
        if self._ascii_compatible:
            problem = not_text_error(path, head_bytes(path), expected="CSV")
            if problem is not None:
                raise problem
        return path

    def _started(
        self, path: Path, *, on_invalid: Callable[[Any], str] | None
    ) -> pacsv.CSVStreamingReader:
        """The reader as ``read`` uses it, its schema checked against the declared columns.

        Opening parses the first block and fixes the schema; with an invalid-row handler the
        file is parsed on one thread, as pyarrow only reports row numbers then.
        """
        reader = self._open(path, threads=on_invalid is None, on_invalid=on_invalid)
        self._check_schema(path, reader.schema)
        return reader

    def _failure(self, path: Path, exc: pa.ArrowInvalid | OSError) -> TidegateError:
        """The located error for a failure of pyarrow's reader on ``path``."""
        if isinstance(exc, pa.ArrowInvalid):
            return self._explain(path, exc)
        return ConfigError(
            f"cannot read file: {exc}",
            location=str(path),
            hint="check the file's permissions and that it is not being written",
        )

    def _stream(self, path: Path, quarantine: _Quarantine | None) -> Iterator[SourceBatch]:
        rows = 0
        try:
            reader = self._started(
                path, on_invalid=quarantine.handle if quarantine is not None else None
            )
            for batch in reader:
                rows += batch.num_rows
                rejected = quarantine.drain() if quarantine is not None else None
                if not self.settings.newlines_in_values:
                    set_aside = quarantine.written if quarantine is not None else 0
                    self._check_last_row(path, batch, record=rows + set_aside)
                yield SourceBatch(batch, {"rows": rows}, rejected)
            rejected = quarantine.drain() if quarantine is not None else None
            if rows == 0 or rejected is not None:
                empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
                yield SourceBatch(empty, {"rows": rows}, rejected)
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._failure(path, exc) from exc

    def _open(
        self,
        path: Path,
        *,
        threads: bool,
        on_invalid: Callable[[Any], str] | None = None,
        extra_types: dict[str, pa.DataType] | None = None,
    ) -> pacsv.CSVStreamingReader:
        s = self.settings
        read_options = pacsv.ReadOptions(
            use_threads=threads,
            block_size=s.block_size,
            skip_rows=s.skip_rows,
            column_names=s.column_names,
            autogenerate_column_names=False,
            encoding=self._encoding,
        )
        if s.header and s.column_names:
            # explicit names replace the header line, which is then skipped as data
            read_options.skip_rows_after_names = 1
        parse_options = pacsv.ParseOptions(
            delimiter=s.delimiter,
            quote_char=s.quote_char if s.quote_char is not None else False,
            escape_char=s.escape_char if s.escape_char is not None else False,
            double_quote=s.escape_char is None,
            newlines_in_values=s.newlines_in_values,
            invalid_row_handler=on_invalid,
        )
        convert = pacsv.ConvertOptions(column_types={**self._types, **(extra_types or {})})
        if s.null_values is not None:
            convert.null_values = s.null_values
            convert.strings_can_be_null = True
        return pacsv.open_csv(
            str(path),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert,
        )

    def _check_schema(self, path: Path, schema: pa.Schema) -> None:
        missing = [name for name in self._types if name not in schema.names]
        if missing:
            raise ConfigError(
                f"columns declared in `columns` are not in the file: {', '.join(missing)}",
                location=str(path),
                hint=f"the file has: {', '.join(schema.names)}",
            )
        undeclared_binary = [
            f.name for f in schema if pa.types.is_binary(f.type) and f.name not in self._types
        ]
        if undeclared_binary and self._encoding == "utf8":
            # pyarrow infers binary for text that is not valid UTF-8; name the line instead
            retry = dict.fromkeys(undeclared_binary, pa.string())
            message = self._first_failure(path, extra_types=retry)
            raise self._explain(path, pa.ArrowInvalid(message or "invalid UTF8 data"))

    def _check_last_row(self, path: Path, batch: pa.RecordBatch, *, record: int) -> None:
        """Refuse a quoted value that swallowed line breaks although they are not allowed.

        pyarrow lets an unterminated quote run to the end of the block and returns the rest
        of the block as one value of the block's last row; checking that row is O(1).
        """
        if batch.num_rows == 0:
            return
        last = batch.slice(batch.num_rows - 1, 1)
        for name, column in zip(last.schema.names, last.columns, strict=True):
            if not pa.types.is_string(column.type):
                continue
            value = column[0].as_py()
            if value is not None and "\n" in value:
                record += self.settings.skip_rows + (1 if self.settings.header else 0)
                where = (
                    f"{path} line {RecordLines(path).line_of(record)}"
                    if self._line_word == "line"
                    else f"{path} record {record}"
                )
                raise DataError(
                    f"column {name!r}: unterminated quoted value swallows the lines after it",
                    location=where,
                    hint="close the quote; set `newlines_in_values: true` if quoted values "
                    "may span lines",
                )

    def _first_failure(self, path: Path, extra_types: dict[str, pa.DataType] | None) -> str:
        """Read the file again on one thread to get pyarrow's message with a row number."""
        try:
            for _ in self._open(path, threads=False, extra_types=extra_types):
                pass
        except pa.ArrowInvalid as exc:
            return str(exc)
        return ""

    def _explain(self, path: Path, exc: pa.ArrowInvalid) -> DataError:
        """Turn pyarrow's message into a located ``DataError`` with a hint."""
        message = str(exc)
        if _ROW.search(message) is None and "Empty CSV file" not in message:
            message = self._first_failure(path, None) or message
        where = str(path)
        if match := _ROW.search(message):
            record = int(match.group(1))
            if self._line_word == "line":
                where = f"{path} line {RecordLines(path).line_of(record)}"
            else:
                where = f"{path} record {record}"
        column = None
        if match := _COLUMN.search(message):
            column = self._column_name(path, int(match.group(1)))
        if "Empty CSV file" in message:
            return DataError(
                "file is empty: there is no header line",
                location=where,
                hint="check that the export finished; set header: false and column_names "
                "if the file has no header",
            )
        if "invalid UTF8" in message:
            return DataError(
                f"text in column {column!r} is not valid UTF-8",
                location=where,
                hint="set `encoding: latin-1` (or cp1252) if the file is not UTF-8",
            )
        if match := _CONVERSION.search(message):
            type_name, value = match.groups()
            return DataError(
                f"column {column!r}: value {shown_value(value)} is not a valid {type_name}",
                location=where,
                hint="fix the value, list it in null_values, or declare the column as "
                f"`{column}: string` in `columns`",
            )
        if match := _CONVERTING.search(message):
            value, type_name, why = match.groups()
            return DataError(
                f"column {column!r}: value {shown_value(value)} cannot be read as {type_name} "
                f"({why.strip() if values_shown() else 'hidden by governance'})",
                location=where,
                hint=f"fix the value or change the declared type of {column!r} in `columns`",
            )
        return self._other_error(message, where, column)

    def _other_error(self, message: str, where: str, column: str | None) -> DataError:
        if match := _COUNT.search(message):
            expected, got, text = match.groups()
            detail = f"expected {expected} columns, got {got}"
            quote = self.settings.quote_char
            if quote and text and text.count(quote) % 2 == 1:
                detail += " (unterminated quoted value)"
            hint = "fix the row, or set `on_malformed: quarantine` to set such rows aside"
            if not self.settings.newlines_in_values and quote and text and quote in text:
                hint += "; set `newlines_in_values: true` if quoted values span lines"
            return DataError(detail, location=where, hint=hint)
        detail = _COLUMN.sub("", _ROW.sub("", message.splitlines()[0] if message else ""))
        detail = detail.replace("CSV parse error:", "").strip(" :") or "unknown error"
        if column is not None:
            return DataError(
                f"column {column!r}: {detail}",
                location=where,
                hint=f"fix the value or change the declared type of {column!r} in `columns`",
            )
        return DataError(
            f"cannot parse CSV: {detail}",
            location=where,
            hint="check delimiter, quote_char and encoding against the file",
        )

    def _column_name(self, path: Path, index: int) -> str:
        s = self.settings
        if s.column_names:
            return s.column_names[index] if index < len(s.column_names) else f"#{index}"
        try:
            text = head_bytes(path, 1 << 20).decode(self._encoding, errors="replace")
            rows = pycsv.reader(
                io.StringIO(text.lstrip("\ufeff")),
                delimiter=s.delimiter,
                quotechar=s.quote_char or '"',
                quoting=pycsv.QUOTE_MINIMAL if s.quote_char else pycsv.QUOTE_NONE,
            )
            for _ in range(s.skip_rows):
                next(rows)
            names = next(rows)
        except (StopIteration, pycsv.Error, OSError):
            return f"#{index}"
        return names[index] if index < len(names) else f"#{index}"
