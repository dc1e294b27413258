"""``peek_schema`` of every source: the schema of the batches ``read`` yields, known up front.

Each test peeks, then reads for real and checks that every batch has exactly the peeked schema
(names, types, nullability, metadata); failures must be the very errors ``read`` raises. SQL
runs against a real SQLite file and a real PostgreSQL database on loopback.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidegate.core.protocols import SchemaPeeked
from tidegate.errors import ConfigError, DataError, DependencyError, TidegateError
from tidegate.sources.csv import CsvSettings, CsvSource
from tidegate.sources.jsonl import JsonlSettings, JsonlSource
from tidegate.sources.parquet import ParquetSettings, ParquetSource
from tidegate.sources.rest import RestSettings, RestSource
from tidegate.sources.sql import SqlSettings, SqlSource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.core.context import RunContext

PeekedSource = CsvSource | JsonlSource | ParquetSource | SqlSource | RestSource


def peek_equals_read(source: PeekedSource, ctx: RunContext) -> pa.Schema:
    """Peek, read, and require every batch to have the peeked schema; return it."""
    assert isinstance(source, SchemaPeeked)
    peeked = source.peek_schema(ctx)
    assert peeked is not None
    batches = list(source.read(ctx))
    assert batches
    assert peeked == batches[0].batch.schema
    for batch in batches:
        assert batch.batch.schema.equals(peeked, check_metadata=True), batch.batch.schema
    return peeked


def same_error(source: PeekedSource, ctx: RunContext, kind: type[TidegateError]) -> TidegateError:
    """Peek and read both fail with the same error (kind, message, location, hint)."""
    with pytest.raises(kind) as peeked:
        source.peek_schema(ctx)
    with pytest.raises(kind) as read:
        list(source.read(ctx))
    assert type(peeked.value) is type(read.value)
    assert peeked.value.message == read.value.message
    assert peeked.value.location == read.value.location
    assert peeked.value.hint == read.value.hint
    return peeked.value


# -- csv ---------------------------------------------------------------------------------------


def csv_source(**settings: Any) -> CsvSource:
    return CsvSource(CsvSettings(**settings))


def test_csv_inferred_and_declared_types_over_many_blocks(tmp_path: Path, ctx: RunContext) -> None:
    rows = "".join(f"{i},{i * 1.25:.2f},2024-01-{1 + i % 28:02d},c{i % 5},\n" for i in range(3000))
    (tmp_path / "orders.csv").write_text("id,amount,day,customer,note\n" + rows)
    source = csv_source(
        path="orders.csv",
        columns={"id": "int32", "amount": "decimal(12,2)", "note": "string"},
        block_size=4096,
    )
    schema = peek_equals_read(source, ctx)
    assert len(list(source.read(ctx))) > 1
    assert schema == pa.schema(
        [
            ("id", pa.int32()),
            ("amount", pa.decimal128(12, 2)),
            ("day", pa.date32()),
            ("customer", pa.string()),
            ("note", pa.string()),
        ]
    )


def test_csv_column_names_null_values_and_skip_rows(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "x.csv").write_text("exported by a tool\nA;B\n1;NULL\n2;x\n")
    source = csv_source(
        path="x.csv",
        delimiter=";",
        skip_rows=1,
        column_names=["key", "label"],
        null_values=["NULL"],
    )
    assert peek_equals_read(source, ctx) == pa.schema([("key", pa.int64()), ("label", pa.string())])


def test_csv_header_only_file_has_null_typed_columns(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "empty.csv").write_text("id,name\n")
    source = csv_source(path="empty.csv", columns={"id": "int64"})
    assert peek_equals_read(source, ctx) == pa.schema([("id", pa.int64()), ("name", pa.null())])


def test_csv_schema_is_fixed_by_the_first_block(tmp_path: Path, ctx: RunContext) -> None:
    """A later value that does not fit fails the read; it never widens the peeked type."""
    rows = "".join(f"{i}\n" for i in range(2000))
    (tmp_path / "ids.csv").write_text("id\n" + rows + "A-1\n")
    source = csv_source(path="ids.csv", block_size=1024)
    assert source.peek_schema(ctx) == pa.schema([("id", pa.int64())])
    with pytest.raises(DataError) as caught:
        list(source.read(ctx))
    assert "'A-1'" in caught.value.message
    assert caught.value.location == f"{tmp_path / 'ids.csv'} line 2002"


def test_csv_quarantine_mode_peeks_without_writing_the_quarantine(
    tmp_path: Path, ctx: RunContext
) -> None:
    (tmp_path / "m.csv").write_text("id,name\n1,a\n2,b,extra\n3,c\n")
    source = csv_source(path="m.csv", on_malformed="quarantine", quarantine_path="q.csv")
    assert source.peek_schema(ctx) == pa.schema([("id", pa.int64()), ("name", pa.string())])
    assert not (tmp_path / "q.csv").exists()
    peek_equals_read(source, ctx)
    assert (tmp_path / "q.csv").exists()


def test_csv_errors_are_those_of_read(tmp_path: Path, ctx: RunContext) -> None:
    missing = same_error(csv_source(path="nope.csv"), ctx, ConfigError)
    assert str(tmp_path / "nope.csv") in missing.message
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "empty" in same_error(csv_source(path="empty.csv"), ctx, DataError).message
    (tmp_path / "bad.csv").write_text("id,name\n1,a\n2,b,c\n")
    bad = same_error(csv_source(path="bad.csv"), ctx, DataError)
    assert bad.location == f"{tmp_path / 'bad.csv'} line 3"
    (tmp_path / "ok.csv").write_text("id\n1\n")
    undeclared = same_error(
        csv_source(path="ok.csv", columns={"price": "double"}), ctx, ConfigError
    )
    assert "price" in undeclared.message
    pq.write_table(pa.table({"a": [1]}), tmp_path / "p.csv")
    assert "Parquet" in same_error(csv_source(path="p.csv"), ctx, DataError).message


# -- jsonl -------------------------------------------------------------------------------------


def jsonl_source(**settings: Any) -> JsonlSource:
    return JsonlSource(JsonlSettings(**settings))


def test_jsonl_inferred_declared_and_absent_fields(tmp_path: Path, ctx: RunContext) -> None:
    lines = "".join(
        f'{{"id": {i}, "day": "2024-02-{1 + i % 28:02d}", "score": {i / 2}, "tag": null}}\n'
        for i in range(2000)
    )
    (tmp_path / "e.jsonl").write_text(lines)
    source = jsonl_source(
        path="e.jsonl",
        columns={"id": "int16", "day": "date32", "tag": "string", "owner": "string"},
        block_size=4096,
    )
    schema = peek_equals_read(source, ctx)
    assert len(list(source.read(ctx))) > 1
    assert schema == pa.schema(
        [
            ("id", pa.int16()),
            ("day", pa.date32()),
            ("tag", pa.string()),
            ("owner", pa.string()),
            ("score", pa.float64()),
        ]
    )


def test_jsonl_undeclared_null_field_stays_null_typed(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "n.jsonl").write_text('{"id": 1, "gone": null}\n{"id": 2, "gone": null}\n')
    source = jsonl_source(path="n.jsonl")
    assert peek_equals_read(source, ctx) == pa.schema([("id", pa.int64()), ("gone", pa.null())])


def test_jsonl_errors_are_those_of_read(tmp_path: Path, ctx: RunContext) -> None:
    assert "not found" in same_error(jsonl_source(path="nope.jsonl"), ctx, ConfigError).message
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert same_error(jsonl_source(path="empty.jsonl"), ctx, DataError).message == "file is empty"
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\n{"id": 2\n')
    bad = same_error(jsonl_source(path="bad.jsonl"), ctx, DataError)
    assert bad.location == f"{tmp_path / 'bad.jsonl'} line 2"


# -- parquet -----------------------------------------------------------------------------------


def parquet_source(**settings: Any) -> ParquetSource:
    return ParquetSource(ParquetSettings(**settings))


def test_parquet_schema_from_the_footer(tmp_path: Path, ctx: RunContext) -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.int32(), nullable=False),
            pa.field("price", pa.decimal128(9, 2)),
            pa.field("at", pa.timestamp("ms", tz="UTC")),
            pa.field("kind", pa.dictionary(pa.int32(), pa.string())),
        ],
        metadata={"owner": "sales"},
    )
    folder = tmp_path / "parts"
    folder.mkdir()
    for part in range(3):
        data = {
            "id": list(range(part * 100, part * 100 + 100)),
            "price": [None] * 100,
            "at": [None] * 100,
            "kind": ["a", "b"] * 50,
        }
        pq.write_table(pa.table(data, schema=schema), folder / f"p{part}.parquet")
    whole = peek_equals_read(parquet_source(path="parts", batch_size=64), ctx)
    assert whole == schema
    assert whole.metadata == {b"owner": b"sales"}
    cut = peek_equals_read(parquet_source(path="parts/*.parquet", columns=["kind", "id"]), ctx)
    assert cut.names == ["kind", "id"]
    assert cut.field("id").nullable is False


def test_parquet_file_without_rows(tmp_path: Path, ctx: RunContext) -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])
    pq.write_table(schema.empty_table(), tmp_path / "none.parquet")
    assert peek_equals_read(parquet_source(path="none.parquet"), ctx) == schema


def test_parquet_errors_are_those_of_read(tmp_path: Path, ctx: RunContext) -> None:
    same_error(parquet_source(path="nope.parquet"), ctx, ConfigError)
    (tmp_path / "empty").mkdir()
    assert "no *.parquet" in same_error(parquet_source(path="empty"), ctx, ConfigError).message
    pq.write_table(pa.table({"a": [1]}), tmp_path / "a.parquet")
    wrong = same_error(parquet_source(path="a.parquet", columns=["b"]), ctx, ConfigError)
    assert "b" in wrong.message
    (tmp_path / "t.parquet").write_text("id,name\n1,a\n")
    assert "type: csv" in (same_error(parquet_source(path="t.parquet"), ctx, DataError).hint or "")


# -- sql: SQLite -------------------------------------------------------------------------------


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("create table orders (id integer, customer text, amount real, day text)")
        db.executemany(
            "insert into orders values (?, ?, ?, ?)",
            [(i, f"c{i % 7}", i * 1.5, f"2024-01-{1 + i % 28:02d}") for i in range(1, 301)],
        )
    return path


def sql_source(**settings: Any) -> SqlSource:
    return SqlSource(SqlSettings(**settings))


SQLITE_TYPES = {"id": "int32", "customer": "string", "amount": "double", "day": "date32"}


def test_sqlite_declared_columns_give_the_schema(shop_db: Path, ctx: RunContext) -> None:
    source = sql_source(
        url="sqlite:///shop.db",
        query="select id, customer, amount, day from orders where id > :low order by id;",
        params={"low": 10},
        columns={**SQLITE_TYPES, "extra": "int64"},
        batch_size=100,
    )
    schema = peek_equals_read(source, ctx)
    assert schema == pa.schema(
        [
            ("id", pa.int32()),
            ("customer", pa.string()),
            ("amount", pa.float64()),
            ("day", pa.date32()),
            ("extra", pa.int64()),
        ]
    )
    empty = sql_source(
        url="sqlite:///shop.db",
        query="select id, customer, amount, day from orders where id < 0 -- none",
        columns=SQLITE_TYPES,
    )
    assert peek_equals_read(empty, ctx) == schema.remove(4)


def test_sqlite_undeclared_columns_are_unknown(shop_db: Path, ctx: RunContext) -> None:
    """SQLite describes no types: an undeclared column's type comes from the values."""
    source = sql_source(
        url="sqlite:///shop.db", query="select id, customer from orders", columns={"id": "int64"}
    )
    assert source.peek_schema(ctx) is None
    first = next(iter(source.read(ctx)))
    assert first.batch.schema.field("customer").type == pa.string()


def test_sqlite_errors_are_those_of_read(shop_db: Path, ctx: RunContext) -> None:
    missing = same_error(sql_source(url="sqlite:///nope.db", query="select 1"), ctx, ConfigError)
    assert "nope.db" in missing.message
    bad = same_error(
        sql_source(url="sqlite:///shop.db", query="select nope from o"), ctx, ConfigError
    )
    assert "no such table: o" in bad.message


# -- sql: PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    with postgres_database("tidegate_peek_") as url:
        libpq_url = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq_url, autocommit=True) as db:
            db.execute(
                "create table kinds (id int primary key, small int2, big int8, ratio float4, "
                "score float8, name text, code varchar(8), flag char(2), ok bool, day date, "
                "at timestamp, at_tz timestamptz, span interval, raw bytea, price numeric(10,2), "
                "huge numeric(60,4), clock time, later int4, meta jsonb, total numeric)"
            )
            db.execute(
                "insert into kinds select g, g::int2, g * 1000000000::int8, g / 4.0, g / 3.0, "
                "'n' || g, 'c' || g, 'f', g % 2 = 0, date '2024-01-01' + g, "
                "timestamp '2024-01-01' + g * interval '1 hour', "
                "timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', "
                "g * interval '1 second', decode(lpad(to_hex(g), 4, '0'), 'hex'), g * 0.25, "
                "g * 1000000000000.5, time '08:00' + g * interval '1 second', "
                "case when g > 600 then g end, jsonb_build_object('g', g), g * 0.125 "
                "from generate_series(1, 1500) g"
            )
        yield url


PG_COLUMNS = (
    "id, small, big, ratio, score, name, code, flag, ok, day, at, at_tz, span, raw, price, "
    "huge, clock, later"
)


def test_postgres_described_types_match_every_batch(pg_url: str, ctx: RunContext) -> None:
    """Types come from the result description, so a column all-null in batch 1 keeps its type."""
    source = sql_source(
        url=pg_url,
        query=f"select {PG_COLUMNS}, meta::text as meta from kinds where id <= :n order by id",
        params={"n": 1200},
        columns={"small": "int16"},
        batch_size=500,
    )
    schema = peek_equals_read(source, ctx)
    assert len(list(source.read(ctx))) == 3
    assert schema == pa.schema(
        [
            ("id", pa.int64()),
            ("small", pa.int16()),
            ("big", pa.int64()),
            ("ratio", pa.float64()),
            ("score", pa.float64()),
            ("name", pa.string()),
            ("code", pa.string()),
            ("flag", pa.string()),
            ("ok", pa.bool_()),
            ("day", pa.date32()),
            ("at", pa.timestamp("us")),
            ("at_tz", pa.timestamp("us", tz="Etc/UTC")),
            ("span", pa.duration("us")),
            ("raw", pa.binary()),
            ("price", pa.decimal128(10, 2)),
            ("huge", pa.decimal256(60, 4)),
            ("clock", pa.time64("us")),
            ("later", pa.int64()),
            ("meta", pa.string()),
        ]
    )


def test_postgres_numeric_keeps_its_precision_as_values_grow(pg_url: str, ctx: RunContext) -> None:
    """numeric(10,2) is decimal(10,2) in every batch, not the precision of batch 1's values."""
    source = sql_source(url=pg_url, query="select price from kinds order by id", batch_size=10)
    assert peek_equals_read(source, ctx) == pa.schema([("price", pa.decimal128(10, 2))])
    assert next(iter(source.read(ctx))).batch.column(0).to_pylist()[-1] == Decimal("2.50")


def test_postgres_empty_result_and_session_time_zone(pg_url: str, ctx: RunContext) -> None:
    url = pg_url + "?options=-c%20TimeZone%3DEurope/Paris"
    empty = sql_source(url=url, query=f"select {PG_COLUMNS} from kinds where id < 0")
    assert peek_equals_read(empty, ctx).field("at_tz").type == pa.timestamp("us", "Europe/Paris")
    rows = sql_source(url=url, query="select at_tz from kinds order by id")
    assert peek_equals_read(rows, ctx).field("at_tz").type == pa.timestamp("us", "Europe/Paris")


def test_postgres_types_that_depend_on_values(pg_url: str, ctx: RunContext) -> None:
    """Unconstrained numeric and jsonb are inferred from the values unless declared."""
    inferred = sql_source(url=pg_url, query="select id, total, meta from kinds")
    assert inferred.peek_schema(ctx) is None
    declared = sql_source(
        url=pg_url, query="select id, total from kinds", columns={"total": "decimal(20,6)"}
    )
    assert peek_equals_read(declared, ctx) == pa.schema(
        [("id", pa.int64()), ("total", pa.decimal128(20, 6))]
    )


def test_postgres_peek_evaluates_no_row(pg_url: str, ctx: RunContext) -> None:
    source = sql_source(url=pg_url, query="select id, 1 / (id - id) as boom from kinds")
    assert source.peek_schema(ctx) == pa.schema([("id", pa.int64()), ("boom", pa.int64())])
    with pytest.raises(DataError, match="division by zero"):
        list(source.read(ctx))


def test_postgres_errors_are_those_of_read(pg_url: str, ctx: RunContext) -> None:
    bad = same_error(sql_source(url=pg_url, query="select nope from kinds"), ctx, ConfigError)
    assert 'column "nope" does not exist' in bad.message
    missing = pg_url.rsplit("/", 1)[0] + "/tidegate_no_such_db"
    gone = same_error(sql_source(url=missing, query="select 1"), ctx, DependencyError)
    assert "tidegate_no_such_db" in gone.message


# -- rest --------------------------------------------------------------------------------------


def test_rest_schema_is_unknown_without_a_request(ctx: RunContext) -> None:
    """Nothing listens on port 1: a request would fail, so None proves none was sent."""
    source = RestSource(
        RestSettings(url="http://127.0.0.1:1/items", columns={"id": "int64", "name": "string"})
    )
    assert isinstance(source, SchemaPeeked)
    assert source.peek_schema(ctx) is None
