"""What the audit trail and lineage cost a run: the 1M-row load with both on, against both off.

    python bench/audit_lineage_overhead.py --rows 1000000 [--repeat 3] [--seed 42] [--keep]

Generates the demo ``customers.csv`` (not timed), then times ``tidegate.run(pipeline.yaml)`` in
child processes, as ``bench/load_csv.py`` does (libraries loaded before the clock starts, the
same for both: here openlineage-python and sqlglot too), alternating off and on, on one
pipeline (CSV -> a derive step -> DuckDB, replace; run history in SQLite for both):

- **off**: ``audit: {enabled: false}``, no ``lineage:`` section;
- **on**: the audit trail with a chain key, a head key and a head file (the content digest of
  the CSV included), and OpenLineage events (START, RUNNING, COMPLETE with column lineage) to
  a JSONL file and over HTTP to a Marquez-compatible receiver on loopback.

The figure is the call's wall time, best of ``--repeat`` each: ``overhead`` is the fraction of
throughput lost (0.03 for 3 %), ``on_seconds`` and ``off_seconds`` every timing. Loading the
lineage libraries is a cost per process, not per run, and is reported apart: ``import_ms``,
importing openlineage-python and sqlglot in a child that has loaded tidegate (best of
``--repeat``); ``process_overhead`` adds it to the on run, the figure of a process that runs
one pipeline once (as ``tidegate run`` does). The children
check that the table holds every row and, for ``on``, that the audit chain verifies and the
lineage file holds START and COMPLETE. The last line is JSON; the exit code is 1 when
``overhead`` is above the 3 % target.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _harness

TARGET = 0.03

PIPELINE = """\
name: bench_audit_lineage
source:
  type: csv
  path: {csv}
  columns: {{customer_id: int64, birth_date: date32, signup_date: date32, phone: string,
            national_id: string, card_number: string, iban: string, postal_code: string}}
steps:
  - type: derive
    columns: {{email_domain: "split_part(email, '@', 2)"}}
destination: {{type: duckdb, path: {db}, table: customers, mode: replace}}
logging: {{level: error}}
"""

ON = """\
audit:
  key: file:{chain_key}
  head_key: file:{head_key}
  head_file: {head_file}
lineage:
  transports:
    file: {{type: file, path: {lineage}}}
    marquez: {{type: http, url: '{url}'}}
"""

OFF = """\
audit: {enabled: false}
"""


class _Sink(BaseHTTPRequestHandler):
    """Accepts every lineage event posted to it."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the bench prints its own figures."""


def main() -> int:
    """Generate, run off and on alternately, report."""
    parser = argparse.ArgumentParser(description="Audit and lineage on against off")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the data and outputs")
    parser.add_argument("--child", choices=["generate", "run", "imports"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pipeline", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        return _harness.generate_child(args.csv, rows=args.rows, seed=args.seed)
    if args.child == "run":
        return _run_child(args.pipeline, rows=args.rows)
    if args.child == "imports":
        return _imports_child()
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{sink.server_address[1]}"
    try:
        with _harness.work_folder(keep=args.keep) as folder:
            return _bench(folder, url=url, rows=args.rows, repeat=args.repeat, seed=args.seed)
    finally:
        sink.shutdown()


def _bench(folder: Path, *, url: str, rows: int, repeat: int, seed: int) -> int:
    csv = folder / "data" / "customers.csv"
    began = time.perf_counter()
    _harness.run_child(
        __file__,
        "generate",
        ["--csv", str(csv), "--rows", str(rows), "--seed", str(seed)],
        cwd=folder,
    )
    _harness.generated(csv, rows=rows, since=began)
    keys = folder / "keys"
    keys.mkdir()
    for name in ("chain", "head"):
        (keys / name).write_text(base64.b64encode(os.urandom(32)).decode(), encoding="ascii")
    pipelines = {}
    for kind, extra in (
        (
            "on",
            ON.format(
                chain_key=keys / "chain",
                head_key=keys / "head",
                head_file=json.dumps(str(folder / "on" / "heads.jsonl")),
                lineage=json.dumps(str(folder / "on" / "lineage.jsonl")),
                url=url,
            ),
        ),
        ("off", OFF),
    ):
        path = folder / kind / "pipeline.yaml"
        path.parent.mkdir()
        db = json.dumps(str(folder / kind / "out.duckdb"))
        path.write_text(PIPELINE.format(csv=json.dumps(str(csv)), db=db) + extra, "utf-8")
        pipelines[kind] = path
    seconds: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(repeat):
        for kind in ("off", "on"):
            measure = _harness.run_child(
                __file__,
                "run",
                ["--pipeline", str(pipelines[kind]), "--rows", str(rows)],
                cwd=folder,
            )
            seconds[kind].append(measure.seconds)
    imports = min(
        _harness.run_child(__file__, "imports", [], cwd=folder).seconds for _ in range(repeat)
    )
    rates = {kind: rows / min(values) for kind, values in seconds.items()}
    overhead = 1 - rates["on"] / rates["off"]
    process_overhead = 1 - (min(seconds["off"])) / (min(seconds["on"]) + imports)
    print(f"audit and lineage on against off, {rows:,} rows, best of {repeat}")
    for kind in ("off", "on"):
        print(f"  {kind:<4}{min(seconds[kind]):8.2f} s {rates[kind]:12,.0f} rows/s")
    print(f"  overhead {overhead:.1%} (target at most {TARGET:.0%})")
    print(
        f"  loading openlineage-python and sqlglot: {imports * 1000:.0f} ms once per process; "
        f"with it, a process running one pipeline once: {process_overhead:.1%}"
    )
    print(
        json.dumps(
            {
                "rows": rows,
                "on_rows_per_s": round(rates["on"]),
                "off_rows_per_s": round(rates["off"]),
                "overhead": round(overhead, 4),
                "import_ms": round(imports * 1000, 1),
                "process_overhead": round(process_overhead, 4),
                "on_seconds": [round(s, 3) for s in seconds["on"]],
                "off_seconds": [round(s, 3) for s in seconds["off"]],
            }
        )
    )
    return 0 if overhead <= TARGET else 1


def _imports_child() -> int:
    """Time loading the lineage libraries in a process that has loaded tidegate."""
    import duckdb  # noqa: F401, PLC0415
    import pyarrow.csv  # noqa: F401, PLC0415

    import tidegate  # noqa: F401, PLC0415

    began = time.perf_counter()
    import openlineage.client  # noqa: F401, PLC0415
    import sqlglot.optimizer  # noqa: F401, PLC0415

    return _harness.report(time.perf_counter() - began, 0)


def _run_child(pipeline: Path, *, rows: int) -> int:
    """Time one ``tidegate.run``; check what it wrote."""
    import duckdb  # noqa: PLC0415
    import openlineage.client  # noqa: F401, PLC0415 - libraries load before the clock
    import pyarrow.csv  # noqa: F401, PLC0415 - same footprint for every measured child
    import sqlglot.optimizer  # noqa: F401, PLC0415

    import tidegate  # noqa: PLC0415

    began = time.perf_counter()
    result = tidegate.run(pipeline, raise_on_error=False)
    seconds = time.perf_counter() - began
    if not result.ok:
        _harness.fail(f"{pipeline}: {result.error}")
    with duckdb.connect(str(pipeline.parent / "out.duckdb"), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM customers").fetchone()
    if row is None or row[0] != rows:
        _harness.fail(f"{pipeline}: {row} rows loaded, {rows} expected")
    if pipeline.parent.name == "on":
        _check_on(pipeline)
    return _harness.report(seconds, rows)


def _check_on(pipeline: Path) -> None:
    """The run's audit chain verifies and its lineage file holds START and COMPLETE."""
    import subprocess  # noqa: PLC0415 - only when checking

    tidegate = str(Path(sys.executable).with_name("tidegate"))
    done = subprocess.run(
        [tidegate, "audit", "verify", str(pipeline)], capture_output=True, check=False
    )
    if done.returncode != 0:
        _harness.fail(f"audit verify failed: {done.stdout.decode()}{done.stderr.decode()}")
    lines = (pipeline.parent / "lineage.jsonl").read_text(encoding="utf-8").splitlines()
    types = {json.loads(line)["eventType"] for line in lines}
    if not {"START", "COMPLETE"} <= types:
        _harness.fail(f"lineage events {sorted(types)}: START and COMPLETE expected")


if __name__ == "__main__":
    sys.exit(main())
