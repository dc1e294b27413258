"""The alert history in the state store, on SQLite and PostgreSQL: the cooldown holds across
runs (separate processes), and migrating a store from 0002 keeps its runs and breakers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tidegate.app.alert_history import StateAlertHistory
from tidegate.events import RunFinished, RunStarted
from tidegate.observability.alerting import AlertEngine
from tidegate.spec.alerting import AlertsSpec, ConsoleChannelSpec
from tidegate.state import StateStore
from tidegate.state.tables import BREAKERS, HEAD, RUNS, VERSION_TABLE

if TYPE_CHECKING:
    from tidegate.observability.alert import Alert

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


class Sent:
    """A dispatcher recording what it was asked to send; it reports one failed channel."""

    def __init__(self) -> None:
        self.alerts: list[tuple[Alert, tuple[str, ...]]] = []
        self.engine: AlertEngine | None = None

    def dispatch(self, alert: Alert, names: tuple[str, ...]) -> None:
        self.alerts.append((alert, names))
        assert self.engine is not None
        for name in names:
            self.engine.delivered(
                name, alert, name != "mail", None if name != "mail" else "refused"
            )


def _run(url: str, sent: Sent, number: int, at: datetime, *, status: str = "failed") -> None:
    """One run as its own process would: its own store connection and engine."""
    store = StateStore.open(url)
    try:
        engine = AlertEngine(
            AlertsSpec(channels={"console": ConsoleChannelSpec(), "mail": ConsoleChannelSpec()}),
            pipeline="revenue",
            dispatcher=sent,
            history=StateAlertHistory(store),
            now=lambda: at,
        )
        sent.engine = engine
        run_id = f"0190b1a0-0000-7000-8000-{number:012d}"
        engine.handle(RunStarted(run_id=run_id, pipeline="revenue", source="s", destination="d"))
        engine.handle(
            RunFinished(
                run_id=run_id,
                pipeline="revenue",
                status=status,
                rows_read=10,
                rows_written=0,
                rows_rejected=0,
                batches=1,
                seconds=1.0,
                error=f"server closed the connection after {number} s"
                if status == "failed"
                else None,
                error_kind="dependency" if status == "failed" else None,
            )
        )
    finally:
        store.close()


def test_ten_failures_within_the_cooldown_send_one_alert_across_processes(url: str) -> None:
    sent = Sent()
    for number in range(10):
        _run(url, sent, number, T0 + timedelta(minutes=5 * number))
    assert len(sent.alerts) == 1
    _run(url, sent, 10, T0 + timedelta(minutes=70))  # the cooldown (1h) is over
    assert len(sent.alerts) == 2
    _run(url, sent, 11, T0 + timedelta(minutes=75), status="succeeded")
    _run(url, sent, 12, T0 + timedelta(minutes=80), status="succeeded")
    assert [a.status for a, _ in sent.alerts] == ["firing", "firing", "resolved"]

    store = StateStore.open(url)
    try:
        alerts = store.alerts(pipeline="revenue", limit=50)
        assert store.open_alerts("revenue") == []
        assert store.alerts(pipeline="other") == []
    finally:
        store.close()
    assert [a["status"] for a in alerts] == ["resolved", "firing"] + ["suppressed"] * 9 + ["firing"]
    newest_firing = alerts[1]
    assert newest_firing["channels"] == ("console", "mail")
    assert newest_firing["sent_at"] == T0 + timedelta(minutes=70)
    assert newest_firing["resolved_at"] == T0 + timedelta(minutes=75)
    assert newest_firing["delivered"] == {
        "console": {"ok": True, "error": None, "at": newest_firing["delivered"]["console"]["at"]},
        "mail": {"ok": False, "error": "refused", "at": newest_firing["delivered"]["mail"]["at"]},
    }
    assert alerts[2]["channels"] == ()
    assert alerts[2]["delivered"] == {}


def test_last_alert_is_the_last_one_sent(url: str) -> None:
    store = StateStore.open(url)
    try:
        row = {
            "pipeline": "p",
            "rule": "run_failed",
            "fingerprint": "f",
            "severity": "warning",
            "title": "t",
            "channels": ["console"],
        }
        first = store.record_alert({**row, "status": "firing", "sent_at": T0})
        store.record_alert({**row, "status": "suppressed", "sent_at": T0 + timedelta(minutes=1)})
        last = store.last_alert("p", "run_failed", "f")
        assert last is not None
        assert (last["id"], last["sent_at"]) == (first, T0)
        assert store.last_alert("p", "run_failed", "other") is None
        assert store.resolve_alerts("p", T0 + timedelta(minutes=2)) == 1
        assert store.resolve_alerts("p", T0 + timedelta(minutes=3)) == 0
    finally:
        store.close()


def test_migrating_a_store_from_0002_keeps_its_runs_and_breakers(url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(files("tidegate.state").joinpath("migrations")))
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            connection.execute(
                RUNS.insert().values(
                    run_id="0190b1a0-0000-7000-8000-000000000001",
                    pipeline="orders",
                    status="succeeded",
                    started_at=T0,
                    spec_hash="0" * 64,
                    host="host",
                    user_name="user",
                    version="0.1.0",
                )
            )
            connection.execute(
                BREAKERS.insert().values(
                    target="api.example.com",
                    state="open",
                    failures=3,
                    calls=4,
                    outcomes="1000",
                    updated_at=T0,
                )
            )
        assert not sa.inspect(engine).has_table("tidegate_alerts")
    finally:
        engine.dispose()
    store = StateStore.open(url)
    try:
        assert [run.run_id for run in store.runs()] == ["0190b1a0-0000-7000-8000-000000000001"]
        assert [b["state"] for b in store.breakers()] == ["open"]
        assert store.alerts() == []
        with store.engine.connect() as con:
            versions = con.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    finally:
        store.close()
    assert versions == [(HEAD,)]
