"""The duckdb destination against real DuckDB files: modes, rollback, drift and quoting."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pytest
from pydantic import ValidationError

from tidegate.core import new_run_id
from tidegate.core.protocols import Checkpoint, SourceBatch
from tidegate.core.runner import Runner
from tidegate.destinations.duckdb import DuckdbDestination, DuckdbSettings
from tidegate.errors import ConfigError, DataError
from tidegate.testing import MemorySource

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tidegate.core.context import RunContext

DB = "wh/warehouse.duckdb"


def make(**settings: Any) -> DuckdbDestination:
    settings.setdefault("path", DB)
    return DuckdbDestination(DuckdbSettings(**settings))


def load(dest: DuckdbDestination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
    """Drive the destination through one successful run, as the runner does."""
    try:
        dest.open(ctx)
        dest.start(resume=False)
        for number, batch in enumerate(batches, start=1):
            dest.write(batch, batch_number=number)
        dest.finish(_done(ctx, len(batches)))
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def load_and_fail(dest: DuckdbDestination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
    """Write every batch, then roll back as the runner does when a later step fails."""
    dest.open(ctx)
    dest.start(resume=False)
    for number, batch in enumerate(batches, start=1):
        dest.write(batch, batch_number=number)
    dest.rollback()
    dest.close()


def _done(ctx: RunContext, batches: int) -> Checkpoint:
    return Checkpoint(
        pipeline=ctx.pipeline,
        run_id=ctx.run_id,
        batch=batches,
        rows=0,
        position={},
        finished=True,
    )


def query(ctx: RunContext, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(ctx.resolve(DB)), read_only=True) as con:
        return con.execute(sql).fetchall()


def tables(ctx: RunContext) -> list[str]:
    return [
        f"{schema}.{name}"
        for schema, name in query(
            ctx,
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE table_name <> '_tidegate_checkpoints' ORDER BY ALL",
        )
    ]


def snapshot(ctx: RunContext) -> list[tuple[Any, ...]]:
    """Every table with its columns and rows, to compare a database before and after a run."""
    result: list[tuple[Any, ...]] = []
    for schema, name, sql in query(
        ctx,
        "SELECT schema_name, table_name, sql FROM duckdb_tables() "
        "WHERE table_name <> '_tidegate_checkpoints' ORDER BY ALL",
    ):
        rows = query(ctx, f'SELECT * FROM "{schema}"."{name}" ORDER BY ALL')
        result.append((schema, name, sql, rows))
    return result


def people(ids: list[int], names: list[str | None]) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(ids, pa.int64()), "name": pa.array(names, pa.string())})


# -- append -----------------------------------------------------------------------------------


def test_append_creates_table_and_appends_on_the_next_run(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1, 2], ["ann", "bob"]), people([3], ["cy"]))
    load(make(table="people"), ctx, people([4], ["dee"]))

    assert query(ctx, "SELECT id, name FROM people") == [
        (1, "ann"),
        (2, "bob"),
        (3, "cy"),
        (4, "dee"),
    ]
    assert query(ctx, "SELECT data_type FROM duckdb_columns() WHERE table_name = 'people'") == [
        ("BIGINT",),
        ("VARCHAR",),
    ]
    assert (ctx.base_dir / DB).is_file()


def test_append_matches_columns_by_name_and_fills_missing_ones_with_null(
    ctx: RunContext,
) -> None:
    load(make(table="people"), ctx, people([1], ["ann"]))
    swapped = pa.record_batch({"name": ["bob"], "id": pa.array([2], pa.int64())})
    only_id = pa.record_batch({"id": pa.array([3], pa.int64())})

    load(make(table="people"), ctx, swapped, only_id)

    assert query(ctx, "SELECT id, name FROM people ORDER BY id") == [
        (1, "ann"),
        (2, "bob"),
        (3, None),
    ]


def test_append_into_a_missing_table_without_create_is_a_config_error(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load(make(table="people", create=False), ctx, people([1], ["ann"]))

    assert info.value.hint is not None
    assert "create: true" in info.value.hint
    assert "main.people" not in tables(ctx)


def test_append_creates_a_missing_schema(ctx: RunContext) -> None:
    load(make(table="people", schema="crm"), ctx, people([1], ["ann"]))

    assert query(ctx, "SELECT id, name FROM crm.people") == [(1, "ann")]
    assert make(table="people", schema="crm").describe() == f"duckdb:{DB}/crm.people"


def test_describe_defaults_to_the_main_schema() -> None:
    assert make(table="t").describe() == f"duckdb:{DB}/main.t"
    assert DuckdbSettings(table="t").path == ".tidegate/warehouse.duckdb"


# -- replace ----------------------------------------------------------------------------------


def test_replace_swaps_in_the_new_content_and_schema(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1, 2], ["ann", "bob"]))
    renamed = pa.record_batch({"id": pa.array([7], pa.int32()), "label": ["new"]})

    load(make(table="people", mode="replace"), ctx, renamed, renamed)

    assert query(ctx, "SELECT id, label FROM people") == [(7, "new"), (7, "new")]
    assert tables(ctx) == ["main.people"]  # no staging table left behind


def test_replace_without_rows_empties_the_table(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1], ["ann"]))

    load(make(table="people", mode="replace"), ctx)

    assert query(ctx, "SELECT count(*) FROM people") == [(0,)]


def test_replace_of_a_missing_table_in_another_schema(ctx: RunContext) -> None:
    load(make(table="people", schema="s2", mode="replace"), ctx, people([1], ["ann"]))

    assert tables(ctx) == ["s2.people"]


# -- merge ------------------------------------------------------------------------------------


def test_merge_updates_matches_and_inserts_new_keys(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1, 2], ["ann", "bob"]))

    load(
        make(table="people", mode="merge", key=["id"]),
        ctx,
        people([2, 3], ["bobby", "cy"]),
        people([3, 4], ["cyril", "dee"]),  # a later batch wins over an earlier one
    )

    assert query(ctx, "SELECT id, name FROM people ORDER BY id") == [
        (1, "ann"),
        (2, "bobby"),
        (3, "cyril"),
        (4, "dee"),
    ]


def test_merge_keeps_the_last_duplicate_key_of_a_batch(ctx: RunContext) -> None:
    load(
        make(table="people", mode="merge", key=["id"]),
        ctx,
        people([5, 1, 5, 2, 5], ["first", "one", "second", "two", "last"]),
    )

    assert query(ctx, "SELECT id, name FROM people ORDER BY id") == [
        (1, "one"),
        (2, "two"),
        (5, "last"),
    ]


def test_merge_by_compound_key_keeps_columns_the_batch_does_not_carry(ctx: RunContext) -> None:
    base = pa.record_batch(
        {"region": ["eu", "eu", "us"], "id": [1, 2, 1], "name": ["a", "b", "c"], "score": [1, 2, 3]}
    )
    load(make(table="t"), ctx, base)
    update = pa.record_batch({"region": ["us", "us"], "id": [1, 9], "score": [30, 90]})

    load(make(table="t", mode="merge", key=["region", "id"]), ctx, update)

    assert query(ctx, "SELECT region, id, name, score FROM t ORDER BY region, id") == [
        ("eu", 1, "a", 1),
        ("eu", 2, "b", 2),
        ("us", 1, "c", 30),
        ("us", 9, None, 90),
    ]


def test_merge_refuses_a_null_key(ctx: RunContext) -> None:
    batch = pa.record_batch({"id": pa.array([1, None], pa.int64()), "name": ["a", "b"]})

    with pytest.raises(DataError, match=r"key column 'id' is null in row 1 of batch 1"):
        load(make(table="people", mode="merge", key=["id"]), ctx, batch)

    assert tables(ctx) == []


def test_merge_needs_a_key() -> None:
    with pytest.raises(ValidationError, match="mode merge needs 'key'"):
        DuckdbSettings(table="t", mode="merge")
    unchecked = DuckdbSettings.model_construct(table="t", mode="merge", key=[])
    with pytest.raises(ConfigError, match="mode merge needs 'key'"):
        DuckdbDestination(unchecked)


def test_merge_key_missing_from_the_data_is_a_config_error(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match=r"key column 'uid' is not in the data \(columns: id"):
        load(make(table="people", mode="merge", key=["uid"]), ctx, people([1], ["a"]))


# -- rollback leaves the database exactly as it was ------------------------------------------


@pytest.mark.parametrize("mode", ["append", "replace", "merge"])
def test_rollback_restores_an_existing_table(ctx: RunContext, mode: str) -> None:
    load(make(table="people"), ctx, people([1, 2], ["ann", "bob"]))
    load(make(table="other"), ctx, people([9], ["keep"]))
    before = snapshot(ctx)

    load_and_fail(
        make(table="people", mode=mode, key=["id"]),
        ctx,
        people([2, 3], ["changed", "new"]),
        people([1, 4], ["changed", "new"]),
    )

    assert snapshot(ctx) == before


@pytest.mark.parametrize("mode", ["append", "replace", "merge"])
def test_rollback_leaves_no_table_that_did_not_exist(ctx: RunContext, mode: str) -> None:
    load(make(table="other"), ctx, people([9], ["keep"]))
    before = snapshot(ctx)

    load_and_fail(
        make(table="people", schema="fresh", mode=mode, key=["id"]),
        ctx,
        people([1], ["ann"]),
        people([2], ["bob"]),
    )

    assert snapshot(ctx) == before
    assert query(ctx, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'fresh'") == [(0,)]


@pytest.mark.parametrize("background", [True, False])
def test_a_failed_run_keeps_committed_batches_and_resumes_after_them(
    ctx: RunContext, background: bool
) -> None:
    load(make(table="people"), ctx, people([1], ["ann"]))

    class BrokenSource:
        def describe(self) -> str:
            return "broken"

        def read(self, ctx: RunContext) -> Iterator[SourceBatch]:
            yield SourceBatch(people([2], ["bob"]), {"rows": 1})
            yield SourceBatch(people([3], ["cy"]), {"rows": 2})
            raise DataError("bad row 3", location="input.csv line 4")

    first = Runner(
        source=BrokenSource(),
        steps=(),
        destination=make(table="people", background=background, commit_min_rows=0),
        context=ctx,
    ).run()

    assert isinstance(first.error, DataError)
    assert query(ctx, "SELECT id FROM people ORDER BY id") == [(1,), (2,), (3,)]
    assert query(ctx, "SELECT batch, rows, finished FROM _tidegate_checkpoints ORDER BY batch") == [
        (1, 0, True),
        (1, 1, False),
        (2, 2, False),
    ]
    refused = Runner(
        source=MemorySource([people([2, 3, 4], ["bob", "cy", "dee"])]),
        steps=(),
        destination=make(table="people", background=background),
        context=ctx,
    ).run()
    assert refused.error is not None
    assert "--resume" in str(refused.error)
    resumed = Runner(
        source=MemorySource([people([2, 3, 4], ["bob", "cy", "dee"])]),
        steps=(),
        destination=make(table="people", background=background),
        context=ctx,
        on_unfinished="resume",
    ).run()
    assert resumed.ok, resumed.error
    assert query(ctx, "SELECT id FROM people ORDER BY id") == [(1,), (2,), (3,), (4,)]


def test_commits_wait_for_commit_min_rows(ctx: RunContext) -> None:
    dest = make(table="people", background=False, commit_min_rows=3)
    dest.open(ctx)
    dest.start(resume=False)
    for number, ids in enumerate(([1], [2], [3], [4]), start=1):
        dest.write(people(ids, ["x"]), batch_number=number)
        dest.commit(
            Checkpoint(pipeline="p", run_id=ctx.run_id, batch=number, rows=number, position={})
        )
    dest.rollback()
    dest.close()
    assert query(ctx, "SELECT id FROM people ORDER BY id") == [(1,), (2,), (3,)]
    assert query(ctx, "SELECT batch FROM _tidegate_checkpoints") == [(3,)]


def test_a_resumed_replace_keeps_the_staging_rows_of_the_interrupted_run(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1], ["old"]))
    dest = make(table="people", mode="replace", background=False, commit_min_rows=0)
    dest.open(ctx)
    dest.start(resume=False)
    dest.write(people([10], ["new"]), batch_number=1)
    later = new_run_id()  # run ids sort by start time: this run is the latest
    dest.commit(Checkpoint(pipeline=ctx.pipeline, run_id=later, batch=1, rows=1, position={}))
    dest.write(people([11], ["lost"]), batch_number=2)
    dest.rollback()
    dest.close()
    assert query(ctx, "SELECT id FROM people") == [(1,)]

    again = make(table="people", mode="replace")
    last = again.open(ctx)
    assert last is not None
    assert (last.batch, last.rows, last.finished) == (1, 1, False)
    again.start(resume=True)
    again.write(people([11], ["new too"]), batch_number=2)
    again.finish(_done(ctx, 2))
    again.close()
    assert query(ctx, "SELECT id, name FROM people ORDER BY id") == [(10, "new"), (11, "new too")]
    assert "main._tidegate_staging_people" not in tables(ctx)


@pytest.mark.parametrize("background", [True, False])
def test_a_conversion_failure_is_a_data_error_and_rolls_back(
    ctx: RunContext, background: bool
) -> None:
    ctx.resolve(DB).parent.mkdir()
    with duckdb.connect(str(ctx.resolve(DB))) as con:
        con.execute("CREATE TABLE small (n SMALLINT)")
    before = snapshot(ctx)
    threads = threading.active_count()

    with pytest.raises(DataError, match="inserting batch 2") as info:
        load(
            make(table="small", background=background),
            ctx,
            pa.record_batch({"n": pa.array([1], pa.int64())}),
            pa.record_batch({"n": pa.array([100_000], pa.int64())}),
            pa.record_batch({"n": pa.array([3], pa.int64())}),
        )

    assert info.value.location is not None
    assert "small" in info.value.location
    assert snapshot(ctx) == before
    assert threading.active_count() == threads  # the writer thread is gone


def test_writing_in_the_calling_thread_gives_the_same_table(ctx: RunContext) -> None:
    batches = [people([i], [f"p{i}"]) for i in range(5)]

    load(make(table="bg"), ctx, *batches)
    load(make(table="fg", background=False), ctx, *batches)

    assert query(ctx, "SELECT * FROM bg") == query(ctx, "SELECT * FROM fg")
    assert query(ctx, "SELECT count(*) FROM fg") == [(5,)]


def test_rollback_after_a_failed_open_is_safe(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "taken").mkdir()
    dest = make(table="t", path="taken")  # a folder, not a database file

    with pytest.raises(ConfigError, match="is a folder"):
        dest.open(ctx)
    dest.rollback()
    dest.close()

    assert (tmp_path / "taken").is_dir()


# -- schema drift -----------------------------------------------------------------------------


def test_a_new_column_is_a_config_error_naming_it(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1], ["ann"]))
    wider = pa.record_batch({"id": [2], "name": ["bob"], "email": ["b@x"]})

    with pytest.raises(ConfigError, match=r"column 'email' of the data is not in table") as info:
        load(make(table="people"), ctx, wider)

    assert info.value.hint is not None
    assert "mode: replace" in info.value.hint
    assert "schema_evolution: add_columns" in info.value.hint
    assert query(ctx, "SELECT count(*) FROM people") == [(1,)]


def test_add_columns_adds_a_new_column_as_nullable(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1], ["ann"]))
    wider = pa.record_batch({"id": [2], "name": ["bob"], "email": ["b@x"]})

    load(make(table="people", schema_evolution="add_columns"), ctx, wider)

    assert query(ctx, "SELECT id, name, email FROM people ORDER BY id") == [
        (1, "ann", None),
        (2, "bob", "b@x"),
    ]


def test_a_type_mismatch_is_a_config_error(ctx: RunContext) -> None:
    load(make(table="people"), ctx, people([1], ["ann"]))
    text_ids = pa.record_batch({"id": ["x"], "name": ["bob"]})

    with pytest.raises(ConfigError, match="column 'id' is VARCHAR in the data but BIGINT"):
        load(make(table="people"), ctx, text_ids)


def test_compatible_types_are_widened_on_insert(ctx: RunContext) -> None:
    load(make(table="m"), ctx, pa.record_batch({"v": pa.array([1.5], pa.float64())}))

    load(
        make(table="m"),
        ctx,
        pa.record_batch({"v": pa.array([2], pa.int32())}),
        pa.record_batch({"v": pa.nulls(1)}),
    )

    assert query(ctx, "SELECT v FROM m") == [(1.5,), (2.0,), (None,)]


def test_columns_differing_only_in_case_are_refused(ctx: RunContext) -> None:
    batch = pa.record_batch({"Name": ["a"], "name": ["b"]})

    with pytest.raises(DataError, match="DuckDB column names ignore case"):
        load(make(table="t"), ctx, batch)


# -- identifiers are quoted, never pasted ---------------------------------------------------

NASTY = [
    'a"; DROP TABLE x; --',
    'quote"inside',
    "with space",
    "select",
    "order",
    "Kundennummer_ä",
    "顧客",
]


@pytest.mark.parametrize("mode", ["append", "replace", "merge"])
@pytest.mark.parametrize("table", NASTY)
def test_hostile_table_and_column_names_load_exactly(
    ctx: RunContext, table: str, mode: str
) -> None:
    load(make(table="x"), ctx, people([1], ["keep me"]))
    batch = pa.record_batch(
        {name: pa.array([i, i + 10], pa.int64()) for i, name in enumerate(NASTY)}
    )

    for _ in range(2):  # the second run appends, replaces or merges into the existing table
        load(make(table=table, schema=table, mode=mode, key=[NASTY[0]]), ctx, batch)

    with duckdb.connect(str(ctx.resolve(DB)), read_only=True) as con:
        quoted = '"' + table.replace('"', '""') + '"'
        got = con.sql(f"SELECT * FROM {quoted}.{quoted}").to_arrow_table()
        assert con.execute("SELECT * FROM x").fetchall() == [(1, "keep me")]
    expected = pa.Table.from_batches([batch] * (2 if mode == "append" else 1))
    assert got.column_names == NASTY
    assert got.sort_by(NASTY[0]).equals(expected.sort_by(NASTY[0]))


def test_a_user_table_named_like_the_batch_scan_does_not_capture_the_load(
    ctx: RunContext,
) -> None:
    ctx.resolve(DB).parent.mkdir()
    with duckdb.connect(str(ctx.resolve(DB))) as con:
        con.execute("CREATE TABLE _tidegate_arrow_batch_ (id BIGINT, name VARCHAR)")
        con.execute("INSERT INTO _tidegate_arrow_batch_ VALUES (99, 'decoy')")

    load(make(table="people"), ctx, people([1, 2], ["ann", "bob"]))

    assert query(ctx, "SELECT id, name FROM people") == [(1, "ann"), (2, "bob")]
    assert query(ctx, "SELECT id FROM _tidegate_arrow_batch_") == [(99,)]
