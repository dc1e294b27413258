"""Every procedure of docs/operations/recovery.md, run as written against a real failure."""

from __future__ import annotations

import json
import shutil
import time
from typing import TYPE_CHECKING

import duckdb

from tests.chaos.servers import FaultServer, storm

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

ROWS = 6000
PIPELINE = """\
name: orders
source: {type: csv, path: orders.csv, block_size: 16384}
batch_rows: 1000
quality:
  columns:
    amount: [{between: [0, 990]}]
destination: {type: duckdb, path: out.duckdb, table: orders, commit_min_rows: 1}
"""


def _orders(folder: Path) -> None:
    lines = ["id,amount"] + [f"{i},{i % 997}" for i in range(ROWS)]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")


def _loaded(folder: Path) -> tuple[int, int]:
    with duckdb.connect(str(folder / "out.duckdb"), read_only=True) as con:
        found = con.execute("SELECT count(*), count(DISTINCT id) FROM orders").fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


REJECTED = sum(1 for i in range(ROWS) if i % 997 > 990)


def test_a_killed_run_is_resumed_exactly_once(tmp_path: Path, cli: Cli) -> None:
    _orders(tmp_path)
    assert cli("run", "pipeline.yaml", "--inject", "after_commit:kill@2").returncode == -9
    refused = cli("run", "pipeline.yaml")
    assert refused.returncode == 2
    assert "--resume" in refused.stderr
    assert cli("run", "pipeline.yaml", "--resume").returncode == 0
    assert _loaded(tmp_path) == (ROWS - REJECTED, ROWS - REJECTED)


def test_a_transient_failure_needs_nothing(tmp_path: Path, cli: Cli) -> None:
    _orders(tmp_path)
    done = cli("run", "pipeline.yaml", "--inject", "before_commit:raise:transient@2x1")
    assert done.returncode == 0, done.stderr
    assert "retry_attempted" in done.stderr
    assert _loaded(tmp_path) == (ROWS - REJECTED, ROWS - REJECTED)


def test_an_open_breaker_is_listed_and_reset(tmp_path: Path, cli: Cli) -> None:
    with FaultServer() as server:
        (tmp_path / "pipeline.yaml").write_text(
            "name: items\n"
            f"source: {{type: rest, url: '{server.url}', records_path: items, pagination: page}}\n"
            "resilience:\n"
            "  retry: {rest: {attempts: 3, initial_delay: 0.01, max_delay: 0.05}}\n"
            "  breaker: {window: 3, min_calls: 3, cool_down: 3600}\n"
            "destination: {type: duckdb, path: out.duckdb, table: items}\n",
            encoding="utf-8",
        )
        server.plan(storm(3))
        assert cli("run", "pipeline.yaml").returncode == 1
        assert "has been failing since" in cli("run", "pipeline.yaml").stderr
        listed = cli("breaker", "list", "pipeline.yaml", "--json")
        assert listed.returncode == 0, listed.stderr
        assert "open" in listed.stdout
        assert cli("breaker", "reset", "127.0.0.1", "pipeline.yaml").returncode == 0
        done = cli("run", "pipeline.yaml")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["rows_written"] == 25


def test_rejected_rows_are_replayed_after_the_rule_is_fixed(tmp_path: Path, cli: Cli) -> None:
    _orders(tmp_path)
    assert cli("run", "pipeline.yaml").returncode == 0
    assert cli("quarantine", "list", "pipeline.yaml").returncode == 0
    shown = cli("quarantine", "show", "pipeline.yaml", "--limit", "5")
    assert "amount is outside [0, 990]" in shown.stdout
    (tmp_path / "pipeline.yaml").write_text(
        PIPELINE.replace("[0, 990]", "[0, 1000]"), encoding="utf-8"
    )
    replayed = cli("quarantine", "replay", "pipeline.yaml")
    assert replayed.returncode == 0, replayed.stderr
    assert _loaded(tmp_path) == (ROWS, ROWS)


def test_configuration_is_checked_without_running(tmp_path: Path, cli: Cli) -> None:
    _orders(tmp_path)
    (tmp_path / "pipeline.yaml").write_text(
        PIPELINE.replace("table: orders", "tabel: orders"), encoding="utf-8"
    )
    invalid = cli("validate", "pipeline.yaml")
    assert invalid.returncode == 2
    assert "did you mean 'table'" in invalid.stderr
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    assert cli("validate", "pipeline.yaml").returncode == 0
    assert cli("classify", "pipeline.yaml").returncode == 0
    assert cli("health", "pipeline.yaml").returncode == 0


def test_a_lost_state_store_is_recreated_and_a_copy_restores_history(
    tmp_path: Path, cli: Cli
) -> None:
    _orders(tmp_path)
    first = json.loads(cli("run", "pipeline.yaml").stdout)["run_id"]
    state = tmp_path / ".tidegate" / "state.db"
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(state, backup / "state.db")
    state.rename(state.with_name("state.db.broken"))
    time.sleep(0.01)
    second = json.loads(cli("run", "pipeline.yaml").stdout)["run_id"]
    runs = json.loads(cli("runs", "pipeline.yaml", "--json").stdout)["runs"]
    assert [run["run_id"] for run in runs] == [second]  # a fresh store, the run went on
    shutil.copy(backup / "state.db", state)
    restored = json.loads(cli("runs", "pipeline.yaml", "--json").stdout)["runs"]
    assert [run["run_id"] for run in restored] == [first]
