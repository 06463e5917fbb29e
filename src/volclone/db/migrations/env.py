"""Alembic environment: runs on the engine volclone hands over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from volclone.db.database import VERSION_TABLE, ours
from volclone.db.schema import Base

config = context.config


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # alembic's own CLI: `alembic -x url=... revision --autogenerate`
        from volclone.db.database import make_engine

        engine = make_engine(context.get_x_argument(as_dictionary=True)["url"])
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=Base.metadata,
            version_table=VERSION_TABLE,
            # SQLite alters tables by copying them; on PostgreSQL batch ops run as plain ALTERs.
            render_as_batch=True,
            # TaskFlow's tables share the database; autogenerate must not offer to drop them.
            include_object=ours,
        )
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run()
