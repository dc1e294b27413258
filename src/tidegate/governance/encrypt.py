"""Field-level encryption of Arrow columns with AES-256-GCM.

Restricted columns must be stored encrypted (in quarantine so replay can restore them, and in
destinations whose policy says ``encrypt``). Each value is sealed on its own with a fresh
random 96-bit nonce, so equal values give unrelated ciphertexts, and each ciphertext is
self-describing: it names the key id and version that sealed it (keys can rotate) and the Arrow
type of the value (the column decrypts back to its original type). The table and column name
are bound as associated data, so a value copied into another column fails to decrypt.

Ciphertext layout, format version 1 (all of it before the nonce is the *header*)::

    offset   size   field
    0        1      format version, 0x01
    1        1      key id length k (1..64)
    2        k      key id, ASCII
    2+k      4      key version, unsigned big-endian
    6+k      4      key check value (HMAC-SHA-256 of a fixed label under the key, truncated)
    10+k     4      column fingerprint (SHA-256 of table and column name, truncated)
    14+k     1      type tag length t (1..255)
    15+k     t      Arrow type tag, ASCII ("int64", "timestamp[us,UTC]", "decimal128[10,2]")
    15+k+t   12     nonce
    27+k+t   n+16   AES-GCM ciphertext of the n plaintext bytes, then the 16-byte tag

The associated data is the header followed by the length-prefixed UTF-8 table and column
names, so changing any header byte, the table or the column makes authentication fail. The
key check value and column fingerprint are only there to turn that failure into a precise
message (wrong key, value moved from another column) without revealing anything useful.

The plaintext is the value's canonical bytes: UTF-8 for strings, the bytes for binary, and the
little-endian Arrow value bytes for fixed-width types (integers, floats, booleans as one byte,
decimals, dates, times, timestamps, durations). ``text=True`` gives standard base64 of the same
bytes in a string column, for destinations without a binary type.

AES-GCM works value by value, so this is the one hot path with a per-row loop; it is kept to
a single cipher call and a slice per value (one cipher object per key, nonces drawn from the
OS in one call, plaintexts sliced straight out of the Arrow buffers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import structlog

from tidegate.errors import DataError, SecurityError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from tidegate.governance.keys import Key, Keyring

__all__ = [
    "FORMAT_VERSION",
    "NONCE_BYTES",
    "TAG_BYTES",
    "decrypt_column",
    "encrypt_column",
    "new_nonces",
    "type_from_tag",
    "type_tag",
]

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16

_log = structlog.get_logger(__name__)

_SIMPLE_TYPES: dict[str, pa.DataType] = {
    str(t): t
    for t in (
        pa.bool_(),
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.uint8(),
        pa.uint16(),
        pa.uint32(),
        pa.uint64(),
        pa.float16(),
        pa.float32(),
        pa.float64(),
        pa.string(),
        pa.large_string(),
        pa.binary(),
        pa.large_binary(),
        pa.date32(),
        pa.date64(),
    )
}
_UNITS = ("s", "ms", "us", "ns")
_PARAM_TAG = re.compile(r"(?P<name>[a-z_0-9]+)\[(?P<args>[^\]]*)\]")


def type_tag(data_type: pa.DataType) -> str:
    """The short ASCII tag a ciphertext carries for its value's Arrow type."""
    name = str(data_type)
    if name in _SIMPLE_TYPES:
        return name
    if pa.types.is_timestamp(data_type):
        tz = f",{data_type.tz}" if data_type.tz else ""
        return f"timestamp[{data_type.unit}{tz}]"
    if pa.types.is_time32(data_type) or pa.types.is_time64(data_type):
        return f"{'time32' if pa.types.is_time32(data_type) else 'time64'}[{data_type.unit}]"
    if pa.types.is_duration(data_type):
        return f"duration[{data_type.unit}]"
    if pa.types.is_decimal128(data_type) or pa.types.is_decimal256(data_type):
        kind = "decimal128" if pa.types.is_decimal128(data_type) else "decimal256"
        return f"{kind}[{data_type.precision},{data_type.scale}]"
    if pa.types.is_fixed_size_binary(data_type):
        return f"fixed_size_binary[{data_type.byte_width}]"
    raise DataError(
        f"Arrow type {data_type} cannot be encrypted field by field",
        hint="cast the column to a string, binary, number, decimal, date or timestamp type "
        "before encrypting it",
    )


def type_from_tag(tag: str) -> pa.DataType:
    """The Arrow type a ciphertext's tag names (the inverse of :func:`type_tag`)."""
    if tag in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[tag]
    match = _PARAM_TAG.fullmatch(tag)
    if match is not None:
        name, args = match["name"], match["args"].split(",", 1)
        try:
            if name == "timestamp" and args[0] in _UNITS:
                return pa.timestamp(args[0], tz=args[1] if len(args) > 1 else None)
            if name in {"time32", "time64", "duration"} and args[0] in _UNITS:
                return {"time32": pa.time32, "time64": pa.time64, "duration": pa.duration}[name](
                    args[0]
                )
            if name == "decimal128":
                return pa.decimal128(int(args[0]), int(args[1]))
            if name == "decimal256":
                return pa.decimal256(int(args[0]), int(args[1]))
            if name == "fixed_size_binary":
                return pa.binary(int(args[0]))
        except (ValueError, IndexError, pa.ArrowException):
            pass
    raise SecurityError(
        f"ciphertext names an unknown value type {tag!r}",
        hint="the value was not written by this version of Tidegate or its header is damaged",
    )


def new_nonces(count: int) -> list[bytes]:
    """``count`` fresh random 96-bit nonces, drawn from the OS CSPRNG in one call.

    Random nonces are safe for AES-GCM up to about 2**32 values per key; rotate keys well
    before that (a new key version resets the count).
    """
    pool = os.urandom(count * NONCE_BYTES)
    return [pool[i : i + NONCE_BYTES] for i in range(0, count * NONCE_BYTES, NONCE_BYTES)]


def column_fingerprint(table: str, column: str) -> bytes:
    """Four bytes naming the (table, column) a value was sealed for, to diagnose moved values."""
    return hashlib.sha256(_names(table, column)).digest()[:4]


def _names(table: str, column: str) -> bytes:
    table_bytes, column_bytes = table.encode("utf-8"), column.encode("utf-8")
    return (
        struct.pack(">I", len(table_bytes))
        + table_bytes
        + struct.pack(">I", len(column_bytes))
        + column_bytes
    )


def _header(key: Key, fingerprint: bytes, tag: str) -> bytes:
    key_id, tag_bytes = key.key_id.encode("ascii"), tag.encode("ascii")
    return (
        bytes([FORMAT_VERSION, len(key_id)])
        + key_id
        + struct.pack(">I", key.version)
        + key.check
        + fingerprint
        + bytes([len(tag_bytes)])
        + tag_bytes
    )


def encrypt_column(
    array: pa.Array | pa.ChunkedArray,
    *,
    keyring: Keyring,
    table: str,
    column: str,
    key_id: str | None = None,
    text: bool = False,
) -> pa.Array | pa.ChunkedArray:
    """Encrypt every value of ``array`` for ``table.column``; nulls stay null.

    Uses the newest version of ``key_id`` (the keyring's default when omitted). Returns a
    binary array of self-describing ciphertexts, or base64 strings when ``text`` is true; a
    chunked array comes back chunked the same way.
    """
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array(
            [
                encrypt_column(
                    chunk, keyring=keyring, table=table, column=column, key_id=key_id, text=text
                )
                for chunk in array.chunks
            ],
            type=pa.string() if text else pa.binary(),
        )
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    key = keyring.newest(key_id)
    header = _header(key, column_fingerprint(table, column), type_tag(array.type))
    plaintexts, valid = _plaintexts(array)
    sealed = _seal(keyring.cipher(key), header, header + _names(table, column), plaintexts)
    _log.debug(
        "governance.encrypt.column",
        table=table,
        column=column,
        rows=len(array),
        encrypted=len(sealed),
        key_id=key.key_id,
        key_version=key.version,
    )
    if text:
        return _scatter_strings(
            [base64.b64encode(value) for value in sealed], valid, len(array), pa.string()
        )
    return _scatter_strings(sealed, valid, len(array), pa.binary())


def _seal(cipher: AESGCM, header: bytes, aad: bytes, plaintexts: list[bytes]) -> list[bytes]:
    seal = cipher.encrypt
    return [
        header + nonce + seal(nonce, plaintext, aad)
        for nonce, plaintext in zip(new_nonces(len(plaintexts)), plaintexts, strict=True)
    ]


def _valid_mask(array: pa.Array) -> np.ndarray:
    if array.null_count == 0:
        return np.ones(len(array), dtype=bool)
    return np.asarray(pc.is_valid(array).to_numpy(zero_copy_only=False), dtype=bool)


def _plaintexts(array: pa.Array) -> tuple[list[bytes], np.ndarray]:
    """The canonical bytes of every non-null value, sliced from the Arrow buffers, and the mask."""
    valid = _valid_mask(array)
    data_type = array.type
    if pa.types.is_boolean(data_type):
        array = pc.cast(array, pa.uint8())
        data_type = array.type
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        array = array.cast(
            pa.large_binary() if pa.types.is_large_string(data_type) else pa.binary()
        )
        data_type = array.type
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
        offsets_type = np.int64 if pa.types.is_large_binary(data_type) else np.int32
        buffers = array.buffers()
        offsets = np.frombuffer(buffers[1], dtype=offsets_type)[
            array.offset : array.offset + len(array) + 1
        ]
        data = buffers[2].to_pybytes() if buffers[2] is not None else b""
        starts = offsets[:-1][valid].tolist()
        ends = offsets[1:][valid].tolist()
        return [data[start:end] for start, end in zip(starts, ends, strict=True)], valid
    width = data_type.bit_width // 8
    values = np.frombuffer(array.buffers()[1], dtype=np.uint8)[
        array.offset * width : (array.offset + len(array)) * width
    ]
    packed = values.reshape(len(array), width)[valid].tobytes()
    return [packed[i : i + width] for i in range(0, len(packed), width)], valid


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    if bool(valid.all()):
        return None
    return pa.array(valid, type=pa.bool_()).buffers()[1]


def _scatter_strings(
    values: list[bytes], valid: np.ndarray, length: int, data_type: pa.DataType
) -> pa.Array:
    """A binary or string array holding ``values`` at the valid positions and nulls elsewhere."""
    lengths = np.zeros(length, dtype=np.int64)
    lengths[valid] = np.fromiter(
        (len(value) for value in values), dtype=np.int64, count=len(values)
    )
    large = pa.types.is_large_binary(data_type) or pa.types.is_large_string(data_type)
    offsets = np.zeros(length + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if not large and offsets[-1] > np.iinfo(np.int32).max:
        raise DataError(
            f"a batch of {length} values holds {int(offsets[-1])} bytes, past the 2 GiB a "
            f"{data_type} array can hold",
            hint="use smaller batches (batch_rows)",
        )
    return pa.Array.from_buffers(
        data_type,
        length,
        [
            _validity(valid),
            pa.py_buffer(offsets if large else offsets.astype(np.int32)),
            pa.py_buffer(b"".join(values)),
        ],
    )


@dataclass(frozen=True, slots=True)
class _Opened:
    """What one distinct header resolves to: the cipher, associated data and value type."""

    cipher: AESGCM
    aad: bytes
    data_type: pa.DataType
    key_id: str
    version: int


def decrypt_column(
    array: pa.Array | pa.ChunkedArray,
    *,
    keyring: Keyring,
    table: str,
    column: str,
    data_type: pa.DataType | None = None,
) -> pa.Array | pa.ChunkedArray:
    """Decrypt what :func:`encrypt_column` sealed for ``table.column`` back to its Arrow type.

    Accepts the binary or base64 text form. Every value must carry the same type; pass
    ``data_type`` to insist on one (and to type a column that holds only nulls). Any failure
    is a :class:`SecurityError` naming the column, row and key, never a value or a key.
    """
    if isinstance(array, pa.ChunkedArray):
        chunks = [
            decrypt_column(chunk, keyring=keyring, table=table, column=column, data_type=data_type)
            for chunk in array.chunks
        ]
        types = {chunk.type for chunk in chunks if not pa.types.is_null(chunk.type)}
        if len(types) > 1:
            raise DataError(
                f"column {table}.{column} decrypts to several types "
                f"({', '.join(sorted(map(str, types)))})",
                hint="pass data_type to decrypt_column to say which one the column should have",
            )
        target = data_type or (types.pop() if types else pa.null())
        return pa.chunked_array([chunk.cast(target) for chunk in chunks], type=target)
    where = f"column {table}.{column}"
    is_text = pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
    if not (is_text or pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type)):
        raise SecurityError(
            f"{where} holds {array.type}, not ciphertexts",
            hint="decrypt only columns written by encrypt_column (binary or base64 text)",
        )
    sealed, valid = _plaintexts(array)
    valid_rows = np.flatnonzero(valid).tolist()
    if is_text:
        sealed = [
            _unbase64(value, where, row) for value, row in zip(sealed, valid_rows, strict=True)
        ]
    opened: dict[bytes, _Opened] = {}
    fingerprint = column_fingerprint(table, column)
    names = _names(table, column)
    from cryptography.exceptions import (  # noqa: PLC0415 - heavy cryptography back-end imported on first use (DESIGN §2)
        InvalidTag,
    )

    plaintexts = []
    found_type = data_type
    # Values of one column nearly always share one header; checking the previous one with
    # ``startswith`` skips parsing and slicing it again for every row.
    header, header_end, context = b"\x00", 0, None
    for value, row in zip(sealed, valid_rows, strict=True):
        if context is None or not value.startswith(header):
            header_end = _header_length(value, where, row)
            header = value[:header_end]
            context = opened.get(header)
            if context is None:
                context = _open_header(
                    header,
                    keyring=keyring,
                    fingerprint=fingerprint,
                    names=names,
                    where=where,
                    row=row,
                )
                opened[header] = context
                if found_type is None:
                    found_type = context.data_type
                elif context.data_type != found_type:
                    raise DataError(
                        f"{where} row {row} holds a {context.data_type} value where "
                        f"{found_type} was expected",
                        hint="pass data_type to decrypt_column, or decrypt the rows of each "
                        "type separately",
                    )
        try:
            plaintexts.append(
                context.cipher.decrypt(
                    value[header_end : header_end + NONCE_BYTES],
                    value[header_end + NONCE_BYTES :],
                    context.aad,
                )
            )
        except InvalidTag as exc:
            raise SecurityError(
                f"{where} row {row} failed authentication with key {context.key_id!r} "
                f"v{context.version}: the ciphertext was altered or damaged",
                hint="restore the value from a trusted copy; a tampered value cannot be read",
            ) from exc
    _log.debug(
        "governance.decrypt.column",
        table=table,
        column=column,
        rows=len(array),
        decrypted=len(plaintexts),
        keys=sorted({f"{ctx.key_id} v{ctx.version}" for ctx in opened.values()}),
    )
    if found_type is None:
        return pa.nulls(len(array))
    return _rebuild(plaintexts, valid, len(array), found_type, where)


def _unbase64(value: bytes, where: str, row: int) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SecurityError(
            f"{where} row {row} is not valid base64 ciphertext text",
            hint="the value was damaged or not written by encrypt_column(text=True)",
        ) from None


def _malformed(where: str, row: int, what: str) -> SecurityError:
    return SecurityError(
        f"{where} row {row} is not a Tidegate ciphertext ({what})",
        hint="the value was damaged, truncated or not written by encrypt_column",
    )


def _header_length(value: bytes, where: str, row: int) -> int:
    if len(value) < 2 or value[0] != FORMAT_VERSION:
        version = value[0] if value else None
        raise _malformed(where, row, f"format version {version}, expected {FORMAT_VERSION}")
    tag_length_at = 2 + value[1] + 12
    if len(value) <= tag_length_at:
        raise _malformed(where, row, "header cut short")
    header_end = tag_length_at + 1 + value[tag_length_at]
    if len(value) < header_end + NONCE_BYTES + TAG_BYTES:
        raise _malformed(where, row, "shorter than header, nonce and tag")
    return header_end


def _open_header(
    header: bytes, *, keyring: Keyring, fingerprint: bytes, names: bytes, where: str, row: int
) -> _Opened:
    """Check a header against the keyring and the column, turning each mismatch into a message."""
    id_end = 2 + header[1]
    try:
        key_id = header[2:id_end].decode("ascii")
    except UnicodeDecodeError:
        raise _malformed(where, row, "key id is not ASCII") from None
    (version,) = struct.unpack(">I", header[id_end : id_end + 4])
    key = keyring.get(key_id, version)
    if header[id_end + 4 : id_end + 8] != key.check:
        raise SecurityError(
            f"{where} row {row} was encrypted with a different key than the keyring's "
            f"{key_id!r} v{version}",
            hint="load the keyring with the key this data was written with",
        )
    if header[id_end + 8 : id_end + 12] != fingerprint:
        raise SecurityError(
            f"{where} row {row} was encrypted for another table or column",
            hint="a ciphertext decrypts only in the table and column it was written for; "
            "move data only as clear values through a decrypt and encrypt",
        )
    try:
        tag = header[id_end + 13 :].decode("ascii")
    except UnicodeDecodeError:
        raise _malformed(where, row, "type tag is not ASCII") from None
    try:
        data_type = type_from_tag(tag)
    except SecurityError:
        raise _malformed(where, row, f"unknown value type {tag!r}") from None
    return _Opened(
        cipher=keyring.cipher(key),
        aad=header + names,
        data_type=data_type,
        key_id=key_id,
        version=version,
    )


def _rebuild(
    plaintexts: list[bytes], valid: np.ndarray, length: int, data_type: pa.DataType, where: str
) -> pa.Array:
    """An Arrow array of ``data_type`` from the decrypted canonical bytes of the valid rows."""
    is_bool = pa.types.is_boolean(data_type)
    if pa.types.is_string(data_type) or pa.types.is_binary(data_type):
        rebuilt = _scatter_strings(plaintexts, valid, length, pa.binary())
        return rebuilt.cast(data_type) if pa.types.is_string(data_type) else rebuilt
    if pa.types.is_large_string(data_type) or pa.types.is_large_binary(data_type):
        rebuilt = _scatter_strings(plaintexts, valid, length, pa.large_binary())
        return rebuilt.cast(data_type) if pa.types.is_large_string(data_type) else rebuilt
    width = 1 if is_bool else data_type.bit_width // 8
    joined = b"".join(plaintexts)
    if len(joined) != width * len(plaintexts):
        raise SecurityError(
            f"{where} holds values whose length does not fit their type {data_type}",
            hint="the values were not written by encrypt_column",
        )
    values = np.zeros((length, width), dtype=np.uint8)
    values[valid] = np.frombuffer(joined, dtype=np.uint8).reshape(-1, width)
    storage = pa.uint8() if is_bool else data_type
    rebuilt = pa.Array.from_buffers(storage, length, [_validity(valid), pa.py_buffer(values)])
    return pc.cast(rebuilt, pa.bool_()) if is_bool else rebuilt
