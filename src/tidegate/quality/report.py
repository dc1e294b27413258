"""``check_table``: the quality rules as a library call over an Arrow table, outside a pipeline.

The same step a pipeline runs, driven over the table's batches: useful in a notebook, a test
suite or a benchmark, where the data is already in memory and there is nothing to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import ValidationError

from tidegate.core.context import RunContext, new_run_id
from tidegate.core.protocols import StepResult
from tidegate.errors import ConfigError
from tidegate.events import Event, EventBus, QualityMeasured
from tidegate.quality.step import QualityStep
from tidegate.spec.quality import QualitySpec

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["QualityReport", "check_table"]


@dataclass(frozen=True, kw_only=True)
class QualityReport:
    """What the rules found: counts per rule, the kept and the rejected rows, the score."""

    rows: int
    rejected: int
    failures: dict[str, int]
    score: float | None
    dimensions: Mapping[str, float | None]
    valid: pa.Table
    quarantined: pa.Table | None
    measured: QualityMeasured


class _Collector:
    fail_closed = False

    def __init__(self) -> None:
        self.measured: QualityMeasured | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, QualityMeasured):
            self.measured = event


def check_table(
    table: pa.Table,
    quality: Mapping[str, Any] | QualitySpec,
    *,
    base_dir: Path | None = None,
    profile: str | None = None,
) -> QualityReport:
    """Check ``table`` against rules written as a pipeline's ``quality:`` section.

    Raises ``ConfigError`` for bad rules and ``DataError`` when an ``abort`` rule or a
    threshold stops the check, as a run would.
    """
    if isinstance(quality, QualitySpec):
        spec = quality
    else:
        try:
            spec = QualitySpec.model_validate(dict(quality))
        except ValidationError as exc:
            raise ConfigError(
                f"quality rules are not valid: {exc}", hint="see docs/quality.md for the format"
            ) from None
    spec = spec.for_profile(profile)
    bus = EventBus()
    collector = _Collector()
    bus.subscribe(collector)
    ctx = RunContext(
        run_id=new_run_id(), pipeline="check_table", bus=bus, base_dir=base_dir or Path.cwd()
    )
    step = QualityStep(spec, base_dir=ctx.base_dir)
    step.check_schema(table.schema)
    kept: list[pa.RecordBatch] = []
    rejected: list[pa.RecordBatch] = []
    for number, batch in enumerate(table.to_batches(), start=1):
        ctx.batch.number = number
        output = step.process(batch, ctx)
        ctx.batch.first_row += batch.num_rows
        if isinstance(output, StepResult):
            kept.append(output.batch)
            if output.rejected is not None:
                rejected.append(output.rejected)
        else:
            kept.append(output)
    step.finish(ctx)
    assert collector.measured is not None  # noqa: S101 - finish always reports
    measured = collector.measured
    return QualityReport(
        rows=measured.rows,
        rejected=measured.rejected,
        failures={str(rule["id"]): int(rule["failed"]) for rule in measured.rules},
        score=measured.score,
        dimensions=measured.dimensions,
        valid=pa.Table.from_batches(kept, schema=table.schema),
        quarantined=pa.Table.from_batches(rejected) if rejected else None,
        measured=measured,
    )
