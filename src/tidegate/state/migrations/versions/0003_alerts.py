"""Alert history: every alert decided on (sent, suppressed or resolved) and its deliveries.

The history is what deduplicates across processes: each run is a process of its own, so the
cooldown can only be kept by asking the store when the same alert was last sent.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the alerts and alert deliveries tables."""
    op.create_table(
        "tidegate_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("run_id", sa.String(36)),
        sa.Column("error_kind", sa.String(20)),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_tidegate_alerts_key", "tidegate_alerts", ["pipeline", "rule", "fingerprint", "sent_at"]
    )
    op.create_index("ix_tidegate_alerts_pipeline_sent", "tidegate_alerts", ["pipeline", "sent_at"])
    op.create_table(
        "tidegate_alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "alert_id", sa.Integer, sa.ForeignKey("tidegate_alerts.id"), nullable=False, index=True
        ),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop the alert tables."""
    op.drop_table("tidegate_alert_deliveries")
    op.drop_index("ix_tidegate_alerts_pipeline_sent", table_name="tidegate_alerts")
    op.drop_index("ix_tidegate_alerts_key", table_name="tidegate_alerts")
    op.drop_table("tidegate_alerts")
