"""Dashboard overview latency with 1,000 pipelines x 100 runs in the state store.

    python bench/dashboard.py [--pipelines 1000] [--runs 100] [--clients 20] [--seconds 10]

Fills a SQLite state store (not timed) with ``--pipelines`` x ``--runs`` finished runs through
the store's own migration and tables, serves the dashboard with uvicorn on loopback in a child
process, and requests the overview (``/``) from ``--clients`` concurrent clients, each asking
again as soon as answered, for ``--seconds`` (long enough for several re-reads). Server time
is what the app reports in its ``Server-Timing`` header (from the request reaching the app to
the response starting: rendering, the history read, waiting for a worker thread); the clients'
wait adds the queue in front of the app. The dashboard serves the overview from a snapshot of
the history re-read in the background every 2 s, rendered once per snapshot; the first
request, which reads the history and renders the page itself, is reported apart as the cold
figure. The last line is JSON with ``p50_ms`` and ``p95_ms`` (server time; target: the
overview under 300 ms), the clients' ``client_p50_ms`` and ``client_p95_ms``, and ``cold_ms``.
Exit code 1 when the server p95 is above the target.
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
    parser.add_argument("--seconds", type=float, default=10.0)
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
            # the first request reads the history and renders the page: the cold figure
            first = httpx.get(base + "/", timeout=60)
            cold = float(first.headers["server-timing"].split("dur=")[1])

            # one pooled client, as a browser keeps its connection: a client per request
            # would measure its own TLS-context and connection set-up, not the dashboard
            limits = httpx.Limits(max_connections=args.clients)
            with httpx.Client(base_url=base, timeout=60, limits=limits) as client:
                deadline = time.perf_counter() + args.seconds

                def one(_: int) -> list[tuple[float, float]]:
                    times = []
                    while time.perf_counter() < deadline:
                        began = time.perf_counter()
                        response = client.get("/")
                        response.raise_for_status()
                        timing = response.headers["server-timing"].split("dur=")[1]
                        times.append(((time.perf_counter() - began) * 1000, float(timing)))
                    return times

                with ThreadPoolExecutor(max_workers=args.clients) as pool:
                    measured = [m for times in pool.map(one, range(args.clients)) for m in times]
        finally:
            server.terminate()
            server.wait(10)
    clients = sorted(total for total, _ in measured)
    servers = sorted(app for _, app in measured)
    p50, p95 = _percentiles(servers)
    c50, c95 = _percentiles(clients)
    print(
        f"overview with {args.pipelines:,} pipelines x {args.runs} runs, {args.clients} "
        f"clients, {len(measured)} requests in {args.seconds:.0f} s: server time "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms "
        f"(target under {TARGET_MS:.0f} ms); as the clients waited p50 {c50:.0f} ms, "
        f"p95 {c95:.0f} ms; the first (cold) request {cold:.0f} ms"
    )
    print(
        json.dumps(
            {
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "client_p50_ms": round(c50, 1),
                "client_p95_ms": round(c95, 1),
                "cold_ms": round(cold, 1),
                "clients": args.clients,
            }
        )
    )
    return 0 if p95 <= TARGET_MS else 1


def _percentiles(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), values[max(0, int(len(values) * 0.95) - 1)]


if __name__ == "__main__":
    sys.exit(main())
