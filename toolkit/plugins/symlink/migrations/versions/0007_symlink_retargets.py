"""symlink: the re-pointing journal (links pointed at their file's new place, undoable)

Revision ID: symlink_0007
Revises: symlink_0006
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0007"
down_revision = "symlink_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "symlink_retargets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("old_target", sa.Text(), nullable=False),
        sa.Column("new_target", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("journaled_at", sa.DateTime(), nullable=False),
        sa.Column("retargeted_at", sa.DateTime(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_retargets"),
    )
    op.create_index("ix_symlink_retargets_batch", "symlink_retargets", ["batch"])
    op.create_index("ix_symlink_retargets_scan_id", "symlink_retargets", ["scan_id"])
    op.create_index("ix_symlink_retargets_path", "symlink_retargets", ["path"])
    op.create_index("ix_symlink_retargets_state", "symlink_retargets", ["state"])


def downgrade() -> None:
    op.drop_table("symlink_retargets")
