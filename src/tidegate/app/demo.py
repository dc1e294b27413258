"""``tidegate demo``: generate the seeded dataset, run the example pipeline, suggest next steps."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.demo_data import generate
from tidegate.app.summary import AuditSummary, GovernanceSummary, QualitySummary
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from tidegate.events import Listener

__all__ = ["run_demo"]

PREVIEW = """
SELECT country, country_name, region, count(*) AS customers,
       count(DISTINCT email_domain) AS email_domains, round(avg(age_at_signup), 1) AS age_at_signup,
       max(signup_date) AS last_signup
FROM customers GROUP BY ALL ORDER BY customers DESC LIMIT 5
"""


FAILING = (
    "observability.alerts={channels: {console: {type: console}}, cooldown: 1s}",
    "owner=data-platform@example.com",
    "criticality=1",
    "consumers=[Finance daily revenue report, CRM segment sync]",
)
"""What ``tidegate demo --fail`` sets on the example: an alert channel on the terminal and the
business facts an alert names."""

FAULT = "mid_batch:raise:data@1"
"""The failure ``--fail`` injects: a data error in the first batch (not retried: it is data)."""


def run_demo(
    folder: Path, *, rows: int, seed: int, out: Console, err: Console, fail: bool = False
) -> None:
    """Generate data into ``folder/data`` and run ``folder/pipeline.yaml`` on it.

    With ``fail`` the run fails on purpose (an injected data error) and the alert it raises
    is shown in the terminal, the way an on-call engineer would get it by email or chat.
    """
    pipeline = folder / "pipeline.yaml"
    if not pipeline.is_file():
        raise ConfigError(
            f"demo pipeline not found: {pipeline}",
            hint="run `tidegate demo` from the Tidegate repository root, or pass --dir",
        )
    began = time.perf_counter()
    files = generate(folder / "data", rows=rows, seed=seed)
    out.print(
        f"generated {files.customer_rows:,} customers and {files.order_rows:,} orders "
        f"in {time.perf_counter() - began:.1f}s into {_shown(files.customers.parent)}/",
        highlight=False,
    )
    made = _demo_keys(folder / ".tidegate" / "keys")
    if made:
        out.print(
            f"made demo keys {', '.join(made)} in {_shown(folder / '.tidegate' / 'keys')}/ "
            "(never commit real keys)",
            highlight=False,
        )
    from tidegate.app.progress import ProgressListener  # noqa: PLC0415 - terminal only

    quality = QualitySummary()
    governance = GovernanceSummary()
    audit = AuditSummary()
    listeners: list[Listener] = [quality, governance, audit]
    if err.is_terminal:
        listeners.append(ProgressListener(err))
    # The data was just generated anew, so an interrupted earlier demo is started over.
    result = run_pipeline(
        pipeline,
        overrides=FAILING if fail else (),
        listeners=listeners,
        log_level="error",
        on_unfinished="fresh",
        inject=(FAULT,) if fail else (),
    )
    if fail:
        out.print(
            f"\n[bold red]demo run failed on purpose[/] (run {result.run_id}): the alert above "
            "is what the on-call engineer receives by email, Slack, Teams or a webhook; the "
            "next successful run sends 'resolved' (`tidegate demo`).",
            highlight=False,
        )
        return
    if result.error is not None:
        raise result.error
    warehouse = folder / ".tidegate" / "warehouse.duckdb"
    rate = result.rows_written / max(result.seconds, 1e-9)
    out.print(
        f"\n[bold green]demo run succeeded[/] (run {result.run_id})\n"
        f"  rows read {result.rows_read:,}, written {result.rows_written:,}, "
        f"rejected {result.rows_rejected:,} in {result.seconds:.2f}s ({rate:,.0f} rows/s)\n"
        f"  warehouse: {_shown(warehouse)}, table customers\n",
        highlight=False,
    )
    if governance.classified is not None:
        out.print(governance.table())
        out.print(
            "  found by value checks (Luhn, IBAN, national id checksums, phone numbering plans, "
            "name lists), not by column names\n",
            highlight=False,
        )
    if quality.measured is not None:
        out.print(quality.table())
        out.print(
            f"  {result.rows_rejected:,} rejected rows are kept with their reasons in the "
            "table customers__quarantine (personal data encrypted)\n",
            highlight=False,
        )
    out.print(_preview(warehouse), highlight=False)
    if audit.head is not None:
        out.print(
            f"\n  audit head {audit.head} (signed into "
            f"{_shown(Path(audit.anchored_in)) if audit.anchored_in else 'no head file'})",
            highlight=False,
        )
    prog = _program()
    spec = _shown(pipeline)
    out.print(
        "\n[bold]try next[/]\n"
        f"  {prog} validate {spec}\n"
        f"  {prog} quarantine list {spec}      # what was rejected, by rule\n"
        f"  {prog} quarantine show {spec} --limit 5\n"
        f"  {prog} run {spec} --profile prod   # stricter thresholds\n"
        f"  {prog} runs {spec}           # run history; then `{prog} show RUN_ID {spec}`\n"
        f"  {prog} classify {spec}       # what governance finds and requires, per column\n"
        f"  {prog} decrypt {spec} --column national_id --limit 3   # authorized use only\n"
        f"  {prog} audit verify {spec}   # the hash-chained audit trail still holds\n"
        f"  {prog} lineage show {spec}   # where every loaded column comes from\n"
        f"  {prog} serve {spec}          # the dashboard on http://127.0.0.1:8765/\n"
        f"  {prog} profile {_shown(files.customers)} --rows 20000   # statistics, rule ideas\n"
        f"  {prog} run {spec} --log-format json --log-level debug\n"
        f"  {prog} run {spec} --set destination.table=customers_copy\n"
        f"  {prog} run {spec} --set destination='{{type: files, path: out/customers.parquet}}'\n"
        f"  {prog} init my_pipeline      # scaffold your own\n"
        f"  {prog} schema > pipeline.schema.json   # editor completion",
        highlight=False,
    )


def _demo_keys(folder: Path) -> list[str]:
    """Make the demo pipeline's mask, encryption, audit chain and audit head keys when
    missing; their names.

    Real pipelines keep keys in a secret store or files only their service user can read; the
    demo makes throwaway ones (mode 600) so it runs anywhere.
    """
    from tidegate.governance.keys import generate_key  # noqa: PLC0415 - only the demo

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name in ("mask.key", "demo.v1", "audit.key", "audit-head.key"):
        path = folder / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(generate_key() + "\n", encoding="utf-8")
            made.append(name)
    return made


def _preview(warehouse: Path) -> str:
    """What the demo loaded, by country: only rows that passed the quality rules."""
    import duckdb  # noqa: PLC0415 - only the demo reads the warehouse back

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return str(con.sql(PREVIEW))


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _program() -> str:
    """How the user invoked tidegate, so the suggested commands can be pasted as they are."""
    argv0 = sys.argv[0]
    if argv0.endswith("__main__.py"):
        return f"{_shown(Path(sys.executable))} -m tidegate"
    if os.sep in argv0:
        return _shown(Path(argv0))
    return "tidegate"
