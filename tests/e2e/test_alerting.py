"""Alerts from real runs through the CLI: one alert for a storm of failures, one "resolved",
a hanging mail server that cannot hold a run up, and the failing demo's console alert."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import Cli

import pytest

REPO = Path(__file__).resolve().parents[2]


class Hooks(ThreadingHTTPServer):
    """A webhook receiver on loopback keeping every JSON body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hooks.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _pipeline(folder: Path, alerts: str) -> None:
    lines = ["id,amount"] + [f"{i},{i % 100}" for i in range(200)]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "pipeline.yaml").write_text(
        "name: orders\n"
        "owner: finance-data\n"
        "criticality: 1\n"
        "consumers: [Finance daily revenue report]\n"
        "source: {type: csv, path: orders.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: orders}\n"
        f"observability:\n  alerts:\n{alerts}",
        encoding="utf-8",
    )


FAIL = ("--inject", "mid_batch:raise:data")


def test_ten_identical_failures_alert_once_and_the_success_resolves_once(
    tmp_path: Path, cli: Cli, hooks: Hooks
) -> None:
    _pipeline(
        tmp_path,
        f"    cooldown: 1h\n    channels: {{hook: {{type: webhook, url: '{hooks.url}'}}}}\n",
    )
    for _ in range(10):
        assert cli("run", "pipeline.yaml", *FAIL).returncode == 1
    firing = [body for body in hooks.bodies if body["status"] == "firing"]
    assert len(firing) == 1
    alert = firing[0]
    assert (alert["pipeline"], alert["error_kind"], alert["owner"]) == (
        "orders",
        "data",
        "finance-data",
    )
    assert alert["impact"] == "Finance daily revenue report will be stale"
    assert cli("run", "pipeline.yaml", "--fresh").returncode == 0
    resolved = [body for body in hooks.bodies if body["status"] == "resolved"]
    assert len(resolved) == 1
    assert len(hooks.bodies) == 2
    listed = json.loads(cli("alerts", "list", "pipeline.yaml", "--json").stdout)
    statuses = [alert["status"] for alert in listed["alerts"]]
    assert statuses.count("suppressed") == 9


def test_a_hanging_mail_server_delays_a_run_by_its_timeout_at_most(
    tmp_path: Path, cli: Cli
) -> None:
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(5)  # accepts and never says a word
    try:
        _pipeline(tmp_path, "    channels: {}\n")
        began = time.monotonic()
        assert cli("run", "pipeline.yaml", *FAIL).returncode == 1
        baseline = time.monotonic() - began
        _pipeline(
            tmp_path,
            "    channels:\n"
            "      mail: {type: email, host: 127.0.0.1, port: "
            f"{hang.getsockname()[1]}, security: none, sender: etl@example.com, "
            "to: [oncall@example.com], timeout_seconds: 1}\n",
        )
        began = time.monotonic()
        done = cli("run", "pipeline.yaml", *FAIL)
        took = time.monotonic() - began
    finally:
        hang.close()
    assert done.returncode == 1
    assert took <= baseline + 1.0 + 1.5  # the timeout, plus process start-up noise


def test_the_failing_demo_shows_its_alert_in_the_console(tmp_path: Path, cli: Cli) -> None:
    shutil.copytree(
        REPO / "examples" / "customers",
        tmp_path / "customers",
        ignore=lambda _, names: [n for n in names if n in ("data", ".tidegate")],
    )
    done = cli("demo", "--dir", "customers", "--rows", "2000", "--fail")
    assert done.returncode == 0, done.stderr
    assert "customers failed" in done.stderr
    assert "Finance daily revenue report will be stale" in done.stderr
    assert "Next action" in done.stderr
    assert "demo run failed on purpose" in done.stdout


def test_a_stale_pipeline_found_by_health_alerts_once(
    tmp_path: Path, cli: Cli, hooks: Hooks
) -> None:
    _pipeline(
        tmp_path,
        f"    cooldown: 1h\n    channels: {{hook: {{type: webhook, url: '{hooks.url}'}}}}\n",
    )
    path = tmp_path / "pipeline.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "sla: {max_age: 1s}\n", encoding="utf-8")
    assert cli("run", "pipeline.yaml").returncode == 0
    time.sleep(1.2)
    assert cli("health", "pipeline.yaml").returncode == 1
    assert cli("health", "pipeline.yaml").returncode == 1  # within the cooldown: no new alert
    stale = [body for body in hooks.bodies if body["rule"] == "sla_age"]
    assert len(stale) == 1
    assert stale[0]["title"] == "orders is stale"
    assert "max 1s" in stale[0]["summary"]
    assert cli("run", "pipeline.yaml").returncode == 0  # a success resolves it
    assert [body["status"] for body in hooks.bodies][-1] == "resolved"
