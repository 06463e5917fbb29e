"""idempotency keys: a clone-volumes retry with the same Idempotency-Key gets the same task

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('clone_idempotency_keys',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'key')
    )
    with op.batch_alter_table('clone_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clone_idempotency_keys_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('clone_idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clone_idempotency_keys_created_at'))
    op.drop_table('clone_idempotency_keys')
