"""Where the chain lives: the small protocol a store implements, and an in-memory store.

The chain needs three things of storage, and nothing else, so the state store can hold it in a
table (seq as primary key) as easily as a file or a list does:

- ``append(records)``: add consecutive records atomically, all or none, *only if* the first
  one follows the current head (its seq is the head's + 1, its ``prev_hash`` the head's hash;
  seq 1 and :data:`GENESIS_HASH` on an empty store). Otherwise raise ``AuditConflictError``:
  another writer appended first, and the chain rebuilds its records on the new head. A unique
  seq column gives exactly this in a database. Any other failure raises, so the run fails
  closed (``AuditWriteError`` with what failed and where, ideally).
- ``records()``: every record in ascending seq, streamed (the chain may be long).
- ``head()``: the record with the highest seq as a ``ChainHead``, ``None`` when empty.

A store returns records as they are stored, tampered or not: judging them is ``verify``'s job.
It must give back exactly what it was given: ``at`` as an aware datetime to the microsecond
(a SQLite ``DATETIME`` column comes back naive: store the RFC 3339 text, or convert back to
UTC), ``payload`` as the same JSON (a JSON or text column), absent ``run_id`` and ``pipeline``
as ``None``. Keeping each record's ``line()`` beside its columns is the simplest way.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from tidegate.governance.audit.errors import AuditConflictError
from tidegate.governance.audit.record import GENESIS_HASH

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from tidegate.governance.audit.record import AuditRecord, ChainHead

__all__ = ["AuditStore", "MemoryAuditStore", "check_follows", "records_of_run"]


class AuditStore(Protocol):
    """Storage of one audit chain (see the module docstring for the contract)."""

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Add ``records`` after the head atomically, or raise ``AuditConflictError``."""

    def records(self) -> Iterator[AuditRecord]:
        """Every stored record in ascending seq."""

    def head(self) -> ChainHead | None:
        """The last record's seq and hash; ``None`` for an empty chain."""


def check_follows(head: ChainHead | None, records: Sequence[AuditRecord]) -> None:
    """Raise ``AuditConflictError`` unless ``records`` continue the chain at ``head`` in order.

    Every store runs this inside its own atomic section (a lock, a transaction), against the
    head it reads there, so two writers can never both append the same seq.
    """
    seq, prev = (0, GENESIS_HASH) if head is None else (head.seq, head.hash)
    for record in records:
        if record.seq != seq + 1 or record.prev_hash != prev:
            raise AuditConflictError(
                f"audit record {record.seq} does not follow the chain head {seq}",
                hint="another process appended to the audit chain at the same time; retry",
            )
        seq, prev = record.seq, record.hash


def records_of_run(records: Iterable[AuditRecord], run_id: str) -> Iterator[AuditRecord]:
    """The records of one run, in chain order (``audit show --run ID``), streamed.

    A store with an index on ``run_id`` can answer this faster; the records still need
    ``verify`` over the whole chain before they are trusted.
    """
    return (record for record in records if record.run_id == run_id)


class MemoryAuditStore:
    """A chain kept in a list, for tests and for holding an imported export while verifying."""

    def __init__(self, records: Iterable[AuditRecord] = ()) -> None:
        """Hold ``records`` as given, unchecked (a tamper test builds a broken chain this way)."""
        self._records = list(records)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Add ``records`` if they follow the last one (see :func:`check_follows`)."""
        with self._lock:
            check_follows(self._head(), records)
            self._records.extend(records)

    def records(self) -> Iterator[AuditRecord]:
        """The records in the order they are held, from a snapshot of the list."""
        with self._lock:
            snapshot = list(self._records)
        return iter(snapshot)

    def head(self) -> ChainHead | None:
        """The last record held as a head."""
        with self._lock:
            return self._head()

    def _head(self) -> ChainHead | None:
        return self._records[-1].head if self._records else None
