"""Scorer for the PII evaluation set: per-type precision / recall / F1, macro-F1, non-PII flags.

A column is one decision. For each PII type T: a true positive is a column labeled T and
predicted T; a false positive is predicted T but labeled anything else (``none`` included); a
false negative is labeled T but predicted anything else. Macro-F1 is the unweighted mean of the
per-type F1 over the PII types present in the labels (``none`` is not a type to find). The
non-PII flag rate is the share of ``none`` columns predicted as any PII type: the false alarms a
data steward would have to clear by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class TypeScore:
    """Precision, recall and F1 of one PII type, with its support (labeled columns)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Score:
    """The whole evaluation: per-type scores, their macro mean and the non-PII false alarms."""

    per_type: dict[str, TypeScore]
    macro_f1: float
    non_pii_flag_rate: float
    non_pii_columns: int

    def table(self) -> str:
        """A fixed-width text table for reports."""
        lines = [f"{'type':<16}{'P':>7}{'R':>7}{'F1':>7}{'n':>5}"]
        for name, s in sorted(self.per_type.items()):
            lines.append(f"{name:<16}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{s.support:>5}")
        lines.append(f"{'macro-F1':<16}{self.macro_f1:>21.3f}")
        lines.append(
            f"non-PII flagged: {self.non_pii_flag_rate:.1%} of {self.non_pii_columns} columns"
        )
        return "\n".join(lines)


def score(
    labels: Mapping[str, Mapping[str, str]], predictions: Mapping[str, Mapping[str, str]]
) -> Score:
    """Score ``predictions[table][column] -> type`` against ``labels`` of the same shape."""
    pairs = [
        (truth, predictions.get(table, {}).get(column, "none"))
        for table, columns in labels.items()
        for column, truth in columns.items()
    ]
    types = sorted({truth for truth, _ in pairs if truth != "none"})
    per_type: dict[str, TypeScore] = {}
    for name in types:
        tp = sum(1 for t, p in pairs if t == name and p == name)
        fp = sum(1 for t, p in pairs if t != name and p == name)
        fn = sum(1 for t, p in pairs if t == name and p != name)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_type[name] = TypeScore(precision, recall, f1, tp + fn)
    non_pii = [p for t, p in pairs if t == "none"]
    flagged = sum(1 for p in non_pii if p != "none")
    macro = sum(s.f1 for s in per_type.values()) / len(per_type) if per_type else 0.0
    return Score(per_type, macro, flagged / len(non_pii) if non_pii else 0.0, len(non_pii))
