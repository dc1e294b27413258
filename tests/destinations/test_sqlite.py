"""The sqlite destination against real SQLite files: modes, checkpoints, lock rows, crashes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import Checkpoint
from tidegate.core.runner import Runner
from tidegate.destinations.sqlite import SqliteDestination, SqliteSettings
from tidegate.errors import ConfigError, DataError, DependencyError
from tidegate.events import EventBus
from tidegate.testing import FlakySource, MemorySource

if TYPE_CHECKING:
    from pathlib import Path

URL = "sqlite:///wh/warehouse.db"
HOSTILE = 'a"; DROP TABLE x; --'


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(run_id="t", pipeline="p", bus=EventBus(), base_dir=tmp_path)


def make(table: str = "people", **settings: Any) -> SqliteDestination:
    settings.setdefault("url", URL)
    return SqliteDestination(SqliteSettings(table=table, **settings))


def cp(batch: int, rows: int, *, run_id: str = "t", finished: bool = False) -> Checkpoint:
    return Checkpoint(
        pipeline="p",
        run_id=run_id,
        batch=batch,
        rows=rows,
        position={"rows": rows},
        finished=finished,
    )


def load(dest: SqliteDestination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
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


def sql(ctx: RunContext, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(ctx.resolve("wh/warehouse.db"))
    try:
        rows = con.execute(query, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def people(ids: list[int], names: list[str | None]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(
        {"id": pa.array(ids, pa.int64()), "name": pa.array(names, pa.string())}
    )


def rows_of(ctx: RunContext, table: str = "people") -> list[tuple[Any, ...]]:
    quoted = '"' + table.replace('"', '""') + '"'
    return sql(ctx, f"SELECT * FROM {quoted} ORDER BY 1")


def checkpoints(ctx: RunContext) -> list[tuple[Any, ...]]:
    return sql(
        ctx,
        "SELECT run_id, batch, rows, finished FROM _tidegate_checkpoints ORDER BY rowid",
    )


def test_types_and_values(ctx: RunContext) -> None:
    tz = dt.UTC
    batch = pa.RecordBatch.from_pydict(
        {
            "i64": pa.array([1, None], pa.int64()),
            "f64": pa.array([1.5, None]),
            "dec": pa.array([Decimal("12.34"), None], pa.decimal128(12, 2)),
            "flag": pa.array([True, False]),
            "txt": pa.array(["", None]),
            "blob": pa.array([b"\x00\xff", None], pa.binary()),
            "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 1, 12, tzinfo=tz), None], pa.timestamp("us", tz)),
            "naive": pa.array([dt.datetime(2024, 1, 1, 12, 30), None], pa.timestamp("us")),
        }
    )
    load(make(), ctx, batch)
    declared = {row[1]: row[2] for row in sql(ctx, "PRAGMA table_info(people)")}
    assert declared == {
        "i64": "BIGINT",
        "f64": "DOUBLE",
        "dec": "NUMERIC(12, 2)",
        "flag": "BOOLEAN",
        "txt": "TEXT",
        "blob": "BLOB",
        "day": "DATE",
        "at": "DATETIME",
        "naive": "DATETIME",
    }
    assert rows_of(ctx) == [
        (None, None, None, 0, None, None, None, None, None),
        (
            1,
            1.5,
            12.34,
            1,
            "",
            b"\x00\xff",
            "2024-02-29",
            "2024-01-01 12:00:00.000000Z",
            "2024-01-01 12:30:00.000000",
        ),
    ]


def test_append_checkpoints_and_commit_every(ctx: RunContext) -> None:
    load(make(), ctx, people([1, 2], ["a", "b"]), people([3], ["c"]))
    assert checkpoints(ctx) == [("t", 1, 2, 0), ("t", 2, 3, 0), ("t", 2, 3, 1)]
    dest = make(commit_every=2)
    other = RunContext(run_id="u", pipeline="p", bus=EventBus(), base_dir=ctx.base_dir)
    latest = dest.open(other)
    assert latest == Checkpoint(
        pipeline="p", run_id="t", batch=2, rows=3, position={"rows": 3}, finished=True
    )
    dest.start(resume=False)
    for number in (1, 2, 3):
        dest.write(people([10 + number], ["x"]), batch_number=number)
        dest.commit(cp(number, number, run_id="u"))
    dest.rollback()
    dest.close()
    assert [r[0] for r in rows_of(ctx)] == [1, 2, 3, 11, 12]
    assert checkpoints(ctx)[-1] == ("u", 2, 2, 0)
    assert sql(ctx, "SELECT count(*) FROM _tidegate_locks") == [(0,)]


def test_replace_and_resume(ctx: RunContext) -> None:
    load(make(), ctx, people([1], ["old"]))
    first = make(mode="replace")
    first.open(ctx)
    first.start(resume=False)
    first.write(people([10], ["a"]), batch_number=1)
    first.commit(cp(1, 1, run_id="u1"))
    first.rollback()
    first.close()
    assert rows_of(ctx) == [(1, "old")]
    assert rows_of(ctx, "_tidegate_staging_people") == [(10, "a")]
    second = make(mode="replace")
    latest = second.open(ctx)
    assert latest is not None
    assert latest.run_id == "u1"
    second.start(resume=True)
    second.write(people([11], ["b"]), batch_number=2)
    second.finish(cp(2, 2, run_id="u2", finished=True))
    second.close()
    assert rows_of(ctx) == [(10, "a"), (11, "b")]
    tables = {r[0] for r in sql(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"people", "_tidegate_checkpoints", "_tidegate_locks"}
    load(make(mode="replace"), ctx, people([5], ["n"]))
    assert rows_of(ctx) == [(5, "n")]


def test_merge_and_its_errors(ctx: RunContext) -> None:
    load(make(mode="merge", key=["id"]), ctx, people([1, 2], ["a", "b"]))
    load(make(mode="merge", key=["id"]), ctx, people([2, 3, 3], ["b2", "c1", "c2"]))
    assert rows_of(ctx) == [(1, "a"), (2, "b2"), (3, "c2")]
    with pytest.raises(DataError, match="key column 'id' is null"):
        load(make(mode="merge", key=["id"]), ctx, people([None], ["z"]))  # type: ignore[list-item]
    load(make("plain"), ctx, people([1], ["a"]))
    with pytest.raises(ConfigError, match="no unique constraint on the key"):
        load(make("plain", mode="merge", key=["id"]), ctx, people([1], ["b"]))
    assert rows_of(ctx, "plain") == [(1, "a")]


def test_rollback_leaves_the_file_as_it_was(ctx: RunContext) -> None:
    load(make(mode="merge", key=["id"]), ctx, people([1], ["a"]))
    before = sql(ctx, "SELECT name, sql FROM sqlite_master ORDER BY name")
    for mode in ("append", "replace", "merge"):
        dest = make(mode=mode, key=["id"] if mode == "merge" else [])
        dest.open(ctx)
        dest.start(resume=False)
        ids = [5, 6] if mode == "append" else [1, 5]
        dest.write(people(ids, ["changed", "new"]), batch_number=1)
        dest.rollback()
        dest.close()
        assert rows_of(ctx) == [(1, "a")]
    assert sql(ctx, "SELECT name, sql FROM sqlite_master ORDER BY name") == before
    assert len(checkpoints(ctx)) == 2


CRASH = """
import os, signal, pyarrow as pa
from pathlib import Path
from tidegate.core.context import RunContext
from tidegate.core.protocols import Checkpoint
from tidegate.destinations.sqlite import SqliteDestination, SqliteSettings
from tidegate.events import EventBus
ctx = RunContext(run_id="k", pipeline="p", bus=EventBus(), base_dir=Path({base!r}))
dest = SqliteDestination(SqliteSettings(url={url!r}, table="people"))
dest.open(ctx)
dest.start(resume=False)
batch = lambda i: pa.RecordBatch.from_pydict({{"id": pa.array([i], pa.int64()), "name": ["x"]}})
dest.write(batch(1), batch_number=1)
dest.commit(Checkpoint(pipeline="p", run_id="k", batch=1, rows=1, position={{"rows": 1}}))
dest.write(batch(2), batch_number=2)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_process_loses_uncommitted_rows_and_its_lock_is_taken_over(
    ctx: RunContext,
) -> None:
    script = textwrap.dedent(CRASH.format(base=str(ctx.base_dir), url=URL))
    proc = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert rows_of(ctx) == [(1, "x")]
    assert checkpoints(ctx) == [("k", 1, 1, 0)]
    assert sql(ctx, "SELECT run_id, host FROM _tidegate_locks") == [("k", socket.gethostname())]
    dest = make()
    latest = dest.open(ctx)  # the dead process's lock row is stale: taken over
    dest.close()
    assert latest is not None
    assert (latest.run_id, latest.batch, latest.rows) == ("k", 1, 1)
    assert sql(ctx, "SELECT count(*) FROM _tidegate_locks") == [(0,)]


def test_live_lock_holder_is_named(ctx: RunContext) -> None:
    holder = make()
    holder.open(ctx)
    holder.start(resume=False)
    holder.write(people([1], ["a"]), batch_number=1)  # holds SQLite's write lock too
    second = make()
    other = RunContext(run_id="u", pipeline="p", bus=EventBus(), base_dir=ctx.base_dir)
    try:
        with pytest.raises(DependencyError, match=rf"run t \(pid {os.getpid()} on host"):
            second.open(other)
    finally:
        second.close()
        holder.rollback()
        holder.close()
    sql(ctx, "INSERT INTO _tidegate_locks VALUES ('main.people', 'x', 1, 'elsewhere', 'now')")
    with pytest.raises(DependencyError, match="host elsewhere") as info:
        load(make(), other, people([1], ["a"]))
    assert "delete its row from _tidegate_locks" in str(info.value)


def test_schema_evolution(ctx: RunContext) -> None:
    load(make(), ctx, people([1], ["a"]))
    wider = pa.RecordBatch.from_pydict(
        {"id": pa.array([2], pa.int64()), "name": ["b"], "score": pa.array([9.5])}
    )
    with pytest.raises(ConfigError, match=r"column .score. of the data is not in table main\.peo"):
        load(make(), ctx, wider)
    load(make(schema_evolution="add_columns"), ctx, wider)
    assert rows_of(ctx) == [(1, "a", None), (2, "b", 9.5)]
    with pytest.raises(ConfigError, match="column 'name' is bool in the data but TEXT"):
        load(make(), ctx, pa.RecordBatch.from_pydict({"id": [3], "name": [True]}))


def test_hostile_identifiers(ctx: RunContext) -> None:
    batch = pa.RecordBatch.from_pydict(
        {HOSTILE: [1, 2], "with space": ["a", "b"], "order": ["s", "t"], "naïve é": ["x", "y"]}
    )
    load(make(HOSTILE, mode="merge", key=[HOSTILE]), ctx, batch)
    load(make(HOSTILE, mode="replace", key=[HOSTILE]), ctx, batch)  # key: UNIQUE kept
    load(make(HOSTILE, mode="merge", key=[HOSTILE]), ctx, batch)
    assert rows_of(ctx, HOSTILE) == [(1, "a", "s", "x"), (2, "b", "t", "y")]
    columns = [row[1] for row in sql(ctx, "SELECT * FROM pragma_table_info(?)", (HOSTILE,))]
    assert columns == [HOSTILE, "with space", "order", "naïve é"]


def test_wrong_url_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="needs a sqlite:/// url"):
        make(url="postgresql://u:pw@h/db")


def test_runner_resumes_exactly_once(ctx: RunContext, tmp_path: Path) -> None:
    batches = [people([n * 10 + i for i in range(10)], [f"r{n}"] * 10) for n in range(4)]

    def run(source: Any, run_id: str, on_unfinished: Any = "refuse") -> Any:
        context = RunContext(run_id=run_id, pipeline="p", bus=EventBus(), base_dir=tmp_path)
        return Runner(
            source=source,
            steps=[],
            destination=make(),
            context=context,
            on_unfinished=on_unfinished,
        ).run()

    assert not run(FlakySource(batches, fail_after=2), "01").ok
    assert len(rows_of(ctx)) == 20
    resumed = run(MemorySource(batches), "02", on_unfinished="resume")
    assert resumed.ok, resumed.error
    assert [r[0] for r in rows_of(ctx)] == sorted(n * 10 + i for n in range(4) for i in range(10))
    assert checkpoints(ctx)[-1] == ("02", 4, 40, 1)
