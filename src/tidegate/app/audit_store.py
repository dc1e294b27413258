"""``StateAuditStore``: the audit chain in the state store's ``tidegate_audit`` table.

The state package knows rows, the governance package records; this adapter, in the only layer
that knows both, turns one into the other. Each row keeps the record's canonical line
(``AuditRecord.line``) in ``record`` and repeats seq, time, kind, run, pipeline and hash in
columns for queries. Records are rebuilt from ``record`` alone (``parse_record``), so they come
back exactly as hashed (the time to the microsecond, in UTC); the other columns are an index,
never evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.governance.audit import (
    GENESIS_HASH,
    AuditConflictError,
    AuditRecord,
    ChainHead,
    check_follows,
    parse_record,
)
from tidegate.state.store import AuditRowConflictError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from tidegate.state import StateStore

__all__ = ["StateAuditStore"]


class StateAuditStore:
    """An ``AuditStore`` over a ``StateStore``'s audit table."""

    def __init__(self, store: StateStore) -> None:
        self.state = store

    def __repr__(self) -> str:
        return f"StateAuditStore({self.state.shown_url!r})"

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Append ``records`` in one transaction if they follow the table's last row."""
        if not records:
            return
        check_follows(ChainHead(records[0].seq - 1, records[0].prev_hash), records)
        rows = [
            {
                "seq": record.seq,
                "at": record.at,
                "kind": record.kind,
                "run_id": record.run_id,
                "pipeline": record.pipeline,
                "hash": record.hash,
                "record": record.line().decode("utf-8"),
            }
            for record in records
        ]
        prev = records[0].prev_hash if records[0].seq > 1 else GENESIS_HASH
        try:
            self.state.append_audit(rows, prev_hash=prev)
        except AuditRowConflictError as exc:
            raise AuditConflictError(exc.message, hint=exc.hint) from exc

    def records(self) -> Iterator[AuditRecord]:
        """Every record in ascending seq, streamed from the table."""
        for position, line in enumerate(self.state.audit_rows(), start=1):
            yield parse_record(line, where=f"tidegate_audit row {position} (in seq order)")

    def records_of_run(self, run_id: str) -> Iterator[AuditRecord]:
        """The records of run ``run_id`` (by the indexed column, then by the record itself)."""
        for line in self.state.audit_rows(run_id=run_id):
            record = parse_record(line, where=f"tidegate_audit, run {run_id}")
            if record.run_id == run_id:
                yield record

    def head(self) -> ChainHead | None:
        """The last row's record as a head: its own seq and hash, not the index columns'."""
        line = self.state.audit_last_row()
        return None if line is None else parse_record(line, where="tidegate_audit (last row)").head
