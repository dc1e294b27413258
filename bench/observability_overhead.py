"""What observing a run costs: the same load with every observer on, against all off.

    python bench/observability_overhead.py --rows 1000000 [--repeat 3] [--seed 42] [--keep]

Generates the demo ``customers.csv`` (not timed), then runs ``tidegate run`` on one pipeline
(CSV -> a derive step -> DuckDB, replace) in child processes, alternating:

- **off**: no run history (``observability.state.enabled: false``), no exporters, logs at error;
- **on**: run history in SQLite, Prometheus to a Pushgateway-compatible receiver and a textfile,
  OpenTelemetry traces and metrics over OTLP/HTTP to a receiver, JSON logs at info into a file.

The receivers run in this process on loopback and accept everything. Two figures per child,
best of ``--repeat`` for each:

- the run's own seconds (its summary line): the data path with every listener on it, from
  ``RunStarted`` to the final commit. ``on_rows_per_s``, ``off_rows_per_s`` and ``overhead``
  (the fraction of throughput lost, 0.03 for 3 %) come from these;
- the whole process timed from outside (interpreter start, imports of the exporters, the run,
  their flush and close at exit): ``process_overhead``, the fixed cost a short run feels most.

The last line is JSON; the exit code is 1 when ``overhead`` is above the 5 % target.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _harness

TARGET = 0.05

PIPELINE = """\
name: bench_observability
source:
  type: csv
  path: {csv}
  columns: {{customer_id: int64, birth_date: date32, signup_date: date32, phone: string,
            national_id: string, card_number: string, iban: string, postal_code: string}}
steps:
  - type: derive
    columns: {{email_domain: "split_part(email, '@', 2)"}}
destination: {{type: duckdb, path: {db}, table: customers, mode: replace}}
"""

ON = """\
observability:
  prometheus: {{pushgateway: '{url}', textfile_dir: {textfiles}}}
  opentelemetry: {{otlp: {{endpoint: '{url}'}}}}
"""

OFF = """\
observability:
  state: {enabled: false}
"""


class _Sink(BaseHTTPRequestHandler):
    """Accepts any push or export and answers 200 with an empty body."""

    def _accept(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = _accept  # noqa: N815 - http.server dispatches on these names

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def main() -> int:
    """Generate, run off and on alternately, report."""
    parser = argparse.ArgumentParser(description="Observability on against off, same pipeline")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the data and outputs")
    parser.add_argument("--child", choices=["generate"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _harness.generate_child(args.csv, rows=args.rows, seed=args.seed)
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
    base = PIPELINE.format(csv=json.dumps(str(csv)), db=json.dumps(str(folder / "out.duckdb")))
    (folder / "textfiles").mkdir()
    on = folder / "on" / "pipeline.yaml"
    off = folder / "off" / "pipeline.yaml"
    for path, extra in (
        (on, ON.format(url=url, textfiles=json.dumps(str(folder / "textfiles")))),
        (off, OFF),
    ):
        path.parent.mkdir()
        path.write_text(base + extra, encoding="utf-8")
    tidegate = str(Path(sys.executable).with_name("tidegate"))
    runs: dict[str, list[float]] = {"off": [], "on": []}
    whole: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(repeat):
        for kind, path, logs in (
            ("off", off, ["--log-level", "error"]),
            ("on", on, ["--log-level", "info", "--log-format", "json"]),
        ):
            run_seconds, process_seconds = _run(
                [tidegate, "run", str(path), *logs], logs=folder / f"{kind}.log"
            )
            runs[kind].append(run_seconds)
            whole[kind].append(process_seconds)
    rates = {kind: rows / min(seconds) for kind, seconds in runs.items()}
    process_rates = {kind: rows / min(seconds) for kind, seconds in whole.items()}
    overhead = 1 - rates["on"] / rates["off"]
    process_overhead = 1 - process_rates["on"] / process_rates["off"]
    print(f"observability on against off, {rows:,} rows, best of {repeat}")
    print("         run s  rows/s (run)   process s  rows/s (process)")
    for kind in ("off", "on"):
        print(
            f"  {kind:<4}{min(runs[kind]):8.2f} {rates[kind]:12,.0f} "
            f"{min(whole[kind]):11.2f} {process_rates[kind]:14,.0f}"
        )
    print(
        f"  throughput overhead {overhead:.1%} (target at most {TARGET:.0%}); whole process, "
        f"imports and exit included: {process_overhead:.1%}"
    )
    print(
        json.dumps(
            {
                "rows": rows,
                "on_rows_per_s": round(rates["on"]),
                "off_rows_per_s": round(rates["off"]),
                "overhead": round(overhead, 4),
                "process_overhead": round(process_overhead, 4),
                "on_run_seconds": [round(s, 3) for s in runs["on"]],
                "off_run_seconds": [round(s, 3) for s in runs["off"]],
                "on_process_seconds": [round(s, 3) for s in whole["on"]],
                "off_process_seconds": [round(s, 3) for s in whole["off"]],
            }
        )
    )
    return 0 if overhead <= TARGET else 1


def _run(command: list[str], *, logs: Path) -> tuple[float, float]:
    """Run one ``tidegate run``: the run's own seconds (from its summary line) and the whole
    process's, timed from here; its logs are appended to ``logs``."""
    import subprocess  # noqa: PLC0415 - only the parent starts children

    with logs.open("ab") as log:
        began = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, check=False)
        process_seconds = time.perf_counter() - began
    if done.returncode != 0:
        _harness.fail(f"{' '.join(command)} exited with {done.returncode}; see {logs}")
    summary = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return float(summary["seconds"]), process_seconds


if __name__ == "__main__":
    sys.exit(main())
