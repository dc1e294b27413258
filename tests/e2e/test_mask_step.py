"""The mask step in a pipeline: values masked on the way, the key never in the output or logs."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from tests.e2e.conftest import table_rows

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

KEY = "k3y-that-must-not-leak"

PIPELINE = """\
name: masked
source:
  type: csv
  path: people.csv
  columns: {phone: string}
  null_values: [""]
steps:
  - type: mask
    key: env:TIDEGATE_TEST_MASK_KEY
    columns:
      email: {strategy: hash}
      phone: {strategy: partial, keep: 4}
      born: {strategy: generalize, to: year}
destination:
  type: duckdb
  path: out.duckdb
  table: people
"""


def test_a_mask_step_masks_columns_and_never_shows_its_key(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "people.csv").write_text(
        "id,email,phone,born\n1,ann@example.com,+44 20 7946 0123,1990-05-17\n2,,,\n",
        encoding="utf-8",
    )
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    done = cli("run", "pipeline.yaml", "--log-level", "debug", env={"TIDEGATE_TEST_MASK_KEY": KEY})
    assert done.returncode == 0, done.stderr
    rows = {row[0]: row for row in table_rows(tmp_path / "out.duckdb", "people")}
    email, phone, born = rows[1][1], rows[1][2], rows[1][3]
    assert email == hmac.new(KEY.encode(), b"ann@example.com", hashlib.sha256).hexdigest()
    assert phone.endswith("0123")
    assert "7946" not in phone
    assert str(born).startswith("1990-01-01")
    assert rows[2][1:] == (None, None, None)  # null stays null
    assert KEY not in done.stdout + done.stderr
