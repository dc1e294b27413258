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
    Event,
    PreflightChecked,
    RowsRejected,
    RunFinished,
    RunResumed,
    RunStarted,
    StepFinished,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, MutableMapping

__all__ = ["REDACTED", "LoggingListener", "SecretRedactor"]

REDACTED = "**********"

_log = structlog.get_logger("tidegate.run")


class LoggingListener:
    """Logs run events: start and end at info, per-batch detail at debug, rejections at warning."""

    def handle(self, event: Event) -> None:
        """Write one log line for ``event``."""
        ids = {"run_id": event.run_id, "pipeline": event.pipeline}
        match event:
            case RunStarted():
                _log.info(
                    "run_started",
                    source=event.source,
                    steps=list(event.steps),
                    destination=event.destination,
                    **ids,
                )
            case BatchRead():
                _log.debug("batch_read", batch=event.batch, rows=event.rows, **ids)
            case StepFinished():
                _log.debug(
                    "step_finished",
                    step=event.step,
                    batch=event.batch,
                    rows_in=event.rows_in,
                    rows_out=event.rows_out,
                    seconds=round(event.seconds, 4),
                    **ids,
                )
            case RowsRejected():
                _log.warning(
                    "rows_rejected",
                    step=event.step,
                    batch=event.batch,
                    rows=event.rows,
                    reasons=dict(event.reasons),
                    **ids,
                )
            case BatchWritten():
                _log.debug("batch_written", batch=event.batch, rows=event.rows, **ids)
            case BatchCommitted():
                _log.debug("batch_committed", batch=event.batch, rows=event.rows, **ids)
            case PreflightChecked():
                (_log.debug if event.ok else _log.error)(
                    "preflight_checked",
                    component=event.component,
                    check=event.check,
                    ok=event.ok,
                    ms=round(event.seconds * 1000, 1),
                    detail=event.detail,
                    **ids,
                )
            case RunResumed():
                _log.info(
                    "run_resumed",
                    from_run=event.from_run,
                    after_batch=event.batch,
                    rows_skipped=event.rows,
                    **ids,
                )
            case RunFinished():
                fields = {
                    "status": event.status,
                    "rows_read": event.rows_read,
                    "rows_written": event.rows_written,
                    "rows_rejected": event.rows_rejected,
                    "batches": event.batches,
                    "seconds": round(event.seconds, 3),
                }
                if event.error:
                    _log.error(
                        "run_failed",
                        error=event.error,
                        error_kind=event.error_kind,
                        **fields,
                        **ids,
                    )
                else:
                    _log.info("run_finished", **fields, **ids)
            case _:
                _log.debug(type(event).__name__.lower(), **ids)


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
