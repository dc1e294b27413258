"""The three data-plane protocols every plugin implements, and the values they exchange.

A source yields ``SourceBatch``es (a RecordBatch plus a resumable, JSON-serialisable position);
a step maps a batch to a batch and may split off rejected rows; a destination writes batches
and commits them together with a ``Checkpoint`` in one transaction, so after a crash the
destination itself says how far the run got and a resumed run neither loses nor repeats a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import pyarrow as pa

    from tidegate.core.context import RunContext
    from tidegate.errors import TidegateError

__all__ = [
    "FAULT_POINTS",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_SUFFIX",
    "REASON_COLUMN",
    "ROW_COLUMN",
    "RULES_COLUMN",
    "CallPolicy",
    "Checkpoint",
    "Destination",
    "DirectCalls",
    "FaultPoints",
    "Finishing",
    "NoFaults",
    "Position",
    "ProtectsQuarantine",
    "Quarantines",
    "Recovery",
    "ResumeChecked",
    "RowsRead",
    "SchemaPeeked",
    "Source",
    "SourceBatch",
    "Step",
    "StepResult",
]

T = TypeVar("T")

Position = Mapping[str, Any]
"""Where a source stands after a batch, as JSON-serialisable values (row count, cursor, …)."""

REASON_COLUMN = "_tidegate_reason"
"""Column added to rejected rows that says, for a person, why each row was split off."""

RULES_COLUMN = "_tidegate_rules"
"""Optional column of rejected rows: the ids of the rules a row failed, comma-separated."""

ROW_COLUMN = "_tidegate_row"
"""Optional column of rejected rows: the row's 1-based number in the source, when known."""

QUARANTINE_SUFFIX = "__quarantine"
"""A destination keeps the rows rejected on the way to ``<table>`` in ``<table>__quarantine``."""

QUARANTINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_tidegate_qid", "string: unique id of the quarantined row, <run id>:<batch>:<index>"),
    ("_tidegate_run_id", "string: the run that rejected the row"),
    ("_tidegate_step", "string: the step that rejected it (replay resumes there)"),
    ("_tidegate_batch", "int64: the batch number within that run"),
    (ROW_COLUMN, "int64, nullable: the row's 1-based number in the source, when known"),
    (RULES_COLUMN, "string, nullable: ids of the rules the row failed, comma-separated"),
    (REASON_COLUMN, "string: why, for a person"),
    ("_tidegate_quarantined_at", "timestamp[us, UTC]: when the row was rejected"),
)
"""Bookkeeping columns after the row's own columns in a quarantine, in this order, with types."""


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """How far a run got, stored by the destination in the same transaction as the rows.

    ``rows`` counts the source rows consumed through batch ``batch`` (across resumes), so a
    resumed run skips exactly that many rows of the source; ``finished`` marks the final commit
    of a run that completed.
    """

    pipeline: str
    run_id: str
    batch: int
    rows: int
    position: Position
    finished: bool = False


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """One batch read from a source and the position reached after it.

    ``rejected`` holds input rows the source could not parse and set aside (for example CSV
    rows quarantined by ``on_malformed: quarantine``), with a ``_tidegate_reason`` column, so
    the runner counts and reports them like rows rejected by a step.
    """

    batch: pa.RecordBatch
    position: Position
    rejected: pa.RecordBatch | None = None


@dataclass(frozen=True, slots=True)
class StepResult:
    """A step's output: the rows that go on, and optionally the rows it split off.

    ``rejected`` carries the input columns plus ``_tidegate_reason``.
    """

    batch: pa.RecordBatch
    rejected: pa.RecordBatch | None = None


@runtime_checkable
class Source(Protocol):
    """Reads data as a stream of bounded batches."""

    def describe(self) -> str:
        """A short, secret-free description for logs and events, such as ``csv:data/x.csv``."""

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        """Yield batches in order; raise a ``TidegateError`` with a location on bad input."""


@runtime_checkable
class ResumeChecked(Protocol):
    """A source that can tell whether skipping the rows already loaded is safe.

    A resumed run reads the source again and skips the rows the interrupted run committed;
    that is exact only if the source yields its rows in the same order every time.
    """

    def check_resumable(self) -> None:
        """Raise ``ConfigError`` saying how to make the order stable, when it is not."""


@runtime_checkable
class SchemaPeeked(Protocol):
    """A source that can tell the schema of its batches without reading the data itself.

    ``tidegate validate`` uses it to check rules and steps against real column names before a
    run; reading a header, file metadata or a ``LIMIT 0`` query is fine, reading rows is not.
    """

    def peek_schema(self, ctx: RunContext) -> pa.Schema | None:
        """The schema batches will have, or None when it cannot be known cheaply."""


@runtime_checkable
class Step(Protocol):
    """Changes data one batch at a time.

    A step may declare ``keeps_rows = True`` (a class attribute) when its output row *i* is
    always its input row *i*: then a later step can still name a row by its source row number.
    """

    name: str

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch | StepResult:
        """Return the transformed batch, or a ``StepResult`` when rows are rejected."""


@runtime_checkable
class Finishing(Protocol):
    """A step with checks over the whole run (row counts, freshness) made after the last batch.

    The runner calls ``finish`` before the destination's final commit; raising there fails the
    run and rolls back what was not committed yet.
    """

    def finish(self, ctx: RunContext) -> None:
        """Make the end-of-run checks and report; raise a ``TidegateError`` to fail the run."""


@runtime_checkable
class ProtectsQuarantine(Protocol):
    """A step that must see rejected rows before they are kept in the destination's quarantine.

    Rejected rows leave the main path, possibly before the steps that would have masked or
    encrypted them: a governance step protects their sensitive columns (encrypts them, so a
    replay can restore the values) on their way into the quarantine.
    """

    def protect_quarantine(self, rows: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``rows`` as they may be stored: same rows, sensitive columns protected."""


@runtime_checkable
class Destination(Protocol):
    """Writes batches in transactions that each end with a checkpoint.

    Lifecycle: ``open`` -> ``start`` -> (``write`` -> ``commit``)* -> ``finish``, or
    ``rollback`` on failure; ``close`` always. A destination may batch several ``commit`` calls
    into one real commit (``commit_every``); it always stores the latest checkpoint with the rows
    it covers, so the checkpoint it returns from ``open`` is the truth after any crash.
    """

    def describe(self) -> str:
        """A short, secret-free description, such as ``duckdb:warehouse.duckdb/customers``."""

    def open(self, ctx: RunContext) -> Checkpoint | None:
        """Connect, lock the target against a concurrent run, return its latest checkpoint."""

    def start(self, *, resume: bool) -> None:
        """Begin the first transaction, continuing after the checkpoint when ``resume``."""

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Add one batch to the open transaction."""

    def commit(self, checkpoint: Checkpoint) -> bool:
        """Store ``checkpoint`` with the rows written so far; False when deferred to a later one."""

    def finish(self, checkpoint: Checkpoint) -> None:
        """End of data: make everything visible with the final, ``finished`` checkpoint."""

    def rollback(self) -> None:
        """Discard the open transaction; must be safe to call after a failed ``open``."""

    def close(self) -> None:
        """Release the lock and connections; called after finish or rollback."""


@runtime_checkable
class Quarantines(Protocol):
    """A destination that keeps rejected rows next to its target, in ``<table>__quarantine``.

    Quarantined rows are written in the same transaction as the batch they were split from, so
    a crash and resume neither loses nor repeats one. A row keeps its own columns, with their
    types, followed by the ``QUARANTINE_COLUMNS``. ``read_quarantine`` and ``read_target`` may
    be called after ``open``; ``write_quarantine`` and ``delete_quarantine`` after ``start``,
    inside the open transaction.
    """

    def quarantine_name(self) -> str:
        """Where the quarantine lives, for messages: a table name or a file path."""

    def write_quarantine(self, rows: pa.RecordBatch) -> None:
        """Append rows; create the quarantine on first use and add columns it lacks."""

    def read_quarantine(self, *, run_id: str | None = None) -> pa.Table:
        """Quarantined rows (of one run, or all), oldest first; empty when there are none."""

    def delete_quarantine(self, qids: Sequence[str]) -> int:
        """Remove rows by ``_tidegate_qid``; return how many were removed."""

    def read_target(self, columns: Sequence[str]) -> pa.Table:
        """The distinct values of ``columns`` in the target; empty when it does not exist."""


@runtime_checkable
class RowsRead(Protocol):
    """A destination whose loaded rows can be read back, for authorized use after a run.

    ``tidegate decrypt`` reads encrypted columns back through it; may be called after ``open``.
    """

    def read_rows(
        self, *, columns: Sequence[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """Up to ``limit`` rows of the target (every column when ``columns`` is None); an empty
        table when the target does not exist."""


@runtime_checkable
class CallPolicy(Protocol):
    """How a plugin calls something outside the process (an HTTP API, a database).

    ``operation`` names the kind of call (``rest``, ``source_read``) and ``target`` the system
    (an API's host), so retries and circuit breakers are configured per operation and kept per
    target. The policy runs ``fn``, may run it again, and raises the last ``TidegateError``.
    """

    def call(self, operation: str, fn: Callable[[], T], *, target: str) -> T:
        """``fn()``, under the policy for ``operation`` on ``target``."""


class DirectCalls:
    """The policy of a context nobody configured: call once, no retry, no breaker."""

    def call(self, operation: str, fn: Callable[[], T], *, target: str) -> T:
        """``fn()``."""
        return fn()


FAULT_POINTS = ("mid_batch", "before_commit", "after_commit")
"""Named points of a batch's life where faults can be injected (besides ``step:<name>``)."""


@runtime_checkable
class FaultPoints(Protocol):
    """Where the runner offers fault injection: a no-op unless faults are configured."""

    def reached(self, point: str, *, batch: int) -> None:
        """The run is at ``point`` (``mid_batch``, ``before_commit``, ``after_commit`` or
        ``step:<name>``) of batch ``batch``: raise, sleep or kill here when told to."""


class NoFaults:
    """No fault injection: every point passes."""

    def reached(self, point: str, *, batch: int) -> None:
        """Nothing happens."""


@runtime_checkable
class Recovery(Protocol):
    """Whether, and after how long, a load that failed continues after its last checkpoint."""

    def delay(
        self, error: TidegateError, attempt: int, elapsed: float, *, operation: str
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to fail the run with
        ``error``; ``elapsed`` is the seconds since the run started, ``operation`` where it
        failed: ``source`` (reading) or ``load`` (transforming, writing, committing)."""
