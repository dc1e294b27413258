"""A load retried in the same run after a retryable fault: every destination, every mode.

The runner rolls the failed attempt back and starts the destination again, continuing after
its own last checkpoint. Whatever the attempt created in its open transaction (the replace
staging table, the table itself, a column added by schema evolution) is gone after the
rollback, so the destination must read what exists again rather than trust what it made.
Each scenario checks the run's outcome and the data: every source row exactly once (count,
distinct ids, sum of ids), a replaced table's previous rows gone, no staging table left, and
for replace that readers saw the previous contents until the swap and that a run whose
retries run out leaves them untouched.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.chaos.test_resilience import events, tidegate
from tidegate.app.bootstrap import run_pipeline
from tidegate.events import BatchCommitted, RetryAttempted
from tidegate.testing import RecordingListener

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.chaos.harness import Target
    from tidegate.core import RunResult
    from tidegate.events import Event

ROWS = 3000  # ids 1..3000, in ~8 batches of 4 KiB
OLD = (50, 50, sum(range(100_001, 100_051)))  # what the table held before: ids 100001..100050
NEW = (ROWS, ROWS, ROWS * (ROWS + 1) // 2)
Loaded = tuple[int, int, int]


def write_sources(folder: Path) -> None:
    """``rows.csv`` (the load) and ``old.csv`` (the previous contents it replaces)."""
    for name, ids in (("rows.csv", range(1, ROWS + 1)), ("old.csv", range(100_001, 100_051))):
        lines = ["id,name", *(f"{i},name {i}" for i in ids)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_pipeline(folder: Path, destination: str, *, steps: str = "") -> None:
    (folder / "pipeline.yaml").write_text(
        "name: replaced\n"
        "batch_rows: 0  # keep the 4 KiB blocks: several batches, several commits\n"
        "source: {type: csv, path: rows.csv, block_size: 4096}\n"
        f"{steps}"
        "resilience:\n"
        "  retry:\n"
        "    commit: {attempts: 3, initial_delay: 0.01, max_delay: 0.02}\n"
        "    source: {attempts: 3, initial_delay: 0.01, max_delay: 0.02}\n"
        f"destination:\n{destination}",
        encoding="utf-8",
    )


def files_destination() -> str:
    return "  type: files\n  path: out.parquet\n"


def loaded(target: Target | None, folder: Path, table: str) -> Loaded:
    """``(count, distinct ids, sum of ids)`` of the table, or of the output file."""
    if target is None:
        ids = pq.read_table(folder / "out.parquet", columns=["id"]).column("id")
        return (len(ids), len(pc.unique(ids)), int(pc.sum(ids).as_py() or 0))
    (found,) = target.query(folder, f"SELECT count(*), count(DISTINCT id), sum(id) FROM {table}")
    return (int(found[0]), int(found[1]), int(found[2] or 0))


def leftovers(target: Target | None, folder: Path, table: str) -> list[str]:
    """The staging table or temp files of ``table`` that a finished run must not leave."""
    if target is None:
        return sorted(path.name for path in folder.glob(f".{table}.*"))
    with target.connect(folder) as con:
        return sorted(name for name in target.tables(con) if name == f"_tidegate_staging_{table}")


class ReadsOnCommit(RecordingListener):
    """Records the run's events and, given ``read``, reads the target on its own connection
    after every commit, as another client would meanwhile."""

    def __init__(self, read: Callable[[], Loaded] | None = None) -> None:
        super().__init__()
        self.read = read
        self.seen: list[Loaded] = []

    def handle(self, event: Event) -> None:
        super().handle(event)
        if self.read is not None and isinstance(event, BatchCommitted):
            self.seen.append(self.read())


def run(
    folder: Path, *inject: str, old: bool = False, listener: RecordingListener | None = None
) -> RunResult:
    return run_pipeline(
        folder / "pipeline.yaml",
        overrides=["source.path=old.csv"] if old else [],
        listeners=[listener] if listener is not None else [],
        log_level="error",
        inject=inject,
    )


def setup(
    kind: str, folder: Path, make_target: Callable[[str], Target], **settings: object
) -> tuple[Target | None, str]:
    """Write the sources and the pipeline; return the read-back target and the table name."""
    write_sources(folder)
    if kind == "files":
        write_pipeline(folder, files_destination())
        return None, "out.parquet"
    target = make_target(kind)
    table = "t_" + uuid.uuid4().hex[:8]  # the postgres database is shared by the module
    write_pipeline(folder, target.destination(folder, table, **settings))
    return target, table


REPLACE_CASES = [
    *(
        pytest.param(
            kind, fault, {"commit_min_rows": 1} if kind == "duckdb" else {}, id=f"{kind}-{fault}"
        )
        for kind in ("duckdb", "sqlite", "postgres")
        for fault in (
            "before_commit:raise:transient@1",
            "before_commit:raise:transient@3",
            "mid_batch:raise:transient@3",
            "after_commit:raise:transient@1",
            "after_commit:raise:transient@3",
        )
    ),
    # DuckDB's default commit_min_rows defers every commit to the end: the staging table is
    # only ever in the open transaction (the configuration the fault was first seen with)
    *(
        pytest.param("duckdb", fault, {}, id=f"duckdb-deferred-{fault}")
        for fault in ("before_commit:raise:transient@1", "mid_batch:raise:transient@3")
    ),
    # a file is written whole at the end: no commit per batch, so no after_commit point
    *(
        pytest.param("files", fault, {}, id=f"files-{fault}")
        for fault in (
            "before_commit:raise:transient@1",
            "before_commit:raise:transient@3",
            "mid_batch:raise:transient@3",
        )
    ),
]


@pytest.mark.parametrize(("kind", "fault", "settings"), REPLACE_CASES)
def test_a_retried_replace_loads_every_row_once_and_swaps_atomically(
    tmp_path: Path,
    make_target: Callable[[str], Target],
    kind: str,
    fault: str,
    settings: dict[str, object],
) -> None:
    target, table = setup(kind, tmp_path, make_target, mode="replace", **settings)
    assert run(tmp_path, old=True).ok
    assert loaded(target, tmp_path, table) == OLD
    # DuckDB locks its file to the writing process: only the others can be read meanwhile
    reader = target is not None and target.kind != "duckdb"
    listener = ReadsOnCommit((lambda: loaded(target, tmp_path, table)) if reader else None)
    result = run(tmp_path, fault + "x1", listener=listener)
    assert result.ok, result.error
    assert len(listener.of(RetryAttempted)) == 1
    if reader:
        assert listener.seen, "no commit was observed during the load"
        assert set(listener.seen) == {OLD}  # the previous table, whole, until the swap
    assert loaded(target, tmp_path, table) == NEW
    assert leftovers(target, tmp_path, table) == []


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "postgres", "files"])
def test_a_replace_whose_retries_run_out_leaves_the_previous_contents(
    tmp_path: Path, make_target: Callable[[str], Target], kind: str
) -> None:
    target, table = setup(kind, tmp_path, make_target, mode="replace")
    assert run(tmp_path, old=True).ok
    result = run(tmp_path, "before_commit:raise:transient@3")  # every attempt fails
    assert not result.ok
    assert result.error is not None
    assert str(result.error.kind) == "transient"
    assert "fault injected" in str(result.error)
    assert loaded(target, tmp_path, table) == OLD


@pytest.mark.parametrize("mode", ["append", "merge"])
@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "postgres"])
@pytest.mark.parametrize(
    "fault", ["before_commit:raise:transient@1", "mid_batch:raise:transient@3"]
)
def test_a_retried_append_or_merge_adds_every_row_once(
    tmp_path: Path, make_target: Callable[[str], Target], kind: str, mode: str, fault: str
) -> None:
    key = {"key": "[id]"} if mode == "merge" else {}
    target, table = setup(kind, tmp_path, make_target, mode=mode, **key)
    assert run(tmp_path, old=True).ok
    listener = ReadsOnCommit()
    result = run(tmp_path, fault + "x1", listener=listener)
    assert result.ok, result.error
    assert len(listener.of(RetryAttempted)) == 1
    assert loaded(target, tmp_path, table) == (
        OLD[0] + NEW[0],
        OLD[1] + NEW[1],
        OLD[2] + NEW[2],
    )


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "postgres"])
def test_a_retry_after_a_commit_that_staged_nothing_stages_again(
    tmp_path: Path, make_target: Callable[[str], Target], kind: str
) -> None:
    """The first batch is filtered out whole: batch 1 commits a checkpoint but no staging
    table, batch 2 creates it and fails; the retry continues after batch 1 with none.

    DuckDB commits a batch without rows only with ``commit_min_rows: 0``.
    """
    settings = {"commit_min_rows": 0} if kind == "duckdb" else {}
    target, table = setup(kind, tmp_path, make_target, mode="replace", **settings)
    assert target is not None
    assert run(tmp_path, old=True).ok
    write_pipeline(
        tmp_path,
        target.destination(tmp_path, table, mode="replace", **settings),
        steps='steps:\n  - {type: sql, name: late, query: "SELECT * FROM input WHERE id > 600"}\n',
    )
    listener = ReadsOnCommit()
    result = run(tmp_path, "before_commit:raise:transient@2x1", listener=listener)
    assert result.ok, result.error
    assert [event.batch for event in listener.of(BatchCommitted)][:1] == [1]
    assert len(listener.of(RetryAttempted)) == 1
    assert loaded(target, tmp_path, table) == (
        ROWS - 600,
        ROWS - 600,
        NEW[2] - 600 * 601 // 2,
    )
    assert leftovers(target, tmp_path, table) == []


@pytest.mark.parametrize("kind", ["duckdb", "sqlite", "postgres"])
def test_a_column_added_by_a_rolled_back_attempt_is_added_again(
    tmp_path: Path, make_target: Callable[[str], Target], kind: str
) -> None:
    """schema_evolution: add_columns in the failed attempt is undone by its rollback."""
    target, table = setup(
        kind, tmp_path, make_target, mode="append", schema_evolution="add_columns"
    )
    (tmp_path / "old.csv").write_text("id\n100001\n100002\n", encoding="utf-8")  # no name
    assert run(tmp_path, old=True).ok
    listener = ReadsOnCommit()
    result = run(tmp_path, "before_commit:raise:transient@1x1", listener=listener)
    assert result.ok, result.error
    assert len(listener.of(RetryAttempted)) == 1
    assert target is not None
    (found,) = target.query(tmp_path, f"SELECT count(*), count(name) FROM {table}")
    assert tuple(found) == (ROWS + 2, ROWS)


def test_the_cli_run_with_a_transient_fault_before_the_first_commit_replaces(
    tmp_path: Path,
) -> None:
    """As reported: ``tidegate run --inject before_commit:raise:transient@1x1`` on DuckDB."""
    write_sources(tmp_path)
    write_pipeline(
        tmp_path, "  type: duckdb\n  path: out.duckdb\n  table: orders\n  mode: replace\n"
    )
    first = tidegate(tmp_path, "run", "pipeline.yaml", "--set", "source.path=old.csv")
    assert first.returncode == 0, first.stderr[-2000:]
    done = tidegate(
        tmp_path, "run", "pipeline.yaml", "--inject", "before_commit:raise:transient@1x1"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "does not exist" not in done.stderr
    assert [e["attempt"] for e in events(done, "retry_attempted")] == [1]
    import duckdb  # noqa: PLC0415 - as the harness does: only the DuckDB read-back needs it

    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        found = con.execute("SELECT count(*), count(DISTINCT id), sum(id) FROM orders").fetchone()
        staging = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_tidegate_staging%'"
        ).fetchone()
    assert found is not None
    assert tuple(found) == NEW
    assert staging == (0,)
