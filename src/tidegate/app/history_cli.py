"""``tidegate runs [PIPELINE]`` and ``tidegate show RUN_ID``: the run history, for people.

The store is the pipeline's (its ``observability.state``, by default SQLite beside it), or
``--state URL``, or ``.tidegate/state.db`` in the working folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from tidegate.app.console import out
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from tidegate.state import RunDetail, StateStore

__all__ = ["runs_command", "show_command"]

_STATUS = {"succeeded": "green", "failed": "bold red", "running": "yellow"}


def open_store(
    pipeline: Path | None, state: str | None, sets: list[str]
) -> tuple[StateStore, str | None]:
    """The state store to read and the pipeline name to filter on (None: every pipeline)."""
    from tidegate.app.observing import state_url  # noqa: PLC0415 - keeps --help fast
    from tidegate.state import StateStore, default_state_url  # noqa: PLC0415

    name = None
    if state is None and pipeline is not None:
        from tidegate.app.bootstrap import load  # noqa: PLC0415

        spec = load(pipeline, overrides=sets)
        state, name = state_url(spec), spec.name
    elif state is None:
        local = Path.cwd() / ".tidegate" / "state.db"
        if not local.is_file():
            raise ConfigError(
                f"no run history at {local}",
                hint="name the pipeline (`tidegate runs pipeline.yaml`) or its store (--state URL)",
            )
        state = default_state_url(Path.cwd())
    elif pipeline is not None:
        from tidegate.app.bootstrap import load  # noqa: PLC0415

        name = load(pipeline, overrides=sets).name
    return StateStore.open(state), name


def runs_command(
    pipeline: Path | None, *, state: str | None, limit: int, json_out: bool, sets: list[str]
) -> None:
    """List the latest runs, newest first."""
    store, name = open_store(pipeline, state, sets)
    try:
        rows = store.runs(pipeline=name, limit=limit)
    finally:
        store.close()
    if json_out:
        sys.stdout.write(json.dumps({"runs": [row.to_dict() for row in rows]}) + "\n")
        return
    if not rows:
        out.print(f"no runs recorded in {store.shown_url}", highlight=False)
        return
    one = name is not None
    headers = ["run", *([] if one else ["pipeline"]), "status", "started UTC", "s", "rows"]
    table = Table(*headers, "rejected", "score", title=name)
    table.columns[0].no_wrap = True  # a run id is what `tidegate show` takes: keep it whole
    table.columns[0].min_width = 36
    for row in rows:
        table.add_row(
            row.run_id,
            *([] if one else [escape(row.pipeline)]),
            f"[{_STATUS.get(row.status, 'default')}]{row.status}[/]"
            + (f" ({row.error_kind})" if row.error_kind else ""),
            row.started_at.strftime("%m-%d %H:%M"),
            "" if row.seconds is None else f"{row.seconds:.2f}",
            "" if row.rows_read is None else f"{row.rows_read:,}",
            "" if row.rows_rejected is None else f"{row.rows_rejected:,}",
            "" if row.quality_score is None else f"{row.quality_score:.1f}",
        )
    out.print(table)


def show_command(
    run_id: str, pipeline: Path | None, *, state: str | None, json_out: bool, sets: list[str]
) -> None:
    """Everything recorded of one run: outcome, where the time went, steps, quality, columns."""
    store, _ = open_store(pipeline, state, sets)
    try:
        detail = store.find(run_id)
    finally:
        store.close()
    if json_out:
        sys.stdout.write(json.dumps(detail.to_dict(), default=str) + "\n")
        return
    _print(detail)


def _print(detail: RunDetail) -> None:
    run = detail.run
    status = run["status"]
    out.print(
        f"[bold]run {run['run_id']}[/] of {escape(run['pipeline'])}: "
        f"[{_STATUS.get(status, 'default')}]{status}[/]"
        + (f" ({run['error_kind']})" if run["error_kind"] else ""),
    )
    summary = Table(show_header=False, box=None, padding=(0, 2))
    for label, value in (
        ("started", run["started_at"]),
        ("finished", run["finished_at"]),
        ("seconds", _num(run["seconds"], ".3f")),
        ("rows read", _num(run["rows_read"], ",")),
        ("rows written", _num(run["rows_written"], ",")),
        ("rows rejected", _num(run["rows_rejected"], ",")),
        ("batches", _num(run["batches"], ",")),
        ("quality score", _num(run["quality_score"], ".1f")),
        ("resumed from", run["resumed_from"]),
        ("profile", run["profile"]),
        ("host / user", f"{run['host']} / {run['user_name']}"),
        ("tidegate", run["version"]),
        ("spec", run["spec_hash"][:16]),
    ):
        if value not in (None, ""):
            summary.add_row(label, escape(str(value)))
    out.print(summary)
    if run["error"]:
        out.print(f"[red]error:[/] {escape(run['error'])}")
    figures = run.get("figures")
    if figures:
        _print_figures(figures)
    if detail.steps:
        steps = Table(
            "step",
            "batches",
            "rows in",
            "rows out",
            "rejected",
            "seconds",
            title="steps",
            title_justify="left",
        )
        for step in detail.steps:
            steps.add_row(
                escape(step["step"]),
                f"{step['batches']:,}",
                f"{step['rows_in']:,}",
                f"{step['rows_out']:,}",
                f"{step['rejected']:,}",
                f"{step['seconds']:.3f}",
            )
        out.print(steps)
    if detail.regressions:
        for found in detail.regressions:
            out.print(
                f"[yellow]regression:[/] {found['metric']} {found['value']:,.2f} against a "
                f"baseline of {found['mean']:,.2f} ± {found['stddev']:,.2f} over "
                f"{found['runs']} runs ({found['sigmas']:+.1f} standard deviations)"
            )
    if detail.quality is not None:
        failed = {r["id"]: r["failed"] for r in detail.quality["rules"] if r.get("failed")}
        out.print(
            f"quality score {_num(detail.quality['score'], '.1f') or 'n/a'}; rules failed: "
            + (", ".join(f"{escape(str(k))} {v:,}" for k, v in failed.items()) or "none")
        )
    found_pii = [c for c in detail.columns if c["pii_type"] != "none"]
    if found_pii:
        out.print(
            "personal data: "
            + ", ".join(
                f"{escape(c['column_name'])} ({c['pii_type']}, {c['level']}, {c['applied']})"
                for c in found_pii
            )
        )


def _print_figures(figures: dict[str, Any]) -> None:
    from tidegate.observability.performance import RunFigures, where_time_went  # noqa: PLC0415

    measured = RunFigures.from_dict(figures)
    time_table = Table("where the time went", "seconds", "share", title_justify="left")
    for label, seconds, share in where_time_went(measured):
        time_table.add_row(escape(label), f"{seconds:.3f}", f"{share:.0%}")
    out.print(time_table)
    out.print(
        f"cpu {measured.cpu_seconds:.2f} s, peak RSS {measured.peak_rss_bytes / 2**20:,.0f} MB, "
        f"{measured.rows_per_s:,.0f} rows/s, {measured.bytes_per_s / 2**20:,.1f} MB/s; "
        f"batch latency p50 {measured.batch_p50 * 1000:.0f} ms, "
        f"p95 {measured.batch_p95 * 1000:.0f} ms, max {measured.batch_max * 1000:.0f} ms",
        highlight=False,
    )
    out.print(
        f"energy {measured.energy_kwh * 1000:.3f} Wh, {measured.co2e_g:.3f} gCO2e "
        f"({measured.energy_model})",
        highlight=False,
    )


def _num(value: Any, spec: str) -> str:
    return "" if value is None else format(value, spec)
