"""Machinery of the crash harness: the source data, a killable ``tidegate run``, the targets.

- ``make_source`` writes the 200k-row CSV with pyarrow and keeps, per row, ``(id, md5)`` of a
  canonical text of its columns: the multiset every destination must end up holding.
- ``Launch`` starts ``python -m tidegate run ... --log-format json --log-level debug`` and reads
  its stderr as it streams, so a trial can kill it right after a given ``batch_written`` line.
- ``Target`` is one destination kind (duckdb, sqlite, postgres): the YAML block that loads into
  it and a read-back connection to verify what it holds after the dust settles.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

ROWS = 200_000
BLOCK_SIZE = 262_144  # ~30 CSV blocks, so ~30 batches and as many commits per run

_SUFFIXES = ["", ", with a comma", ' "quoted"', " café ☕", " semi;colon", "   spaced  "]

Digests = list[tuple[int, str]]
"""``(id, md5 of the row's canonical text)`` per row, sorted."""


def digest(text: str) -> str:
    """The md5 of one row's canonical text ``id|name|amount|day``."""
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - a fingerprint, not security


def make_source(path: Path, rows: int = ROWS) -> Digests:
    """Write ``rows`` rows to the CSV at ``path``; return their digests in id order.

    Columns: ``id`` 0..rows-1, ``name`` text with commas, quotes and non-ASCII, ``amount`` a
    decimal(12,2) from -10,000.00 to 10,000.02 and ``day`` a date. The canonical text of a row
    is what each target computes in SQL: ``id|name|amount with 2 decimals|YYYY-MM-DD``.
    """
    ids = np.arange(rows, dtype=np.int64)
    id_text = pc.cast(pa.array(ids), pa.string())
    suffix = pc.take(pa.array(_SUFFIXES), pa.array(ids % len(_SUFFIXES)))
    names = pc.binary_join_element_wise("cust-", id_text, suffix, "")
    cents = (ids * 7919) % 2_000_003 - 1_000_000
    whole = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    sign = pa.array(np.where(cents < 0, "-", ""))
    amounts = pc.binary_join_element_wise(sign, whole, ".", frac, "")
    days = pa.array((18_262 + ids % 3_000).astype(np.int32)).cast(pa.date32())
    table = pa.table({"id": ids, "name": names, "amount": amounts, "day": days})
    pacsv.write_csv(table, path)
    texts = pc.binary_join_element_wise(id_text, names, amounts, pc.cast(days, pa.string()), "|")
    return [(key, digest(text)) for key, text in enumerate(texts.to_pylist())]


def pipeline_yaml(*, name: str, csv: Path, destination: str) -> str:
    """A pipeline loading ``csv`` in small blocks into ``destination`` (an indented YAML block)."""
    return f"""\
name: {name}
batch_rows: 0  # keep the small blocks: many commits, many instants to be killed at
source:
  type: csv
  path: {csv}
  block_size: {BLOCK_SIZE}
  columns:
    id: int64
    name: string
    amount: decimal(12,2)
    day: date32
destination:
{destination}
"""


@dataclass
class Outcome:
    """How one launch ended."""

    returncode: int
    stdout: str
    stderr: str
    killed: bool
    last_batch: int  # highest batch number in a batch_written line it printed
    args: tuple[str, ...]

    def describe(self) -> str:
        """A short line for the trial's history."""
        how = "killed" if self.killed else f"exit {self.returncode}"
        return f"{' '.join(self.args) or 'run'}: {how} after batch {self.last_batch}"


class Launch:
    """One ``tidegate run`` subprocess whose JSON log lines are read as they stream."""

    def __init__(self, pipeline: Path, *flags: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE")}
        self.args = flags
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tidegate", "run", pipeline.name),
                *("--log-level", "debug", "--log-format", "json", *flags),
            ],
            cwd=pipeline.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self.killed = False
        self._cond = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any] | None:
        """The first log event matching ``predicate``; None when the stream ended without one."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                if self._ended or time.monotonic() > deadline:
                    return None
                self._cond.wait(timeout=0.5)

    def wait_event(self, name: str, timeout: float = 90) -> dict[str, Any] | None:
        """The first log event called ``name``."""
        return self.wait_for(lambda event: event.get("event") == name, timeout)

    def wait_batch(self, batch: int, timeout: float = 90) -> dict[str, Any] | None:
        """The first ``batch_written`` line for batch ``batch`` or later.

        Written, not committed: destinations that defer commits (DuckDB's ``commit_min_rows``)
        log no commit per batch, and where each batch commits, its commit follows this line.
        """
        return self.wait_for(
            lambda e: e.get("event") == "batch_written" and int(e["batch"]) >= batch, timeout
        )

    @property
    def last_batch(self) -> int:
        """The highest batch number this run has said it wrote so far."""
        with self._cond:
            done = [int(e["batch"]) for e in self.events if e.get("event") == "batch_written"]
        return max(done, default=0)

    def kill(self) -> bool:
        """SIGKILL the run unless it has ended already."""
        if self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGKILL)
        self.killed = True
        return True

    def finish(self, timeout: float = 120) -> Outcome:
        """Wait for the process to end (it is killed after ``timeout``) and collect its output."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        stdout = self.proc.stdout.read()
        self.proc.stdout.close()
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return Outcome(
            returncode=self.proc.returncode,
            stdout=stdout,
            stderr="".join(self.lines),
            killed=self.killed and self.proc.returncode == -signal.SIGKILL,
            last_batch=self.last_batch,
            args=self.args,
        )


def run_to_end(pipeline: Path, *flags: str, timeout: float = 120) -> Outcome:
    """Run without killing and return how it ended."""
    return Launch(pipeline, *flags).finish(timeout=timeout)


@dataclass
class Verdict:
    """What a target holds compared with the source: empty ``problems`` means exactly equal."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the table holds each source row exactly once and nothing else."""
        return not self.problems


def compare(
    expected: Digests,
    *,
    count: int,
    duplicates: list[tuple[Any, ...]],
    digests: list[tuple[Any, ...]],
) -> Verdict:
    """Compare the read-back table with the source as multisets of ``(id, md5)``."""
    verdict = Verdict()
    if duplicates:
        verdict.problems.append(
            f"ids not present exactly once, e.g. (id, count) {[tuple(d) for d in duplicates[:8]]}"
        )
    if count != len(expected):
        verdict.problems.append(f"count(*) is {count:,}, the source has {len(expected):,}")
    actual = sorted((int(key), str(md5)) for key, md5 in digests)
    if actual != expected:
        want, got = Counter(expected), Counter(actual)
        lost = sorted((want - got).elements())
        extra = sorted((got - want).elements())
        verdict.problems.append(
            f"content differs: {len(lost)} source rows missing or changed (e.g. ids "
            f"{[k for k, _ in lost[:8]]}), {len(extra)} rows extra or changed (e.g. ids "
            f"{[k for k, _ in extra[:8]]})"
        )
    return verdict


@dataclass(frozen=True)
class Stored:
    """The latest checkpoint of a pipeline and the number of rows in its table."""

    batch: int
    rows: int
    finished: bool
    count: int

    def describe(self) -> str:
        """A short line for the trial's history."""
        state = "finished" if self.finished else "unfinished"
        return f"checkpoint batch {self.batch}, {self.rows:,} rows, {state}; table {self.count:,}"


class Target(abc.ABC):
    """A destination kind under test: how a pipeline writes to it, how the harness reads it."""

    kind = ""
    param = "?"  # DB-API parameter marker
    text = "CAST({} AS VARCHAR)"  # SQL turning a column into its canonical text
    amount_text = text

    @abc.abstractmethod
    def destination(self, folder: Path, table: str, **settings: object) -> str:
        """The indented ``destination:`` block of a pipeline in ``folder`` loading ``table``."""

    @abc.abstractmethod
    def connect(self, folder: Path) -> contextlib.AbstractContextManager[Any]:
        """A DB-API-like connection (``execute(sql, params).fetchall()``) to read back."""

    @abc.abstractmethod
    def tables(self, con: Any) -> set[str]:
        """Names of the tables in the target's default schema."""

    def exists(self, folder: Path) -> bool:
        """Whether the database exists yet (a run killed early may not have made its file)."""
        return True

    def query(self, folder: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query."""
        with self.connect(folder) as con:
            return [tuple(row) for row in con.execute(sql, params).fetchall()]

    def _row_digest(self) -> str:
        parts = " || '|' || ".join(
            (self.amount_text if column == "amount" else self.text).format(column)
            for column in ("id", "name", "amount", "day")
        )
        return f"md5({parts})"

    def _latest(self, con: Any, pipeline: str) -> tuple[Any, ...] | None:
        if "_tidegate_checkpoints" not in self.tables(con):
            return None
        row = con.execute(
            "SELECT batch, rows, finished FROM _tidegate_checkpoints WHERE pipeline = "
            f"{self.param} ORDER BY run_id DESC, batch DESC, finished DESC LIMIT 1",
            (pipeline,),
        ).fetchone()
        return tuple(row) if row else None

    def stored(self, folder: Path, table: str, *, pipeline: str) -> Stored | None:
        """The latest checkpoint of ``pipeline`` (None if none) and the table's row count."""
        if not self.exists(folder):
            return None
        with self.connect(folder) as con:
            latest = self._latest(con, pipeline)
            exists = table in self.tables(con)
            count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else 0
        if latest is None:
            return None if not count else Stored(batch=0, rows=0, finished=False, count=count)
        batch, rows, finished = latest
        return Stored(batch=int(batch), rows=int(rows), finished=bool(finished), count=int(count))

    def verify(self, folder: Path, table: str, expected: Digests, *, pipeline: str) -> Verdict:
        """Compare ``table`` with the source rows, and check the pipeline's final checkpoint."""
        with self.connect(folder) as con:
            duplicates = con.execute(
                f"SELECT id, count(*) FROM {table} GROUP BY id HAVING count(*) <> 1 "
                "ORDER BY id LIMIT 20"
            ).fetchall()
            count = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            digests = con.execute(f"SELECT id, {self._row_digest()} FROM {table}").fetchall()
            latest = self._latest(con, pipeline)
        verdict = compare(expected, count=count, duplicates=duplicates, digests=digests)
        if not latest or not latest[2] or int(latest[1]) != len(expected):
            verdict.problems.append(f"latest checkpoint (batch, rows, finished) is {latest}")
        return verdict


def _yaml(settings: dict[str, object]) -> str:
    return "".join(f"  {key}: {value}\n" for key, value in settings.items())


class DuckdbTarget(Target):
    """A DuckDB file per trial folder."""

    kind = "duckdb"

    def exists(self, folder: Path) -> bool:
        return (folder / "out.duckdb").exists()

    def destination(self, folder: Path, table: str, **settings: object) -> str:
        return _yaml({"type": "duckdb", "path": "out.duckdb", "table": table, **settings})

    @contextlib.contextmanager
    def connect(self, folder: Path) -> Iterator[Any]:
        import duckdb  # noqa: PLC0415 - heavy, only the duckdb trials need it

        con = duckdb.connect(str(folder / "out.duckdb"), read_only=True)
        try:
            yield con
        finally:
            con.close()

    def tables(self, con: Any) -> set[str]:
        return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


class SqliteTarget(Target):
    """A SQLite file per trial folder."""

    kind = "sqlite"
    text = "CAST({} AS TEXT)"
    # NUMERIC affinity stores the decimal text as REAL (or INTEGER when whole): print 2 places
    amount_text = "printf('%.2f', {})"

    def exists(self, folder: Path) -> bool:
        return (folder / "out.db").exists()

    def destination(self, folder: Path, table: str, **settings: object) -> str:
        return _yaml({"type": "sqlite", "url": "sqlite:///out.db", "table": table, **settings})

    @contextlib.contextmanager
    def connect(self, folder: Path) -> Iterator[Any]:
        con = sqlite3.connect(folder / "out.db")
        con.create_function("md5", 1, digest, deterministic=True)
        try:
            yield con
        finally:
            con.close()

    def tables(self, con: Any) -> set[str]:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        return {row[0] for row in con.execute(sql).fetchall()}


class PostgresTarget(Target):
    """One database per test module; each trial folder loads its own table."""

    kind = "postgres"
    param = "%s"
    text = "CAST({} AS text)"
    amount_text = text

    def __init__(self, url: str) -> None:
        self.url = url

    def destination(self, folder: Path, table: str, **settings: object) -> str:
        return _yaml({"type": "postgres", "url": self.url, "table": table, **settings})

    @contextlib.contextmanager
    def connect(self, folder: Path) -> Iterator[Any]:
        import psycopg  # noqa: PLC0415 - only the postgres trials need it

        with psycopg.connect(self.url, connect_timeout=10) as con:
            yield con

    def tables(self, con: Any) -> set[str]:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        return {row[0] for row in con.execute(sql).fetchall()}
