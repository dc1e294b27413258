"""``tidegate errors``: the error classification matrix (DESIGN §4), for people and scripts.

It prints ``tidegate.core.taxonomy.matrix()``: per kind whether it is retried, its severity,
who is alerted and how fast, and the rules that map driver and library exceptions to it. The
same table generates ``docs/errors.md``, so what the command says and the docs say agree.
"""

from __future__ import annotations

import json
import sys

from rich.markup import escape
from rich.table import Table

from tidegate.app.console import out
from tidegate.core.taxonomy import KIND_POLICIES, RULES, matrix

__all__ = ["errors_command"]


def errors_command(json_out: bool) -> None:
    """Print the classification matrix: a table per kind and the rules, or JSON."""
    if json_out:
        sys.stdout.write(json.dumps({"kinds": matrix(), "rule_count": len(RULES)}) + "\n")
        return
    summary = Table(
        "kind", "retried", "severity", "escalation", "next action", "examples", show_lines=True
    )
    for kind, policy in KIND_POLICIES.items():
        examples = [rule.example for rule in RULES if rule.kind is kind][:3]
        summary.add_row(
            str(kind),
            escape(policy.retried),
            str(policy.severity),
            escape(policy.escalation),
            escape(policy.next_step()),
            escape("\n".join(examples)),
        )
    out.print(summary)
    detail = Table("#", "matches", "kind", "severity", title="rules, first match wins")
    for number, rule in enumerate(RULES, start=1):
        detail.add_row(str(number), escape(rule.matches), str(rule.kind), str(rule.severity))
    out.print(detail)
