"""kit test plugin: notes table

Revision ID: kit_0001
"""
from alembic import op
import sqlalchemy as sa

revision = "kit_0001"
down_revision = None
branch_labels = ("kit",)
depends_on = None


def upgrade() -> None:
    op.create_table("kit_notes", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("text", sa.String(50)))


def downgrade() -> None:
    op.drop_table("kit_notes")
