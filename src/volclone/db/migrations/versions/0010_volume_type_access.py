"""volume_type_access: the projects granted each private volume type (Cinder's type access)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('volume_type_access',
    sa.Column('volume_type_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id'], ),
    sa.PrimaryKeyConstraint('volume_type_id', 'project_id')
    )
    with op.batch_alter_table('volume_type_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volume_type_access_project_id'), ['project_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('volume_type_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volume_type_access_project_id'))
    op.drop_table('volume_type_access')
