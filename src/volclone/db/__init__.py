"""SQL persistence: schema, migrations, repositories (SQLAlchemy 2 + Alembic)."""
