"""What the dashboard shows, as pydantic models: the JSON API's response bodies and the pages'.

The dashboard does not read the state store itself (concern packages do not import each
other); the app layer reads it and hands these models over through ``HistoryReader``. The same
models are the JSON API's response models, so ``/openapi.json`` documents exactly what the
pages show.
"""

from __future__ import annotations

import json
from datetime import datetime  # noqa: TC003 - pydantic resolves annotations at runtime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, computed_field

__all__ = [
    "AlertView",
    "BreakerView",
    "CheckView",
    "ColumnLineageView",
    "ColumnView",
    "EndpointView",
    "EnergyView",
    "HealthChecker",
    "HealthReport",
    "HistoryReader",
    "LineageInputView",
    "LineageView",
    "Overview",
    "PipelineChecks",
    "PipelineDetail",
    "PipelineHealth",
    "QualityRuleView",
    "QualityView",
    "RegressionView",
    "RejectedRowView",
    "RunPoint",
    "RunView",
    "SpecChangeView",
    "SpecVersionView",
    "SpecView",
    "StepView",
    "TimeShare",
    "TimelineEntryView",
]

Sla = Literal["ok", "late", "failing"]


class PipelineHealth(BaseModel):
    """A pipeline at a glance: its latest run and how its recent runs went."""

    pipeline: str
    last_run_id: str
    last_status: str
    last_started_at: datetime
    last_success_at: datetime | None = None
    last_seconds: float | None = None
    p95_seconds: float | None = Field(None, description="Over the latest runs (up to 20).")
    rows_read: int | None = None
    rows_written: int | None = None
    rows_rejected: int | None = None
    quality_score: float | None = None
    error_kind: str | None = None
    success_rate_7d: float | None = Field(None, description="0..1; None with no run in 7 days.")
    success_rate_30d: float | None = Field(None, description="0..1; None with no run in 30 days.")
    runs_7d: int = 0
    runs_30d: int = 0
    runs: dict[str, int] = Field(default_factory=dict, description="All runs, by status.")
    sla: Sla | None = Field(
        None,
        description="failing (the last run failed), late (no success within sla.max_age, the "
        "last run over sla.max_duration, or an SLA alert open) or ok.",
    )
    sla_detail: str | None = Field(None, description="Why the SLA state is not ok.")
    open_alerts: list[str] = Field(default_factory=list, description="Rules of open alerts.")

    @computed_field  # type: ignore[prop-decorator] # pydantic's documented idiom
    @property
    def problem(self) -> bool:
        """Whether the row needs a look: sorts first and is coloured."""
        return (
            self.last_status == "failed"
            or self.sla in {"late", "failing"}
            or bool(self.open_alerts)
        )


class BreakerView(BaseModel):
    """A circuit breaker that is not closed: an API Tidegate stopped calling for a while."""

    target: str
    state: str
    failing_since: datetime | None = None
    next_probe_at: datetime | None = None
    failures: int
    calls: int


class AlertView(BaseModel):
    """An alert decided on (sent, suppressed or a recovery notice)."""

    id: int
    pipeline: str
    rule: str
    severity: str
    status: str
    title: str
    run_id: str | None = None
    sent_at: datetime
    resolved_at: datetime | None = None


class Overview(BaseModel):
    """Every pipeline, problems first, with the open breakers and the latest alerts."""

    generated_at: datetime
    pipelines: list[PipelineHealth]
    breakers: list[BreakerView]
    alerts: list[AlertView]


class RunPoint(BaseModel):
    """One run in a pipeline's history."""

    run_id: str
    status: str
    started_at: datetime
    seconds: float | None = None
    rows_read: int | None = None
    rows_written: int | None = None
    rows_rejected: int | None = None
    quality_score: float | None = None
    error_kind: str | None = None


class StepView(BaseModel):
    """One step over a run: time, batches, rows in and out, rows it rejected."""

    step: str
    position: int
    batches: int
    rows_in: int
    rows_out: int
    rejected: int
    seconds: float


class EndpointView(BaseModel):
    """A source or destination as its spec names it: its type and what it reads or writes."""

    type: str = Field(description="The plugin kind (csv, duckdb, postgres...).")
    name: str | None = Field(
        None, description="Its table, file name or host; None when the spec names none."
    )


class SpecView(BaseModel):
    """The effective spec a run used, secrets redacted (``**********``)."""

    spec_hash: str
    first_seen: datetime = Field(description="When the first run with this spec started.")
    document: dict[str, Any] = Field(description="The spec as JSON, keys sorted.")
    text: str = Field(description="The same as YAML, for people.")
    source: EndpointView
    destination: EndpointView
    step_types: dict[str, str] = Field(
        default_factory=dict, description="The type of each of the spec's steps, by name."
    )


class SpecChangeView(BaseModel):
    """One difference between two versions of a spec; secrets read ``**********`` both sides."""

    change: Literal["added", "removed", "changed"]
    path: str = Field(description="The key as the YAML writes it, e.g. destination.table.")
    old: Any = Field(None, description="The value before (None for an added key).")
    new: Any = Field(None, description="The value after (None for a removed key).")

    @computed_field  # type: ignore[prop-decorator] # pydantic's documented idiom
    @property
    def old_text(self) -> str:
        """``old`` as JSON, for the page."""
        return _json_text(self.old)

    @computed_field  # type: ignore[prop-decorator] # pydantic's documented idiom
    @property
    def new_text(self) -> str:
        """``new`` as JSON, for the page."""
        return _json_text(self.new)


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class SpecVersionView(BaseModel):
    """A version of a pipeline's spec: the run that first used it and what it changed."""

    spec_hash: str
    previous_hash: str | None = Field(None, description="The version before; None: the first.")
    run_id: str = Field(description="The first run with this spec.")
    changed_at: datetime = Field(description="When that run started.")
    summary: str = Field(description="E.g. '3 changed, 1 added', or 'first version'.")
    changes: list[SpecChangeView] | None = Field(
        None, description="None for a first version or when the previous spec was not kept."
    )
    git_commit: str | None = Field(None, description="The last commit of the spec file.")
    git_author: str | None = None
    git_dirty: bool | None = Field(None, description="The file had uncommitted changes.")
    spec_file: str | None = None


class LineageInputView(BaseModel):
    """One input column feeding an output column, and how it was transformed."""

    dataset: str = Field(description="The input dataset's name (a file, a table).")
    column: str
    transformation: str


class ColumnLineageView(BaseModel):
    """One loaded column: the input columns it comes from and how (identity, renamed, cast,
    derived, masked:<strategy>, encrypted, unknown)."""

    column: str
    transformation: str
    inputs: list[LineageInputView]
    steps: list[str] = Field(default_factory=list, description="The steps that touched it.")


class LineageView(BaseModel):
    """The pipeline's column lineage, from its input datasets to the loaded table."""

    inputs: list[str]
    output: str
    columns: list[ColumnLineageView]
    gaps: list[str] = Field(default_factory=list, description="What could not be told.")


class PipelineDetail(BaseModel):
    """A pipeline's history (newest first), its latest run's steps and columns, and the spec
    that run used (None for runs recorded before specs were kept)."""

    health: PipelineHealth
    runs: list[RunPoint]
    steps: list[StepView]
    alerts: list[AlertView]
    spec: SpecView | None = None
    columns: list[ColumnView] = Field(
        default_factory=list, description="The latest run's column classification."
    )
    changes: list[SpecVersionView] = Field(
        default_factory=list, description="The latest versions of the spec, newest first."
    )
    lineage: LineageView | None = Field(
        None,
        description="Column lineage of the served pipeline file, with the columns its last "
        "run read; None when the dashboard serves the history without the pipeline file.",
    )


class TimeShare(BaseModel):
    """A slice of a run's wall time."""

    label: str
    seconds: float
    share: float = Field(description="Of the wall time, 0..1.")


class QualityRuleView(BaseModel):
    """One quality rule's outcome."""

    id: str
    type: str
    column: str | None = None
    severity: str
    on_fail: str
    checked: int
    failed: int
    passed: bool


class QualityView(BaseModel):
    """A run's quality: score, rows checked and rejected, per dimension and per rule."""

    step: str
    score: float | None = None
    rows: int
    rejected: int
    dimensions: dict[str, Any]
    rules: list[QualityRuleView]


class EnergyView(BaseModel):
    """A run's estimated energy use and emissions."""

    energy_kwh: float
    co2e_g: float
    carbon_intensity: float
    energy_model: str


class ColumnView(BaseModel):
    """A column's classification and the protection applied to it."""

    column_name: str
    pii_type: str
    level: str
    origin: str
    required: str
    applied: str
    status: str
    policy: str


class RegressionView(BaseModel):
    """A figure far from its baseline."""

    metric: str
    value: float
    mean: float
    stddev: float
    sigmas: float
    runs: int


class TimelineEntryView(BaseModel):
    """One moment of a run: its start, a batch committed, a retry, a breaker change, a fault,
    rows rejected, the error, a summary of batches left out, the end."""

    offset_seconds: float = Field(description="Seconds since the run started.")
    kind: str
    text: str
    error_kind: str | None = Field(None, description="For a retry or the error.")
    retried: str | None = Field(None, description="Whether errors of this kind are retried.")
    next_action: str | None = Field(None, description="For the error: who acts, how fast.")

    @property
    def marked(self) -> bool:
        """Whether the entry is a problem a reader should see at a glance."""
        return self.kind in {"retry", "error", "breaker", "fault", "rejected"}


class RejectedRowView(BaseModel):
    """A row the run rejected, as the governance policy lets a person see it."""

    step: str
    batch: int | None = None
    source_row: int | None = Field(None, description="1-based, when the source tells it.")
    rules: str | None = Field(None, description="Ids of the rules it failed, comma-separated.")
    reason: str
    row: dict[str, Any] = Field(description="Its values; masked ones show as masks.")


class RunView(BaseModel):
    """Everything recorded of one run."""

    run_id: str
    pipeline: str
    status: str
    error_kind: str | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    seconds: float | None = None
    rows_read: int | None = None
    rows_written: int | None = None
    rows_rejected: int | None = None
    batches: int | None = None
    quality_score: float | None = None
    resumed_from: str | None = None
    profile: str | None = None
    host: str
    version: str
    steps: list[StepView]
    time_split: list[TimeShare]
    quality: QualityView | None = None
    energy: EnergyView | None = None
    regressions: list[RegressionView]
    columns: list[ColumnView]
    next_action: str | None = Field(
        None, description="For a failed run: what its error kind asks for (tidegate errors)."
    )
    timeline: list[TimelineEntryView] = Field(default_factory=list)
    rejects: list[RejectedRowView] = Field(
        default_factory=list, description="Up to 20 rejected rows, masked as the policy says."
    )

    def samples_for(self, rule: str) -> int:
        """How many of the sample rejected rows failed ``rule`` (among others)."""
        return sum(rule in (reject.rules or "").split(",") for reject in self.rejects)

    @property
    def reject_columns(self) -> list[str]:
        """The columns of the sample rejected rows, in the order they first appear."""
        return list(dict.fromkeys(name for reject in self.rejects for name in reject.row))


class HistoryReader(Protocol):
    """What the dashboard reads; the app layer adapts the state store to it.

    Methods raise ``tidegate.errors.TidegateError`` when the history cannot be read (the
    dashboard answers 503) and return None for a pipeline or run that is not there (404).
    """

    def ping(self) -> None:
        """Raise when the history cannot be read."""

    def overview(self) -> Overview:
        """Every pipeline, problems first."""

    def pipeline(self, name: str, *, runs: int) -> PipelineDetail | None:
        """The pipeline's latest ``runs`` runs, or None when it has none."""

    def run(self, run_id: str) -> RunView | None:
        """The run of this id (or unique prefix), or None."""


class CheckView(BaseModel):
    """One health check, as ``tidegate health`` reports it, with its secrets masked."""

    component: str = Field(description="What was checked: a plugin, the state store, a disk.")
    check: str = Field(description="Which check: connect, select 1, writable, closed, sla, ...")
    ok: bool
    ms: float = Field(description="How long the check took, in milliseconds.")
    detail: str = Field(description="What was found, or why the check failed.")
    hint: str | None = Field(None, description="How to fix a failed check.")


class PipelineChecks(BaseModel):
    """The checks of one served pipeline (or, with no pipeline file, of the state store alone)."""

    pipeline: str | None = Field(
        None, description="The pipeline's name; None for the state store's checks alone."
    )
    checks: list[CheckView] = Field(description="Failed checks first, then in checking order.")
    seconds: float = Field(description="Wall time of this pipeline's checks.")

    @computed_field  # type: ignore[prop-decorator] # pydantic's documented idiom
    @property
    def healthy(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)


class HealthReport(BaseModel):
    """The health checks of the served pipelines, run when asked (and reused a few seconds)."""

    checked_at: datetime = Field(description="When the checks ran (UTC).")
    seconds: float = Field(description="Wall time of the whole round of checks.")
    pipelines: list[PipelineChecks] = Field(description="Unhealthy pipelines first.")
    note: str | None = Field(
        None, description="What is not checked and how to get it (served with --state only)."
    )

    @computed_field  # type: ignore[prop-decorator] # pydantic's documented idiom
    @property
    def healthy(self) -> bool:
        """Whether every check of every pipeline passed."""
        return all(pipeline.healthy for pipeline in self.pipelines)


class HealthChecker(Protocol):
    """What runs the health checks; the app layer implements it over the pipelines' plugins.

    ``check`` blocks (it connects to databases and APIs): the dashboard calls it in a worker
    thread and reuses its report a few seconds. It returns failed checks as such, secrets
    masked, and never raises for a system that is down.
    """

    def check(self) -> HealthReport:
        """Run every check now."""
