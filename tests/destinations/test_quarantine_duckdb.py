"""The duckdb destination's quarantine against real DuckDB files.

Covers creation on first write, appends across runs and modes, new columns, type conflicts,
rollback and deferred commits (``commit_min_rows``) through the writer thread, reading order,
the run filter, deletes, ``read_target`` and value round trips (unicode, nulls, time zones).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pytest

from tidegate.core import new_run_id
from tidegate.core.context import RunContext
from tidegate.core.protocols import QUARANTINE_COLUMNS, Checkpoint, Quarantines
from tidegate.destinations.duckdb import DuckdbDestination, DuckdbSettings
from tidegate.errors import ConfigError, DataError
from tidegate.events import EventBus
from tidegate.testing.doubles import quarantine_rows

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DB = "wh/warehouse.duckdb"
META = [name for name, _ in QUARANTINE_COLUMNS]
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


def make(**settings: Any) -> DuckdbDestination:
    settings.setdefault("path", DB)
    settings.setdefault("table", "customers")
    return DuckdbDestination(DuckdbSettings(**settings))


def context(tmp_path: Path) -> RunContext:
    return RunContext(run_id=new_run_id(), pipeline="p", bus=EventBus(), base_dir=tmp_path)


def cp(ctx: RunContext, batch: int, *, finished: bool = False) -> Checkpoint:
    return Checkpoint(
        pipeline="p", run_id=ctx.run_id, batch=batch, rows=0, position={}, finished=finished
    )


def query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(tmp_path / DB), read_only=True) as con:
        return con.execute(sql).fetchall()


def run(
    dest: DuckdbDestination,
    ctx: RunContext,
    *steps: tuple[pa.RecordBatch | None, pa.RecordBatch | None],
) -> None:
    """One successful run: per batch, write the good rows, quarantine the rejected ones."""
    dest.open(ctx)
    try:
        dest.start(resume=False)
        for number, (good, rejected) in enumerate(steps, start=1):
            if good is not None:
                dest.write(good, batch_number=number)
            if rejected is not None:
                dest.write_quarantine(rejected)
            dest.commit(cp(ctx, number))
        dest.finish(cp(ctx, len(steps), finished=True))
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def read(dest: DuckdbDestination, ctx: RunContext, run_id: str | None = None) -> pa.Table:
    dest.open(ctx)
    try:
        return dest.read_quarantine(run_id=run_id)
    finally:
        dest.rollback()
        dest.close()


@pytest.fixture(params=[True, False], ids=["background", "inline"])
def background(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_the_destination_is_a_quarantine() -> None:
    assert isinstance(make(), Quarantines)
    assert make(schema="sales").quarantine_name() == "sales.customers__quarantine"


def test_created_on_first_write_with_the_rows_types(tmp_path: Path, background: bool) -> None:
    ctx = context(tmp_path)
    good = pa.record_batch({"id": [1], "email": ["a@x.io"]})
    rejected = quarantine_rows(
        {
            "id": pa.array([2], pa.int32()),
            "email": ["not-an-email"],
            "amount": pa.array([Decimal("12.30")], pa.decimal128(10, 2)),
            "signup": pa.array([dt.date(2024, 1, 2)]),
        },
        run_id=ctx.run_id,
        batch=1,
        rules="email.regex",
        reason="email does not match",
        first_row=7,
        at=T0,
    )
    run(make(background=background), ctx, (good, rejected))

    columns = query(
        tmp_path,
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE table_name = 'customers__quarantine' ORDER BY column_index",
    )
    assert columns == [
        ("id", "INTEGER"),
        ("email", "VARCHAR"),
        ("amount", "DECIMAL(10,2)"),
        ("signup", "DATE"),
        ("_tidegate_qid", "VARCHAR"),
        ("_tidegate_run_id", "VARCHAR"),
        ("_tidegate_step", "VARCHAR"),
        ("_tidegate_batch", "BIGINT"),
        ("_tidegate_row", "BIGINT"),
        ("_tidegate_rules", "VARCHAR"),
        ("_tidegate_reason", "VARCHAR"),
        ("_tidegate_quarantined_at", "TIMESTAMP WITH TIME ZONE"),
    ]
    table = read(make(), context(tmp_path))
    assert table.to_pylist() == [
        {
            "id": 2,
            "email": "not-an-email",
            "amount": Decimal("12.30"),
            "signup": dt.date(2024, 1, 2),
            "_tidegate_qid": f"{ctx.run_id}:1:0",
            "_tidegate_run_id": ctx.run_id,
            "_tidegate_step": "rules",
            "_tidegate_batch": 1,
            "_tidegate_row": 7,
            "_tidegate_rules": "email.regex",
            "_tidegate_reason": "email does not match",
            "_tidegate_quarantined_at": T0,
        }
    ]
    assert table.schema.field("_tidegate_quarantined_at").type == pa.timestamp("us", "UTC")
    assert query(tmp_path, "SELECT id FROM main.customers") == [(1,)]


def test_rows_of_an_all_null_type_are_stored(tmp_path: Path) -> None:
    """``_tidegate_row`` and a row column may arrive as Arrow ``null``: stored all the same."""
    ctx = context(tmp_path)
    rows = quarantine_rows({"id": [1], "note": pa.nulls(1)}, run_id=ctx.run_id, batch=1)
    rows = rows.set_column(
        rows.schema.get_field_index("_tidegate_row"), "_tidegate_row", pa.nulls(1)
    )
    run(make(), ctx, (None, rows))
    table = read(make(), context(tmp_path))
    assert table.schema.field("_tidegate_row").type == pa.int64()
    assert table.schema.field("note").type == pa.string()
    assert table.column("note").to_pylist() == [None]


def test_append_across_runs_and_modes_with_new_columns(tmp_path: Path) -> None:
    first, second = context(tmp_path), context(tmp_path)
    run(
        make(),
        first,
        (None, quarantine_rows({"id": [1, 2]}, run_id=first.run_id, batch=1, at=T0)),
    )
    later = T0 + dt.timedelta(hours=1)
    rejected = quarantine_rows(
        {"ID": pa.array([3], pa.int16()), "country": ["ZZ"]},
        run_id=second.run_id,
        batch=1,
        at=later,
    )
    run(make(mode="replace"), second, (pa.record_batch({"id": [9]}), rejected))

    table = read(make(), context(tmp_path))
    assert table.column_names == ["id", "country", *META]
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("country").to_pylist() == [None, None, "ZZ"]
    assert table.column("_tidegate_run_id").to_pylist() == [first.run_id] * 2 + [second.run_id]
    assert query(tmp_path, "SELECT id FROM main.customers") == [(9,)]


def test_read_order_and_run_filter(tmp_path: Path) -> None:
    """Oldest first by quarantined_at, then by qid; ``run_id`` selects one run."""
    ctx = RunContext(run_id="run-b", pipeline="p", bus=EventBus(), base_dir=tmp_path)
    late = quarantine_rows({"id": [1]}, run_id=ctx.run_id, batch=1, at=T0 + dt.timedelta(1))
    early = quarantine_rows({"id": [2, 3]}, run_id=ctx.run_id, batch=2, at=T0)
    other = RunContext(run_id="run-a", pipeline="p", bus=EventBus(), base_dir=tmp_path)
    run(make(), ctx, (None, late), (None, early))
    run(make(), other, (None, quarantine_rows({"id": [4]}, run_id=other.run_id, batch=1, at=T0)))

    everything = read(make(), context(tmp_path))
    assert everything.column("id").to_pylist() == [4, 2, 3, 1]
    assert everything.column("_tidegate_qid").to_pylist() == [
        "run-a:1:0",
        "run-b:2:0",
        "run-b:2:1",
        "run-b:1:0",
    ]
    assert read(make(), context(tmp_path), run_id="run-a").column("id").to_pylist() == [4]
    assert read(make(), context(tmp_path), run_id="run-b").column("id").to_pylist() == [2, 3, 1]
    assert read(make(), context(tmp_path), run_id="no-such-run").num_rows == 0


def test_rollback_discards_quarantined_rows_with_the_batch(
    tmp_path: Path, background: bool
) -> None:
    ctx = context(tmp_path)
    dest = make(background=background)
    dest.open(ctx)
    dest.start(resume=False)
    dest.write(pa.record_batch({"id": [1]}), batch_number=1)
    dest.write_quarantine(quarantine_rows({"id": [2]}, run_id=ctx.run_id, batch=1))
    dest.rollback()
    dest.close()
    tables = query(tmp_path, "SELECT table_name FROM duckdb_tables() ORDER BY 1")
    assert tables == [("_tidegate_checkpoints",)]
    assert read(make(), context(tmp_path)).num_rows == 0


def test_deferred_commit_carries_the_quarantined_rows_of_its_batches(
    tmp_path: Path, background: bool
) -> None:
    """commit_min_rows above a batch: rows and quarantine commit together, at the same point."""
    ctx = context(tmp_path)
    dest = make(background=background, commit_min_rows=3)
    dest.open(ctx)
    dest.start(resume=False)
    committed = []
    for number in (1, 2, 3):
        dest.write(pa.record_batch({"id": [number * 10, number * 10 + 1]}), batch_number=number)
        dest.write_quarantine(quarantine_rows({"id": [number]}, run_id=ctx.run_id, batch=number))
        committed.append(dest.commit(cp(ctx, number)))
    dest.rollback()  # the run dies after batch 3: its work since the last commit is lost
    dest.close()

    assert committed == [False, True, False]
    assert query(tmp_path, "SELECT id FROM main.customers ORDER BY 1") == [
        (10,),
        (11,),
        (20,),
        (21,),
    ]
    assert read(make(), context(tmp_path)).column("id").to_pylist() == [1, 2]
    assert query(tmp_path, "SELECT max(batch) FROM _tidegate_checkpoints") == [(2,)]


def test_delete_by_qid_counts_and_is_transactional(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    run(make(), ctx, (None, quarantine_rows({"id": [1, 2, 3]}, run_id=ctx.run_id, batch=1)))
    qids = [f"{ctx.run_id}:1:0", f"{ctx.run_id}:1:2"]

    undone = make()
    undone.open(context(tmp_path))
    undone.start(resume=False)
    assert undone.delete_quarantine(qids) == 2
    assert undone.read_quarantine().column("id").to_pylist() == [2]  # the transaction's view
    undone.rollback()
    undone.close()
    assert read(make(), context(tmp_path)).column("id").to_pylist() == [1, 2, 3]

    replay = context(tmp_path)
    dest = make()
    dest.open(replay)
    dest.start(resume=False)
    assert dest.delete_quarantine([*qids, qids[0], "unknown"]) == 2
    assert dest.delete_quarantine([]) == 0
    dest.finish(cp(replay, 0, finished=True))
    dest.close()
    assert read(make(), context(tmp_path)).column("id").to_pylist() == [2]


def test_delete_and_reads_without_a_quarantine(tmp_path: Path) -> None:
    dest = make()
    dest.open(context(tmp_path))
    try:
        dest.start(resume=False)
        assert dest.delete_quarantine(["a:1:0"]) == 0
        assert dest.read_quarantine().num_rows == 0
        target = dest.read_target(["id", "email"])
        assert target.num_rows == 0
        assert target.column_names == ["id", "email"]
    finally:
        dest.rollback()
        dest.close()


def test_read_target_is_distinct_over_the_live_table(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    run(
        make(),
        ctx,
        (pa.record_batch({"id": [1, 2, 2, None], "Country": ["DE", "FR", "FR", None]}), None),
    )
    dest = make(mode="replace")
    dest.open(context(tmp_path))
    try:
        dest.start(resume=False)
        dest.write(pa.record_batch({"id": [5], "Country": ["US"]}), batch_number=1)
        target = dest.read_target(["id", "Country"])  # the live table, not the staging one
        assert sorted(target.to_pylist(), key=str) == sorted(
            [
                {"id": 1, "Country": "DE"},
                {"id": 2, "Country": "FR"},
                {"id": None, "Country": None},
            ],
            key=str,
        )
        with pytest.raises(ConfigError, match=r"'nope' not in table main\.customers"):
            dest.read_target(["nope"])
    finally:
        dest.rollback()
        dest.close()


def test_unicode_nulls_and_time_zones_round_trip(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    paris = dt.datetime(2024, 6, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rejected = quarantine_rows(
        {
            "name": ["Zoë 🌊", None, 'a"; DROP TABLE x; --'],
            "seen": pa.array([paris, None, paris], pa.timestamp("us", "Europe/Paris")),
            "naive": pa.array([dt.datetime(2024, 1, 1, 8), None, None], pa.timestamp("ms")),
            "flag": [True, None, False],
        },
        run_id=ctx.run_id,
        batch=1,
        reason="naïve ✗",
    )
    run(make(table='we"ird tablé'), ctx, (None, rejected))
    table = read(make(table='we"ird tablé'), context(tmp_path))
    assert table.column("name").to_pylist() == ["Zoë 🌊", None, 'a"; DROP TABLE x; --']
    assert table.schema.field("seen").type == pa.timestamp("us", "UTC")
    assert table.column("seen").to_pylist()[0] == paris  # the same instant, shown in UTC
    assert table.column("naive").to_pylist()[0] == dt.datetime(2024, 1, 1, 8)
    assert table.column("flag").to_pylist() == [True, None, False]
    assert set(table.column("_tidegate_reason").to_pylist()) == {"naïve ✗"}


def test_a_type_conflict_names_the_column_both_types_and_the_way_out(
    tmp_path: Path, background: bool
) -> None:
    ctx = context(tmp_path)
    run(make(), ctx, (None, quarantine_rows({"age": [41]}, run_id=ctx.run_id, batch=1)))
    second = context(tmp_path)
    dest = make(background=background)
    dest.open(second)
    dest.start(resume=False)

    def attempt() -> None:
        dest.write_quarantine(quarantine_rows({"age": ["forty"]}, run_id="r", batch=1))
        dest.finish(cp(second, 1, finished=True))  # the writer thread's failure surfaces

    try:
        with pytest.raises(DataError) as caught:
            attempt()
    finally:
        dest.rollback()
        dest.close()
    error = caught.value
    assert "column 'age' of the rejected rows is string, but int64" in error.message
    assert "main.customers__quarantine" in error.message
    assert error.hint is not None
    assert "rename or drop the quarantine" in error.hint


def test_safe_casts_go_into_existing_columns(tmp_path: Path) -> None:
    """int64 rows into an int32 column within range, anything into a text column."""
    ctx = context(tmp_path)
    first = quarantine_rows(
        {"n": pa.array([1], pa.int32()), "raw": ["x"]}, run_id=ctx.run_id, batch=1, at=T0
    )
    later = T0 + dt.timedelta(seconds=1)
    second = quarantine_rows(
        {"n": pa.array([2], pa.int64()), "raw": [3.5]}, run_id=ctx.run_id, batch=2, at=later
    )
    run(make(), ctx, (None, first), (None, second))
    table = read(make(), context(tmp_path))
    assert table.schema.field("n").type == pa.int32()
    assert table.column("raw").to_pylist() == ["x", "3.5"]


def test_quarantine_before_open_is_refused() -> None:
    with pytest.raises(ConfigError, match="before open"):
        make().write_quarantine(quarantine_rows({"id": [1]}, run_id="r", batch=1))
    with pytest.raises(ConfigError, match="before open"):
        make().read_quarantine()


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[DuckdbDestination]:
    dest = make()
    dest.open(context(tmp_path))
    dest.start(resume=False)
    yield dest
    dest.rollback()
    dest.close()


def test_rows_without_bookkeeping_columns_are_refused(opened: DuckdbDestination) -> None:
    with pytest.raises(DataError, match="lack the columns _tidegate_qid"):
        opened.write_quarantine(pa.record_batch({"id": [1]}))
