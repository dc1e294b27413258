"""Audit trail and change log: the hash-chained audit records, the versions of each pipeline's
spec with their diff, and the source schema each run read.

The audit table is append-only by use: records are inserted with the next ``seq`` (its primary
key, so two writers racing for the same ``seq`` cannot both win) and never updated. Each keeps
its canonical serialization, the bytes its hash was computed over, so verifying reads exactly
what was hashed, whatever the database does to timestamps.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the audit and spec version tables; give runs their source schema."""
    op.create_table(
        "tidegate_audit",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("run_id", sa.String(36)),
        sa.Column("pipeline", sa.String(200)),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_tidegate_audit_run", "tidegate_audit", ["run_id"])
    op.create_table(
        "tidegate_spec_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("previous_hash", sa.String(64)),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("diff", sa.JSON),
        sa.Column("git_commit", sa.String(40)),
        sa.Column("git_author", sa.String(255)),
        sa.Column("git_dirty", sa.Boolean),
        sa.Column("spec_file", sa.String(1000)),
    )
    op.create_index(
        "ix_tidegate_spec_versions_pipeline", "tidegate_spec_versions", ["pipeline", "changed_at"]
    )
    with op.batch_alter_table("tidegate_runs") as runs:
        runs.add_column(sa.Column("source_schema", sa.JSON))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("tidegate_runs") as runs:
        runs.drop_column("source_schema")
    op.drop_index("ix_tidegate_spec_versions_pipeline", table_name="tidegate_spec_versions")
    op.drop_table("tidegate_spec_versions")
    op.drop_index("ix_tidegate_audit_run", table_name="tidegate_audit")
    op.drop_table("tidegate_audit")
