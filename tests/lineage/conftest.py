"""Fixtures of the lineage tests: the demo pipeline on generated data, a Marquez-like receiver.

The receiver is a real HTTP server on loopback that answers the Marquez lineage API the way
Marquez does (``POST /api/v1/lineage`` -> 201, anything else 404) and keeps every request.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tidegate.app.demo_data import generate
from tidegate.governance.keys import generate_key

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The example customers pipeline with its data and throwaway keys, as `tidegate demo`
    lays it out; returns the pipeline file."""
    folder = tmp_path / "customers"
    folder.mkdir()
    shutil.copy(REPO / "examples" / "customers" / "pipeline.yaml", folder / "pipeline.yaml")
    generate(folder / "data", rows=600, seed=7)
    keys = folder / ".tidegate" / "keys"
    keys.mkdir(parents=True)
    for name in ("mask.key", "demo.v1", "audit.key", "audit-head.key"):
        (keys / name).write_text(generate_key() + "\n", encoding="utf-8")
    return folder / "pipeline.yaml"


@dataclass
class Request:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Marquez:
    """A Marquez-compatible lineage receiver on loopback (with ``paths`` and ``reply`` set
    otherwise, an Apache Atlas v2 API: it answers JSON)."""

    url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 201
    paths: tuple[str, ...] = ("/api/v1/lineage",)
    reply: bytes = b""
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json() for r in self.requests if r.path == "/api/v1/lineage"]


@pytest.fixture
def marquez() -> Iterator[Marquez]:
    receiver = Marquez(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            time.sleep(receiver.delay)
            with receiver.lock:
                receiver.requests.append(
                    Request("POST", self.path, dict(self.headers.items()), body)
                )
            status = receiver.status if self.path in receiver.paths else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(receiver.reply)))
            self.end_headers()
            self.wfile.write(receiver.reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the requests, not a log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
