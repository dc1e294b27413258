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
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
import yaml

from tidegate.app.bootstrap import QUALITY_STEP
from tidegate.core.taxonomy import KIND_POLICIES
from tidegate.errors import ConfigError, ErrorKind, TidegateError
from tidegate.observability.performance import RunFigures, where_time_went
from tidegate.spec.sla import SlaSpec
from tidegate.web import create_app
from tidegate.web.health import HEALTH_TTL
from tidegate.web.models import (
    AlertView,
    BreakerView,
    ColumnLineageView,
    ColumnView,
    EndpointView,
    EnergyView,
    LineageInputView,
    LineageView,
    Overview,
    PipelineDetail,
    PipelineHealth,
    QualityRuleView,
    QualityView,
    RegressionView,
    RejectedRowView,
    RunPoint,
    RunView,
    SpecVersionView,
    SpecView,
    StepView,
    TimelineEntryView,
    TimeShare,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from fastapi import FastAPI

    from tidegate.app.bootstrap import Pipeline
    from tidegate.spec.models import PipelineSpec
    from tidegate.state import PipelineSummary, RunDetail, RunRow, StateStore
    from tidegate.web.models import Sla

__all__ = ["StoreReader", "dashboard_app"]

_log = structlog.get_logger(__name__)

P95_RUNS = 20
"""A pipeline's p95 duration is over its latest 20 runs: recent enough to show a change."""

_SLA_RULES = frozenset({"sla_age", "sla_duration"})


def dashboard_app(
    store: StateStore,
    *,
    pipelines: Sequence[Pipeline] = (),
    token: str | None = None,
    refresh_seconds: int = 15,
    health_ttl: float = HEALTH_TTL,
) -> FastAPI:
    """The dashboard reading ``store``; with ``token``, requests must present it.

    Its health page runs the ``tidegate health`` checks of ``pipelines`` (built from files
    keeping their history in ``store``: see ``served_pipelines``), a round reused for
    ``health_ttl`` seconds; without pipelines, the checks of ``store`` alone.
    """
    from tidegate.app.dashboard_health import DashboardHealth  # noqa: PLC0415 - serving only

    return create_app(
        StoreReader(store, specs=[pipeline.spec for pipeline in pipelines]),
        token=token,
        refresh_seconds=refresh_seconds,
        health=DashboardHealth(store, pipelines),
        health_ttl=health_ttl,
    )


OVERVIEW_TTL = 2.0
"""Seconds an overview is served before it is read again. Every open dashboard refreshes it
(each 15 s by default); a wall of screens, or a burst of scrapes, then costs one read of the
history, not one each."""


class StoreReader:
    """``HistoryReader`` over a ``StateStore``.

    The overview is a snapshot shared by every request: the first one reads it (requests
    arriving meanwhile wait for that read rather than starting their own); once it is older
    than ``ttl`` seconds, the next request starts one background re-read and is answered from
    the snapshot in hand, as are the requests until the new one is in. So under load no request
    waits for the history, and none sees an overview older than ``ttl`` plus one read. With
    ``ttl`` 0 every request reads the history itself (tests, a one-off ``/api/overview``).
    """

    def __init__(
        self, store: StateStore, *, ttl: float = OVERVIEW_TTL, specs: Sequence[PipelineSpec] = ()
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.specs = {spec.name: spec for spec in specs}
        self._lineages: dict[tuple[str, tuple[str, ...] | None], LineageView] = {}
        self._lock = threading.Lock()
        self._overview: tuple[float, Overview] | None = None
        self._refreshing = False
        self._slas: dict[str, SlaSpec | None] = {}

    def ping(self) -> None:
        """Read one run: raises ``DependencyError`` when the store is unreachable."""
        self.store.runs(limit=1)

    def overview(self) -> Overview:
        """Every pipeline, problems first, then by name (a snapshot at most ``ttl`` old)."""
        if self.ttl <= 0:
            return self._read_overview()
        with self._lock:
            cached = self._overview
            if cached is None:
                fresh = self._read_overview()
                self._overview = (time.monotonic(), fresh)
                return fresh
            if time.monotonic() - cached[0] >= self.ttl and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="overview-refresh", daemon=True).start()
            return cached[1]

    def _refresh(self) -> None:
        """Re-read the overview in the background. A failed read keeps the snapshot and is
        logged; whatever happens, the next request past ``ttl`` may start another read."""
        fresh: Overview | None = None
        try:
            fresh = self._read_overview()
        except TidegateError as exc:
            _log.warning("overview_refresh_failed", error=exc.message)
        finally:
            with self._lock:
                if fresh is not None:
                    self._overview = (time.monotonic(), fresh)
                self._refreshing = False

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
        """The pipeline's latest ``runs`` runs, its health, its latest run's steps,
        columns and spec, and the latest versions of its spec (the change log)."""
        rows = self.store.runs(pipeline=name, limit=runs)
        if not rows:
            return None
        health = next(h for h in self._healths(only=name))
        detail = self.store.find(rows[0].run_id)
        stored = self.store.spec(str(detail.run["spec_hash"]))
        return PipelineDetail(
            health=health,
            runs=[RunPoint(**_run_fields(row)) for row in rows],
            steps=[StepView(**step) for step in detail.steps],
            alerts=[AlertView(**row) for row in self.store.alerts(pipeline=name, limit=20)],
            spec=None if stored is None else _spec_view(stored),
            columns=[ColumnView(**row) for row in detail.columns],
            changes=[
                SpecVersionView(**version, changes=version["diff"])
                for version in self.store.spec_versions(name, limit=10)  # changes lists more
            ],
            lineage=self._lineage(name, detail.run.get("source_schema")),
        )

    def _lineage(self, name: str, source_schema: Any) -> LineageView | None:
        """The column lineage of the served pipeline file ``name``, with the source columns
        its last run read (the spec alone may not name them: a CSV's header); None when the
        file is not served. Computed once per set of source columns."""
        spec = self.specs.get(name)
        if spec is None:
            return None
        columns = (
            tuple(str(field["name"]) for field in source_schema)
            if isinstance(source_schema, list)
            else None
        )
        key = (name, columns)
        if key not in self._lineages:
            from tidegate.lineage.columns import column_lineage  # noqa: PLC0415 - sqlglot

            found = column_lineage(spec, source_columns=None if columns is None else [*columns])
            self._lineages[key] = LineageView(
                inputs=[dataset.name for dataset in found.inputs],
                output=found.output.name,
                columns=[
                    ColumnLineageView(
                        column=column.column,
                        transformation=column.transformation,
                        steps=list(column.steps),
                        inputs=[
                            LineageInputView(
                                dataset=item.dataset.name,
                                column=item.column,
                                transformation=item.transformation,
                            )
                            for item in column.inputs
                        ],
                    )
                    for column in found.columns
                ],
                gaps=list(found.gaps),
            )
        return self._lineages[key]

    def run(self, run_id: str) -> RunView | None:
        """The run of this id or unique prefix; None when there is none (or several)."""
        try:
            detail = self.store.find(run_id)
        except ConfigError:
            return None
        return _run_view(detail)

    def _healths(self, only: str | None = None) -> list[PipelineHealth]:
        """Every pipeline's health, or ``only`` that pipeline's (reading its runs alone)."""
        now = datetime.now(UTC)
        summaries = self.store.pipelines(pipeline=only)
        durations = self.store.recent_seconds(per_pipeline=P95_RUNS, pipeline=only)
        windows = [now - timedelta(days=7), now - timedelta(days=30)]
        counts = self.store.window_counts(windows, pipeline=only)
        open_rules = self.store.open_alert_rules()
        slas = self._slas_of(summary.last_spec_hash for summary in summaries)
        return [
            _health(
                summary,
                durations.get(summary.pipeline, []),
                counts,
                open_rules,
                sla_spec=slas.get(summary.last_spec_hash),
                now=now,
            )
            for summary in summaries
        ]

    def _slas_of(self, spec_hashes: Iterable[str]) -> dict[str, SlaSpec | None]:
        """The ``sla`` section of each spec hash's stored spec (None without one). A spec
        never changes under its hash, so each is read once per process."""
        wanted = set(spec_hashes)
        missing = wanted - self._slas.keys()
        if missing:
            for spec_hash, section in self.store.spec_sections(missing, "sla").items():
                self._slas[spec_hash] = _sla(section)
        return {spec_hash: self._slas.get(spec_hash) for spec_hash in wanted}


def _health(
    summary: PipelineSummary,
    durations: Sequence[float],
    counts: Mapping[str, list[tuple[int, int]]],
    open_rules: Mapping[str, list[str]],
    *,
    sla_spec: SlaSpec | None,
    now: datetime,
) -> PipelineHealth:
    name = summary.pipeline
    (runs_7d, ok_7d), (runs_30d, ok_30d) = counts.get(name, [(0, 0), (0, 0)])
    rules = open_rules.get(name, [])
    sla, sla_detail = _sla_state(summary, rules, sla_spec, now)
    return PipelineHealth(
        pipeline=name,
        last_run_id=summary.last_run_id,
        last_status=summary.last_status,
        last_started_at=summary.last_started_at,
        last_success_at=summary.last_success_at,
        last_seconds=summary.last_seconds,
        p95_seconds=_p95(durations),
        rows_read=summary.last_rows_read,
        rows_written=summary.last_rows_written,
        rows_rejected=summary.last_rows_rejected,
        quality_score=summary.last_quality_score,
        error_kind=summary.last_error_kind,
        success_rate_7d=ok_7d / runs_7d if runs_7d else None,
        success_rate_30d=ok_30d / runs_30d if runs_30d else None,
        runs_7d=runs_7d,
        runs_30d=runs_30d,
        runs=summary.runs,
        sla=sla,
        sla_detail=sla_detail,
        open_alerts=rules,
    )


def _sla_state(
    summary: PipelineSummary, rules: Sequence[str], spec: SlaSpec | None, now: datetime
) -> tuple[Sla | None, str | None]:
    """``failing`` (the last run failed), ``late`` (an SLA alert is open, or the pipeline's
    ``sla`` is broken now: no success within ``max_age``, or the last run longer than
    ``max_duration``) or ``ok`` (the last run succeeded); with why, when not ok. The SLA is
    the one of the last run's spec, so a pipeline that never alerted still shows late."""
    if summary.last_status == "failed":
        return "failing", f"the last run failed ({summary.last_error_kind or 'error'})"
    max_age = spec.max_age_delta if spec is not None else None
    if spec is not None and max_age is not None:
        success = summary.last_success_at
        if success is None or now - success > max_age:
            since = "no success recorded" if success is None else "no success"
            return "late", f"{since} within sla.max_age {spec.max_age_text}"
    max_duration = spec.max_duration_delta if spec is not None else None
    if spec is not None and max_duration is not None:
        took = summary.last_seconds
        if summary.last_status == "running":
            took = (now - summary.last_started_at).total_seconds()
        if took is not None and took > max_duration.total_seconds():
            return "late", f"the last run took {took:,.2f} s, over sla.max_duration"
    open_sla = sorted(_SLA_RULES.intersection(rules))
    if open_sla:
        return "late", f"open alert: {', '.join(open_sla)}"
    if summary.last_status == "succeeded":
        return "ok", None
    return None, None


def _sla(section: Any) -> SlaSpec | None:
    """A stored ``sla`` section as the model, or None when absent or unreadable (a spec
    stored by another version): the SLA state then rests on the alerts alone."""
    if not isinstance(section, dict):
        return None
    try:
        return SlaSpec.model_validate(section)
    except ValueError:
        return None


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
        next_action=_next_action(run.get("error_kind"), run["run_id"])
        if run["status"] == "failed"
        else None,
        timeline=[_timeline_entry(entry) for entry in detail.timeline],
        rejects=[
            RejectedRowView(**{k: v for k, v in reject.items() if k != "seq"})
            for reject in detail.rejects
        ],
    )


def _next_action(kind: str | None, run_id: str) -> str | None:
    """What a failure of ``kind`` asks for, from the error taxonomy (``tidegate errors``): the
    same words its alert says."""
    try:
        return KIND_POLICIES[ErrorKind(kind or "internal")].next_step(run_id=run_id)
    except ValueError:
        return None


def _timeline_entry(entry: Mapping[str, Any]) -> TimelineEntryView:
    detail = entry.get("detail") or {}
    return TimelineEntryView(
        offset_seconds=entry["offset_seconds"],
        kind=entry["kind"],
        text=entry["text"],
        error_kind=entry.get("error_kind"),
        retried=detail.get("retried"),
        next_action=detail.get("next_action"),
    )


def _spec_view(stored: Mapping[str, Any]) -> SpecView:
    """The stored spec for the pipeline page: as YAML, and the names the data-flow draws."""
    document: dict[str, Any] = dict(stored["spec"])
    steps = document.get("steps") or []
    types = {
        str(step["name"]): str(step["type"])
        for step in steps
        if isinstance(step, dict) and "name" in step and "type" in step
    }
    if document.get("quality"):
        types.setdefault(QUALITY_STEP, "rules")
    return SpecView(
        spec_hash=stored["spec_hash"],
        first_seen=stored["first_seen"],
        document=document,
        text=yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=96),
        source=_endpoint(document.get("source")),
        destination=_endpoint(document.get("destination")),
        step_types=types,
    )


def _endpoint(plugin: Any) -> EndpointView:
    """A source or destination of the spec: its type and its table, file name or host."""
    if not isinstance(plugin, dict):
        return EndpointView(type="?", name=None)
    found = plugin.get("settings")
    settings: dict[str, Any] = found if isinstance(found, dict) else {}
    name: str | None = None
    if settings.get("table"):
        name = str(settings["table"])
    elif settings.get("path"):
        name = PurePath(str(settings["path"])).name or str(settings["path"])
    elif isinstance(settings.get("url"), str) and "://" in settings["url"]:
        name = urlsplit(settings["url"]).hostname  # redacted URLs have no host
    return EndpointView(type=str(plugin.get("type", "?")), name=name)


def _figures(data: Any) -> RunFigures | None:
    """The run's figures, or None when none were recorded (or a field this version needs
    is missing, as from a run that failed before its first batch)."""
    if not isinstance(data, dict):
        return None
    try:
        return RunFigures.from_dict(data)
    except (TypeError, KeyError):
        return None
