"""An injected fault the run never reaches is reported, so a chaos test that tested nothing
does not pass quietly: the real CLI on a CSV -> DuckDB pipeline whose destination commits once
at the end, so there is no ``after_commit`` of batch 3."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

PIPELINE = """\
name: faults
source: {type: csv, path: in.csv}
destination: {type: duckdb, path: out.duckdb, table: t, mode: replace}
"""


def _warnings(stderr: str) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "fault_never_fired"]


def test_a_fault_the_run_never_reaches_is_reported(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "in.csv").write_text("id\n1\n2\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")

    done = cli(
        "run",
        "pipeline.yaml",
        "--inject",
        "after_commit:raise:transient@3",
        "--inject",
        "mid_batch:delay:0.01",
        "--log-format",
        "json",
    )

    assert done.returncode == 0, done.stderr
    (warning,) = _warnings(done.stderr)  # the delay at mid_batch did fire: not reported
    assert warning["fault"] == "raise transient"
    assert warning["at"] == "after_commit of batch 3"
    assert "commit_min_rows" in warning["hint"]
    assert warning["run_id"]


def test_faults_that_fire_are_not_reported(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "in.csv").write_text("id\n1\n2\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")

    done = cli("run", "pipeline.yaml", "--inject", "mid_batch:delay:0.01", "--log-format", "json")

    assert done.returncode == 0, done.stderr
    assert _warnings(done.stderr) == []
