"""Health of a whole pipeline: its plugins' connections plus what a run needs around them.

A plugin checks the systems it talks to (``core.health``); this module adds what only the
composition root can see: that the state store takes writes, that the folders a run spills to
have room, which circuit breakers keep an API from being called, and whether the last success
is older than the pipeline's ``sla.max_age``. ``tidegate health`` prints them once, or, with
``--watch``, round after round for monitoring without a scheduler: one line per round with only
what failed or changed, so a log of healthy rounds stays quiet.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from tidegate.app.bootstrap import check_health
from tidegate.app.console import out
from tidegate.app.observing import state_url
from tidegate.core.health import Check, timed
from tidegate.errors import ConfigError, DataError, DependencyError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from types import FrameType

    from tidegate.app.bootstrap import Pipeline
    from tidegate.spec.models import PipelineSpec
    from tidegate.state import StateStore

__all__ = [
    "MIN_FREE_BYTES",
    "MIN_FREE_SHARE",
    "check_rows",
    "parse_interval",
    "pipeline_checks",
    "print_checks",
    "stale_alerts",
    "state_checks",
    "store_checks",
    "temp_space",
    "watch",
]

_GIB = 1024**3

MIN_FREE_BYTES = 1 * _GIB
"""Temp folders with less free space than this fail the ``temp space`` check."""

MIN_FREE_SHARE = 0.05
"""Temp folders on a disk with less than this share free fail the ``temp space`` check too."""

_PROBE_TARGET = "tidegate-health-probe-"
"""Prefix of the breaker row written and rolled back to prove the state store takes writes."""


def pipeline_checks(
    pipeline: Pipeline,
    *,
    min_free_bytes: int = MIN_FREE_BYTES,
    min_free_share: float = MIN_FREE_SHARE,
    now: datetime | None = None,
) -> list[Check]:
    """Every health check of ``pipeline``, in order: the source's and destination's, the
    state store's (writable, breakers, freshness), then free space where a run writes temp files.

    ``now`` is the moment freshness is measured at (default: the current time).
    """
    checks = check_health(pipeline)
    checks.extend(state_checks(pipeline.spec, now=now))
    folders = (pipeline.spec.base_dir / ".tidegate", Path(tempfile.gettempdir()))
    checks.append(temp_space(folders, min_free_bytes=min_free_bytes, min_free_share=min_free_share))
    return checks


def state_checks(spec: PipelineSpec, *, now: datetime | None = None) -> list[Check]:
    """The state store takes writes; its breakers are closed; the last success is fresh enough.

    A store that cannot be opened or written fails ``writable`` and nothing else is checked:
    breakers and freshness are read from it.
    """
    from tidegate.state import StateStore  # noqa: PLC0415 - SQLAlchemy only when checking

    stores: list[StateStore] = []

    def opened() -> str:
        stores.append(_open(StateStore, state_url(spec)))
        return _probe_write(stores[0])

    try:
        writable = timed("state store", "writable", opened)
        if not writable.ok:
            return [writable]
        checks = [writable, *_breaker_checks(stores[0])]
        limit = spec.sla.max_age_delta if spec.sla is not None else None
        if spec.sla is not None and limit is not None:
            moment = now or datetime.now(UTC)
            checks.append(_freshness(stores[0], spec.name, limit, spec.sla.max_age_text, moment))
        return checks
    finally:
        for store in stores:
            store.close()


def store_checks(store: StateStore) -> list[Check]:
    """Checks of an open ``store`` that need no spec: it takes writes and, if so, its
    breakers are closed (they are read from it)."""
    writable = timed("state store", "writable", lambda: _probe_write(store))
    return [writable, *(_breaker_checks(store) if writable.ok else [])]


def temp_space(
    folders: Iterable[Path],
    *,
    min_free_bytes: int = MIN_FREE_BYTES,
    min_free_share: float = MIN_FREE_SHARE,
) -> Check:
    """Free space of the disks holding ``folders``; failed when one has less than
    ``min_free_bytes`` free, or less than ``min_free_share`` of its size.

    A folder that does not exist yet is measured at its nearest existing parent, where it
    will be created; folders on the same disk are reported once.
    """

    def measure() -> str:
        disks: dict[int, list[str]] = {}
        usage: dict[int, tuple[int, int]] = {}
        for folder in folders:
            existing = _existing(folder)
            device = existing.stat().st_dev
            disks.setdefault(device, []).append(str(folder))
            if device not in usage:
                disk = shutil.disk_usage(existing)
                usage[device] = (disk.total, disk.free)
        short: list[str] = []
        shown: list[str] = []
        for device, names in disks.items():
            total, free = usage[device]
            share = free / total if total else 0.0
            line = f"{free / _GIB:.1f} GiB free ({share:.0%}) at {', '.join(names)}"
            shown.append(line)
            if free < min_free_bytes or share < min_free_share:
                short.append(line)
        if short:
            raise DependencyError(
                f"only {'; '.join(short)}: need {min_free_bytes / _GIB:.1f} GiB"
                + (f" and {min_free_share:.0%}" if min_free_share else ""),
                hint="free disk space, or point TMPDIR at a disk with room",
            )
        return "; ".join(shown)

    return timed("temp space", "disk", measure)


def check_rows(checks: Sequence[Check], redact: Callable[[str], str]) -> list[dict[str, Any]]:
    """The checks as JSON-ready rows, their details passed through ``redact``."""
    return [
        {
            "component": check.component,
            "check": check.name,
            "ok": check.ok,
            "ms": round(check.seconds * 1000, 1),
            "detail": redact(check.detail),
        }
        for check in checks
    ]


def print_checks(rows: Sequence[dict[str, Any]], *, as_json: bool) -> bool:
    """Print one round of checks as a table (or one JSON document); True when all passed."""
    healthy = all(row["ok"] for row in rows)
    if as_json:
        sys.stdout.write(json.dumps({"healthy": healthy, "checks": list(rows)}) + "\n")
        return healthy
    table = Table("component", "check", "result", "ms", "detail")
    for row in rows:
        table.add_row(
            escape(str(row["component"])),
            str(row["check"]),
            "[green]ok[/]" if row["ok"] else "[bold red]FAILED[/]",
            f"{row['ms']:.1f}",
            escape(str(row["detail"])),
        )
    out.print(table)
    out.print("healthy" if healthy else "[bold red]unhealthy[/]")
    return healthy


def stale_alerts(spec: PipelineSpec) -> Callable[[list[dict[str, Any]]], None]:
    """What to do with each round's rows so a failed freshness check alerts (``sla_age``):
    nothing unless the pipeline has alert channels. The alert history's cooldown keeps a
    watch that sees the same stale pipeline every minute from paging every minute."""
    if spec.observability.alerts is None:
        return lambda rows: None
    from tidegate.app.observing import alerting  # noqa: PLC0415 - only with alerts

    engines = alerting(spec)

    def alert(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if (row["component"], row["check"]) == ("freshness", "sla") and not row["ok"]:
                for engine in engines:
                    engine.stale(str(row["detail"]))  # type: ignore[attr-defined]

    return alert


def watch(
    checks: Callable[[], list[dict[str, Any]]],
    interval: float,
    *,
    as_json: bool,
    rounds: int | None = None,
) -> bool:
    """Run ``checks`` every ``interval`` seconds until interrupted (Ctrl-C, SIGTERM) or
    ``rounds`` are done; True when the last finished round was healthy (False when none did).

    Each round prints one line: its UTC time, healthy or not, how many checks passed, then
    every failed check and every check whose result changed since the round before (a check
    that recovered, one that appeared). With ``as_json`` the line is a JSON object with
    ``at``, ``round``, ``healthy``, ``ok``, ``total``, ``failed`` and ``changed``.
    """
    import signal  # noqa: PLC0415 - only a watching process stops on SIGTERM

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _TerminatedError

    previous = signal.signal(signal.SIGTERM, stop)
    before: dict[tuple[str, str], bool] = {}
    healthy = False
    done = 0
    try:
        while rounds is None or done < rounds:
            if done:
                time.sleep(interval)
            rows = checks()
            done += 1
            now = {(row["component"], row["check"]): bool(row["ok"]) for row in rows}
            changed = [
                row
                for row in rows
                if before and before.get((row["component"], row["check"])) != row["ok"]
            ]
            healthy = all(now.values())
            _print_round(done, rows, changed, healthy=healthy, as_json=as_json)
            before = now
    except (KeyboardInterrupt, _TerminatedError):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return healthy


def parse_interval(text: str) -> float:
    """``--watch``'s INTERVAL: seconds (``30``, ``0.5``) or a duration (``5m``, ``1h``)."""
    from tidegate.spec.quality import parse_duration  # noqa: PLC0415 - only with --watch

    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text).total_seconds()
        except ValueError as exc:
            raise ConfigError(
                f"--watch {text!r} is not an interval",
                hint="give seconds (30) or a duration (5m, 1h)",
            ) from exc
    if not seconds > 0:
        raise ConfigError(f"--watch {text!r} must be longer than 0", hint="e.g. --watch 60")
    return seconds


class _TerminatedError(BaseException):
    """SIGTERM arrived: a watch stops like on Ctrl-C (a supervisor stopping the monitor).

    A ``BaseException``, like ``KeyboardInterrupt``, so a check that catches every
    ``Exception`` to report it as failed cannot swallow the stop."""


def _print_round(
    number: int,
    rows: Sequence[dict[str, Any]],
    changed: Sequence[dict[str, Any]],
    *,
    healthy: bool,
    as_json: bool,
) -> None:
    at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    failed = [row for row in rows if not row["ok"]]
    passed = len(rows) - len(failed)
    if as_json:
        line = {
            "at": at,
            "round": number,
            "healthy": healthy,
            "ok": passed,
            "total": len(rows),
            "failed": failed,
            "changed": list(changed),
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        return
    parts = [f"{at} {'healthy' if healthy else '[bold red]unhealthy[/]'} {passed}/{len(rows)} ok"]
    shown = failed + [row for row in changed if row["ok"]]
    for row in shown:
        result = "now ok" if row["ok"] else "[bold red]FAILED[/]"
        name = escape(f"{row['component']} {row['check']}")
        parts.append(f"{result} {name}: {escape(str(row['detail']))}")
    out.print(" · ".join(parts), highlight=False)


def _open(store_type: type[StateStore], url: str) -> StateStore:
    """Open (and migrate) the store; an unparsable URL is reported without echoing it."""
    import sqlalchemy as sa  # noqa: PLC0415 - loaded with the state store

    try:
        return store_type.open(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            "observability.state.url is not a SQLAlchemy URL",
            hint="write it like postgresql+psycopg://user@host/db or sqlite:///path/state.db",
        ) from exc


def _probe_write(store: StateStore) -> str:
    """Insert a breaker row and roll it back: proves writes are accepted (SQLite takes its
    write lock, PostgreSQL checks the grants) and leaves nothing behind, even on a crash."""
    import sqlalchemy as sa  # noqa: PLC0415 - loaded with the state store

    from tidegate.state.tables import BREAKERS  # noqa: PLC0415

    moment = datetime.now(UTC)
    row = {
        "target": _PROBE_TARGET + uuid.uuid4().hex,
        "state": "closed",
        "failures": 0,
        "calls": 0,
        "outcomes": "",
        "updated_at": moment,
    }
    try:
        with store.engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(BREAKERS.insert().values(**row))
            transaction.rollback()
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise DependencyError(
            f"state store {store.shown_url}: cannot write: {reason[0] if reason else type(exc)}",
            hint="check that the database is reachable and its user may write",
        ) from exc
    return f"{store.shown_url}: a probe write was accepted and rolled back"


def _breaker_checks(store: StateStore) -> list[Check]:
    """One failed check per open or half-open breaker, else one passed ``all closed``."""
    rows: list[dict[str, Any]] = []

    def read() -> str:
        rows.extend(store.breakers())
        return "all closed"

    read_check = timed("breakers", "closed", read)
    tripped = [row for row in rows if row["state"] != "closed"]
    if not read_check.ok or not tripped:
        return [read_check]
    checks = []
    for row in tripped:
        error = DependencyError(
            f"API {row['target']} {row['state'].replace('_', '-')}: failing since "
            f"{_utc(row['failing_since'])}, next probe at {_utc(row['next_probe_at'])}",
            hint=f"`tidegate breaker reset {row['target']}` closes it once the API is back",
        )
        checks.append(
            Check(
                component=f"breakers:{row['target']}",
                name="closed",
                ok=False,
                seconds=read_check.seconds,
                detail=error.message,
                error=error,
            )
        )
    return checks


def _freshness(
    store: StateStore, pipeline: str, limit: timedelta, shown_limit: str, now: datetime
) -> Check:
    """The last successful run of ``pipeline`` finished at most ``limit`` before ``now``."""

    def measure() -> str:
        found = [summary for summary in store.pipelines() if summary.pipeline == pipeline]
        last = found[0].last_success_at if found else None
        if last is None:
            raise DataError(
                f"no successful run of {pipeline} in {store.shown_url} (max {shown_limit})",
                hint="run the pipeline: tidegate run pipeline.yaml",
            )
        detail = f"last success {_age(now - last)} ago (max {shown_limit})"
        if now - last > limit:
            raise DataError(
                detail, hint="`tidegate runs` shows why the latest runs did not succeed"
            )
        return detail

    return timed("freshness", "sla", measure)


def _existing(folder: Path) -> Path:
    """``folder`` or its nearest existing parent (where it would be created)."""
    path = folder.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _age(age: timedelta) -> str:
    """A duration in its largest unit and the next: ``3h 5m``, ``2d 1h``, ``42s``."""
    seconds = max(0, int(age.total_seconds()))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (unit, size) in enumerate(units):
        if seconds >= size or unit == "s":
            shown = f"{seconds // size}{unit}"
            if index + 1 < len(units):
                next_unit, next_size = units[index + 1]
                rest = seconds % size // next_size
                shown += f" {rest}{next_unit}" if rest else ""
            return shown
    return f"{seconds}s"


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "unknown"
