"""``tidegate errors``: the classification matrix from the real CLI, as JSON and as tables."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tidegate.core.taxonomy import RULES
from tidegate.errors import ErrorKind

if TYPE_CHECKING:
    from tests.e2e.conftest import Cli


def test_errors_json_lists_every_kind_with_its_policy_and_rules(cli: Cli) -> None:
    result = cli("errors", "--json")
    assert result.returncode == 0, result.stderr
    matrix = json.loads(result.stdout)
    kinds = {row["kind"]: row for row in matrix["kinds"]}
    assert set(kinds) == set(ErrorKind)
    assert matrix["rule_count"] == len(RULES)
    assert kinds["transient"]["retried"] == "yes, with backoff"
    assert kinds["data"]["retried"] == "no"
    assert kinds["security"]["severity"] == "critical"
    assert all(row["rules"] and row["escalation"] for row in kinds.values())


def test_errors_prints_the_matrix_for_people(cli: Cli) -> None:
    result = cli("errors", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for kind in ErrorKind:
        assert kind in result.stdout
    assert "first match wins" in result.stdout
