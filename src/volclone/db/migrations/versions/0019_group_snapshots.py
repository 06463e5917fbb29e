"""group_snapshots (Cinder's, 3.14) and snapshots.group_snapshot_id

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 13:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0019'
down_revision: str | Sequence[str] | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'group_snapshots',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('group_id', sa.String(length=36), nullable=False),
        sa.Column('group_type_id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['generic_groups.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('group_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_snapshots_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_snapshots_group_id'), ['group_id'], unique=False)
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_snapshot_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_snapshots_group_snapshot_id'), ['group_snapshot_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snapshots_group_snapshot_id'))
        batch_op.drop_column('group_snapshot_id')
    with op.batch_alter_table('group_snapshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_snapshots_group_id'))
        batch_op.drop_index(batch_op.f('ix_group_snapshots_project_id'))
    op.drop_table('group_snapshots')
