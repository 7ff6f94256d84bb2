"""queue: strikes, plans and journal of the queue cleaner

Revision ID: queue_0001
Revises:
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "queue_0001"
down_revision = None
branch_labels = ("queue",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_items",
        sa.Column("app", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("problem", sa.String(64)),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("sizeleft", sa.Integer(), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app", "key", name="pk_queue_items"),
    )
    op.create_table(
        "queue_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("observed", sa.JSON(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("held", sa.Text()),
        sa.Column("applied_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_queue_plans"),
    )
    op.create_table(
        "queue_journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("plan_id", sa.Integer()),
        sa.Column("app", sa.String(16), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("download_id", sa.String(255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("episode_ids", sa.JSON(), nullable=False),
        sa.Column("movie_id", sa.Integer()),
        sa.Column("series_id", sa.Integer()),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("blocklist_id", sa.Integer()),
        sa.Column("undone_at", sa.DateTime(timezone=True)),
        sa.Column("undo_answer", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_queue_journal"),
    )


def downgrade() -> None:
    op.drop_table("queue_journal")
    op.drop_table("queue_plans")
    op.drop_table("queue_items")
