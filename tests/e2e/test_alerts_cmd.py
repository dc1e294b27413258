"""`tidegate alerts list` over alerts recorded in the state store, and `alerts test` refusing
a channel the pipeline does not define."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tidegate.state import StateStore, default_state_url

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def _record(url: str) -> None:
    store = StateStore.open(url)
    try:
        row = {
            "rule": "run_failed",
            "fingerprint": "0123456789abcdef",
            "severity": "critical",
            "title": "revenue failed: dependency error",
            "summary": "run r1 failed",
            "run_id": "0190b1a0-0000-7000-8000-000000000001",
            "error_kind": "dependency",
        }
        sent = store.record_alert(
            {
                **row,
                "pipeline": "revenue",
                "status": "firing",
                "channels": ["ops", "mail"],
                "sent_at": T0,
            }
        )
        store.record_delivery(sent, "ops", True, None, at=T0)
        store.record_delivery(sent, "mail", False, "SMTP refused", at=T0)
        store.record_alert(
            {
                **row,
                "pipeline": "revenue",
                "status": "suppressed",
                "channels": [],
                "sent_at": T0 + timedelta(minutes=5),
            }
        )
        store.record_alert(
            {**row, "pipeline": "orders", "status": "firing", "channels": ["ops"], "sent_at": T0}
        )
    finally:
        store.close()


def test_list_shows_sent_and_suppressed_alerts_with_their_deliveries(
    tmp_path: Path, cli: Cli
) -> None:
    _record(default_state_url(tmp_path))
    listed = cli("alerts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    alerts = json.loads(listed.stdout)["alerts"]
    assert [(a["pipeline"], a["status"]) for a in alerts] == [
        ("revenue", "suppressed"),
        ("orders", "firing"),
        ("revenue", "firing"),
    ]
    assert alerts[2]["delivered"] == {
        "ops": {"ok": True, "error": None, "at": T0.isoformat()},
        "mail": {"ok": False, "error": "SMTP refused", "at": T0.isoformat()},
    }
    assert alerts[2]["channels"] == ["ops", "mail"]
    assert alerts[2]["sent_at"] == T0.isoformat()

    table = cli("alerts", "list", "--limit", "1")
    assert table.returncode == 0, table.stderr
    assert "2026-03-01 08:05:00" in table.stdout
    assert "suppressed" in table.stdout
    assert "orders" not in table.stdout
    full = cli("alerts", "list")
    line = next(row for row in full.stdout.splitlines() if "revenue" in row and "firing" in row)
    assert "ops:ok mail:failed" in line


def test_list_by_state_url_and_an_empty_store(tmp_path: Path, cli: Cli) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'state.db'}"
    StateStore.open(url).close()
    empty = cli("alerts", "list", "--state", url)
    assert empty.returncode == 0, empty.stderr
    assert "no alerts in" in empty.stdout
    _record(url)
    listed = cli("alerts", "list", "--state", url, "--json", "--limit", "2")
    assert len(json.loads(listed.stdout)["alerts"]) == 2


def test_test_refuses_a_channel_the_pipeline_does_not_define(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "in.csv").write_text("id\n1\n")
    (tmp_path / "pipeline.yaml").write_text(
        "name: revenue\n"
        "source: {type: csv, path: in.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: t}\n"
        "observability:\n"
        "  alerts:\n"
        "    channels:\n"
        "      ops: {type: console}\n"
    )
    missing = cli("alerts", "test", "pager", "pipeline.yaml")
    assert missing.returncode == 2
    assert "pipeline revenue has no alert channel 'pager'" in missing.stderr
    assert "defined: ops" in missing.stderr
    sent = cli("alerts", "test", "ops", "pipeline.yaml")
    assert sent.returncode == 0, sent.stderr
    assert "delivered: test alert sent through ops" in sent.stdout
    assert "Test alert from Tidegate for revenue" in sent.stderr
