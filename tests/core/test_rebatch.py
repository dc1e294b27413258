"""Small source batches are combined into bigger ones, losing no row, position or reject."""

from __future__ import annotations

import pyarrow as pa

from tidegate.core.protocols import REASON_COLUMN, SourceBatch
from tidegate.core.rebatch import combine


def _item(start: int, rows: int, *, rejected: int = 0) -> SourceBatch:
    batch = pa.record_batch({"id": pa.array(range(start, start + rows), pa.int64())})
    bad = None
    if rejected:
        bad = pa.record_batch(
            {"line": pa.array([start] * rejected, pa.int64()), REASON_COLUMN: ["bad"] * rejected}
        )
    return SourceBatch(batch, {"rows": start + rows}, bad)


def test_batches_are_joined_until_they_hold_min_rows() -> None:
    items = [_item(i * 10, 10, rejected=1 if i in {1, 4} else 0) for i in range(7)]
    out = list(combine(iter(items), min_rows=25))

    assert [item.batch.num_rows for item in out] == [30, 30, 10]
    assert [item.position for item in out] == [{"rows": 30}, {"rows": 60}, {"rows": 70}]
    ids = [value for item in out for value in item.batch.column("id").to_pylist()]
    assert ids == list(range(70))
    assert [None if i.rejected is None else i.rejected.num_rows for i in out] == [1, 1, None]


def test_two_rejected_parts_are_joined() -> None:
    out = list(combine(iter([_item(0, 5, rejected=2), _item(5, 5, rejected=3)]), min_rows=10))
    assert len(out) == 1
    assert out[0].rejected is not None
    assert out[0].rejected.num_rows == 5


def test_a_schema_change_ends_a_batch() -> None:
    other = SourceBatch(pa.record_batch({"name": ["x"]}), {"rows": 11})
    out = list(combine(iter([_item(0, 5), _item(5, 5), other]), min_rows=100))
    assert [item.batch.schema.names for item in out] == [["id"], ["name"]]
    assert [item.batch.num_rows for item in out] == [10, 1]


def test_zero_keeps_the_batches_and_big_ones_pass_through() -> None:
    items = [_item(0, 3), _item(3, 3)]
    assert [i.batch.num_rows for i in combine(iter(items), min_rows=0)] == [3, 3]
    big = [_item(0, 50), _item(50, 1)]
    out = list(combine(iter(big), min_rows=20))
    assert [i.batch.num_rows for i in out] == [50, 1]
    assert out[0] is big[0]
