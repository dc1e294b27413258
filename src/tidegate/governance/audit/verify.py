"""Checking a chain: every record, every link, every anchored head, and the first break named.

``verify`` reads records once, in stored order, keeping only the previous record and one record
of look-ahead, so a chain of any length verifies in constant memory. It stops at the first
break and says which record, what kind of tampering explains it and how to look into it:

    edited      a record's fields no longer match its hash (seq N), including its seq field
    forged      with a chain key: a record was hashed without it (plain SHA-256), as whoever
                recomputes hashes after an edit without the key does
    deleted     seq N is missing (a gap), or later records were renumbered to close the gap
    reordered   records are out of seq order (a swap, a move)
    inserted    a seq appears twice, or later records were renumbered to make room
    malformed   a record cannot be read or has no canonical form (an export edited by hand)
    rewritten   an anchored head's seq now has another hash: the chain was recomputed
    truncated   an anchored head's seq is past the chain's end: its tail was cut off
    head_missing  a head given by hash alone is nowhere in the chain

A bare chain cannot show that its tail was cut off, or that all of it was recomputed by whoever
holds the means to hash (anyone, without a chain key): anchors close that gap. Pass the heads
printed in run summaries or kept in a head file (``anchor.py``); each must still be in the
chain with the same hash.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from tidegate.governance.audit.errors import AuditFormatError, AuditPayloadError
from tidegate.governance.audit.record import GENESIS_HASH, AuditRecord, ChainHead, Hasher

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tidegate.governance.audit.key import AuditKey

__all__ = ["ChainBreak", "Tampering", "VerifyResult", "verify"]


class Tampering(StrEnum):
    """What kind of change explains a break (see the module docstring)."""

    EDITED = "edited"
    FORGED = "forged"
    DELETED = "deleted"
    REORDERED = "reordered"
    INSERTED = "inserted"
    MALFORMED = "malformed"
    REWRITTEN = "rewritten"
    TRUNCATED = "truncated"
    HEAD_MISSING = "head_missing"


_HINTS = {
    Tampering.EDITED: "compare record {seq} with the same record in an earlier export "
    "(`tidegate audit show`), and check who could write to the state store around its time",
    Tampering.FORGED: "record {seq} was hashed by someone without the chain key: compare it and "
    "the records after it with an earlier export; if the chain was never keyed, verify "
    "without a key",
    Tampering.DELETED: "look for record {seq} in an earlier export or a backup of the state "
    "store, and check who could delete from it",
    Tampering.REORDERED: "records were moved: sort an export by seq to see which, and check who "
    "could write to the store",
    Tampering.INSERTED: "the extra record with seq {seq} is not part of the chain: compare the "
    "two with an earlier export and check who could write to the store",
    Tampering.MALFORMED: "the record was edited outside Tidegate: compare it with an earlier "
    "export",
    Tampering.REWRITTEN: "every hash from some point on was recomputed: compare the chain with "
    "an earlier export from the last head that still holds; rotate the chain key if it was used",
    Tampering.TRUNCATED: "restore the missing records from an earlier export or a backup of the "
    "state store, and check who could delete from it",
    Tampering.HEAD_MISSING: "give the head as SEQ:HASH (as run summaries print it) to learn "
    "whether the chain was cut short or rewritten",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainBreak:
    """The first place where a chain is not what was written.

    ``seq`` is the record named (``None`` only for a head given by hash alone), ``position``
    the place in the stream where the break showed (1-based: a line of an export).
    """

    seq: int | None
    tampering: Tampering
    position: int
    message: str
    hint: str

    def __str__(self) -> str:
        where = f"record {self.seq}" if self.seq is not None else "chain"
        return f"{where} {self.tampering}: {self.message}\n  hint: {self.hint}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyResult:
    """What ``verify`` found: how far the chain holds, and its first break if any.

    ``head`` is the last record that verified (the whole chain's head when ``ok``);
    ``anchors`` counts the anchored heads confirmed; ``keyed`` says whether a chain key was used.
    """

    checked: int
    head: ChainHead | None
    anchors: int
    keyed: bool
    problem: ChainBreak | None

    @property
    def ok(self) -> bool:
        """Whether every record, link and anchor holds."""
        return self.problem is None


def verify(
    records: Iterable[AuditRecord],
    *,
    key: AuditKey | None = None,
    anchors: Iterable[ChainHead | str] = (),
) -> VerifyResult:
    """Check ``records`` (a store's ``records()``, ``read_jsonl(path)``) as one chain from seq 1.

    ``key`` is the chain key if the chain is keyed: with it, a record hashed without it is a
    forgery. ``anchors`` are heads the chain must still contain: a ``ChainHead`` (seq and hash,
    checked signatures from a head file, or ``parse_head("SEQ:HASH")``) or a bare hash.
    A record stream that raises ``AuditFormatError`` is reported as malformed at that point.
    """
    return _Verifier(key, anchors).run(_Stream(records))


class _Stream:
    """The records with one of look-ahead; a reader's ``AuditFormatError`` becomes an item."""

    def __init__(self, records: Iterable[AuditRecord]) -> None:
        self._records: Iterator[AuditRecord] = iter(records)
        self._ahead: list[AuditRecord | AuditFormatError | None] = []
        self.position = 0

    def _pull(self) -> AuditRecord | AuditFormatError | None:
        try:
            return next(self._records)
        except StopIteration:
            return None
        except AuditFormatError as exc:
            return exc

    def next(self) -> AuditRecord | AuditFormatError | None:
        item = self._ahead.pop() if self._ahead else self._pull()
        if item is not None:
            self.position += 1
        return item

    def peek(self) -> AuditRecord | None:
        if not self._ahead:
            self._ahead.append(self._pull())
        item = self._ahead[0]
        return item if isinstance(item, AuditRecord) else None


class _Verifier:
    def __init__(self, key: AuditKey | None, anchors: Iterable[ChainHead | str]) -> None:
        self.hasher = Hasher(key)
        self.plain = Hasher() if key is not None else None
        pinned, loose = [], set()
        for anchor in anchors:
            if isinstance(anchor, ChainHead):
                pinned.append(anchor)
            else:
                loose.add(anchor)
        self.pinned = sorted(pinned, key=lambda head: head.seq)
        self.loose = loose
        self.confirmed = 0
        self.last_good_anchor: ChainHead | None = None

    def run(self, stream: _Stream) -> VerifyResult:
        prev: AuditRecord | None = None
        checked, pin = 0, 0
        while (item := stream.next()) is not None:
            expected = 1 if prev is None else prev.seq + 1
            if isinstance(item, AuditFormatError):
                unreadable = f"unreadable: {item.location}: {item.message}"
                return self._result(
                    checked,
                    prev,
                    self._break(expected, Tampering.MALFORMED, stream.position, unreadable),
                )
            found = (
                self._content(item, expected, stream)
                or self._order(item, expected, stream)
                or self._link(item, prev, stream.position)
            )
            while found is None and pin < len(self.pinned) and self.pinned[pin].seq == item.seq:
                found = self._anchor(item, self.pinned[pin], stream.position)
                pin += 1
            if found is not None:
                return self._result(checked, prev, found)
            prev, checked = item, checked + 1
            self.loose.discard(item.hash)
        return self._result(checked, prev, self._end(prev, pin, stream.position + 1))

    def _result(
        self, checked: int, prev: AuditRecord | None, found: ChainBreak | None
    ) -> VerifyResult:
        return VerifyResult(
            checked=checked,
            head=None if prev is None else prev.head,
            anchors=self.confirmed,
            keyed=self.hasher.keyed,
            problem=found,
        )

    def _matches(self, record: AuditRecord, seq: int | None = None) -> bool:
        """Whether ``record`` (given ``seq`` instead of its own) hashes to its hash with the key."""
        if seq is not None:
            record = replace(record, seq=seq)
        try:
            return self.hasher.digest(record.body()) == record.hash
        except AuditPayloadError:
            return False

    def _content(  # noqa: PLR0911 - one return per explanation of a hash mismatch
        self, rec: AuditRecord, expected: int, stream: _Stream
    ) -> ChainBreak | None:
        where = stream.position
        try:
            body = rec.body()
        except AuditPayloadError as exc:
            return self._break(expected, Tampering.MALFORMED, where, f"no canonical form: {exc}")
        if self.hasher.digest(body) == rec.hash:
            return None
        if rec.seq != expected and self._matches(rec, expected):
            return self._break(
                expected,
                Tampering.EDITED,
                where,
                f"its seq field was changed to {rec.seq}; the record still hashes as {expected}",
            )
        if rec.seq < expected:
            return self._break(
                rec.seq,
                Tampering.INSERTED,
                where,
                f"a second record with seq {rec.seq} appears at position {where}, after record "
                f"{expected - 1}, and does not match its hash: it was put there",
            )
        ahead = stream.peek()
        if ahead is not None and ahead.seq == rec.seq == expected and self._matches(ahead):
            return self._break(
                expected,
                Tampering.INSERTED,
                where,
                f"seq {expected} appears twice (positions {where} and {where + 1}); the one at "
                f"{where} does not match its hash and was put there",
            )
        if rec.seq == expected and self._matches(rec, expected + 1):
            return self._break(
                expected,
                Tampering.DELETED,
                where,
                f"it holds the record hashed as seq {expected + 1}: the record {expected} was "
                "deleted and the later ones renumbered to hide the gap",
            )
        if rec.seq == expected > 1 and self._matches(rec, expected - 1):
            return self._break(
                expected - 1,
                Tampering.INSERTED,
                where,
                f"the record at seq {expected} was hashed as seq {expected - 1}: a record was "
                f"inserted at {expected - 1} and the later ones renumbered to make room",
            )
        if self.plain is not None and self.plain.digest(body) == rec.hash:
            return self._break(
                expected,
                Tampering.FORGED,
                where,
                "its hash is plain SHA-256, not HMAC with the chain key: it was written or "
                "re-hashed by someone without the key",
            )
        detail = ""
        if rec.seq == 1:
            detail = (
                " (if every record fails from the first, the key is wrong or missing: a keyed "
                "chain needs its key, an unkeyed one none)"
            )
        return self._break(
            expected,
            Tampering.EDITED,
            where,
            f"its fields do not match its hash: it was changed after it was written{detail}",
        )

    def _order(self, rec: AuditRecord, expected: int, stream: _Stream) -> ChainBreak | None:
        where = stream.position
        if rec.seq == expected:
            return None
        if rec.seq < expected:
            return self._break(
                rec.seq,
                Tampering.INSERTED,
                where,
                f"a second record with seq {rec.seq} appears at position {where}, after "
                f"record {expected - 1}",
            )
        missing = range(expected, rec.seq)
        found, moved = self._find(stream, expected, missing)
        if found is not None:
            return self._break(
                expected,
                Tampering.REORDERED,
                where,
                f"record {rec.seq} is where record {expected} belongs (position {where}); "
                f"record {expected} was found later, at position {found}",
            )
        if moved or len(missing) == 1:
            gap = f"seq {expected} is missing" + (", and later records are out of order" * moved)
        else:
            gap = f"seqs {expected}-{rec.seq - 1} are missing"
        return self._break(
            expected,
            Tampering.DELETED,
            where,
            f"{gap}: record {rec.seq} follows record {expected - 1}",
        )

    @staticmethod
    def _find(stream: _Stream, seq: int, missing: range) -> tuple[int | None, bool]:
        """Where record ``seq`` sits later on, if it does, and whether any other seq of
        ``missing`` does. Only run once a gap ended the check: reading on costs no second pass.
        """
        moved = False
        while (item := stream.next()) is not None:
            if not isinstance(item, AuditRecord):
                break
            if item.seq == seq:
                return stream.position, moved
            moved = moved or item.seq in missing
        return None, moved

    def _link(self, rec: AuditRecord, prev: AuditRecord | None, where: int) -> ChainBreak | None:
        wanted = GENESIS_HASH if prev is None else prev.hash
        if rec.prev_hash == wanted:
            return None
        if prev is None:
            return self._break(
                1,
                Tampering.EDITED,
                where,
                "record 1 matches its hash but does not start from the genesis hash: it was "
                "rewritten and re-hashed",
            )
        return self._break(
            prev.seq,
            Tampering.EDITED,
            where,
            f"record {rec.seq} was chained to another hash of record {prev.seq}: record "
            f"{prev.seq} was rewritten and re-hashed after record {rec.seq} was written",
        )

    def _anchor(self, rec: AuditRecord, anchor: ChainHead, where: int) -> ChainBreak | None:
        if rec.hash == anchor.hash:
            self.confirmed += 1
            self.last_good_anchor = anchor
            return None
        since = self.last_good_anchor
        span = (
            f"after seq {since.seq} (the last anchored head that still holds) and "
            if since is not None
            else ""
        )
        return self._break(
            anchor.seq,
            Tampering.REWRITTEN,
            where,
            f"the head anchored at seq {anchor.seq} has hash {anchor.hash[:12]}…, the chain now "
            f"{rec.hash[:12]}…: the chain was recomputed {span}at or before seq {anchor.seq}",
        )

    def _end(self, last: AuditRecord | None, pin: int, where: int) -> ChainBreak | None:
        end = 0 if last is None else last.seq
        if pin < len(self.pinned):
            anchor = self.pinned[-1]
            return self._break(
                end + 1,
                Tampering.TRUNCATED,
                where,
                f"the chain ends at seq {end}, but a head was anchored at seq {anchor.seq}: "
                f"records {end + 1}-{anchor.seq} at least were cut off",
            )
        if self.loose:
            head = min(self.loose)
            return self._break(
                None,
                Tampering.HEAD_MISSING,
                where,
                f"no record has the anchored hash {head[:12]}…: the chain was cut short "
                f"before it or rewritten (it ends at seq {end})",
            )
        return None

    def _break(self, seq: int | None, tampering: Tampering, where: int, text: str) -> ChainBreak:
        return ChainBreak(
            seq=seq,
            tampering=tampering,
            position=where,
            message=text,
            hint=_HINTS[tampering].format(seq=seq),
        )
