"""``profile_command`` over data files and pipelines: the table, the JSON and the rules file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tidegate.app.profiling import governed_profile, profile_command
from tidegate.errors import ConfigError
from tidegate.governance.classify import Level
from tidegate.spec.quality import QualitySpec

if TYPE_CHECKING:
    from collections.abc import Iterator
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


FIRST = ["Anna", "James", "Maria", "Lukas", "Sofia", "Oliver", "Emma", "Noah", "Mia", "Elias"]
LAST = ["Schmidt", "Smith", "García", "Müller", "Rossi", "Brown", "Dubois", "Jansen", "王", "Berg"]


def _luhn(body: str) -> str:
    """``body`` and its Luhn check digit: a card number the classifier accepts."""
    total = 0
    for position, digit in enumerate(reversed(body)):
        doubled = int(digit) * (2 if position % 2 == 0 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return body + str((10 - total % 10) % 10)


PEOPLE = [
    {
        "id": i + 1,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{i}@example.org",
        "phone": f"+44 20 7946 {i:04d}",
        "card": _luhn(f"400000000000{i:03d}"),
        "plan": "pro" if i % 3 == 0 else "free",
        "score": 10 + i,
    }
    for i, (first, last) in enumerate(zip(FIRST * 2, LAST * 2, strict=True))
]
SENSITIVE = {"name": "confidential", "email": "confidential", "phone": "confidential"}


def _people(tmp_path: Path) -> Path:
    header = ",".join(PEOPLE[0])
    lines = [",".join(str(value) for value in person.values()) for person in PEOPLE]
    return _csv(tmp_path, "\n".join([header, *lines]) + "\n", name="people.csv")


def _clear_values(*columns: str) -> set[str]:
    """Every value of ``columns`` and the parts a partial mask could leave (names, local parts)."""
    values = {str(person[column]) for person in PEOPLE for column in columns}
    parts = {part for value in values for part in value.replace("@", " ").split() if len(part) > 2}
    return values | parts - {"+44", "7946", "example.org"}


def test_json_shows_no_value_of_a_sensitive_column_and_says_which_are_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_command(_people(tmp_path), rows=None, json_out=True, rules_out=None, sets=[])

    text = capsys.readouterr().out
    columns = _columns(json.loads(text))
    levels = {name: (c["level"], c["masked"]) for name, c in columns.items()}
    assert levels == {
        "id": ("public", False),
        "name": ("confidential", True),
        "email": ("confidential", True),
        "phone": ("confidential", True),
        "card": ("restricted", True),
        "plan": ("public", False),
        "score": ("public", False),
    }
    leaked = {value for value in _clear_values(*SENSITIVE, "card") if value in text}
    assert not leaked
    assert columns["email"]["min"] == "****.*@*******.***"
    assert columns["phone"]["shapes"][0]["shape"] == "+99 99 9999 9999"  # the form stays
    assert "王" not in text  # shapes keep non-ASCII characters: not for a sensitive column
    masked_names = [v["value"] for v in columns["name"]["top_values"]] + columns["name"]["values"]
    assert len(columns["name"]["values"]) == 10
    assert all(set(name) == {"*", " "} for name in masked_names)
    assert (columns["card"]["min"], columns["card"]["max"]) == ("[restricted]", "[restricted]")
    assert columns["card"]["mean"] is None
    # public columns keep their real values
    assert columns["plan"]["top_values"][0] == {"value": "free", "count": 13}
    assert (columns["score"]["min"], columns["score"]["max"]) == (10, 29)
    rules = json.loads(text)["suggested_rules"]["quality"]["columns"]
    assert rules["plan"][1] == {"allowed_values": ["free", "pro"]}


def test_the_table_shows_the_level_and_no_value_of_a_sensitive_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_command(_people(tmp_path), rows=None, json_out=False, rules_out=None, sets=[])

    out = capsys.readouterr().out
    assert not {value for value in _clear_values(*SENSITIVE, "card") if value in out}
    assert "confidential, masked" in out
    assert "restricted, masked" in out
    assert "[restricted]" in out
    assert "free (13), pro (7)" in out
    assert "Values of confidential and restricted columns are masked" in out


def test_suggested_rules_quote_no_value_of_a_sensitive_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "rules.yaml"
    profile_command(
        _people(tmp_path),
        rows=None,
        json_out=False,
        rules_out=target,
        sets=[],
        levels={"score": Level.RESTRICTED, "plan": Level.CONFIDENTIAL},
    )

    text = target.read_text(encoding="utf-8")
    assert not {value for value in _clear_values(*SENSITIVE, "card") if value in text}
    assert "sensitive columns name, email, phone, card, plan, score" in text
    columns = yaml.safe_load(text)["quality"]["columns"]
    QualitySpec.model_validate({"columns": columns})
    assert columns["plan"] == ["not_null", {"length": {"min": 3, "max": 4}}]
    assert columns["score"] == ["not_null", "unique"]  # no between: its bounds are values
    assert columns["phone"][-1] == {"regex": r"^\+\d{2} \d{2} \d{4} \d{4}$"}  # a form, not a value
    # a shape with a non-ASCII character (a name's letters) is no regex for a sensitive column
    assert not any(isinstance(rule, dict) and "regex" in rule for rule in columns["name"])
    assert "Schmidt" not in capsys.readouterr().out


def test_levels_override_detection_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    levels = {"email": Level.PUBLIC, "score": Level.RESTRICTED, "gone": Level.RESTRICTED}
    profile_command(
        _people(tmp_path), rows=None, json_out=True, rules_out=None, sets=[], levels=levels
    )

    columns = _columns(_json(capsys))
    assert (columns["email"]["level"], columns["email"]["masked"]) == ("public", False)
    assert columns["email"]["min"] == "anna.0@example.org"
    assert (columns["score"]["level"], columns["score"]["masked"]) == ("restricted", True)
    assert (columns["score"]["min"], columns["score"]["max"]) == ("[restricted]", "[restricted]")
    assert (columns["score"]["mean"], columns["score"]["stddev"]) == (None, None)
    assert {v["value"] for v in columns["score"]["top_values"]} == {"[restricted]"}
    assert columns["name"]["level"] == "confidential"  # not pinned: still detected


def test_rows_limit_the_profile_not_the_evidence_of_the_classification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_command(_people(tmp_path), rows=2, json_out=True, rules_out=None, sets=[])

    text = capsys.readouterr().out
    columns = _columns(json.loads(text))
    assert columns["id"]["max"] == 2
    # two names are too few for the gazetteer; the rest of the batch already read is not
    assert columns["name"]["masked"] is True
    assert "Anna Schmidt" not in text


def test_a_sensitive_column_gets_no_regex_from_a_shape_holding_its_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _csv(tmp_path, "code\n" + "Zoë\n" * 20, name="codes.csv")

    profile_command(path, rows=None, json_out=True, rules_out=None, sets=[])
    public = _json(capsys)
    profile_command(
        path,
        rows=None,
        json_out=True,
        rules_out=None,
        sets=[],
        levels={"code": Level.CONFIDENTIAL},
    )
    confidential = _json(capsys)

    assert public["suggested_rules"]["quality"]["columns"]["code"][-1] == {"regex": "^[A-Z][a-z]ë$"}
    assert _columns(public)["code"]["shapes"][0]["shape"] == "Aaë"
    rules = confidential["suggested_rules"]["quality"]["columns"]["code"]
    assert rules == ["not_null", {"length": {"min": 3, "max": 3}}]
    assert _columns(confidential)["code"]["shapes"][0]["shape"] == "Aa*"
    assert "ë" not in json.dumps(confidential, ensure_ascii=False)


def test_governed_profile_reads_the_batches_once_and_closes_them_early() -> None:
    table = pa.Table.from_pylist(PEOPLE)
    events: list[str] = []

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in table.to_batches(max_chunksize=4):
                events.append("read")
                yield batch
        finally:
            events.append("closed")

    governed = governed_profile(batches(), rows=6)

    assert events == ["read", "read", "closed"]  # no second pass for the classification
    assert governed.masked == {"name", "email", "phone", "card"}
    assert governed.levels["plan"] == Level.PUBLIC
    assert governed.clear.column("email").min == "anna.0@example.org"
    assert governed.shown.column("email").min == "****.*@*******.***"
    assert governed.clear.rows == governed.shown.rows == 6
