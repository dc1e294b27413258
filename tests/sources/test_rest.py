"""The rest source against a real HTTP server on loopback, one per test."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest

from tidegate.errors import ConfigError, DataError, DependencyError, TransientError
from tidegate.sources.rest import RestSettings, RestSource, safe_url

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import SourceBatch

TOKEN = "tok-9f8e7d6c5b4a"  # noqa: S105 - a test token, asserted never to leak

Reply = tuple[int, dict[str, str], Any]
Route = Callable[[dict[str, str]], Reply]

ITEMS = [{"id": i, "name": f"item {i}"} for i in range(1, 26)]


@dataclass
class Api:
    """A loopback HTTP server whose routes are plain functions of the query parameters."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            state.requests.append((parts.path, query, dict(self.headers)))
            route = state.routes.get(parts.path)
            status, headers, body = route(query) if route else (404, {}, {"error": "nope"})
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            headers = {"Content-Type": "application/json", **headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

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


def read(ctx: RunContext, **settings: Any) -> list[SourceBatch]:
    return list(RestSource(RestSettings(**settings)).read(ctx))


def ids(batches: list[SourceBatch]) -> list[int]:
    return [v for b in batches for v in b.batch.column("id").to_pylist()]


def paged(query: dict[str, str]) -> Reply:
    page, size = int(query.get("page", "1")), int(query.get("page_size", "10"))
    chunk = ITEMS[(page - 1) * size : page * size]
    return 200, {}, {"data": {"items": chunk}, "meta": {"total": len(ITEMS)}}


def test_single_request_body_is_the_list(api: Api, ctx: RunContext) -> None:
    api.routes["/all"] = lambda q: (200, {}, ITEMS[:3])
    source = RestSource(RestSettings(url=f"{api.base}/all", params={"active": "yes"}))
    assert source.describe() == f"rest:{api.base}/all"
    batches = list(source.read(ctx))
    assert ids(batches) == [1, 2, 3]
    assert api.requests[0][1] == {"active": "yes"}


def test_page_pagination_stops_on_short_page(api: Api, ctx: RunContext) -> None:
    api.routes["/items"] = paged
    batches = read(
        ctx,
        url=f"{api.base}/items",
        records_path="data.items",
        pagination="page",
        page_size=10,
        total_path="meta.total",
        batch_size=10,
    )
    assert ids(batches) == list(range(1, 26))
    assert [q["page"] for _, q, _ in api.requests] == ["1", "2", "3"]
    assert all(q["page_size"] == "10" for _, q, _ in api.requests)
    assert batches[0].position == {"page": 2, "rows": 10}
    assert batches[-1].position == {"pages": 3, "rows": 25}


def test_page_pagination_stops_on_empty_page(api: Api, ctx: RunContext) -> None:
    api.routes["/items"] = paged
    batches = read(
        ctx, url=f"{api.base}/items", records_path="data.items", pagination="page", page_size=5
    )
    assert ids(batches) == list(range(1, 26))
    assert len(api.requests) == 6  # five full pages, then the empty one ends it


def test_offset_pagination(api: Api, ctx: RunContext) -> None:
    def offsets(query: dict[str, str]) -> Reply:
        start, limit = int(query["offset"]), int(query["limit"])
        return 200, {}, {"results": ITEMS[start : start + limit]}

    api.routes["/o"] = offsets
    batches = read(
        ctx, url=f"{api.base}/o", records_path="results", pagination="offset", page_size=7
    )
    assert ids(batches) == list(range(1, 26))
    assert [q["offset"] for _, q, _ in api.requests] == ["0", "7", "14", "21"]


def test_cursor_pagination(api: Api, ctx: RunContext) -> None:
    def cursors(query: dict[str, str]) -> Reply:
        start = int(query.get("after", "0"))
        chunk = ITEMS[start : start + 10]
        following = str(start + 10) if start + 10 < len(ITEMS) else None
        return 200, {}, {"items": chunk, "paging": {"next": following}}

    api.routes["/c"] = cursors
    batches = read(
        ctx,
        url=f"{api.base}/c",
        records_path="items",
        pagination="cursor",
        cursor_param="after",
        cursor_path="paging.next",
        batch_size=1,
    )
    assert ids(batches) == list(range(1, 26))
    assert [b.position for b in batches[:2]] == [
        {"cursor": "10", "rows": 10},
        {"cursor": "20", "rows": 20},
    ]


def test_link_pagination(api: Api, ctx: RunContext) -> None:
    def linked(query: dict[str, str]) -> Reply:
        page = int(query.get("p", "1"))
        headers = {"Link": f'</l?p={page + 1}>; rel="next"'} if page < 3 else {}
        return 200, headers, ITEMS[(page - 1) * 10 : page * 10]

    api.routes["/l"] = linked
    batches = read(ctx, url=f"{api.base}/l", pagination="link")
    assert ids(batches) == list(range(1, 26))
    assert [q.get("p") for _, q, _ in api.requests] == [None, "2", "3"]


def test_repeating_cursor_fails(api: Api, ctx: RunContext) -> None:
    api.routes["/c"] = lambda q: (200, {}, {"items": ITEMS[:2], "next_cursor": "same"})
    with pytest.raises(DataError) as caught:
        read(ctx, url=f"{api.base}/c", records_path="items", pagination="cursor")
    assert "'same' came back again" in caught.value.message
    assert len(api.requests) == 2


def test_looping_link_fails(api: Api, ctx: RunContext) -> None:
    def loop(query: dict[str, str]) -> Reply:
        target = "/l?p=2" if query.get("p") != "2" else "/l"
        return 200, {"Link": f'<{target}>; rel="next"'}, ITEMS[:1]

    api.routes["/l"] = loop
    with pytest.raises(DataError, match="came back again"):
        read(ctx, url=f"{api.base}/l", pagination="link")


def test_api_ignoring_page_param_fails(api: Api, ctx: RunContext) -> None:
    api.routes["/same"] = lambda q: (200, {}, ITEMS[:10])
    with pytest.raises(DataError) as caught:
        read(ctx, url=f"{api.base}/same", pagination="page", page_size=10)
    assert "same body" in caught.value.message
    assert "`page`" in (caught.value.hint or "")


def test_max_pages_exceeded_fails(api: Api, ctx: RunContext) -> None:
    api.routes["/items"] = paged
    with pytest.raises(DataError) as caught:
        read(
            ctx,
            url=f"{api.base}/items",
            records_path="data.items",
            pagination="page",
            page_size=5,
            max_pages=3,
        )
    assert "max_pages=3" in caught.value.message
    assert len(api.requests) == 3


def test_fewer_records_than_reported_total_fails(api: Api, ctx: RunContext) -> None:
    api.routes["/t"] = lambda q: (200, {}, {"items": ITEMS[:4], "total": 40})
    with pytest.raises(DataError) as caught:
        read(ctx, url=f"{api.base}/t", records_path="items", total_path="total")
    assert caught.value.message == "received 4 records but the API reported a total of 40"


def test_auth_header_is_sent_and_token_never_leaks(api: Api, ctx: RunContext) -> None:
    def guarded(query: dict[str, str]) -> Reply:
        return 403, {}, {"error": "forbidden"}

    api.routes["/ok"] = lambda q: (200, {}, ITEMS[:1])
    api.routes["/guarded"] = guarded
    read(ctx, url=f"{api.base}/ok", auth_token=TOKEN)
    assert api.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"
    read(ctx, url=f"{api.base}/ok", auth_token=TOKEN, auth_header="X-Api-Key", auth_scheme="")
    assert api.requests[1][2]["X-Api-Key"] == TOKEN
    source = RestSource(RestSettings(url=f"{api.base}/guarded", auth_token=TOKEN))
    assert TOKEN not in source.describe()
    with pytest.raises(ConfigError) as caught:
        list(source.read(ctx))
    assert "403 Forbidden" in caught.value.message
    assert "auth_token" in (caught.value.hint or "")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(source.settings)


def test_401_echoing_the_token_is_scrubbed(api: Api, ctx: RunContext) -> None:
    api.routes["/echo"] = lambda q: (401, {}, {"error": f"bad token {TOKEN}"})
    with pytest.raises(ConfigError) as caught:
        read(ctx, url=f"{api.base}/echo", auth_token=TOKEN)
    assert "401 Unauthorized" in caught.value.message
    assert TOKEN not in str(caught.value)


def test_404_is_a_config_error_without_credentials(api: Api, ctx: RunContext) -> None:
    url = f"{api.base.replace('http://', 'http://user:pw@')}/missing?api_key=k3y&x=1"
    with pytest.raises(ConfigError) as caught:
        read(ctx, url=url)
    text = str(caught.value)
    assert "404 Not Found" in text
    assert "pw@" not in text
    assert "k3y" not in text
    assert "/missing" in text
    assert "check the url" in (caught.value.hint or "")


def test_500_and_503_are_dependency_and_transient(api: Api, ctx: RunContext) -> None:
    api.routes["/boom"] = lambda q: (500, {}, {"error": "kaput"})
    api.routes["/busy"] = lambda q: (503, {}, b"try later")
    with pytest.raises(DependencyError) as caught:
        read(ctx, url=f"{api.base}/boom")
    assert "500 Internal Server Error" in caught.value.message
    assert f"{api.base}/boom" in (caught.value.location or "")
    with pytest.raises(TransientError, match="503"):
        read(ctx, url=f"{api.base}/busy")


def test_connection_refused_and_timeout(api: Api, ctx: RunContext) -> None:
    with pytest.raises(DependencyError) as caught:
        read(ctx, url="http://127.0.0.1:1/x", auth_token=TOKEN)
    assert "127.0.0.1:1/x" in (caught.value.location or "")
    assert TOKEN not in str(caught.value)

    def slow(query: dict[str, str]) -> Reply:
        threading.Event().wait(1.0)
        return 200, {}, []

    api.routes["/slow"] = slow
    with pytest.raises(TransientError, match="timed out"):
        read(ctx, url=f"{api.base}/slow", timeout=0.2)


def test_body_not_json_and_missing_records_path(api: Api, ctx: RunContext) -> None:
    api.routes["/html"] = lambda q: (200, {"Content-Type": "text/html"}, b"<html>hi</html>")
    api.routes["/obj"] = lambda q: (200, {}, {"data": {"rows": []}, "meta": {}})
    with pytest.raises(DataError) as caught:
        read(ctx, url=f"{api.base}/html")
    assert "not JSON" in caught.value.message
    assert f"{api.base}/html (page 1)" == caught.value.location
    with pytest.raises(DataError) as missing:
        read(ctx, url=f"{api.base}/obj", records_path="data.items")
    assert "'data.items' not found" in missing.value.message
    assert "data, meta" in (missing.value.hint or "")
    with pytest.raises(DataError, match="object, not a list"):
        read(ctx, url=f"{api.base}/obj")


def test_declared_columns_and_mixed_types(api: Api, ctx: RunContext) -> None:
    records = [{"id": 1, "code": 7, "day": "2024-01-02"}, {"id": 2, "code": "x7", "day": None}]
    api.routes["/m"] = lambda q: (200, {}, records)
    batches = read(ctx, url=f"{api.base}/m", columns={"code": "string", "day": "date32"})
    batch = batches[0].batch
    assert batch.column("code").to_pylist() == ["7", "x7"]
    assert batch.schema.field("day").type == pa.date32()
    with pytest.raises(DataError) as caught:
        read(ctx, url=f"{api.base}/m")
    assert "'code'" in caught.value.message


def test_safe_url_masks_credentials() -> None:
    assert safe_url("https://u:p@h.example:8443/a?token=abc&q=1") == (
        "https://h.example:8443/a?token=***&q=1"
    )
