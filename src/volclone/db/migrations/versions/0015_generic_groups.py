"""group_types, generic_groups: Cinder's group types and generic volume groups; volumes.group_id

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 12:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('group_types',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('group_specs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('generic_groups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('group_type_id', sa.String(length=36), nullable=False),
    sa.Column('volume_type_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_type_id'], ['group_types.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('generic_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generic_groups_project_id'), ['project_id'], unique=False)
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_volumes_group_id'), ['group_id'], unique=False)
        batch_op.create_foreign_key('fk_volumes_group_id', 'generic_groups', ['group_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_constraint('fk_volumes_group_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_volumes_group_id'))
        batch_op.drop_column('group_id')
    with op.batch_alter_table('generic_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_generic_groups_project_id'))
    op.drop_table('generic_groups')
    op.drop_table('group_types')
