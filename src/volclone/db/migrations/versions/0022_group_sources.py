"""generic_groups.group_snapshot_id and source_group_id (Cinder's create-from-src, 3.14)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 15:20:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0022'
down_revision: str | Sequence[str] | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('generic_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_snapshot_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('source_group_id', sa.String(length=36), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('generic_groups', schema=None) as batch_op:
        batch_op.drop_column('source_group_id')
        batch_op.drop_column('group_snapshot_id')
