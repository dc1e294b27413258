"""HMAC-SHA-256 over a whole Arrow column at once, computed by DuckDB.

Python's ``hmac``/``hashlib`` work one value at a time, so hashing a million values costs a
million interpreter round trips. DuckDB has a vectorized, multi-threaded ``sha256`` that reads
Arrow without copying; HMAC is two SHA-256 passes over padded keys (RFC 2104), so it is written
here as one SQL expression, ``sha256(opad || unhex(sha256(ipad || value)))``. The padded keys
travel as bound parameters, never in the SQL text, so the key cannot reach a log or an error.

Columns often repeat values (names, cities, countries): when a sample of the column shows few
distinct values, the column is dictionary-encoded and only its distinct values are hashed, then
spread back with ``take``. A column of mostly unique values (emails, ids) skips that, since
encoding it would cost a third of the hashing and save nothing.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import duckdb

__all__ = ["hmac_hex", "hmac_int"]

_BLOCK = 64
"""SHA-256's block size in bytes: the HMAC key is padded (or first hashed) to this length."""

_INPUT = "_tidegate_mask_input"

_SAMPLE = 8192
"""Values looked at to decide whether hashing only the distinct values pays."""

_lock = threading.Lock()
_database: list[duckdb.DuckDBPyConnection] = []


def _connection() -> duckdb.DuckDBPyConnection:
    """A cursor on one shared in-memory database: a cursor each call keeps threads apart."""
    import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

    with _lock:
        if not _database:
            _database.append(duckdb.connect(":memory:"))
        return _database[0].cursor()


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of RFC 2104."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    return inner, outer


def _repeats(values: pa.Array) -> bool:
    """Whether a sample of ``values`` holds each distinct value at least twice on average."""
    sample = values.slice(0, _SAMPLE)
    distinct: int = pc.count_distinct(sample).as_py()
    return 2 * distinct < len(sample)


def _over_distinct(values: pa.Array, key: bytes, select: str) -> pa.Array:
    """Run ``select`` (an expression over the HMAC hex digest ``h``) on every value."""
    if _repeats(values):
        encoded = pc.dictionary_encode(values)
        return pc.take(_sql(encoded.dictionary, key, select), encoded.indices)
    return _sql(values, key, select)


def _sql(values: pa.Array, key: bytes, select: str) -> pa.Array:
    """``select`` over the HMAC hex digest ``h`` of each value, in order; null stays null."""
    inner, outer = _pads(key)
    con = _connection()
    try:
        con.register(_INPUT, pa.table({"v": values}))
        sql = (
            f"SELECT {select} AS r FROM (SELECT sha256($outer || unhex(sha256($inner || "
            f"encode(v)))) AS h FROM {_INPUT})"
        )
        params: dict[str, Any] = {"outer": outer, "inner": inner}
        result: pa.Array = con.sql(sql, params=params).to_arrow_table().column("r").combine_chunks()
    finally:
        con.close()
    return result


def _as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array: the digest of a value is the digest of its text form."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_large_string(values.type) or not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    return values


def hmac_hex(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """HMAC-SHA-256 of each value's UTF-8 text, as 64 lowercase hex digits; null stays null."""
    return _over_distinct(_as_strings(values), key, "h")


def hmac_int(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """The first 60 bits of each value's HMAC-SHA-256 as a non-negative int64; null stays null.

    60 bits keep the number positive in a signed 64-bit integer, and collisions between two
    distinct values stay as unlikely as 1 in 2**60.
    """
    return _over_distinct(_as_strings(values), key, "CAST('0x' || left(h, 15) AS BIGINT)")
