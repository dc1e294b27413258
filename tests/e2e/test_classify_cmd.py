"""``tidegate classify``: PII found in a CSV, with evidence but never a value shown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from stdnum import iban, luhn

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli


def _card(i: int) -> str:
    body = f"4{i:014d}"
    return body + luhn.calc_check_digit(body)


def _iban(i: int) -> str:
    bban = f"WEST{12345600000000 + i:014d}"  # a UK BBAN: bank code and 14 digits
    return f"GB{iban.calc_check_digits('GB00' + bban)}{bban}"


def test_classify_names_the_pii_columns_and_leaves_the_decoys(tmp_path: Path, cli: Cli) -> None:
    lines = ["ref,contact,card,account,order_id,email_sent"]
    for i in range(1, 61):
        sent = "true" if i % 2 else "false"
        lines.append(f"{i},person{i}@example.org,{_card(i)},{_iban(i)},ORD-{i:06d},{sent}")
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    done = cli("classify", "people.csv", "--json")

    assert done.returncode == 0, done.stderr
    found = {c["column"]: c for c in json.loads(done.stdout)["columns"]}
    assert {name: c["pii_type"] for name, c in found.items()} == {
        "ref": "none",
        "contact": "email",
        "card": "credit_card",
        "account": "iban",
        "order_id": "none",
        "email_sent": "none",  # a name alone never makes a column PII
    }
    assert found["card"]["level"] == "restricted"
    assert found["contact"]["evidence"]["ratio"] == 1.0
    assert "person1@example.org" not in done.stdout + done.stderr
    table = cli("classify", "people.csv")
    assert table.returncode == 0, table.stderr
    assert "credit_card" in table.stdout
