"""clone leftovers: what a failed revert could not remove, retried until gone

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:40:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('clone_leftovers',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('step', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('backend', sa.String(length=255), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('clone_leftovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clone_leftovers_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clone_leftovers_resolved_at'), ['resolved_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('clone_leftovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clone_leftovers_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_clone_leftovers_task_id'))
    op.drop_table('clone_leftovers')
