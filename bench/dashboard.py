"""Dashboard overview latency with 1,000 pipelines x 100 runs in the state store.

    python bench/dashboard.py [--pipelines 1000] [--runs 100] [--clients 20] [--requests 200]

Fills a SQLite state store (not timed) with ``--pipelines`` x ``--runs`` finished runs through
the store's own migration and tables, serves the dashboard with uvicorn on loopback in a child
process, and requests the overview (``/``) from ``--clients`` concurrent clients. Server time
is what the app reports in its ``Server-Timing`` header (from the request reaching the app to
the response starting: rendering, the history read, waiting for a worker thread); the clients'
wait adds the queue in front of the app. The last line is JSON with ``p50_ms`` and ``p95_ms``
(server time; target: the overview under 300 ms) and the clients' ``client_p50_ms`` and
``client_p95_ms``. Exit code 1 when the server p50 is above the target.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from uuid6 import uuid7

from tidegate.state import StateStore
from tidegate.state.tables import RUNS

TARGET_MS = 300.0


def fill(url: str, *, pipelines: int, runs: int) -> None:
    """``pipelines`` x ``runs`` finished runs, a tenth of them failed, in one transaction."""
    store = StateStore.open(url)
    start = datetime.now(UTC) - timedelta(days=runs)
    rows = []
    for p in range(pipelines):
        for r in range(runs):
            failed = (p + r) % 10 == 0
            began = start + timedelta(days=r, minutes=p % 60)
            rows.append(
                {
                    "run_id": str(uuid7()),
                    "pipeline": f"pipeline_{p:04d}",
                    "status": "failed" if failed else "succeeded",
                    "error_kind": "data" if failed else None,
                    "started_at": began,
                    "finished_at": began + timedelta(seconds=30 + r % 7),
                    "seconds": 30.0 + r % 7,
                    "rows_read": 100_000 + r,
                    "rows_written": 0 if failed else 99_000 + r,
                    "rows_rejected": r % 50,
                    "batches": 2,
                    "quality_score": 95.0 + (r % 5),
                    "spec_hash": "0" * 64,
                    "host": "bench",
                    "user_name": "bench",
                    "version": "bench",
                }
            )
    with store.engine.begin() as connection:
        connection.execute(sa.insert(RUNS), rows)
    store.close()


def main() -> int:
    """Fill, serve, measure, report."""
    parser = argparse.ArgumentParser(description="Dashboard overview latency")
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tidegate-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'state.db'}"
        began = time.perf_counter()
        fill(url, pipelines=args.pipelines, runs=args.runs)
        print(
            f"filled {args.pipelines:,} pipelines x {args.runs} runs in "
            f"{time.perf_counter() - began:.1f}s",
            file=sys.stderr,
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "tidegate", "serve", "--state", url, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(base + "/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            httpx.get(base + "/", timeout=60)  # warm: imports, first connection

            def one(_: int) -> tuple[float, float]:
                began = time.perf_counter()
                response = httpx.get(base + "/", timeout=60)
                response.raise_for_status()
                timing = response.headers["server-timing"].split("dur=")[1]
                return (time.perf_counter() - began) * 1000, float(timing)

            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                measured = list(pool.map(one, range(args.requests)))
        finally:
            server.terminate()
            server.wait(10)
    clients = sorted(total for total, _ in measured)
    servers = sorted(app for _, app in measured)
    p50, p95 = _percentiles(servers)
    c50, c95 = _percentiles(clients)
    print(
        f"overview with {args.pipelines:,} pipelines x {args.runs} runs, {args.clients} "
        f"clients, {args.requests} requests: server time p50 {p50:.0f} ms, p95 {p95:.0f} ms "
        f"(target under {TARGET_MS:.0f} ms); as the clients waited p50 {c50:.0f} ms, "
        f"p95 {c95:.0f} ms"
    )
    print(
        json.dumps(
            {
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "client_p50_ms": round(c50, 1),
                "client_p95_ms": round(c95, 1),
                "clients": args.clients,
            }
        )
    )
    return 0 if p50 <= TARGET_MS else 1


def _percentiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), values[max(0, int(len(values) * 0.95) - 1)]


if __name__ == "__main__":
    sys.exit(main())
