"""``tidegate quarantine list|show|replay``: look at rejected rows and load them once fixed."""

from __future__ import annotations

import json
import sys
from pathlib import Path  # noqa: TC003 - typer reads the annotations at runtime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tidegate.app.console import PipelineArg, ProfileOption, SetOption, fail, out
from tidegate.errors import TidegateError

if TYPE_CHECKING:
    import pyarrow as pa

    from tidegate.app.bootstrap import Pipeline

__all__ = ["quarantine_app"]

_RunOption = Annotated[
    str | None, typer.Option("--run", help="Only the rows rejected by this run id.")
]
_JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

quarantine_app = typer.Typer(
    help="Rows the quality rules rejected: list them, show them, replay them once fixed.",
    no_args_is_help=True,
)


def _pipeline(path: Path, sets: list[str] | None, profile: str | None, *, replay: bool) -> Pipeline:
    from tidegate.app.bootstrap import build, load  # noqa: PLC0415 - keeps --help fast
    from tidegate.app.quarantine import readable, replayable  # noqa: PLC0415 - fast --help

    spec = load(path, overrides=sets or ())
    return build(replayable(spec) if replay else readable(spec), profile=profile)


@quarantine_app.command("list")
def list_(pipeline: PipelineArg, set_: SetOption = None, as_json: _JsonOption = False) -> None:
    """Count quarantined rows per run and per rule."""
    from tidegate.app.quarantine import quarantine_of, read_rows, summarise  # noqa: PLC0415

    try:
        built = _pipeline(pipeline, set_, None, replay=False)
        summary = summarise(read_rows(built))
        where = quarantine_of(built).quarantine_name()
    except TidegateError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps({"quarantine": where, **summary}) + "\n")
        return
    if not summary["rows"]:
        out.print(f"{where}: no quarantined rows", highlight=False)
        return
    out.print(f"{where}: {summary['rows']:,} quarantined rows", highlight=False)
    runs = Table("run", "step", "rows", "first", "last")
    for run in summary["runs"]:
        runs.add_row(run["run_id"], run["step"], f"{run['rows']:,}", run["first"], run["last"])
    out.print(runs)
    rules = Table("rule", "rows")
    for rule in summary["rules"]:
        rules.add_row(escape(rule["rule"]), f"{rule['rows']:,}")
    out.print(rules)


@quarantine_app.command()
def show(
    pipeline: PipelineArg,
    set_: SetOption = None,
    run: _RunOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 20,
    as_json: _JsonOption = False,
) -> None:
    """Show quarantined rows with their values, source row and reasons, oldest first."""
    from tidegate.app.quarantine import displayable, read_rows  # noqa: PLC0415 - fast --help

    try:
        table = displayable(read_rows(_pipeline(pipeline, set_, None, replay=False), run_id=run))
    except TidegateError as exc:
        raise fail(exc) from exc
    shown = table.slice(0, limit)
    if as_json:
        rows = [_jsonable(row) for row in shown.to_pylist()]
        sys.stdout.write(json.dumps({"rows": table.num_rows, "shown": rows}) + "\n")
        return
    if table.num_rows == 0:
        out.print("no quarantined rows", highlight=False)
        return
    out.print(_table(shown))
    if table.num_rows > limit:
        out.print(f"… {table.num_rows - limit:,} more (use --limit)", highlight=False)


@quarantine_app.command()
def replay(
    pipeline: PipelineArg,
    set_: SetOption = None,
    profile: ProfileOption = None,
    run: _RunOption = None,
    step: Annotated[
        str | None,
        typer.Option(help="Replay the rows this step rejected (default: the quality rules)."),
    ] = None,
) -> None:
    """Send quarantined rows through the current rules; load those that pass now.

    One transaction: rows that pass are loaded and leave the quarantine, rows that fail again
    stay with their new reasons.
    """
    from tidegate.app.logs import configure_logging  # noqa: PLC0415 - keeps --help fast
    from tidegate.app.quarantine import replay as replay_rows  # noqa: PLC0415

    try:
        built = _pipeline(pipeline, set_, profile, replay=True)
        configure_logging(built.spec.logging.level, built.spec.logging.format)
        plan, result = replay_rows(built, step=step, run_id=run)
    except TidegateError as exc:
        raise fail(exc) from exc
    if result is None:
        out.print(f"nothing to replay from step {plan.step!r}", highlight=False)
        return
    if result.error is not None:
        raise fail(result.error)
    out.print(
        f"replayed {plan.rows:,} rows through {', '.join(plan.steps)}: "
        f"{result.rows_written:,} loaded, {result.rows_rejected:,} still rejected "
        "(kept in the quarantine with their new reasons)",
        highlight=False,
    )


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        for key, value in row.items()
    }


def _table(table: pa.Table) -> Table:
    """One block per row, field by field: quarantined rows are wide, terminals are not."""
    shown = Table("field", "value", show_header=False, box=None, padding=(0, 2))
    own = [name for name in table.column_names if not name.startswith("_tidegate_")]
    for number, row in enumerate(table.to_pylist(), start=1):
        source_row = row.get("_tidegate_row")
        where = f"source row {source_row:,}" if source_row is not None else "source row unknown"
        shown.add_row(
            f"[bold]#{number}[/]",
            f"[bold]{escape(where)}, batch {row.get('_tidegate_batch')}, "
            f"run {escape(str(row.get('_tidegate_run_id')))}[/]",
        )
        shown.add_row("reason", f"[red]{escape(str(row.get('_tidegate_reason')))}[/]")
        for name in own:
            value = row.get(name)
            shown.add_row(escape(name), "" if value is None else escape(str(value)))
        shown.add_row("", "")
    return shown
