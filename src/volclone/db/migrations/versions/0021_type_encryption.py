"""volume_type_encryption (Cinder's encryption of a volume type)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 15:15:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0021'
down_revision: str | Sequence[str] | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'volume_type_encryption',
        sa.Column('encryption_id', sa.String(length=36), nullable=False),
        sa.Column('volume_type_id', sa.String(length=36), nullable=False),
        sa.Column('provider', sa.String(length=255), nullable=False),
        sa.Column('cipher', sa.String(length=255), nullable=True),
        sa.Column('key_size', sa.Integer(), nullable=True),
        sa.Column('control_location', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id']),
        sa.PrimaryKeyConstraint('encryption_id'),
        sa.UniqueConstraint('volume_type_id'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('volume_type_encryption')
