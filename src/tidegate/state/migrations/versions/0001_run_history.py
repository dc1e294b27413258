"""Run history: runs, their steps, quality, column classification and regressions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_RUN = sa.String(36)


def upgrade() -> None:
    """Create the run history tables."""
    op.create_table(
        "tidegate_runs",
        sa.Column("run_id", _RUN, primary_key=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_kind", sa.String(20)),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("seconds", sa.Float),
        sa.Column("rows_read", sa.BigInteger),
        sa.Column("rows_written", sa.BigInteger),
        sa.Column("rows_rejected", sa.BigInteger),
        sa.Column("batches", sa.Integer),
        sa.Column("quality_score", sa.Float),
        sa.Column("resumed_from", _RUN),
        sa.Column("profile", sa.String(100)),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("figures", sa.JSON),
    )
    op.create_index(
        "ix_tidegate_runs_pipeline_started", "tidegate_runs", ["pipeline", "started_at"]
    )
    op.create_table(
        "tidegate_run_steps",
        sa.Column("run_id", _RUN, sa.ForeignKey("tidegate_runs.run_id"), primary_key=True),
        sa.Column("step", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("batches", sa.Integer, nullable=False),
        sa.Column("rows_in", sa.BigInteger, nullable=False),
        sa.Column("rows_out", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_table(
        "tidegate_run_quality",
        sa.Column("run_id", _RUN, sa.ForeignKey("tidegate_runs.run_id"), primary_key=True),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        sa.Column("dimensions", sa.JSON, nullable=False),
        sa.Column("rules", sa.JSON, nullable=False),
    )
    op.create_table(
        "tidegate_run_columns",
        sa.Column("run_id", _RUN, sa.ForeignKey("tidegate_runs.run_id"), primary_key=True),
        sa.Column("column_name", sa.String(300), primary_key=True),
        sa.Column("pii_type", sa.String(40), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("required", sa.String(20), nullable=False),
        sa.Column("applied", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("policy", sa.String(500), nullable=False),
    )
    op.create_table(
        "tidegate_run_regressions",
        sa.Column("run_id", _RUN, sa.ForeignKey("tidegate_runs.run_id"), primary_key=True),
        sa.Column("metric", sa.String(40), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("mean", sa.Float, nullable=False),
        sa.Column("stddev", sa.Float, nullable=False),
        sa.Column("sigmas", sa.Float, nullable=False),
        sa.Column("runs", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop the run history tables."""
    for table in (
        "tidegate_run_regressions",
        "tidegate_run_columns",
        "tidegate_run_quality",
        "tidegate_run_steps",
    ):
        op.drop_table(table)
    op.drop_index("ix_tidegate_runs_pipeline_started", table_name="tidegate_runs")
    op.drop_table("tidegate_runs")
