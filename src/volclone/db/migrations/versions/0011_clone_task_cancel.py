"""clone_tasks.cancel_requested_at: a clone task's cancel request, seen by every process

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('clone_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_requested_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('clone_tasks', schema=None) as batch_op:
        batch_op.drop_column('cancel_requested_at')
