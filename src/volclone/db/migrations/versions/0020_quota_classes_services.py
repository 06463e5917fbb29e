"""quota_classes (Cinder's), services' disabled, disabled_reason and frozen, Cinder's binary name

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 15:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0020'
down_revision: str | Sequence[str] | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The volume services' binary was volclone-volume; it is Cinder's cinder-volume from here on.
OLD_BINARY, NEW_BINARY = 'volclone-volume', 'cinder-volume'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'quota_classes',
        sa.Column('class_name', sa.String(length=255), nullable=False),
        sa.Column('resource', sa.String(length=255), nullable=False),
        sa.Column('hard_limit', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('class_name', 'resource'),
    )
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('disabled_reason', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('frozen', sa.Boolean(), server_default=sa.false(), nullable=False))
    services = sa.table('services', sa.column('binary', sa.String))
    op.execute(services.update().where(services.c.binary == OLD_BINARY).values(binary=NEW_BINARY))


def downgrade() -> None:
    """Downgrade schema."""
    services = sa.table('services', sa.column('binary', sa.String))
    op.execute(services.update().where(services.c.binary == NEW_BINARY).values(binary=OLD_BINARY))
    op.execute(services.delete().where(services.c.binary == 'cinder-scheduler'))
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_column('frozen')
        batch_op.drop_column('disabled_reason')
        batch_op.drop_column('disabled')
    op.drop_table('quota_classes')
