"""qos_specs: Cinder's QoS specs and the volume types they are associated with

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('qos_specs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('consumer', sa.String(length=16), nullable=False),
    sa.Column('specs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('qos_type_associations',
    sa.Column('volume_type_id', sa.String(length=36), nullable=False),
    sa.Column('qos_specs_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['qos_specs_id'], ['qos_specs.id'], ),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id'], ),
    sa.PrimaryKeyConstraint('volume_type_id')
    )
    with op.batch_alter_table('qos_type_associations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qos_type_associations_qos_specs_id'), ['qos_specs_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('qos_type_associations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qos_type_associations_qos_specs_id'))
    op.drop_table('qos_type_associations')
    op.drop_table('qos_specs')
