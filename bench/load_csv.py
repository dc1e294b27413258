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
a table and ends with one JSON line for machines. That machinery, shared with
``load_postgres.py``, lives in ``_harness.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _harness
from _harness import Measure

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
    with _harness.work_folder(keep=args.keep) as folder:
        _bench(folder, rows=args.rows, repeat=args.repeat, mode=args.mode, seed=args.seed)
    if args.keep:
        print("kept", folder, file=sys.stderr)
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
    size_mb = _harness.generated(csv, rows=rows, since=began)

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
        _harness.fail(f"tidegate reported {tide.rows:,} rows written, expected {rows:,}")
    for db, who in ((native_db, "duckdb"), (tidegate_db, "tidegate")):
        found = _measure("count", csv=csv, db=db).rows
        if found != rows:
            _harness.fail(f"{who}: table {TABLE} in {db} holds {found:,} rows, expected {rows:,}")

    _harness.print_report(
        f"CSV -> DuckDB, {rows:,} rows, {size_mb:,.1f} MB, best of {repeat}, mode {mode}",
        rows=rows,
        native=duck,
        tidegate=tide,
        idle=idle,
        native_label="duckdb",
        native_key="duckdb",
        as_fast_as="native",
    )


def _best(repeat: int, kind: str, *, csv: Path, db: Path) -> Measure:
    """Fastest of ``repeat`` runs, each on a fresh database file; RSS is the worst seen."""
    runs = []
    for _ in range(repeat):
        for stale in (db, db.with_name(db.name + ".wal")):
            stale.unlink(missing_ok=True)
        runs.append(_measure(kind, csv=csv, db=db))
    return _harness.best(runs)


def _measure(kind: str, *, csv: Path, db: Path, rows: int = 0, seed: int = 0) -> Measure:
    """Run this script as a ``kind`` child in the bench folder (see ``_harness.run_child``)."""
    args = ["--csv", str(csv), "--db", str(db), "--rows", str(rows), "--seed", str(seed)]
    return _harness.run_child(__file__, kind, args, cwd=db.parent)


def _child(kind: str, *, csv: Path, db: Path, rows: int, seed: int) -> int:
    """The work of one child; libraries load before the clock starts, the same for each."""
    if kind == "generate":
        return _harness.generate_child(csv, rows=rows, seed=seed)
    import duckdb  # noqa: PLC0415
    import pyarrow.csv  # noqa: F401, PLC0415 - same footprint for every measured child

    import tidegate  # noqa: PLC0415

    began = time.perf_counter()
    if kind == "duckdb":
        with duckdb.connect(str(db)) as con:
            path = str(csv).replace("'", "''")
            con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM read_csv('{path}')")
        return _harness.report(time.perf_counter() - began, -1)  # the count child checks the rows
    if kind == "tidegate":
        result = tidegate.run(csv, raise_on_error=False)
        seconds = time.perf_counter() - began
        if not result.ok:
            print(result.error, file=sys.stderr)
            return 1
        return _harness.report(seconds, result.rows_written)
    if kind == "count":
        with duckdb.connect(str(db), read_only=True) as con:
            row = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        return _harness.report(0.0, row[0] if row else 0)
    return _harness.report(0.0, 0)  # idle: imports only


if __name__ == "__main__":
    raise SystemExit(main())
