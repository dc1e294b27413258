"""``AlertEngine``: the alert rules, noise control and recovery, as a listener of a run's events.

The engine turns events into ``Alert``s by the rules of ``observability.alerts`` and hands each
to a dispatcher (``channels.Dispatcher``), which sends it within a time bound and retries in the
background; it never sends anything itself, so a slow channel cannot hold up a run.

Rules (the first rule of an ``on`` that matches wins, so put narrow rules first):

- ``run_failed``: a failed run, of the rule's ``kinds`` (default every kind). Severity: the
  rule's, else from the error kind's policy (``core.taxonomy.KIND_POLICIES``): ``security``
  (critical by ``default_severity``) and ``dependency`` (whose on-call is paged) are
  critical, every other kind a warning.
- ``quality_breach``: a quality rule of severity error or critical failed on some rows
  (warning); rules of severity warning or info never alert.
- ``score_drop``: the quality score fell ``threshold`` points (default 10) below the last run's.
- ``reject_ratio``: rejected rows above ``threshold`` (default 0.05) of the rows read.
- ``sla_duration``: the run took longer than the pipeline's ``sla.max_duration`` (warning).
- ``sla_age``: no successful run within ``sla.max_age``, as ``tidegate health`` finds (warning).
- ``breaker_open``: a circuit breaker opened (critical: the dependency's on-call is paged).

Noise control: alerts are keyed by (pipeline, rule, fingerprint); the fingerprint hashes the
error kind, the failing step when known and the error message with numbers, ids and UUIDs
replaced, so the same failure of ten runs has one key. An alert whose key was sent within the
``cooldown`` and is not resolved is recorded as ``suppressed`` and not sent. The history lives in
the state store because every run is a process of its own. After a recovery the next failure
alerts at once, cooldown or not: the on-call was told it was over.

Routing and escalation: an alert goes to its rule's ``channels`` when set, else to
``routing[criticality]`` (every channel when the tier has no routing). Critical and warning
alerts go to all those channels at once; an info alert only to the console channels among
them, and is otherwise kept in the history (``tidegate alerts list``), a digest to read rather
than a page. A recovery ("resolved", when ``recovery`` is on) goes to the channels of the alerts
it resolves, once per success however many alerts were open.

``state`` and ``observability`` may not import each other, so the history is the
``AlertHistory`` protocol, kept over the state store by ``app.alert_history``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog

from tidegate.core.taxonomy import KIND_POLICIES
from tidegate.errors import ErrorKind, Severity, TidegateError
from tidegate.events import (
    BreakerChanged,
    QualityMeasured,
    RunFinished,
    RunStarted,
    StepFinished,
)
from tidegate.observability.alert import Alert, AlertSeverity
from tidegate.spec.quality import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tidegate.events import Event
    from tidegate.spec.alerting import AlertRuleSpec, AlertsSpec, RuleEvent

__all__ = [
    "AlertDispatcher",
    "AlertEngine",
    "AlertHistory",
    "AlertRecord",
    "RecordStatus",
    "fingerprint",
    "kind_severity",
    "normalize_message",
]

_log = structlog.get_logger("tidegate.alerting")

RecordStatus = Literal["firing", "suppressed", "resolved"]

DEFAULT_SCORE_DROP = 10.0
"""Points of quality score below the last run that make a ``score_drop`` without a threshold."""

DEFAULT_REJECT_RATIO = 0.05
"""Share of rejected rows that makes a ``reject_ratio`` alert without a threshold."""


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    """An alert as the history keeps it."""

    id: int
    pipeline: str
    rule: str
    fingerprint: str
    severity: AlertSeverity
    status: RecordStatus
    channels: tuple[str, ...]
    sent_at: datetime
    resolved_at: datetime | None = None


class AlertHistory(Protocol):
    """Where alerts are remembered across runs (``app.alert_history.StateAlertHistory``)."""

    def last_sent(self, pipeline: str, rule: str, fingerprint: str) -> AlertRecord | None:
        """The newest alert of this key that was sent (status ``firing``), or None."""

    def open_alerts(self, pipeline: str) -> list[AlertRecord]:
        """The alerts of ``pipeline`` sent and not resolved yet."""

    def record(self, alert: Alert, *, status: RecordStatus, channels: tuple[str, ...]) -> int:
        """Remember ``alert`` with what was done with it; return its id."""

    def resolve(self, pipeline: str, at: datetime) -> None:
        """Mark every open alert of ``pipeline`` resolved."""

    def record_delivery(self, alert_id: int, channel: str, ok: bool, error: str | None) -> None:
        """Remember what ``channel`` reported for alert ``alert_id``."""

    def last_score(self, pipeline: str, *, before: str) -> float | None:
        """The quality score of the newest run of ``pipeline`` before run ``before``."""


class AlertDispatcher(Protocol):
    """What sends alerts (``observability.channels.Dispatcher``)."""

    def dispatch(self, alert: Alert, names: tuple[str, ...]) -> object:
        """Send ``alert`` to the channels ``names``, bounded in time (the result is unused)."""


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SPACES = re.compile(r"\s+")


def normalize_message(message: str) -> str:
    """``message`` without what changes between two runs of the same failure: UUIDs, hex ids
    and numbers (row counts, line numbers, ports, timestamps), lower-cased."""
    text = _UUID.sub("<uuid>", message)
    text = _HEX_ID.sub("<id>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text).strip().lower()


def fingerprint(*parts: str | None) -> str:
    """A stable 16-hex-digit hash of ``parts`` (None counts as empty)."""
    joined = "\x1f".join(part or "" for part in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def _kind(value: str | None) -> ErrorKind:
    try:
        return ErrorKind(value or "internal")
    except ValueError:
        return ErrorKind.INTERNAL


def kind_severity(kind: ErrorKind) -> AlertSeverity:
    """A failed run's alert severity by its error kind: critical where the kind's policy pages
    someone (security, dependency), a warning where a person looks within hours or days."""
    policy = KIND_POLICIES[kind]
    paged = policy.severity is Severity.CRITICAL or kind is ErrorKind.DEPENDENCY
    return "critical" if paged else "warning"


_RULE_SEVERITY: dict[RuleEvent, AlertSeverity] = {
    "quality_breach": "warning",
    "score_drop": "warning",
    "reject_ratio": "warning",
    "sla_duration": "warning",
    "sla_age": "warning",
    "breaker_open": "critical",
}

_RANK: dict[AlertSeverity, int] = {"info": 0, "warning": 1, "critical": 2}


class AlertEngine:
    """A listener that alerts by the rules of ``spec``; see the module docstring.

    ``pipeline`` and the facts after it come from the pipeline spec; ``sla_max_duration`` is
    ``sla.max_duration`` (a duration or seconds). ``now`` is the clock the cooldown reads.
    Wire the dispatcher's ``on_result`` to :meth:`delivered` so outcomes reach the history.
    """

    fail_closed = False

    def __init__(
        self,
        spec: AlertsSpec,
        *,
        pipeline: str,
        owner: str | None = None,
        criticality: int = 3,
        consumers: tuple[str, ...] = (),
        sla_max_duration: str | float | None = None,
        dispatcher: AlertDispatcher,
        history: AlertHistory,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self.pipeline = pipeline
        self.owner = owner
        self.criticality = criticality
        self.consumers = consumers
        self.max_duration = (
            parse_duration(sla_max_duration) if sla_max_duration is not None else None
        )
        self.cooldown = parse_duration(spec.cooldown)
        self.dispatcher = dispatcher
        self.history = history
        self.now = now
        self._run: RunStarted | None = None
        self._last_step: StepFinished | None = None
        self._ids: dict[int, tuple[Alert, int]] = {}

    # -- events ----------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """React to one event of the run."""
        if isinstance(event, RunStarted):
            self._run, self._last_step = event, None
        elif isinstance(event, StepFinished):
            self._last_step = event
        elif isinstance(event, QualityMeasured):
            self._quality(event)
        elif isinstance(event, BreakerChanged):
            self._breaker(event)
        elif isinstance(event, RunFinished):
            self._finished(event)

    def delivered(self, channel: str, alert: Alert, ok: bool, error: str | None) -> None:
        """Record a channel's outcome for ``alert`` (the dispatcher's ``on_result``)."""
        found = self._ids.get(id(alert))
        if found is None:
            return
        try:
            self.history.record_delivery(found[1], channel, ok, error)
        except TidegateError as exc:
            _log.warning("alert_delivery_not_recorded", channel=channel, error=exc.message)

    def _finished(self, event: RunFinished) -> None:
        if event.status == "failed":
            self._failed(event)
        elif event.status == "succeeded":
            self._recovered(event)
        if self.max_duration is not None and event.seconds > self.max_duration.total_seconds():
            self._sla(event, self.max_duration)
        self._rejects(event)

    def _failed(self, event: RunFinished) -> None:
        kind = _kind(event.error_kind)
        rule = self._rule("run_failed", kind=kind)
        if rule is None:
            return
        step = self._failing_step()
        message = event.error or "the run failed"
        next_action = KIND_POLICIES[kind].next_step(systems=self._systems(), run_id=event.run_id)
        self._fire(
            rule,
            default=kind_severity(kind),
            title=f"{self.pipeline} failed",
            summary=f"run {event.run_id} failed after {event.seconds:.0f}s"
            + (f" in step {step}" if step else "")
            + f": {message}",
            fingerprint=fingerprint(kind, step, normalize_message(message)),
            run_id=event.run_id,
            error_kind=str(kind),
            error=event.error,
            step=step,
            counts=_counts(event),
            next_action=next_action,
            impact=self._impact("will be stale"),
        )

    def _quality(self, event: QualityMeasured) -> None:
        failed = [
            r
            for r in event.rules
            if r.get("passed") is False and r.get("severity") in ("error", "critical")
        ]
        rule = self._rule("quality_breach")
        if failed and rule is not None:
            names = sorted(str(r.get("id")) for r in failed)
            self._fire(
                rule,
                title=f"{self.pipeline}: {len(names)} quality rule(s) failed",
                summary=f"run {event.run_id}: {', '.join(names)} below threshold "
                f"({event.rejected} of {event.rows} rows rejected)",
                fingerprint=fingerprint(*names),
                run_id=event.run_id,
                step=event.step,
                counts={"rows": event.rows, "rejected": event.rejected},
                next_action=f"`tidegate show {event.run_id}` lists the failing rules; "
                "`tidegate quarantine show <pipeline>` the rows",
                impact=self._impact("may get incomplete or wrong data"),
            )
        drop = self._rule("score_drop")
        if drop is None or event.score is None or not event.final:
            return
        try:
            last = self.history.last_score(self.pipeline, before=event.run_id)
        except TidegateError as exc:
            _log.warning("alert_history_unavailable", error=exc.message)
            return
        threshold = drop.threshold if drop.threshold is not None else DEFAULT_SCORE_DROP
        if last is None or last - event.score < threshold:
            return
        self._fire(
            drop,
            title=f"{self.pipeline}: quality score fell from {last:.1f} to {event.score:.1f}",
            summary=f"run {event.run_id} scored {event.score:.1f}, {last - event.score:.1f} "
            f"points below the last run (alert at {threshold:g})",
            fingerprint=fingerprint("score_drop"),
            run_id=event.run_id,
            step=event.step,
            counts={"rows": event.rows, "rejected": event.rejected},
            next_action=f"`tidegate show {event.run_id}` shows which dimension fell",
            impact=self._impact("may get worse data than before"),
        )

    def _rejects(self, event: RunFinished) -> None:
        rule = self._rule("reject_ratio")
        if rule is None or event.rows_read <= 0:
            return
        threshold = rule.threshold if rule.threshold is not None else DEFAULT_REJECT_RATIO
        ratio = event.rows_rejected / event.rows_read
        if ratio <= threshold:
            return
        self._fire(
            rule,
            title=f"{self.pipeline}: {ratio:.1%} of rows rejected",
            summary=f"run {event.run_id} rejected {event.rows_rejected} of "
            f"{event.rows_read} rows read (alert above {threshold:.1%})",
            fingerprint=fingerprint("reject_ratio"),
            run_id=event.run_id,
            counts=_counts(event),
            next_action="`tidegate quarantine show <pipeline>` shows the rejected rows and why",
            impact=self._impact("will miss rejected rows"),
        )

    def _sla(self, event: RunFinished, limit: timedelta) -> None:
        rule = self._rule("sla_duration")
        if rule is None:
            return
        self._fire(
            rule,
            title=f"{self.pipeline} took {event.seconds:.0f}s, longer than its SLA",
            summary=f"run {event.run_id} ({event.status}) ran {event.seconds:.0f}s; "
            f"sla.max_duration is {limit.total_seconds():.0f}s",
            fingerprint=fingerprint("sla_duration"),
            run_id=event.run_id,
            counts=_counts(event),
            next_action=f"`tidegate show {event.run_id}` shows where the time went "
            "(steps, waits on the source, commits)",
            impact=self._impact("will be late"),
        )

    def stale(self, detail: str) -> None:
        """The pipeline missed ``sla.max_age``: no successful run recently enough (``detail``
        says how long ago). Called by ``tidegate health``, which is what notices; the next
        successful run resolves it like any other alert."""
        rule = self._rule("sla_age")
        if rule is None:
            return
        self._fire(
            rule,
            title=f"{self.pipeline} is stale",
            summary=f"no successful run within its sla.max_age: {detail}",
            fingerprint=fingerprint("sla_age"),
            next_action="`tidegate runs <pipeline>` shows the recent runs; is the scheduler "
            "running it? `tidegate run <pipeline>` runs it now",
            impact=self._impact("is stale"),
        )

    def _breaker(self, event: BreakerChanged) -> None:
        rule = self._rule("breaker_open")
        if event.state != "open" or rule is None:
            return
        probe = (
            f"; next probe at {event.next_probe_at.astimezone(UTC):%H:%M:%S} UTC"
            if event.next_probe_at
            else ""
        )
        self._fire(
            rule,
            title=f"{self.pipeline}: circuit breaker open on {event.target}",
            summary=f"{event.failure_rate:.0%} of recent calls to {event.target} failed: "
            f"calls fail fast{probe}",
            fingerprint=fingerprint("breaker_open", event.target),
            run_id=event.run_id,
            error_kind=str(ErrorKind.DEPENDENCY),
            next_action=f"check {event.target}; `tidegate breaker list` shows the breaker, "
            f"`tidegate breaker reset {event.target}` closes it once it is back",
            impact=self._impact("will be stale while it stays open"),
        )

    def _recovered(self, event: RunFinished) -> None:
        try:
            open_alerts = self.history.open_alerts(self.pipeline)
            if open_alerts:
                self.history.resolve(self.pipeline, self.now())
        except TidegateError as exc:
            _log.warning("alert_history_unavailable", error=exc.message)
            return
        if not open_alerts or not self.spec.recovery:
            return
        channels = tuple(dict.fromkeys(c for a in open_alerts for c in a.channels))
        rules = sorted({a.rule for a in open_alerts})
        alert = self._alert(
            rule="recovery",
            severity=max((a.severity for a in open_alerts), key=_RANK.__getitem__),
            status="resolved",
            title=f"{self.pipeline} recovered",
            summary=f"run {event.run_id} succeeded ({event.rows_written} rows written); "
            f"resolved: {', '.join(rules)}",
            fingerprint=fingerprint(*(a.fingerprint for a in open_alerts)),
            run_id=event.run_id,
            counts=_counts(event),
            next_action="nothing",
        )
        self._send(alert, "resolved", channels)

    # -- deciding and sending --------------------------------------------------------------

    def _rule(self, on: RuleEvent, *, kind: ErrorKind | None = None) -> AlertRuleSpec | None:
        for rule in self.spec.rules:
            if rule.on == on and (kind is None or rule.kinds is None or kind in rule.kinds):
                return rule
        return None

    def _fire(
        self, rule: AlertRuleSpec, *, default: AlertSeverity | None = None, **fields: Any
    ) -> None:
        """Decide on the alert of ``rule`` made of ``fields`` (``_alert``'s) and send it, or
        record it as suppressed within the cooldown. Its name is the rule's event; its severity
        the rule's, else ``default``, else the event's usual one."""
        severity = rule.severity or default or _RULE_SEVERITY[rule.on]
        alert = self._alert(rule=rule.on, severity=severity, **fields)
        channels = self._route(rule, alert.severity)
        try:
            last = self.history.last_sent(alert.pipeline, alert.rule, alert.fingerprint)
        except TidegateError as exc:
            # Better a repeated alert than a lost one when the history cannot be read.
            _log.warning("alert_history_unavailable", error=exc.message)
            last = None
        if (
            last is not None
            and last.resolved_at is None
            and self.now() - last.sent_at < self.cooldown
        ):
            self._remember(alert, "suppressed", ())
            _log.info("alert_suppressed", rule=alert.rule, fingerprint=alert.fingerprint)
            return
        self._send(alert, "firing", channels)

    def _send(self, alert: Alert, status: RecordStatus, channels: tuple[str, ...]) -> None:
        alert_id = self._remember(alert, status, channels)
        if alert_id is not None:
            self._ids[id(alert)] = (alert, alert_id)
        _log.info("alert_sent", rule=alert.rule, severity=alert.severity, channels=channels)
        if channels:
            self.dispatcher.dispatch(alert, channels)

    def _remember(
        self, alert: Alert, status: RecordStatus, channels: tuple[str, ...]
    ) -> int | None:
        try:
            return self.history.record(alert, status=status, channels=channels)
        except TidegateError as exc:
            _log.warning("alert_not_recorded", rule=alert.rule, error=exc.message)
            return None

    def _route(self, rule: AlertRuleSpec, severity: AlertSeverity) -> tuple[str, ...]:
        if rule.channels is not None:
            routed = rule.channels
        else:
            routed = self.spec.routing.get(self.criticality, tuple(self.spec.channels))
        if severity == "info":
            return tuple(
                name
                for name in routed
                if name in self.spec.channels and self.spec.channels[name].type == "console"
            )
        return tuple(routed)

    def _alert(
        self,
        *,
        rule: str,
        severity: AlertSeverity,
        title: str,
        summary: str,
        fingerprint: str,
        status: Literal["firing", "resolved"] = "firing",
        run_id: str | None = None,
        error_kind: str | None = None,
        error: str | None = None,
        step: str | None = None,
        counts: Mapping[str, int] | None = None,
        next_action: str | None = None,
        impact: str | None = None,
    ) -> Alert:
        base = self.spec.dashboard_url
        return Alert(
            pipeline=self.pipeline,
            rule=rule,
            severity=severity,
            status=status,
            title=title,
            summary=summary,
            fingerprint=fingerprint,
            run_id=run_id,
            error_kind=error_kind,
            error=error,
            step=step,
            counts=dict(counts or {}),
            next_action=next_action,
            owner=self.owner,
            criticality=self.criticality,
            consumers=self.consumers,
            impact=impact,
            link=f"{base.rstrip('/')}/runs/{run_id}" if base and run_id else None,
            at=self.now(),
        )

    def _impact(self, outcome: str) -> str:
        if not self.consumers:
            return f"the output of {self.pipeline} {outcome}"
        return "; ".join(f"{consumer} {outcome}" for consumer in self.consumers)

    def _systems(self) -> str:
        if self._run is None:
            return "the systems the run calls"
        return f"the source ({self._run.source}) and the destination ({self._run.destination})"

    def _failing_step(self) -> str | None:
        """The step that failed, when the events tell: the one after the last step that
        finished its batch. None when the failure was before any step or after the last one
        (reading the source, writing the destination)."""
        if self._run is None or self._last_step is None:
            return None
        steps = self._run.steps
        if self._last_step.step not in steps:
            return None
        following = steps.index(self._last_step.step) + 1
        return steps[following] if following < len(steps) else None


def _counts(event: RunFinished) -> dict[str, int]:
    return {
        "rows_read": event.rows_read,
        "rows_written": event.rows_written,
        "rows_rejected": event.rows_rejected,
        "batches": event.batches,
    }
