"""symlink: scheduled scans (which schedule started a scan) and the scheduled-deletion opt-in

Revision ID: symlink_0004
Revises: symlink_0003
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0004"
down_revision = "symlink_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("symlink_config") as batch:
        batch.add_column(sa.Column("scheduled_deletions", sa.Boolean(), nullable=True))
    with op.batch_alter_table("symlink_scans") as batch:
        batch.add_column(sa.Column("schedule_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("symlink_scans") as batch:
        batch.drop_column("schedule_name")
    with op.batch_alter_table("symlink_config") as batch:
        batch.drop_column("scheduled_deletions")
