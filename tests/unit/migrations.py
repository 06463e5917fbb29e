"""A migration that adds a column, checked one way: up to ``revision`` on an empty SQLite
database with no drift in its table, down to ``previous`` without the column, up again with it."""

from __future__ import annotations

from pathlib import Path


def check_added_column(tmp_path: Path, revision: str, previous: str, table: str, column: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, revision)
        assert not [d for d in schema_drift(engine) if table in repr(d)]
        command.downgrade(cfg, previous)
        assert column not in columns()
        command.upgrade(cfg, revision)
        assert column in columns()
    finally:
        engine.dispose()
