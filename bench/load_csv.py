"""CSV -> DuckDB load benchmark: Tidegate against DuckDB's own ``read_csv``.

    python bench/load_csv.py --rows 1000000 [--repeat 3] [--mode replace] [--keep]

Generates the demo ``customers.csv`` with N rows (not timed), then loads it into a fresh
DuckDB file twice, each time in a child process of its own so its peak memory can be read
from the kernel (``os.wait4`` -> ``ru_maxrss``):

  duckdb    ``CREATE TABLE t AS SELECT * FROM read_csv(...)``: the native floor.
  tidegate  ``tidegate.run(pipeline.yaml)`` with a csv source and a duckdb destination: what
            the streaming runner (Arrow batches, transactions, events) costs.

A third child only imports the libraries and exits, so the interpreter's own footprint can be
told apart from the load's. Each child times its work itself (imports excluded, the same for
both) and prints one JSON line. The parent checks that both tables hold exactly N rows, prints
a table and ends with one JSON line for machines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

MARKER = "BENCH_RESULT "
TABLE = "t"
PIPELINE = """\
name: bench_load_csv
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
  type: duckdb
  path: {db}
  table: {table}
  mode: {mode}
"""


@dataclass(frozen=True)
class Measure:
    """One child's run: the wall time it measured, the peak RSS the kernel reported, its rows."""

    seconds: float
    peak_rss_mb: float
    rows: int


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run as the parent, or as one of the children it starts."""
    parser = argparse.ArgumentParser(description="CSV -> DuckDB: Tidegate against native DuckDB")
    parser.add_argument("--rows", type=int, default=1_000_000, help="customer rows to load")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; best is kept")
    parser.add_argument("--mode", choices=["replace", "append"], default="replace")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    parser.add_argument("--keep", action="store_true", help="keep the CSV, databases and YAML")
    children = ["generate", "idle", "duckdb", "tidegate", "count"]
    parser.add_argument("--child", choices=children, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, csv=args.csv, db=args.db, rows=args.rows, seed=args.seed)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    if args.keep:
        folder = Path(tempfile.mkdtemp(prefix="tidegate-bench-"))
        _bench(folder, rows=args.rows, repeat=args.repeat, mode=args.mode, seed=args.seed)
        print("kept", folder, file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory(prefix="tidegate-bench-") as tmp:
            _bench(Path(tmp), rows=args.rows, repeat=args.repeat, mode=args.mode, seed=args.seed)
    return 0


def _bench(folder: Path, *, rows: int, repeat: int, mode: str, seed: int) -> None:
    """Generate the CSV, measure both loaders, check the tables, report.

    The parent stays small on purpose: Linux carries the RSS high-water mark of the process
    that spawns a child into that child's ``ru_maxrss``, so generating the data or importing
    DuckDB here would inflate every figure. Both happen in children.
    """
    csv = folder / "data" / "customers.csv"
    native_db, tidegate_db = folder / "native.duckdb", folder / "tidegate.duckdb"
    began = time.perf_counter()
    _measure("generate", csv=csv, db=native_db, rows=rows, seed=seed)
    size_mb = csv.stat().st_size / 2**20
    took = time.perf_counter() - began
    print(f"generated {rows:,} rows ({size_mb:,.1f} MB) in {took:.1f}s", file=sys.stderr)

    idle = _measure("idle", csv=csv, db=native_db)
    duck = _best(repeat, "duckdb", csv=csv, db=native_db)
    pipeline = folder / "pipeline.yaml"
    # JSON strings are valid YAML scalars: quoting survives any character in the temp path
    text = PIPELINE.format(
        csv=json.dumps(str(csv)), db=json.dumps(str(tidegate_db)), table=TABLE, mode=mode
    )
    pipeline.write_text(text, encoding="utf-8")
    tide = _best(repeat, "tidegate", csv=pipeline, db=tidegate_db)
    if tide.rows != rows:
        _fail(f"tidegate reported {tide.rows:,} rows written, expected {rows:,}")
    for db, who in ((native_db, "duckdb"), (tidegate_db, "tidegate")):
        found = _measure("count", csv=csv, db=db).rows
        if found != rows:
            _fail(f"{who}: table {TABLE} in {db} holds {found:,} rows, expected {rows:,}")

    duck_rate, tide_rate = rows / duck.seconds, rows / tide.seconds
    ratio = tide_rate / duck_rate
    print(f"\nCSV -> DuckDB, {rows:,} rows, {size_mb:,.1f} MB, best of {repeat}, mode {mode}")
    print(f"{'':10}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for name, m in (("duckdb", duck), ("tidegate", tide)):
        print(f"{name:10}{m.seconds:>10.2f}{rows / m.seconds:>14,.0f}{m.peak_rss_mb:>14.1f}")
    print(f"{'idle':10}{'':>10}{'':>14}{idle.peak_rss_mb:>14.1f}  (interpreter + imports only)")
    print(f"throughput ratio tidegate/duckdb: {ratio:.2f}  (1.00 = as fast as native)")
    summary = {
        "rows": rows,
        "tidegate_rows_per_s": round(tide_rate),
        "duckdb_rows_per_s": round(duck_rate),
        "ratio": round(ratio, 3),
        "tidegate_peak_rss_mb": round(tide.peak_rss_mb, 1),
        "duckdb_peak_rss_mb": round(duck.peak_rss_mb, 1),
        "tidegate_seconds": round(tide.seconds, 3),
        "duckdb_seconds": round(duck.seconds, 3),
        "idle_peak_rss_mb": round(idle.peak_rss_mb, 1),
    }
    print(json.dumps(summary), flush=True)


def _best(repeat: int, kind: str, *, csv: Path, db: Path) -> Measure:
    """Fastest of ``repeat`` runs, each on a fresh database file; RSS is the worst seen."""
    runs = []
    for _ in range(repeat):
        for stale in (db, db.with_name(db.name + ".wal")):
            stale.unlink(missing_ok=True)
        runs.append(_measure(kind, csv=csv, db=db))
    fastest = min(runs, key=lambda m: m.seconds)
    return Measure(fastest.seconds, max(m.peak_rss_mb for m in runs), fastest.rows)


def _measure(kind: str, *, csv: Path, db: Path, rows: int = 0, seed: int = 0) -> Measure:
    """Run one child, reap it with ``wait4`` for its own peak RSS, read its JSON line."""
    import subprocess  # noqa: PLC0415

    command = [sys.executable, __file__, "--child", kind, "--csv", str(csv), "--db", str(db)]
    command += ["--rows", str(rows), "--seed", str(seed)]
    with tempfile.TemporaryFile() as stderr:
        # the child works in the bench folder, so nothing it may write lands in the caller's
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=db.parent)
        output = b"" if proc.stdout is None else proc.stdout.read()
        if proc.stdout is not None:
            proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        if proc.returncode != 0:
            stderr.seek(0)
            log = stderr.read().decode(errors="replace")[-4000:]
            _fail(f"{kind} child exited with {proc.returncode}:\n{log}")
    lines = [line for line in output.decode().splitlines() if line.startswith(MARKER)]
    if not lines:
        _fail(f"{kind} child printed no result line:\n{output.decode()[-2000:]}")
    result = json.loads(lines[-1].removeprefix(MARKER))
    return Measure(result["seconds"], usage.ru_maxrss / 1024, result["rows"])  # KiB on Linux


def _child(kind: str, *, csv: Path, db: Path, rows: int, seed: int) -> int:
    """The work of one child; libraries load before the clock starts, the same for each."""
    if kind == "generate":
        from tidegate.app.demo_data import generate  # noqa: PLC0415

        generate(csv.parent, rows=rows, seed=seed)
        return _report(0.0, rows)
    import duckdb  # noqa: PLC0415
    import pyarrow.csv  # noqa: F401, PLC0415 - same footprint for every measured child

    import tidegate  # noqa: PLC0415

    began = time.perf_counter()
    if kind == "duckdb":
        with duckdb.connect(str(db)) as con:
            path = str(csv).replace("'", "''")
            con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM read_csv('{path}')")
        return _report(time.perf_counter() - began, -1)  # the count child checks the rows
    if kind == "tidegate":
        result = tidegate.run(csv, raise_on_error=False)
        seconds = time.perf_counter() - began
        if not result.ok:
            print(result.error, file=sys.stderr)
            return 1
        return _report(seconds, result.rows_written)
    if kind == "count":
        with duckdb.connect(str(db), read_only=True) as con:
            row = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        return _report(0.0, row[0] if row else 0)
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
