"""``tidegate audit verify|show|export``: check the audit trail, read one run's records, hand
the chain to an auditor.

The chain is read from the state store (the pipeline's, ``--state URL``, or
``.tidegate/state.db`` in the working folder) or, for ``verify --export FILE``, from a JSONL
export, so an auditor checks a copy with nothing of Tidegate's storage. The keys come from the
pipeline's ``audit:`` section: the chain key checks the record hashes, the head key the
signed heads of the head file. Anchors (``--head SEQ:HASH`` from run summaries, the head file)
prove the chain still reaches them: a cut or recomputed tail shows only against an anchor.
Key material is never printed; a key shows as its check value.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tidegate.app.console import SetOption, StateOption, err, fail, out
from tidegate.errors import ConfigError, TidegateError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tidegate.governance.audit import AuditKey, AuditRecord, ChainHead, VerifyResult
    from tidegate.spec import PipelineSpec
    from tidegate.state import StateStore

__all__ = ["audit_app", "export_command", "show_command", "verify_command"]

audit_app = typer.Typer(
    help="The audit trail: verify the hash chain, show a run's records, export it as JSONL.",
    no_args_is_help=True,
)

AUDIT_EXIT_CODES = (
    "Exit codes: 0 the chain holds · 1 it is broken · 2 usage or configuration error."
)

PipelineOption = Annotated[
    Path | None,
    typer.Argument(help="The pipeline: its audit keys and its state store.", show_default=False),
]


def _spec(pipeline: Path | None, sets: list[str]) -> PipelineSpec | None:
    if pipeline is None:
        return None
    from tidegate.app.bootstrap import load  # noqa: PLC0415 - keeps --help fast

    return load(pipeline, overrides=sets)


def _store(spec: PipelineSpec | None, state: str | None) -> StateStore:
    """The state store named by ``--state``, else the pipeline's, else the working folder's."""
    from tidegate.app.observing import state_url  # noqa: PLC0415 - keeps --help fast
    from tidegate.state import StateStore, default_state_url  # noqa: PLC0415

    if state is None and spec is not None:
        state = state_url(spec)
    elif state is None:
        local = Path.cwd() / ".tidegate" / "state.db"
        if not local.is_file():
            raise ConfigError(
                f"no state store at {local}",
                hint="name the pipeline (`tidegate audit verify pipeline.yaml`) or its store "
                "(--state URL)",
            )
        state = default_state_url(Path.cwd())
    return StateStore.open(state)


def _anchors(
    spec: PipelineSpec | None, heads: list[str], head_file: Path | None
) -> tuple[list[ChainHead | str], str | None]:
    """The heads to check the chain against, and the head file they were read from."""
    from tidegate.app.auditing import head_file as spec_head_file  # noqa: PLC0415
    from tidegate.app.auditing import head_key  # noqa: PLC0415
    from tidegate.governance.audit import HeadFile, parse_head  # noqa: PLC0415

    anchors: list[ChainHead | str] = [parse_head(text) for text in heads]
    signing = None if spec is None else head_key(spec)
    path = head_file
    if path is None and spec is not None:
        configured = spec_head_file(spec)
        path = configured if configured is not None and configured.is_file() else None
    if path is None:
        return anchors, None
    if signing is None:
        raise ConfigError(
            f"the head file {path} holds signed heads, and no head key is given to check them",
            hint="name the pipeline whose audit.head_key signed them "
            "(`tidegate audit verify pipeline.yaml --head-file FILE`)",
        )
    if not path.is_file():
        raise ConfigError(f"head file not found: {path}", hint="check the path")
    anchors.extend(HeadFile(path).heads(signing))
    return anchors, str(path)


def verify_command(
    pipeline: Path | None,
    *,
    state: str | None,
    heads: list[str],
    head_file: Path | None,
    export: Path | None,
    json_out: bool,
    sets: list[str],
) -> bool:
    """Verify the chain and print what was found; whether it holds."""
    from tidegate.app.audit_store import StateAuditStore  # noqa: PLC0415 - keeps --help fast
    from tidegate.app.auditing import chain_key  # noqa: PLC0415
    from tidegate.governance.audit import read_jsonl, verify  # noqa: PLC0415

    spec = _spec(pipeline, sets)
    key = None if spec is None else chain_key(spec)
    anchors, anchored_in = _anchors(spec, heads, head_file)
    began = time.perf_counter()
    if export is not None:
        if not export.is_file():
            raise ConfigError(f"export not found: {export}", hint="check the path")
        where = str(export)
        result = verify(read_jsonl(export), key=key, anchors=anchors)
    else:
        store = _store(spec, state)
        where = store.shown_url
        try:
            result = verify(StateAuditStore(store).records(), key=key, anchors=anchors)
        finally:
            store.close()
    seconds = time.perf_counter() - began
    if json_out:
        sys.stdout.write(json.dumps(_verdict(result, where, anchored_in, key, seconds)) + "\n")
        return result.ok
    _print_verdict(result, where, anchored_in, key, seconds)
    return result.ok


def _verdict(
    result: VerifyResult,
    where: str,
    anchored_in: str | None,
    key: AuditKey | None,
    seconds: float,
) -> dict[str, Any]:
    problem = result.problem
    return {
        "ok": result.ok,
        "chain": where,
        "checked": result.checked,
        "head": None if result.head is None else str(result.head),
        "keyed": result.keyed,
        "key_check": None if key is None else key.check,
        "anchors": result.anchors,
        "head_file": anchored_in,
        "seconds": round(seconds, 3),
        "problem": None
        if problem is None
        else {
            "seq": problem.seq,
            "tampering": str(problem.tampering),
            "position": problem.position,
            "message": problem.message,
            "hint": problem.hint,
        },
    }


def _print_verdict(
    result: VerifyResult,
    where: str,
    anchored_in: str | None,
    key: AuditKey | None,
    seconds: float,
) -> None:
    keyed = f"keyed, chain key check {key.check}" if key is not None else "not keyed"
    anchors = f"{result.anchors} anchored head(s) confirmed" + (
        f" (from {anchored_in})" if anchored_in else ""
    )
    problem = result.problem
    if problem is None:
        out.print(
            f"[bold green]ok[/]: {result.checked:,} audit records verified in {where} "
            f"({keyed}); head {result.head or 'none (empty chain)'}; {anchors}; "
            f"{seconds:.2f}s",
            highlight=False,
        )
        return
    record = f"record {problem.seq}" if problem.seq is not None else "the chain"
    out.print(
        f"[bold red]broken[/] at {record}: {problem.tampering}: {escape(problem.message)}",
        highlight=False,
    )
    out.print(f"  position {problem.position} of {where}", highlight=False)
    out.print(f"  hint: {escape(problem.hint)}", highlight=False)
    good = f"{result.head}" if result.head is not None else "none"
    out.print(
        f"  {result.checked:,} records verified before it (last good {good}; {keyed}); "
        f"{anchors}; {seconds:.2f}s",
        highlight=False,
    )


@audit_app.command("verify", epilog=AUDIT_EXIT_CODES)
def verify_cmd(  # noqa: PLR0917 - typer maps each command-line option to one parameter
    pipeline: PipelineOption = None,
    state: StateOption = None,
    head: Annotated[
        list[str] | None,
        typer.Option(
            "--head",
            metavar="SEQ:HASH",
            help="A chain head the chain must still reach, as a run summary prints it "
            "(repeatable).",
        ),
    ] = None,
    head_file: Annotated[
        Path | None,
        typer.Option(
            "--head-file",
            metavar="FILE",
            help="Signed heads to check the chain against (default: the pipeline's head file).",
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", metavar="FILE", help="Verify this JSONL export instead of the store."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """Check every record, link and anchored head of the audit chain; name the first break.

    Detects records edited, deleted, reordered, inserted or forged, and with an anchor (--head,
    the head file) a tail cut off or recomputed.
    """
    try:
        ok = verify_command(
            pipeline,
            state=state,
            heads=head or [],
            head_file=head_file,
            export=export,
            json_out=as_json,
            sets=set_ or [],
        )
    except TidegateError as exc:
        raise fail(exc) from exc
    if not ok:
        raise typer.Exit(code=1)


def _run_records(store: StateStore, run_id: str) -> Iterator[AuditRecord]:
    from tidegate.app.audit_store import StateAuditStore  # noqa: PLC0415 - keeps --help fast

    return StateAuditStore(store).records_of_run(run_id)


def show_command(
    run_id: str, pipeline: Path | None, *, state: str | None, json_out: bool, sets: list[str]
) -> int:
    """Print the audit records of run ``run_id``; how many there are."""
    store = _store(_spec(pipeline, sets), state)
    try:
        records = list(_run_records(store, run_id))
    finally:
        store.close()
    if not records:
        raise ConfigError(
            f"no audit records of run {run_id!r} in {store.shown_url}",
            hint="give the whole run id, as `tidegate runs` lists it",
        )
    if json_out:
        for record in records:
            sys.stdout.write(record.line().decode("utf-8") + "\n")
        return len(records)
    table = Table("seq", "at (UTC)", "kind", "what", title=f"audit records of run {run_id}")
    table.columns[3].overflow = "fold"
    for record in records:
        table.add_row(
            str(record.seq),
            record.at.strftime("%Y-%m-%d %H:%M:%S.%f"),
            record.kind,
            escape(_what(record.payload)),
        )
    out.print(table)
    err.print(
        "not verified here: `tidegate audit verify` checks the whole chain these belong to",
        highlight=False,
    )
    return len(records)


def _what(payload: dict[str, Any]) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in payload.items())


@audit_app.command("show", epilog=AUDIT_EXIT_CODES)
def show_cmd(
    run: Annotated[str, typer.Option("--run", metavar="ID", help="The run id.")],
    pipeline: PipelineOption = None,
    state: StateOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the records as JSON Lines, as stored.")
    ] = False,
    set_: SetOption = None,
) -> None:
    """The audit records of one run, in chain order."""
    try:
        show_command(run, pipeline, state=state, json_out=as_json, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc


def export_command(
    output: Path, pipeline: Path | None, *, state: str | None, sets: list[str]
) -> int:
    """Write the whole chain to ``output`` as JSON Lines; how many records."""
    from tidegate.app.audit_store import StateAuditStore  # noqa: PLC0415 - keeps --help fast
    from tidegate.governance.audit import export_jsonl  # noqa: PLC0415

    store = _store(_spec(pipeline, sets), state)
    try:
        audit = StateAuditStore(store)
        head = audit.head()
        count = export_jsonl(audit.records(), output)
    finally:
        store.close()
    err.print(
        f"wrote {count:,} audit records to {output} (head {head or 'none'}); verify it with "
        f"`tidegate audit verify --export {output}`",
        highlight=False,
    )
    return count


@audit_app.command("export", epilog=AUDIT_EXIT_CODES)
def export_cmd(
    output: Annotated[Path, typer.Argument(help="The JSONL file to write.", show_default=False)],
    pipeline: PipelineOption = None,
    state: StateOption = None,
    set_: SetOption = None,
) -> None:
    """Export the whole chain as JSON Lines (one canonical record per line), for an auditor."""
    try:
        export_command(output, pipeline, state=state, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc
