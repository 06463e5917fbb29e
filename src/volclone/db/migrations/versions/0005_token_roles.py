"""token roles: a token carries role names (admin, member, reader) for the policy

Tokens made before keep what they were: an admin token gets {admin, member, reader}, a project
token {member, reader}.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:15:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('roles', sa.String(length=255), nullable=True))
    tokens = sa.table('tokens', sa.column('is_admin', sa.Boolean()), sa.column('roles', sa.String()))
    op.execute(tokens.update().where(tokens.c.is_admin.is_(True)).values(roles='admin member reader'))
    op.execute(tokens.update().where(tokens.c.roles.is_(None)).values(roles='member reader'))
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.alter_column('roles', existing_type=sa.String(length=255), nullable=False)


def downgrade() -> None:
    """Downgrade schema. A reader token can't be told from a project token without its roles,
    so it is removed rather than widened to one."""
    tokens = sa.table('tokens', sa.column('is_admin', sa.Boolean()), sa.column('roles', sa.String()))
    op.execute(tokens.delete().where(tokens.c.is_admin.is_(False), ~tokens.c.roles.contains('member')))
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_column('roles')
