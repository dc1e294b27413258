"""Bad input through the CLI: a short actionable message with its location, exit code 2
(configuration) or 1 (run), and the destination left exactly as it was."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from tests.e2e.conftest import Cli, table_names, table_rows

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

GOOD_CSV = (
    "id,name,email\n1,Ada,ada@example.org\n2,Alan,alan@example.org\n3,Grace,grace@example.org\n"
)

PIPELINE = """\
name: people
source:
  type: csv
  path: {path}
  columns:
    id: int64
steps:
  - type: sql
    name: clean
    query: SELECT id, trim(name) AS name, lower(email) AS email FROM input
destination:
  type: duckdb
  path: wh.duckdb
  table: people
  mode: append
"""


@pytest.fixture
def loaded(tmp_path: Path, cli: Cli) -> list[tuple[object, ...]]:
    """A warehouse holding one good load; returns its rows for later comparison."""
    (tmp_path / "people.csv").write_text(GOOD_CSV, encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(PIPELINE.format(path="people.csv"), encoding="utf-8")
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    rows = table_rows(tmp_path / "wh.duckdb", "people")
    assert len(rows) == 3
    return rows


def _unchanged(tmp_path: Path, before: list[tuple[object, ...]]) -> None:
    assert table_rows(tmp_path / "wh.duckdb", "people") == before
    assert table_names(tmp_path / "wh.duckdb") == ["people"]


def test_missing_pipeline_file(cli: Cli) -> None:
    done = cli("run", "nowhere.yaml")
    assert done.returncode == 2
    assert "nowhere.yaml" in done.stderr
    assert "tidegate init" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_data_file(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    done = cli("run", "pipeline.yaml", "--set", "source.path=missing.csv")
    assert done.returncode == 2, done.stderr
    assert "missing.csv" in done.stderr
    assert "Traceback" not in done.stderr
    _unchanged(tmp_path, loaded)


def test_file_that_is_not_csv(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
    (tmp_path / "image.csv").write_bytes(png + bytes(range(256)) * 4)
    done = cli("run", "pipeline.yaml", "--set", "source.path=image.csv")
    assert done.returncode == 1, done.stderr
    assert "image.csv" in done.stderr
    assert "CSV" in done.stderr
    assert "Traceback" not in done.stderr
    _unchanged(tmp_path, loaded)


def test_wrong_encoding(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    (tmp_path / "latin.csv").write_bytes(
        "id,name,email\n4,Zoë Müller,zoe@example.org\n".encode("latin-1")
    )
    done = cli("run", "pipeline.yaml", "--set", "source.path=latin.csv")
    assert done.returncode == 1, done.stderr
    assert "latin.csv" in done.stderr
    assert "latin-1" in done.stderr
    _unchanged(tmp_path, loaded)
    fixed = cli(
        "run", "pipeline.yaml", "--set", "source.path=latin.csv", "--set", "source.encoding=latin-1"
    )
    assert fixed.returncode == 0, fixed.stderr
    assert (4, "Zoë Müller", "zoe@example.org") in table_rows(tmp_path / "wh.duckdb", "people")


def test_ragged_row_names_its_line(
    tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]
) -> None:
    (tmp_path / "ragged.csv").write_text(
        "id,name,email\n4,Ann,ann@example.org\n5,Bob,bob@example.org,extra\n6,Cy,cy@example.org\n",
        encoding="utf-8",
    )
    done = cli("run", "pipeline.yaml", "--set", "source.path=ragged.csv")
    assert done.returncode == 1, done.stderr
    assert "ragged.csv" in done.stderr
    assert "line 3" in done.stderr
    _unchanged(tmp_path, loaded)


def test_ragged_row_quarantined(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    (tmp_path / "ragged.csv").write_text(
        "id,name,email\n4,Ann,ann@example.org\n5,Bob,bob@example.org,extra\n6,Cy,cy@example.org\n",
        encoding="utf-8",
    )
    done = cli(
        "run",
        "pipeline.yaml",
        "--set",
        "source.path=ragged.csv",
        "--set",
        "source.on_malformed=quarantine",
        "--set",
        "source.quarantine_path=bad_rows.csv",
    )
    assert done.returncode == 0, done.stderr
    assert '"rows_rejected": 1' in done.stdout
    ids = [row[0] for row in table_rows(tmp_path / "wh.duckdb", "people")]
    assert ids == [1, 2, 3, 4, 6]
    quarantined = (tmp_path / "bad_rows.csv").read_text(encoding="utf-8")
    assert "5,Bob,bob@example.org,extra" in quarantined
    assert "3" in quarantined.splitlines()[1]


def test_unterminated_quote(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    (tmp_path / "quote.csv").write_text(
        'id,name,email\n4,"Ann,ann@example.org\n5,Bob,bob@example.org\n', encoding="utf-8"
    )
    done = cli("run", "pipeline.yaml", "--set", "source.path=quote.csv")
    assert done.returncode == 1, done.stderr
    assert "quote.csv" in done.stderr
    assert "line" in done.stderr
    _unchanged(tmp_path, loaded)


def test_unknown_key_with_typo(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    text = PIPELINE.format(path="people.csv").replace("  table: people", "  tabel: people")
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 2, done.stderr
    assert "pipeline.yaml:14" in done.stderr
    assert "destination.tabel" in done.stderr
    assert "did you mean 'table'" in done.stderr
    _unchanged(tmp_path, loaded)


def test_wrong_type_in_spec(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    text = PIPELINE.format(path="people.csv").replace("  mode: append", "  mode: [append]")
    text = text.replace("    id: int64", "    id: int64\n  block_size: lots")
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    done = cli("validate", "pipeline.yaml")
    assert done.returncode == 2, done.stderr
    assert "source.block_size" in done.stderr
    assert "destination.mode" in done.stderr
    assert "pipeline.yaml:7" in done.stderr
    _unchanged(tmp_path, loaded)


def test_unset_environment_variable(
    tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]
) -> None:
    text = PIPELINE.format(path="${PEOPLE_FILE}")
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 2, done.stderr
    assert "PEOPLE_FILE" in done.stderr
    assert "pipeline.yaml:4" in done.stderr
    _unchanged(tmp_path, loaded)
    ok = cli("run", "pipeline.yaml", env={"PEOPLE_FILE": "people.csv"})
    assert ok.returncode == 0, ok.stderr


def test_unreachable_sql_url(tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]]) -> None:
    text = PIPELINE.format(path="people.csv").replace(
        "  type: csv\n  path: people.csv\n",
        "  type: sql\n  url: env:SOURCE_URL\n  query: SELECT 1 AS id\n",
    )
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    url = "postgresql+psycopg://etl:Sup3rSecret-pw@127.0.0.1:1/crm"
    done = cli("run", "pipeline.yaml", env={"SOURCE_URL": url})
    assert done.returncode == 1, done.stderr
    assert "127.0.0.1:1" in done.stderr
    assert "Sup3rSecret-pw" not in done.stderr + done.stdout
    _unchanged(tmp_path, loaded)


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "no such resource"}')

    def log_message(self, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def http_404() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rest_404(
    tmp_path: Path, cli: Cli, loaded: list[tuple[object, ...]], http_404: str
) -> None:
    text = PIPELINE.format(path="people.csv").replace(
        "  type: csv\n  path: people.csv\n",
        f"  type: rest\n  url: {http_404}/v1/people\n  records_path: data\n",
    )
    (tmp_path / "pipeline.yaml").write_text(text, encoding="utf-8")
    done = cli("run", "pipeline.yaml")
    assert done.returncode in (1, 2), done.stderr
    assert "404" in done.stderr
    assert "/v1/people" in done.stderr
    assert "Traceback" not in done.stderr
    _unchanged(tmp_path, loaded)


def test_error_text_keeps_square_brackets(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "pipeline.yaml").write_text(
        PIPELINE.format(path="people.csv").replace("    id: int64", "    id: timestamp[xs]"),
        encoding="utf-8",
    )
    done = cli("validate", "pipeline.yaml")
    assert done.returncode == 2
    assert "pipeline.yaml:6" in done.stderr
    assert "'timestamp[xs]'" in done.stderr
    assert "timestamp[s|ms|us|ns]" in done.stderr
