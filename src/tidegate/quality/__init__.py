"""Data quality: rules compiled into one vectorized pass, thresholds, metrics, quarantine rows.

``QualityStep`` is what a pipeline's ``quality:`` section becomes; ``check_table`` runs the
same rules over an in-memory Arrow table.
"""

from tidegate.quality.report import QualityReport, check_table
from tidegate.quality.step import QualityStep

__all__ = ["QualityReport", "QualityStep", "check_table"]
