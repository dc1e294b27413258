"""Column type strings of pipeline settings (``int64``, ``decimal(12,2)``, …) -> Arrow types.

Sources (``columns`` of csv, jsonl, sql, rest) and the ``cast`` step name column types as short
strings in pipeline.yaml. This is the one parser for them, in ``spec`` because both concern
packages may import it. The vocabulary is Arrow's own names (``float32``, ``time64[us]``,
``timestamp[ms, tz=Europe/Berlin]``) plus common SQL spellings (``integer``, ``varchar``,
``numeric(12,2)``); where the two differ, Arrow and DuckDB win (``float`` is float32).

``ColumnTypes`` is the field type of a ``name -> type`` setting: an unknown type string is
refused when the pipeline is loaded, so the loader reports it at ``file:line``.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated

import pyarrow as pa
from pydantic import AfterValidator

__all__ = ["TYPE_NAMES", "ColumnTypes", "parse_type"]

TYPE_NAMES = (
    "int8 (tinyint), int16 (smallint), int32 (integer), int64 (bigint, int), uint8..uint64, "
    "float32 (float, real), float64 (double), float16, "
    "decimal(precision,scale) (numeric, decimal128, decimal256), "
    "string (str, text, varchar, utf8), large_string, bool (boolean), date32 (date), date64, "
    "time64[us|ns] (time = time64[us]), time32[s|ms], "
    "timestamp[s|ms|us|ns] (timestamp = timestamp[us]; with a zone: timestamp[us, tz=UTC]), "
    "duration[s|ms|us|ns], binary (blob), large_binary, null"
)
"""The accepted type strings, for error messages, hints and field descriptions."""

_SIMPLE: dict[str, pa.DataType] = {
    "int8": pa.int8(),
    "tinyint": pa.int8(),
    "int16": pa.int16(),
    "smallint": pa.int16(),
    "int32": pa.int32(),
    "integer": pa.int32(),
    "int64": pa.int64(),
    "bigint": pa.int64(),
    "int": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float": pa.float32(),
    "real": pa.float32(),
    "float64": pa.float64(),
    "double": pa.float64(),
    "string": pa.string(),
    "str": pa.string(),
    "text": pa.string(),
    "varchar": pa.string(),
    "utf8": pa.string(),
    "large_string": pa.large_string(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "date32": pa.date32(),
    "date64": pa.date64(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
    "blob": pa.binary(),
    "large_binary": pa.large_binary(),
    "null": pa.null(),
}
_USE_ONE_OF = f"; use one of: {TYPE_NAMES}"
_DECIMAL128_DIGITS = 38
_DECIMAL256_DIGITS = 76

_UNIT = r"\s*(s|ms|us|ns)\s*"
# Matched against the text as written, not lowercased: a zone keeps its case (Europe/Berlin).
_TIMESTAMP = re.compile(
    rf"^timestamp\[{_UNIT}(?:,\s*tz\s*=\s*([^\]\s][^\]]*?)\s*)?\]$", re.IGNORECASE
)
_TIME = re.compile(rf"^time(32|64)\[{_UNIT}\]$")
_DURATION = re.compile(rf"^duration\[{_UNIT}\]$")
_DECIMAL = re.compile(r"^(decimal|numeric|decimal128|decimal256)\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$")


def parse_type(text: str) -> pa.DataType:
    """The Arrow type named by ``text`` (case and surrounding spaces do not matter).

    Raises ``ValueError`` naming ``text`` and listing the valid type strings.
    """
    name = text.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    if match := _TIMESTAMP.match(text.strip()):
        unit, zone = match.groups()
        return pa.timestamp(unit.lower(), tz=zone)
    if match := _TIME.match(name):
        bits, unit = match.groups()
        if bits == "32" and unit in ("s", "ms"):
            return pa.time32(unit)
        if bits == "64" and unit in ("us", "ns"):
            return pa.time64(unit)
        units = "s or ms" if bits == "32" else "us or ns"
        other = "time64[us]" if bits == "32" else "time32[ms]"
        raise ValueError(f"invalid type {text!r}: time{bits} takes {units}; use {other}")
    if match := _DURATION.match(name):
        return pa.duration(match.group(1))
    if match := _DECIMAL.match(name):
        return _decimal(text, match.group(1), int(match.group(2)), int(match.group(3)))
    near = difflib.get_close_matches(name, _SIMPLE, n=1, cutoff=0.75)
    guess = f" (did you mean {near[0]!r}?)" if near else ""
    raise ValueError(f"unknown type {text!r}{guess}{_USE_ONE_OF}")


def _decimal(text: str, family: str, precision: int, scale: int) -> pa.DataType:
    """``decimal``/``numeric`` widen to decimal256 above 38 digits; the sized names do not."""
    widest = _DECIMAL128_DIGITS if family == "decimal128" else _DECIMAL256_DIGITS
    if not 1 <= precision <= widest:
        instead = " (decimal256 holds up to 76)" if family == "decimal128" else ""
        raise ValueError(
            f"invalid type {text!r}: {family} precision must be 1 to {widest}{instead}"
        )
    if family == "decimal256" or precision > _DECIMAL128_DIGITS:
        return pa.decimal256(precision, scale)
    return pa.decimal128(precision, scale)


def _known_type(text: str) -> str:
    """Refuse a type string that does not parse; pydantic locates it at the column's own key."""
    parse_type(text)
    return text


ColumnTypes = dict[str, Annotated[str, AfterValidator(_known_type)]]
"""A ``column -> type string`` setting; unknown type strings are refused at load."""
