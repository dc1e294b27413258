"""`tidegate serve` with several pipeline files: served for real on a loopback port, its health
API shows each pipeline's checks; pipelines keeping their history apart are refused clearly;
with ``--state`` alone, the store's own checks and how to get the rest."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.e2e.conftest import Cli

PIPELINE = """\
name: {name}
source: {{type: csv, path: {data}}}
destination: {{type: duckdb, path: {name}.duckdb, table: t, mode: replace}}
"""


def _pipelines(folder: Path, *names_and_data: tuple[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "data.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    for name, data in names_and_data:
        (folder / f"{name}.yaml").write_text(
            PIPELINE.format(name=name, data=data), encoding="utf-8"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _serve(folder: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``tidegate serve ARGS --port P`` running in ``folder``; yields its base URL."""
    port = _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tidegate", "serve", *args, "--port", str(port)],
        cwd=folder,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(20)


def _health(base: str) -> dict[str, Any]:
    answer = httpx.get(base + "/api/health", timeout=30)
    assert answer.status_code == 200
    report: dict[str, Any] = answer.json()
    return report


def test_serve_checks_each_of_several_pipelines(tmp_path: Path, cli: Cli) -> None:
    _pipelines(tmp_path, ("orders", "data.csv"), ("refunds", "missing.csv"))
    assert cli("run", "orders.yaml").returncode == 0
    with _serve(tmp_path, "orders.yaml", "refunds.yaml") as (base, process):
        report = _health(base)
        overview = httpx.get(base + "/api/overview", timeout=10).json()
        page = httpx.get(base + "/health", timeout=10).text
    assert [p["pipeline"] for p in report["pipelines"]] == ["refunds", "orders"]
    refunds, orders = report["pipelines"]
    assert (refunds["healthy"], orders["healthy"]) == (False, True)
    assert refunds["checks"][0]["check"] == "readable"
    assert "missing.csv" in refunds["checks"][0]["detail"]
    assert [p["pipeline"] for p in overview["pipelines"]] == ["orders"]
    assert "1 of " in page
    assert process.stderr is not None
    assert "health checks of orders, refunds" in process.stderr.read()


def test_pipelines_with_different_state_stores_are_refused(tmp_path: Path, cli: Cli) -> None:
    _pipelines(tmp_path / "a", ("orders", "data.csv"))
    _pipelines(tmp_path / "b", ("refunds", "data.csv"))
    done = cli("serve", "a/orders.yaml", "b/refunds.yaml")
    assert done.returncode == 2
    assert "different state stores" in done.stderr
    assert "a/orders.yaml: sqlite:///" in done.stderr
    assert "b/refunds.yaml: sqlite:///" in done.stderr
    assert "observability.state.url" in done.stderr


def test_serve_with_the_state_store_alone_checks_the_store(tmp_path: Path, cli: Cli) -> None:
    _pipelines(tmp_path, ("orders", "data.csv"))
    assert cli("run", "orders.yaml").returncode == 0
    url = f"sqlite:///{tmp_path}/.tidegate/state.db"
    with _serve(tmp_path, "--state", url) as (base, _):
        report = _health(base)
    (alone,) = report["pipelines"]
    assert alone["pipeline"] is None
    assert [(c["component"], c["check"], c["ok"]) for c in alone["checks"]] == [
        ("state store", "writable", True),
        ("breakers", "closed", True),
    ]
    assert "tidegate serve pipeline.yaml" in report["note"]
    assert json.dumps(report).count("orders") == 0
