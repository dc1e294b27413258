"""``StateAlertHistory``: the alert history of ``observability.alerting`` kept in the state store.

``observability`` and ``state`` may not import each other (DESIGN §2), so the store speaks plain
rows and this adapter, in the composing layer, turns them into ``AlertRecord``s and back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from tidegate.observability.alerting import AlertRecord, RecordStatus

if TYPE_CHECKING:
    from datetime import datetime

    from tidegate.observability.alert import Alert, AlertSeverity
    from tidegate.state import StateStore

__all__ = ["StateAlertHistory"]


class StateAlertHistory:
    """An ``observability.alerting.AlertHistory`` over the ``tidegate_alerts`` tables."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def last_sent(self, pipeline: str, rule: str, fingerprint: str) -> AlertRecord | None:
        """The newest alert of this key that was sent, or None."""
        row = self.store.last_alert(pipeline, rule, fingerprint)
        return _record(row) if row is not None else None

    def open_alerts(self, pipeline: str) -> list[AlertRecord]:
        """The alerts of ``pipeline`` sent and not resolved yet."""
        return [_record(row) for row in self.store.open_alerts(pipeline)]

    def record(self, alert: Alert, *, status: RecordStatus, channels: tuple[str, ...]) -> int:
        """Store ``alert`` with its status and the channels it went to; return its id."""
        return self.store.record_alert(
            {
                "pipeline": alert.pipeline,
                "rule": alert.rule,
                "fingerprint": alert.fingerprint,
                "severity": alert.severity,
                "status": status,
                "title": alert.title,
                "summary": alert.summary,
                "run_id": alert.run_id,
                "error_kind": alert.error_kind,
                "channels": list(channels),
                "sent_at": alert.at,
            }
        )

    def resolve(self, pipeline: str, at: datetime) -> None:
        """Mark every open alert of ``pipeline`` resolved at ``at``."""
        self.store.resolve_alerts(pipeline, at)

    def record_delivery(self, alert_id: int, channel: str, ok: bool, error: str | None) -> None:
        """Store one channel outcome of alert ``alert_id``."""
        self.store.record_delivery(alert_id, channel, ok, error)

    def last_score(self, pipeline: str, *, before: str) -> float | None:
        """The quality score of the newest scored run of ``pipeline`` before run ``before``
        (run ids are UUIDv7, so they sort by start)."""
        for run in self.store.runs(pipeline=pipeline, limit=20):
            if run.run_id < before and run.quality_score is not None:
                return run.quality_score
        return None


def _record(row: dict[str, Any]) -> AlertRecord:
    return AlertRecord(
        id=row["id"],
        pipeline=row["pipeline"],
        rule=row["rule"],
        fingerprint=row["fingerprint"],
        severity=cast("AlertSeverity", row["severity"]),
        status=cast("RecordStatus", row["status"]),
        channels=tuple(row["channels"]),
        sent_at=row["sent_at"],
        resolved_at=row["resolved_at"],
    )
