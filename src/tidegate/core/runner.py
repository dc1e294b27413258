"""The runner: drives source -> steps -> destination one batch at a time and emits events.

It holds one batch in flight, so memory is bounded by the batch size, never by the input size.
Everything a destination receives during a run is committed once at the end, or rolled back on
any failure, so a failed run leaves the destination as it was. The runner knows protocols
only: log formats, metrics, alerts and lineage are listeners on the event bus; it merely binds
``step`` and ``batch`` as logging context so a plugin's own log lines say where they come from.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from tidegate.core.protocols import REASON_COLUMN, StepResult
from tidegate.errors import InternalError, TidegateError
from tidegate.events import (
    BatchRead,
    BatchWritten,
    RowsRejected,
    RunFinished,
    RunStarted,
    StepFinished,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import Destination, Source, Step

__all__ = ["RunResult", "Runner"]


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """What a run did: counts, duration and, for a failed run, the error."""

    run_id: str
    pipeline: str
    status: str
    rows_read: int
    rows_written: int
    rows_rejected: int
    batches: int
    seconds: float
    error: TidegateError | None = None

    @property
    def ok(self) -> bool:
        """True when the run succeeded and its data was committed."""
        return self.status == "succeeded"


class Runner:
    """Runs one pipeline once; create a new runner (and context) per run."""

    def __init__(
        self,
        *,
        source: Source,
        steps: Sequence[Step],
        destination: Destination,
        context: RunContext,
    ) -> None:
        self.source = source
        self.steps = tuple(steps)
        self.destination = destination
        self.ctx = context
        self._counts: Counter[str] = Counter()

    def run(self) -> RunResult:
        """Run to the end; never raises for a failed run, the result carries the error."""
        ctx = self.ctx
        started = time.perf_counter()
        error: TidegateError | None = None
        try:
            ctx.emit(
                RunStarted(
                    run_id=ctx.run_id,
                    pipeline=ctx.pipeline,
                    source=self.source.describe(),
                    destination=self.destination.describe(),
                    steps=tuple(step.name for step in self.steps),
                )
            )
            self._transfer()
        except TidegateError as exc:
            error = exc
        except Exception as exc:
            error = InternalError(f"unexpected {type(exc).__name__}: {exc}")
            error.__cause__ = exc
        seconds = time.perf_counter() - started
        result = RunResult(
            run_id=ctx.run_id,
            pipeline=ctx.pipeline,
            status="failed" if error else "succeeded",
            rows_read=self._counts["read"],
            rows_written=self._counts["written"],
            rows_rejected=self._counts["rejected"],
            batches=self._counts["batches"],
            seconds=seconds,
            error=error,
        )
        ctx.emit(
            RunFinished(
                run_id=ctx.run_id,
                pipeline=ctx.pipeline,
                status=result.status,
                rows_read=result.rows_read,
                rows_written=result.rows_written if result.ok else 0,
                rows_rejected=result.rows_rejected,
                batches=result.batches,
                seconds=seconds,
                error=str(error) if error else None,
                error_kind=str(error.kind) if error else None,
            )
        )
        return result

    def _transfer(self) -> None:
        destination = self.destination
        try:
            destination.open(self.ctx)
            for number, item in enumerate(self.source.read(self.ctx), start=1):
                self._counts["batches"] = number
                self._counts["read"] += item.batch.num_rows
                self.ctx.emit(
                    BatchRead(
                        run_id=self.ctx.run_id,
                        pipeline=self.ctx.pipeline,
                        batch=number,
                        rows=item.batch.num_rows,
                        nbytes=item.batch.nbytes,
                        position=item.position,
                    )
                )
                if item.rejected is not None and item.rejected.num_rows:
                    self._reject("source", number, item.rejected)
                batch = self._apply_steps(item.batch, number)
                if batch.num_rows == 0:
                    continue
                began = time.perf_counter()
                destination.write(batch, batch_number=number)
                self._counts["written"] += batch.num_rows
                self.ctx.emit(
                    BatchWritten(
                        run_id=self.ctx.run_id,
                        pipeline=self.ctx.pipeline,
                        batch=number,
                        rows=batch.num_rows,
                        seconds=time.perf_counter() - began,
                    )
                )
            destination.commit()
        except BaseException:
            destination.rollback()
            raise
        finally:
            destination.close()

    def _apply_steps(self, batch: pa.RecordBatch, number: int) -> pa.RecordBatch:
        for step in self.steps:
            began = time.perf_counter()
            try:
                with structlog.contextvars.bound_contextvars(step=step.name, batch=number):
                    output = step.process(batch, self.ctx)
            except TidegateError as exc:
                exc.location = exc.location or f"step {step.name!r}, batch {number}"
                raise
            rows_in = batch.num_rows
            if isinstance(output, StepResult):
                batch = output.batch
                if output.rejected is not None and output.rejected.num_rows:
                    self._reject(step.name, number, output.rejected)
            else:
                batch = output
            self.ctx.emit(
                StepFinished(
                    run_id=self.ctx.run_id,
                    pipeline=self.ctx.pipeline,
                    step=step.name,
                    batch=number,
                    rows_in=rows_in,
                    rows_out=batch.num_rows,
                    seconds=time.perf_counter() - began,
                )
            )
        return batch

    def _reject(self, step: str, number: int, rejected: pa.RecordBatch) -> None:
        self._counts["rejected"] += rejected.num_rows
        reasons: dict[str, int] = {}
        if REASON_COLUMN in rejected.schema.names:
            counts = rejected.column(REASON_COLUMN).value_counts()
            reasons = {str(pair["values"]): int(pair["counts"]) for pair in counts.to_pylist()}
        self.ctx.emit(
            RowsRejected(
                run_id=self.ctx.run_id,
                pipeline=self.ctx.pipeline,
                step=step,
                batch=number,
                rows=rejected.num_rows,
                reasons=reasons,
            )
        )
