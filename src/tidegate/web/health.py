"""The health page's checks, run live: in a worker thread, once for everyone, reused a while.

``tidegate health`` connects to every database and API a pipeline uses, which may take a
while and costs the systems checked a connection each. A wall of screens showing the health
page, each refreshing on its own, must not multiply that: a round of checks is shared by every
request arriving while it runs (they wait for it rather than starting their own) and reused for
``ttl`` seconds after it. The round runs in a worker thread, so the event loop keeps serving
the other pages meanwhile, and waiting requests hold no thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import anyio.to_thread

if TYPE_CHECKING:
    from tidegate.web.models import HealthChecker, HealthReport

__all__ = ["HEALTH_TTL", "LiveHealth"]

HEALTH_TTL = 5.0
"""Seconds a round of health checks is reused: fresh enough to watch a fix take effect."""


class LiveHealth:
    """The latest ``HealthReport`` of ``checker``, checked again when older than ``ttl``."""

    def __init__(self, checker: HealthChecker, *, ttl: float = HEALTH_TTL) -> None:
        self.checker = checker
        self.ttl = ttl
        self._latest: tuple[float, HealthReport] | None = None
        self._running: asyncio.Future[HealthReport] | None = None

    async def report(self) -> HealthReport:
        """The report of the latest round if younger than ``ttl``, else of a new round."""
        latest = self._latest
        if latest is not None and time.monotonic() - latest[0] < self.ttl:
            return latest[1]
        running = self._running
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = self._running = asyncio.ensure_future(self._round())
        # a request that goes away does not cancel the round the others wait for
        return await asyncio.shield(running)

    async def _round(self) -> HealthReport:
        try:
            report = await anyio.to_thread.run_sync(self.checker.check)
            self._latest = (time.monotonic(), report)
            return report
        finally:
            self._running = None
