"""The quality, governance and audit parts of ``tidegate run``'s summary.

Listeners keep the run's ``QualityMeasured`` event (score, dimensions, failing rules) and its
``ColumnsClassified`` event (what was found per column and what was done about it); the CLI
prints them after the counts, as tables on a terminal or as ``quality`` and ``governance``
objects in the JSON summary line. ``AuditSummary`` is told the audit chain head the run left
(``SEQ:HASH``), which the summary prints so it can be kept outside the state store.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from tidegate.events import ColumnsClassified, Event, QualityMeasured

__all__ = ["AuditSummary", "GovernanceSummary", "QualitySummary"]


class QualitySummary:
    """Keeps the last ``QualityMeasured`` of a run."""

    fail_closed = False

    def __init__(self) -> None:
        self.measured: QualityMeasured | None = None

    def handle(self, event: Event) -> None:
        """Keep quality measurements; ignore everything else."""
        if isinstance(event, QualityMeasured):
            self.measured = event

    def as_dict(self) -> dict[str, Any]:
        """Score, dimensions and the rules that failed, for the JSON summary."""
        measured = self.measured
        if measured is None:
            return {}
        return {
            "score": measured.score,
            "rows_checked": measured.rows,
            "rows_rejected": measured.rejected,
            "dimensions": {
                name: None if value is None else round(value, 4)
                for name, value in measured.dimensions.items()
            },
            "failed_rules": {
                str(rule["id"]): int(rule["failed"]) for rule in measured.rules if rule["failed"]
            },
        }

    def table(self) -> Table:
        """The quality figures for a person: score and dimensions, then each failing rule."""
        measured = self.measured
        assert measured is not None  # noqa: S101 - only called after a measurement
        score = "n/a" if measured.score is None else f"{measured.score:.1f} / 100"
        dimensions = ", ".join(
            f"{name} {value:.2%}"
            for name, value in measured.dimensions.items()
            if value is not None
        )
        title = f"quality score {score}" + (f" ({dimensions})" if dimensions else "")
        table = Table("rule", "severity", "on fail", "failed", title=title, title_justify="left")
        for rule in measured.rules:
            if rule["failed"]:
                table.add_row(
                    escape(str(rule["id"])),
                    str(rule["severity"]),
                    str(rule["on_fail"]),
                    f"{int(rule['failed']):,}",
                )
        if not table.row_count:
            table.add_row("every rule passed", "", "", "0")
        return table


_STATUS_STYLE = {"ok": "green", "allowed": "yellow", "warned": "yellow", "blocked": "bold red"}


class GovernanceSummary:
    """Keeps the ``ColumnsClassified`` of a run: per column, what was found and what was done."""

    fail_closed = False

    def __init__(self) -> None:
        self.classified: ColumnsClassified | None = None

    def handle(self, event: Event) -> None:
        """Keep the classification; ignore everything else."""
        if isinstance(event, ColumnsClassified):
            self.classified = event

    def _shown(self) -> list[dict[str, Any]]:
        """Columns worth a line: personal data found, a pinned level, or not public."""
        if self.classified is None:
            return []
        return [
            dict(column)
            for column in self.classified.columns
            if column["pii_type"] != "none"
            or column["origin"] == "pinned"
            or column["level"] != "public"
        ]

    def as_dict(self) -> dict[str, Any]:
        """Policy, profile and the columns with personal data, for the JSON summary."""
        classified = self.classified
        if classified is None:
            return {}
        return {
            "policy": classified.policy,
            "profile": classified.profile,
            "blocked": classified.blocked,
            "columns": self._shown(),
        }

    def table(self) -> Table:
        """One row per column with personal data: type, level, required and applied action."""
        classified = self.classified
        assert classified is not None  # noqa: S101 - only called after a classification
        title = (
            f"governance ({classified.policy} policy, profile {classified.profile or 'default'})"
        )
        table = Table(
            "column",
            "found",
            "level",
            "required",
            "done",
            "status",
            title=title,
            title_justify="left",
        )
        for column in self._shown():
            found = "pinned" if column["origin"] == "pinned" else str(column["pii_type"])
            if column["origin"] == "pinned" and column["pii_type"] != "none":
                found = f"pinned ({column['pii_type']})"
            status = str(column["status"])
            table.add_row(
                escape(str(column["column"])),
                escape(found),
                str(column["level"]),
                str(column["required"]),
                escape(str(column["applied"])),
                f"[{_STATUS_STYLE.get(status, 'default')}]{status}[/]",
            )
        if not table.row_count:
            table.add_row("no personal data found", "", "", "", "", "")
        return table


class AuditSummary:
    """Keeps the audit chain head a run left, as the audit listener reports it."""

    fail_closed = False

    def __init__(self) -> None:
        self.head: str | None = None
        self.anchored_in: str | None = None

    def handle(self, event: Event) -> None:
        """Nothing to keep from events: the head is reported by the audit listener."""

    def audit_head(self, head: str, *, anchored_in: str | None) -> None:
        """Keep ``head`` (``SEQ:HASH``) and the head file it was signed into, if any."""
        self.head = head
        self.anchored_in = anchored_in
