"""symlink: settings row, scan history, per-scan problems, ignored paths

Revision ID: symlink_0002
Revises: symlink_0001
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "symlink_0002"
down_revision = "symlink_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "symlink_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_path", sa.Text(), nullable=True),
        sa.Column("max_workers", sa.Integer(), nullable=True),
        sa.Column("small_files", sa.String(length=8), nullable=True),
        sa.Column("max_deletions", sa.Integer(), nullable=True),
        sa.Column("max_deletion_share", sa.Float(), nullable=True),
        sa.Column("sonarr_enabled", sa.Boolean(), nullable=True),
        sa.Column("sonarr_host", sa.Text(), nullable=True),
        sa.Column("sonarr_port", sa.Integer(), nullable=True),
        sa.Column("sonarr_api_key", sa.Text(), nullable=True),
        sa.Column("radarr_enabled", sa.Boolean(), nullable=True),
        sa.Column("radarr_host", sa.Text(), nullable=True),
        sa.Column("radarr_port", sa.Integer(), nullable=True),
        sa.Column("radarr_api_key", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_config"),
    )
    op.create_table(
        "symlink_scans",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("scan_date", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("selected_paths", sa.JSON(), nullable=False),
        sa.Column("verification_depth", sa.String(length=8), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in (
            "total_analyzed", "phase1_ok", "phase1_broken", "phase1_inaccessible",
            "phase1_small", "phase1_io_error", "phase2_analyzed", "phase2_corrupted",
            "files_deleted", "phase1_error", "phase1_unknown", "phase2_unknown",
            "problems_found")],
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("results_json", sa.JSON(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("deletion_job_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_scans"),
    )
    op.create_index("ix_symlink_scans_job_id", "symlink_scans", ["job_id"])
    op.create_index("ix_symlink_scans_scan_date", "symlink_scans", ["scan_date"])
    op.create_index("ix_symlink_scans_status", "symlink_scans", ["status"])
    op.create_table(
        "symlink_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.String(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ignored", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("journal_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["scan_id"], ["symlink_scans.id"], ondelete="CASCADE",
                                name="fk_symlink_problems_scan_id_symlink_scans"),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_problems"),
    )
    op.create_index("ix_symlink_problems_scan_id", "symlink_problems", ["scan_id"])
    op.create_index("ix_symlink_problems_scan_status", "symlink_problems", ["scan_id", "status"])
    op.create_table(
        "symlink_ignores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_symlink_ignores"),
        sa.UniqueConstraint("path", name="uq_symlink_ignores_path"),
    )


def downgrade() -> None:
    op.drop_table("symlink_ignores")
    op.drop_index("ix_symlink_problems_scan_status", table_name="symlink_problems")
    op.drop_index("ix_symlink_problems_scan_id", table_name="symlink_problems")
    op.drop_table("symlink_problems")
    op.drop_index("ix_symlink_scans_status", table_name="symlink_scans")
    op.drop_index("ix_symlink_scans_scan_date", table_name="symlink_scans")
    op.drop_index("ix_symlink_scans_job_id", table_name="symlink_scans")
    op.drop_table("symlink_scans")
    op.drop_table("symlink_config")
