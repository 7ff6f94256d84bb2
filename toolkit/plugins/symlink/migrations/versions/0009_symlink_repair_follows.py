"""symlink: the follow-up of each repair search (grabbed, imported, repaired or still
missing), and the hours after which a search that brought nothing back is "still missing"

Revision ID: symlink_0009
Revises: symlink_0008
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0009"
down_revision = "symlink_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "symlink_repair_follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("service", sa.String(length=16), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("search_ids", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("grabbed_at", sa.DateTime(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=True),
        sa.Column("repaired_at", sa.DateTime(), nullable=True),
        sa.Column("missing_at", sa.DateTime(), nullable=True),
        sa.Column("new_paths", sa.JSON(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("check_error", sa.Text(), nullable=True),
        sa.Column("notified", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_repair_follows"),
    )
    op.create_index("ix_symlink_repair_follows_requested_at", "symlink_repair_follows", ["requested_at"])
    op.create_index("ix_symlink_repair_follows_state", "symlink_repair_follows", ["state"])
    with op.batch_alter_table("symlink_config") as batch:
        batch.add_column(sa.Column("repair_missing_hours", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("symlink_config") as batch:
        batch.drop_column("repair_missing_hours")
    op.drop_index("ix_symlink_repair_follows_state", table_name="symlink_repair_follows")
    op.drop_index("ix_symlink_repair_follows_requested_at", table_name="symlink_repair_follows")
    op.drop_table("symlink_repair_follows")
