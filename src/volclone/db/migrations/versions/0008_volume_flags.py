"""volume flags: bootable, readonly and migration_status (os-set_bootable, os-update_readonly_flag,
os-reset_status)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bootable', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('readonly', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('migration_status', sa.String(length=255), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_column('migration_status')
        batch_op.drop_column('readonly')
        batch_op.drop_column('bootable')
