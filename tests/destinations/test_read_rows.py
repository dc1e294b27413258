"""Reading loaded rows back (the ``RowsRead`` protocol) from every destination.

Each destination loads the same batch through its real lifecycle (DuckDB files, PostgreSQL at
127.0.0.1:5432 with one database for the module, SQLite files, CSV and Parquet files), then a
new ``open`` reads it back: every column with its Arrow type (binary stays binary), only some
columns, at most ``limit`` rows, an empty table when nothing was loaded, and a clear error for
a column the target lacks. SQL Server's SELECT is compiled through the real mssql dialect.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from tidegate.core.context import RunContext, new_run_id
from tidegate.core.protocols import Checkpoint, Destination, RowsRead
from tidegate.destinations.duckdb import DuckdbDestination, DuckdbSettings
from tidegate.destinations.files import FilesDestination, FilesSettings
from tidegate.destinations.mssql import MssqlDestination, MssqlSettings
from tidegate.destinations.postgres import PostgresDestination, PostgresSettings
from tidegate.destinations.sqlalchemy import SqlalchemyDestination, SqlalchemySettings
from tidegate.destinations.sqlite import SqliteDestination, SqliteSettings
from tidegate.errors import ConfigError
from tidegate.events import EventBus
from tidegate.testing import MemoryDestination

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

HOSTILE = 'we"ird; --'
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
BATCH = pa.record_batch(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "secret": pa.array([b"\x01\x00\xff", None, b""], pa.binary()),
        HOSTILE: pa.array(["a", None, "c"], pa.string()),
        "at": pa.array([T0, T0, None], pa.timestamp("us", tz="UTC")),
    }
)


@pytest.fixture(scope="module")
def dbname(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with postgres_database("tidegate_test_read_rows_") as url:
        yield url.rsplit("/", 1)[1]


def context(tmp_path: Path) -> RunContext:
    return RunContext(run_id=new_run_id(), pipeline="p", bus=EventBus(), base_dir=tmp_path)


def load(dest: Destination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
    dest.open(ctx)
    try:
        dest.start(resume=False)
        for number, batch in enumerate(batches, start=1):
            dest.write(batch, batch_number=number)
        dest.finish(
            Checkpoint(
                pipeline="p",
                run_id=ctx.run_id,
                batch=len(batches),
                rows=0,
                position={},
                finished=True,
            )
        )
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def read(dest: Destination, ctx: RunContext, **kwargs: Any) -> pa.Table:
    assert isinstance(dest, RowsRead)
    dest.open(ctx)
    try:
        return dest.read_rows(**kwargs)
    finally:
        dest.rollback()
        dest.close()


def _duckdb(tmp_path: Path, table: str, **settings: Any) -> Destination:
    return DuckdbDestination(DuckdbSettings(path="wh.duckdb", table=table, **settings))


def _sqlite(tmp_path: Path, table: str, **settings: Any) -> Destination:
    return SqliteDestination(SqliteSettings(url="sqlite:///wh.db", table=table, **settings))


MAKERS: dict[str, Callable[..., Destination]] = {"duckdb": _duckdb, "sqlite": _sqlite}


@pytest.fixture(params=["duckdb", "postgres", "sqlite", "sqlalchemy"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Destination]:
    """A factory of one table destination kind: ``make(table, **settings)``."""
    kind = request.param
    if kind in MAKERS:
        return lambda table, **s: MAKERS[kind](tmp_path, table, **s)
    name = request.getfixturevalue("dbname")
    if kind == "postgres":
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        return lambda table, **s: PostgresDestination(PostgresSettings(url=url, table=table, **s))
    generic = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    return lambda table, **s: SqlalchemyDestination(
        SqlalchemySettings(url=generic, table=table, **s)
    )


@pytest.fixture
def table() -> str:
    return "t_" + uuid.uuid4().hex[:10]


def test_table_destinations_read_every_column_back_with_its_type(
    make: Callable[..., Destination], table: str, tmp_path: Path
) -> None:
    load(make(table), context(tmp_path), BATCH)
    got = read(make(table), context(tmp_path))
    assert got.column_names == BATCH.schema.names
    assert got.schema.field("secret").type == pa.binary()
    by_id = {row["id"]: row for row in got.to_pylist()}
    assert by_id[1]["secret"] == b"\x01\x00\xff"
    assert by_id[2]["secret"] is None
    assert by_id[3]["secret"] == b""
    assert by_id[1][HOSTILE] == "a"
    assert by_id[2][HOSTILE] is None
    assert by_id[1]["at"] == T0


def test_table_destinations_read_some_columns_and_at_most_limit_rows(
    make: Callable[..., Destination], table: str, tmp_path: Path
) -> None:
    load(make(table), context(tmp_path), BATCH, BATCH)
    got = read(make(table), context(tmp_path), columns=["secret", "id"], limit=4)
    assert got.column_names == ["secret", "id"]
    assert got.num_rows == 4
    assert got.schema.field("secret").type == pa.binary()
    assert read(make(table), context(tmp_path), limit=0).num_rows == 0


def test_table_destinations_without_the_table_give_an_empty_table(
    make: Callable[..., Destination], table: str, tmp_path: Path
) -> None:
    assert read(make(table), context(tmp_path)).num_rows == 0
    empty = read(make(table), context(tmp_path), columns=["secret"])
    assert empty.column_names == ["secret"]
    assert empty.num_rows == 0


def test_table_destinations_name_a_missing_column_and_the_columns_there_are(
    make: Callable[..., Destination], table: str, tmp_path: Path
) -> None:
    load(make(table), context(tmp_path), BATCH)
    with pytest.raises(ConfigError, match=r"'nope' not in table .*columns: id, secret") as caught:
        read(make(table), context(tmp_path), columns=["id", "nope"])
    assert table in caught.value.message


def test_duckdb_reads_a_column_asked_for_in_another_case_under_the_name_asked(
    table: str, tmp_path: Path
) -> None:
    load(_duckdb(tmp_path, table), context(tmp_path), BATCH)
    got = read(_duckdb(tmp_path, table), context(tmp_path), columns=["ID"])
    assert got.column_names == ["ID"]
    assert sorted(got.column("ID").to_pylist()) == [1, 2, 3]


def test_duckdb_reads_a_replaced_table_not_its_staging(table: str, tmp_path: Path) -> None:
    load(_duckdb(tmp_path, table, mode="replace"), context(tmp_path), BATCH)
    load(_duckdb(tmp_path, table, mode="replace"), context(tmp_path), BATCH.slice(0, 1))
    got = read(_duckdb(tmp_path, table, mode="replace"), context(tmp_path))
    assert got.column("id").to_pylist() == [1]


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "out.csv.gz", "out.tsv"])
def test_files_read_back_their_first_rows(name: str, tmp_path: Path) -> None:
    batch = BATCH if name.endswith("parquet") else BATCH.drop_columns(["secret"])
    dest = FilesDestination(FilesSettings(path=name))
    load(dest, context(tmp_path), *(batch for _ in range(5)))
    everything = read(FilesDestination(FilesSettings(path=name)), context(tmp_path))
    assert everything.num_rows == 15
    assert everything.column_names == batch.schema.names
    assert everything.column(HOSTILE).to_pylist()[:3] == ["a", None, "c"]
    assert everything.column("at").to_pylist()[:3] == [T0, T0, None]
    some = read(
        FilesDestination(FilesSettings(path=name)), context(tmp_path), columns=["id"], limit=7
    )
    assert some.column_names == ["id"]
    assert some.column("id").to_pylist() == [1, 2, 3, 1, 2, 3, 1]


def test_parquet_output_keeps_binary_and_reads_only_the_batches_needed(tmp_path: Path) -> None:
    load(FilesDestination(FilesSettings(path="out.parquet")), context(tmp_path), BATCH)
    got = read(FilesDestination(FilesSettings(path="out.parquet")), context(tmp_path), limit=2)
    assert got.schema == pa.schema(BATCH.schema)
    assert got.column("secret").to_pylist() == [b"\x01\x00\xff", None]


def test_files_without_an_output_and_with_a_missing_column(tmp_path: Path) -> None:
    dest = FilesDestination(FilesSettings(path="out.csv"))
    empty = read(dest, context(tmp_path), columns=["id"])
    assert (empty.column_names, empty.num_rows) == (["id"], 0)
    rows = BATCH.drop_columns(["secret"]).slice(0, 1)
    load(FilesDestination(FilesSettings(path="out.csv")), context(tmp_path), rows)
    with pytest.raises(ConfigError, match=r"'nope' not in the output file \(columns: id, we"):
        read(FilesDestination(FilesSettings(path="out.csv")), context(tmp_path), columns=["nope"])


def test_a_headerless_csv_cannot_be_read_by_name(tmp_path: Path) -> None:
    settings = FilesSettings(path="out.csv", options={"header": False})
    load(FilesDestination(settings), context(tmp_path), BATCH.drop_columns(["secret"]))
    with pytest.raises(ConfigError, match="no header line") as caught:
        read(FilesDestination(settings), context(tmp_path))
    assert caught.value.hint == "set options.header: true to write the column names"


def test_memory_destination_reads_what_was_committed(tmp_path: Path) -> None:
    dest = MemoryDestination()
    assert read(dest, context(tmp_path), columns=["id"]).column_names == ["id"]
    load(dest, context(tmp_path), BATCH, BATCH)
    got = read(dest, context(tmp_path), columns=["secret"], limit=4)
    assert got.num_rows == 4
    assert got.schema.field("secret").type == pa.binary()
    with pytest.raises(ConfigError, match="nope"):
        read(dest, context(tmp_path), columns=["nope"])


def test_mssql_select_uses_top_and_quotes_every_name() -> None:
    dest = MssqlDestination(
        MssqlSettings(
            url="mssql+pyodbc://sa:Secr3t-pw@db:1433/wh?driver=ODBC+Driver+18",
            table="a]; DROP TABLE x; --",
            schema="sales ops",
        )
    )
    t = "[sales ops].[a]]; DROP TABLE x; --]"
    statement = dest.rows_select(["id", "select"], limit=20)
    text = str(statement.compile(dialect=dest.dialect, compile_kwargs={"literal_binds": True}))
    assert text == f"SELECT TOP 20 {t}.[id], {t}.[select] \nFROM {t}"
