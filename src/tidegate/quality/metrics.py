"""Running totals of a run's rule results, and the quality dimensions and score made from them.

The definitions (written out for users in docs/quality.md):

- completeness: share of checked rows that pass the ``not_null`` rules (mean over those rules);
  per column, the share of non-null values, for every column.
- validity: share of rows that pass every value rule (between, min, max, regex, allowed_values,
  length, type, custom); per column, the share passing that column's value rules.
- uniqueness: share of rows whose key is not a repeat (mean over ``unique`` rules).
- timeliness: share of rows passing ``not_in_future`` rules, and 1 or 0 per ``freshness`` rule
  (met or not), averaged.
- consistency: share of rows passing ``expression`` and ``referential`` rules (mean over them).
- score: the mean of the dimensions that some rule measures, times 100; None when none does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from tidegate.spec.quality import QualitySpec, Rule

__all__ = ["DIMENSIONS", "QualityTally"]

DIMENSIONS: dict[str, frozenset[str]] = {
    "completeness": frozenset({"not_null"}),
    "validity": frozenset(
        {"between", "min", "max", "regex", "allowed_values", "length", "type", "custom"}
    ),
    "uniqueness": frozenset({"unique"}),
    "timeliness": frozenset({"not_in_future", "freshness"}),
    "consistency": frozenset({"expression", "referential"}),
}
"""Which rules measure which quality dimension."""


def _share(good: int, total: int) -> float | None:
    return None if total == 0 else good / total


@dataclass
class QualityTally:
    """Counts accumulated batch by batch; cheap to update, turned into figures at the end."""

    spec: QualitySpec
    rows: int = 0
    rejected: int = 0
    invalid_rows: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    nulls: Counter[str] = field(default_factory=Counter)
    column_invalid: Counter[str] = field(default_factory=Counter)
    freshness_met: dict[str, bool] = field(default_factory=dict)

    def add(self, batch: pa.RecordBatch, failed: dict[str, np.ndarray], rejected: int) -> None:
        """Fold one batch's failure masks in (``failed`` holds only rules that failed)."""
        self.rows += batch.num_rows
        self.rejected += rejected
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            self.nulls[name] += column.null_count
        rules = {rule.rule_id: rule for rule in self.spec.rules}
        validity: np.ndarray | None = None
        per_column: dict[str, np.ndarray] = {}
        for rule_id, mask in failed.items():
            self.failed[rule_id] += int(mask.sum())
            rule = rules[rule_id]
            if rule.type in DIMENSIONS["validity"]:
                validity = mask if validity is None else validity | mask
                if rule.column:
                    previous = per_column.get(rule.column)
                    per_column[rule.column] = mask if previous is None else previous | mask
        if validity is not None:
            self.invalid_rows += int(validity.sum())
        for column, mask in per_column.items():
            self.column_invalid[column] += int(mask.sum())

    def rule_figures(self, rule: Rule, action: str) -> dict[str, Any]:
        """One rule's outcome, as the ``QualityMeasured`` event carries it."""
        failed = self.failed[rule.rule_id]
        passed = failed == 0
        if rule.type == "freshness":
            passed = self.freshness_met.get(rule.rule_id, True)
            failed = 0 if passed else 1
        return {
            "id": rule.rule_id,
            "type": rule.type,
            "column": rule.column,
            "severity": rule.severity,
            "on_fail": action,
            "checked": self.rows,
            "failed": failed,
            "passed": passed,
        }

    def dimensions(self) -> dict[str, float | None]:
        """Each dimension as a share in 0..1, or None when no rule measures it."""
        result: dict[str, float | None] = {}
        for name, kinds in DIMENSIONS.items():
            rules = [rule for rule in self.spec.rules if rule.type in kinds]
            if not rules or self.rows == 0:
                result[name] = None
            elif name == "validity":
                result[name] = 1 - self.invalid_rows / self.rows
            else:
                shares = [self._rule_share(rule) for rule in rules]
                result[name] = float(np.mean(shares))
        return result

    def _rule_share(self, rule: Rule) -> float:
        if rule.type == "freshness":
            return 1.0 if self.freshness_met.get(rule.rule_id, True) else 0.0
        return 1 - self.failed[rule.rule_id] / self.rows

    def columns(self) -> dict[str, dict[str, float | None]]:
        """Per column: completeness for every column, validity and uniqueness where ruled."""
        figures: dict[str, dict[str, float | None]] = {}
        for name, nulls in self.nulls.items():
            figures[name] = {"completeness": _share(self.rows - nulls, self.rows)}
        spelled = {name.lower(): name for name in figures}  # rules name columns ignoring case
        for rule in self.spec.rules:
            if not rule.column:
                continue
            column = rule.column if rule.column in figures else spelled.get(rule.column.lower())
            if column is None:
                continue
            if rule.type in DIMENSIONS["validity"]:
                invalid = self.column_invalid[rule.column]
                figures[column]["validity"] = _share(self.rows - invalid, self.rows)
            elif rule.type == "unique":
                figures[column]["uniqueness"] = _share(
                    self.rows - self.failed[rule.rule_id], self.rows
                )
        return figures

    def score(self) -> float | None:
        """The mean of the measured dimensions, as 0..100 with one decimal; None if none."""
        measured = [value for value in self.dimensions().values() if value is not None]
        return round(100 * float(np.mean(measured)), 1) if measured else None
