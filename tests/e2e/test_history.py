"""`tidegate runs` and `tidegate show` after real runs, the store on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tests.e2e.conftest import Cli

PIPELINE = """\
name: orders
source: {type: csv, path: orders.csv}
steps:
  - type: derive
    name: doubled
    columns: {twice: "amount * 2"}
quality:
  columns:
    amount: [{between: [0, 900]}]
destination: {type: duckdb, path: out.duckdb, table: orders, mode: replace}
"""


def _data(folder: Path, rows: int = 2000) -> None:
    lines = ["id,amount"] + [f"{i},{i % 1000}" for i in range(rows)]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_runs_and_show_tell_what_happened(tmp_path: Path, cli: Cli) -> None:
    _data(tmp_path)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    first = cli("run", "pipeline.yaml")
    second = cli("run", "pipeline.yaml")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    listed = cli("runs", "pipeline.yaml", "--json")
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)["runs"]
    assert [run["run_id"] for run in runs] == [
        json.loads(second.stdout)["run_id"],
        json.loads(first.stdout)["run_id"],
    ]
    newest = runs[0]
    assert (newest["status"], newest["rows_read"], newest["rows_rejected"]) == (
        "succeeded",
        2000,
        198,
    )
    assert newest["quality_score"] is not None
    shown = cli("show", newest["run_id"][:13], "pipeline.yaml", "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert [step["step"] for step in detail["steps"]] == ["doubled", "quality"]
    assert detail["steps"][1]["rejected"] == 198
    figures = detail["run"]["figures"]
    assert figures["rows_read"] == 2000
    assert figures["cpu_seconds"] > 0
    assert figures["energy_kwh"] > 0
    assert figures["batch_p50"] <= figures["batch_p95"] <= figures["batch_max"]
    assert detail["quality"]["rules"][0]["failed"] == 198
    text = cli("show", newest["run_id"], "pipeline.yaml")
    assert "where the time went" in text.stdout
    assert "step doubled" in text.stdout
    in_folder = cli("runs")  # the working folder's .tidegate/state.db
    assert newest["run_id"][:8] in in_folder.stdout


def test_a_failed_run_is_recorded_with_its_error_kind(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "orders.csv").write_text("id,amount\n1,5\n2,x\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        PIPELINE.replace(
            "{type: csv, path: orders.csv}",
            "{type: csv, path: orders.csv, columns: {amount: int64}}",
        ),
        encoding="utf-8",
    )
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    runs = json.loads(cli("runs", "pipeline.yaml", "--json").stdout)["runs"]
    assert (runs[0]["status"], runs[0]["error_kind"]) == ("failed", "data")
    detail = json.loads(cli("show", runs[0]["run_id"], "pipeline.yaml", "--json").stdout)
    assert "not a valid int64" in detail["run"]["error"]


def test_the_state_store_can_live_in_postgres(
    tmp_path: Path,
    cli: Cli,
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> None:
    _data(tmp_path, rows=100)
    with postgres_database("tidegate_history_") as url:
        (tmp_path / "pipeline.yaml").write_text(
            PIPELINE + f"observability:\n  state: {{url: '{url}'}}\n", encoding="utf-8"
        )
        done = cli("run", "pipeline.yaml")
        assert done.returncode == 0, done.stderr
        runs = json.loads(cli("runs", "--state", url, "--json").stdout)["runs"]
        assert [run["run_id"] for run in runs] == [json.loads(done.stdout)["run_id"]]
    assert not (tmp_path / ".tidegate" / "state.db").exists()


def test_no_history_here_says_where_to_look(tmp_path: Path, cli: Cli) -> None:
    done = cli("runs")
    assert done.returncode == 2
    assert "no run history at" in done.stderr
    assert "tidegate runs pipeline.yaml" in done.stderr


def test_a_state_store_that_is_down_does_not_stop_the_run(tmp_path: Path, cli: Cli) -> None:
    _data(tmp_path, rows=100)
    url = "postgresql+psycopg://tidegate:SENTINEL-pw@127.0.0.1:1/history"
    (tmp_path / "pipeline.yaml").write_text(
        # the audit trail lives there too and fails closed (tests/e2e/test_audit.py): off here
        PIPELINE + f"observability:\n  state: {{url: '{url}'}}\naudit: {{enabled: false}}\n",
        encoding="utf-8",
    )
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows_written"] == 100
    assert done.stderr.count("state_store_unavailable") == 1
    assert "SENTINEL-pw" not in done.stdout + done.stderr


def test_serve_exposes_the_history_as_prometheus_metrics(tmp_path: Path, cli: Cli) -> None:
    import os  # noqa: PLC0415
    import socket  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    import httpx  # noqa: PLC0415
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    _data(tmp_path, rows=300)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    assert cli("run", "pipeline.yaml").returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE")}
    server = subprocess.Popen(
        [sys.executable, "-m", "tidegate", "serve", "pipeline.yaml", "--port", str(port)],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = ""
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            body = response.text
            break
        missing = httpx.get(f"http://127.0.0.1:{port}/other", timeout=2)
    finally:
        server.terminate()
        server.wait(10)
    assert missing.status_code == 404
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }
    read = ("tidegate_pipeline_last_run_rows", (("outcome", "read"), ("pipeline", "orders")))
    assert samples[read] == 300
    success = ("tidegate_pipeline_last_run_success", (("pipeline", "orders"),))
    assert samples[success] == 1.0
    assert ("tidegate_last_success_timestamp_seconds", (("pipeline", "orders"),)) in samples
