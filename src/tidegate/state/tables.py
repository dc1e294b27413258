"""The state store's tables, as SQLAlchemy Core metadata (the migrations create the same).

Runs are keyed by their UUIDv7 id, which sorts by start time; circuit breakers by their target.
Alerts are kept with their deliveries (a row per channel outcome), so the cooldown holds
across runs, which are separate processes. Specs are kept once per spec hash, the key runs
name them by; a run's timeline and its sample rejected rows are rows of their own, written
with the run's end. Figures that only the CLI and the dashboard read
back whole (performance, energy) are kept as one JSON document per run, so adding a figure
needs no migration; what is filtered or aggregated (status, pipeline, start, counts, score)
has its own column.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "ALERTS",
    "ALERT_DELIVERIES",
    "AUDIT",
    "BREAKERS",
    "CLASSIFICATIONS",
    "HEAD",
    "METADATA",
    "QUALITY",
    "REGRESSIONS",
    "REJECTS",
    "RUNS",
    "RUN_EVENTS",
    "SPECS",
    "SPEC_VERSIONS",
    "STEPS",
    "VERSION_TABLE",
]

METADATA = MetaData()

VERSION_TABLE = "tidegate_state_version"
"""Alembic's version table, named so it cannot clash with a user's own Alembic history."""

HEAD = "0005"
"""The newest migration's revision: a store at it needs no migration (a test keeps it true)."""

RUNS = Table(
    "tidegate_runs",
    METADATA,
    Column("run_id", String(36), primary_key=True),
    Column("pipeline", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("error_kind", String(20)),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("seconds", Float),
    Column("rows_read", BigInteger),
    Column("rows_written", BigInteger),
    Column("rows_rejected", BigInteger),
    Column("batches", Integer),
    Column("quality_score", Float),
    Column("resumed_from", String(36)),
    Column("profile", String(100)),
    Column("spec_hash", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("user_name", String(255), nullable=False),
    Column("version", String(40), nullable=False),
    Column("figures", JSON),
    Column("source_schema", JSON),
    Index("ix_tidegate_runs_pipeline_started", "pipeline", "started_at"),
)

STEPS = Table(
    "tidegate_run_steps",
    METADATA,
    Column("run_id", String(36), ForeignKey("tidegate_runs.run_id"), primary_key=True),
    Column("step", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("batches", Integer, nullable=False),
    Column("rows_in", BigInteger, nullable=False),
    Column("rows_out", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("seconds", Float, nullable=False),
)

QUALITY = Table(
    "tidegate_run_quality",
    METADATA,
    Column("run_id", String(36), ForeignKey("tidegate_runs.run_id"), primary_key=True),
    Column("step", String(200), nullable=False),
    Column("score", Float),
    Column("rows", BigInteger, nullable=False),
    Column("rejected", BigInteger, nullable=False),
    Column("dimensions", JSON, nullable=False),
    Column("rules", JSON, nullable=False),
)

CLASSIFICATIONS = Table(
    "tidegate_run_columns",
    METADATA,
    Column("run_id", String(36), ForeignKey("tidegate_runs.run_id"), primary_key=True),
    Column("column_name", String(300), primary_key=True),
    Column("pii_type", String(40), nullable=False),
    Column("level", String(20), nullable=False),
    Column("origin", String(20), nullable=False),
    Column("required", String(20), nullable=False),
    Column("applied", String(60), nullable=False),
    Column("status", String(20), nullable=False),
    Column("policy", String(500), nullable=False),
)

REGRESSIONS = Table(
    "tidegate_run_regressions",
    METADATA,
    Column("run_id", String(36), ForeignKey("tidegate_runs.run_id"), primary_key=True),
    Column("metric", String(40), primary_key=True),
    Column("value", Float, nullable=False),
    Column("mean", Float, nullable=False),
    Column("stddev", Float, nullable=False),
    Column("sigmas", Float, nullable=False),
    Column("runs", Integer, nullable=False),
)

SPECS = Table(
    "tidegate_specs",
    METADATA,
    Column("spec_hash", String(64), primary_key=True),
    Column("pipeline", String(200), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("spec", JSON, nullable=False),
    Index("ix_tidegate_specs_pipeline", "pipeline", "first_seen"),
)
"""The effective spec of each spec hash, secrets redacted, keys sorted: what a run ran with.

Written by the first run of a hash (later runs find it there), so two hashes of a pipeline
are the two versions a change log compares.
"""

SPEC_VERSIONS = Table(
    "tidegate_spec_versions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", String(200), nullable=False),
    Column("spec_hash", String(64), nullable=False),
    Column("previous_hash", String(64)),
    Column("run_id", String(36), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("diff", JSON),
    Column("git_commit", String(40)),
    Column("git_author", String(255)),
    Column("git_dirty", Boolean),
    Column("spec_file", String(1000)),
    Index("ix_tidegate_spec_versions_pipeline", "pipeline", "changed_at"),
)
"""The change log: a row each time a pipeline runs with a spec (hash) other than its previous
run's, with the structured diff between the two stored specs (secrets redacted) and, when the
spec file is in a git repository, the commit and author that last changed it.
"""

AUDIT = Table(
    "tidegate_audit",
    METADATA,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("run_id", String(36)),
    Column("pipeline", String(200)),
    Column("hash", String(64), nullable=False),
    Column("record", Text, nullable=False),
    Index("ix_tidegate_audit_run", "run_id"),
)
"""The audit trail: hash-chained records (``tidegate.governance.audit``), appended with the
next ``seq`` and never updated. ``record`` is the canonical serialization the hash covers;
the other columns repeat what queries filter on."""

RUN_EVENTS = Table(
    "tidegate_run_events",
    METADATA,
    Column("run_id", String(36), ForeignKey("tidegate_runs.run_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("offset_seconds", Float, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("error_kind", String(20)),
    Column("detail", JSON, nullable=False),
)
"""A run's timeline, in order: its start or resume, batches committed, retries, breaker
changes, faults injected, rows rejected, the error and the end. ``offset_seconds`` is from the
run's start; ``text`` says it for people, ``detail`` holds the figures. Bounded by the recorder:
a run of ten thousand batches keeps its first and last ones and a summary of the rest.
"""

REJECTS = Table(
    "tidegate_run_rejects",
    METADATA,
    Column("run_id", String(36), ForeignKey("tidegate_runs.run_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("step", String(200), nullable=False),
    Column("batch", Integer),
    Column("source_row", BigInteger),
    Column("rules", Text),
    Column("reason", Text, nullable=False),
    Column("row", JSON, nullable=False),
)
"""A few rows a run rejected, as a person may see them: values the policy masks or encrypts
are masked (the app layer reads them back from the quarantine and masks them)."""

BREAKERS = Table(
    "tidegate_breakers",
    METADATA,
    Column("target", String(255), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("failing_since", DateTime(timezone=True)),
    Column("next_probe_at", DateTime(timezone=True)),
    Column("failures", Integer, nullable=False),
    Column("calls", Integer, nullable=False),
    Column("outcomes", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""One circuit breaker per target (an API's host), shared by every pipeline using the store.

``outcomes`` is the breaker's sliding window, oldest first, ``1`` per successful and ``0`` per
failed call; ``failures`` and ``calls`` are its counts, kept as columns for queries.
"""

ALERTS = Table(
    "tidegate_alerts",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", String(200), nullable=False),
    Column("rule", String(40), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text),
    Column("run_id", String(36)),
    Column("error_kind", String(20)),
    Column("channels", JSON, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Index("ix_tidegate_alerts_key", "pipeline", "rule", "fingerprint", "sent_at"),
    Index("ix_tidegate_alerts_pipeline_sent", "pipeline", "sent_at"),
)
"""Every alert decided on: ``status`` is ``firing`` (sent), ``suppressed`` (a repeat within the
cooldown, recorded but not sent) or ``resolved`` (the recovery notice). A firing alert gets
``resolved_at`` when the pipeline next succeeds. No foreign key to the runs: an alert may come
from a run whose history is not recorded.
"""

ALERT_DELIVERIES = Table(
    "tidegate_alert_deliveries",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("tidegate_alerts.id"), nullable=False, index=True),
    Column("channel", String(100), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)
"""One row per outcome a channel reported for an alert (a failed attempt, then the retry's);
the newest per channel is the alert's delivery state. Rows, not a JSON document on the alert,
so channels reporting at once from the dispatcher's threads never overwrite each other."""
