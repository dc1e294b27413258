"""Anchoring the chain head outside the store, signed, so a cut or rewritten tail shows.

A chain proves that no record *inside* it changed, but not that its tail is still there, nor,
without a chain key, that nobody recomputed it whole. So each run also sends the head it left
(seq and hash) somewhere the store's writers cannot rewrite: the run summary prints it, and a
:class:`HeadAnchor` signs it and publishes it to sinks. A signed head is

    {"at": RFC 3339 UTC, "hash": the record's hash, "seq": n, "signature": hex}
    signature = HMAC-SHA-256(head key, canonical({"at", "hash", "seq"}))

The head key must be kept apart from both the state store and the chain key (another secret,
another file, another vault entry): a forger who holds what the store holds then cannot sign a
head for the chain they rewrote. ``HeadAnchor`` refuses a head key equal to the chain key.

:class:`HeadFile` is the built-in sink: one signed head per line, written with ``O_APPEND`` in
one call and ``fsync``'d, so earlier heads are never rewritten by Tidegate (make the file
append-only for others too: ``chattr +a``, a WORM share, or ship it on). Other sinks (object
storage with retention lock, a transparency log, a ticket) implement :class:`HeadSink`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from tidegate.errors import ConfigError, TidegateError
from tidegate.governance.audit.canonical import JsonValue, canonical, rfc3339
from tidegate.governance.audit.errors import (
    AuditFormatError,
    AuditWriteError,
    HeadSignatureError,
)
from tidegate.governance.audit.key import require_separate_keys
from tidegate.governance.audit.record import ChainHead, is_hash

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from tidegate.governance.audit.key import AuditKey

__all__ = [
    "HeadAnchor",
    "HeadFile",
    "HeadSink",
    "SignedHead",
    "check_head",
    "parse_head",
    "parse_signed_head",
    "sign_head",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedHead:
    """A chain head, when it was anchored, and the head key's HMAC over the three."""

    seq: int
    hash: str
    at: datetime
    signature: str

    @property
    def head(self) -> ChainHead:
        """The head without its signature (trust it only after :func:`check_head`)."""
        return ChainHead(self.seq, self.hash)

    def line(self) -> bytes:
        """The signed head as one line of canonical JSON (no line end)."""
        fields: dict[str, JsonValue] = {
            "at": rfc3339(self.at),
            "hash": self.hash,
            "seq": self.seq,
            "signature": self.signature,
        }
        return canonical(fields)


def _signature(key: AuditKey, seq: int, head_hash: str, at: datetime) -> str:
    body = canonical({"at": rfc3339(at), "hash": head_hash, "seq": seq})
    return hmac.new(key.material(), body, hashlib.sha256).hexdigest()


def sign_head(head: ChainHead, key: AuditKey, *, at: datetime | None = None) -> SignedHead:
    """``head`` signed with the head ``key`` at ``at`` (now by default)."""
    moment = datetime.now(UTC) if at is None else at
    return SignedHead(
        seq=head.seq,
        hash=head.hash,
        at=moment,
        signature=_signature(key, head.seq, head.hash, moment),
    )


def check_head(signed: SignedHead, key: AuditKey, *, where: str = "anchored head") -> ChainHead:
    """The head of ``signed`` if the head ``key`` signed it; ``HeadSignatureError`` if not."""
    expected = _signature(key, signed.seq, signed.hash, signed.at)
    if not hmac.compare_digest(expected, signed.signature):
        raise HeadSignatureError(
            f"the head at seq {signed.seq} (anchored {rfc3339(signed.at)}) is not signed by the "
            f"head key with check value {key.check}: it was altered or forged, or the key is "
            "another one",
            location=where,
            hint="verify with the head key the runs used (compare check values: "
            "AuditKey.check); if it is that key, this head was not written by Tidegate",
        )
    return signed.head


def parse_head(text: str) -> ChainHead | str:
    """A head as a run summary prints it, ``SEQ:HASH``, or a bare hash; ``ConfigError`` if neither.

    A bare hash proves less: when it is missing, verification cannot say whether the chain was
    cut or rewritten, nor name the record.
    """
    seq_text, sep, hash_text = text.strip().rpartition(":")
    if not sep and is_hash(hash_text):
        return hash_text
    if sep and seq_text.isdigit() and int(seq_text) > 0 and is_hash(hash_text):
        return ChainHead(int(seq_text), hash_text)
    raise ConfigError(
        "an audit head is SEQ:HASH (a positive seq, 64 lowercase hex digits) or a bare hash",
        hint="copy it from a run summary's `audit head` line or from the head file",
    )


def parse_signed_head(line: bytes | str, *, where: str = "signed head") -> SignedHead:
    """One signed head from its JSON line; ``AuditFormatError`` naming ``where`` if not one."""
    try:
        data = json.loads(line)
        if not isinstance(data, dict) or data.keys() != {"at", "hash", "seq", "signature"}:
            raise ValueError("not the four fields of a signed head")
        seq, head_hash, signature = data["seq"], data["hash"], data["signature"]
        at = datetime.fromisoformat(data["at"])
        if type(seq) is not int or seq < 1 or not is_hash(head_hash) or not is_hash(signature):
            raise ValueError("a field has the wrong type or form")
        if at.tzinfo is None:
            raise ValueError("'at' has no time zone")
    except (ValueError, TypeError) as exc:
        raise AuditFormatError(
            f"not a signed head: {exc}",
            location=where,
            hint="each line of a head file is one signed head as Tidegate wrote it; "
            "a line edited by hand is suspect",
        ) from exc
    return SignedHead(seq=seq, hash=head_hash, at=at, signature=signature)


class HeadSink(Protocol):
    """Somewhere signed heads are kept out of the state store's reach."""

    def publish(self, head: SignedHead) -> None:
        """Keep ``head`` durably; raise if it cannot (the run then fails closed)."""


class HeadFile:
    """An append-only JSON Lines file of signed heads: a ``HeadSink`` and their reader."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        """``fsync=False`` skips the flush to disk: for tests only."""
        self.path = path
        self._fsync = fsync

    def __repr__(self) -> str:
        return f"HeadFile({str(self.path)!r})"

    def publish(self, head: SignedHead) -> None:
        """Append ``head`` as one line in one write (``O_APPEND``), then ``fsync``."""
        created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                data = memoryview(head.line() + b"\n")
                while data:
                    data = data[os.write(fd, data) :]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                folder = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
        except OSError as exc:
            raise AuditWriteError(
                f"could not append the chain head {head.seq} to the head file "
                f"({exc.strerror or type(exc).__name__})",
                location=str(self.path),
                hint="check that the folder exists and is writable; the run stopped because "
                "its audit head must be anchored",
            ) from exc

    def signed_heads(self) -> Iterator[SignedHead]:
        """Every signed head in the file, in file order, signatures not checked."""
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                yield parse_signed_head(line, where=f"{self.path}:{number}")

    def heads(self, key: AuditKey) -> list[ChainHead]:
        """Every head in the file, each checked against the head ``key``.

        ``HeadSignatureError`` names the first line whose signature does not match.
        """
        checked = []
        for number, signed in enumerate(self.signed_heads(), start=1):
            checked.append(check_head(signed, key, where=f"{self.path}:{number}"))
        return checked


def _now() -> datetime:
    return datetime.now(UTC)


class HeadAnchor:
    """Signs chain heads with the head key and publishes them to every sink.

    ``chain_key`` is only compared with ``key``, to refuse one key for both roles.
    """

    def __init__(
        self,
        key: AuditKey,
        sinks: Sequence[HeadSink],
        *,
        chain_key: AuditKey | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        require_separate_keys(chain_key, key)
        self._key = key
        self.sinks = tuple(sinks)
        self._clock = clock

    def __repr__(self) -> str:
        return f"HeadAnchor(key={self._key!r}, sinks={self.sinks!r})"

    def anchor(self, head: ChainHead) -> SignedHead:
        """Sign ``head`` and publish it to every sink; raises if any sink fails."""
        signed = sign_head(head, self._key, at=self._clock())
        for sink in self.sinks:
            try:
                sink.publish(signed)
            except TidegateError:
                raise
            except Exception as exc:
                raise AuditWriteError(
                    f"could not anchor the chain head {head.seq} in {sink!r}: {type(exc).__name__}",
                    hint="check that the head sink is reachable; the run stopped because its "
                    "audit head must be anchored",
                ) from exc
        return signed
