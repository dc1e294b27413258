"""Typed events of a run, the listener protocol and the in-process event bus.

Cross-cutting concerns (logs, metrics, state, alerts, audit, lineage) observe a run only through
these events, so adding a concern never means editing the runner. Events are frozen and
keyword-only so new fields never break an existing listener. A listener that raises is logged
and counted without stopping the run, unless it declares ``fail_closed = True`` (audit does):
then its failure fails the run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BatchCommitted",
    "BatchRead",
    "BatchWritten",
    "BreakerChanged",
    "ColumnsClassified",
    "Event",
    "EventBus",
    "FaultInjected",
    "Listener",
    "PreflightChecked",
    "QualityMeasured",
    "RetryAttempted",
    "RowsRejected",
    "RunFinished",
    "RunRegressed",
    "RunResumed",
    "RunStarted",
    "StepFinished",
]

_log = structlog.get_logger("tidegate.events")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Fields every event carries: which run, which pipeline, when."""

    run_id: str
    pipeline: str
    at: datetime = field(default_factory=_now)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run began; ``source`` and ``destination`` are descriptions free of secrets."""

    source: str
    destination: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PreflightChecked(Event):
    """A health check of a source or destination ran before any data moved."""

    component: str
    check: str
    ok: bool
    seconds: float
    detail: str


@dataclass(frozen=True, kw_only=True)
class RunResumed(Event):
    """The run continues run ``from_run`` after its last committed batch and source row.

    ``already_finished`` says that run had committed its end: there is nothing left to load.
    """

    from_run: str
    batch: int
    rows: int
    already_finished: bool = False


@dataclass(frozen=True, kw_only=True)
class BatchRead(Event):
    """The source produced batch number ``batch`` (from 1) of ``rows`` rows.

    ``wait_seconds`` is how long the runner waited for it after finishing the previous batch:
    time spent on the source that the read-ahead did not hide. ``schema`` is the source's
    columns as ``(name, Arrow type)`` pairs, on the run's first batch only (None on the others).
    """

    batch: int
    rows: int
    nbytes: int
    position: Mapping[str, Any]
    wait_seconds: float = 0.0
    schema: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True, kw_only=True)
class StepFinished(Event):
    """A step processed one batch."""

    step: str
    batch: int
    rows_in: int
    rows_out: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class RowsRejected(Event):
    """Rows were split off the data path with reasons (malformed input, failed rules)."""

    step: str
    batch: int
    rows: int
    reasons: Mapping[str, int]
    quarantine: str | None = None


@dataclass(frozen=True, kw_only=True)
class QualityMeasured(Event):
    """The quality of a run's data, measured by its rules (see docs/quality.md).

    ``dimensions`` maps completeness, validity, uniqueness, timeliness and consistency to a
    share in 0..1, or None when no rule measures it; ``score`` is their mean as 0..100 (None
    when nothing was measured). ``columns`` holds per-column shares, ``rules`` one mapping per
    rule (id, type, column, severity, on_fail, checked, failed, passed). ``final`` is False
    when the run stopped early, so the figures cover the rows checked until then.
    """

    step: str
    rows: int
    rejected: int
    score: float | None
    dimensions: Mapping[str, float | None]
    columns: Mapping[str, Mapping[str, float | None]]
    rules: tuple[Mapping[str, Any], ...]
    final: bool = True


@dataclass(frozen=True, kw_only=True)
class ColumnsClassified(Event):
    """What governance found in a run's columns and what the policy made of it, once per run.

    ``columns`` holds one mapping per column: column, pii_type, confidence, level, origin
    (detected, pinned or output: found only in what the steps produce), required (the action
    the policy asks for: allow, mask, encrypt), applied (how the steps protect it: mask:<strategy>,
    encrypt, removed, none) and status (ok, allowed by a policy exception, warned, blocked).
    ``blocked`` is True when the run stops before loading because a required action is missing.
    No value of the data is carried, only what matched and on which share.
    """

    policy: str
    profile: str | None
    columns: tuple[Mapping[str, Any], ...]
    blocked: bool = False


@dataclass(frozen=True, kw_only=True)
class RunRegressed(Event):
    """A finished run is far from its pipeline's baseline (its last successful runs).

    ``metric`` is what moved (``seconds``, ``rows_read``, ``rows_per_s``); ``value`` this run's
    figure; ``mean`` and ``stddev`` the baseline's over ``runs`` runs; ``sigmas`` how many
    standard deviations away (positive: above the mean).
    """

    metric: str
    value: float
    mean: float
    stddev: float
    sigmas: float
    runs: int


@dataclass(frozen=True, kw_only=True)
class RetryAttempted(Event):
    """A call (or the run's load from its last checkpoint) failed retryably and is tried again.

    ``operation`` is what is retried (``rest``, ``load``), ``target`` the system called,
    ``attempt`` the number of the attempt that failed (from 1), ``delay`` the seconds waited
    before the next one, ``error_kind`` the failure's kind; the message is not carried.
    """

    operation: str
    target: str
    attempt: int
    delay: float
    error_kind: str


@dataclass(frozen=True, kw_only=True)
class BreakerChanged(Event):
    """A circuit breaker on ``target`` moved from ``previous`` to ``state`` (closed, open,
    half_open); ``failing_since`` and ``next_probe_at`` are set while it is open."""

    target: str
    state: str
    previous: str
    failure_rate: float
    failing_since: datetime | None = None
    next_probe_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class FaultInjected(Event):
    """Fault injection made ``fault`` happen at ``point`` of batch ``batch``."""

    point: str
    batch: int
    fault: str


@dataclass(frozen=True, kw_only=True)
class BatchWritten(Event):
    """The destination accepted a batch inside the run's open transaction."""

    batch: int
    rows: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class BatchCommitted(Event):
    """The destination was handed batch ``batch``'s checkpoint (``rows`` source rows so far).

    ``seconds`` is what the commit took (storing the checkpoint with the rows).
    """

    batch: int
    rows: int
    position: Mapping[str, Any]
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """A run ended; ``status`` is ``succeeded`` or ``failed``, ``error`` is secret-free text."""

    status: str
    rows_read: int
    rows_written: int
    rows_rejected: int
    batches: int
    seconds: float
    error: str | None = None
    error_kind: str | None = None


@runtime_checkable
class Listener(Protocol):
    """Observes events; must not alter data. ``fail_closed`` listeners stop the run on error."""

    def handle(self, event: Event) -> None:
        """React to one event."""


class EventBus:
    """Delivers each event to every subscribed listener, in subscription order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.failures: Counter[str] = Counter()

    def subscribe(self, listener: Listener) -> None:
        """Add a listener; it sees every event published from now on."""
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        """Deliver ``event``; a failing listener is logged and counted, unless fail-closed."""
        for listener in self._listeners:
            try:
                listener.handle(event)
            except Exception:
                if getattr(listener, "fail_closed", False):
                    raise
                name = type(listener).__name__
                self.failures[name] += 1
                _log.exception("listener_failed", listener=name, event_type=type(event).__name__)
