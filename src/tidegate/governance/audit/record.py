"""One audit record, the kinds of fact it states, and the hash that chains it to the last.

A record says *what* happened (``kind`` and ``payload``), *when* (``at``), in which run and
pipeline, and where it sits in the chain (``seq``, ``prev_hash``). Its ``hash`` covers every
other field, the previous record's hash included, so editing, removing or reordering any
record breaks the hash of that record or the link to the next one.

    hash = SHA-256(canonical(record without "hash"))                  (no chain key)
    hash = HMAC-SHA-256(chain key, canonical(record without "hash"))  (with one)

as 64 lowercase hex digits; ``canonical`` is RFC 8785 (see ``canonical.py``), over the object
``{"at", "kind", "payload", "pipeline", "prev_hash", "run_id", "seq"}`` with ``at`` in RFC 3339
UTC and absent run or pipeline as ``null``. The first record's ``prev_hash`` is
:data:`GENESIS_HASH`, 64 zeros.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from enum import StrEnum
from json.encoder import encode_basestring
from typing import TYPE_CHECKING

from tidegate.governance.audit.canonical import JsonValue, canonical, rfc3339
from tidegate.governance.audit.errors import AuditPayloadError

if TYPE_CHECKING:
    from datetime import datetime

    from tidegate.governance.audit.key import AuditKey

__all__ = ["GENESIS_HASH", "AuditKind", "AuditRecord", "ChainHead", "Hasher", "is_hash"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of record 1: no record comes before it."""

_HASH = re.compile(r"[0-9a-f]{64}")


class AuditKind(StrEnum):
    """What a record states; its payload's usual keys are listed with each kind.

    Records of other kinds (a newer Tidegate's) verify all the same: ``AuditRecord.kind`` is
    plain text, these are the kinds this version writes.
    """

    RUN_STARTED = "run_started"
    """spec_hash, tidegate_version, git_commit (or null), user, host."""
    RUN_FINISHED = "run_finished"
    """status, error_kind (or null), rows_read, rows_written, rows_rejected, seconds."""
    INPUT_READ = "input_read"
    """dataset, rows, digest (of the content read)."""
    COLUMN_GOVERNED = "column_governed"
    """column, classified_as, level, action (mask:<how>, encrypt, none), key_id (or null)."""
    QUALITY_OUTCOME = "quality_outcome"
    """score, passed, failed_rules (rule id -> failing rows)."""
    ROWS_WRITTEN = "rows_written"
    """destination, table, rows."""
    ERASURE_REQUESTED = "erasure_requested"
    """request_id, subject (a pseudonymous key, never the person's data), scope."""
    ERASURE_DONE = "erasure_done"
    """request_id, rows_erased per destination, outcome."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record of a chain as its seq and hash; ``str()`` gives ``SEQ:HASH``.

    That text is what a run summary prints and ``audit verify --head`` takes back.
    """

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRecord:
    """One link of the chain. ``payload`` holds plain JSON values only (``canonical.to_json``)."""

    seq: int
    at: datetime
    kind: str
    run_id: str | None
    pipeline: str | None
    payload: dict[str, JsonValue] = field(hash=False)
    prev_hash: str
    hash: str

    @property
    def head(self) -> ChainHead:
        """This record as a chain head."""
        return ChainHead(self.seq, self.hash)

    def body(self) -> bytes:
        """The canonical bytes the hash covers: every field but ``hash``, keys in JCS order."""
        return _body(
            seq=self.seq,
            at=self.at,
            kind=self.kind,
            run_id=self.run_id,
            pipeline=self.pipeline,
            payload=self.payload,
            prev_hash=self.prev_hash,
        )

    def line(self) -> bytes:
        """The whole record in canonical JSON, ``hash`` included: one line of an export."""
        body = self.body()
        # "hash" sorts between "at" and "kind": splice it in rather than serialize twice.
        cut = body.index(b',"kind":')
        return body[:cut] + b',"hash":' + _text(self.hash) + body[cut:]


def _body(
    *,
    seq: int,
    at: datetime,
    kind: str,
    run_id: str | None,
    pipeline: str | None,
    payload: dict[str, JsonValue],
    prev_hash: str,
) -> bytes:
    """Canonical JSON of the hashed fields, written in their fixed JCS order directly: the top
    level is always these seven names, so only the payload goes through the general writer."""
    if type(seq) is not int or seq < 1:
        raise AuditPayloadError(f"an audit record's seq must be a positive integer, not {seq!r}")
    return b"".join(
        (
            b'{"at":"',
            rfc3339(at).encode("ascii"),
            b'","kind":',
            _text(kind),
            b',"payload":',
            canonical(payload),
            b',"pipeline":',
            b"null" if pipeline is None else _text(pipeline),
            b',"prev_hash":',
            _text(prev_hash),
            b',"run_id":',
            b"null" if run_id is None else _text(run_id),
            b',"seq":',
            str(seq).encode("ascii"),
            b"}",
        )
    )


def _text(value: str) -> bytes:
    if type(value) is not str:
        raise AuditPayloadError(f"an audit record field is a {type(value).__name__}, not text")
    return canonical(value) if not value.isascii() else encode_basestring(value).encode("ascii")


def is_hash(text: object) -> bool:
    """Whether ``text`` looks like a record hash: 64 lowercase hex digits."""
    return isinstance(text, str) and _HASH.fullmatch(text) is not None


class Hasher:
    """Computes record hashes: SHA-256, or HMAC-SHA-256 when a chain key is given.

    The keyed HMAC state is prepared once and copied per record, which halves the cost of
    hashing a record against ``hmac.new`` each time.
    """

    __slots__ = ("_prepared", "keyed")

    def __init__(self, key: AuditKey | None = None) -> None:
        self.keyed = key is not None
        self._prepared = None if key is None else hmac.new(key.material(), None, hashlib.sha256)

    def __repr__(self) -> str:
        return f"Hasher(keyed={self.keyed})"

    def digest(self, body: bytes) -> str:
        """The hex hash of a record's canonical body."""
        if self._prepared is None:
            return hashlib.sha256(body).hexdigest()
        mac = self._prepared.copy()
        mac.update(body)
        return mac.hexdigest()

    def seal(
        self,
        *,
        seq: int,
        at: datetime,
        kind: str,
        run_id: str | None,
        pipeline: str | None,
        payload: dict[str, JsonValue],
        prev_hash: str,
    ) -> AuditRecord:
        """A record with these fields and its hash."""
        body = _body(
            seq=seq,
            at=at,
            kind=kind,
            run_id=run_id,
            pipeline=pipeline,
            payload=payload,
            prev_hash=prev_hash,
        )
        return AuditRecord(
            seq=seq,
            at=at,
            kind=kind,
            run_id=run_id,
            pipeline=pipeline,
            payload=payload,
            prev_hash=prev_hash,
            hash=self.digest(body),
        )
