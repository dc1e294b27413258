"""Appending to the chain: each fact becomes a record hashed onto the current head.

``AuditChain`` is what the run layer holds. It turns a kind and a payload into canonical JSON
*before* touching the store (a payload that cannot be recorded is the caller's bug and says
so), reads the head, seals the records on it and hands them to the store, which appends them
only if the head is still the same. When another writer got there first the records are
rebuilt on the new head, a few times; any other failure is raised as ``AuditWriteError``, so
the run fails closed rather than going on with facts unrecorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tidegate.errors import TidegateError
from tidegate.governance.audit.canonical import JsonValue, to_json_object
from tidegate.governance.audit.errors import (
    AuditConflictError,
    AuditPayloadError,
    AuditWriteError,
)
from tidegate.governance.audit.record import GENESIS_HASH, Hasher

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from tidegate.governance.audit.key import AuditKey
    from tidegate.governance.audit.record import AuditRecord, ChainHead
    from tidegate.governance.audit.store import AuditStore

__all__ = ["AuditChain", "Entry"]

_ATTEMPTS = 8
"""Appends tried on a moving head before giving up: more racing writers than that is a misuse."""

_BACKOFF = 0.002
"""Seconds slept after the n-th lost race, times n."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One fact to record: what the caller knows; seq, time and hashes are the chain's."""

    kind: str
    payload: Mapping[str, object] = field(default_factory=dict)
    run_id: str | None = None
    pipeline: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class AuditChain:
    """Appends records to one chain in ``store``, keyed with ``key`` when one is given.

    ``clock`` gives each record's time (aware; UTC by default); tests pass a fixed one.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        key: AuditKey | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self._hasher = Hasher(key)
        self._clock = clock

    def __repr__(self) -> str:
        return f"AuditChain({self.store!r}, keyed={self._hasher.keyed})"

    @property
    def keyed(self) -> bool:
        """Whether records are hashed with a chain key (HMAC-SHA-256)."""
        return self._hasher.keyed

    def append(
        self,
        kind: str,
        payload: Mapping[str, object] | None = None,
        *,
        run_id: str | None = None,
        pipeline: str | None = None,
    ) -> AuditRecord:
        """Record one fact; the record as stored. Raises unless it is stored."""
        entry = Entry(kind=kind, payload=payload or {}, run_id=run_id, pipeline=pipeline)
        return self.append_all([entry])[0]

    def append_all(self, entries: Sequence[Entry]) -> list[AuditRecord]:
        """Record several facts in one atomic append (one transaction, one fsync); in order.

        A run's column decisions are one such batch: all of them are recorded, or none and
        the run stops.
        """
        if not entries:
            return []
        prepared = [_prepared(entry) for entry in entries]
        attempt = 0
        while True:
            attempt += 1
            try:
                records = self._sealed(prepared, self.store.head())
                self.store.append(records)
            except AuditConflictError:
                if attempt >= _ATTEMPTS:
                    raise
                time.sleep(_BACKOFF * attempt)  # let the other writer finish its append
            except TidegateError:
                raise
            except Exception as exc:
                raise AuditWriteError(
                    f"could not write {len(entries)} audit record(s) ({entries[0].kind}, ...) "
                    f"to {self.store!r}: {type(exc).__name__}",
                    hint="check that the state store is reachable and writable; the run "
                    "stopped because audit records must be written",
                ) from exc
            else:
                return records

    def head(self) -> ChainHead | None:
        """The store's head: what a run summary prints and an anchor signs."""
        return self.store.head()

    def _sealed(
        self, prepared: list[tuple[Entry, dict[str, JsonValue]]], head: ChainHead | None
    ) -> list[AuditRecord]:
        seq, prev = (0, GENESIS_HASH) if head is None else (head.seq, head.hash)
        at = self._clock()
        records = []
        for entry, payload in prepared:
            seq += 1
            record = self._hasher.seal(
                seq=seq,
                at=at,
                kind=entry.kind,
                run_id=entry.run_id,
                pipeline=entry.pipeline,
                payload=payload,
                prev_hash=prev,
            )
            records.append(record)
            prev = record.hash
        return records


def _prepared(entry: Entry) -> tuple[Entry, dict[str, JsonValue]]:
    """The entry as plain text and JSON (an ``AuditKind`` becomes its text), checked before
    anything is written: a record that cannot be hashed must not half-exist."""
    if not isinstance(entry.kind, str) or not entry.kind:
        raise AuditPayloadError("an audit record needs a kind, such as 'run_started'")
    for name, value in (("run_id", entry.run_id), ("pipeline", entry.pipeline)):
        if value is not None and not isinstance(value, str):
            raise AuditPayloadError(f"an audit record's {name} is a {type(value).__name__}")
    payload = to_json_object(entry.payload)
    plain = Entry(
        kind=str.__str__(entry.kind),
        payload=payload,
        run_id=None if entry.run_id is None else str.__str__(entry.run_id),
        pipeline=None if entry.pipeline is None else str.__str__(entry.pipeline),
    )
    return plain, payload
