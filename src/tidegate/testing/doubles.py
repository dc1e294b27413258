"""In-memory Source, Destination (with its quarantine) and Listener protocol implementations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.core import Checkpoint, SourceBatch
from tidegate.core.protocols import QUARANTINE_SUFFIX
from tidegate.errors import ConfigError, DataError, TidegateError, TransientError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from tidegate.core import RunContext
    from tidegate.events import Event

__all__ = [
    "FlakySource",
    "MemoryDestination",
    "MemorySource",
    "RecordingListener",
    "quarantine_rows",
]

E = TypeVar("E")


class MemorySource:
    """Yields the given batches in order; the position is the running row count."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self.batches = list(batches)

    def describe(self) -> str:
        """Say how many batches are held."""
        return f"memory:{len(self.batches)} batches"

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        """Yield every batch with its position."""
        rows = 0
        for batch in self.batches:
            rows += batch.num_rows
            yield SourceBatch(batch, {"rows": rows})


class FlakySource(MemorySource):
    """Like ``MemorySource`` but raises ``error`` after yielding ``fail_after`` batches."""

    def __init__(
        self,
        batches: Iterable[pa.RecordBatch],
        *,
        fail_after: int,
        error: TidegateError | None = None,
    ) -> None:
        super().__init__(batches)
        self.fail_after = fail_after
        self.error = error or TransientError("flaky source failed on purpose")

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        """Yield ``fail_after`` batches, then raise."""
        for count, item in enumerate(super().read(ctx)):
            if count == self.fail_after:
                raise self.error
            yield item
        if self.fail_after >= len(self.batches):
            raise self.error


class MemoryDestination:
    """Keeps committed batches and checkpoints in memory, as a database destination would.

    ``committed`` and ``checkpoints`` survive a failed run, so a second run on the same object
    can ``resume``; ``crash_after`` raises inside ``commit`` number N to simulate a crash.

    It also keeps a quarantine (the ``Quarantines`` protocol) with a database's transactional
    semantics: ``write_quarantine`` and ``delete_quarantine`` change a working copy that
    ``commit``/``finish`` make the committed ``quarantined`` batches and ``rollback`` discards;
    ``read_quarantine`` sees the working copy, as a transaction sees its own writes. A column
    whose type cannot be promoted to the one already quarantined is a ``DataError``.
    """

    def __init__(self, *, crash_after: int | None = None, table: str = "memory") -> None:
        self.committed: list[pa.RecordBatch] = []
        self.checkpoints: list[Checkpoint] = []
        self.pending: list[pa.RecordBatch] = []
        self.quarantined: list[pa.RecordBatch] = []
        self.calls: list[str] = []
        self.crash_after = crash_after
        self.table_name = table
        self._quarantine: list[pa.RecordBatch] = []

    def describe(self) -> str:
        """Say this is memory."""
        return "memory"

    def open(self, ctx: RunContext) -> Checkpoint | None:
        """Return the latest stored checkpoint."""
        self.calls.append("open")
        self._quarantine = list(self.quarantined)
        return self.checkpoints[-1] if self.checkpoints else None

    def start(self, *, resume: bool) -> None:
        """Begin an empty transaction."""
        self.calls.append(f"start:{'resume' if resume else 'new'}")
        self.pending = []
        self._quarantine = list(self.quarantined)

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        """Hold the batch until commit."""
        self.calls.append(f"write:{batch_number}")
        self.pending.append(batch)

    def commit(self, checkpoint: Checkpoint) -> bool:
        """Make pending batches committed together with ``checkpoint``."""
        if self.crash_after is not None and len(self.checkpoints) >= self.crash_after:
            raise TransientError("memory destination crashed on purpose")
        self.calls.append(f"commit:{checkpoint.batch}")
        self.committed.extend(self.pending)
        self.checkpoints.append(checkpoint)
        self.pending = []
        self.quarantined = list(self._quarantine)
        return True

    def finish(self, checkpoint: Checkpoint) -> None:
        """Commit the rest with the final checkpoint."""
        self.calls.append("finish")
        self.committed.extend(self.pending)
        self.checkpoints.append(checkpoint)
        self.pending = []
        self.quarantined = list(self._quarantine)

    def rollback(self) -> None:
        """Drop pending batches and quarantine changes."""
        self.calls.append("rollback")
        self.pending = []
        self._quarantine = list(self.quarantined)

    def close(self) -> None:
        """Record the close."""
        self.calls.append("close")

    def table(self) -> pa.Table:
        """Everything committed, as one table."""
        return pa.Table.from_batches(self.committed)

    # -- quarantine -------------------------------------------------------------------------

    def quarantine_name(self) -> str:
        """``<table>__quarantine``."""
        return self.table_name + QUARANTINE_SUFFIX

    def write_quarantine(self, rows: pa.RecordBatch) -> None:
        """Add rejected rows to the open transaction's quarantine."""
        self.calls.append(f"write_quarantine:{rows.num_rows}")
        known = {f.name: f.type for b in self._quarantine for f in b.schema}
        for field in rows.schema:
            have = known.get(field.name)
            if have is None or have == field.type:
                continue
            try:
                pa.unify_schemas(
                    [pa.schema([(field.name, have)]), pa.schema([field])],
                    promote_options="permissive",
                )
            except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
                raise DataError(
                    f"column {field.name!r} of the rejected rows is {field.type}, but {have} in "
                    f"quarantine {self.quarantine_name()}",
                    location=self.quarantine_name(),
                    hint="cast the column, or start with an empty quarantine",
                ) from exc
        self._quarantine.append(rows)

    def read_quarantine(self, *, run_id: str | None = None) -> pa.Table:
        """The transaction's quarantine (of one run, or all), oldest first; empty if none."""
        if not self._quarantine:
            return pa.table({})
        table = pa.concat_tables(
            [pa.Table.from_batches([b]) for b in self._quarantine], promote_options="permissive"
        )
        if run_id is not None:
            table = table.filter(pc.equal(table["_tidegate_run_id"], run_id))
        return table.sort_by(
            [("_tidegate_quarantined_at", "ascending"), ("_tidegate_qid", "ascending")]
        )

    def delete_quarantine(self, qids: Sequence[str]) -> int:
        """Remove rows by ``_tidegate_qid`` in the open transaction; how many were removed."""
        wanted = pa.array(sorted(set(qids)), pa.string())
        kept: list[pa.RecordBatch] = []
        removed = 0
        for batch in self._quarantine:
            keep = pc.invert(pc.is_in(batch["_tidegate_qid"], value_set=wanted))
            left = batch.filter(keep)
            removed += batch.num_rows - left.num_rows
            if left.num_rows:
                kept.append(left)
        self._quarantine = kept
        return removed

    def read_target(self, columns: Sequence[str]) -> pa.Table:
        """The distinct values of ``columns`` in what was committed; empty before any commit."""
        if not self.committed:
            return pa.table({name: pa.array([], pa.null()) for name in columns})
        table = self.table()
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise ConfigError(
                f"columns {missing} are not in the committed data ({table.column_names})",
                location=self.describe(),
            )
        return table.select(list(columns)).group_by(list(columns)).aggregate([])

    def read_rows(
        self, *, columns: Sequence[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """Up to ``limit`` committed rows (``columns`` only, when given); empty before any
        commit, as a target that does not exist yet."""
        if not self.committed:
            return pa.table({name: pa.array([], pa.null()) for name in columns or []})
        table = self.table()
        if columns is not None:
            missing = [c for c in columns if c not in table.column_names]
            if missing:
                raise ConfigError(
                    f"columns {missing} are not in the committed data ({table.column_names})",
                    location=self.describe(),
                )
            table = table.select(list(columns))
        return table if limit is None else table.slice(0, limit)


class RecordingListener:
    """Records every event it sees, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        """Record the event."""
        self.events.append(event)

    def of(self, kind: type[E]) -> list[E]:
        """The recorded events of one type."""
        return [event for event in self.events if isinstance(event, kind)]


def quarantine_rows(
    columns: Mapping[str, Any],
    *,
    run_id: str,
    batch: int,
    step: str = "rules",
    reason: str = "rejected",
    rules: str | None = None,
    first_row: int | None = None,
    at: dt.datetime | None = None,
) -> pa.RecordBatch:
    """Rejected rows as a ``Quarantines`` destination receives them, for tests.

    ``columns`` are the rows' own columns (anything ``pa.record_batch`` takes); the
    ``QUARANTINE_COLUMNS`` follow: qids ``<run_id>:<batch>:<index>``, ``_tidegate_row`` counted
    from ``first_row`` (all null without it), ``_tidegate_quarantined_at`` = ``at`` or now (UTC).
    """
    own = pa.record_batch(dict(columns))
    n = own.num_rows
    when = at or dt.datetime.now(dt.UTC)
    rows = (
        pa.array(range(first_row, first_row + n), pa.int64())
        if first_row is not None
        else pa.nulls(n, pa.int64())
    )
    meta: dict[str, pa.Array] = {
        "_tidegate_qid": pa.array([f"{run_id}:{batch}:{i}" for i in range(n)], pa.string()),
        "_tidegate_run_id": pa.array([run_id] * n, pa.string()),
        "_tidegate_step": pa.array([step] * n, pa.string()),
        "_tidegate_batch": pa.array([batch] * n, pa.int64()),
        "_tidegate_row": rows,
        "_tidegate_rules": pa.array([rules] * n, pa.string()),
        "_tidegate_reason": pa.array([reason] * n, pa.string()),
        "_tidegate_quarantined_at": pa.array([when] * n, pa.timestamp("us", "UTC")),
    }
    return pa.RecordBatch.from_arrays(
        [*own.columns, *meta.values()], names=[*own.schema.names, *meta]
    )
