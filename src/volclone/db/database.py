"""Engine creation and schema migrations. Nothing here runs at import time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from volclone.errors import InsufficientStorage

MIGRATIONS = Path(__file__).parent / "migrations"
#: Our Alembic version table; TaskFlow's own migrations use the default name.
VERSION_TABLE = "volclone_alembic_version"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout for many threads."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision."""
    command.upgrade(alembic_config(engine), "head")


@contextlib.contextmanager
def full_is_insufficient_storage() -> Iterator[None]:
    """Translate a write that failed because the database's disk is full (SQLite: "database
    or disk is full", PostgreSQL: "No space left on device") into :class:`InsufficientStorage`;
    the transaction was rolled back, nothing changed."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig)
        if "database or disk is full" in text or "No space left on device" in text:
            raise InsufficientStorage("the service's data directory is full: delete volumes to make room") \
                from None
        raise


class Database:
    """The engine plus a session factory; repositories take one of these."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on error. A database on a full
        disk raises :class:`InsufficientStorage` (see :func:`full_is_insufficient_storage`)."""
        with full_is_insufficient_storage(), self._sessions.begin() as s:
            yield s
