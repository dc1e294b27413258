"""``tidegate alerts list|test``: what was alerted (and what was held back), and try a channel.

``list`` reads the alert history of the state store: every alert sent, every repeat the
cooldown suppressed, every recovery, with each channel's delivery outcome. ``test`` sends a test
alert through one channel of the pipeline, synchronously and bounded by the channel's own
timeout, so a wrong URL or password shows before the first real failure needs it.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from tidegate.app.console import PipelineArg, SetOption, StateOption, err, fail, out
from tidegate.errors import ConfigError, TidegateError

__all__ = ["alerts_app"]

_PipelineOption = Annotated[
    Path | None,
    typer.Argument(help="Only this pipeline's alerts (from its store).", show_default=False),
]

alerts_app = typer.Typer(
    help="Alerts: list what was sent or suppressed, send a test alert through a channel.",
    no_args_is_help=True,
)


@alerts_app.command("list")
def list_(
    pipeline: _PipelineOption = None,
    state: StateOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many alerts.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    set_: SetOption = None,
) -> None:
    """The latest alerts, newest first: sent (firing), suppressed by the cooldown, resolved."""
    from tidegate.app.history_cli import open_store  # noqa: PLC0415 - keeps --help fast

    try:
        store, name = open_store(pipeline, state, set_ or [])
        try:
            alerts = store.alerts(pipeline=name, limit=limit)
        finally:
            store.close()
    except TidegateError as exc:
        raise fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps({"alerts": [_plain(a) for a in alerts]}) + "\n")
        return
    if not alerts:
        out.print(f"no alerts in {store.shown_url}", highlight=False)
        return
    table = Table(box=None, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for header in ("sent (UTC)", "pipeline", "rule", "severity", "status", "delivered"):
        table.add_column(header, no_wrap=True)
    table.add_column("title", overflow="fold")
    for alert in alerts:
        table.add_row(
            alert["sent_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            escape(alert["pipeline"]),
            alert["rule"],
            alert["severity"],
            alert["status"],
            escape(_delivered(alert)),
            escape(alert["title"]),
        )
    out.print(table)


@alerts_app.command("test")
def send_test(
    channel: Annotated[
        str, typer.Argument(help="The channel's name under observability.alerts.channels.")
    ],
    pipeline: PipelineArg,
    set_: SetOption = None,
) -> None:
    """Send a test alert through CHANNEL of PIPELINE now; exit 1 when it is not delivered."""
    from tidegate.app.bootstrap import load  # noqa: PLC0415 - keeps --help fast
    from tidegate.observability.alert import Alert  # noqa: PLC0415
    from tidegate.observability.channels import build_channel  # noqa: PLC0415

    try:
        spec = load(pipeline, overrides=set_ or [])
        alerts = spec.observability.alerts
        channels = alerts.channels if alerts is not None else {}
        if channel not in channels:
            raise ConfigError(
                f"pipeline {spec.name} has no alert channel {channel!r}",
                location=str(spec.file),
                hint=f"define it under observability.alerts.channels (defined: "
                f"{', '.join(sorted(channels)) or 'none'})",
            )
        sender = build_channel(channel, channels[channel])
    except TidegateError as exc:
        raise fail(exc) from exc
    alert = Alert(
        pipeline=spec.name,
        rule="test",
        severity="info",
        status="firing",
        title=f"Test alert from Tidegate for {spec.name}",
        summary=f"`tidegate alerts test {channel}` sent this to check the channel; nothing failed.",
        fingerprint="test",
        owner=spec.owner,
        criticality=spec.criticality,
        consumers=spec.consumers,
        next_action="nothing: this is a test",
        at=datetime.now(UTC),
    )
    try:
        sender.send(alert)
    except TidegateError as exc:
        fail(exc)  # prints the error; a channel that did not deliver exits 1 whatever its kind
        err.print(f"failed: the test alert did not reach {escape(channel)}", highlight=False)
        raise typer.Exit(code=1) from exc
    out.print(f"delivered: test alert sent through {escape(channel)}", highlight=False)


def _delivered(alert: dict[str, Any]) -> str:
    if not alert["delivered"]:
        return "-" if not alert["channels"] else "pending"
    return " ".join(
        f"{name}:{'ok' if outcome['ok'] else 'failed'}"
        for name, outcome in alert["delivered"].items()
    )


def _plain(alert: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in alert.items()},
        "channels": list(alert["channels"]),
        "delivered": {
            name: {**outcome, "at": outcome["at"].isoformat()}
            for name, outcome in alert["delivered"].items()
        },
    }
