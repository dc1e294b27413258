"""``tidegate classify FILE|pipeline.yaml``: which columns hold personal data, and why.

The data is read the way ``tidegate profile`` reads it (a data file through its source plugin,
or what a pipeline's steps produce) and sampled by ``classify_table``; the verdict per column
(type, confidence, level, evidence) is printed as a table, or as JSON for scripts. No value is
printed: evidence says what matched and on which share, never a sample.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tidegate.app.logs import configure_logging
from tidegate.app.profiling import file_batches, pipeline_batches
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["classify_command"]

_PIPELINE = {".yaml", ".yml"}


def classify_command(target: Path, *, sample_rows: int, json_out: bool, sets: list[str]) -> None:
    """Classify ``target``'s columns and print the verdicts."""
    from tidegate.governance.classify import PiiType, classify_table  # noqa: PLC0415

    configure_logging("warning", "auto")  # stdout carries the verdicts; logs go to stderr
    if not target.exists():
        raise ConfigError(
            f"{target} does not exist", hint="give a data file, a Parquet folder or pipeline.yaml"
        )
    if target.suffix.lower() in _PIPELINE:
        batches, _ = pipeline_batches(target, sets)
    else:
        batches, _ = file_batches(target, sets)
    verdicts = classify_table(batches, sample_rows=sample_rows)
    if json_out:
        document = {"target": str(target), "columns": [v.to_dict() for v in verdicts]}
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    table = Table("column", "pii type", "confidence", "level", "evidence", title=target.name)
    for verdict in verdicts:
        evidence = verdict.evidence
        found = verdict.pii_type != PiiType.NONE
        table.add_row(
            escape(verdict.column),
            f"[bold]{verdict.pii_type}[/]" if found else str(verdict.pii_type),
            f"{verdict.confidence:.2f}",
            str(verdict.level),
            escape(
                f"{evidence.matched} on {evidence.ratio:.0%} of {evidence.sampled:,} sampled"
                + (f", header says {evidence.header_hint}" if evidence.header_hint else "")
            ),
        )
    Console().print(table)
