"""Governance end to end through the CLI: fail closed, profiles, pins, exceptions, quarantine.

Every run classifies a real CSV of people (names, emails, Luhn-valid card numbers), checks the
shipped or a written policy and either loads into DuckDB or stops before loading anything.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING

import duckdb
import pytest

from tests.e2e.conftest import table_names, table_rows
from tidegate.governance.keys import generate_key

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

FIRST = ["Anna", "John", "Maria", "Peter", "Laura", "James", "Sophie", "Lukas", "Emma", "Noah"]
LAST = ["Smith", "Miller", "Garcia", "Johnson", "Martin", "Brown", "Schmidt", "Dubois", "Jones"]
CITIES = ["Berlin", "Paris", "Rome", "Madrid"]
ROWS = 400


def _luhn(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return digits + str((10 - total % 10) % 10)


def _people(folder: Path) -> list[dict[str, str]]:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not a secret
    rows = []
    for number in range(1, ROWS + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append(
            {
                "id": str(number),
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}.{last.lower()}{number}@example.com",
                "card": _luhn("4" + "".join(rng.choice("0123456789") for _ in range(14))),
                "score": str(rng.randint(1, 100)),
                "city": rng.choice(CITIES),
            }
        )
    lines = [",".join(rows[0])] + [",".join(row.values()) for row in rows]
    (folder / "people.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rows


def _pipeline(folder: Path, *, steps: str = "", governance: str = "", quality: str = "") -> None:
    text = (
        "name: people\n"
        "source: {type: csv, path: people.csv, columns: {card: string, id: int64}}\n"
        + (f"steps:\n{steps}" if steps else "")
        + (f"governance:\n{governance}" if governance else "")
        + (f"quality:\n{quality}" if quality else "")
        + "destination: {type: duckdb, path: out.duckdb, table: people, mode: replace}\n"
    )
    (folder / "pipeline.yaml").write_text(text, encoding="utf-8")


MASK_ALL = """\
  - type: mask
    key: env:TIDEGATE_TEST_MASK_KEY
    columns:
      first_name: {strategy: fake, fake: first_name}
      last_name: {strategy: hash}
      email: {strategy: email_domain}
      card: {strategy: partial, keep: 4}
"""
ENV = {"TIDEGATE_TEST_MASK_KEY": "mask key for tests"}


def _summary(stdout: str) -> dict[str, object]:
    summary: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return summary


def _statuses(summary: dict[str, object]) -> dict[str, tuple[str, str, str, str]]:
    governance = summary["governance"]
    assert isinstance(governance, dict)
    return {
        c["column"]: (c["pii_type"], c["level"], c["applied"], c["status"])
        for c in governance["columns"]
    }


@pytest.fixture
def people(tmp_path: Path) -> list[dict[str, str]]:
    return _people(tmp_path)


def test_unprotected_personal_data_stops_the_run_before_loading(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(tmp_path, governance="  sample_rows: 1000\n")
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    assert "blocks the run before loading" in done.stderr
    assert (
        "column 'card' (detected as credit_card, level restricted) needs encrypt but is not "
        "protected" in done.stderr
    )
    assert "column 'email' (detected as email, level confidential) needs mask" in done.stderr
    assert table_names(tmp_path / "out.duckdb") == []  # nothing loaded, no table made
    summary = _summary(done.stdout)
    assert summary["rows_written"] == 0
    statuses = _statuses(summary)
    assert statuses["card"] == ("credit_card", "restricted", "none", "blocked")
    assert statuses["first_name"] == ("person_name", "confidential", "none", "blocked")
    assert "city" not in statuses
    assert "score" not in statuses
    log = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    classified = [line for line in log if line.get("event") == "columns_classified"]
    assert classified
    assert classified[0]["blocked"] == ["first_name", "last_name", "email", "card"]
    for row in people[:20]:  # no value of the data in any output
        for value in (row["email"], row["card"]):
            assert value not in done.stdout + done.stderr


def test_profiles_change_the_required_action(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(tmp_path, steps=MASK_ALL, governance="  classification: {city: internal}\n")
    prod = cli("run", "pipeline.yaml", "--profile", "prod", env=ENV)
    assert prod.returncode == 1
    assert "column 'card' (detected as credit_card, level restricted) needs encrypt but is " in (
        prod.stderr
    )
    assert "mask:partial" in prod.stderr
    dev = cli("run", "pipeline.yaml", "--profile", "dev", env=ENV)
    assert dev.returncode == 0, dev.stderr
    statuses = _statuses(_summary(dev.stdout))
    assert statuses["card"] == ("credit_card", "restricted", "mask:partial", "ok")
    assert statuses["email"] == ("email", "confidential", "mask:email_domain", "ok")
    assert statuses["city"] == ("none", "internal", "none", "ok")  # pinned, shown
    loaded = table_rows(tmp_path / "out.duckdb", "people")
    assert len(loaded) == ROWS
    clear = {row["card"] for row in people} | {row["email"] for row in people}
    assert not clear & {value for row in loaded for value in row}


def test_a_pin_overrides_detection_both_ways(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(
        tmp_path,
        steps=MASK_ALL,
        governance="  classification: {first_name: public, city: confidential}\n",
    )
    done = cli("run", "pipeline.yaml", "--profile", "dev", env=ENV)
    assert done.returncode == 1
    assert "column 'city' (pinned, level confidential) needs mask" in done.stderr
    statuses = _statuses(_summary(done.stdout))
    assert statuses["first_name"] == ("person_name", "public", "mask:fake", "ok")


def test_a_derived_column_holding_names_is_caught_in_the_output(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    derive = (
        "  - type: derive\n    columns: {full_name: \"concat_ws(' ', first_name, last_name)\"}\n"
    )
    _pipeline(tmp_path, steps=derive + MASK_ALL, governance="  sample_rows: 1000\n")
    done = cli("run", "pipeline.yaml", "--profile", "dev", env=ENV)
    assert done.returncode == 1
    assert "column 'full_name' (detected as person_name, level confidential)" in done.stderr
    assert _statuses(_summary(done.stdout))["full_name"][3] == "blocked"
    assert table_names(tmp_path / "out.duckdb") == []


def test_a_machine_policy_with_exceptions_governs_pipelines_without_a_section(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    (tmp_path / "org-policy.yaml").write_text(
        "actions:\n"
        "  default: {public: allow, internal: allow, confidential: mask, restricted: mask}\n"
        "exceptions:\n"
        "  - {pipeline: people, column: last_name, reason: needed for the mailing list}\n",
        encoding="utf-8",
    )
    steps = MASK_ALL.replace("      last_name: {strategy: hash}\n", "")
    _pipeline(tmp_path, steps=steps)
    ungoverned = cli("run", "pipeline.yaml", env=ENV)
    assert ungoverned.returncode == 0, ungoverned.stderr
    assert "governance" not in _summary(ungoverned.stdout)
    done = cli("run", "pipeline.yaml", env={**ENV, "TIDEGATE_POLICY": "org-policy.yaml"})
    assert done.returncode == 0, done.stderr
    governance = _summary(done.stdout)["governance"]
    assert isinstance(governance, dict)
    assert governance["policy"] == "org-policy.yaml"
    last = next(c for c in governance["columns"] if c["column"] == "last_name")
    assert (last["status"], last["reason"]) == ("allowed", "needed for the mailing list")


def test_quarantined_sensitive_columns_are_encrypted_and_replay_restores_them(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    (tmp_path / "main.key").write_text(generate_key() + "\n", encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(
        "actions:\n"
        "  default: {public: allow, internal: allow, confidential: mask, restricted: encrypt}\n"
        "exceptions:\n"
        "  - {column: last_name, reason: kept for the mailing list}\n"
        "  - {column: card, reason: test data}\n",
        encoding="utf-8",
    )
    steps = MASK_ALL.replace("      last_name: {strategy: hash}\n", "").replace(
        "      card: {strategy: partial, keep: 4}\n", ""
    )
    _pipeline(
        tmp_path,
        steps=steps,
        governance="  policy: policy.yaml\n  keys: {main: {1: file:main.key}}\n",
        quality="  columns:\n    score: [{between: [1, 90]}]\n",
    )
    done = cli("run", "pipeline.yaml", env=ENV)
    assert done.returncode == 0, done.stderr
    rejected = [row for row in people if int(row["score"]) > 90]
    assert rejected
    assert _summary(done.stdout)["rows_rejected"] == len(rejected)

    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'people__quarantine'"
            ).fetchall()
        )
        stored = con.execute("SELECT last_name, card, city FROM people__quarantine").fetchall()
    assert types["last_name"] == types["card"] == types["first_name"] == "BLOB"
    assert types["city"] == "VARCHAR"
    assert types["score"] == "BIGINT"
    assert all(isinstance(row[0], bytes) and isinstance(row[1], bytes) for row in stored)
    quarantine_bytes = b"".join(row[0] + row[1] for row in stored)
    assert not any(row["last_name"].encode() in quarantine_bytes for row in rejected)
    assert not any(row["card"].encode() in quarantine_bytes for row in rejected)

    show = cli("quarantine", "show", "pipeline.yaml", "--json", "--limit", "500", env=ENV)
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)["shown"]
    assert {row["card"] for row in shown} == {"[encrypted]"}
    assert {row["city"] for row in shown} <= set(CITIES)
    assert not any(row["card"] in show.stdout for row in rejected)

    replay = cli(
        "quarantine", "replay", "pipeline.yaml", "--set", "quality.columns.score=[]", env=ENV
    )
    assert replay.returncode == 0, replay.stderr
    loaded = {row[0]: row for row in table_rows(tmp_path / "out.duckdb", "people")}
    assert len(loaded) == ROWS
    for row in rejected:  # clear values restored from the quarantine's ciphertexts
        assert loaded[int(row["id"])][2] == row["last_name"]
        assert loaded[int(row["id"])][4] == row["card"]
    assert table_rows(tmp_path / "out.duckdb", "people__quarantine") == []


def test_replayed_rows_rejected_again_go_back_encrypted(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    (tmp_path / "main.key").write_text(generate_key() + "\n", encoding="utf-8")
    _pipeline(
        tmp_path,
        steps=MASK_ALL,
        governance="  keys: {main: {1: file:main.key}}\n",
        quality="  columns:\n    score: [{between: [1, 90]}]\n",
    )
    assert cli("run", "pipeline.yaml", "--profile", "dev", env=ENV).returncode == 0
    replay = cli("quarantine", "replay", "pipeline.yaml", env=ENV)
    assert replay.returncode == 0, replay.stderr
    assert "still rejected" in replay.stdout
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        kinds = con.execute(
            "SELECT DISTINCT typeof(email), typeof(card) FROM people__quarantine"
        ).fetchall()
    assert kinds == [("BLOB", "BLOB")]


def test_sensitive_columns_without_keys_may_not_reach_the_quarantine(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(
        tmp_path,
        steps=MASK_ALL,
        governance="  sample_rows: 1000\n",
        quality="  columns:\n    score: [{between: [1, 90]}]\n",
    )
    done = cli("run", "pipeline.yaml", "--profile", "dev", env=ENV)
    assert done.returncode == 1
    assert "there is no key to encrypt them in the quarantine" in done.stderr
    assert table_names(tmp_path / "out.duckdb") == []


def test_a_broken_policy_file_is_reported_at_its_line(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    (tmp_path / "policy.yaml").write_text(
        "actions:\n  default: {public: allow, internal: allow, confidential: mask, restricted: "
        "encrypt}\nlevels:\n  email: secret\n",
        encoding="utf-8",
    )
    _pipeline(tmp_path, governance="  policy: policy.yaml\n")
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 2
    assert "policy.yaml:4" in done.stderr
    assert "secret" in done.stderr


def test_a_governed_run_names_bad_values_without_quoting_them(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "people.csv").write_text(
        "id,email\n1,ann@example.com\nbob@example.com,carl@example.com\n", encoding="utf-8"
    )
    (tmp_path / "pipeline.yaml").write_text(
        "name: people\n"
        "source: {type: csv, path: people.csv, columns: {id: int64}}\n"
        "governance: {sample_rows: 100}\n"
        "destination: {type: duckdb, path: out.duckdb, table: people}\n",
        encoding="utf-8",
    )
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    assert "column 'id': value <a value of 15 characters, hidden by governance>" in done.stderr
    assert "people.csv line 3" in done.stderr
    assert "bob@example.com" not in done.stdout + done.stderr
    ungoverned = tmp_path / "pipeline.yaml"
    ungoverned.write_text(
        ungoverned.read_text(encoding="utf-8").replace("governance: {sample_rows: 100}\n", ""),
        encoding="utf-8",
    )
    plain = cli("run", "pipeline.yaml")
    assert "value 'bob@example.com' is not a valid int64" in plain.stderr


def test_a_governed_pipeline_may_not_keep_malformed_lines_in_clear(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(tmp_path, governance="  sample_rows: 100\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "columns: {card: string, id: int64}",
            "columns: {card: string}, on_malformed: quarantine",
        ),
        encoding="utf-8",
    )
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 2
    assert "pipeline.yaml:2: source.on_malformed: a governed pipeline cannot keep" in done.stderr


def test_classify_a_pipeline_reports_what_a_run_would_decide(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(tmp_path, steps=MASK_ALL, governance="  classification: {city: confidential}\n")
    dev = cli("classify", "pipeline.yaml", "--json", "--profile", "dev", env=ENV)
    assert dev.returncode == 1  # city is pinned confidential and nothing masks it
    report = json.loads(dev.stdout)
    assert (report["policy"], report["profile"], report["blocked"]) == ("built-in", "dev", True)
    found = {
        c["column"]: (c["pii_type"], c["required"], c["applied"], c["status"])
        for c in report["columns"]
    }
    assert found["card"] == ("credit_card", "mask", "mask:partial", "ok")
    assert found["city"] == ("none", "mask", "none", "blocked")
    assert not any(row["email"] in dev.stdout for row in people)
    table = cli("classify", "pipeline.yaml", "--profile", "dev", env=ENV)
    assert "blocked" in table.stdout


def test_profile_of_a_pipeline_masks_pinned_columns(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(tmp_path, steps=MASK_ALL, governance="  classification: {city: confidential}\n")
    done = cli("profile", "pipeline.yaml", "--json", env=ENV)
    assert done.returncode == 0, done.stderr
    for city in CITIES:
        assert city not in done.stdout
    (tmp_path / "pipeline.yaml").write_text(
        (tmp_path / "pipeline.yaml").read_text(encoding="utf-8").replace("city: confidential", ""),
        encoding="utf-8",
    )
    unpinned = cli("profile", "pipeline.yaml", "--json", env=ENV)
    assert unpinned.returncode == 0, unpinned.stderr
    assert all(city in unpinned.stdout for city in CITIES)  # public: shown as they are


def test_validate_checks_the_policy_and_locates_a_mistyped_pin(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    _pipeline(tmp_path, steps=MASK_ALL, governance="  classification: {ctiy: internal}\n")
    done = cli("validate", "pipeline.yaml", env=ENV)
    assert done.returncode == 2
    assert "pipeline.yaml:12: governance.classification.ctiy: pinned column 'ctiy'" in done.stderr
    assert "did you mean 'city'?" in done.stderr
    _pipeline(tmp_path, steps=MASK_ALL, governance="  classification: {city: internal}\n")
    fixed = cli("validate", "pipeline.yaml", env=ENV)
    assert fixed.returncode == 0, fixed.stderr
    assert "governed by the built-in policy, 1 pinned" in fixed.stdout


def test_a_governed_run_withholds_engine_messages_quoting_values(
    tmp_path: Path, cli: Cli, people: list[dict[str, str]]
) -> None:
    derive = "  - type: derive\n    columns: {n: 'CAST(email AS INTEGER)'}\n"
    _pipeline(tmp_path, steps=derive + MASK_ALL, governance="  sample_rows: 100\n")
    done = cli("run", "pipeline.yaml", "--profile", "dev", env=ENV)
    assert done.returncode == 1
    assert "DuckDB could not convert a value: the engine's message is hidden" in done.stderr
    assert not any(row["email"] in done.stderr for row in people)
    _pipeline(tmp_path, steps=derive + MASK_ALL)
    plain = cli("run", "pipeline.yaml", env=ENV)
    assert any(row["email"] in plain.stderr for row in people)  # ungoverned: DuckDB's own text
