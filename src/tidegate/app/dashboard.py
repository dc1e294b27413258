"""The dashboard over the state store: ``StoreReader`` adapts ``StateStore`` to the web
package's ``HistoryReader``, and ``dashboard_app`` builds the ASGI app ``tidegate serve`` runs.

The overview reads a thousand pipelines in a fixed handful of aggregated queries (latest run
and counts, the latest runs per pipeline for p95, run counts over 7 and 30 days, open alerts,
breakers, recent alerts), never one query per pipeline.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tidegate.errors import ConfigError
from tidegate.observability.performance import RunFigures, where_time_went
from tidegate.web import create_app
from tidegate.web.models import (
    AlertView,
    BreakerView,
    ColumnView,
    EnergyView,
    Overview,
    PipelineDetail,
    PipelineHealth,
    QualityRuleView,
    QualityView,
    RegressionView,
    RunPoint,
    RunView,
    StepView,
    TimeShare,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from fastapi import FastAPI

    from tidegate.state import PipelineSummary, RunDetail, RunRow, StateStore

__all__ = ["StoreReader", "dashboard_app"]

P95_RUNS = 20
"""A pipeline's p95 duration is over its latest 20 runs: recent enough to show a change."""

_SLA_RULES = frozenset({"sla_age", "sla_duration"})


def dashboard_app(
    store: StateStore, *, token: str | None = None, refresh_seconds: int = 15
) -> FastAPI:
    """The dashboard reading ``store``; with ``token``, requests must present it."""
    return create_app(StoreReader(store), token=token, refresh_seconds=refresh_seconds)


OVERVIEW_TTL = 2.0
"""Seconds an overview is reused. Every open dashboard refreshes it (each 15 s by default);
a wall of screens, or a burst of scrapes, then costs one read of the history, not one each."""


class StoreReader:
    """``HistoryReader`` over a ``StateStore``.

    The overview is read once for all the requests arriving within ``OVERVIEW_TTL``: requests
    that come while it is being read wait for that read instead of starting their own.
    """

    def __init__(self, store: StateStore, *, ttl: float = OVERVIEW_TTL) -> None:
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._overview: tuple[float, Overview] | None = None

    def ping(self) -> None:
        """Read one run: raises ``DependencyError`` when the store is unreachable."""
        self.store.runs(limit=1)

    def overview(self) -> Overview:
        """Every pipeline, problems first, then by name (reused for ``ttl`` seconds)."""
        with self._lock:
            cached = self._overview
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            fresh = self._read_overview()
            self._overview = (time.monotonic(), fresh)
            return fresh

    def _read_overview(self) -> Overview:
        healths = self._healths()
        rank = {"failing": 0, "late": 1}
        healths.sort(
            key=lambda h: (
                rank.get(h.sla or "", 3 if not h.problem else 2),
                h.pipeline,
            )
        )
        breakers = [BreakerView(**row) for row in self.store.breakers() if row["state"] != "closed"]
        return Overview(
            generated_at=datetime.now(UTC),
            pipelines=healths,
            breakers=breakers,
            alerts=[AlertView(**row) for row in self.store.alerts(limit=20)],
        )

    def pipeline(self, name: str, *, runs: int) -> PipelineDetail | None:
        """The pipeline's latest ``runs`` runs, its health and its latest run's steps."""
        rows = self.store.runs(pipeline=name, limit=runs)
        if not rows:
            return None
        health = next(h for h in self._healths(only=name))
        detail = self.store.find(rows[0].run_id)
        return PipelineDetail(
            health=health,
            runs=[RunPoint(**_run_fields(row)) for row in rows],
            steps=[StepView(**step) for step in detail.steps],
            alerts=[AlertView(**row) for row in self.store.alerts(pipeline=name, limit=20)],
        )

    def run(self, run_id: str) -> RunView | None:
        """The run of this id or unique prefix; None when there is none (or several)."""
        try:
            detail = self.store.find(run_id)
        except ConfigError:
            return None
        return _run_view(detail)

    def _healths(self, only: str | None = None) -> list[PipelineHealth]:
        now = datetime.now(UTC)
        summaries = self.store.pipelines()
        latest = self.store.latest_runs(per_pipeline=P95_RUNS)
        counts = self.store.window_counts([now - timedelta(days=7), now - timedelta(days=30)])
        open_rules = self.store.open_alert_rules()
        return [
            _health(summary, latest.get(summary.pipeline, []), counts, open_rules)
            for summary in summaries
            if only is None or summary.pipeline == only
        ]


def _health(
    summary: PipelineSummary,
    recent: Sequence[RunRow],
    counts: Mapping[str, list[tuple[int, int]]],
    open_rules: Mapping[str, list[str]],
) -> PipelineHealth:
    name = summary.pipeline
    (runs_7d, ok_7d), (runs_30d, ok_30d) = counts.get(name, [(0, 0), (0, 0)])
    rules = open_rules.get(name, [])
    if summary.last_status == "failed":
        sla: str | None = "failing"
    elif _SLA_RULES.intersection(rules):
        sla = "late"
    elif summary.last_status == "succeeded":
        sla = "ok"
    else:
        sla = None
    last = recent[0] if recent else None
    return PipelineHealth(
        pipeline=name,
        last_run_id=last.run_id if last else "",
        last_status=summary.last_status,
        last_started_at=summary.last_started_at,
        last_success_at=summary.last_success_at,
        last_seconds=summary.last_seconds,
        p95_seconds=_p95([run.seconds for run in recent if run.seconds is not None]),
        rows_read=summary.last_rows_read,
        rows_written=summary.last_rows_written,
        rows_rejected=summary.last_rows_rejected,
        quality_score=summary.last_quality_score,
        error_kind=last.error_kind if last else None,
        success_rate_7d=ok_7d / runs_7d if runs_7d else None,
        success_rate_30d=ok_30d / runs_30d if runs_30d else None,
        runs_7d=runs_7d,
        runs_30d=runs_30d,
        runs=summary.runs,
        sla=sla,  # type: ignore[arg-type] # one of the Sla literals or None, set above
        open_alerts=rules,
    )


def _p95(values: Sequence[float]) -> float | None:
    """Nearest-rank 95th percentile of a few durations (at most ``P95_RUNS``)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-95 * len(ordered) // 100) - 1))]


def _run_fields(row: RunRow) -> dict[str, Any]:
    return {k: v for k, v in row.to_dict().items() if k != "pipeline"}


def _run_view(detail: RunDetail) -> RunView:
    run = detail.run
    figures = _figures(run.get("figures"))
    quality = detail.quality
    return RunView(
        **{k: run[k] for k in RunView.model_fields if k in run},
        steps=[StepView(**step) for step in detail.steps],
        time_split=[
            TimeShare(label=label, seconds=seconds, share=share)
            for label, seconds, share in (where_time_went(figures) if figures else [])
        ],
        quality=None
        if quality is None
        else QualityView(
            step=quality["step"],
            score=quality["score"],
            rows=quality["rows"],
            rejected=quality["rejected"],
            dimensions=quality["dimensions"],
            rules=[QualityRuleView.model_validate(rule) for rule in quality["rules"]],
        ),
        energy=None
        if figures is None
        else EnergyView(
            energy_kwh=figures.energy_kwh,
            co2e_g=figures.co2e_g,
            carbon_intensity=figures.carbon_intensity,
            energy_model=figures.energy_model,
        ),
        regressions=[RegressionView(**row) for row in detail.regressions],
        columns=[ColumnView(**row) for row in detail.columns],
    )


def _figures(data: Any) -> RunFigures | None:
    """The run's figures, or None when none were recorded (or a field this version needs
    is missing, as from a run that failed before its first batch)."""
    if not isinstance(data, dict):
        return None
    try:
        return RunFigures.from_dict(data)
    except (TypeError, KeyError):
        return None
