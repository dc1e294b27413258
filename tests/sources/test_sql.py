"""The sql source against a real SQLite file and a real PostgreSQL server on loopback."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from tidegate.core import Runner
from tidegate.errors import ConfigError, DataError, DependencyError
from tidegate.sources.sql import SqlSettings, SqlSource
from tidegate.testing import MemoryDestination

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import SourceBatch


def read(ctx: RunContext, **settings: Any) -> list[SourceBatch]:
    return list(SqlSource(SqlSettings(**settings)).read(ctx))


def rows_of(batches: list[SourceBatch]) -> dict[str, list[Any]]:
    return pa.Table.from_batches([b.batch for b in batches]).to_pydict()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (id integer, customer text, amount real, day text)")
        db.executemany(
            "insert into orders values (?, ?, ?, ?)",
            [(i, f"c{i % 7}", i * 1.5, f"2024-01-{1 + i % 28:02d}") for i in range(1, 1001)],
        )
    return path


def test_sqlite_streams_in_batches(sqlite_db: Path, ctx: RunContext) -> None:
    source = SqlSource(
        SqlSettings(
            url="sqlite:///shop.db",
            query="select id, customer, amount from orders where id > :low order by id",
            params={"low": 10},
            batch_size=100,
        )
    )
    assert source.describe() == "sql:sqlite:///shop.db"
    batches = list(source.read(ctx))
    assert [b.batch.num_rows for b in batches] == [100] * 9 + [90]
    assert batches[-1].position == {"rows": 990}
    data = rows_of(batches)
    assert data["id"][:3] == [11, 12, 13]
    assert data["amount"][0] == 16.5
    assert batches[0].batch.schema.field("id").type == pa.int64()


def test_resume_needs_a_stable_order(sqlite_db: Path, ctx: RunContext) -> None:
    ordered = SqlSource(
        SqlSettings(url="sqlite:///shop.db", query="select * from orders ORDER BY id")
    )
    ordered.check_resumable()
    unordered = SqlSource(SqlSettings(url="sqlite:///shop.db", query="select * from orders"))
    with pytest.raises(ConfigError, match="no ORDER BY") as info:
        unordered.check_resumable()
    assert info.value.hint is not None
    assert "--fresh" in info.value.hint


def test_resumed_run_skips_exactly_the_loaded_rows(sqlite_db: Path, ctx: RunContext) -> None:
    destination = MemoryDestination(crash_after=3)
    settings = SqlSettings(
        url="sqlite:///shop.db", query="select id from orders order by id", batch_size=100
    )
    first = Runner(source=SqlSource(settings), steps=[], destination=destination, context=ctx)
    assert first.run().error is not None
    destination.crash_after = None
    resumed = Runner(
        source=SqlSource(settings),
        steps=[],
        destination=destination,
        context=ctx,
        on_unfinished="resume",
    ).run()
    assert resumed.ok, resumed.error
    assert destination.table().column("id").to_pylist() == list(range(1, 1001))


def test_sqlite_declared_types(sqlite_db: Path, ctx: RunContext) -> None:
    batches = read(
        ctx,
        url=f"sqlite:///{sqlite_db}",
        query="select id, day from orders where id <= 2 order by id",
        columns={"id": "int16", "day": "date32"},
    )
    assert batches[0].batch.schema.field("id").type == pa.int16()
    assert rows_of(batches)["day"] == [date(2024, 1, 2), date(2024, 1, 3)]


def test_empty_result_yields_schema(sqlite_db: Path, ctx: RunContext) -> None:
    batches = read(
        ctx,
        url="sqlite:///shop.db",
        query="select id, customer from orders where id < 0",
        columns={"id": "int64", "customer": "string"},
    )
    assert len(batches) == 1
    assert batches[0].batch.schema == pa.schema([("id", pa.int64()), ("customer", pa.string())])


def test_bad_sql_is_a_config_error_with_the_db_message(sqlite_db: Path, ctx: RunContext) -> None:
    with pytest.raises(ConfigError) as caught:
        read(ctx, url="sqlite:///shop.db", query="select * from missing_table")
    assert "no such table: missing_table" in caught.value.message
    assert caught.value.hint is not None


def test_missing_sqlite_file(tmp_path: Path, ctx: RunContext) -> None:
    with pytest.raises(ConfigError) as caught:
        read(ctx, url="sqlite:///nope.db", query="select 1")
    assert str(tmp_path / "nope.db") in caught.value.message
    assert not (tmp_path / "nope.db").exists()


def test_mixed_column_types_fail_with_hint(tmp_path: Path, ctx: RunContext) -> None:
    with sqlite3.connect(tmp_path / "m.db") as db:
        db.execute("create table t (v)")
        db.executemany("insert into t values (?)", [(1,), ("two",)])
    with pytest.raises(DataError) as caught:
        read(ctx, url="sqlite:///m.db", query="select v from t")
    assert "column 'v'" in caught.value.message
    assert "v: string" in (caught.value.hint or "")


def test_unparseable_url(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="cannot be parsed"):
        read(ctx, url="not a url", query="select 1")


def test_unreachable_server_hides_password(ctx: RunContext) -> None:
    source = SqlSource(
        SqlSettings(url="postgresql+psycopg://app:Sup3rS3cret@127.0.0.1:1/shop", query="select 1")
    )
    assert "Sup3rS3cret" not in source.describe()
    with pytest.raises(DependencyError) as caught:
        list(source.read(ctx))
    text = str(caught.value)
    assert "Sup3rS3cret" not in text
    assert "postgresql+psycopg://app:***@127.0.0.1:1/shop" in text
    assert "server is up" in (caught.value.hint or "")


@pytest.fixture
def pg_url(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    with postgres_database("tidegate_src_") as url:
        libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq_url, autocommit=True) as db:
            db.execute(
                "create table items (id int primary key, name text, price numeric(10,2), "
                "added date, meta jsonb)"
            )
            db.execute(
                "insert into items select g, 'item ' || g, g * 0.25, date '2024-01-01' + g, "
                "null from generate_series(1, 2500) g"
            )
        yield url


def test_postgres_streams_typed_batches(pg_url: str, ctx: RunContext) -> None:
    batches = read(
        ctx,
        url=pg_url,
        query="select id, name, price, added from items where id <= :n order by id",
        params={"n": 2000},
        batch_size=512,
    )
    assert [b.batch.num_rows for b in batches] == [512, 512, 512, 464]
    assert batches[-1].position == {"rows": 2000}
    data = rows_of(batches)
    assert data["price"][:2] == [Decimal("0.25"), Decimal("0.50")]
    assert data["added"][0] == date(2024, 1, 2)
    assert batches[0].batch.schema.field("added").type == pa.date32()


def test_postgres_null_column_keeps_declared_type(pg_url: str, ctx: RunContext) -> None:
    batches = read(ctx, url=pg_url, query="select id, meta from items", columns={"meta": "string"})
    assert {b.batch.schema.field("meta").type for b in batches} == {pa.string()}


def test_postgres_bad_sql_and_unknown_database(pg_url: str, ctx: RunContext) -> None:
    with pytest.raises(ConfigError) as caught:
        read(ctx, url=pg_url, query="select nope from items")
    assert 'column "nope" does not exist' in caught.value.message
    missing = pg_url.rsplit("/", 1)[0] + "/tidegate_no_such_db"
    with pytest.raises(DependencyError) as unreachable:
        read(ctx, url=missing, query="select 1")
    assert "tidegate_no_such_db" in str(unreachable.value)


def test_postgres_bad_value_is_a_data_error(pg_url: str, ctx: RunContext) -> None:
    with pytest.raises(DataError) as caught:
        read(ctx, url=pg_url, query="select 'abc'::int")
    assert "invalid input syntax" in caught.value.message
