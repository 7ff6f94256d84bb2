"""symlink: repair policy and path mappings settings

Revision ID: symlink_0003
Revises: symlink_0002
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0003"
down_revision = "symlink_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("symlink_config") as batch:
        batch.add_column(sa.Column("repair_policy", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("path_mappings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("symlink_config") as batch:
        batch.drop_column("path_mappings")
        batch.drop_column("repair_policy")
