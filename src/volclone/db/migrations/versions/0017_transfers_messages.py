"""volume_transfers (Cinder's volume transfers) and user_messages (Cinder's user messages)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('volume_transfers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('salt', sa.String(length=255), nullable=False),
    sa.Column('key_hash', sa.String(length=255), nullable=False),
    sa.Column('volume_only', sa.Boolean(), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('destination_project_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('volume_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_volume_transfers_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_volume_transfers_volume_id'), ['volume_id'], unique=False)
    op.create_table('user_messages',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=False),
    sa.Column('resource_type', sa.String(length=255), nullable=False),
    sa.Column('resource_uuid', sa.String(length=255), nullable=True),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('action_id', sa.String(length=10), nullable=False),
    sa.Column('detail_id', sa.String(length=10), nullable=False),
    sa.Column('message_level', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('user_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_messages_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_messages_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('user_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_messages_expires_at'))
        batch_op.drop_index(batch_op.f('ix_user_messages_project_id'))
    op.drop_table('user_messages')
    with op.batch_alter_table('volume_transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volume_transfers_volume_id'))
        batch_op.drop_index(batch_op.f('ix_volume_transfers_project_id'))
    op.drop_table('volume_transfers')
