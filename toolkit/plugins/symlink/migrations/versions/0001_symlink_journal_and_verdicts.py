"""symlink: deletion journal and phase-2 verdict cache

Revision ID: symlink_0001
Revises:
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0001"
down_revision = None
branch_labels = ("symlink",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "symlink_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("journaled_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("restored_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_deletions"),
    )
    op.create_index("ix_symlink_deletions_scan_id", "symlink_deletions", ["scan_id"])
    op.create_index("ix_symlink_deletions_path", "symlink_deletions", ["path"])
    op.create_index("ix_symlink_deletions_state", "symlink_deletions", ["state"])
    op.create_table(
        "symlink_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.String(length=8), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_verdicts"),
    )
    op.create_index(
        "ix_symlink_verdicts_identity", "symlink_verdicts", ["target", "size", "mtime_ns", "depth"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_symlink_verdicts_identity", table_name="symlink_verdicts")
    op.drop_table("symlink_verdicts")
    op.drop_index("ix_symlink_deletions_state", table_name="symlink_deletions")
    op.drop_index("ix_symlink_deletions_path", table_name="symlink_deletions")
    op.drop_index("ix_symlink_deletions_scan_id", table_name="symlink_deletions")
    op.drop_table("symlink_deletions")
