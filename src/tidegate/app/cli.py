"""The ``tidegate`` command line: init, validate, run, runs, show, report, serve, health,
profile, classify, quarantine, keys, breaker, decrypt, schema, demo.

Exit codes: 0 success, 1 the run failed, 2 usage or configuration error. Human output goes to
a terminal through rich; when stdout is not a terminal, ``run`` prints one JSON summary line
so scripts can parse it. Logs always go to stderr.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tidegate import __version__
from tidegate.app import changes_cli
from tidegate.app.alerts_cli import alerts_app
from tidegate.app.audit_cli import audit_app
from tidegate.app.breaker_cli import breaker_app
from tidegate.app.console import (
    EXIT_CODES,
    PipelineArg,
    ProfileOption,
    SetOption,
    StateOption,
    err,
    fail,
    out,
)
from tidegate.app.keys_cli import keys_app
from tidegate.app.lineage_cli import lineage_app
from tidegate.app.logs import LEVELS, configure_logging, redact
from tidegate.app.quarantine_cli import quarantine_app
from tidegate.app.summary import AuditSummary, GovernanceSummary, QualitySummary
from tidegate.errors import ConfigError, InternalError, TidegateError

__all__ = ["app", "main"]

app = typer.Typer(
    name="tidegate",
    help="Run observable, resilient and governed ETL pipelines declared in pipeline.yaml.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"tidegate {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Run observable, resilient and governed ETL pipelines declared in pipeline.yaml."""
    configure_logging("warning", "auto")


@app.command(epilog=EXIT_CODES)
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the pipeline in.")] = Path(),
    name: Annotated[str | None, typer.Option(help="Pipeline name (default: folder name).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold a pipeline folder that runs as is: pipeline.yaml, tidegate.yaml, sample data."""
    from tidegate.app.scaffold import scaffold  # noqa: PLC0415 - only this command needs it

    folder = folder.resolve()
    chosen = name or re.sub(r"[^A-Za-z0-9_-]+", "_", folder.name).strip("_") or "pipeline"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", chosen):
        raise fail(
            ConfigError(f"invalid pipeline name {chosen!r}", hint="use letters, digits, _ and -")
        )
    try:
        written = scaffold(folder, name=chosen, force=force)
    except TidegateError as exc:
        raise fail(exc) from exc
    for path in written:
        out.print(f"created {path}", highlight=False)
    out.print(
        f"\nnext: [bold]tidegate run {folder / 'pipeline.yaml'}[/]", markup=True, highlight=False
    )


@app.command(epilog=EXIT_CODES)
def validate(pipeline: PipelineArg, set_: SetOption = None, profile: ProfileOption = None) -> None:
    """Check a pipeline file and report every problem at once, with file, line and key.

    Quality rules are checked against the columns the data will have (read from the source's
    header, metadata or a LIMIT 0 query, through every step), before any row is read.
    """
    from tidegate.app.bootstrap import (  # noqa: PLC0415 - keeps --help fast
        build,
        check_governance,
        check_rules,
        load,
    )

    try:
        spec = load(pipeline, overrides=set_ or ())
        built = build(spec, profile=profile)
        rules = check_rules(built)
        governance = check_governance(built)
    except TidegateError as exc:
        raise fail(exc) from exc
    steps = ", ".join(step.name for step in spec.steps) or "none"
    out.print(
        f"ok: {pipeline} is valid (pipeline {spec.name!r}: source {spec.source.type}, "
        f"steps {steps}, destination {spec.destination.type}; {rules}; {governance})",
        highlight=False,
    )


@app.command(epilog=EXIT_CODES)
def run(  # noqa: PLR0917 - typer maps each command-line option to one parameter
    pipeline: PipelineArg,
    set_: SetOption = None,
    log_level: Annotated[
        str | None, typer.Option(help=f"Log level: {', '.join(LEVELS)} (default from the spec).")
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="Log format: auto, console or json (default from the spec).")
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(help="Show a live progress line (default: on when stderr is a terminal)."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue an interrupted run after its last committed checkpoint."
        ),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Start over even though an interrupted run could be resumed."),
    ] = False,
    profile: ProfileOption = None,
    inject: Annotated[
        list[str] | None,
        typer.Option(
            "--inject",
            metavar="AT:ACTION[:KIND|:SECONDS][@BATCH][%P][xN]",
            help="Inject a fault (repeatable), e.g. before_commit:raise:transient@2, "
            "step:clean:delay:1.5%0.1, after_commit:kill@3.",
        ),
    ] = None,
    allow_faults: Annotated[
        bool,
        typer.Option("--allow-faults", help="Allow fault injection in a production profile."),
    ] = False,
) -> None:
    """Run a pipeline once: source -> steps -> destination, committing batch by batch.

    Each commit stores a checkpoint with the rows, so an interrupted run can be continued with
    --resume: no row lost, none loaded twice.
    """
    from tidegate.app.bootstrap import run_pipeline  # noqa: PLC0415 - keeps --help fast

    if log_level is not None and log_level not in LEVELS:
        raise fail(ConfigError(f"unknown log level {log_level!r}", hint=f"use {', '.join(LEVELS)}"))
    if log_format is not None and log_format not in ("auto", "console", "json"):
        raise fail(
            ConfigError(f"unknown log format {log_format!r}", hint="use auto, console or json")
        )
    if resume and fresh:
        raise fail(ConfigError("--resume and --fresh exclude each other", hint="choose one"))
    quality = QualitySummary()
    governance = GovernanceSummary()
    audit = AuditSummary()
    listeners: list[Any] = [quality, governance, audit]
    if progress if progress is not None else err.is_terminal:
        from tidegate.app.progress import ProgressListener  # noqa: PLC0415 - terminal only

        listeners.append(ProgressListener(err))
    try:
        result = run_pipeline(
            pipeline,
            overrides=set_ or (),
            listeners=listeners,
            log_level=log_level,
            log_format=log_format,
            on_unfinished="resume" if resume else "fresh" if fresh else "refuse",
            profile=profile,
            inject=inject or (),
            allow_faults=allow_faults,
        )
    except TidegateError as exc:
        raise fail(exc) from exc
    _summarise(result, quality, governance, audit)
    if result.error is not None:
        raise fail(result.error)


def _summarise(
    result: Any, quality: QualitySummary, governance: GovernanceSummary, audit: AuditSummary
) -> None:
    summary: dict[str, Any] = {
        "run_id": result.run_id,
        "pipeline": result.pipeline,
        "status": result.status,
        "rows_read": result.rows_read,
        "rows_written": result.rows_written if result.ok else 0,
        "rows_rejected": result.rows_rejected,
        "batches": result.batches,
        "seconds": round(result.seconds, 3),
        "resumed_from": result.resumed_from,
        "audit_head": audit.head,
    }
    if quality.measured is not None:
        summary["quality"] = quality.as_dict()
    if governance.classified is not None:
        summary["governance"] = governance.as_dict()
    if not out.is_terminal:
        sys.stdout.write(json.dumps(summary) + "\n")
        sys.stdout.flush()
        return
    table = Table(show_header=False, box=None, padding=(0, 2))
    for key, value in summary.items():
        if value is None or key in ("quality", "governance", "audit_head"):
            continue
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        table.add_row(key.replace("_", " "), shown)
    out.print(table)
    if audit.head is not None:  # on a line of its own, so a narrow terminal cannot cut it
        signed = f" (signed into {audit.anchored_in})" if audit.anchored_in else ""
        out.print(f"  audit head       {audit.head}{signed}", highlight=False, soft_wrap=True)
    if governance.classified is not None:
        out.print(governance.table())
    if quality.measured is not None:
        out.print(quality.table())


@app.command(epilog=EXIT_CODES)
def profile(
    target: Annotated[
        Path,
        typer.Argument(
            help="A data file (.csv, .parquet, .jsonl/.ndjson, optionally .gz/.bz2/.zst), a "
            "folder of Parquet files, or pipeline.yaml.",
            show_default=False,
        ),
    ],
    rows: Annotated[
        int | None,
        typer.Option("--rows", min=1, metavar="N", help="Profile only the first N rows."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the profile and the suggested rules as JSON.")
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules", metavar="FILE", help="Write the suggested quality rules to this YAML file."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a key of the pipeline, or a source setting of a data file "
            "(--set delimiter=';'); repeatable.",
            metavar="KEY=VALUE",
        ),
    ] = None,
) -> None:
    """Per-column statistics of a data file, or of what a pipeline's steps produce, and
    suggested quality rules to paste into pipeline.yaml."""
    from tidegate.app.profiling import profile_command  # noqa: PLC0415 - keeps --help fast

    try:
        profile_command(target, rows=rows, json_out=as_json, rules_out=rules, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc


@app.command(epilog=EXIT_CODES)
def classify(
    target: Annotated[
        Path,
        typer.Argument(
            help="A data file (.csv, .parquet, .jsonl), a folder of Parquet files or "
            "pipeline.yaml.",
            show_default=False,
        ),
    ],
    sample: Annotated[
        int, typer.Option("--sample", min=1, help="Rows sampled at random per column.")
    ] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
    set_: SetOption = None,
    profile: ProfileOption = None,
) -> None:
    """Find the columns holding personal data: PII type, confidence, level and evidence.

    For a pipeline, also what its policy requires per column and whether its steps do it
    (ok or blocked), from the source's first rows, without loading anything; exit code 1
    when a run would be blocked.
    """
    from tidegate.app.classify_cmd import classify_command  # noqa: PLC0415 - keeps --help fast

    try:
        cleared = classify_command(
            target, sample_rows=sample, json_out=as_json, sets=set_ or [], profile=profile
        )
    except TidegateError as exc:
        raise fail(exc) from exc
    if not cleared:
        raise typer.Exit(1)


@app.command(epilog=EXIT_CODES)
def decrypt(  # noqa: PLR0917 - typer maps each command-line option to one parameter
    pipeline: PipelineArg,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column", metavar="COLUMN", help="Decrypt only this column (repeatable; default all)."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=0, metavar="N", help="Rows to read (default 20; all with --output)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines, one per row.")] = False,
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            metavar="FILE",
            help="Decrypt this extract (.parquet, or .csv holding base64 text) instead of the "
            "destination's rows.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", metavar="FILE", help="Write the rows to this .parquet or .csv file."
        ),
    ] = None,
    set_: SetOption = None,
    profile: ProfileOption = None,
) -> None:
    """Show the clear values of the columns the pipeline's encrypt steps stored.

    Every use is logged (values_decrypted: pipeline, columns, rows; never a value or a key).
    """
    from tidegate.app.decrypt_cli import decrypt_command  # noqa: PLC0415 - keeps --help fast

    try:
        decrypt_command(
            pipeline,
            columns=column or [],
            limit=limit,
            json_out=as_json,
            sets=set_ or [],
            profile=profile,
            input_file=input_,
            output_file=output,
        )
    except TidegateError as exc:
        raise fail(exc) from exc


@app.command(epilog=EXIT_CODES)
def runs(
    pipeline: Annotated[
        Path | None,
        typer.Argument(help="Only this pipeline's runs (and its state store).", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Runs to list.")] = 20,
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """The latest runs, newest first: status, start, duration, rows, rejects, quality score."""
    from tidegate.app.history_cli import runs_command  # noqa: PLC0415 - keeps --help fast

    try:
        runs_command(pipeline, state=state, limit=limit, json_out=as_json, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc


@app.command(epilog=EXIT_CODES)
def show(
    run_id: Annotated[
        str, typer.Argument(help="A run id, or its first characters.", show_default=False)
    ],
    pipeline: Annotated[
        Path | None,
        typer.Argument(help="The pipeline whose state store holds the run.", show_default=False),
    ] = None,
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """One run in full: outcome, where the time went, steps, quality, energy, regressions."""
    from tidegate.app.history_cli import show_command  # noqa: PLC0415 - keeps --help fast

    try:
        show_command(run_id, pipeline, state=state, json_out=as_json, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc


@app.command(epilog=EXIT_CODES)
def report(
    run_id: Annotated[
        str, typer.Argument(help="A run id, or its first characters.", show_default=False)
    ],
    html: Annotated[
        Path,
        typer.Option(
            "--html", metavar="FILE", help="Write the report to this HTML file.", show_default=False
        ),
    ],
    pipeline: Annotated[
        Path | None,
        typer.Argument(help="The pipeline whose state store holds the run.", show_default=False),
    ] = None,
    state: StateOption = None,
    set_: SetOption = None,
) -> None:
    """Write a run's dashboard page as one self-contained HTML file (styles inlined, no
    script, nothing loaded from elsewhere), to attach to an e-mail or archive."""
    from tidegate.app.report_cli import report_command  # noqa: PLC0415 - keeps --help fast

    try:
        written = report_command(run_id, pipeline, state=state, sets=set_ or [], html=html)
    except TidegateError as exc:
        raise fail(exc) from exc
    out.print(f"wrote {written}", highlight=False)


@app.command(epilog=EXIT_CODES)
def serve(  # noqa: PLR0917 - typer maps each command-line option to one parameter
    pipelines: Annotated[
        list[Path] | None,
        typer.Argument(
            help="The pipeline files to serve (one state store for all): their history, and "
            "their health checks on /health. Without, the store of --state (or "
            ".tidegate/state.db here) and its own checks.",
            metavar="PIPELINE",
            show_default=False,
        ),
    ] = None,
    state: StateOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="SECRET",
            help="Access token (env:NAME or file:PATH); required when listening beyond loopback.",
        ),
    ] = None,
    set_: SetOption = None,
) -> None:
    """Serve the dashboard (overview, pipelines, runs, live health checks, JSON API) and
    /metrics from the run history; read-only, on loopback unless a token guards it."""
    import ipaddress  # noqa: PLC0415 - keeps --help fast

    from tidegate.app.dashboard_health import served_pipelines  # noqa: PLC0415
    from tidegate.app.history_cli import open_store  # noqa: PLC0415
    from tidegate.spec.settings import resolve_secret_ref  # noqa: PLC0415
    from tidegate.state import StateStore  # noqa: PLC0415

    try:
        secret = None if token is None else str(resolve_secret_ref(token))
    except ValueError as exc:
        raise fail(ConfigError(f"--token: {exc}", hint="give env:NAME or file:PATH")) from exc
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not secret:
        raise fail(
            ConfigError(
                f"the dashboard would listen on {host} without a token",
                hint="pass --token env:NAME (or file:PATH) to require it, or keep the "
                "default 127.0.0.1",
            )
        )
    try:
        if pipelines:
            url, served = served_pipelines(pipelines, state=state, sets=set_ or [])
            store = StateStore.open(url)
        else:
            served = []
            store, _ = open_store(None, state, set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc
    import uvicorn  # noqa: PLC0415 - only when serving

    from tidegate.app.dashboard import dashboard_app  # noqa: PLC0415

    checked = ", ".join(p.spec.name for p in served) or "the state store only"
    err.print(
        f"serving the dashboard on http://{host}:{port}/ (and /metrics) from "
        f"{store.shown_url}; health checks of {checked} (Ctrl-C stops)",
        highlight=False,
    )
    try:
        uvicorn.run(
            dashboard_app(store, pipelines=served, token=secret),
            host=host,
            port=port,
            log_level="warning",
        )
    finally:
        store.close()


@app.command(
    epilog="Exit codes: 0 healthy · 1 a check failed (with --watch: in the last round before "
    "Ctrl-C or SIGTERM) · 2 usage or configuration error."
)
def health(
    pipeline: PipelineArg,
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    watch: Annotated[
        str | None,
        typer.Option(
            "--watch",
            metavar="INTERVAL",
            help="Check again every INTERVAL (seconds, or a duration like 5m) until Ctrl-C; "
            "one line (a JSON object with --json) per round with what failed or changed.",
        ),
    ] = None,
) -> None:
    """Check the source and destination (connect, SELECT 1, can write, lock, API reachable),
    the state store (writable, circuit breakers, freshness against sla.max_age) and free
    space for temp files."""
    from tidegate.app import health_checks  # noqa: PLC0415 - keeps --help fast
    from tidegate.app.bootstrap import build, load, secret_values  # noqa: PLC0415
    from tidegate.observability.logging import SecretRedactor  # noqa: PLC0415

    try:
        interval = health_checks.parse_interval(watch) if watch is not None else None
        spec = load(pipeline, overrides=set_ or ())
        built = build(spec)
    except TidegateError as exc:
        raise fail(exc) from exc
    redactor = SecretRedactor(secret_values(spec))
    stale = health_checks.stale_alerts(spec)

    def rows() -> list[dict[str, Any]]:
        found = health_checks.check_rows(health_checks.pipeline_checks(built), redactor.redact)
        stale(found)
        return found

    if interval is None:
        healthy = health_checks.print_checks(rows(), as_json=as_json)
    else:
        healthy = health_checks.watch(rows, interval, as_json=as_json)
    if not healthy:
        raise typer.Exit(code=1)


@app.command(epilog=EXIT_CODES)
def errors(
    as_json: Annotated[bool, typer.Option("--json", help="Print the matrix as JSON.")] = False,
) -> None:
    """Print the error classification matrix: kinds, retries, severity, escalation, rules."""
    from tidegate.app.errors_cli import errors_command  # noqa: PLC0415 - keeps --help fast

    errors_command(as_json)


@app.command(epilog=EXIT_CODES)
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of pipeline.yaml, for editor completion and validation."""
    from tidegate.app.plugins import default_registry  # noqa: PLC0415 - keeps --help fast
    from tidegate.spec import pipeline_json_schema  # noqa: PLC0415 - keeps --help fast

    text = json.dumps(pipeline_json_schema(default_registry()), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}", highlight=False)


@app.command(epilog=EXIT_CODES)
def demo(
    folder: Annotated[
        Path, typer.Option("--dir", help="The example folder holding pipeline.yaml.")
    ] = Path("examples/customers"),
    rows: Annotated[int, typer.Option(min=1, help="Customers to generate.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    fail_: Annotated[
        bool,
        typer.Option("--fail", help="Make the run fail on purpose and show the alert it raises."),
    ] = False,
) -> None:
    """Generate the seeded customers/orders dataset and run the example pipeline on it."""
    from tidegate.app.demo import run_demo  # noqa: PLC0415 - keeps --help fast

    try:
        run_demo(folder, rows=rows, seed=seed, out=out, err=err, fail=fail_)
    except TidegateError as exc:
        raise fail(exc) from exc


# the change log: `tidegate changes PIPELINE`, `tidegate diff RUN_A RUN_B`
app.command(name="changes", epilog=EXIT_CODES)(changes_cli.changes)
app.command(name="diff", epilog=EXIT_CODES)(changes_cli.diff)

app.add_typer(quarantine_app, name="quarantine")
app.add_typer(keys_app, name="keys")
app.add_typer(breaker_app, name="breaker")
app.add_typer(alerts_app, name="alerts")
app.add_typer(lineage_app, name="lineage")
app.add_typer(audit_app, name="audit")


def main() -> None:
    """Console-script entry point; turns unexpected crashes into exit code 1 with a message."""
    try:
        app()
    except TidegateError as exc:
        err.print(redact(str(exc)), markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted; nothing was committed by the interrupted run", highlight=False)
        sys.exit(130)
    except Exception as exc:
        wrapped = InternalError(f"unexpected {type(exc).__name__}: {exc}")
        err.print(redact(str(wrapped)), markup=False, highlight=False)
        sys.exit(1)
