"""Building audit chains for tests, and rewriting them the ways a forger would."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegate.governance.audit import (
    AuditChain,
    AuditKey,
    AuditKind,
    AuditRecord,
    Entry,
    Hasher,
    MemoryAuditStore,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CHAIN_LENGTH = 10_000
_START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
_KINDS = list(AuditKind)


def ticking_clock(step: timedelta = timedelta(seconds=1)) -> Callable[[], datetime]:
    """A clock that moves ``step`` on each reading, from a fixed start."""
    now = [_START]

    def clock() -> datetime:
        now[0] += step
        return now[0]

    return clock


def entry(i: int) -> Entry:
    """A varied, realistic fact: every kind, nested values, text beyond ASCII, floats, nulls."""
    kind = _KINDS[i % len(_KINDS)]
    payload: dict[str, object] = {
        "column": f"col_{i % 16}",
        "classified_as": ["email", "person_name", "iban"][i % 3],
        "action": "mask:hash" if i % 2 else "encrypt",
        "key_id": None if i % 2 else "customers.v2",
        "rows": i * 7,
        "score": 99.5 + (i % 5) / 10,
        "failed_rules": {"email.regex": i % 11, "país.not_null": i % 3},
        "tags": ["gdpr", "pii", "ünïcode ✓"],
    }
    return Entry(kind=kind, payload=payload, run_id=f"run-{i // 50:04d}", pipeline="customers")


def build_chain(length: int, key: AuditKey | None) -> list[AuditRecord]:
    """``length`` records appended through ``AuditChain``, in batches of 50 (one per run)."""
    store = MemoryAuditStore()
    chain = AuditChain(store, key=key, clock=ticking_clock())
    for start in range(0, length, 50):
        chain.append_all([entry(i) for i in range(start, min(start + 50, length))])
    return list(store.records())


def resealed(
    records: list[AuditRecord], start: int, hasher: Hasher, *, renumber: bool = False
) -> list[AuditRecord]:
    """``records`` with every hash from index ``start`` on recomputed by ``hasher``, each record
    chained to the one before it (and renumbered from its position if ``renumber``): what a
    forger who rewrites the tail does."""
    out = list(records[:start])
    for position, record in enumerate(records[start:], start=start):
        out.append(
            hasher.seal(
                seq=position + 1 if renumber else record.seq,
                at=record.at,
                kind=record.kind,
                run_id=record.run_id,
                pipeline=record.pipeline,
                payload=record.payload,
                prev_hash=out[-1].hash if out else record.prev_hash,
            )
        )
    return out


def resealed_one(record: AuditRecord, **changes: Any) -> AuditRecord:
    """``record`` with ``changes`` and a fresh plain SHA-256 hash over them (an unkeyed forgery
    that matches itself)."""
    changed = replace(record, **changes)
    return resealed([changed], 0, Hasher())[0]


def renumbered(records: list[AuditRecord], start: int, delta: int) -> list[AuditRecord]:
    """``records`` with the seq of each from index ``start`` on moved by ``delta``, hashes kept."""
    return records[:start] + [replace(r, seq=r.seq + delta) for r in records[start:]]
