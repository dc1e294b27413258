"""CSV -> PostgreSQL load benchmark: Tidegate against ``psql \\copy``.

    python bench/load_postgres.py --rows 1000000 [--repeat 3] [--dsn host=127.0.0.1 user=postgres]

Generates the demo ``customers.csv`` with N rows (not timed), creates a scratch database, then
loads the file twice, each contender in a child process of its own so its peak memory can be
read from the kernel (``os.wait4`` -> ``ru_maxrss``):

  copy      ``psql -c "\\copy t_copy FROM 'customers.csv' CSV HEADER"`` into a pre-created
            table of the same shape: the native floor (the server parses the CSV itself).
  tidegate  ``tidegate.run(pipeline.yaml)`` with a csv source and a postgres destination into a
            fresh table: Arrow parses the CSV, writes it back as CSV and streams it with COPY,
            one transaction and one checkpoint row per batch.

The tidegate child times its own work (imports excluded); psql is timed by the parent around
the whole process (its start-up is a few milliseconds). The parent checks both tables hold
exactly N rows, prints a table, and ends with one JSON line: rows, tidegate_rows_per_s,
copy_rows_per_s, ratio (tidegate / copy). That machinery, shared with ``load_csv.py``, lives
in ``_harness.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import _harness
from _harness import Measure

TIDEGATE_TABLE = "t_tidegate"
COPY_TABLE = "t_copy"
PIPELINE = """\
name: bench_load_postgres
source:
  type: csv
  path: {csv}
  columns:
    customer_id: int64
    birth_date: date32
    signup_date: date32
    phone: string
    national_id: string
    card_number: string
    iban: string
    postal_code: string
destination:
  type: postgres
  url: {url}
  table: {table}
  mode: append
"""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run as the parent, or as one of the children it starts."""
    parser = argparse.ArgumentParser(description="CSV -> PostgreSQL: Tidegate against psql \\copy")
    parser.add_argument("--rows", type=int, default=1_000_000, help="customer rows to load")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; best is kept")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    parser.add_argument("--host", default="127.0.0.1", help="PostgreSQL host")
    parser.add_argument("--port", type=int, default=5432, help="PostgreSQL port")
    parser.add_argument("--user", default="postgres", help="PostgreSQL user (trust auth)")
    parser.add_argument("--keep", action="store_true", help="keep the CSV, YAML and database")
    children = ["generate", "idle", "tidegate"]
    parser.add_argument("--child", choices=children, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, csv=args.csv, rows=args.rows, seed=args.seed)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    if shutil.which("psql") is None:
        _harness.fail("psql is not on PATH; install the PostgreSQL client")
    server = Server(args.host, args.port, args.user)
    database = "tidegate_bench_" + uuid.uuid4().hex[:10]
    server.admin(f'CREATE DATABASE "{database}"')
    try:
        with _harness.work_folder(keep=args.keep) as folder:
            _bench(folder, server, database, rows=args.rows, repeat=args.repeat, seed=args.seed)
        if args.keep:
            print("kept", folder, "and database", database, file=sys.stderr)
    finally:
        if not args.keep:
            server.admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


@dataclass(frozen=True)
class Server:
    """Where PostgreSQL runs; every SQL statement goes through ``psql``."""

    host: str
    port: int
    user: str

    def psql(self, database: str, command: str) -> str:
        """Run one psql command on ``database``; its unaligned output."""
        proc = subprocess.run(
            self.command(database, command), capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            _harness.fail(f"psql {command[:60]!r} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def admin(self, sql: str) -> None:
        """Run a statement on the maintenance database."""
        self.psql("postgres", sql)

    def command(self, database: str, command: str) -> list[str]:
        """The psql command line for ``command``."""
        return [
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA",
            "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database,
            "-c", command,
        ]  # fmt: skip

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _bench(
    folder: Path, server: Server, database: str, *, rows: int, repeat: int, seed: int
) -> None:
    """Generate the CSV, measure both loaders, check the tables, report."""
    csv = folder / "data" / "customers.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    _measure("generate", csv=csv, rows=rows, seed=seed)
    size_mb = _harness.generated(csv, rows=rows, since=began)

    pipeline = folder / "pipeline.yaml"
    # JSON strings are valid YAML scalars: quoting survives any character in the temp path
    pipeline.write_text(
        PIPELINE.format(
            csv=json.dumps(str(csv)), url=json.dumps(server.url(database)), table=TIDEGATE_TABLE
        ),
        encoding="utf-8",
    )
    idle = _measure("idle", csv=csv)
    tide_runs, copy_runs = [], []
    for _ in range(repeat):
        server.psql(database, f"DROP TABLE IF EXISTS {TIDEGATE_TABLE}")
        server.psql(database, "DROP TABLE IF EXISTS _tidegate_checkpoints")
        tide = _measure("tidegate", csv=pipeline)
        if tide.rows != rows:
            _harness.fail(f"tidegate reported {tide.rows:,} rows written, expected {rows:,}")
        tide_runs.append(tide)
        # the same shape as the table tidegate created: column names and types
        server.psql(database, f"DROP TABLE IF EXISTS {COPY_TABLE}")
        server.psql(database, f"CREATE TABLE {COPY_TABLE} (LIKE {TIDEGATE_TABLE})")
        path = str(csv).replace("'", "''")
        copy_runs.append(
            _harness.run_command(
                server.command(database, f"\\copy {COPY_TABLE} FROM '{path}' CSV HEADER")
            )
        )
    tide, copy = _harness.best(tide_runs), _harness.best(copy_runs)
    for table in (TIDEGATE_TABLE, COPY_TABLE):
        found = int(server.psql(database, f"SELECT count(*) FROM {table}"))
        if found != rows:
            _harness.fail(f"table {table} holds {found:,} rows, expected {rows:,}")

    _harness.print_report(
        f"CSV -> PostgreSQL, {rows:,} rows, {size_mb:,.1f} MB, best of {repeat}",
        rows=rows,
        native=copy,
        tidegate=tide,
        idle=idle,
        native_label="psql copy",
        native_key="copy",
        as_fast_as="psql \\copy",
    )


def _measure(kind: str, *, csv: Path, rows: int = 0, seed: int = 0) -> Measure:
    """Run this script as a ``kind`` child next to ``csv`` (see ``_harness.run_child``)."""
    args = ["--csv", str(csv), "--rows", str(rows), "--seed", str(seed)]
    return _harness.run_child(__file__, kind, args, cwd=csv.parent)


def _child(kind: str, *, csv: Path, rows: int, seed: int) -> int:
    """The work of one child; libraries load before the clock starts."""
    if kind == "generate":
        return _harness.generate_child(csv, rows=rows, seed=seed)
    import psycopg  # noqa: F401, PLC0415 - same footprint for every measured child
    import pyarrow.csv  # noqa: F401, PLC0415
    import sqlalchemy  # noqa: F401, PLC0415

    import tidegate  # noqa: PLC0415

    if kind == "tidegate":
        began = time.perf_counter()
        result = tidegate.run(csv, raise_on_error=False)
        seconds = time.perf_counter() - began
        if not result.ok:
            print(result.error, file=sys.stderr)
            return 1
        return _harness.report(seconds, result.rows_written)
    return _harness.report(0.0, 0)  # idle: imports only


if __name__ == "__main__":
    raise SystemExit(main())
