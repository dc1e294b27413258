"""``profile_command`` over data files and pipelines: the table, the JSON and the rules file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tidegate.app.profiling import profile_command
from tidegate.errors import ConfigError
from tidegate.spec.quality import QualitySpec

if TYPE_CHECKING:
    from pathlib import Path

CSV = """\
id,email,country,zip,amount,signup_date
1,ada@example.org,GB,01234,10.50,2024-01-15
2,alan@example.org,GB,02345,20.00,2024-02-01
3,grace@example.org,US,03456,,2024-03-20
4,edsger@example.org,NL,04567,5.25,2024-04-02
5,barbara@example.org,US,05678,99.99,2024-05-30
"""


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps tables at 80 columns when stdout is not a terminal
    monkeypatch.setenv("COLUMNS", "200")


def _csv(tmp_path: Path, text: str = CSV, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _columns(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {column["name"]: column for column in document["columns"]}


def test_a_csv_prints_its_statistics_then_the_suggested_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_command(_csv(tmp_path), rows=None, json_out=False, rules_out=None, sets=[])

    out = capsys.readouterr().out
    table, header, rules = out.partition("# Quality rules suggested")
    rules = header + rules
    assert "customers.csv: 5 rows, 6 columns" in table
    assert "5 (unique)" in table  # id and email
    assert "1 (20.0%)" in table  # one amount is missing
    assert "GB (2), US (2), NL (1)" in table
    assert "99999 100.0%" not in table  # zip is read as a number, as a run would
    assert "2024-01-15" in table
    assert rules.startswith("# Quality rules suggested by `tidegate profile` from 5 rows of ")
    section = yaml.safe_load(rules)["quality"]
    QualitySpec.model_validate(section)
    assert section["columns"]["id"] == ["not_null", "unique"]
    assert "not_null" not in section["columns"]["amount"]
    assert section["columns"]["signup_date"][-1] == "not_in_future"


def test_json_holds_the_profile_and_the_suggestions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_command(_csv(tmp_path), rows=None, json_out=True, rules_out=None, sets=[])

    document = _json(capsys)
    assert document["rows"] == 5
    assert document["limited"] is False
    columns = _columns(document)
    assert columns["email"]["unique"] is True
    assert columns["amount"]["nulls"] == 1
    assert columns["amount"]["min"] == 5.25
    assert columns["signup_date"]["max"] == "2024-05-30"
    assert columns["country"]["top_values"][0] == {"value": "GB", "count": 2}
    assert document["suggested_rules"]["quality"]["columns"]["email"][1] == "unique"


def test_rows_profiles_only_the_first_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_command(_csv(tmp_path), rows=2, json_out=True, rules_out=None, sets=[])

    document = _json(capsys)
    assert (document["rows"], document["limited"]) == (2, True)
    assert _columns(document)["id"]["max"] == 2


def test_rules_go_to_the_file_and_not_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "suggested.yaml"
    profile_command(_csv(tmp_path), rows=None, json_out=False, rules_out=target, sets=[])

    captured = capsys.readouterr()
    assert "customers.csv: 5 rows" in captured.out
    assert "quality:" not in captured.out
    assert f"wrote suggested rules to {target}" in captured.err
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Quality rules suggested by `tidegate profile` from 5 rows")
    QualitySpec.model_validate(yaml.safe_load(text)["quality"])


def test_set_overrides_the_source_settings_of_a_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path, "id;zip\n1;01234\n2;02345\n", name="semicolons.csv")
    profile_command(
        path, rows=None, json_out=True, rules_out=None, sets=["delimiter=;", "columns.zip=string"]
    )

    columns = _columns(_json(capsys))
    assert set(columns) == {"id", "zip"}
    assert columns["zip"]["type"] == "string"
    assert columns["zip"]["shapes"] == [{"shape": "99999", "count": 2, "share": 1.0}]


def test_a_bad_setting_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="delimiter"):
        profile_command(
            _csv(tmp_path), rows=None, json_out=True, rules_out=None, sets=["delimiter=;;"]
        )


def test_parquet_folders_and_jsonl_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for part in range(3):
        pq.write_table(
            pa.table({"n": [part * 10 + i for i in range(10)]}), folder / f"{part}.parquet"
        )
    lines = tmp_path / "events.ndjson"
    lines.write_text('{"kind": "a", "n": 1}\n{"kind": "b", "n": 2}\n{"kind": "a"}\n')

    profile_command(folder, rows=None, json_out=True, rules_out=None, sets=[])
    parquet = _columns(_json(capsys))
    profile_command(lines, rows=None, json_out=True, rules_out=None, sets=[])
    jsonl = _columns(_json(capsys))

    assert (parquet["n"]["rows"], parquet["n"]["max"], parquet["n"]["unique"]) == (30, 29, True)
    assert jsonl["kind"]["top_values"][0] == {"value": "a", "count": 2}
    assert jsonl["n"]["nulls"] == 1


PIPELINE = """\
name: customers
source:
  type: csv
  path: customers.csv
steps:
  - type: sql
    name: clean
    query: |
      SELECT id, upper(country) AS country, amount * 100 AS cents
      FROM input WHERE country <> 'NL'
destination:
  type: duckdb
  path: warehouse.duckdb
  table: customers
quality:
  columns:
    country:
      - allowed_values: [GB]
"""


def test_a_pipeline_profiles_what_its_steps_produce_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _csv(tmp_path)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE, encoding="utf-8")

    profile_command(pipeline, rows=None, json_out=True, rules_out=None, sets=[])

    document = _json(capsys)
    columns = _columns(document)
    assert document["rows"] == 4  # the step filtered NL out
    assert list(columns) == ["id", "country", "cents"]
    assert columns["cents"]["max"] == pytest.approx(9999.0)
    # the quality rules are not applied: the profile shows the US rows they would reject
    assert columns["country"]["values"] == ["GB", "US"]
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_set_overrides_a_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _csv(tmp_path)
    _csv(tmp_path, "id,country,amount\n7,DE,1.0\n", name="other.csv")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE, encoding="utf-8")

    profile_command(
        pipeline, rows=None, json_out=True, rules_out=None, sets=["source.path=other.csv"]
    )

    assert _columns(_json(capsys))["id"]["min"] == 7


def test_unreadable_targets_are_config_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "data.xlsx"
    unknown.write_bytes(b"PK\x03\x04")

    with pytest.raises(ConfigError, match=r"cannot tell the format of data\.xlsx"):
        profile_command(unknown, rows=None, json_out=False, rules_out=None, sets=[])
    with pytest.raises(ConfigError, match="does not exist"):
        profile_command(tmp_path / "nope.csv", rows=None, json_out=False, rules_out=None, sets=[])
    with pytest.raises(ConfigError, match="--rows"):
        profile_command(_csv(tmp_path), rows=0, json_out=False, rules_out=None, sets=[])
