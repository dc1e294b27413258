"""The quality part of ``tidegate run``'s summary: the score, its dimensions, the failing rules.

A listener keeps the run's ``QualityMeasured`` event; the CLI prints it after the counts, as a
table on a terminal or as a ``quality`` object in the JSON summary line.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from tidegate.events import Event, QualityMeasured

__all__ = ["QualitySummary"]


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
