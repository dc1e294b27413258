"""The encrypt step: columns stored as AES-256-GCM ciphertexts by a real pipeline run.

Pipelines are loaded from YAML and run in process into a DuckDB file, a PostgreSQL database of
the module's own (127.0.0.1:5432) and a CSV file (the base64 text form); the stored values are
then read back through the destination and decrypted with the step's keyring and bound table.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from structlog.testing import capture_logs

from tidegate.app.bootstrap import Pipeline, build, load
from tidegate.core.context import RunContext
from tidegate.core.protocols import RowsRead
from tidegate.errors import ConfigError, SecurityError, SpecError
from tidegate.events import EventBus
from tidegate.governance.encrypt import decrypt_column
from tidegate.governance.encrypt_step import EncryptSettings, EncryptStep
from tidegate.governance.keys import generate_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

PEOPLE = "id,email,salary\n1,ann@example.com,52000\n2,,61000\n3,bob@example.org,\n"
CLEAR = {"email": ["ann@example.com", None, "bob@example.org"], "salary": [52000, 61000, None]}


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = generate_key()
    monkeypatch.setenv("TIDEGATE_TEST_ENCRYPT_KEY", value)
    return value


@pytest.fixture(scope="module")
def pg_url(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with postgres_database("tidegate_test_encrypt_") as url:
        yield url


def pipeline(tmp_path: Path, destination: str, *, step: str = "") -> Pipeline:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        f"""\
name: people
source: {{type: csv, path: people.csv, null_values: [""]}}
steps:
  - type: encrypt
    name: seal
    keys: {{main: {{1: env:TIDEGATE_TEST_ENCRYPT_KEY}}}}
    columns: [email, salary]
{step}destination: {destination}
""",
        encoding="utf-8",
    )
    return build(load(tmp_path / "pipeline.yaml"))


def run(built: Pipeline) -> None:
    result = built.run()
    assert result.error is None, result.error
    assert result.rows_written == 3


def read_back(built: Pipeline) -> pa.Table:
    destination = built.destination
    assert isinstance(destination, RowsRead)
    destination.open(built.context())
    try:
        return destination.read_rows().sort_by("id")
    finally:
        destination.rollback()
        destination.close()


def decrypted(built: Pipeline, table: pa.Table, column: str) -> list[object]:
    step = built.steps[0]
    assert isinstance(step, EncryptStep)
    values = decrypt_column(
        table.column(column), keyring=step.keyring, table=step.bound_table("people"), column=column
    )
    return values.to_pylist()


def test_round_trip_through_duckdb_stores_binary_ciphertexts(tmp_path: Path, key: str) -> None:
    built = pipeline(tmp_path, "{type: duckdb, path: out.duckdb, table: people}")
    with capture_logs() as logs:
        run(built)
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as con:
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns()").fetchall())
        stored = con.execute("SELECT email FROM people ORDER BY id").fetchall()
    assert types["email"] == types["salary"] == "BLOB"
    assert all(b"ann@example.com" not in (value or b"") for (value,) in stored)
    assert stored[1] == (None,)  # null stays null
    table = read_back(built)
    assert table.schema.field("email").type == pa.binary()
    assert decrypted(built, table, "email") == CLEAR["email"]
    assert decrypted(built, table, "salary") == CLEAR["salary"]
    assert table.column("id").to_pylist() == [1, 2, 3]  # other columns untouched
    assert key not in repr(logs)
    assert "ann@example.com" not in repr(logs)


def test_round_trip_through_postgres_stores_bytea(tmp_path: Path, key: str, pg_url: str) -> None:
    url = pg_url.replace("postgresql+psycopg", "postgresql")
    built = pipeline(tmp_path, f"{{type: postgres, url: '{url}', table: people}}")
    run(built)
    with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql")) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'people'"
            ).fetchall()
        )
    assert types["email"] == types["salary"] == "bytea"
    table = read_back(built)
    assert table.schema.field("salary").type == pa.binary()
    assert decrypted(built, table, "email") == CLEAR["email"]
    assert decrypted(built, table, "salary") == CLEAR["salary"]


def test_text_form_into_a_csv_file(tmp_path: Path, key: str) -> None:
    built = pipeline(tmp_path, "{type: files, path: out/people.csv}", step="    text: true\n")
    run(built)
    written = (tmp_path / "out" / "people.csv").read_text(encoding="utf-8")
    assert "ann@example.com" not in written
    assert "52000" not in written
    stored = pacsv.read_csv(
        tmp_path / "out" / "people.csv",
        convert_options=pacsv.ConvertOptions(column_types={"email": pa.string()}),
    )
    first = stored.column("email")[0].as_py()
    assert base64.b64decode(first, validate=True)[0] == 1  # format version 1, as base64
    table = read_back(built)
    assert decrypted(built, table, "email") == CLEAR["email"]
    assert decrypted(built, table, "salary") == CLEAR["salary"]


def test_ciphertexts_are_bound_to_the_pipeline_or_the_table_setting(
    tmp_path: Path, key: str
) -> None:
    built = pipeline(
        tmp_path, "{type: duckdb, path: out.duckdb, table: people}", step="    table: crm\n"
    )
    run(built)
    step = built.steps[0]
    assert isinstance(step, EncryptStep)
    assert step.bound_table("people") == "crm"
    column = read_back(built).column("email")
    opened = decrypt_column(column, keyring=step.keyring, table="crm", column="email")
    assert opened.to_pylist() == CLEAR["email"]
    with pytest.raises(SecurityError, match="another table or column"):
        decrypt_column(column, keyring=step.keyring, table="people", column="email")


def make_step(**settings: object) -> EncryptStep:
    keys = settings.pop("keys", {"main": {1: generate_key()}})
    return EncryptStep(EncryptSettings.model_validate({"keys": keys, **settings}), name="seal")


def test_a_missing_column_is_named_with_the_batch_columns() -> None:
    step = make_step(columns=["email", "phone"])
    ctx = RunContext(run_id="r", pipeline="p", bus=EventBus())
    batch = pa.record_batch({"id": [1], "email": ["a@b.c"]})
    with pytest.raises(ConfigError, match="encrypt step 'seal': column\\(s\\) 'phone'") as caught:
        step.process(batch, ctx)
    assert caught.value.hint == "the batch has: id, email"


def test_without_a_keyring_the_step_says_where_keys_come_from() -> None:
    with pytest.raises(ConfigError, match="encrypt step 'seal' has no keyring") as caught:
        EncryptStep(EncryptSettings(columns=["email"]), name="seal")
    assert caught.value.hint == (
        "add governance.keys to the pipeline (or keys: to the step); create a key with "
        "`tidegate keys generate`"
    )


def test_a_key_id_not_in_the_ring_and_a_bad_key_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="encrypt step 'seal': default key id 'other' is not in"):
        make_step(columns=["email"], key_id="other")
    with pytest.raises(ConfigError, match=r"encrypt step 'seal': .*not valid base64") as caught:
        make_step(columns=["email"], keys={"main": {1: "not a key!"}})
    assert "not a key!" not in str(caught.value)


@pytest.mark.parametrize(
    ("columns", "message"),
    [([], "at least 1 item"), (["email", "email"], "'email' listed more than once")],
)
def test_columns_are_required_and_distinct(columns: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EncryptSettings(columns=columns)


def test_a_pipeline_file_with_a_duplicate_column_is_a_spec_error(tmp_path: Path, key: str) -> None:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        "name: people\nsource: {type: csv, path: people.csv}\nsteps:\n"
        "  - {type: encrypt, keys: {main: {1: env:TIDEGATE_TEST_ENCRYPT_KEY}}, "
        "columns: [email, email]}\ndestination: {type: duckdb, table: people}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="listed more than once") as caught:
        load(tmp_path / "pipeline.yaml")
    assert key not in str(caught.value)


def test_protections_name_every_column_and_rows_are_kept() -> None:
    step = make_step(columns=["email", "salary"])
    assert step.protections == {"email": "encrypt", "salary": "encrypt"}
    assert EncryptStep.keeps_rows is True
    assert EncryptStep.kind == "encrypt"
    assert "main v1" in repr(step.keyring)
