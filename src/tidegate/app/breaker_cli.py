"""``tidegate breaker list|reset``: see which APIs runs stopped calling, and close a breaker.

Breakers are kept per target (an API's host) in the state store and shared by every pipeline
using it; the pipeline argument only says which store to open.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tidegate.app.console import SetOption, StateOption, fail, out
from tidegate.errors import ConfigError, TidegateError

if TYPE_CHECKING:
    from tidegate.app.breakers import StateBreakerStore
    from tidegate.resilience.breaker import BreakerRecord

__all__ = ["breaker_app"]

_PipelineOption = Annotated[
    Path | None,
    typer.Argument(help="The pipeline whose state store holds the breakers.", show_default=False),
]
_JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

breaker_app = typer.Typer(
    help="Circuit breakers of the APIs pipelines call: list them, reset one.",
    no_args_is_help=True,
)


def _store(pipeline: Path | None, state: str | None, sets: list[str] | None) -> StateBreakerStore:
    from tidegate.app.breakers import StateBreakerStore  # noqa: PLC0415 - keeps --help fast
    from tidegate.app.history_cli import open_store  # noqa: PLC0415

    store, _ = open_store(pipeline, state, sets or [])
    return StateBreakerStore(store)


@breaker_app.command("list")
def list_(
    pipeline: _PipelineOption = None,
    state: StateOption = None,
    as_json: _JsonOption = False,
    set_: SetOption = None,
) -> None:
    """Every breaker: its state, since when its API fails, when it is probed next."""
    try:
        breakers = _store(pipeline, state, set_)
        try:
            records = breakers.all()
        finally:
            breakers.store.close()
    except TidegateError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps({"breakers": [_plain(r) for r in records]}) + "\n")
        return
    if not records:
        out.print(f"no circuit breakers in {breakers.store.shown_url}", highlight=False)
        return
    # The target is what `breaker reset` takes: folded when too long, never cut short.
    table = Table(box=None, padding=(0, 1), pad_edge=False, collapse_padding=True)
    table.add_column("target", overflow="fold")
    for header in ("state", "failing since (UTC)", "next probe (UTC)", "failed"):
        table.add_column(header, no_wrap=True)
    for record in records:
        table.add_row(
            escape(record.target),
            record.state,
            _shown(record.failing_since),
            _shown(record.next_probe_at),
            f"{record.failures}/{record.calls}",
        )
    out.print(table)


@breaker_app.command()
def reset(
    target: Annotated[
        str, typer.Argument(help="The API's host, as `breaker list` shows it.", show_default=False)
    ],
    pipeline: _PipelineOption = None,
    state: StateOption = None,
    as_json: _JsonOption = False,
    set_: SetOption = None,
) -> None:
    """Close the breaker of TARGET now: the next run calls it again with a fresh window."""
    try:
        breakers = _store(pipeline, state, set_)
        try:
            if not breakers.reset(target):
                raise ConfigError(
                    f"no circuit breaker for {target!r} in the state store "
                    f"{breakers.store.shown_url}",
                    hint="`tidegate breaker list` shows the targets that have one",
                )
        finally:
            breakers.store.close()
    except TidegateError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps({"target": target, "state": "closed"}) + "\n")
        return
    out.print(
        f"breaker of {escape(target)} reset: closed, the next call goes through", highlight=False
    )


def _plain(record: BreakerRecord) -> dict[str, Any]:
    return {
        "target": record.target,
        "state": record.state,
        "failing_since": _iso(record.failing_since),
        "next_probe_at": _iso(record.next_probe_at),
        "failures": record.failures,
        "calls": record.calls,
        "updated_at": record.updated_at.isoformat(),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _shown(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
