"""Combine a source's small batches into batches of at least ``min_rows`` rows.

Every batch costs something besides its rows: a SQL step or the quality rules plan and run a
DuckDB query, a destination issues an insert, the runner emits events and stores a checkpoint.
A CSV file parsed in 2 MiB blocks yields batches of a few thousand rows, so those costs would
be paid hundreds of times per million rows. Combining consecutive batches (one copy, in the
read-ahead thread) pays them once per ``min_rows`` rows while memory stays bounded by it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from tidegate.core.protocols import SourceBatch

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["combine"]


def combine(items: Iterator[SourceBatch], *, min_rows: int) -> Iterator[SourceBatch]:
    """Yield ``items`` joined into batches of at least ``min_rows`` rows (the last may be less).

    A joined batch carries the position of its last part and the rejected rows of all its
    parts. A change of schema ends a batch, so each yielded batch has one schema.
    """
    if min_rows <= 1:
        yield from items
        return
    pending: list[SourceBatch] = []
    rows = 0
    for item in items:
        if pending and item.batch.schema != pending[0].batch.schema:
            yield _joined(pending)
            pending, rows = [], 0
        pending.append(item)
        rows += item.batch.num_rows
        if rows >= min_rows:
            yield _joined(pending)
            pending, rows = [], 0
    if pending:
        yield _joined(pending)


def _joined(parts: list[SourceBatch]) -> SourceBatch:
    if len(parts) == 1:
        return parts[0]
    batch = pa.concat_batches([part.batch for part in parts])
    rejected = [part.rejected for part in parts if part.rejected is not None]
    joined_rejected: pa.RecordBatch | None = None
    if len(rejected) == 1:
        joined_rejected = rejected[0]
    elif rejected:
        joined_rejected = pa.Table.from_batches(rejected).combine_chunks().to_batches()[0]
    return SourceBatch(batch, parts[-1].position, joined_rejected)
