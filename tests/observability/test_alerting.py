"""The alert rules, noise control and recovery of ``AlertEngine``, with a recording dispatcher
and an in-memory history; the state store's history is tested in tests/state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tidegate.events import (
    BreakerChanged,
    QualityMeasured,
    RunFinished,
    RunStarted,
    StepFinished,
)
from tidegate.observability.alerting import (
    AlertEngine,
    AlertRecord,
    RecordStatus,
    fingerprint,
    normalize_message,
)
from tidegate.spec.alerting import AlertRuleSpec, AlertsSpec, ConsoleChannelSpec

if TYPE_CHECKING:
    from tidegate.observability.alert import Alert

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
CHANNELS: dict[str, Any] = {
    "console": ConsoleChannelSpec(),
    "pager": ConsoleChannelSpec(),
    "mail": ConsoleChannelSpec(),
}


class Recording:
    """A dispatcher that records what it was asked to send and reports every channel ok."""

    def __init__(self) -> None:
        self.sent: list[tuple[Alert, tuple[str, ...]]] = []
        self.on_result: Any = None

    def dispatch(self, alert: Alert, names: tuple[str, ...]) -> None:
        self.sent.append((alert, names))
        for name in names:
            if self.on_result is not None:
                self.on_result(name, alert, True, None)


class MemoryHistory:
    """An ``AlertHistory`` in a list, shared by engines as the state store is by runs."""

    def __init__(self) -> None:
        self.records: list[AlertRecord] = []
        self.deliveries: list[tuple[int, str, bool, str | None]] = []
        self.scores: dict[str, float] = {}

    def last_sent(self, pipeline: str, rule: str, fingerprint: str) -> AlertRecord | None:
        sent = [
            r
            for r in self.records
            if (r.pipeline, r.rule, r.fingerprint, r.status)
            == (pipeline, rule, fingerprint, "firing")
        ]
        return sent[-1] if sent else None

    def open_alerts(self, pipeline: str) -> list[AlertRecord]:
        return [
            r
            for r in self.records
            if r.pipeline == pipeline and r.status == "firing" and r.resolved_at is None
        ]

    def record(self, alert: Alert, *, status: RecordStatus, channels: tuple[str, ...]) -> int:
        self.records.append(
            AlertRecord(
                id=len(self.records) + 1,
                pipeline=alert.pipeline,
                rule=alert.rule,
                fingerprint=alert.fingerprint,
                severity=alert.severity,
                status=status,
                channels=channels,
                sent_at=alert.at,
            )
        )
        return len(self.records)

    def resolve(self, pipeline: str, at: datetime) -> None:
        self.records = [
            replace(r, resolved_at=at) if r in self.open_alerts(pipeline) else r
            for r in self.records
        ]

    def record_delivery(self, alert_id: int, channel: str, ok: bool, error: str | None) -> None:
        self.deliveries.append((alert_id, channel, ok, error))

    def last_score(self, pipeline: str, *, before: str) -> float | None:
        return self.scores.get(pipeline)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _engine(
    history: MemoryHistory,
    clock: Clock,
    dispatcher: Recording,
    spec: AlertsSpec | None = None,
    **facts: Any,
) -> AlertEngine:
    engine = AlertEngine(
        spec or AlertsSpec(channels=CHANNELS),
        pipeline=facts.pop("pipeline", "revenue"),
        dispatcher=dispatcher,
        history=history,
        now=clock,
        **facts,
    )
    dispatcher.on_result = engine.delivered
    return engine


def _run(
    engine: AlertEngine,
    run: int,
    *,
    status: str = "failed",
    error: str | None = "connection to db-7 refused after 3012 ms (request 9f2c4e1ab7)",
    kind: str | None = "dependency",
    seconds: float = 12.0,
    rows: int = 100,
    rejected: int = 0,
    steps: tuple[str, ...] = ("clean", "mask"),
    finished_steps: tuple[str, ...] = ("clean",),
) -> None:
    run_id = f"0190b1a0-0000-7000-8000-{run:012d}"
    engine.handle(
        RunStarted(
            run_id=run_id,
            pipeline="revenue",
            source="csv:in",
            destination="postgres:dw",
            steps=steps,
        )
    )
    for step in finished_steps:
        engine.handle(
            StepFinished(
                run_id=run_id,
                pipeline="revenue",
                step=step,
                batch=1,
                rows_in=rows,
                rows_out=rows,
                seconds=0.1,
            )
        )
    engine.handle(
        RunFinished(
            run_id=run_id,
            pipeline="revenue",
            status=status,
            rows_read=rows,
            rows_written=rows - rejected if status == "succeeded" else 0,
            rows_rejected=rejected,
            batches=1,
            seconds=seconds,
            error=error if status == "failed" else None,
            error_kind=kind if status == "failed" else None,
        )
    )


def test_ten_identical_failures_within_the_cooldown_send_one_alert_then_one_resolved() -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    for run in range(10):
        # A process per run, as in production: only the history is shared.
        engine = _engine(history, clock, sent, consumers=("Finance daily revenue report",))
        clock.now = T0 + timedelta(minutes=5 * run)
        _run(engine, run, error=f"connection to db-{run} refused after {run * 100} ms")
    assert len(sent.sent) == 1
    alert, channels = sent.sent[0]
    assert (alert.rule, alert.status, alert.severity) == ("run_failed", "firing", "critical")
    assert channels == ("console", "pager", "mail")
    assert [r.status for r in history.records] == ["firing"] + ["suppressed"] * 9
    assert history.deliveries == [
        (1, "console", True, None),
        (1, "pager", True, None),
        (1, "mail", True, None),
    ]

    clock.now += timedelta(minutes=5)
    _run(_engine(history, clock, sent), 10, status="succeeded")
    clock.now += timedelta(minutes=5)
    _run(_engine(history, clock, sent), 11, status="succeeded")
    assert len(sent.sent) == 2
    resolved, resolved_to = sent.sent[1]
    assert (resolved.status, resolved.rule, resolved.severity) == (
        "resolved",
        "recovery",
        "critical",
    )
    assert resolved_to == ("console", "pager", "mail")
    assert "resolved: run_failed" in resolved.summary
    assert history.open_alerts("revenue") == []


def test_the_cooldown_ends_and_a_new_fingerprint_alerts_at_once() -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    _run(_engine(history, clock, sent), 1)
    clock.now = T0 + timedelta(minutes=59)
    _run(_engine(history, clock, sent), 2)
    assert len(sent.sent) == 1
    clock.now = T0 + timedelta(minutes=61)
    _run(_engine(history, clock, sent), 3)
    assert len(sent.sent) == 2
    _run(_engine(history, clock, sent), 4, error="column amount is not numeric", kind="data")
    assert len(sent.sent) == 3
    assert sent.sent[1][0].fingerprint != sent.sent[2][0].fingerprint


def test_a_failure_after_a_recovery_alerts_within_the_cooldown() -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    _run(_engine(history, clock, sent), 1)
    _run(_engine(history, clock, sent), 2, status="succeeded")
    clock.now += timedelta(minutes=1)
    _run(_engine(history, clock, sent), 3)
    assert [a.status for a, _ in sent.sent] == ["firing", "resolved", "firing"]


def test_without_recovery_no_resolved_is_sent_but_the_alert_is_closed() -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    spec = AlertsSpec(channels=CHANNELS, recovery=False)
    _run(_engine(history, clock, sent, spec), 1)
    _run(_engine(history, clock, sent, spec), 2, status="succeeded")
    assert [a.status for a, _ in sent.sent] == ["firing"]
    assert history.open_alerts("revenue") == []


@pytest.mark.parametrize(
    ("kind", "severity", "action"),
    [
        ("transient", "warning", "--resume"),
        ("dependency", "critical", "check the source (csv:in) and the destination (postgres:dw)"),
        ("data", "warning", "`tidegate quarantine show <pipeline>`"),
        ("config", "warning", "`tidegate validate <pipeline>`"),
        ("security", "critical", "tell the security contact"),
        ("internal", "warning", "`tidegate show 0190b1a0-0000-7000-8000-000000000001`"),
    ],
)
def test_severity_and_next_action_by_error_kind(kind: str, severity: str, action: str) -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    _run(_engine(history, clock, sent), 1, kind=kind)
    alert = sent.sent[0][0]
    assert (alert.severity, alert.error_kind) == (severity, kind)
    assert alert.next_action is not None
    assert action in alert.next_action


def test_the_alert_tells_who_is_affected_where_it_failed_and_links_the_run() -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    spec = AlertsSpec(channels=CHANNELS, dashboard_url="https://tidegate.example.com/")
    engine = _engine(
        history,
        clock,
        sent,
        spec,
        owner="data-platform",
        criticality=1,
        consumers=("Finance daily revenue report", "CFO dashboard"),
    )
    _run(engine, 1)
    alert = sent.sent[0][0]
    assert alert.impact == (
        "Finance daily revenue report will be stale; CFO dashboard will be stale"
    )
    assert alert.step == "mask"
    assert "in step mask" in alert.summary
    assert alert.link == "https://tidegate.example.com/runs/0190b1a0-0000-7000-8000-000000000001"
    assert (alert.owner, alert.criticality) == ("data-platform", 1)
    assert alert.counts == {"rows_read": 100, "rows_written": 0, "rows_rejected": 0, "batches": 1}


def test_rule_overrides_kinds_and_routing_by_tier() -> None:
    spec = AlertsSpec(
        channels=CHANNELS,
        rules=(
            AlertRuleSpec(on="run_failed", kinds=("data",), severity="info"),
            AlertRuleSpec(on="run_failed", channels=("pager",)),
        ),
        routing={1: ("pager", "mail"), 3: ("mail",)},
    )
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    _run(_engine(history, clock, sent, spec, criticality=1), 1, kind="data")
    _run(_engine(history, clock, sent, spec, criticality=1), 2, kind="config", error="bad")
    routed = [(a.severity, a.error_kind, names) for a, names in sent.sent]
    # info goes only to console channels among the routed ones: both are console here
    assert routed == [("info", "data", ("pager", "mail")), ("warning", "config", ("pager",))]

    tiered = AlertsSpec(
        channels={
            "console": ConsoleChannelSpec(),
            **dict.fromkeys(("pager", "mail"), CHANNELS["mail"]),
        },
        routing={1: ("pager", "mail", "console"), 3: ("mail",)},
    )
    history, sent = MemoryHistory(), Recording()
    _run(_engine(history, clock, sent, tiered, criticality=1), 1)
    _run(_engine(history, clock, sent, tiered, criticality=3, pipeline="other"), 2)
    _run(_engine(history, clock, sent, tiered, criticality=2, pipeline="third"), 3)
    assert [names for _, names in sent.sent] == [
        ("pager", "mail", "console"),
        ("mail",),
        ("console", "pager", "mail"),
    ]


def test_reject_ratio_and_sla_duration() -> None:
    spec = AlertsSpec(
        channels=CHANNELS,
        rules=(AlertRuleSpec(on="reject_ratio", threshold=0.1), AlertRuleSpec(on="sla_duration")),
    )
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    engine = _engine(history, clock, sent, spec, sla_max_duration="1m")
    _run(engine, 1, status="succeeded", rejected=10, seconds=30)
    assert sent.sent == []
    _run(engine, 2, status="succeeded", rejected=11, seconds=61)
    rules = {a.rule: a for a, _ in sent.sent}
    assert set(rules) == {"reject_ratio", "sla_duration"}
    assert rules["reject_ratio"].title == "revenue: 11.0% of rows rejected"
    assert rules["sla_duration"].summary.endswith("sla.max_duration is 60s")
    assert rules["sla_duration"].impact == "the output of revenue will be late"


def test_breaker_open_alerts_once_per_target() -> None:
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    engine = _engine(history, clock, sent)
    for state, target in (
        ("open", "api.example.com"),
        ("open", "api.example.com"),
        ("half_open", "x"),
        ("open", "x"),
    ):
        engine.handle(
            BreakerChanged(
                run_id="r",
                pipeline="revenue",
                target=target,
                state=state,
                previous="closed",
                failure_rate=0.75,
                next_probe_at=T0 + timedelta(minutes=1),
            )
        )
    alerts = [a for a, _ in sent.sent]
    assert [(a.rule, a.severity) for a in alerts] == [("breaker_open", "critical")] * 2
    assert alerts[0].title == "revenue: circuit breaker open on api.example.com"
    assert "next probe at 08:01:00 UTC" in alerts[0].summary
    assert "`tidegate breaker list`" in (alerts[0].next_action or "")


def _quality(score: float | None, *, failed: tuple[str, ...] = ()) -> QualityMeasured:
    return QualityMeasured(
        run_id="0190b1a0-0000-7000-8000-000000000009",
        pipeline="revenue",
        step="quality",
        rows=1000,
        rejected=40,
        score=score,
        dimensions={},
        columns={},
        rules=(
            {
                "id": "amount_positive",
                "severity": "error",
                "passed": "amount_positive" not in failed,
            },
            {"id": "id_unique", "severity": "error", "passed": "id_unique" not in failed},
            {"id": "name_length", "severity": "warning", "passed": False},  # never alerts
        ),
    )


def test_quality_breach_and_score_drop() -> None:
    spec = AlertsSpec(
        channels=CHANNELS,
        rules=(AlertRuleSpec(on="quality_breach"), AlertRuleSpec(on="score_drop", threshold=5)),
    )
    history, clock, sent = MemoryHistory(), Clock(), Recording()
    engine = _engine(history, clock, sent, spec)
    history.scores["revenue"] = 96.0
    engine.handle(_quality(92.0))
    assert sent.sent == []
    engine.handle(_quality(90.0, failed=("id_unique",)))
    alerts = {a.rule: a for a, _ in sent.sent}
    assert set(alerts) == {"quality_breach", "score_drop"}
    assert alerts["quality_breach"].summary.startswith(
        "run 0190b1a0-0000-7000-8000-000000000009: id_unique below threshold"
    )
    assert alerts["score_drop"].title == "revenue: quality score fell from 96.0 to 90.0"


def test_the_fingerprint_ignores_numbers_ids_and_uuids() -> None:
    one = "run 0190b1a0-0000-7000-8000-000000000001 at row 17: key 9f2c4e1ab7 refused"
    two = "run 0190b1a0-0000-7000-8000-0000000000ff at row 23: key 00ab12cd34ef refused"
    assert (
        normalize_message(one)
        == normalize_message(two)
        == "run <uuid> at row <n>: key <id> refused"
    )
    assert fingerprint("data", None, normalize_message(one)) == fingerprint(
        "data", None, normalize_message(two)
    )
    assert fingerprint("data", "mask", "x") != fingerprint("data", None, "x")
