"""The runner: drives source -> steps -> destination one batch at a time and emits events.

It holds a batch in flight and reads one ahead (``read_ahead``), so memory is bounded by the
batch size, never by the input size.
After each batch it hands the destination a ``Checkpoint`` (source rows consumed, position),
which the destination commits in the same transaction as the rows. A run that finds an
unfinished checkpoint refuses to start unless told to ``resume`` (skip exactly the rows already
committed) or start ``fresh``: neither a lost nor a duplicated row. The runner knows protocols
only: log formats, metrics, alerts and lineage are listeners on the event bus; it merely binds
``step`` and ``batch`` as logging context so a plugin's own log lines say where they come from.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from tidegate.core.health import HealthChecked
from tidegate.core.protocols import (
    QUARANTINE_COLUMNS,
    REASON_COLUMN,
    ROW_COLUMN,
    RULES_COLUMN,
    Checkpoint,
    Finishing,
    ProtectsQuarantine,
    Quarantines,
    ResumeChecked,
    StepResult,
)
from tidegate.core.readahead import read_ahead
from tidegate.core.rebatch import combine
from tidegate.errors import ConfigError, DataError, DependencyError, InternalError, TidegateError
from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BatchWritten,
    PreflightChecked,
    RetryAttempted,
    RowsRejected,
    RunFinished,
    RunResumed,
    RunStarted,
    StepFinished,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import Destination, Position, Recovery, Source, Step

T = TypeVar("T")

__all__ = ["OnUnfinished", "RunResult", "Runner"]

OnUnfinished = Literal["refuse", "resume", "fresh"]
"""What to do when the destination holds an unfinished checkpoint of an earlier run."""


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
    resumed_from: str | None = None

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
        on_unfinished: OnUnfinished = "refuse",
        preflight: bool = True,
        min_batch_rows: int = 0,
        recovery: Recovery | None = None,
        fresh_steps: Callable[[], Sequence[Step]] | None = None,
    ) -> None:
        self.source = source
        self.steps = tuple(steps)
        self.destination = destination
        self.ctx = context
        self.on_unfinished = on_unfinished
        self.preflight = preflight
        self.min_batch_rows = min_batch_rows
        self.recovery = recovery
        self.fresh_steps = fresh_steps
        self._counts: Counter[str] = Counter()
        self._committed: Counter[str] = Counter()
        self._retrying = False
        self._failed_in = "load"
        self._resumed_from: str | None = None
        self._schema_told = False

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
            if self.preflight:  # a failed health gate fails fast: it is not retried
                self._preflight()
            self._recovering(started)
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
            resumed_from=self._resumed_from,
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

    def _recovering(self, started: float) -> None:
        """Load; after a retryable failure, wait as the recovery policy says and continue
        after the last committed checkpoint, so nothing committed is loaded twice."""
        attempt = 0
        while True:
            try:
                self._transfer()
                return
            except TidegateError as exc:
                attempt += 1
                kind = str(exc.kind)
                operation = self._failed_in
                wait = (
                    None
                    if self.recovery is None
                    else self.recovery.delay(
                        exc, attempt, time.perf_counter() - started, operation=operation
                    )
                )
                if wait is None:
                    raise
            self.ctx.emit(
                RetryAttempted(
                    run_id=self.ctx.run_id,
                    pipeline=self.ctx.pipeline,
                    operation=operation,
                    target=(
                        self.source.describe()
                        if operation == "source"
                        else self.destination.describe()
                    ),
                    attempt=attempt,
                    delay=wait,
                    error_kind=kind,
                )
            )
            time.sleep(wait)
            # What was not committed is read, transformed and written again: counts and the
            # steps' run-wide state (unique keys seen) go back to the last commit.
            self._counts = Counter(self._committed)
            if self.fresh_steps is not None:
                self.steps = tuple(self.fresh_steps())
            self._retrying = True

    def _transfer(self) -> None:
        ctx = self.ctx
        destination = self.destination
        self._failed_in = "load"
        try:
            last = destination.open(ctx)
            if (
                last is not None
                and last.finished
                and (self.on_unfinished == "resume" or self._own(last))
            ):
                self._nothing_to_resume(last)
                return
            begin = self._begin_after(last)
            destination.start(resume=begin is not None)
            if begin is not None and not self._own(begin):  # not this run's own retry
                self._resumed_from = begin.run_id
                ctx.emit(
                    RunResumed(
                        run_id=ctx.run_id,
                        pipeline=ctx.pipeline,
                        from_run=begin.run_id,
                        batch=begin.batch,
                        rows=begin.rows,
                    )
                )
            number = begin.batch if begin else 0
            consumed = begin.rows if begin else 0
            position = dict(begin.position) if begin else {}
            skip = consumed
            batches = combine(self.source.read(ctx), min_rows=self.min_batch_rows)
            idle_since = time.perf_counter()
            for item in self._reading(read_ahead(batches)):
                waited = time.perf_counter() - idle_since
                batch = item.batch
                if skip:
                    if skip >= batch.num_rows:
                        skip -= batch.num_rows
                        continue
                    batch, skip = batch.slice(skip), 0
                number += 1
                ctx.batch.number = number
                ctx.batch.first_row = consumed + 1
                consumed += batch.num_rows
                position = dict(item.position)
                self._one_batch(number, batch, item.rejected, position, waited=waited)
                self._commit(number, consumed, position)
                idle_since = time.perf_counter()
            if skip:
                raise DataError(
                    f"the source has {skip:,} fewer rows than the interrupted run had committed",
                    location=self.source.describe(),
                    hint="the source changed since that run; start over with --fresh",
                )
            for step in self.steps:
                if isinstance(step, Finishing):
                    with structlog.contextvars.bound_contextvars(step=step.name):
                        step.finish(ctx)
            destination.finish(
                Checkpoint(
                    pipeline=ctx.pipeline,
                    run_id=ctx.run_id,
                    batch=number,
                    rows=consumed,
                    position=position,
                    finished=True,
                )
            )
        except BaseException:
            destination.rollback()
            raise
        finally:
            destination.close()

    def _commit(self, number: int, consumed: int, position: Position) -> None:
        """Hand batch ``number``'s checkpoint to the destination; note what it made durable."""
        ctx = self.ctx
        checkpoint = Checkpoint(
            pipeline=ctx.pipeline,
            run_id=ctx.run_id,
            batch=number,
            rows=consumed,
            position=position,
        )
        ctx.faults.reached("before_commit", batch=number)
        began = time.perf_counter()
        if self.destination.commit(checkpoint):
            self._committed = Counter(self._counts)
            ctx.faults.reached("after_commit", batch=number)
            ctx.emit(
                BatchCommitted(
                    run_id=ctx.run_id,
                    pipeline=ctx.pipeline,
                    batch=number,
                    rows=consumed,
                    position=position,
                    seconds=time.perf_counter() - began,
                )
            )

    def _preflight(self) -> None:
        """Run the source's and destination's health checks; the first failure stops the run."""
        for plugin in (self.source, self.destination):
            if not isinstance(plugin, HealthChecked):
                continue
            for check in plugin.health(self.ctx):
                self.ctx.emit(
                    PreflightChecked(
                        run_id=self.ctx.run_id,
                        pipeline=self.ctx.pipeline,
                        component=check.component,
                        check=check.name,
                        ok=check.ok,
                        seconds=check.seconds,
                        detail=check.detail,
                    )
                )
                if not check.ok:
                    error = check.error or DependencyError(check.detail)
                    error.message = f"pre-flight check {check.name!r} failed: {error.message}"
                    error.location = error.location or check.component
                    error.hint = error.hint or "run `tidegate health` for every check"
                    raise error

    def _nothing_to_resume(self, last: Checkpoint) -> None:
        """A resume whose last run had finished: every row is loaded already, so load none.

        The process may have died after the final commit but before it could report success;
        reading the source again would load every row twice.
        """
        self.destination.rollback()
        self._resumed_from = last.run_id
        self.ctx.emit(
            RunResumed(
                run_id=self.ctx.run_id,
                pipeline=self.ctx.pipeline,
                from_run=last.run_id,
                batch=last.batch,
                rows=last.rows,
                already_finished=True,
            )
        )

    def _reading(self, items: Iterator[T]) -> Iterator[T]:
        """``items``, noting that a failure while reading them is the source's."""
        while True:
            self._failed_in = "source"
            try:
                item = next(items)
            except StopIteration:
                return
            self._failed_in = "load"
            yield item

    def _own(self, last: Checkpoint | None) -> bool:
        """Whether ``last`` was committed by this run before a failure it is retrying."""
        return self._retrying and last is not None and last.run_id == self.ctx.run_id

    def _begin_after(self, last: Checkpoint | None) -> Checkpoint | None:
        """The checkpoint to continue after, or None to start from the source's first row.

        This run's own checkpoint (it is being retried) is always continued after; another
        run's is handled as ``on_unfinished`` says.
        """
        if self._own(last) and last is not None and not last.finished:
            return last
        if last is None or last.finished or self.on_unfinished == "fresh":
            return None
        if self.on_unfinished == "resume":
            if isinstance(self.source, ResumeChecked):
                self.source.check_resumable()
            return last
        raise ConfigError(
            f"run {last.run_id} of pipeline {last.pipeline!r} stopped after batch {last.batch} "
            f"({last.rows:,} source rows committed) and can be resumed",
            location=self.destination.describe(),
            hint="continue it with `tidegate run --resume`, or start over with `--fresh` "
            "(in append mode the rows it committed stay in the table)",
        )

    def _one_batch(
        self,
        number: int,
        batch: pa.RecordBatch,
        rejected: pa.RecordBatch | None,
        position: Position,
        *,
        waited: float = 0.0,
    ) -> None:
        self._counts["batches"] += 1
        self._counts["read"] += batch.num_rows
        schema = None
        if not self._schema_told:  # once per run: what the source produced, for the history
            self._schema_told = True
            schema = tuple((column.name, str(column.type)) for column in batch.schema)
        self.ctx.emit(
            BatchRead(
                run_id=self.ctx.run_id,
                pipeline=self.ctx.pipeline,
                batch=number,
                rows=batch.num_rows,
                nbytes=batch.nbytes,
                position=position,
                wait_seconds=waited,
                schema=schema,
            )
        )
        if rejected is not None and rejected.num_rows:
            self._reject("source", number, rejected)
        batch = self._apply_steps(batch, number)
        self.ctx.faults.reached("mid_batch", batch=number)
        if batch.num_rows == 0:
            return
        began = time.perf_counter()
        self.destination.write(batch, batch_number=number)
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

    def _apply_steps(self, batch: pa.RecordBatch, number: int) -> pa.RecordBatch:
        for step in self.steps:
            began = time.perf_counter()
            try:
                with structlog.contextvars.bound_contextvars(step=step.name, batch=number):
                    self.ctx.faults.reached(f"step:{step.name}", batch=number)
                    output = step.process(batch, self.ctx)
            except TidegateError as exc:
                exc.location = exc.location or f"step {step.name!r}, batch {number}"
                raise
            rows_in = batch.num_rows
            if isinstance(output, StepResult):
                batch = output.batch
                if output.rejected is not None and output.rejected.num_rows:
                    self._reject(step.name, number, output.rejected, quarantine=True)
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

    def _reject(
        self, step: str, number: int, rejected: pa.RecordBatch, *, quarantine: bool = False
    ) -> None:
        """Count and report rejected rows; a step's go to the destination's quarantine.

        A source keeps the input it cannot parse on its own (a CSV source's quarantine file):
        those rows have no columns to put in a table yet.
        """
        self._counts["rejected"] += rejected.num_rows
        kept_in: str | None = None
        if quarantine and isinstance(self.destination, Quarantines):
            rows = self._quarantine_rows(step, number, rejected)
            for guard in self.steps:
                if isinstance(guard, ProtectsQuarantine):
                    rows = guard.protect_quarantine(rows, self.ctx)
            self.destination.write_quarantine(rows)
            kept_in = self.destination.quarantine_name()
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
                quarantine=kept_in,
            )
        )

    def _quarantine_rows(self, step: str, number: int, rejected: pa.RecordBatch) -> pa.RecordBatch:
        """The rejected rows, then the bookkeeping columns in ``QUARANTINE_COLUMNS`` order."""
        rows = rejected.num_rows
        given = {
            name: rejected.column(name)
            for name in (ROW_COLUMN, RULES_COLUMN, REASON_COLUMN)
            if name in rejected.schema.names
        }
        own = [name for name in rejected.schema.names if name not in given]
        # zero-padded so that ids sort like the rows they name
        index = pc.utf8_lpad(pa.array(range(rows), type=pa.int64()).cast(pa.string()), 9, "0")
        prefix = f"{self.ctx.run_id}:{number:09d}:"
        made: dict[str, pa.Array] = {
            "_tidegate_qid": pc.binary_join_element_wise(prefix, index, ""),
            "_tidegate_run_id": pa.repeat(self.ctx.run_id, rows),
            "_tidegate_step": pa.repeat(step, rows),
            "_tidegate_batch": pa.repeat(pa.scalar(number, pa.int64()), rows),
            ROW_COLUMN: given.get(ROW_COLUMN, pa.nulls(rows, type=pa.int64())),
            RULES_COLUMN: given.get(RULES_COLUMN, pa.nulls(rows, type=pa.string())),
            REASON_COLUMN: given.get(REASON_COLUMN, pa.repeat(f"rejected by {step}", rows)),
            "_tidegate_quarantined_at": pa.repeat(
                pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC")), rows
            ),
        }
        names = own + [name for name, _ in QUARANTINE_COLUMNS]
        arrays = [rejected.column(name) for name in own] + [
            made[name] for name, _ in QUARANTINE_COLUMNS
        ]
        return pa.RecordBatch.from_arrays(arrays, names=names)
