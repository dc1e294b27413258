"""The CLI's happy paths: init -> run, validate, schema, demo, overrides, output formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pc_csv
import pyarrow.parquet as pq

from tests.e2e.conftest import Cli, table_names, table_rows

REPO = Path(__file__).resolve().parents[2]


def test_help_documents_exit_codes(cli: Cli) -> None:
    done = cli("run", "--help")
    assert done.returncode == 0
    assert "0 success" in done.stdout
    assert "2 usage or configuration error" in done.stdout


def test_usage_error_exits_2(cli: Cli) -> None:
    done = cli("run", "--no-such-flag")
    assert done.returncode == 2


def test_init_then_run_loads_the_sample(tmp_path: Path, cli: Cli) -> None:
    created = cli("init", "shop")
    assert created.returncode == 0, created.stderr
    done = cli("run", "shop/pipeline.yaml")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["rows_written"] == 3
    rows = table_rows(tmp_path / "shop" / ".tidegate" / "warehouse.duckdb", "shop")
    assert [row[2] for row in rows] == ["ada@example.org", "alan@example.org", "grace@example.org"]
    again = cli("init", "shop")
    assert again.returncode == 2
    assert "--force" in again.stderr


def test_validate_reports_ok(tmp_path: Path, cli: Cli) -> None:
    cli("init", "shop")
    done = cli("validate", "shop/pipeline.yaml")
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stdout
    assert "source csv" in done.stdout


def test_schema_lists_every_plugin(cli: Cli) -> None:
    done = cli("schema")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    schema = json.loads(text)
    assert "properties" in schema
    for kind in ("csv", "parquet", "jsonl", "rest", "duckdb", "files", "derive", "python"):
        assert f'"{kind}"' in text


def test_json_logs_carry_the_run_id(tmp_path: Path, cli: Cli) -> None:
    cli("init", "shop")
    done = cli("run", "shop/pipeline.yaml", "--log-format", "json", "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert {line["event"] for line in lines} >= {"run_started", "batch_written", "run_finished"}
    assert all(line["run_id"] == run_id for line in lines)


def test_override_writes_a_parquet_file(tmp_path: Path, cli: Cli) -> None:
    cli("init", "shop")
    done = cli(
        "run",
        "shop/pipeline.yaml",
        "--set",
        "destination={type: files, path: out/customers.parquet}",
    )
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "shop" / "out" / "customers.parquet")
    assert table.num_rows == 3
    assert table.column_names == ["id", "name", "email", "signup_date"]
    leftovers = [p.name for p in (tmp_path / "shop" / "out").iterdir()]
    assert leftovers == ["customers.parquet"]


HOSTILE_TABLE = 'a"; DROP TABLE x; --'


def test_hostile_identifiers_load_and_cannot_inject(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "data.csv").write_text(
        '"a""; DROP TABLE x; --","select","Kundennr ä","顧客"\n1,2,3,4\n5,6,7,8\n', encoding="utf-8"
    )
    (tmp_path / "pipeline.yaml").write_text(
        "name: hostile\n"
        "source: {type: csv, path: data.csv}\n"
        "destination: {type: duckdb, path: wh.duckdb, table: placeholder}\n",
        encoding="utf-8",
    )
    seed = cli(
        "run", "pipeline.yaml", "--set", "destination.table=x", "--set", "destination.mode=replace"
    )
    assert seed.returncode == 0, seed.stderr
    done = cli("run", "pipeline.yaml", "--set", f"destination.table='{HOSTILE_TABLE}'")
    assert done.returncode == 0, done.stderr
    warehouse = tmp_path / "wh.duckdb"
    assert table_names(warehouse) == sorted([HOSTILE_TABLE, "x"])
    assert table_rows(warehouse, HOSTILE_TABLE) == [(1, 2, 3, 4), (5, 6, 7, 8)]
    assert table_rows(warehouse, "x") == [(1, 2, 3, 4), (5, 6, 7, 8)]


def test_demo_runs_the_example_pipeline(tmp_path: Path, cli: Cli) -> None:
    shutil.copytree(REPO / "examples" / "customers", tmp_path / "customers", ignore=_generated)
    done = cli("demo", "--dir", "customers", "--rows", "5000")
    assert done.returncode == 0, done.stderr
    assert "demo run succeeded" in done.stdout
    warehouse = tmp_path / "customers" / ".tidegate" / "warehouse.duckdb"
    assert "customers" in table_names(warehouse)
    assert len(table_rows(warehouse, "customers")) >= 4900
    # governance: every PII column found and protected as the shipped policy requires
    assert "governance (built-in policy, profile default)" in done.stdout
    for column, done_how in (
        ("national_id", "encrypt"),
        ("card_number", "encrypt"),
        ("email", "mask:hash"),
        ("notes", "mask:redact"),
        ("full_name", "mask:fake"),  # derived from the names, classified before masking
    ):
        assert any(column in line and done_how in line for line in done.stdout.splitlines())
    data = tmp_path / "customers" / "data" / "customers.csv"
    clear = pc_csv.read_csv(
        data,
        convert_options=pc_csv.ConvertOptions(
            column_types={
                "national_id": pa.string(),
                "card_number": pa.string(),
                "iban": pa.string(),
                "phone": pa.string(),
            }
        ),
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute(
            "SELECT typeof(national_id), typeof(iban), count(*) FROM customers GROUP BY ALL"
        ).fetchall()
        quarantined = con.execute(
            "SELECT DISTINCT typeof(email), typeof(card_number), typeof(full_name) "
            "FROM customers__quarantine"
        ).fetchall()
        cards = {row[0] for row in con.execute("SELECT card_number FROM customers").fetchall()}
    assert [(kind, iban) for kind, iban, _ in loaded] == [("BLOB", "BLOB")]
    assert quarantined == [("BLOB", "BLOB", "BLOB")]
    assert not cards & set(clear.column("card_number").to_pylist())


def _generated(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name in ("data", ".tidegate")]


def test_keys_generate_prints_a_fresh_aes_256_key(cli: Cli) -> None:
    import base64  # noqa: PLC0415 - only this test needs it

    first, second = cli("keys", "generate"), cli("keys", "generate")
    assert first.returncode == 0, first.stderr
    keys = [first.stdout.strip(), second.stdout.strip()]
    assert all(len(base64.b64decode(key, validate=True)) == 32 for key in keys)
    assert keys[0] != keys[1]
    assert "never commit it" in first.stderr
    assert keys[0] not in first.stderr
