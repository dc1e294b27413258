"""Logging configuration; only the composition root configures logging (STYLE §6).

Log lines go to stderr so stdout stays free for machine-readable output. ``auto`` picks the
console renderer on a terminal and JSON lines otherwise.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from structlog.typing import Processor

    from tidegate.observability.logging import SecretRedactor

__all__ = ["LEVELS", "configure_logging", "redact"]

LEVELS = ("debug", "info", "warning", "error")


_active: list[SecretRedactor] = []
"""The redactor of the current run, also applied to what the CLI prints itself."""


def redact(text: str) -> str:
    """``text`` with the current run's secrets masked, for output that bypasses the logs."""
    return _active[0].redact(text) if _active else text


def _current_stderr(*_: Any) -> structlog.PrintLogger:
    """A logger writing to ``sys.stderr`` as it is now, not as it was when logging was set up:
    whoever swaps stderr later (a test's capture, an embedding application) gets the lines, and
    a stream closed since is never written to."""
    return structlog.PrintLogger(sys.stderr)


def configure_logging(
    level: str,
    fmt: str,
    redactor: SecretRedactor | None = None,
    extra: Sequence[Processor] = (),
) -> None:
    """Route structlog (and stdlib logging from libraries) to stderr at ``level`` in ``fmt``.

    ``redactor`` masks the run's secrets in log lines and in ``redact``; commands that hold no
    secrets may leave it out. ``extra`` processors add fields to every line (trace ids) before
    the redactor and the renderer see it.
    """
    stream = sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    _active[:] = [redactor] if redactor else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *extra,
            *([redactor] if redactor else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_current_stderr,
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=stream, force=True)
