"""`tidegate breaker list|reset` on a breaker a run opened in the state store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tidegate.app.breakers import StateBreakerStore
from tidegate.resilience.breaker import Breakers
from tidegate.spec.resilience import BreakerSpec
from tidegate.state import StateStore, default_state_url

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

API = "api.example.com"
OPENED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _open_breaker(url: str) -> None:
    store = StateStore.open(url)
    try:
        breakers = Breakers(
            BreakerSpec(window=5, min_calls=5, failure_rate=0.5, cool_down=3600),
            store=StateBreakerStore(store),
            clock=lambda: OPENED,
        )
        for ok in (True, True, False, False, False):
            breakers.record(API, ok=ok)
        breakers.record("healthy.example.com", ok=True)
    finally:
        store.close()


def test_list_shows_an_open_breaker_and_reset_closes_it(tmp_path: Path, cli: Cli) -> None:
    _open_breaker(default_state_url(tmp_path))
    listed = cli("breaker", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    breakers = {b["target"]: b for b in json.loads(listed.stdout)["breakers"]}
    assert breakers[API] == {
        "target": API,
        "state": "open",
        "failing_since": OPENED.isoformat(),
        "next_probe_at": (OPENED + timedelta(hours=1)).isoformat(),
        "failures": 3,
        "calls": 5,
        "updated_at": OPENED.isoformat(),
    }
    assert breakers["healthy.example.com"]["state"] == "closed"
    table = cli("breaker", "list")
    assert table.returncode == 0, table.stderr
    line = next(row for row in table.stdout.splitlines() if API in row)
    for shown in ("open", "2026-03-01 12:00:00", "2026-03-01 13:00:00", "3/5"):
        assert shown in line

    reset = cli("breaker", "reset", API)
    assert reset.returncode == 0, reset.stderr
    assert f"breaker of {API} reset" in reset.stdout
    after = json.loads(cli("breaker", "list", "--json").stdout)["breakers"]
    assert [b["target"] for b in after] == ["healthy.example.com"]

    again = cli("breaker", "reset", API)
    assert again.returncode == 2
    assert f"no circuit breaker for '{API}'" in again.stderr
    assert "tidegate breaker list" in again.stderr


def test_the_store_can_be_named_with_state(tmp_path: Path, cli: Cli) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'state.db'}"
    _open_breaker(url)
    reset = cli("breaker", "reset", API, "--state", url, "--json")
    assert reset.returncode == 0, reset.stderr
    assert json.loads(reset.stdout) == {"target": API, "state": "closed"}
    listed = cli("breaker", "list", "--state", url, "--json")
    assert [b["target"] for b in json.loads(listed.stdout)["breakers"]] == ["healthy.example.com"]
