"""``StateRecorder``: the listener that writes each run into the state store.

It writes twice per run, never per batch: a ``running`` row when the run starts (so a run in
progress, or one killed, shows in ``tidegate runs``) and, when it ends, the outcome with its
steps, quality, column classification, performance figures and any regression against the
pipeline's baseline, in one transaction. A regression is also published as a ``RunRegressed``
event for the other listeners (logs, metrics, alerts).

The state store observes runs; it must never fail one. A store that cannot be written is
logged once per recorder and the run goes on.
"""

from __future__ import annotations

import getpass
import socket
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import structlog

from tidegate.errors import TidegateError
from tidegate.events import (
    ColumnsClassified,
    QualityMeasured,
    RunFinished,
    RunRegressed,
    RunResumed,
    RunStarted,
)
from tidegate.state.store import regressions

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from tidegate.events import Event, EventBus
    from tidegate.spec.observability import BaselineSpec
    from tidegate.state.store import StateStore

__all__ = ["StateRecorder"]

_log = structlog.get_logger(__name__)


class StateRecorder:
    """Records runs published on ``bus`` into ``store``.

    ``figures`` returns the finished run's performance figures (a ``RunFigures.to_dict()``),
    or None; the app subscribes the meter that computes them before this recorder, so they are
    complete when ``RunFinished`` arrives here.
    """

    fail_closed = False

    def __init__(
        self,
        store: StateStore,
        *,
        bus: EventBus,
        baseline: BaselineSpec,
        spec_hash: str,
        profile: str | None = None,
        figures: Callable[[], Mapping[str, Any] | None] = lambda: None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.baseline = baseline
        self.spec_hash = spec_hash
        self.profile = profile
        self.figures = figures
        self.failures = 0
        self._quality: QualityMeasured | None = None
        self._columns: ColumnsClassified | None = None
        self._resumed_from: str | None = None
        self._started: set[str] = set()

    def handle(self, event: Event) -> None:
        """Record run starts and ends; keep what the end needs."""
        if isinstance(event, RunStarted):
            self._quality = self._columns = self._resumed_from = None
            self._write(self._start, event)
        elif isinstance(event, QualityMeasured):
            self._quality = event
        elif isinstance(event, ColumnsClassified):
            self._columns = event
        elif isinstance(event, RunResumed):
            self._resumed_from = event.from_run
        elif isinstance(event, RunFinished) and event.run_id in self._started:
            self._write(self._finish, event)

    def _write(self, action: Callable[[Any], None], event: Event) -> None:
        try:
            action(event)
        except TidegateError as exc:
            self.failures += 1
            if self.failures == 1:
                _log.warning(
                    "state_store_unavailable",
                    store=self.store.shown_url,
                    error=exc.message,
                    hint="runs go on; this one is missing from `tidegate runs`",
                )

    def _start(self, event: RunStarted) -> None:
        self.store.start_run(
            {
                "run_id": event.run_id,
                "pipeline": event.pipeline,
                "status": "running",
                "started_at": event.at,
                "profile": self.profile,
                "spec_hash": self.spec_hash,
                "host": socket.gethostname(),
                "user_name": _user(),
                "version": version("tidegate"),
            }
        )
        self._started.add(event.run_id)

    def _finish(self, event: RunFinished) -> None:
        figures = dict(self.figures() or {})
        measured = {
            "seconds": event.seconds,
            "rows_read": float(event.rows_read),
            "rows_per_s": event.rows_read / event.seconds if event.seconds else 0.0,
        }
        found: list[dict[str, Any]] = []
        if event.status == "succeeded":
            baseline = self.store.baseline(
                event.pipeline, runs=self.baseline.runs, before=event.run_id
            )
            if len(baseline) >= self.baseline.min_runs:
                found = regressions(measured, baseline, sigma=self.baseline.sigma)
        self.store.finish_run(
            event.run_id,
            {
                "status": event.status,
                "error_kind": event.error_kind,
                "error": event.error,
                "finished_at": datetime.now(UTC),
                "seconds": event.seconds,
                "rows_read": event.rows_read,
                "rows_written": event.rows_written,
                "rows_rejected": event.rows_rejected,
                "batches": event.batches,
                "quality_score": self._quality.score if self._quality else None,
                "resumed_from": self._resumed_from,
                "figures": figures or None,
            },
            steps=[
                {
                    "step": step["step"],
                    "position": position,
                    "batches": step["batches"],
                    "rows_in": step["rows_in"],
                    "rows_out": step["rows_out"],
                    "rejected": step["rejected"],
                    "seconds": step["seconds"],
                }
                for position, step in enumerate(figures.get("steps", ()))
            ],
            quality=self._quality_row(),
            columns=self._column_rows(),
            regressions=found,
        )
        self._started.discard(event.run_id)
        for regression in found:
            self.bus.publish(
                RunRegressed(
                    run_id=event.run_id,
                    pipeline=event.pipeline,
                    metric=str(regression["metric"]),
                    value=regression["value"],
                    mean=regression["mean"],
                    stddev=regression["stddev"],
                    sigmas=regression["sigmas"],
                    runs=int(regression["runs"]),
                )
            )

    def _quality_row(self) -> dict[str, Any] | None:
        quality = self._quality
        if quality is None:
            return None
        return {
            "step": quality.step,
            "score": quality.score,
            "rows": quality.rows,
            "rejected": quality.rejected,
            "dimensions": dict(quality.dimensions),
            "rules": [dict(rule) for rule in quality.rules],
        }

    def _column_rows(self) -> list[dict[str, Any]]:
        classified = self._columns
        if classified is None:
            return []
        return [
            {
                "column_name": column["column"],
                "pii_type": column["pii_type"],
                "level": column["level"],
                "origin": column["origin"],
                "required": column["required"],
                "applied": column["applied"],
                "status": column["status"],
                "policy": classified.policy,
            }
            for column in classified.columns
        ]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        return "unknown"
