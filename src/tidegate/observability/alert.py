"""``Alert``: what a channel sends, built once by the alerting rules, rendered by each channel.

An alert carries everything the on-call engineer needs to act without opening anything else:
what happened and how bad (title, severity, status ``firing`` or ``resolved``), to what (the
pipeline, its owner, criticality tier and consumers, and the impact in words), the run's facts
(run id, error kind and message, failing step, counts) and the next action to take, plus a link
to the run in the dashboard when one is configured. No setting, and so no secret, is copied
into an alert: only names, counts and the run's own error message, which Tidegate keeps free of
secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["Alert", "AlertSeverity", "AlertStatus"]

AlertSeverity = Literal["critical", "warning", "info"]
AlertStatus = Literal["firing", "resolved"]


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One notification about one pipeline."""

    pipeline: str
    rule: str
    severity: AlertSeverity
    status: AlertStatus
    title: str
    summary: str
    fingerprint: str
    run_id: str | None = None
    error_kind: str | None = None
    error: str | None = None
    step: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    next_action: str | None = None
    owner: str | None = None
    criticality: int = 3
    consumers: tuple[str, ...] = ()
    impact: str | None = None
    link: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> tuple[str, str, str]:
        """What deduplication groups on: the pipeline, the rule and the error's fingerprint."""
        return (self.pipeline, self.rule, self.fingerprint)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: the body of the generic webhook."""
        return {
            "pipeline": self.pipeline,
            "rule": self.rule,
            "severity": self.severity,
            "status": self.status,
            "title": self.title,
            "summary": self.summary,
            "fingerprint": self.fingerprint,
            "run_id": self.run_id,
            "error_kind": self.error_kind,
            "error": self.error,
            "step": self.step,
            "counts": dict(self.counts),
            "next_action": self.next_action,
            "owner": self.owner,
            "criticality": self.criticality,
            "consumers": list(self.consumers),
            "impact": self.impact,
            "link": self.link,
            "at": self.at.isoformat(),
        }
