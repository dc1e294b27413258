"""Resilience scenarios against real faults: each asserts the run's outcome AND the data.

A TCP proxy in front of PostgreSQL drops connections mid-load; an HTTP fault server answers
a REST source with 503 storms, 429 with Retry-After and 401; runs are killed at each named
fault point and resumed. Every load is checked for lost and duplicated rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import duckdb
import psycopg
import pytest

from tests.chaos.servers import FaultServer, TcpProxy, rate_limited, storm, unauthorized

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

ROWS = 20_000


def tidegate(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tidegate ARGS`` in ``folder``, JSON logs on stderr, the summary line on stdout."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE")}
    return subprocess.run(
        [sys.executable, "-m", "tidegate", *args, "--log-format", "json"],
        cwd=folder,
        capture_output=True,
        text=True,
        env=environ,
        timeout=180,
        check=False,
    )


def events(done: subprocess.CompletedProcess[str], name: str) -> list[dict[str, Any]]:
    """The log lines of event ``name``."""
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == name]


def write_orders(folder: Path) -> None:
    lines = ["id,amount"] + [f"{i},{i % 997}" for i in range(ROWS)]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


CSV_SOURCE = "source: {type: csv, path: orders.csv, block_size: 16384}\nbatch_rows: 1000\n"
FAST_RETRY = (
    "resilience:\n"
    "  retry:\n"
    "    commit: {attempts: 5, initial_delay: 0.2, max_delay: 1}\n"
    "    rest: {attempts: 3, initial_delay: 0.05, max_delay: 0.2}\n"
)


def test_a_database_connection_dropped_mid_load_is_retried_exactly_once(
    tmp_path: Path, postgres_database: Callable[[str], AbstractContextManager[str]]
) -> None:
    write_orders(tmp_path)
    with postgres_database("tidegate_chaos_drop_") as url, TcpProxy() as proxy:
        name = url.rsplit("/", 1)[1]
        proxied = f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}"
        (tmp_path / "pipeline.yaml").write_text(
            "name: orders\n"
            + CSV_SOURCE
            + FAST_RETRY
            + f"destination: {{type: postgres, url: '{proxied}', table: orders}}\n",
            encoding="utf-8",
        )
        direct = f"host=127.0.0.1 user=postgres dbname={name}"
        dropped = threading.Event()

        def drop_once_loading() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not dropped.is_set():
                try:
                    with psycopg.connect(direct, autocommit=True) as con:
                        found = con.execute(
                            "SELECT coalesce(max(batch), 0) FROM _tidegate_checkpoints"
                        ).fetchone()
                except psycopg.errors.UndefinedTable:
                    found = (0,)
                if found and found[0] >= 3:
                    proxy.drop()
                    dropped.set()
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=drop_once_loading, daemon=True)
        watcher.start()
        done = tidegate(tmp_path, "run", "pipeline.yaml")
        watcher.join(5)
        assert dropped.is_set(), "the load ended before the connection could be dropped"
        assert done.returncode == 0, done.stderr[-3000:]
        retries = events(done, "retry_attempted")
        assert retries
        assert retries[0]["operation"] == "load"
        assert retries[0]["error_kind"] in ("dependency", "transient")
        with psycopg.connect(direct) as con:
            count, distinct, total = con.execute(
                "SELECT count(*), count(DISTINCT id), sum(amount) FROM orders"
            ).fetchone() or (0, 0, 0)
    assert (count, distinct) == (ROWS, ROWS)  # nothing lost, nothing twice
    assert total == sum(i % 997 for i in range(ROWS))


def rest_pipeline(folder: Path, url: str, breaker: str = "") -> None:
    (folder / "pipeline.yaml").write_text(
        "name: items\n"
        f"source: {{type: rest, url: '{url}', records_path: items, pagination: page,"
        " page_size: 10}\n"
        + FAST_RETRY
        + (f"  breaker: {breaker}\n" if breaker else "")
        + "destination: {type: duckdb, path: out.duckdb, table: items, mode: replace}\n",
        encoding="utf-8",
    )


def loaded(folder: Path) -> list[tuple[int, ...]]:
    with duckdb.connect(str(folder / "out.duckdb"), read_only=True) as con:
        return con.execute("SELECT id FROM items ORDER BY id").fetchall()


def test_a_503_storm_opens_the_breaker_fails_fast_next_time_and_recovers(tmp_path: Path) -> None:
    with FaultServer() as server:
        rest_pipeline(
            tmp_path,
            server.url,
            "{window: 4, min_calls: 3, failure_rate: 0.5, cool_down: 2}",
        )
        server.plan(storm(3))  # as many 503s as the first run tries; then the API is fine
        first = tidegate(tmp_path, "run", "pipeline.yaml")
        assert first.returncode == 1
        assert [e["state"] for e in events(first, "breaker_changed")] == ["open"]
        calls = len(server.requests)
        assert calls == 3  # three tries, then the breaker is open

        second = tidegate(tmp_path, "run", "pipeline.yaml")
        assert second.returncode == 1
        assert "has been failing since" in second.stderr
        assert "next probe at" in second.stderr
        assert len(server.requests) == calls  # failed fast: the API was not called

        time.sleep(2.2)  # the cool-down passes
        third = tidegate(tmp_path, "run", "pipeline.yaml")
        assert third.returncode == 0, third.stderr[-2000:]
        states = [e["state"] for e in events(third, "breaker_changed")]
        assert states == ["half_open", "closed"]
    assert loaded(tmp_path) == [(i,) for i in range(1, 26)]


def test_429_with_retry_after_waits_as_told(tmp_path: Path) -> None:
    with FaultServer() as server:
        rest_pipeline(tmp_path, server.url)
        server.plan(rate_limited(1))
        done = tidegate(tmp_path, "run", "pipeline.yaml")
        assert done.returncode == 0, done.stderr[-2000:]
        assert server.gaps()[0] >= 1.0  # the API said one second; jitter alone is < 0.05 s
        retry = events(done, "retry_attempted")[0]
        assert (retry["operation"], retry["error_kind"]) == ("rest", "transient")
        assert retry["delay"] >= 1.0
    assert loaded(tmp_path) == [(i,) for i in range(1, 26)]


def test_a_permanent_401_is_not_retried_and_says_why(tmp_path: Path) -> None:
    with FaultServer() as server:
        rest_pipeline(tmp_path, server.url)
        server.plan(unauthorized(), unauthorized(), unauthorized())
        done = tidegate(tmp_path, "run", "pipeline.yaml")
        assert done.returncode == 2
        assert len(server.requests) == 1  # no retry
        assert "401" in done.stderr
        assert "auth_token" in done.stderr
        assert events(done, "retry_attempted") == []
    assert (
        not (tmp_path / "out.duckdb").exists()
        or not duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True)
        .execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'items'")
        .fetchone()[0]
    )


@pytest.mark.parametrize("point", ["mid_batch", "before_commit", "after_commit"])
def test_a_kill_at_each_named_point_then_resume_loads_exactly_once(
    tmp_path: Path, point: str
) -> None:
    write_orders(tmp_path)
    (tmp_path / "pipeline.yaml").write_text(
        "name: orders\n"
        + CSV_SOURCE
        + "destination: {type: duckdb, path: out.duckdb, table: orders, commit_min_rows: 1}\n",
        encoding="utf-8",
    )
    killed = tidegate(tmp_path, "run", "pipeline.yaml", "--inject", f"{point}:kill@4")
    assert killed.returncode == -9  # SIGKILL at the named point
    refused = tidegate(tmp_path, "run", "pipeline.yaml")
    assert refused.returncode == 2  # a plain run will not start over an unfinished one
    resumed = tidegate(tmp_path, "run", "pipeline.yaml", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        count, distinct, total = con.execute(
            "SELECT count(*), count(DISTINCT id), sum(amount) FROM orders"
        ).fetchone() or (0, 0, 0)
    assert (count, distinct) == (ROWS, ROWS)
    assert total == sum(i % 997 for i in range(ROWS))
