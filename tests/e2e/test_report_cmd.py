"""`tidegate report RUN_ID --html FILE` after a real run: the file is written where asked and
said so; an unknown run or an unwritable place is a usage error that says what to do."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

PIPELINE = """\
name: orders
source: {type: csv, path: orders.csv}
steps:
  - type: derive
    name: doubled
    columns: {twice: "amount * 2"}
destination: {type: duckdb, path: out.duckdb, table: orders, mode: replace}
"""


def _run(tmp_path: Path, cli: Cli) -> str:
    lines = ["id,amount"] + [f"{i},{i % 100}" for i in range(300)]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["run_id"])


def test_report_writes_one_file_and_says_where(tmp_path: Path, cli: Cli) -> None:
    run_id = _run(tmp_path, cli)
    (tmp_path / "reports").mkdir()
    done = cli("report", run_id[:13], "pipeline.yaml", "--html", "reports/run.html")
    assert done.returncode == 0, done.stderr
    written = tmp_path / "reports" / "run.html"
    assert done.stdout.strip() == f"wrote {written}"
    page = written.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert f"<h1>Run {run_id}</h1>" in page
    assert "doubled" in page
    assert "<script" not in page
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["run.html"]  # no temp file
    again = cli(
        "report", run_id, "--state", f"sqlite:///{tmp_path}/.tidegate/state.db", "--html", "b.html"
    )
    assert again.returncode == 0, again.stderr
    assert f"<h1>Run {run_id}</h1>" in (tmp_path / "b.html").read_text(encoding="utf-8")


def test_an_unknown_run_is_a_usage_error_pointing_at_tidegate_runs(
    tmp_path: Path, cli: Cli
) -> None:
    _run(tmp_path, cli)
    done = cli("report", "ffffffff", "pipeline.yaml", "--html", "run.html")
    assert done.returncode == 2
    assert "no run 'ffffffff'" in done.stderr
    assert "hint: `tidegate runs pipeline.yaml` lists the recorded runs" in done.stderr
    assert not (tmp_path / "run.html").exists()
    by_state = cli("report", "ffffffff", "--state", "sqlite:///.tidegate/state.db", "--html", "x")
    assert by_state.returncode == 2
    assert "`tidegate runs --state URL`" in by_state.stderr


def test_a_missing_folder_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    run_id = _run(tmp_path, cli)
    done = cli("report", run_id, "pipeline.yaml", "--html", "nowhere/run.html")
    assert done.returncode == 2
    assert "cannot write nowhere/run.html" in done.stderr
    assert "create the folder first" in done.stderr
    missing = cli("report", run_id, "pipeline.yaml")
    assert missing.returncode == 2
    assert "--html" in missing.stderr
