"""Structured logging of run events, and the processors that keep secrets out of log lines.

The ``LoggingListener`` turns each event into one structlog line named in snake_case with
key-value pairs (run_id, pipeline, batch, step where they apply). ``SecretRedactor`` is a
structlog processor that replaces every known secret value, wherever it appears in an event
dict, so a secret echoed by a driver's message still never reaches a log line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from pydantic import SecretStr

from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BatchWritten,
    BreakerChanged,
    ColumnsClassified,
    Event,
    FaultInjected,
    PreflightChecked,
    QualityMeasured,
    RetryAttempted,
    RowsRejected,
    RunFinished,
    RunRegressed,
    RunResumed,
    RunStarted,
    StepFinished,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, MutableMapping

__all__ = ["REDACTED", "LoggingListener", "SecretRedactor"]

REDACTED = "**********"

_log = structlog.get_logger("tidegate.run")


Line = tuple[str, str, dict[str, Any]]
"""A log line to write: level, event name, fields."""


def _started(e: RunStarted) -> Line:
    fields = {"source": e.source, "steps": list(e.steps), "destination": e.destination}
    return "info", "run_started", fields


def _preflight(e: PreflightChecked) -> Line:
    fields = {
        "component": e.component,
        "check": e.check,
        "ok": e.ok,
        "ms": round(e.seconds * 1000, 1),
        "detail": e.detail,
    }
    return ("debug" if e.ok else "error"), "preflight_checked", fields


def _resumed(e: RunResumed) -> Line:
    if e.already_finished:
        return "info", "nothing_to_resume", {"finished_run": e.from_run, "rows": e.rows}
    fields = {"from_run": e.from_run, "after_batch": e.batch, "rows_skipped": e.rows}
    return "info", "run_resumed", fields


def _read(e: BatchRead) -> Line:
    return "debug", "batch_read", {"batch": e.batch, "rows": e.rows}


def _step(e: StepFinished) -> Line:
    fields = {
        "step": e.step,
        "batch": e.batch,
        "rows_in": e.rows_in,
        "rows_out": e.rows_out,
        "seconds": round(e.seconds, 4),
    }
    return "debug", "step_finished", fields


def _rejected(e: RowsRejected) -> Line:
    fields = {"step": e.step, "batch": e.batch, "rows": e.rows, "reasons": dict(e.reasons)}
    if e.quarantine:
        # kept where the user asked: expected, and summed up by quality_measured at the end
        return "info", "rows_rejected", {**fields, "quarantine": e.quarantine}
    return "warning", "rows_rejected", fields


def _quality(e: QualityMeasured) -> Line:
    failed = {str(rule["id"]): rule["failed"] for rule in e.rules if rule["failed"]}
    fields = {
        "step": e.step,
        "rows": e.rows,
        "rejected": e.rejected,
        "score": e.score,
        "failed_rules": failed,
        "final": e.final,
    }
    return ("warning" if failed else "info"), "quality_measured", fields


def _classified(e: ColumnsClassified) -> Line:
    found = {
        str(c["column"]): f"{c['pii_type']}/{c['level']}->{c['applied']}"
        for c in e.columns
        if c["pii_type"] != "none" or c["origin"] == "pinned"
    }
    blocked = [str(c["column"]) for c in e.columns if c["status"] == "blocked"]
    fields = {"policy": e.policy, "profile": e.profile, "pii_columns": found, "blocked": blocked}
    return ("error" if e.blocked else "info"), "columns_classified", fields


def _retry(e: RetryAttempted) -> Line:
    fields = {
        "operation": e.operation,
        "target": e.target,
        "attempt": e.attempt,
        "delay": round(e.delay, 3),
        "error_kind": e.error_kind,
    }
    return "warning", "retry_attempted", fields


def _breaker(e: BreakerChanged) -> Line:
    fields: dict[str, Any] = {
        "target": e.target,
        "state": e.state,
        "previous": e.previous,
        "failure_rate": round(e.failure_rate, 3),
    }
    if e.failing_since is not None:
        fields["failing_since"] = e.failing_since.isoformat()
    if e.next_probe_at is not None:
        fields["next_probe_at"] = e.next_probe_at.isoformat()
    return ("warning" if e.state != "closed" else "info"), "breaker_changed", fields


def _fault(e: FaultInjected) -> Line:
    return "warning", "fault_injected", {"point": e.point, "batch": e.batch, "fault": e.fault}


def _regressed(e: RunRegressed) -> Line:
    fields = {
        "metric": e.metric,
        "value": round(e.value, 3),
        "mean": round(e.mean, 3),
        "stddev": round(e.stddev, 3),
        "sigmas": round(e.sigmas, 2),
        "runs": e.runs,
    }
    return "warning", "run_regressed", fields


def _written(e: BatchWritten) -> Line:
    return "debug", "batch_written", {"batch": e.batch, "rows": e.rows}


def _committed(e: BatchCommitted) -> Line:
    return "debug", "batch_committed", {"batch": e.batch, "rows": e.rows}


def _finished(e: RunFinished) -> Line:
    fields: dict[str, Any] = {
        "status": e.status,
        "rows_read": e.rows_read,
        "rows_written": e.rows_written,
        "rows_rejected": e.rows_rejected,
        "batches": e.batches,
        "seconds": round(e.seconds, 3),
    }
    if e.error:
        return "error", "run_failed", {"error": e.error, "error_kind": e.error_kind, **fields}
    return "info", "run_finished", fields


_LINES: dict[type[Event], Callable[[Any], Line]] = {
    RunStarted: _started,
    PreflightChecked: _preflight,
    RunResumed: _resumed,
    BatchRead: _read,
    StepFinished: _step,
    QualityMeasured: _quality,
    ColumnsClassified: _classified,
    RetryAttempted: _retry,
    BreakerChanged: _breaker,
    FaultInjected: _fault,
    RunRegressed: _regressed,
    RowsRejected: _rejected,
    BatchWritten: _written,
    BatchCommitted: _committed,
    RunFinished: _finished,
}


class LoggingListener:
    """Logs run events: start and end at info, per-batch detail at debug, rejections at warning."""

    def handle(self, event: Event) -> None:
        """Write one log line for ``event``; event types it does not know go out at debug."""
        line = _LINES.get(type(event))
        level, name, fields = line(event) if line else ("debug", type(event).__name__.lower(), {})
        getattr(_log, level)(name, **fields, run_id=event.run_id, pipeline=event.pipeline)


class SecretRedactor:
    """structlog processor: masks ``SecretStr`` values and every registered secret string."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Register more secret values to mask (values shorter than 4 characters are ignored)."""
        self._secrets.update(s for s in secrets if len(s) >= 4)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Return ``event_dict`` with every secret replaced by ``**********``."""
        for key, value in event_dict.items():
            event_dict[key] = self._clean(value)
        return event_dict

    def redact(self, text: str) -> str:
        """``text`` with every registered secret masked."""
        cleaned: str = self._clean(text)
        return cleaned

    def _clean(self, value: Any) -> Any:
        if isinstance(value, SecretStr):
            return REDACTED
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value
