"""The postgres destination against a real PostgreSQL (127.0.0.1:5432, one database per module).

Covers every mode, the checkpoint written in the same transaction as the rows (the connection is
killed between write and commit), resume of a replace load, the advisory lock, schema evolution,
type mapping, hostile identifiers, a concurrent reader during a replace, and the bad-input
errors (unreachable server, no privilege), then the whole path through the Runner.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import Checkpoint
from tidegate.core.runner import Runner
from tidegate.destinations.postgres import PostgresDestination, PostgresSettings
from tidegate.errors import ConfigError, DataError, DependencyError, values_hidden
from tidegate.events import EventBus
from tidegate.testing import FlakySource, MemorySource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

HOSTILE = 'a"; DROP TABLE x; --'


@pytest.fixture(scope="module")
def dbname(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with postgres_database("tidegate_test_pg_") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(run_id="t", pipeline="p", bus=EventBus(), base_dir=tmp_path)


@pytest.fixture
def url(dbname: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{dbname}"


@pytest.fixture
def table() -> str:
    return "t_" + uuid.uuid4().hex[:10]


def sql(dbname: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else []


def make(url: str, table: str, **settings: Any) -> PostgresDestination:
    return PostgresDestination(PostgresSettings(url=url, table=table, **settings))


def cp(batch: int, rows: int, *, run_id: str = "t", finished: bool = False) -> Checkpoint:
    return Checkpoint(
        pipeline="p",
        run_id=run_id,
        batch=batch,
        rows=rows,
        position={"rows": rows},
        finished=finished,
    )


def load(dest: PostgresDestination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
    """One complete run through the protocol, as the runner drives it."""
    try:
        dest.open(ctx)
        dest.start(resume=False)
        rows = 0
        for number, batch in enumerate(batches, start=1):
            dest.write(batch, batch_number=number)
            rows += batch.num_rows
            dest.commit(cp(number, rows, run_id=ctx.run_id))
        dest.finish(cp(len(batches), rows, run_id=ctx.run_id, finished=True))
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def people(ids: list[int], names: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": pa.array(ids, pa.int64()), "name": pa.array(names, pa.string())}
    )


def rows_of(dbname: str, table: str, order: str = "1") -> list[tuple[Any, ...]]:
    return sql(dbname, f'SELECT * FROM public."{table}" ORDER BY {order}')


def checkpoints(dbname: str, table: str) -> list[tuple[Any, ...]]:
    return sql(
        dbname,
        "SELECT run_id, batch, rows, finished FROM _tidegate_checkpoints WHERE target = %s "
        "ORDER BY committed_at, batch",
        (f"public.{table}",),
    )


def test_append_creates_the_table_with_postgres_types_and_keeps_values(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    tz = dt.UTC
    batch = pa.RecordBatch.from_pydict(
        {
            "i64": pa.array([1, None], pa.int64()),
            "i32": pa.array([2, 3], pa.int32()),
            "i16": pa.array([4, 5], pa.int16()),
            "f64": pa.array([1.5, None], pa.float64()),
            "f32": pa.array([2.5, 3.5], pa.float32()),
            "dec": pa.array([Decimal("12.34"), None], pa.decimal128(12, 2)),
            "flag": pa.array([True, None], pa.bool_()),
            "txt": pa.array(["", None], pa.string()),
            "quoted": pa.array(['a "b", c\nd', "é"], pa.string()),
            "blob": pa.array([b"\x00\x01\xff", None], pa.binary()),
            "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 1, 12, tzinfo=tz), None], pa.timestamp("us", tz)),
            "naive": pa.array([dt.datetime(2024, 1, 1, 12, 30), None], pa.timestamp("us")),
            "clock": pa.array([dt.time(8, 15), None], pa.time64("us")),
        }
    )
    load(make(url, table), ctx, batch)
    types = dict(
        sql(
            dbname,
            "SELECT column_name, format_type(atttypid, atttypmod) FROM pg_attribute a "
            "JOIN information_schema.columns c ON c.column_name = a.attname "
            "AND c.table_name = %s WHERE a.attrelid = %s::regclass",
            (table, f'public."{table}"'),
        )
    )
    assert types == {
        "i64": "bigint",
        "i32": "integer",
        "i16": "smallint",
        "f64": "double precision",
        "f32": "real",
        "dec": "numeric(12,2)",
        "flag": "boolean",
        "txt": "text",
        "quoted": "text",
        "blob": "bytea",
        "day": "date",
        "at": "timestamp with time zone",
        "naive": "timestamp without time zone",
        "clock": "time without time zone",
    }
    got = rows_of(dbname, table, "i32")
    assert got[0][:5] == (1, 2, 4, 1.5, 2.5)
    assert got[0][5:10] == (Decimal("12.34"), True, "", 'a "b", c\nd', b"\x00\x01\xff")
    assert got[0][10:] == (
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 1, 12, tzinfo=tz),
        dt.datetime(2024, 1, 1, 12, 30),
        dt.time(8, 15),
    )
    assert got[1] == (None, 3, 5, None, 3.5, None, None, None, "é", None, None, None, None, None)


def test_append_adds_rows_and_one_checkpoint_per_commit(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table), ctx, people([1, 2], ["a", "b"]), people([3], ["c"]))
    second = RunContext(run_id="u", pipeline="p", bus=EventBus(), base_dir=ctx.base_dir)
    load(make(url, table), second, people([4], ["d"]))
    assert [r[0] for r in rows_of(dbname, table)] == [1, 2, 3, 4]
    assert checkpoints(dbname, table) == [
        ("t", 1, 2, False),
        ("t", 2, 3, False),
        ("t", 2, 3, True),
        ("u", 1, 1, False),
        ("u", 1, 1, True),
    ]
    dest = make(url, table)
    try:
        latest = dest.open(second)
    finally:
        dest.close()
    assert latest == Checkpoint(
        pipeline="p", run_id="u", batch=1, rows=1, position={"rows": 1}, finished=True
    )


def test_commit_every_groups_batches_into_one_transaction(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    dest = make(url, table, commit_every=2)
    dest.open(ctx)
    dest.start(resume=False)
    for number in (1, 2, 3):
        dest.write(people([number], ["x"]), batch_number=number)
        dest.commit(cp(number, number))
    assert [r[0] for r in rows_of(dbname, table)] == [1, 2]  # batch 3 not committed yet
    dest.rollback()
    dest.close()
    assert checkpoints(dbname, table) == [("t", 2, 2, False)]


def test_replace_swaps_the_table_and_leaves_no_staging(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table), ctx, people([1, 2, 3], ["a", "b", "c"]))
    load(make(url, table, mode="replace"), ctx, people([7], ["x"]), people([8], ["y"]))
    assert rows_of(dbname, table) == [(7, "x"), (8, "y")]
    staging = sql(dbname, "SELECT to_regclass(%s)", (f'public."_tidegate_staging_{table}"',))
    assert staging == [(None,)]


def test_replace_is_atomic_for_a_concurrent_reader(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table), ctx, people(list(range(1000)), ["old"] * 1000))
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        dsn = f"host=127.0.0.1 user=postgres dbname={dbname}"
        try:
            with psycopg.connect(dsn, autocommit=True) as con:
                while not stop.is_set():
                    row = con.execute(f'SELECT count(*) FROM public."{table}"').fetchone()
                    assert row is not None
                    seen.add(row[0])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            batches = [people(list(range(n * 500, n * 500 + 500)), ["new"] * 500) for n in range(6)]
            load(make(url, table, mode="replace"), ctx, *batches)
            load(make(url, table, mode="replace"), ctx, people(list(range(1000)), ["old"] * 1000))
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert seen <= {1000, 3000}
    assert 1000 in seen


def test_replace_resume_keeps_the_staging_table(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table), ctx, people([1], ["old"]))
    first = make(url, table, mode="replace")
    first.open(ctx)
    first.start(resume=False)
    first.write(people([10, 11], ["a", "b"]), batch_number=1)
    first.commit(cp(1, 2, run_id="u1"))
    first.write(people([12], ["lost"]), batch_number=2)
    first.rollback()  # the run dies here
    first.close()
    assert rows_of(dbname, table) == [(1, "old")]

    second = make(url, table, mode="replace")
    latest = second.open(ctx)
    assert latest is not None
    assert (latest.run_id, latest.batch, latest.rows) == ("u1", 1, 2)
    second.start(resume=True)
    second.write(people([12], ["c"]), batch_number=2)
    second.commit(cp(2, 3, run_id="u2"))
    second.finish(cp(2, 3, run_id="u2", finished=True))
    second.close()
    assert rows_of(dbname, table) == [(10, "a"), (11, "b"), (12, "c")]

    fresh = make(url, table, mode="replace")
    fresh.open(ctx)
    fresh.start(resume=True)  # staging is gone after the swap: resume starts an empty one
    fresh.close()
    third = make(url, table, mode="replace")
    third.open(ctx)
    third.start(resume=False)
    third.write(people([20], ["z"]), batch_number=1)
    third.finish(cp(1, 1, run_id="u3", finished=True))
    third.close()
    assert rows_of(dbname, table) == [(20, "z")]


def test_replace_with_no_batches_empties_the_table(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table), ctx, people([1], ["a"]))
    load(make(url, table, mode="replace"), ctx)
    assert rows_of(dbname, table) == []


def test_merge_upserts_by_key_and_last_duplicate_wins(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table, mode="merge", key=["id"]), ctx, people([1, 2], ["a", "b"]))
    load(
        make(url, table, mode="merge", key=["id"]),
        ctx,
        people([2, 3, 3], ["b2", "c1", "c2"]),
        people([1], ["a2"]),
    )
    assert rows_of(dbname, table) == [(1, "a2"), (2, "b2"), (3, "c2")]


def test_merge_refuses_null_keys_and_tables_without_a_unique_key(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    with pytest.raises(DataError, match="key column 'id' is null in row 1 of batch 1"):
        load(make(url, table, mode="merge", key=["id"]), ctx, people([1, None], ["a", "b"]))  # type: ignore[list-item]
    assert sql(dbname, "SELECT to_regclass(%s)", (f'public."{table}"',)) == [(None,)]
    load(make(url, table), ctx, people([1], ["a"]))  # appended: no unique constraint
    with pytest.raises(ConfigError, match="no unique constraint on the key") as info:
        load(make(url, table, mode="merge", key=["id"]), ctx, people([1], ["b"]))
    assert "CREATE UNIQUE INDEX" in str(info.value)
    assert rows_of(dbname, table) == [(1, "a")]


def test_rollback_leaves_the_table_as_it_was(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table, mode="merge", key=["id"]), ctx, people([1], ["a"]))
    for mode in ("append", "replace", "merge"):
        dest = make(url, table, mode=mode, key=["id"] if mode == "merge" else [])
        dest.open(ctx)
        dest.start(resume=False)
        ids = [5, 6] if mode == "append" else [1, 5]
        dest.write(people(ids, ["changed", "new"]), batch_number=1)
        dest.rollback()
        dest.close()
        assert rows_of(dbname, table) == [(1, "a")]
    assert len(checkpoints(dbname, table)) == 2


def test_killed_connection_between_write_and_commit_loses_rows_and_checkpoint(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    dest = make(url, table)
    dest.open(ctx)
    dest.start(resume=False)
    dest.write(people([1], ["a"]), batch_number=1)
    dest.commit(cp(1, 1))
    dest.write(people([2], ["b"]), batch_number=2)
    killed = sql(
        dbname,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        ("tidegate:p:t",),
    )
    assert killed == [(True,)]
    with pytest.raises(DependencyError, match="lost the connection") as info:
        dest.commit(cp(2, 2))
    assert "--resume" in str(info.value)
    dest.rollback()
    dest.close()
    assert rows_of(dbname, table) == [(1, "a")]
    assert checkpoints(dbname, table) == [("t", 1, 1, False)]
    again = make(url, table)
    try:
        latest = again.open(ctx)
    finally:
        again.close()
    assert latest is not None
    assert (latest.batch, latest.rows) == (1, 1)


def test_second_run_on_the_same_table_is_refused_naming_the_holder(
    url: str, table: str, ctx: RunContext
) -> None:
    holder = make(url, table)
    holder.open(ctx)
    other = RunContext(run_id="u", pipeline="p", bus=EventBus(), base_dir=ctx.base_dir)
    second = make(url, table)
    try:
        with pytest.raises(DependencyError, match=r"being loaded by tidegate:p:t \(pid \d+"):
            second.open(other)
    finally:
        second.rollback()
        second.close()
        holder.close()
    third = make(url, table)
    try:
        assert third.open(other) is None
    finally:
        third.close()


def test_schema_evolution_fail_add_columns_and_type_clash(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    load(make(url, table), ctx, people([1], ["a"]))
    wider = pa.RecordBatch.from_pydict(
        {"id": pa.array([2], pa.int64()), "name": ["b"], "score": pa.array([9.5])}
    )
    with pytest.raises(ConfigError, match="column 'score' of the data is not in table") as info:
        load(make(url, table), ctx, wider)
    assert "schema_evolution: add_columns" in str(info.value)
    load(make(url, table, schema_evolution="add_columns"), ctx, wider)
    assert rows_of(dbname, table) == [(1, "a", None), (2, "b", 9.5)]
    clash = pa.RecordBatch.from_pydict({"id": pa.array(["x"]), "name": ["c"]})
    with pytest.raises(ConfigError, match=r"column 'id' is string in the data but BIGINT"):
        load(make(url, table, schema_evolution="add_columns"), ctx, clash)
    assert len(rows_of(dbname, table)) == 2


def test_hostile_identifiers_are_names_only(url: str, dbname: str, ctx: RunContext) -> None:
    batch = pa.RecordBatch.from_pydict(
        {HOSTILE: [1, 2], "with space": ["a", "b"], "select": ["s", "t"], "naïve é": ["x", "y"]}
    )
    load(make(url, HOSTILE, mode="merge", key=[HOSTILE]), ctx, batch)
    load(make(url, HOSTILE, mode="replace"), ctx, batch)
    load(make(url, HOSTILE), ctx, batch)
    got = sql(dbname, 'SELECT * FROM public."a""; DROP TABLE x; --" ORDER BY 1')
    assert got == [(1, "a", "s", "x"), (1, "a", "s", "x"), (2, "b", "t", "y"), (2, "b", "t", "y")]
    columns = sql(
        dbname,
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position",
        (HOSTILE,),
    )
    assert [c[0] for c in columns] == [HOSTILE, "with space", "select", "naïve é"]


def test_unreachable_server_is_a_dependency_error_without_the_password(ctx: RunContext) -> None:
    secret = "s3cr3t-pa55"  # noqa: S105 - a fake password that must not leak
    for url, fragment in (
        (f"postgresql://bob:{secret}@127.0.0.1:1/db", "127.0.0.1:1"),
        (f"postgresql://bob:{secret}@no-such-host.invalid:5432/db", "no-such-host.invalid"),
        (f"postgresql://postgres:{secret}@127.0.0.1:5432/no_such_db_tg", "no_such_db_tg"),
    ):
        dest = make(url, "t", connect_timeout=3)
        assert secret not in dest.describe()
        with pytest.raises(DependencyError) as info:
            dest.open(ctx)
        dest.rollback()
        dest.close()
        text = str(info.value)
        assert secret not in text
        assert info.value.__cause__ is None or secret not in str(info.value.__cause__)
        assert fragment in text
        assert "***" in text
        assert "check that the server is up" in text


def test_no_privilege_to_create_is_a_config_error_with_a_hint(
    dbname: str, table: str, ctx: RunContext
) -> None:
    role = "tidegate_nocreate_" + uuid.uuid4().hex[:8]
    sql(dbname, f'CREATE ROLE "{role}" LOGIN')
    sql(dbname, f'REVOKE CREATE ON SCHEMA public FROM "{role}", PUBLIC')
    try:
        dest = make(f"postgresql://{role}@127.0.0.1:5432/{dbname}", table)
        with pytest.raises(ConfigError, match="permission denied") as info:
            dest.open(ctx)
        dest.rollback()
        dest.close()
        assert "GRANT CREATE" in str(info.value)
    finally:
        sql(dbname, f'DROP ROLE "{role}"')


def test_runner_loads_and_resumes_exactly_once(
    url: str, dbname: str, table: str, tmp_path: Path
) -> None:
    batches = [people([n * 10 + i for i in range(10)], [f"r{n}"] * 10) for n in range(5)]

    def run(source: Any, run_id: str, on_unfinished: Any = "refuse") -> Any:
        context = RunContext(run_id=run_id, pipeline="p", bus=EventBus(), base_dir=tmp_path)
        return Runner(
            source=source,
            steps=[],
            destination=make(url, table),
            context=context,
            on_unfinished=on_unfinished,
        ).run()

    failed = run(FlakySource(batches, fail_after=3), "01")
    assert not failed.ok
    assert len(rows_of(dbname, table)) == 30
    refused = run(MemorySource(batches), "02")
    assert isinstance(refused.error, ConfigError)
    assert "can be resumed" in str(refused.error)
    resumed = run(MemorySource(batches), "03", on_unfinished="resume")
    assert resumed.ok, resumed.error
    ids = [r[0] for r in rows_of(dbname, table)]
    assert ids == sorted(n * 10 + i for n in range(5) for i in range(10))
    assert checkpoints(dbname, table)[-1] == ("03", 5, 50, True)


def test_a_governed_run_hides_the_database_text_of_a_data_error(url: str, table: str) -> None:
    import sqlalchemy  # noqa: PLC0415 - only this test builds a raw engine

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as con, pytest.raises(sqlalchemy.exc.DBAPIError) as caught:
            con.execute(sqlalchemy.text("SELECT CAST('bob@example.com' AS integer)"))
    finally:
        engine.dispose()
    destination = make(url, table)
    shown = destination._classify(caught.value, "loading batch 1")
    assert "bob@example.com" in str(shown)  # an ungoverned run says what the database said
    with values_hidden():
        hidden = destination._classify(caught.value, "loading batch 1")
    assert isinstance(hidden, DataError)
    assert "bob@example.com" not in str(hidden)
    assert "SQLSTATE 22P02" in str(hidden)
