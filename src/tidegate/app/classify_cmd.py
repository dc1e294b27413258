"""``tidegate classify FILE|pipeline.yaml``: which columns hold personal data, and why.

A data file is read through its source plugin and sampled by ``classify_table``: the verdict
per column (type, confidence, default level, evidence). A pipeline gets what its runs would
get, without loading anything: its source's first rows are classified, run through its steps,
and the pipeline's policy, profile, pins and protections decide per column (required action,
what the steps do, ok or blocked), so a steward can check a pipeline before it runs. Printed as
a table, or as JSON for scripts. No value is printed: evidence says what matched and on which
share, never a sample.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tidegate.app.logs import configure_logging
from tidegate.app.profiling import file_batches
from tidegate.core import StepResult
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.governance.gate import Governance
    from tidegate.governance.policy import Decision

__all__ = ["classify_command"]

_PIPELINE = {".yaml", ".yml"}


def classify_command(
    target: Path,
    *,
    sample_rows: int,
    json_out: bool,
    sets: list[str],
    profile: str | None = None,
) -> bool:
    """Classify ``target``'s columns and print the verdicts (a pipeline's: the decisions).

    Returns False when a run of the pipeline would be blocked by its policy.
    """
    from tidegate.governance.classify import PiiType, classify_table  # noqa: PLC0415

    configure_logging("warning", "auto")  # stdout carries the verdicts; logs go to stderr
    if not target.exists():
        raise ConfigError(
            f"{target} does not exist", hint="give a data file, a Parquet folder or pipeline.yaml"
        )
    if target.suffix.lower() in _PIPELINE:
        governance, decisions = _decisions(target, sets, sample_rows, profile)
        _print_decisions(target, governance, decisions, json_out)
        return not any(d.status == "blocked" for d in decisions)
    batches, _ = file_batches(target, sets)
    verdicts = classify_table(batches, sample_rows=sample_rows)
    if json_out:
        document = {"target": str(target), "columns": [v.to_dict() for v in verdicts]}
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return True
    table = Table("column", "pii type", "confidence", "level", "evidence", title=target.name)
    for verdict in verdicts:
        evidence = verdict.evidence
        found = verdict.pii_type != PiiType.NONE
        table.add_row(
            escape(verdict.column),
            f"[bold]{verdict.pii_type}[/]" if found else str(verdict.pii_type),
            f"{verdict.confidence:.2f}",
            str(verdict.level),
            escape(
                f"{evidence.matched} on {evidence.ratio:.0%} of {evidence.sampled:,} sampled"
                + (f", header says {evidence.header_hint}" if evidence.header_hint else "")
            ),
        )
    Console().print(table)
    return True


def _decisions(
    target: Path, sets: list[str], sample_rows: int, profile: str | None
) -> tuple[Governance, list[Decision]]:
    """What a run of the pipeline would decide, from its source's first ``sample_rows`` rows."""
    import pyarrow as pa  # noqa: PLC0415 - keeps --help fast

    from tidegate.app.bootstrap import build, load, secret_values  # noqa: PLC0415
    from tidegate.observability.logging import SecretRedactor  # noqa: PLC0415

    spec = load(target, overrides=sets)
    configure_logging("warning", spec.logging.format, SecretRedactor(secret_values(spec)))
    pipeline = build(spec, profile=profile)
    governance = pipeline.governance(always=True)
    assert governance is not None  # noqa: S101 - always=True gives one
    governance.sample_rows = sample_rows
    context = pipeline.context()
    head: list[pa.RecordBatch] = []
    held = 0
    batches = pipeline.source.read(context)
    try:
        for item in batches:
            head.append(item.batch.slice(0, sample_rows - held))
            held += head[-1].num_rows
            if held >= sample_rows:
                break
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    if not head:
        raise ConfigError(
            f"the source of {target.name} holds no rows to classify",
            hint="classify once the source has data",
        )
    batch = pa.Table.from_batches(head).combine_chunks().to_batches()[0]
    governance.classify_source(batch)
    at = pipeline.rules_at()
    for index, step in enumerate(pipeline.steps):
        if index == at:
            governance.classify_derived(batch)
        output = step.process(batch, context)
        batch = output.batch if isinstance(output, StepResult) else output
    if governance.derived is None:
        governance.classify_derived(batch)
    return governance, governance.decide(batch, spec.name)


_STATUS = {"ok": "green", "allowed": "yellow", "warned": "yellow", "blocked": "bold red"}


def _print_decisions(
    target: Path, governance: Governance, decisions: list[Decision], json_out: bool
) -> None:
    from tidegate.governance.classify import PiiType  # noqa: PLC0415 - keeps --help fast

    if json_out:
        document = {
            "target": str(target),
            "policy": governance.policy.source,
            "profile": governance.profile,
            "blocked": any(d.status == "blocked" for d in decisions),
            "columns": [d.to_dict() for d in decisions],
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    title = (
        f"{target.name}: {governance.policy.source} policy, "
        f"profile {governance.profile or 'default'}"
    )
    table = Table(
        "column",
        "pii type",
        "conf.",
        "level",
        "required",
        "done",
        "status",
        "evidence",
        title=title,
    )
    for decision in decisions:
        evidence = decision.evidence
        found = "pinned" if decision.origin == "pinned" else str(decision.pii_type)
        table.add_row(
            escape(decision.column),
            found,
            f"{decision.confidence:.2f}",
            str(decision.level),
            decision.required,
            escape(decision.applied),
            f"[{_STATUS[decision.status]}]{decision.status}[/]",
            ""
            if evidence is None or decision.pii_type == PiiType.NONE
            else escape(f"{evidence.ratio:.0%} {evidence.matched}"),
        )
    Console().print(table)
