"""The SQL destinations' quarantine: PostgreSQL (COPY), SQLite and the generic sqlalchemy path.

Every behaviour runs against the real engines: PostgreSQL at 127.0.0.1:5432 (one database for
the module) and SQLite files in the test's folder; the generic ``sqlalchemy`` destination runs
its Core inserts against PostgreSQL. Other connections look at the tables to check what is
committed when. SQL Server's statements are compiled through the real mssql dialect and
compared with the expected T-SQL, as in ``test_mssql.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import QUARANTINE_COLUMNS, Checkpoint, Quarantines
from tidegate.destinations.mssql import MssqlDestination, MssqlSettings
from tidegate.destinations.postgres import PostgresDestination, PostgresSettings
from tidegate.destinations.sqlalchemy import SqlalchemyDestination, SqlalchemySettings
from tidegate.destinations.sqlite import SqliteDestination, SqliteSettings
from tidegate.errors import ConfigError, DataError
from tidegate.events import EventBus
from tidegate.testing.doubles import quarantine_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.destinations._relational import RelationalDestination

META = [name for name, _ in QUARANTINE_COLUMNS]
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
SQLITE_FILE = "wh/warehouse.db"


@pytest.fixture(scope="module")
def dbname(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with postgres_database("tidegate_test_quarantine_") as url:
        yield url.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Engine:
    """One destination kind on its database, and a second connection to look at the tables."""

    name: str
    make_destination: Callable[..., RelationalDestination]
    query: Callable[[str], list[tuple[Any, ...]] | None]
    """Rows of a SELECT on another connection; None when the table does not exist."""

    def make(self, table: str, **settings: Any) -> RelationalDestination:
        return self.make_destination(table=table, **settings)


def _postgres_query(dbname: str) -> Callable[[str], list[tuple[Any, ...]] | None]:
    def query(sql: str) -> list[tuple[Any, ...]] | None:
        dsn = f"host=127.0.0.1 user=postgres dbname={dbname}"
        with psycopg.connect(dsn, autocommit=True) as con:
            try:
                return con.execute(sql).fetchall()
            except psycopg.errors.UndefinedTable:
                return None

    return query


def _sqlite_query(path: Path) -> Callable[[str], list[tuple[Any, ...]] | None]:
    def query(sql: str) -> list[tuple[Any, ...]] | None:
        if not path.exists():
            return None
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as con:
            try:
                return con.execute(sql).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None
                raise

    return query


@pytest.fixture(params=["postgres", "sqlite", "sqlalchemy"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    kind = request.param
    if kind == "sqlite":
        return Engine(
            kind,
            lambda **s: SqliteDestination(SqliteSettings(url=f"sqlite:///{SQLITE_FILE}", **s)),
            _sqlite_query(tmp_path / SQLITE_FILE),
        )
    name = request.getfixturevalue("dbname")
    url = f"postgresql://postgres:pw-never-shown@127.0.0.1:5432/{name}"  # trust: unused
    if kind == "postgres":
        return Engine(
            kind,
            lambda **s: PostgresDestination(PostgresSettings(url=url, **s)),
            _postgres_query(name),
        )
    generic = f"postgresql+psycopg://postgres:pw-never-shown@127.0.0.1:5432/{name}"
    return Engine(
        kind,
        lambda **s: SqlalchemyDestination(SqlalchemySettings(url=generic, **s)),
        _postgres_query(name),
    )


@pytest.fixture
def table() -> str:
    return "t_" + uuid.uuid4().hex[:10]


def context(tmp_path: Path, run_id: str | None = None) -> RunContext:
    return RunContext(
        run_id=run_id or "r" + uuid.uuid4().hex[:8], pipeline="p", bus=EventBus(), base_dir=tmp_path
    )


def cp(ctx: RunContext, batch: int, *, finished: bool = False) -> Checkpoint:
    return Checkpoint(
        pipeline="p", run_id=ctx.run_id, batch=batch, rows=0, position={}, finished=finished
    )


def run(
    dest: RelationalDestination,
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


def read(dest: RelationalDestination, ctx: RunContext, run_id: str | None = None) -> pa.Table:
    dest.open(ctx)
    try:
        return dest.read_quarantine(run_id=run_id)
    finally:
        dest.rollback()
        dest.close()


def quarantined(engine: Engine, table: str) -> list[tuple[Any, ...]] | None:
    """The ``id`` column of the quarantine as another connection sees it, None if missing."""
    schema = "main" if engine.name == "sqlite" else "public"
    return engine.query(f'SELECT id FROM {schema}."{table}__quarantine" ORDER BY id')


def test_every_sql_destination_is_a_quarantine(engine: Engine, table: str) -> None:
    dest = engine.make(table)
    assert isinstance(dest, Quarantines)
    expected = {"sqlite": "main.", "postgres": "public.", "sqlalchemy": ""}[engine.name]
    assert dest.quarantine_name() == f"{expected}{table}__quarantine"


def test_created_on_first_write_and_read_back_with_types(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    ctx = context(tmp_path)
    rejected = quarantine_rows(
        {
            "id": pa.array([2, 3], pa.int64()),
            "email": ["not-an-email", None],
            "amount": pa.array([Decimal("12.30"), None], pa.decimal128(10, 2)),
            "signup": pa.array([dt.date(2024, 1, 2), None]),
            "at": pa.array([dt.time(8, 30, 15), None], pa.time64("us")),
            "vip": [True, None],
            "score": [1.5, None],
        },
        run_id=ctx.run_id,
        batch=1,
        rules="email.regex",
        reason="email does not match",
        first_row=7,
        at=T0,
    )
    run(engine.make(table), ctx, (pa.record_batch({"id": [1]}), rejected))

    got = read(engine.make(table), context(tmp_path))
    assert got.column_names == [
        "id",
        "email",
        "amount",
        "signup",
        "at",
        "vip",
        "score",
        *META,
    ]
    first, second = got.to_pylist()
    assert first == {
        "id": 2,
        "email": "not-an-email",
        "amount": Decimal("12.30"),
        "signup": dt.date(2024, 1, 2),
        "at": dt.time(8, 30, 15),
        "vip": True,
        "score": 1.5,
        "_tidegate_qid": f"{ctx.run_id}:1:0",
        "_tidegate_run_id": ctx.run_id,
        "_tidegate_step": "rules",
        "_tidegate_batch": 1,
        "_tidegate_row": 7,
        "_tidegate_rules": "email.regex",
        "_tidegate_reason": "email does not match",
        "_tidegate_quarantined_at": T0,
    }
    assert [second[k] for k in ("email", "amount", "signup", "at", "vip", "score")] == [None] * 6
    assert got.schema.field("amount").type == pa.decimal128(10, 2)
    assert got.schema.field("_tidegate_quarantined_at").type == pa.timestamp("us", "UTC")
    assert quarantined(engine, table) == [(2,), (3,)]


def test_all_null_columns_of_null_type_are_stored(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    ctx = context(tmp_path)
    rows = quarantine_rows({"id": [1], "note": pa.nulls(1)}, run_id=ctx.run_id, batch=1)
    index = rows.schema.get_field_index("_tidegate_row")
    rows = rows.set_column(index, "_tidegate_row", pa.nulls(1))  # Arrow type null
    run(engine.make(table), ctx, (None, rows))
    got = read(engine.make(table), context(tmp_path))
    assert got.schema.field("_tidegate_row").type == pa.int64()
    assert got.column("note").to_pylist() == [None]
    later = quarantine_rows({"id": [2], "note": pa.nulls(1)}, run_id="again", batch=1)
    run(engine.make(table), context(tmp_path), (None, later))  # null into an existing column
    assert quarantined(engine, table) == [(1,), (2,)]


def test_append_across_runs_and_modes_with_a_new_column(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    first, second = context(tmp_path, "run-1"), context(tmp_path, "run-2")
    run(engine.make(table), first, (None, quarantine_rows({"id": [1, 2]}, run_id="run-1", batch=1)))
    rejected = quarantine_rows(
        {"id": pa.array([3], pa.int32()), "country": ["ZZ"]}, run_id="run-2", batch=1
    )
    run(engine.make(table, mode="replace"), second, (pa.record_batch({"id": [9]}), rejected))

    got = read(engine.make(table), context(tmp_path))
    assert got.column_names == ["id", "country", *META]
    assert got.column("id").to_pylist() == [1, 2, 3]
    assert got.column("country").to_pylist() == [None, None, "ZZ"]
    assert got.column("_tidegate_run_id").to_pylist() == ["run-1", "run-1", "run-2"]
    schema = "main" if engine.name == "sqlite" else "public"
    assert engine.query(f'SELECT id FROM {schema}."{table}"') == [(9,)]


def test_read_order_and_run_filter(engine: Engine, table: str, tmp_path: Path) -> None:
    """Oldest first by quarantined_at, then by qid; ``run_id`` selects one run."""
    late = quarantine_rows({"id": [1]}, run_id="run-b", batch=1, at=T0 + dt.timedelta(days=1))
    early = quarantine_rows({"id": [2, 3]}, run_id="run-b", batch=2, at=T0)
    run(engine.make(table), context(tmp_path, "run-b"), (None, late), (None, early))
    other = quarantine_rows({"id": [4]}, run_id="run-a", batch=1, at=T0)
    run(engine.make(table), context(tmp_path, "run-a"), (None, other))

    got = read(engine.make(table), context(tmp_path))
    assert got.column("_tidegate_qid").to_pylist() == [
        "run-a:1:0",
        "run-b:2:0",
        "run-b:2:1",
        "run-b:1:0",
    ]
    assert read(engine.make(table), context(tmp_path), "run-b").column("id").to_pylist() == [
        2,
        3,
        1,
    ]
    assert read(engine.make(table), context(tmp_path), "none").num_rows == 0


def test_rollback_discards_the_quarantined_rows_with_the_batch(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    ctx = context(tmp_path)
    dest = engine.make(table)
    dest.open(ctx)
    dest.start(resume=False)
    dest.write(pa.record_batch({"id": [1]}), batch_number=1)
    dest.write_quarantine(quarantine_rows({"id": [2]}, run_id=ctx.run_id, batch=1))
    dest.rollback()
    dest.close()
    assert quarantined(engine, table) is None  # the CREATE TABLE went with the rows
    assert read(engine.make(table), context(tmp_path)).num_rows == 0

    run(
        engine.make(table),
        context(tmp_path),
        (None, quarantine_rows({"id": [5]}, run_id="x", batch=1)),
    )
    dest = engine.make(table)
    dest.open(context(tmp_path))
    dest.start(resume=False)
    dest.write_quarantine(quarantine_rows({"id": [6], "new": ["col"]}, run_id="y", batch=1))
    dest.rollback()  # the added column is rolled back too, and forgotten by the destination
    dest.start(resume=False)
    dest.write_quarantine(quarantine_rows({"id": [7], "new": ["col"]}, run_id="z", batch=1))
    dest.finish(cp(context(tmp_path), 1, finished=True))
    dest.close()
    assert quarantined(engine, table) == [(5,), (7,)]


def test_commit_every_carries_the_quarantined_rows_of_its_batches(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    """Another connection sees rows and quarantined rows appear at the same commits only."""
    ctx = context(tmp_path)
    dest = engine.make(table, commit_every=2)
    dest.open(ctx)
    dest.start(resume=False)
    seen = []
    schema = "main" if engine.name == "sqlite" else "public"
    for number in (1, 2, 3):
        dest.write(pa.record_batch({"id": [number * 10]}), batch_number=number)
        dest.write_quarantine(quarantine_rows({"id": [number]}, run_id=ctx.run_id, batch=number))
        committed = dest.commit(cp(ctx, number))
        seen.append(
            (
                committed,
                engine.query(f'SELECT id FROM {schema}."{table}" ORDER BY id'),
                quarantined(engine, table),
            )
        )
    dest.rollback()  # the run dies after batch 3
    dest.close()
    assert seen == [
        (False, None, None),
        (True, [(10,), (20,)], [(1,), (2,)]),
        (False, [(10,), (20,)], [(1,), (2,)]),
    ]
    assert quarantined(engine, table) == [(1,), (2,)]


def test_delete_by_qid_counts_and_is_transactional(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    ctx = context(tmp_path)
    run(
        engine.make(table),
        ctx,
        (None, quarantine_rows({"id": [1, 2, 3]}, run_id=ctx.run_id, batch=1)),
    )
    qids = [f"{ctx.run_id}:1:0", f"{ctx.run_id}:1:2"]

    dest = engine.make(table)
    dest.open(context(tmp_path))
    dest.start(resume=False)
    assert dest.delete_quarantine(qids) == 2
    assert dest.read_quarantine().column("id").to_pylist() == [2]  # the transaction's view
    dest.rollback()
    dest.close()
    assert quarantined(engine, table) == [(1,), (2,), (3,)]

    replay = context(tmp_path)
    dest = engine.make(table)
    dest.open(replay)
    dest.start(resume=False)
    many = [*qids, qids[0], *(f"missing:{i}" for i in range(1200))]  # several statements
    assert dest.delete_quarantine(many) == 2
    assert dest.delete_quarantine([]) == 0
    dest.finish(cp(replay, 0, finished=True))
    dest.close()
    assert quarantined(engine, table) == [(2,)]


def test_without_a_quarantine_or_a_target(engine: Engine, table: str, tmp_path: Path) -> None:
    dest = engine.make(table)
    dest.open(context(tmp_path))
    try:
        dest.start(resume=False)
        assert dest.read_quarantine().num_rows == 0
        assert dest.delete_quarantine(["a:1:0"]) == 0
        target = dest.read_target(["id", "email"])
        assert (target.num_rows, target.column_names) == (0, ["id", "email"])
    finally:
        dest.rollback()
        dest.close()


def test_read_target_is_distinct_over_the_live_table(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    good = pa.record_batch(
        {"id": [1, 2, 2, None], "Country": ["DE", "FR", "FR", None], "x": [1, 2, 3, 4]}
    )
    run(engine.make(table), context(tmp_path), (good, None))
    dest = engine.make(table, mode="replace")
    dest.open(context(tmp_path))
    try:
        dest.start(resume=False)
        dest.write(pa.record_batch({"id": [5], "Country": ["US"], "x": [0]}), batch_number=1)
        target = dest.read_target(["id", "Country"])  # the live table, not the staging one
        assert target.schema == pa.schema([("id", pa.int64()), ("Country", pa.string())])
        assert sorted(target.to_pylist(), key=str) == sorted(
            [
                {"id": 1, "Country": "DE"},
                {"id": 2, "Country": "FR"},
                {"id": None, "Country": None},
            ],
            key=str,
        )
        with pytest.raises(ConfigError, match=r"'nope' not in table"):
            dest.read_target(["nope"])
    finally:
        dest.rollback()
        dest.close()


def test_unicode_hostile_names_nulls_and_time_zones(engine: Engine, tmp_path: Path) -> None:
    table = 'wé"ird; ' + uuid.uuid4().hex[:6]
    ctx = context(tmp_path)
    paris = dt.datetime(2024, 6, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rejected = quarantine_rows(
        {
            'na"me; --': ["Zoë 🌊", None, "🙂"],
            "seen": pa.array([paris, None, paris], pa.timestamp("us", "Europe/Paris")),
            "naive": pa.array([dt.datetime(2024, 1, 1, 8), None, None], pa.timestamp("ms")),
        },
        run_id=ctx.run_id,
        batch=1,
        reason="naïve ✗",
    )
    run(engine.make(table), ctx, (None, rejected))
    got = read(engine.make(table), context(tmp_path))
    assert got.column('na"me; --').to_pylist() == ["Zoë 🌊", None, "🙂"]
    assert got.schema.field("seen").type == pa.timestamp("us", "UTC")
    assert got.column("seen").to_pylist() == [paris, None, paris]  # the same instants, in UTC
    assert got.column("naive").to_pylist() == [dt.datetime(2024, 1, 1, 8), None, None]
    assert set(got.column("_tidegate_reason").to_pylist()) == {"naïve ✗"}


def test_a_type_conflict_names_the_column_both_types_and_the_way_out(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    run(
        engine.make(table),
        context(tmp_path),
        (None, quarantine_rows({"age": [41]}, run_id="a", batch=1)),
    )
    dest = engine.make(table)
    dest.open(context(tmp_path))
    dest.start(resume=False)
    try:
        with pytest.raises(DataError) as caught:
            dest.write_quarantine(quarantine_rows({"age": ["forty"]}, run_id="b", batch=1))
    finally:
        dest.rollback()
        dest.close()
    error = caught.value
    assert "column 'age' of the rejected rows is string, but BIGINT in quarantine" in error.message
    assert f"{table}__quarantine" in error.message
    assert error.hint is not None
    assert "rename or drop the quarantine" in error.hint
    assert "pw-never-shown" not in str(error)


def test_values_go_into_a_text_column_as_their_text(
    engine: Engine, table: str, tmp_path: Path
) -> None:
    run(
        engine.make(table),
        context(tmp_path),
        (None, quarantine_rows({"raw": ["x"]}, run_id="a", batch=1, at=T0)),
    )
    later = T0 + dt.timedelta(seconds=1)
    run(
        engine.make(table),
        context(tmp_path),
        (None, quarantine_rows({"raw": [3.5]}, run_id="b", batch=1, at=later)),
    )
    assert read(engine.make(table), context(tmp_path)).column("raw").to_pylist() == ["x", "3.5"]


def test_postgres_quarantine_names_fit_in_63_bytes(dbname: str, tmp_path: Path) -> None:
    long = "é" + "x" * 60  # 62 bytes: the suffix would be cut off by PostgreSQL
    dest = PostgresDestination(
        PostgresSettings(url=f"postgresql://postgres@127.0.0.1:5432/{dbname}", table=long)
    )
    name = dest.quarantine_table()
    assert name.endswith("__quarantine")
    assert len(name.encode()) <= 63
    ctx = context(tmp_path)
    run(dest, ctx, (None, quarantine_rows({"id": [1]}, run_id=ctx.run_id, batch=1)))
    assert read(dest, context(tmp_path)).column("id").to_pylist() == [1]


# -- SQL Server: the exact T-SQL, compiled without a server -----------------------------------


def mssql(**settings: Any) -> MssqlDestination:
    settings.setdefault("url", "mssql+pyodbc://sa:Secr3t-pw@db:1433/wh?driver=ODBC+Driver+18")
    settings.setdefault("table", "people")
    return MssqlDestination(MssqlSettings(**settings))


def compiled(dest: MssqlDestination, statement: Any) -> str:
    return str(statement.compile(dialect=dest.dialect, compile_kwargs={"literal_binds": True}))


def test_mssql_quarantine_table_ddl() -> None:
    dest = mssql()
    rows = quarantine_rows({"id": [1], "name": ["x"]}, run_id="r", batch=1)
    assert dest.quarantine_name() == "dbo.people__quarantine"
    assert dest.create_table_sql(dest.quarantine_table(), rows.schema, key=[]) == (
        "CREATE TABLE [dbo].[people__quarantine] (\n"
        "\t[id] BIGINT NULL, \n"
        "\t[name] NVARCHAR(max) NULL, \n"
        "\t[_tidegate_qid] NVARCHAR(max) NULL, \n"
        "\t[_tidegate_run_id] NVARCHAR(max) NULL, \n"
        "\t[_tidegate_step] NVARCHAR(max) NULL, \n"
        "\t[_tidegate_batch] BIGINT NULL, \n"
        "\t[_tidegate_row] BIGINT NULL, \n"
        "\t[_tidegate_rules] NVARCHAR(max) NULL, \n"
        "\t[_tidegate_reason] NVARCHAR(max) NULL, \n"
        "\t[_tidegate_quarantined_at] DATETIMEOFFSET(7) NULL\n"
        ")"
    )
    assert dest.add_column_sql(dest.quarantine_table(), "country", pa.string()) == (
        "ALTER TABLE [dbo].[people__quarantine] ADD [country] NVARCHAR(max) NULL"
    )


def test_mssql_quarantine_select_delete_and_target_distinct() -> None:
    dest = mssql(table="a]; DROP TABLE x; --", schema="sales ops")
    q = "[sales ops].[a]]; DROP TABLE x; --__quarantine]"
    assert compiled(dest, dest.quarantine_select(["id", "_tidegate_qid"], run_id="it's")) == (
        f"SELECT {q}.[id], {q}.[_tidegate_qid] \n"
        f"FROM {q} \n"
        f"WHERE {q}.[_tidegate_run_id] = N'it''s' "
        f"ORDER BY {q}.[_tidegate_quarantined_at], {q}.[_tidegate_qid]"
    )
    assert compiled(dest, dest.quarantine_select(["id"])) == (
        f"SELECT {q}.[id] \nFROM {q} ORDER BY {q}.[_tidegate_quarantined_at], {q}.[_tidegate_qid]"
    )
    assert compiled(dest, dest.quarantine_delete(["r:1:0", "r:1:1"])) == (
        f"DELETE FROM {q} WHERE {q}.[_tidegate_qid] IN (N'r:1:0', N'r:1:1')"
    )
    t = "[sales ops].[a]]; DROP TABLE x; --]"
    assert compiled(dest, dest.target_distinct(["id", "select"])) == (
        f"SELECT DISTINCT {t}.[id], {t}.[select] \nFROM {t}"
    )


def test_mssql_timezone_aware_quarantine_times_are_sent_as_utc() -> None:
    rows = quarantine_rows({"id": [1]}, run_id="r", batch=1, at=T0)
    sent = mssql()._driver_values(rows.column("_tidegate_quarantined_at"))
    assert sent.type == pa.timestamp("us")
    assert sent.to_pylist() == [dt.datetime(2024, 3, 1, 12, 0)]
