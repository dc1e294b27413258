"""Loopback servers that misbehave on cue, for the chaos suite.

- ``FaultServer``: a paged JSON API (``http.server`` in a thread) whose next responses are
  scripted: 503 storms, 429 with ``Retry-After``, slow answers, connection resets, truncated
  JSON, 401. It records when each request came, so a test can assert the waits between tries.
- ``TcpProxy``: a byte-copying proxy in front of PostgreSQL (``127.0.0.1:5432``) that can drop
  every live connection, stall (stop forwarding) for a while, or refuse new connections, so a
  load meets a real network failure in the middle of its work.

Both are real servers on real sockets: the client under test uses its own driver and sees the
same errors it would see from a flaky network or API.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType
    from typing import Self

__all__ = [
    "Behaviour",
    "FaultServer",
    "Request",
    "TcpProxy",
    "ok",
    "rate_limited",
    "reset",
    "slow",
    "status",
    "storm",
    "truncated",
    "unauthorized",
]


def _hard_close(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets a TCP reset rather than an orderly end.

    ``SHUT_RD`` first wakes a thread blocked reading the socket without sending a FIN (which
    ``SHUT_WR`` would, turning the reset into an orderly end).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # already gone: nothing left to reset
    sock.close()


# -- the HTTP fault server --------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one request.

    ``action`` is ``reply`` (``status`` with ``headers``; the page's JSON when ``status`` is
    200, else an error body), ``reset`` (close the socket without a response) or ``truncate``
    (a 200 whose JSON is cut in half; ``declare_full`` announces the full Content-Length, so the
    body ends early, else the cut body is all there is). ``delay`` seconds pass first.
    """

    action: str = "reply"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    declare_full: bool = False


def ok(delay: float = 0.0) -> Behaviour:
    """The page, as asked."""
    return Behaviour(delay=delay)


def status(code: int, **headers: str) -> Behaviour:
    """An error status with a small JSON body, and headers (``Retry_After`` -> ``Retry-After``)."""
    return Behaviour(
        status=code, headers=tuple((k.replace("_", "-"), v) for k, v in headers.items())
    )


def storm(count: int, code: int = 503) -> list[Behaviour]:
    """``count`` failures in a row (a 503 storm); the request after them is answered."""
    return [status(code) for _ in range(count)]


def rate_limited(retry_after: float | str = 1) -> Behaviour:
    """A 429 with ``Retry-After`` (seconds, or an HTTP date as text)."""
    value = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
    return status(429, Retry_After=value)


def slow(seconds: float) -> Behaviour:
    """The page, after ``seconds``."""
    return ok(delay=seconds)


def reset() -> Behaviour:
    """Close the connection with a TCP reset before any response."""
    return Behaviour(action="reset")


def truncated(*, declare_full: bool = False) -> Behaviour:
    """A 200 whose JSON body is cut in half."""
    return Behaviour(action="truncate", declare_full=declare_full)


def unauthorized() -> Behaviour:
    """A 401 with ``WWW-Authenticate``."""
    return status(401, WWW_Authenticate='Bearer realm="api"')


@dataclass(frozen=True)
class Request:
    """One request as the server saw it: when (``time.monotonic``), what, and how it answered."""

    at: float
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    behaviour: Behaviour


@dataclass
class FaultServer:
    """A paged JSON API on loopback whose next answers are scripted with ``plan``.

    ``GET /items`` serves ``records`` with any of the REST source's paginations: ``page`` and
    ``page_size`` (page numbers from 1), ``offset`` and ``limit``, or ``cursor`` (the offset as
    text; the next one is in ``next_cursor``, null on the last page). The body is
    ``{"items": [...], "total": n, "next_cursor": ...}``: ``records_path: items``,
    ``total_path: total``. Each request takes the next planned behaviour; when none is left it
    gets ``ok()``. Use as a context manager.
    """

    records: Sequence[dict[str, Any]] = field(
        default_factory=lambda: [{"id": i, "name": f"item {i}"} for i in range(1, 26)]
    )
    page_size: int = 10
    requests: list[Request] = field(default_factory=list)
    _planned: list[Behaviour] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The items endpoint."""
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/items"

    def plan(self, *behaviours: Behaviour | Sequence[Behaviour]) -> None:
        """Queue the answers of the next requests, in order (lists such as ``storm`` flatten)."""
        with self._lock:
            for item in behaviours:
                self._planned.extend([item] if isinstance(item, Behaviour) else item)

    def times(self) -> list[float]:
        """When each request arrived (``time.monotonic``), in order."""
        with self._lock:
            return [request.at for request in self.requests]

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests."""
        at = self.times()
        return [later - earlier for earlier, later in itertools.pairwise(at)]

    def _next(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Behaviour:
        with self._lock:
            behaviour = self._planned.pop(0) if self._planned else ok()
            self.requests.append(Request(time.monotonic(), path, query, headers, behaviour))
        return behaviour

    def page(self, query: dict[str, str]) -> bytes:
        """The JSON body answering ``query``."""
        if "page" in query:
            size = int(query.get("page_size", self.page_size))
            start = (int(query["page"]) - 1) * size
        else:
            size = int(query.get("limit", self.page_size))
            start = int(query.get("offset", query.get("cursor", 0)))
        chunk = list(self.records[start : start + size])
        following = start + size if start + size < len(self.records) else None
        body = {
            "items": chunk,
            "total": len(self.records),
            "next_cursor": None if following is None else str(following),
        }
        return json.dumps(body).encode()

    def __enter__(self) -> Self:
        server_state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                behaviour = server_state._next(parts.path, query, dict(self.headers))
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                if behaviour.action == "reset":
                    self.close_connection = True
                    _hard_close(self.connection)
                    return
                if parts.path != "/items":
                    self._send(404, (), b'{"error": "not found"}')
                elif behaviour.action == "truncate":
                    body = server_state.page(query)
                    cut = body[: len(body) // 2]
                    self._send(200, (), cut, length=len(body) if behaviour.declare_full else None)
                elif behaviour.status == 200:
                    self._send(200, behaviour.headers, server_state.page(query))
                else:
                    error = json.dumps({"error": f"status {behaviour.status}"}).encode()
                    self._send(behaviour.status, behaviour.headers, error)

            def _send(
                self,
                code: int,
                headers: Sequence[tuple[str, str]],
                body: bytes,
                *,
                length: int | None = None,
            ) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)
                if length is not None:  # an orderly close, so the client reads the part sent
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                """Keep test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- the TCP proxy ----------------------------------------------------------------------------


class TcpProxy:
    """Forwards loopback connections to ``target``, and breaks them on command.

    ``drop()`` resets every live connection on both sides (the server sees its client vanish and
    rolls back; the client's next statement fails); ``stall(seconds)`` stops forwarding in both
    directions for that long (or until ``resume()``), as a congested network or a paused server
    would; ``refuse(True)`` resets each new connection as soon as it is accepted. Use as a
    context manager; ``port`` is where clients connect.
    """

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so the accept loop notices the proxy closing
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._timer: threading.Timer | None = None

    @property
    def live(self) -> int:
        """Connections currently forwarded."""
        with self._lock:
            return len(self._pairs)

    def drop(self) -> int:
        """Reset every live connection now; how many there were."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            _hard_close(client)
            _hard_close(upstream)
        return len(pairs)

    def stall(self, seconds: float | None = None) -> None:
        """Stop forwarding bytes, for ``seconds`` or until ``resume``; connections stay open."""
        self._flowing.clear()
        if self._timer is not None:
            self._timer.cancel()
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._flowing.set)
            self._timer.daemon = True
            self._timer.start()

    def resume(self) -> None:
        """Forward again after ``stall``."""
        if self._timer is not None:
            self._timer.cancel()
        self._flowing.set()

    def refuse(self, refusing: bool = True) -> None:
        """Reset new connections as they arrive (True) or forward them again (False)."""
        self._refusing = refusing

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            client.settimeout(None)
            self.accepted += 1
            if self._refusing:
                _hard_close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _hard_close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy bytes one way until either side ends; then both sides are closed."""
        ended = False
        try:
            while data := source.recv(65536):
                while not self._flowing.wait(0.05):
                    if source.fileno() < 0:
                        return  # dropped while stalled
                sink.sendall(data)
            ended = True
        except OSError:
            pass  # a reset or a drop: pass the reset on below
        with self._lock:
            pair = next((p for p in self._pairs if source in p), None)
            if pair is not None:
                self._pairs.remove(pair)
        for sock in pair or ():
            if ended:
                sock.close()  # an orderly end passed on as one
            else:
                _hard_close(sock)

    def __enter__(self) -> Self:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._closed = True
        self.resume()
        self._listener.close()
        self.drop()
        for thread in self._threads:
            thread.join(timeout=5)
