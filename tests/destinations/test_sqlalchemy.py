"""The generic sqlalchemy destination, driven against a real PostgreSQL through Core inserts.

PostgreSQL stands in for "any other database": the generic path uses none of the postgres
destination's specifics (no COPY, no advisory lock, delete+insert merge, a lock row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import Checkpoint
from tidegate.core.runner import Runner
from tidegate.destinations.sqlalchemy import SqlalchemyDestination, SqlalchemySettings
from tidegate.errors import ConfigError, DependencyError
from tidegate.events import EventBus
from tidegate.testing import FlakySource, MemorySource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

HOSTILE = 'a"; DROP TABLE x; --'


@pytest.fixture(scope="module")
def dbname(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with postgres_database("tidegate_test_sa_") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(run_id="t", pipeline="p", bus=EventBus(), base_dir=tmp_path)


@pytest.fixture
def url(dbname: str) -> str:
    return f"postgresql+psycopg://postgres:pw-never-shown@127.0.0.1:5432/{dbname}"


def sql(dbname: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else []


def make(url: str, table: str, **settings: Any) -> SqlalchemyDestination:
    return SqlalchemyDestination(SqlalchemySettings(url=url, table=table, **settings))


def cp(batch: int, rows: int, *, finished: bool = False) -> Checkpoint:
    return Checkpoint(
        pipeline="p",
        run_id="t",
        batch=batch,
        rows=rows,
        position={"rows": rows},
        finished=finished,
    )


def load(dest: SqlalchemyDestination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
    try:
        dest.open(ctx)
        dest.start(resume=False)
        rows = 0
        for number, batch in enumerate(batches, start=1):
            dest.write(batch, batch_number=number)
            rows += batch.num_rows
            dest.commit(cp(number, rows))
        dest.finish(cp(len(batches), rows, finished=True))
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def people(ids: list[int], names: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": pa.array(ids, pa.int64()), "name": pa.array(names, pa.string())}
    )


def rows_of(dbname: str, table: str) -> list[tuple[Any, ...]]:
    quoted = '"' + table.replace('"', '""') + '"'
    return sql(dbname, f"SELECT * FROM {quoted} ORDER BY 1")


def test_modes_checkpoints_and_hidden_password(url: str, dbname: str, ctx: RunContext) -> None:
    dest = make(url, "people")
    assert "pw-never-shown" not in dest.describe()
    assert dest.describe().endswith("/people")
    load(dest, ctx, people([1, 2], ["a", "b"]), people([3], ["c"]))
    load(make(url, "people", mode="merge", key=["id"]), ctx, people([2, 4, 4], ["B", "x", "D"]))
    assert rows_of(dbname, "people") == [(1, "a"), (2, "B"), (3, "c"), (4, "D")]
    load(make(url, "people", mode="replace"), ctx, people([9], ["z"]))
    assert rows_of(dbname, "people") == [(9, "z")]
    assert sql(
        dbname,
        "SELECT batch, rows, finished FROM _tidegate_checkpoints WHERE target = 'people' "
        "ORDER BY committed_at, batch",
    ) == [
        (1, 2, False),
        (2, 3, False),
        (2, 3, True),
        (1, 3, False),
        (1, 3, True),
        (1, 1, False),
        (1, 1, True),
    ]
    assert sql(dbname, "SELECT count(*) FROM _tidegate_locks") == [(0,)]


def test_rollback_lock_and_schema_clash(url: str, dbname: str, ctx: RunContext) -> None:
    load(make(url, "kept"), ctx, people([1], ["a"]))
    holder = make(url, "kept", mode="replace")
    holder.open(ctx)
    holder.start(resume=False)
    holder.write(people([7], ["n"]), batch_number=1)
    second = make(url, "kept")
    with pytest.raises(DependencyError, match="being loaded by run t"):
        second.open(ctx)
    second.close()
    holder.rollback()
    holder.close()
    assert rows_of(dbname, "kept") == [(1, "a")]
    clash = pa.RecordBatch.from_pydict({"id": pa.array([1.5]), "name": ["x"]})
    with pytest.raises(ConfigError, match="column 'id' is double in the data but BIGINT"):
        load(make(url, "kept"), ctx, clash)


def test_hostile_identifiers(url: str, dbname: str, ctx: RunContext) -> None:
    batch = pa.RecordBatch.from_pydict({HOSTILE: [1], "Mixed Case": ["a"], "from": ["b"]})
    load(make(url, HOSTILE, mode="merge", key=[HOSTILE]), ctx, batch)
    load(make(url, HOSTILE, mode="merge", key=[HOSTILE]), ctx, batch)
    assert rows_of(dbname, HOSTILE) == [(1, "a", "b")]


def test_runner_resume(url: str, dbname: str, tmp_path: Path) -> None:
    batches = [people([n * 10 + i for i in range(5)], ["r"] * 5) for n in range(3)]

    def run(source: Any, run_id: str, on_unfinished: Any = "refuse") -> Any:
        context = RunContext(run_id=run_id, pipeline="p", bus=EventBus(), base_dir=tmp_path)
        return Runner(
            source=source,
            steps=[],
            destination=make(url, "resumed"),
            context=context,
            on_unfinished=on_unfinished,
        ).run()

    assert not run(FlakySource(batches, fail_after=1), "01").ok
    assert len(rows_of(dbname, "resumed")) == 5
    assert run(MemorySource(batches), "02", on_unfinished="resume").ok
    assert [r[0] for r in rows_of(dbname, "resumed")] == [
        n * 10 + i for n in range(3) for i in range(5)
    ]
