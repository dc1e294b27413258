"""The chaos servers themselves: the HTTP fault server misbehaves as planned, the TCP proxy
carries real PostgreSQL traffic and breaks it on command."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from tests.chaos.servers import (
    FaultServer,
    TcpProxy,
    rate_limited,
    reset,
    slow,
    storm,
    truncated,
    unauthorized,
)
from tidegate.app.bootstrap import build, load
from tidegate.core import RunContext, Runner, new_run_id
from tidegate.errors import DependencyError, TransientError
from tidegate.events import EventBus
from tidegate.resilience.faults import FaultInjector, parse_inject
from tidegate.sources.rest import RestSettings, RestSource
from tidegate.spec.resilience import FaultsSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def read_rest(tmp_path: Path, **settings: Any) -> list[int]:
    """The ids the real REST source reads (no retry policy: one try per call)."""
    ctx = RunContext(run_id=new_run_id(), pipeline="p", bus=EventBus(), base_dir=tmp_path)
    source = RestSource(RestSettings(**settings))
    return [i for item in source.read(ctx) for i in item.batch.column("id").to_pylist()]


# -- the HTTP fault server --------------------------------------------------------------------


@pytest.mark.parametrize(
    "pagination",
    [
        {"pagination": "page", "page_size": 10},
        {"pagination": "offset", "page_size": 7, "total_path": "total"},
        {"pagination": "cursor", "cursor_path": "next_cursor"},
    ],
)
def test_the_rest_source_pages_through_it(
    server: FaultServer, tmp_path: Path, pagination: dict[str, Any]
) -> None:
    got = read_rest(tmp_path, url=server.url, records_path="items", **pagination)
    assert got == list(range(1, 26))
    assert len(server.requests) >= 3


def test_a_503_storm_then_ok(server: FaultServer, tmp_path: Path) -> None:
    server.plan(storm(3))
    with httpx.Client() as client:
        codes = [client.get(server.url, params={"page": 1}).status_code for _ in range(4)]
    assert codes == [503, 503, 503, 200]
    server.plan(storm(1))
    with pytest.raises(TransientError):
        read_rest(tmp_path, url=server.url, records_path="items", pagination="page")


def test_429_carries_retry_after_and_401(server: FaultServer) -> None:
    server.plan(rate_limited(2), rate_limited("Wed, 21 Oct 2015 07:28:00 GMT"), unauthorized())
    with httpx.Client() as client:
        first, second, third = (client.get(server.url) for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert second.headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert third.status_code == 401
    assert "WWW-Authenticate" in third.headers


def test_slow_answers_and_request_times(server: FaultServer) -> None:
    server.plan(slow(0.4))
    with httpx.Client() as client:
        began = time.monotonic()
        assert client.get(server.url).status_code == 200
        took = time.monotonic() - began
        time.sleep(0.25)
        client.get(server.url)
    assert took >= 0.4
    assert len(server.gaps()) == 1
    assert server.gaps()[0] >= 0.6  # the 0.4 s answer, then the 0.25 s pause


def test_reset_really_resets(server: FaultServer) -> None:
    server.plan(reset(), reset())
    host, port = server.url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            raw.recv(1024)
    with httpx.Client() as client, pytest.raises(httpx.TransportError):
        client.get(server.url)


def test_truncated_json(server: FaultServer) -> None:
    server.plan(truncated(), truncated(declare_full=True))
    with httpx.Client() as client:
        cut = client.get(server.url)
        assert cut.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(cut.content)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(server.url)


# -- the TCP proxy ----------------------------------------------------------------------------


DIRECT = "postgresql://postgres@127.0.0.1:5432/postgres"


def via(proxy: TcpProxy) -> str:
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"


def backend_ends(pid: int, within: float = 10) -> bool:
    """Whether the server's backend ``pid`` goes away within ``within`` seconds."""
    deadline = time.monotonic() + within
    with psycopg.connect(DIRECT, autocommit=True, connect_timeout=10) as con:
        while time.monotonic() < deadline:
            found = con.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if found.fetchone() is None:
                return True
            time.sleep(0.05)
    return False


def test_proxy_carries_real_queries() -> None:
    with TcpProxy() as proxy, psycopg.connect(via(proxy), connect_timeout=10) as con:
        assert con.execute("SELECT 1").fetchone() == (1,)
        total = con.execute("SELECT sum(length(repeat('x', g))) FROM generate_series(1, 2000) g")
        assert total.fetchone() == (2001000,)
        rows = con.execute("SELECT repeat('y', 1000) FROM generate_series(1, 500)").fetchall()
        assert len(rows) == 500
        assert proxy.live == 1


def test_drop_fails_a_live_connection_and_the_next_one_works() -> None:
    with TcpProxy() as proxy:
        con = psycopg.connect(via(proxy), connect_timeout=10)
        try:
            assert con.execute("SELECT 1").fetchone() == (1,)
            backend = con.info.backend_pid
            assert proxy.drop() == 1
            with pytest.raises(psycopg.OperationalError):
                con.execute("SELECT 1")
            assert backend_ends(backend), "the server kept the dropped client's backend"
        finally:
            con.close()
        with psycopg.connect(via(proxy), connect_timeout=10) as again:
            assert again.execute("SELECT 2").fetchone() == (2,)


def test_stall_holds_traffic_then_lets_it_through() -> None:
    with TcpProxy() as proxy, psycopg.connect(via(proxy), connect_timeout=10) as con:
        proxy.stall(0.8)
        began = time.monotonic()
        assert con.execute("SELECT 1").fetchone() == (1,)
        assert time.monotonic() - began >= 0.7


def test_refuse_new_connections_then_accept_again() -> None:
    with TcpProxy() as proxy:
        proxy.refuse()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(via(proxy), connect_timeout=5)
        proxy.refuse(False)
        with psycopg.connect(via(proxy), connect_timeout=5) as con:
            assert con.execute("SELECT 1").fetchone() == (1,)
        assert proxy.accepted == 2


def test_a_load_through_the_proxy_fails_cleanly_when_it_drops_mid_load(
    tmp_path: Path, postgres_database: Callable[[str], AbstractContextManager[str]]
) -> None:
    (tmp_path / "rows.csv").write_text(
        "id,name\n" + "".join(f"{i},name-{i:06d}\n" for i in range(2_000))
    )
    with postgres_database("tidegate_proxy_") as url, TcpProxy() as proxy:
        proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        (tmp_path / "pipeline.yaml").write_text(
            "name: proxied\nbatch_rows: 0\n"
            "source:\n  type: csv\n  path: rows.csv\n  block_size: 1024\n"
            f"destination:\n  type: postgres\n  url: {proxied}\n  table: t\n"
        )
        built = build(load(tmp_path / "pipeline.yaml"))
        faults = FaultsSpec(inject=parse_inject(["mid_batch:drop_connection@4"]))
        context = RunContext(
            run_id=new_run_id(),
            pipeline="proxied",
            bus=EventBus(),
            base_dir=tmp_path,
            faults=FaultInjector(faults, drop_connection=lambda: cut(proxy)),
        )
        result = Runner(
            source=built.source,
            steps=built.steps,
            destination=built.destination,
            context=context,
            min_batch_rows=0,
        ).run()
        assert isinstance(result.error, DependencyError)
        assert "lost the connection" in result.error.message
        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=10) as con:
            (count,) = con.execute("SELECT count(*) FROM t").fetchone() or (None,)
            stored = con.execute("SELECT batch, rows FROM _tidegate_checkpoints ORDER BY batch")
            assert [tuple(row) for row in stored.fetchall()][-1] == (3, count)


def cut(proxy: TcpProxy) -> None:
    """Drop the proxy's connections; there must have been one (the destination's)."""
    assert proxy.drop() >= 1
