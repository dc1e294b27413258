"""Run detail: the effective spec of each spec hash, each run's timeline and sample rejects.

Specs are kept once per hash (runs name theirs by ``spec_hash``), so a pipeline run every
minute for a year stores its spec once per change, and two hashes give the change log's diff.
Runs recorded before this revision simply have no timeline, no samples and no stored spec.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RUN = sa.String(36)


def upgrade() -> None:
    """Create the specs, run events and run rejects tables."""
    op.create_table(
        "tidegate_specs",
        sa.Column("spec_hash", sa.String(64), primary_key=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
    )
    op.create_index("ix_tidegate_specs_pipeline", "tidegate_specs", ["pipeline", "first_seen"])
    op.create_table(
        "tidegate_run_events",
        sa.Column("run_id", _RUN, sa.ForeignKey("tidegate_runs.run_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("offset_seconds", sa.Float, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("error_kind", sa.String(20)),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "tidegate_run_rejects",
        sa.Column("run_id", _RUN, sa.ForeignKey("tidegate_runs.run_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("step", sa.String(200), nullable=False),
        sa.Column("batch", sa.Integer),
        sa.Column("source_row", sa.BigInteger),
        sa.Column("rules", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("row", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    """Drop the run detail tables."""
    op.drop_table("tidegate_run_rejects")
    op.drop_table("tidegate_run_events")
    op.drop_index("ix_tidegate_specs_pipeline", table_name="tidegate_specs")
    op.drop_table("tidegate_specs")
