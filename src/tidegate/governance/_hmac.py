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
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

__all__ = ["hmac_hex", "hmac_int", "repeats"]

_BLOCK = 64
"""SHA-256's block size in bytes: the HMAC key is padded (or first hashed) to this length."""

_INPUT = "_tidegate_mask_input"

_SAMPLE = 8192
"""Values looked at to decide whether hashing only the distinct values pays."""

_BITS = 60
"""Bits of the digest kept by ``hmac_int``: 15 hex digits, a non-negative int64."""

_SHIFTS = np.arange(_BITS - 4, -4, -4, dtype=np.int64)

_NIBBLE = np.zeros(256, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)

_SLICE = 16_384
"""Fewest values worth a thread of their own; a batch is cut into at most one slice per core."""

_local = threading.local()
_lock = threading.Lock()
_pool: list[ThreadPoolExecutor] = []


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's own in-memory database, kept for the thread's life (a pool thread's).

    Cursors of one database serialize their queries; a database per thread lets the slices of
    a column hash on every core at once.
    """
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        con = duckdb.connect(":memory:", config={"threads": 1})
        _local.con = con
    return con


def _workers() -> ThreadPoolExecutor:
    """The threads that hash slices, started on first use and kept, with their databases."""
    with _lock:
        if not _pool:
            _pool.append(
                ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="hmac")
            )
        return _pool[0]


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of RFC 2104."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    return inner, outer


def repeats(values: pa.Array) -> bool:
    """Whether a sample of ``values`` holds each distinct value at least twice on average."""
    sample = values.slice(0, _SAMPLE)
    distinct: int = pc.count_distinct(sample).as_py()
    return 2 * distinct < len(sample)


def _over_distinct(
    values: pa.Array, key: bytes, finish: Callable[[pa.Array], pa.Array] | None = None
) -> pa.Array:
    """The HMAC hex digest of every value, passed through ``finish``; null stays null.

    ``finish`` runs before the digests are spread back over repeated values, so it pays once
    per distinct value.
    """
    if repeats(values):
        encoded = pc.dictionary_encode(values)
        digests = _hashed(encoded.dictionary, key)
        return pc.take(digests if finish is None else finish(digests), encoded.indices)
    digests = _hashed(values, key)
    return digests if finish is None else finish(digests)


def _hashed(values: pa.Array, key: bytes) -> pa.Array:
    """The HMAC hex digests of ``values`` in order, slices hashed side by side on the pool."""
    slices = max(1, min(os.cpu_count() or 1, len(values) // _SLICE))
    size = max(1, -(-len(values) // slices))
    parts = [values.slice(start, size) for start in range(0, len(values), size)] or [values]
    pads = _pads(key)
    # Always on the pool, even one slice: its threads live on, and so do their databases.
    done = list(_workers().map(lambda part: _query(part, pads), parts))
    return done[0] if len(done) == 1 else pa.concat_arrays(done)


def _query(values: pa.Array, pads: tuple[bytes, bytes]) -> pa.Array:
    """One DuckDB query over ``values``, on the calling thread's database."""
    inner, outer = pads
    con = _connection()
    con.register(_INPUT, pa.table({"v": values}))
    sql = f"SELECT sha256($outer || unhex(sha256($inner || encode(v)))) AS h FROM {_INPUT}"
    params: dict[str, Any] = {"outer": outer, "inner": inner}
    try:
        result: pa.Array = con.sql(sql, params=params).to_arrow_table().column("h").combine_chunks()
    finally:
        con.unregister(_INPUT)
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
    return _over_distinct(_as_strings(values), key)


def hmac_int(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """The first 60 bits of each value's HMAC-SHA-256 as a non-negative int64; null stays null.

    60 bits keep the number positive in a signed 64-bit integer, and collisions between two
    distinct values stay as unlikely as 1 in 2**60.
    """
    return _over_distinct(_as_strings(values), key, _leading_bits)


def _leading_bits(digests: pa.Array) -> pa.Array:
    """The first 15 hex digits of each digest as an int64, parsed with numpy."""
    offsets = np.frombuffer(digests.buffers()[1], dtype=np.int32)
    offsets = offsets[digests.offset : digests.offset + len(digests)]
    text = np.frombuffer(digests.buffers()[2] or b"0", dtype=np.uint8)
    # A null row has no digits: its start may be the end of the data, so clip; it stays null.
    where = np.minimum(offsets[:, None] + np.arange(_BITS // 4), len(text) - 1)
    nibbles = _NIBBLE[text[where]].astype(np.int64)
    numbers = (nibbles << _SHIFTS).sum(axis=1)
    return pa.array(numbers, type=pa.int64(), mask=digests.is_null().to_numpy(zero_copy_only=False))
