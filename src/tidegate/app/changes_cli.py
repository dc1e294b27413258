"""``tidegate changes PIPELINE`` and ``tidegate diff RUN_A RUN_B``: the change log, for people.

``changes`` lists the versions of a pipeline's spec newest first: when, which run, the spec
hash, the git commit and author of the spec file (and whether it had uncommitted changes),
a summary (``3 changed, 1 added``) and the diff lines. ``diff`` tells what differs between two
runs: the spec, the tidegate version, the source schema, the row counts, the status and the
duration. Secrets show as ``**********``: the stored specs hold no other form of them.

PIPELINE is the pipeline file (its state store is read) or a pipeline's name (in ``--state
URL``, else ``.tidegate/state.db`` in the working folder). Both commands are registered on the
root app in ``cli.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tidegate.app.console import SetOption, StateOption, fail, out
from tidegate.errors import ConfigError, TidegateError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tidegate.state import StateStore

__all__ = ["changes", "changes_command", "diff", "diff_command"]

_SIGN = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
_STATUS = {"succeeded": "green", "failed": "bold red", "running": "yellow"}
_SHOWN = 80
"""Characters of a value shown on a diff line; ``--json`` has them whole."""


def changes(
    pipeline: Annotated[
        str,
        typer.Argument(
            help="The pipeline file, or a pipeline's name in the state store.",
            show_default=False,
        ),
    ],
    limit: Annotated[int, typer.Option(min=1, help="Versions to list.")] = 20,
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """The versions of a pipeline's spec, newest first: when, run, git commit, what changed."""
    try:
        changes_command(pipeline, state=state, limit=limit, json_out=as_json, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc


def diff(  # noqa: PLR0917 - typer maps each command-line option to one parameter
    run_a: Annotated[
        str, typer.Argument(help="The first run's id, or its first characters.", show_default=False)
    ],
    run_b: Annotated[
        str,
        typer.Argument(help="The second run's id, or its first characters.", show_default=False),
    ],
    pipeline: Annotated[
        Path | None,
        typer.Argument(help="The pipeline whose state store holds the runs.", show_default=False),
    ] = None,
    state: StateOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """What differs between two runs: spec, tidegate version, source schema, rows, outcome."""
    try:
        diff_command(run_a, run_b, pipeline, state=state, json_out=as_json, sets=set_ or [])
    except TidegateError as exc:
        raise fail(exc) from exc


def changes_command(
    pipeline: str, *, state: str | None, limit: int, json_out: bool, sets: list[str]
) -> None:
    """Print the change log of ``pipeline`` (a file, or a name in the store)."""
    from tidegate.app.history_cli import open_store  # noqa: PLC0415 - keeps --help fast

    path = Path(pipeline)
    store, named = open_store(path if path.is_file() else None, state, sets)
    name = named or pipeline
    try:
        versions = store.spec_versions(name, limit=limit)
        if not versions and not store.runs(pipeline=name, limit=1):
            raise ConfigError(
                f"no run of pipeline {name!r} in the state store {store.shown_url}",
                hint="`tidegate runs` lists the recorded runs and their pipelines",
            )
    finally:
        store.close()
    if json_out:
        sys.stdout.write(json.dumps({"pipeline": name, "versions": versions}, default=str) + "\n")
        return
    if not versions:
        out.print(
            f"no change recorded for {escape(name)}: the change log starts with the first run "
            "recorded by a tidegate that keeps it",
            highlight=False,
        )
        return
    for version in versions:
        _print_version(version)


def _print_version(version: Mapping[str, Any]) -> None:
    previous = version["previous_hash"]
    out.print(
        f"[bold]{version['changed_at']:%Y-%m-%d %H:%M:%S} UTC[/]  run {version['run_id']}  "
        f"spec {version['spec_hash'][:12]}"
        + (f" (was {previous[:12]})" if previous else "")
        + f"  [cyan]{escape(version['summary'])}[/]",
        highlight=False,
    )
    if version["git_commit"] or version["git_dirty"]:
        commit = version["git_commit"]
        said = f"{commit[:12]} by {escape(version['git_author'] or '?')}" if commit else "never"
        dirty = " [yellow](uncommitted changes)[/]" if version["git_dirty"] else ""
        out.print(f"  git: {said}{dirty}", highlight=False)
    for entry in version["diff"] or ():
        out.print("  " + _line(entry), highlight=False)


def _line(entry: Mapping[str, Any]) -> str:
    """One diff entry: ``~ destination.table: "a" → "b"``."""
    sign, path = _SIGN[entry["change"]], escape(entry["path"])
    if entry["change"] == "added":
        return f"{sign} {path}: {_value(entry['new'])}"
    if entry["change"] == "removed":
        return f"{sign} {path}: {_value(entry['old'])}"
    return f"{sign} {path}: {_value(entry['old'])} → {_value(entry['new'])}"


def _value(value: Any) -> str:
    shown = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(shown) > _SHOWN:
        shown = shown[: _SHOWN - 1] + "…"
    return escape(shown)


def diff_command(
    run_a: str,
    run_b: str,
    pipeline: Path | None,
    *,
    state: str | None,
    json_out: bool,
    sets: list[str],
) -> None:
    """Print what differs between runs ``run_a`` and ``run_b``."""
    from tidegate.app.history_cli import open_store  # noqa: PLC0415 - keeps --help fast

    store, _ = open_store(pipeline, state, sets)
    try:
        compared = store.run_diff(run_a, run_b)
    finally:
        store.close()
    if json_out:
        sys.stdout.write(json.dumps(compared, default=str) + "\n")
        return
    _print_diff(compared, store)


def _print_diff(compared: Mapping[str, Any], store: StateStore) -> None:
    first, second = compared["runs"]
    for label, run in (("A", first), ("B", second)):
        out.print(
            f"[bold]{label}[/]: run {run['run_id']} of {escape(run['pipeline'])}, started "
            f"{run['started_at'][:19].replace('T', ' ')} UTC",
            highlight=False,
        )
    table = Table("", "A", "B", show_edge=False)
    rows: list[tuple[str, Any, Any, str]] = [
        ("status", first["status"], second["status"], ""),
        ("seconds", first["seconds"], second["seconds"], ".2f"),
        ("rows read", first["rows_read"], second["rows_read"], ","),
        ("rows written", first["rows_written"], second["rows_written"], ","),
        ("rows rejected", first["rows_rejected"], second["rows_rejected"], ","),
        ("batches", first["batches"], second["batches"], ","),
        ("tidegate", first["version"], second["version"], ""),
        ("spec", first["spec_hash"][:12], second["spec_hash"][:12], ""),
    ]
    for label, old, new, spec in rows:
        shown = _cell(label, old, spec), _cell(label, new, spec)
        marker = "" if shown[0] == shown[1] else " [yellow]≠[/]"
        table.add_row(f"[bold]{label}[/]{marker}", *shown)
    out.print(table)
    spec = compared["spec"]
    if spec["same"]:
        out.print("spec: the same", highlight=False)
    elif spec["diff"] is None:
        out.print(
            f"spec: differs, but a run's spec was not recorded in {store.shown_url}",
            highlight=False,
        )
    else:
        out.print(f"spec: {len(spec['diff'])} difference(s)", highlight=False)
        for entry in spec["diff"]:
            out.print("  " + _line(entry), highlight=False)
    _print_schema(compared["source_schema"])


def _cell(label: str, value: Any, spec: str) -> str:
    if value is None:
        return ""
    if label == "status":
        return f"[{_STATUS.get(value, 'default')}]{escape(value)}[/]"
    return escape(format(value, spec) if spec else str(value))


def _print_schema(changes: Sequence[Mapping[str, Any]] | None) -> None:
    if changes is None:
        out.print("source schema: not recorded for one of the runs", highlight=False)
        return
    if not changes:
        out.print("source schema: the same", highlight=False)
        return
    out.print(f"source schema: {len(changes)} difference(s)", highlight=False)
    for change in changes:
        sign, column = _SIGN[change["change"]], escape(change["column"])
        if change["change"] == "changed":
            out.print(
                f"  {sign} {column}: {escape(change['old'])} → {escape(change['new'])}",
                highlight=False,
            )
        else:
            kind = change["new"] if change["change"] == "added" else change["old"]
            out.print(f"  {sign} {column} ({escape(kind)})", highlight=False)
