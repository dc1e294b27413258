"""``tidegate decrypt``: the clear values of encrypted columns, for authorized reading only.

The real CLI runs a pipeline with an encrypt step, then decrypts what it stored: from the
DuckDB destination, from a CSV file of the base64 text form, and from extracts given with
``--input``. A wrong key fails with exit 1 and an error that names the column and key id, with
neither a value nor a key anywhere in the output; every decryption logs ``values_decrypted``.
"""

from __future__ import annotations

import json
import stat
from typing import TYPE_CHECKING

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tidegate.governance.keys import generate_key

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

PEOPLE = "id,email,salary\n1,ann@example.com,52000\n2,,61000\n3,bob@example.org,\n"
CLEAR = ["ann@example.com", "bob@example.org", "52000", "61000"]


def write_pipeline(tmp_path: Path, destination: str, *, text: bool = False) -> None:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        f"""\
name: people
source: {{type: csv, path: people.csv, null_values: [""]}}
steps:
  - type: encrypt
    keys: {{main: {{1: env:TIDEGATE_TEST_KEY}}}}
    columns: [email, salary]
    text: {str(text).lower()}
destination: {destination}
""",
        encoding="utf-8",
    )


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def loaded(tmp_path: Path, cli: Cli, key: str) -> dict[str, str]:
    """A pipeline run into DuckDB; the environment that holds its key."""
    write_pipeline(tmp_path, "{type: duckdb, path: out.duckdb, table: people}")
    env = {"TIDEGATE_TEST_KEY": key}
    done = cli("run", "pipeline.yaml", env=env)
    assert done.returncode == 0, done.stderr
    return env


def rows(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_decrypt_prints_the_clear_values_and_logs_the_access(
    cli: Cli, loaded: dict[str, str], key: str
) -> None:
    done = cli("decrypt", "pipeline.yaml", env=loaded)
    assert done.returncode == 0, done.stderr
    for value in CLEAR:
        assert value in done.stdout
    assert '"event": "values_decrypted"' in done.stderr
    event = next(
        json.loads(line) for line in done.stderr.splitlines() if "values_decrypted" in line
    )
    assert event["pipeline"] == "people"
    assert event["columns"] == ["email", "salary"]
    assert event["rows"] == 3
    assert event["level"] == "warning"
    assert not any(value in done.stderr for value in CLEAR)
    assert key not in done.stdout + done.stderr


def test_json_lines_limit_and_column_filter(cli: Cli, loaded: dict[str, str]) -> None:
    done = cli("decrypt", "pipeline.yaml", "--json", env=loaded)
    assert done.returncode == 0, done.stderr
    by_id = {row["id"]: row for row in rows(done.stdout)}
    assert by_id[1] == {"id": 1, "email": "ann@example.com", "salary": 52000}
    assert by_id[2] == {"id": 2, "email": None, "salary": 61000}
    assert by_id[3] == {"id": 3, "email": "bob@example.org", "salary": None}
    only = cli(
        "decrypt", "pipeline.yaml", "--json", "--column", "salary", "--limit", "2", env=loaded
    )
    assert only.returncode == 0, only.stderr
    shown = rows(only.stdout)
    assert len(shown) == 2
    assert all(row["salary"] in {52000, 61000, None} for row in shown)
    assert all(row["email"] not in CLEAR for row in shown)  # still ciphertext (base64)
    assert '"columns": ["salary"]' in only.stderr


def test_an_unknown_column_lists_the_encrypted_ones(cli: Cli, loaded: dict[str, str]) -> None:
    done = cli("decrypt", "pipeline.yaml", "--column", "phone", env=loaded)
    assert done.returncode == 2
    assert "'phone' are not encrypted by the pipeline" in done.stderr
    assert "the encrypted columns are: email, salary" in done.stderr


def test_a_wrong_key_fails_cleanly_without_leaking(
    cli: Cli, loaded: dict[str, str], key: str
) -> None:
    other = generate_key()
    done = cli("decrypt", "pipeline.yaml", env={"TIDEGATE_TEST_KEY": other})
    assert done.returncode == 1
    assert "error (security)" in done.stderr
    assert "encrypted with a different key than the keyring's 'main' v1" in done.stderr
    assert "Traceback" not in done.stderr
    assert "values_decrypted" not in done.stderr
    output = done.stdout + done.stderr
    assert not any(value in output for value in CLEAR)
    assert key not in output
    assert other not in output


def test_a_pipeline_without_an_encrypt_step_is_refused(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        "name: people\nsource: {type: csv, path: people.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: people}\n",
        encoding="utf-8",
    )
    done = cli("decrypt", "pipeline.yaml")
    assert done.returncode == 2
    assert "pipeline 'people' has no encrypt step" in done.stderr


def test_text_form_csv_output_decrypts_through_the_destination_and_as_input(
    tmp_path: Path, cli: Cli, key: str
) -> None:
    write_pipeline(tmp_path, "{type: files, path: out/people.csv}", text=True)
    env = {"TIDEGATE_TEST_KEY": key}
    assert cli("run", "pipeline.yaml", env=env).returncode == 0
    assert "ann@example.com" not in (tmp_path / "out" / "people.csv").read_text(encoding="utf-8")
    through = cli("decrypt", "pipeline.yaml", "--json", env=env)
    assert through.returncode == 0, through.stderr
    assert {row["email"] for row in rows(through.stdout)} == {
        "ann@example.com",
        "bob@example.org",
        None,
    }
    done = cli(
        "decrypt", "pipeline.yaml", "--input", "out/people.csv", "--output", "clear.csv", env=env
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 3 rows to clear.csv" in done.stderr
    clear = pacsv.read_csv(
        tmp_path / "clear.csv",
        convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    ).sort_by("id")
    assert clear.column("email").to_pylist() == ["ann@example.com", None, "bob@example.org"]
    assert clear.column("salary").to_pylist() == [52000, 61000, None]
    assert stat.S_IMODE((tmp_path / "clear.csv").stat().st_mode) == 0o600


def test_parquet_extract_of_binary_ciphertexts_round_trips(
    tmp_path: Path, cli: Cli, loaded: dict[str, str]
) -> None:
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        con.execute(
            "COPY (SELECT * FROM people ORDER BY id) TO ? (FORMAT parquet)",
            [str(tmp_path / "export.parquet")],
        )
    done = cli(
        "decrypt",
        "pipeline.yaml",
        "--input",
        "export.parquet",
        "--output",
        "clear.parquet",
        env=loaded,
    )
    assert done.returncode == 0, done.stderr
    clear = pq.read_table(tmp_path / "clear.parquet")
    assert clear.column("email").to_pylist() == ["ann@example.com", None, "bob@example.org"]
    assert str(clear.schema.field("salary").type) == "int64"  # the type before encryption
    assert clear.column("salary").to_pylist() == [52000, 61000, None]
    assert '"source": "export.parquet"' in done.stderr
    assert '"output": "clear.parquet"' in done.stderr


def test_the_table_on_screen_shows_the_first_column_and_the_decrypted_ones(
    cli: Cli, loaded: dict[str, str]
) -> None:
    done = cli("decrypt", "pipeline.yaml", "--column", "salary", env=loaded)
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "salary" in line)
    assert "id" in header
    assert "email" not in done.stdout
    assert "52000" in done.stdout
