"""`tidegate health` and the pre-flight checks a run makes before any data moves."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import duckdb

from tests.e2e.conftest import Cli, table_rows

if TYPE_CHECKING:
    from pathlib import Path


def _project(tmp_path: Path, cli: Cli) -> Path:
    assert cli("init", "shop").returncode == 0
    assert cli("run", "shop/pipeline.yaml").returncode == 0
    return tmp_path / "shop" / ".tidegate" / "warehouse.duckdb"


def test_a_healthy_pipeline_reports_every_check(tmp_path: Path, cli: Cli) -> None:
    _project(tmp_path, cli)
    done = cli("health", "shop/pipeline.yaml", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True
    assert [(c["component"].split(":")[0], c["check"]) for c in report["checks"]] == [
        ("csv", "readable"),
        ("duckdb", "connect"),
        ("duckdb", "select 1"),
        ("duckdb", "can write"),
        ("state store", "writable"),
        ("breakers", "closed"),
        ("temp space", "disk"),
    ]
    assert all(c["ok"] and c["ms"] >= 0 for c in report["checks"])
    table = cli("health", "shop/pipeline.yaml")
    assert table.returncode == 0
    assert "healthy" in table.stdout


def test_a_file_held_by_another_writer_is_unhealthy_and_stops_a_run(
    tmp_path: Path, cli: Cli
) -> None:
    warehouse = _project(tmp_path, cli)
    before = table_rows(warehouse, "shop")
    holder = duckdb.connect(str(warehouse))
    try:
        done = cli("health", "shop/pipeline.yaml", "--json")
        assert done.returncode == 1, done.stdout
        report = json.loads(done.stdout)
        failed = [c for c in report["checks"] if not c["ok"]]
        assert [c["check"] for c in failed] == ["connect"]
        assert "lock" in failed[0]["detail"].lower()
        run = cli("run", "shop/pipeline.yaml")
        assert run.returncode == 1
        assert "pre-flight check 'connect' failed" in run.stderr
    finally:
        holder.close()
    assert table_rows(warehouse, "shop") == before


def test_a_missing_input_is_unhealthy(tmp_path: Path, cli: Cli) -> None:
    _project(tmp_path, cli)
    done = cli("health", "shop/pipeline.yaml", "--set", "source.path=gone.csv")
    assert done.returncode == 1
    assert "FAILED" in done.stdout
    assert "gone.csv" in done.stdout
    assert "unhealthy" in done.stdout
