"""queue: the journal keeps a Lidarr action's albums and artist (for undo's AlbumSearch)

Revision ID: queue_0002
Revises: queue_0001
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "queue_0002"
down_revision = "queue_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_journal") as batch:
        batch.add_column(sa.Column("album_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("artist_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_journal") as batch:
        batch.drop_column("artist_id")
        batch.drop_column("album_ids")
