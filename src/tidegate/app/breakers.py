"""``StateBreakerStore``: the circuit breakers of ``resilience`` kept in the state store.

``resilience`` and ``state`` may not import each other (DESIGN §2), so the state store speaks
plain rows and this adapter, in the composing layer, turns them into ``BreakerRecord``s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from tidegate.resilience.breaker import BreakerRecord, BreakerState

if TYPE_CHECKING:
    from tidegate.state import StateStore

__all__ = ["StateBreakerStore"]


class StateBreakerStore:
    """A ``resilience.breaker.BreakerStore`` over the ``tidegate_breakers`` table."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def load(self, target: str) -> BreakerRecord | None:
        """The stored breaker of ``target``, or None."""
        row = self.store.load_breaker(target)
        return _record(row) if row is not None else None

    def save(self, record: BreakerRecord) -> None:
        """Insert or replace the breaker of ``record.target``."""
        self.store.save_breaker(
            {
                "target": record.target,
                "state": record.state,
                "failing_since": record.failing_since,
                "next_probe_at": record.next_probe_at,
                "failures": record.failures,
                "calls": record.calls,
                "outcomes": record.outcomes,
                "updated_at": record.updated_at,
            }
        )

    def all(self) -> list[BreakerRecord]:
        """Every stored breaker, by target."""
        return [_record(row) for row in self.store.breakers()]

    def reset(self, target: str) -> bool:
        """Forget the breaker of ``target``; False when there was none."""
        return self.store.reset_breaker(target)


def _record(row: dict[str, Any]) -> BreakerRecord:
    return BreakerRecord(
        target=row["target"],
        state=cast("BreakerState", row["state"]),
        outcomes=row["outcomes"],
        failing_since=row["failing_since"],
        next_probe_at=row["next_probe_at"],
        updated_at=row["updated_at"],
    )
