"""symlink: mount points where scans saw targets answering (a missing one is "not visible")

Revision ID: symlink_0005
Revises: symlink_0004
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0005"
down_revision = "symlink_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "symlink_known_mounts",
        sa.Column("mount_point", sa.Text(), primary_key=True),
        sa.Column("fstype", sa.String(length=64), nullable=False),
        sa.Column("last_seen_healthy", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("symlink_known_mounts")
