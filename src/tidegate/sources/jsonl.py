"""The ``jsonl`` source: newline-delimited JSON read by pyarrow's streaming JSON reader.

``pyarrow.json.open_json`` parses ``block_size`` bytes at a time in C++; the schema comes from
the first block plus the declared ``columns``. pyarrow names a failing row only relative to
its block, so when it fails the file is scanned once more in Python, line by line, to find the
physical line and the field at fault (only on that error path).

Declared ``date32``/``date64``/``time64`` columns are read as JSON strings and cast, since the
JSON reader converts only numbers, booleans, strings, timestamps and decimals itself.

The reader fixes the schema after the first block: a field that changes type or first appears
later fails the read. So ``peek_schema`` opens the reader as ``read`` does, parses that one
block and conforms its schema to the declared columns like an empty result.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.json as pajson
from pydantic import Field

from tidegate.core.protocols import SourceBatch
from tidegate.errors import ConfigError, DataError, TidegateError, shown_value
from tidegate.sources._files import existing_file, head_bytes, not_text_error, readable_check
from tidegate.sources._types import conform, parse_types
from tidegate.spec.settings import PluginSettings
from tidegate.spec.types import TYPE_NAMES, ColumnTypes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check

__all__ = ["JsonlSettings", "JsonlSource"]

_CHANGED = re.compile(r"Column\(/([^)]*)\) changed from (\w+) to (\w+)")
_VALUE = re.compile(r"couldn't parse:(.*)$|The string '(.*)' is not a valid")


class JsonlSettings(PluginSettings):
    """Settings of the ``jsonl`` source."""

    path: str = Field(description="Newline-delimited JSON file, one object per line")
    columns: ColumnTypes = Field(
        default_factory=dict,
        description=f"Explicit column types, name -> type ({TYPE_NAMES}); others are inferred",
    )
    block_size: int = Field(
        4 << 20,
        ge=1024,
        description="Bytes parsed per batch; fields must appear in the first block (4 MiB)",
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


class JsonlSource:
    """Reads a JSON-lines file as a stream of RecordBatches."""

    kind: ClassVar[str] = "jsonl"
    Settings: ClassVar[type[PluginSettings]] = JsonlSettings

    def __init__(self, settings: JsonlSettings) -> None:
        self.settings = settings
        self._types = parse_types(settings.columns)

    def describe(self) -> str:
        return f"jsonl:{self.settings.path}"

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Check that the input file(s) exist and can be read."""
        yield readable_check(ctx, self.settings.path, self.describe())

    def peek_schema(self, ctx: RunContext) -> pa.Schema:
        """The schema of every batch: the first block's fields with the declared types."""
        path = self._checked_path(ctx)
        try:
            reader = self._open(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._failure(path, exc, None) from exc
        schema: pa.Schema = self._empty(reader.schema, path).schema
        reader.close()
        return schema

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        path = self._checked_path(ctx)
        rows = 0
        schema: pa.Schema | None = None
        try:
            reader = self._open(path)
            for raw in reader:
                batch = conform(raw, declared=self._types, established=schema, location=str(path))
                schema = batch.schema
                rows += batch.num_rows
                yield SourceBatch(batch, {"rows": rows})
            if rows == 0:
                yield SourceBatch(self._empty(reader.schema, path), {"rows": 0})
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._failure(path, exc, schema) from exc

    def _checked_path(self, ctx: RunContext) -> Path:
        """The resolved file, refused when missing or when it is clearly not text."""
        path = existing_file(ctx, self.settings.path)
        problem = not_text_error(path, head_bytes(path), expected="JSON lines")
        if problem is not None:
            raise problem
        return path

    def _open(self, path: Path) -> pajson.JSONStreamingReader:
        """pyarrow's reader, which parses the first block and fixes the schema on opening."""
        native = {
            name: (pa.string() if pa.types.is_temporal(t) and not pa.types.is_timestamp(t) else t)
            for name, t in self._types.items()
        }
        return pajson.open_json(
            str(path),
            read_options=pajson.ReadOptions(block_size=self.settings.block_size),
            parse_options=pajson.ParseOptions(
                explicit_schema=pa.schema(list(native.items())),
                unexpected_field_behavior="infer",
            ),
        )

    def _empty(self, schema: pa.Schema, path: Path) -> pa.RecordBatch:
        """A batch without rows, shaped like the batches read from a file of ``schema``."""
        empty = pa.RecordBatch.from_pylist([], schema=schema)
        return conform(empty, declared=self._types, established=None, location=str(path))

    def _failure(
        self, path: Path, exc: pa.ArrowInvalid | OSError, schema: pa.Schema | None
    ) -> TidegateError:
        """The located error for a failure of pyarrow's reader after batches of ``schema``."""
        if isinstance(exc, pa.ArrowInvalid):
            return self._explain(path, exc, schema)
        return ConfigError(
            f"cannot read file: {exc}", location=str(path), hint="check the file's permissions"
        )

    def _explain(self, path: Path, exc: pa.ArrowInvalid, schema: pa.Schema | None) -> DataError:
        message = str(exc).splitlines()[0] if str(exc) else "unknown error"
        if "Empty JSON" in message:  # "Empty JSON file" or, in newer pyarrow, "... stream"
            return DataError("file is empty", location=str(path), hint="check the export")
        if match := _CHANGED.search(message):
            field = match.group(1)
            return self._changed_type(path, field)
        if "unexpected field" in message:
            known = set(schema.names if schema is not None else ()) | set(self._types)
            found = _scan(path, lambda obj: next((k for k in obj if k not in known), None))
            if found is not None:
                line, field = found
                return DataError(
                    f"field {field!r} first appears after the first block of the file",
                    location=f"{path} line {line}",
                    hint=f"declare it in `columns` (e.g. {field}: string) or raise block_size",
                )
        if match := _VALUE.search(message):
            value = match.group(1) or match.group(2) or ""
            found = _scan(
                path,
                lambda obj: next((k for k, v in obj.items() if str(v) == value), None),
            )
            if found is not None:
                line, field = found
                return DataError(
                    f"field {field!r}: value {shown_value(value)} cannot be read as "
                    f"{self._types.get(field, 'the inferred type')}",
                    location=f"{path} line {line}",
                    hint=f"fix the value or change the declared type of {field!r} in `columns`",
                )
        syntax = _first_invalid_line(path)
        if syntax is not None:
            line, detail = syntax
            return DataError(
                f"invalid JSON: {detail}",
                location=f"{path} line {line}",
                hint="each line must hold one complete JSON object",
            )
        return DataError(
            f"cannot read JSON lines: {message}",
            location=str(path),
            hint="each line must hold one JSON object with consistently typed fields",
        )

    def _changed_type(self, path: Path, field: str) -> DataError:
        declared = self._types.get(field)
        first_kind: list[str] = []

        def differs(obj: dict[str, Any]) -> str | None:
            kind = _json_kind(obj.get(field))
            if kind == "null":
                return None
            if declared is None and not first_kind:
                first_kind.append(kind)
                return None
            expected = first_kind[0] if first_kind else _expected_kind(declared)
            return kind if kind != expected else None

        found = _scan(path, differs)
        expected = first_kind[0] if first_kind else _expected_kind(declared)
        if found is None:
            return DataError(
                f"field {field!r} changes JSON type within the file",
                location=str(path),
                hint=f"declare it in `columns` (e.g. {field}: string)",
            )
        line, kind = found
        return DataError(
            f"field {field!r} holds a {kind} where a {expected} was expected",
            location=f"{path} line {line}",
            hint=f"fix the value, or declare the column's type in `columns` (e.g. {field}: string)",
        )


def _expected_kind(declared: pa.DataType | None) -> str:
    if declared is None:
        return "value"
    if pa.types.is_boolean(declared):
        return "boolean"
    if pa.types.is_integer(declared) or pa.types.is_floating(declared):
        return "number"
    return "string"


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with pa.input_stream(str(path), compression="detect") as stream:
        carry = b""
        number = 0
        while chunk := stream.read(1 << 20):
            parts = (carry + chunk).split(b"\n")
            carry = parts.pop()
            for part in parts:
                number += 1
                yield number, part
        if carry:
            yield number + 1, carry


def _scan(path: Path, test: Callable[[dict[str, Any]], str | None]) -> tuple[int, str] | None:
    """The first line (and what ``test`` found in it) whose object ``test`` flags."""
    for number, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            return None
        if isinstance(obj, dict) and (found := test(obj)) is not None:
            return number, found
    return None


def _first_invalid_line(path: Path) -> tuple[int, str] | None:
    for number, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            return number, str(exc)
        if not isinstance(obj, dict):
            return number, f"expected an object, got a {_json_kind(obj)}"
    return None
