"""Health checks of the sql source (real SQLite file, real PostgreSQL) and the rest source
(a real HTTP server on loopback): right verdicts, latencies, and never a password or token.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tidegate.core.health import HealthChecked
from tidegate.sources.rest import RestSettings, RestSource
from tidegate.sources.sql import SqlSettings, SqlSource

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check

SECRET = "pw-Never-Sh0wn"  # noqa: S105 - a fake password asserted never to leak
TOKEN = "tok-5e3f1a9b7c"  # noqa: S105 - a test token asserted never to leak
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def checks_of(source: HealthChecked, ctx: RunContext) -> list[Check]:
    checks = list(source.health(ctx))
    assert all(c.seconds >= 0 for c in checks)
    return checks


def summary(checks: list[Check]) -> list[tuple[str, bool]]:
    return [(c.name, c.ok) for c in checks]


# -- sql --------------------------------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER, amount REAL)")
        db.execute("INSERT INTO orders VALUES (1, 2.5)")
    db.close()
    return path


def test_sql_sqlite_healthy_plans_the_query_without_running_it(shop: Path, ctx: RunContext) -> None:
    source = SqlSource(
        SqlSettings(
            url="sqlite:///shop.db",
            query="SELECT id, amount FROM orders WHERE id > :low",
            params={"low": 0},
        )
    )
    assert isinstance(source, HealthChecked)
    checks = checks_of(source, ctx)
    assert summary(checks) == [("connect", True), ("select 1", True), ("query", True)]
    assert checks[0].detail.startswith("SQLite 3.")
    assert checks[1].detail == "ok"
    assert checks[2].detail == "the query plans (EXPLAIN QUERY PLAN; not run)"
    assert {c.component for c in checks} == {"sql:sqlite:///shop.db"}


def test_sql_sqlite_unknown_table_fails_the_query_check(shop: Path, ctx: RunContext) -> None:
    source = SqlSource(SqlSettings(url="sqlite:///shop.db", query="SELECT * FROM nope"))
    checks = checks_of(source, ctx)
    assert summary(checks) == [("connect", True), ("select 1", True), ("query", False)]
    assert checks[2].detail == "the database refused the query: no such table: nope"


def test_sql_sqlite_missing_file_fails_connect_and_creates_nothing(
    tmp_path: Path, ctx: RunContext
) -> None:
    source = SqlSource(SqlSettings(url="sqlite:///missing.db", query="SELECT 1"))
    checks = checks_of(source, ctx)
    assert summary(checks) == [("connect", False)]
    assert checks[0].detail == f"SQLite database file not found: {tmp_path / 'missing.db'}"
    assert list(tmp_path.iterdir()) == []


def test_sql_postgres_healthy_and_bad_column(ctx: RunContext) -> None:
    good = SqlSource(
        SqlSettings(
            url=PG, query="SELECT relname FROM pg_class WHERE relname = :n", params={"n": "x"}
        )
    )
    checks = checks_of(good, ctx)
    assert summary(checks) == [("connect", True), ("select 1", True), ("query", True)]
    assert checks[0].detail.startswith("PostgreSQL 15.")
    assert checks[2].detail == "the query plans (EXPLAIN; not run)"
    bad = SqlSource(SqlSettings(url=PG, query="SELECT no_such_column FROM pg_class"))
    checks = checks_of(bad, ctx)
    assert summary(checks) == [("connect", True), ("select 1", True), ("query", False)]
    assert checks[2].detail == (
        'the database refused the query: column "no_such_column" does not exist'
    )


def test_sql_unreachable_server_fails_connect_without_the_password(ctx: RunContext) -> None:
    source = SqlSource(
        SqlSettings(
            url=f"postgresql+psycopg://bob:{SECRET}@127.0.0.1:1/db",
            query="SELECT 1",
            connect_timeout=2,
        )
    )
    checks = checks_of(source, ctx)
    assert summary(checks) == [("connect", False)]
    assert checks[0].detail.startswith(
        "cannot connect to postgresql+psycopg://bob:***@127.0.0.1:1/db: "
    )
    assert SECRET not in checks[0].detail
    assert SECRET not in checks[0].component


# -- rest -------------------------------------------------------------------------------------


class Api:
    """A loopback server: /ok answers JSON, /missing 404, /boom 500 echoing the auth header,
    /html a page that is not JSON. It records every request's path, query and headers."""

    def __init__(self) -> None:
        self.base = ""
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def reply(self, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        if path == "/ok":
            return 200, "application/json", json.dumps({"items": [{"id": 1}]}).encode()
        if path == "/boom":
            echo = f"internal error for {headers.get('Authorization')}"
            return 500, "text/plain", echo.encode()
        if path == "/html":
            return 200, "text/html", b"<html>login page</html>"
        return 404, "application/json", b'{"error": "no such endpoint"}'


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = dict(self.headers)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            state.requests.append((parts.path, query, headers))
            status, kind, body = state.reply(parts.path, headers)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def rest(url: str, **settings: Any) -> RestSource:
    return RestSource(RestSettings(url=url, auth_token=TOKEN, **settings))


def test_rest_healthy_sends_one_first_page_request_with_auth(api: Api, ctx: RunContext) -> None:
    source = rest(f"{api.base}/ok", pagination="page", page_size=50, records_path="items")
    checks = checks_of(source, ctx)
    assert summary(checks) == [("request", True)]
    assert checks[0].detail.startswith("HTTP 200 in ")
    assert checks[0].detail.endswith(" ms")
    assert checks[0].component == f"rest:{api.base}/ok"
    assert len(api.requests) == 1
    path, query, headers = api.requests[0]
    assert (path, query) == ("/ok", {"page": "1", "page_size": "50"})
    assert headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/missing", "GET returned 404 Not Found for {base}/missing (page 1)"),
        ("/boom", "GET returned 500 Internal Server Error: internal error for Bearer ***"),
        ("/html", "response body is not JSON (text/html): '<html>login page</html>'"),
    ],
    ids=["404", "500 echoing the token", "not json"],
)
def test_rest_failures_are_failed_checks_without_the_token(
    api: Api, ctx: RunContext, path: str, expected: str
) -> None:
    checks = checks_of(rest(f"{api.base}{path}"), ctx)
    assert summary(checks) == [("request", False)]
    assert checks[0].detail == expected.format(base=api.base)
    assert TOKEN not in checks[0].detail
    assert api.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"


def test_rest_credentials_in_the_url_are_not_shown(api: Api, ctx: RunContext) -> None:
    host = api.base.removeprefix("http://")
    source = rest(f"http://user:{SECRET}@{host}/missing?api_key={TOKEN}")
    checks = checks_of(source, ctx)
    assert summary(checks) == [("request", False)]
    for text in (checks[0].detail, checks[0].component):
        assert SECRET not in text
        assert TOKEN not in text
    assert "api_key=***" in checks[0].detail


def test_rest_unreachable_server_fails_the_request(ctx: RunContext) -> None:
    checks = checks_of(rest("http://127.0.0.1:1/items", timeout=2), ctx)
    assert summary(checks) == [("request", False)]
    assert checks[0].detail.startswith("cannot reach the API: ")
    assert TOKEN not in checks[0].detail
