"""toolkit core tables: jobs, settings, schedules

Revision ID: 0001_core
Revises: 
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0001_core'
down_revision = None
branch_labels = ('toolkit',)
depends_on = None


def upgrade() -> None:
    op.create_table('toolkit_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('task', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('exclusive_key', sa.String(length=500), nullable=True),
    sa.Column('progress', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_toolkit_jobs'))
    )
    with op.batch_alter_table('toolkit_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_toolkit_jobs_exclusive_key'), ['exclusive_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_toolkit_jobs_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_toolkit_jobs_task'), ['task'], unique=False)

    op.create_table('toolkit_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('task', sa.String(length=200), nullable=False),
    sa.Column('cron', sa.String(length=100), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_job_id', sa.String(length=32), nullable=True),
    sa.Column('last_outcome', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_toolkit_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_toolkit_schedules_name'))
    )
    op.create_table('toolkit_settings',
    sa.Column('namespace', sa.String(length=100), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('namespace', name=op.f('pk_toolkit_settings'))
    )


def downgrade() -> None:
    op.drop_table('toolkit_settings')
    op.drop_table('toolkit_schedules')
    with op.batch_alter_table('toolkit_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_toolkit_jobs_task'))
        batch_op.drop_index(batch_op.f('ix_toolkit_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_toolkit_jobs_exclusive_key'))

    op.drop_table('toolkit_jobs')
