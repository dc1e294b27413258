"""Parse the type names used in step settings (``int64``, ``decimal128(12,2)`` …) to Arrow types.

The names are Arrow's own (``timestamp[us, tz=UTC]``, ``time64[us]``), plus a few common SQL
spellings (``integer``, ``varchar``, ``boolean``). Kept self-contained so any step can use it.
"""

from __future__ import annotations

import re

import pyarrow as pa

__all__ = ["TYPE_EXAMPLES", "parse_type"]

TYPE_EXAMPLES = (
    "int64, int32, double, float32, string, bool, date32, timestamp[us], "
    "timestamp[ms, tz=UTC], time64[us], decimal128(12,2), binary"
)

_SIMPLE: dict[str, pa.DataType] = {
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "int": pa.int64(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "float16": pa.float16(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "real": pa.float32(),
    "string": pa.string(),
    "str": pa.string(),
    "utf8": pa.string(),
    "text": pa.string(),
    "varchar": pa.string(),
    "large_string": pa.large_string(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "date32": pa.date32(),
    "date64": pa.date64(),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "blob": pa.binary(),
}

_UNIT = r"(s|ms|us|ns)"
_TIMESTAMP = re.compile(rf"^timestamp\[{_UNIT}(?:,\s*tz=([^\]]+))?\]$", re.IGNORECASE)
_TIME = re.compile(r"^time(32|64)\[(s|ms|us|ns)\]$")
_DURATION = re.compile(rf"^duration\[{_UNIT}\]$")
_DECIMAL = re.compile(r"^(decimal|decimal128|decimal256|numeric)\((\d+)\s*,\s*(\d+)\)$")


def parse_type(text: str) -> pa.DataType:
    """The Arrow type named by ``text``; raises ``ValueError`` naming valid examples."""
    name = text.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    try:
        if match := _TIMESTAMP.match(text.strip()):  # the zone keeps its case: Europe/Berlin
            zone = match.group(2)
            return pa.timestamp(match.group(1).lower(), tz=zone.strip() if zone else None)
        if match := _TIME.match(name):
            bits, unit = match.groups()
            return pa.time32(unit) if bits == "32" else pa.time64(unit)
        if match := _DURATION.match(name):
            return pa.duration(match.group(1))
        if match := _DECIMAL.match(name):
            family, precision, scale = match.group(1), int(match.group(2)), int(match.group(3))
            if family == "decimal256" or precision > 38:
                return pa.decimal256(precision, scale)
            return pa.decimal128(precision, scale)
    except (ValueError, pa.ArrowException) as exc:
        raise ValueError(f"invalid type {text!r}: {exc}") from exc
    raise ValueError(f"unknown type {text!r}; use one of {TYPE_EXAMPLES}")
