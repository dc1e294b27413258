"""The quality section end to end through the CLI: validate, run, quarantine, replay, profiles."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.e2e.conftest import table_names, table_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

CSV = """id,email,age,country
1,ann@example.com,34,US
2,not-an-email,41,GB
3,bob@example.org,,DE
2,dup@example.com,29,US
5,eve@example.net,230,FR
6,zed@example.com,52,XX
7,,61,DE
"""

PIPELINE = """\
name: people
source:
  type: csv
  path: people.csv
destination:
  type: duckdb
  path: out.duckdb
  table: people
  mode: append
quality:
  max_reject_ratio: 0.9
  profiles:
    prod:
      max_reject_ratio: 0.1
  columns:
    id:
      - not_null
      - unique
    email:
      - regex: '^[^@]+@[^@]+\\.[a-z]+$'
    age:
      - between: {min: 0, max: 120, on_fail: warn}
    country:
      - allowed_values: [US, GB, DE, FR]
"""


def _write(tmp_path: Path, pipeline: str = PIPELINE) -> None:
    (tmp_path / "people.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(pipeline, encoding="utf-8")


def _summary(stdout: str) -> dict[str, object]:
    line = [text for text in stdout.splitlines() if text.startswith("{")][-1]
    return dict(json.loads(line))


def test_run_quarantines_rejected_rows_with_reasons_and_source_rows(
    tmp_path: Path, cli: Cli
) -> None:
    _write(tmp_path)
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    summary = _summary(done.stdout)
    assert summary["rows_written"] == 3
    assert summary["rows_rejected"] == 4
    quality = summary["quality"]
    assert isinstance(quality, dict)
    assert quality["failed_rules"] == {
        "id.unique": 1,
        "email.regex": 2,  # row 7's empty email is an empty string, not a null
        "age.between": 1,
        "country.allowed_values": 1,
    }
    assert quality["rows_checked"] == 7
    db = tmp_path / "out.duckdb"
    assert table_names(db) == ["people", "people__quarantine"]
    assert [row[0] for row in table_rows(db, "people")] == [1, 3, 5]  # age 230 only warns

    shown = cli("quarantine", "show", "pipeline.yaml", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["shown"]
    by_row = {row["_tidegate_row"]: row for row in rows}
    assert sorted(by_row) == [2, 4, 6, 7]  # 1-based data rows of the CSV
    assert by_row[2]["_tidegate_rules"] == "email.regex"
    assert "does not match" in by_row[2]["_tidegate_reason"]
    assert by_row[4]["_tidegate_rules"] == "id.unique"
    assert by_row[6]["_tidegate_rules"] == "country.allowed_values"
    assert by_row[7]["_tidegate_rules"] == "email.regex"
    assert by_row[6]["country"] == "XX"  # values kept intact

    listed = json.loads(cli("quarantine", "list", "pipeline.yaml", "--json").stdout)
    assert listed["rows"] == 4
    assert {item["rule"]: item["rows"] for item in listed["rules"]} == {
        "country.allowed_values": 1,
        "email.regex": 2,
        "id.unique": 1,
    }


def test_replay_loads_rows_that_pass_now_and_keeps_the_rest(tmp_path: Path, cli: Cli) -> None:
    _write(tmp_path)
    assert cli("run", "pipeline.yaml").returncode == 0
    # the steward extends the allowed countries; the email and the duplicate stay bad
    fixed = PIPELINE.replace("[US, GB, DE, FR]", "[US, GB, DE, FR, XX]")
    (tmp_path / "pipeline.yaml").write_text(fixed, encoding="utf-8")
    replayed = cli("quarantine", "replay", "pipeline.yaml")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 4 rows" in replayed.stdout
    assert "1 loaded, 3 still rejected" in replayed.stdout
    db = tmp_path / "out.duckdb"
    assert [row[0] for row in table_rows(db, "people")] == [1, 3, 5, 6]
    left = json.loads(cli("quarantine", "show", "pipeline.yaml", "--json").stdout)["shown"]
    assert sorted(row["_tidegate_rules"] for row in left) == [
        "email.regex",
        "email.regex",
        "id.unique",
    ]
    again = cli("quarantine", "replay", "pipeline.yaml")
    assert "0 loaded, 3 still rejected" in again.stdout


def test_replay_does_not_load_a_duplicate_of_a_loaded_key(tmp_path: Path, cli: Cli) -> None:
    _write(tmp_path)
    assert cli("run", "pipeline.yaml").returncode == 0
    kept = [line for line in PIPELINE.splitlines() if "regex" not in line and "email:" not in line]
    relaxed = "\n".join(kept) + "\n"
    (tmp_path / "pipeline.yaml").write_text(relaxed, encoding="utf-8")
    replayed = cli("quarantine", "replay", "pipeline.yaml")
    assert replayed.returncode == 0, replayed.stderr
    # rows 2 (id 2) and 7 now pass and are loaded; row 4 repeats id 2 and stays out, as does
    # row 6 (country XX)
    assert "2 loaded, 2 still rejected" in replayed.stdout
    ids = [row[0] for row in table_rows(tmp_path / "out.duckdb", "people")]
    assert ids == [1, 2, 3, 5, 7]


def test_abort_rule_stops_the_run_and_commits_nothing(tmp_path: Path, cli: Cli) -> None:
    _write(tmp_path, PIPELINE.replace("      - unique\n", "      - unique: {on_fail: abort}\n"))
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    assert "quality rule 'id.unique' (error) failed on 1 row of batch 1" in done.stderr
    assert "first at source row 4" in done.stderr
    assert table_names(tmp_path / "out.duckdb") == []


def test_profile_thresholds_stop_a_run_that_the_default_lets_through(
    tmp_path: Path, cli: Cli
) -> None:
    _write(tmp_path)
    done = cli("run", "pipeline.yaml", "--profile", "prod")
    assert done.returncode == 1
    assert "4 of 7 rows rejected (57.14%), more than max_reject_ratio 10.00%" in done.stderr
    assert table_names(tmp_path / "out.duckdb") == []
    by_env = cli("run", "pipeline.yaml", env={"TIDEGATE_PROFILE": "prod"})
    assert by_env.returncode == 1
    assert cli("run", "pipeline.yaml").returncode == 0


def test_validate_locates_a_rule_on_an_unknown_column_before_reading_rows(
    tmp_path: Path, cli: Cli
) -> None:
    _write(tmp_path, PIPELINE.replace("    country:\n", "    contry:\n"))
    done = cli("validate", "pipeline.yaml")
    assert done.returncode == 2
    assert "pipeline.yaml:24" in done.stderr
    assert "column 'contry' is not in the data" in done.stderr
    assert "did you mean 'country'?" in done.stderr


def test_validate_locates_an_invalid_regex_and_a_bad_expression(tmp_path: Path, cli: Cli) -> None:
    broken = PIPELINE.replace("regex: '^[^@]+@[^@]+", "regex: '^[a-z+$'  # ") + (
        "  table:\n    - expression: {sql: 'age >>> 3 AND'}\n"
    )
    _write(tmp_path, broken)
    done = cli("validate", "pipeline.yaml")
    assert done.returncode == 2
    assert "pipeline.yaml:20" in done.stderr
    assert "is not a valid RE2 pattern" in done.stderr
    assert "pipeline.yaml:26" in done.stderr
    assert "is not a valid SQL expression" in done.stderr


def test_validate_runs_the_expression_against_the_real_columns(tmp_path: Path, cli: Cli) -> None:
    _write(tmp_path, PIPELINE + "  table:\n    - expression: {sql: 'agee > 3'}\n")
    done = cli("validate", "pipeline.yaml")
    assert done.returncode == 2
    assert "pipeline.yaml:26" in done.stderr
    assert "agee" in done.stderr


def test_a_file_destination_keeps_its_rejects_in_parquet_and_refuses_replay(
    tmp_path: Path, cli: Cli
) -> None:
    _write(tmp_path)
    to_file = ["--set", "destination={type: files, path: out/people.csv, if_exists: fail}"]
    done = cli("run", "pipeline.yaml", *to_file)
    assert done.returncode == 0, done.stderr
    parts = list((tmp_path / "out" / "people__quarantine").glob("*.parquet"))
    assert len(parts) == 1
    listed = cli("quarantine", "list", "pipeline.yaml", "--json", *to_file)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["rows"] == 4
    replay = cli("quarantine", "replay", "pipeline.yaml", *to_file)
    assert replay.returncode == 2
    assert "replay needs a table destination" in replay.stderr
    assert len((tmp_path / "out" / "people.csv").read_text().splitlines()) == 4  # header + 3
