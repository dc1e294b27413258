"""Reading and replaying a pipeline's quarantine: the rows its rules rejected.

``summarise`` and ``rows`` read ``<table>__quarantine`` through the destination (which takes
its usual lock, so they never read a quarantine half-written by a running load). ``replay``
sends quarantined rows through the *current* rules again, once the data or the rules are fixed:
it is an ordinary run of the pipeline whose source is the quarantine, from the step that
rejected the rows onwards, in ONE transaction that also deletes the replayed rows from the
quarantine. Rows that now pass are loaded; rows that fail again go back to the quarantine with
their new reasons; a crash in between leaves everything as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.app.bootstrap import QUALITY_STEP
from tidegate.core import Quarantines, RunContext, SourceBatch, new_run_id
from tidegate.core.protocols import QUARANTINE_COLUMNS
from tidegate.errors import ConfigError
from tidegate.events import EventBus

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from tidegate.app.bootstrap import Pipeline
    from tidegate.core import Checkpoint, Destination, RunResult, Step
    from tidegate.spec import PipelineSpec

__all__ = [
    "ReplayPlan",
    "quarantine_of",
    "read_rows",
    "readable",
    "replay",
    "replayable",
    "summarise",
]

_META = tuple(name for name, _ in QUARANTINE_COLUMNS)
_BATCH_ROWS = 65_536


def quarantine_of(pipeline: Pipeline) -> Quarantines:
    """The pipeline's destination as a quarantine, or a clear error when it keeps none."""
    destination = pipeline.destination
    if not isinstance(destination, Quarantines):
        raise ConfigError(
            f"destination {destination.describe()} keeps no quarantine",
            hint="rejected rows are kept by the duckdb, postgres, sqlite, mssql, sqlalchemy and "
            "files destinations",
        )
    return destination


def read_rows(pipeline: Pipeline, *, run_id: str | None = None) -> pa.Table:
    """The quarantined rows (of one run, or all), oldest first."""
    quarantine = quarantine_of(pipeline)
    destination = pipeline.destination
    destination.open(pipeline.context())
    try:
        return quarantine.read_quarantine(run_id=run_id)
    finally:
        destination.rollback()
        destination.close()


def displayable(table: pa.Table) -> pa.Table:
    """``table`` with encrypted columns shown as ``[encrypted]``: ciphertext helps no reader,
    and the clear values are for an authorized ``tidegate decrypt`` or a replay only."""
    from tidegate.governance.gate import is_sealed  # noqa: PLC0415 - only with binary columns

    for index, field in enumerate(table.schema):
        if pa.types.is_binary(field.type) and is_sealed(table.column(index)):
            column = table.column(index)
            shown = pc.if_else(pc.is_valid(column), "[encrypted]", pa.scalar(None, pa.string()))
            table = table.set_column(index, pa.field(field.name, pa.string()), shown)
    return table


def summarise(table: pa.Table) -> dict[str, Any]:
    """Counts per run (with its steps and time span) and per rule, for ``quarantine list``."""
    if table.num_rows == 0:
        return {"rows": 0, "runs": [], "rules": []}
    runs = (
        table.group_by(["_tidegate_run_id", "_tidegate_step"])
        .aggregate(
            [
                ("_tidegate_qid", "count"),
                ("_tidegate_quarantined_at", "min"),
                ("_tidegate_quarantined_at", "max"),
            ]
        )
        .sort_by([("_tidegate_quarantined_at_min", "ascending")])
    )
    rule_ids = pc.list_flatten(pc.split_pattern(pc.fill_null(table["_tidegate_rules"], ""), ","))
    rule_ids = rule_ids.filter(pc.not_equal(rule_ids, ""))
    counts = sorted(
        (
            (str(item["values"]), int(item["counts"]))
            for item in pc.value_counts(rule_ids).to_pylist()
        ),
        key=lambda pair: (-pair[1], pair[0]),
    )
    return {
        "rows": table.num_rows,
        "runs": [
            {
                "run_id": row["_tidegate_run_id"],
                "step": row["_tidegate_step"],
                "rows": row["_tidegate_qid_count"],
                "first": _iso(row["_tidegate_quarantined_at_min"]),
                "last": _iso(row["_tidegate_quarantined_at_max"]),
            }
            for row in runs.to_pylist()
        ],
        "rules": [{"rule": rule, "rows": rows} for rule, rows in counts],
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else (str(value) if value else None)


@dataclass(frozen=True)
class ReplayPlan:
    """What a replay will send through which steps."""

    rows: int
    step: str
    steps: tuple[str, ...]


def replay(
    pipeline: Pipeline,
    *,
    step: str | None = None,
    run_id: str | None = None,
    listeners: Sequence[Any] = (),
) -> tuple[ReplayPlan, RunResult | None]:
    """Replay the rows rejected by ``step`` (default: the quality step) of one run or all.

    Returns the plan and the run's result (None when there was nothing to replay).
    """
    quarantine = quarantine_of(pipeline)
    steps = pipeline.all_steps(whole_run=False)
    names = [s.name for s in steps]
    chosen = step or (QUALITY_STEP if pipeline.spec.quality is not None else None)
    if chosen is None or chosen not in names:
        raise ConfigError(
            f"no step {chosen!r} to replay from (steps: {', '.join(names) or 'none'})"
            if chosen
            else "the pipeline has no quality rules; name the step that rejected the rows",
            hint="pass --step NAME",
        )
    table = read_rows(pipeline, run_id=run_id)
    if table.num_rows:
        table = table.filter(pc.equal(table["_tidegate_step"], chosen))
    remaining = steps[names.index(chosen) :]
    plan = ReplayPlan(rows=table.num_rows, step=chosen, steps=tuple(s.name for s in remaining))
    if table.num_rows == 0:
        return plan, None
    table, remaining = _restored(pipeline, table, remaining)
    schema = pipeline.schema_at(chosen)
    source = _QuarantinedRows(table, schema)
    target = _ReplayTarget(
        pipeline.destination,
        quarantine,
        qids=table["_tidegate_qid"].to_pylist(),
        steps=remaining,
    )
    from tidegate.core import Runner  # noqa: PLC0415 - the runner only for this command

    bus = EventBus()
    for listener in (*pipeline.listeners, *listeners):
        bus.subscribe(listener)
    context = RunContext(
        run_id=new_run_id(), pipeline=pipeline.spec.name, bus=bus, base_dir=pipeline.spec.base_dir
    )
    result = Runner(
        source=source, steps=remaining, destination=target, context=context, preflight=False
    ).run()
    return plan, result


def _restored(
    pipeline: Pipeline, table: pa.Table, steps: list[Step]
) -> tuple[pa.Table, list[Step]]:
    """Quarantined rows with governance-encrypted columns decrypted, and the steps to run them
    through, led by a guard that encrypts those columns again for rows rejected again."""
    if not any(pa.types.is_binary(field.type) for field in table.schema):
        return table, steps
    from tidegate.governance.gate import QuarantineGuard, restore_quarantine  # noqa: PLC0415

    keyring = pipeline.keyring()
    table, restored = restore_quarantine(table, pipeline=pipeline.spec.name, keyring=keyring)
    if not restored or keyring is None:
        return table, steps
    return table, [QuarantineGuard(restored, keyring), *steps]


class _QuarantinedRows:
    """A source over quarantined rows: their own columns, in the types the step expects."""

    def __init__(self, table: pa.Table, schema: pa.Schema | None) -> None:
        own = [name for name in table.column_names if name not in _META]
        data = table.select(own)
        if schema is not None:
            data = _conform(data, schema)
        self.data = data

    def describe(self) -> str:
        return "quarantine"

    def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
        done = 0
        for batch in self.data.to_batches(max_chunksize=_BATCH_ROWS):
            done += batch.num_rows
            yield SourceBatch(batch, {"rows": done})


def _conform(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` with exactly ``schema``'s columns, cast; absent columns are null."""
    columns = []
    for field in schema:
        if field.name in data.column_names:
            column = data[field.name]
            try:
                columns.append(column.cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ConfigError(
                    f"quarantined column {field.name!r} ({column.type}) cannot be turned back "
                    f"into {field.type}: {exc}",
                    hint="the pipeline's columns changed since the rows were quarantined",
                ) from exc
        else:
            columns.append(pa.nulls(data.num_rows, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class _ReplayTarget:
    """The pipeline's destination for a replay: one transaction that also empties the replayed
    rows out of the quarantine, with ``unique`` rules knowing the keys already loaded."""

    def __init__(
        self,
        destination: Destination,
        quarantine: Quarantines,
        *,
        qids: list[str],
        steps: Sequence[Step],
    ) -> None:
        self.inner = destination
        self.quarantine = quarantine
        self.qids = qids
        self.steps = steps

    def describe(self) -> str:
        return self.inner.describe()

    def open(self, ctx: RunContext) -> Checkpoint | None:
        last = self.inner.open(ctx)
        for step in self.steps:
            seed = getattr(step, "seed_keys", None)
            if seed is not None:
                seed(self.quarantine.read_target)
        return last

    def start(self, *, resume: bool) -> None:
        self.inner.start(resume=resume)
        self.quarantine.delete_quarantine(self.qids)

    def write(self, batch: pa.RecordBatch, *, batch_number: int) -> None:
        self.inner.write(batch, batch_number=batch_number)

    def commit(self, checkpoint: Checkpoint) -> bool:
        return False  # one transaction: everything becomes visible at finish, or nothing

    def finish(self, checkpoint: Checkpoint) -> None:
        self.inner.finish(checkpoint)

    def rollback(self) -> None:
        self.inner.rollback()

    def close(self) -> None:
        self.inner.close()

    def quarantine_name(self) -> str:
        return self.quarantine.quarantine_name()

    def write_quarantine(self, rows: pa.RecordBatch) -> None:
        self.quarantine.write_quarantine(rows)

    def read_quarantine(self, *, run_id: str | None = None) -> pa.Table:
        return self.quarantine.read_quarantine(run_id=run_id)

    def delete_quarantine(self, qids: Sequence[str]) -> int:
        return self.quarantine.delete_quarantine(qids)

    def read_target(self, columns: Sequence[str]) -> pa.Table:
        return self.quarantine.read_target(columns)


def readable(spec: PipelineSpec) -> PipelineSpec:
    """``spec`` fit for reading the quarantine: a file output that may not be replaced still
    lets its quarantine be read (nothing is written)."""
    settings = spec.destination.settings
    if getattr(settings, "if_exists", None) != "fail":
        return spec
    destination = spec.destination.model_copy(
        update={"settings": settings.model_copy(update={"if_exists": "replace"})}
    )
    return spec.model_copy(update={"destination": destination})


def replayable(spec: PipelineSpec) -> PipelineSpec:
    """``spec`` with a ``replace`` destination switched to ``append`` for a replay.

    Replayed rows join the table as it is; a replace-mode load would swap in a staging table
    holding only them. A file destination writes its whole output anew on every run, so a
    replay into it would replace the output by the replayed rows: it is refused.
    """
    settings = spec.destination.settings
    if not hasattr(settings, "mode"):
        raise ConfigError(
            f"replay needs a table destination; a {spec.destination.type} destination rewrites "
            "its whole output on every run, so a replay would replace it by the replayed rows",
            location="destination",
            hint="fix the data at its source and run the pipeline again, or replay into a "
            "table with --set destination='{type: duckdb, path: ..., table: ...}'",
        )
    if getattr(settings, "mode", None) != "replace":
        return spec
    destination = spec.destination.model_copy(
        update={"settings": settings.model_copy(update={"mode": "append"})}
    )
    return spec.model_copy(update={"destination": destination})
