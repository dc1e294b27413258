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
copy_rows_per_s, ratio (tidegate / copy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

MARKER = "BENCH_RESULT "
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


@dataclass(frozen=True)
class Measure:
    """One child's run: the wall time measured, the peak RSS the kernel reported, its rows."""

    seconds: float
    peak_rss_mb: float
    rows: int


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
        _fail("psql is not on PATH; install the PostgreSQL client")
    server = Server(args.host, args.port, args.user)
    database = "tidegate_bench_" + uuid.uuid4().hex[:10]
    server.admin(f'CREATE DATABASE "{database}"')
    try:
        if args.keep:
            folder = Path(tempfile.mkdtemp(prefix="tidegate-bench-"))
            _bench(folder, server, database, rows=args.rows, repeat=args.repeat, seed=args.seed)
            print("kept", folder, "and database", database, file=sys.stderr)
        else:
            with tempfile.TemporaryDirectory(prefix="tidegate-bench-") as tmp:
                _bench(
                    Path(tmp), server, database, rows=args.rows, repeat=args.repeat, seed=args.seed
                )
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
            _fail(f"psql {command[:60]!r} failed: {proc.stderr.strip()}")
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
    _measure(["--child", "generate"], csv=csv, rows=rows, seed=seed)
    size_mb = csv.stat().st_size / 2**20
    took = time.perf_counter() - began
    print(f"generated {rows:,} rows ({size_mb:,.1f} MB) in {took:.1f}s", file=sys.stderr)

    pipeline = folder / "pipeline.yaml"
    # JSON strings are valid YAML scalars: quoting survives any character in the temp path
    pipeline.write_text(
        PIPELINE.format(
            csv=json.dumps(str(csv)), url=json.dumps(server.url(database)), table=TIDEGATE_TABLE
        ),
        encoding="utf-8",
    )
    idle = _measure(["--child", "idle"], csv=csv)
    tide_runs, copy_runs = [], []
    for _ in range(repeat):
        server.psql(database, f"DROP TABLE IF EXISTS {TIDEGATE_TABLE}")
        server.psql(database, "DROP TABLE IF EXISTS _tidegate_checkpoints")
        tide = _measure(["--child", "tidegate"], csv=pipeline)
        if tide.rows != rows:
            _fail(f"tidegate reported {tide.rows:,} rows written, expected {rows:,}")
        tide_runs.append(tide)
        # the same shape as the table tidegate created: column names and types
        server.psql(database, f"DROP TABLE IF EXISTS {COPY_TABLE}")
        server.psql(database, f"CREATE TABLE {COPY_TABLE} (LIKE {TIDEGATE_TABLE})")
        path = str(csv).replace("'", "''")
        copy_runs.append(
            _measure_command(
                server.command(database, f"\\copy {COPY_TABLE} FROM '{path}' CSV HEADER")
            )
        )
    tide, copy = _best(tide_runs), _best(copy_runs)
    for table in (TIDEGATE_TABLE, COPY_TABLE):
        found = int(server.psql(database, f"SELECT count(*) FROM {table}"))
        if found != rows:
            _fail(f"table {table} holds {found:,} rows, expected {rows:,}")

    copy_rate, tide_rate = rows / copy.seconds, rows / tide.seconds
    ratio = tide_rate / copy_rate
    print(f"\nCSV -> PostgreSQL, {rows:,} rows, {size_mb:,.1f} MB, best of {repeat}")
    print(f"{'':10}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for name, m in (("psql copy", copy), ("tidegate", tide)):
        print(f"{name:10}{m.seconds:>10.2f}{rows / m.seconds:>14,.0f}{m.peak_rss_mb:>14.1f}")
    print(f"{'idle':10}{'':>10}{'':>14}{idle.peak_rss_mb:>14.1f}  (interpreter + imports only)")
    print(f"throughput ratio tidegate/copy: {ratio:.2f}  (1.00 = as fast as psql \\copy)")
    summary = {
        "rows": rows,
        "tidegate_rows_per_s": round(tide_rate),
        "copy_rows_per_s": round(copy_rate),
        "ratio": round(ratio, 3),
        "tidegate_peak_rss_mb": round(tide.peak_rss_mb, 1),
        "copy_peak_rss_mb": round(copy.peak_rss_mb, 1),
        "tidegate_seconds": round(tide.seconds, 3),
        "copy_seconds": round(copy.seconds, 3),
        "idle_peak_rss_mb": round(idle.peak_rss_mb, 1),
    }
    print(json.dumps(summary), flush=True)


def _best(runs: list[Measure]) -> Measure:
    """Fastest run; RSS is the worst seen."""
    fastest = min(runs, key=lambda m: m.seconds)
    return Measure(fastest.seconds, max(m.peak_rss_mb for m in runs), fastest.rows)


def _measure_command(command: list[str]) -> Measure:
    """Run a command as a child, timed from outside, peak RSS from ``wait4``."""
    with tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        if proc.returncode != 0:
            stderr.seek(0)
            _fail(f"{command[0]} exited with {proc.returncode}: {stderr.read().decode()[-2000:]}")
    return Measure(seconds, usage.ru_maxrss / 1024, -1)


def _measure(extra: list[str], *, csv: Path, rows: int = 0, seed: int = 0) -> Measure:
    """Run one Python child, reap it with ``wait4`` for its own peak RSS, read its JSON line."""
    command = [sys.executable, __file__, *extra, "--csv", str(csv)]
    command += ["--rows", str(rows), "--seed", str(seed)]
    with tempfile.TemporaryFile() as stderr:
        # the child works in the bench folder, so nothing it may write lands in the caller's
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=csv.parent)
        output = b"" if proc.stdout is None else proc.stdout.read()
        if proc.stdout is not None:
            proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        if proc.returncode != 0:
            stderr.seek(0)
            log = stderr.read().decode(errors="replace")[-4000:]
            _fail(f"{extra[-1]} child exited with {proc.returncode}:\n{log}")
    lines = [line for line in output.decode().splitlines() if line.startswith(MARKER)]
    if not lines:
        _fail(f"{extra[-1]} child printed no result line:\n{output.decode()[-2000:]}")
    result = json.loads(lines[-1].removeprefix(MARKER))
    return Measure(result["seconds"], usage.ru_maxrss / 1024, result["rows"])  # KiB on Linux


def _child(kind: str, *, csv: Path, rows: int, seed: int) -> int:
    """The work of one child; libraries load before the clock starts."""
    if kind == "generate":
        from tidegate.app.demo_data import generate  # noqa: PLC0415

        generate(csv.parent, rows=rows, seed=seed)
        return _report(0.0, rows)
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
        return _report(seconds, result.rows_written)
    return _report(0.0, 0)  # idle: imports only


def _report(seconds: float, rows: int) -> int:
    print(MARKER + json.dumps({"seconds": seconds, "rows": rows}), flush=True)
    return 0


def _fail(message: str) -> NoReturn:
    """Stop the benchmark with a message on stderr and exit code 1."""
    print("bench failed: " + message, file=sys.stderr)
    raise SystemExit(1)


if __name__ == "__main__":
    raise SystemExit(main())
