"""Engine creation and schema migrations. Nothing here runs at import time.

Two engines are supported: SQLite (the embedded default, a file in the data directory) and
PostgreSQL through psycopg 3 (``postgresql+psycopg://user@host/dbname``), which several
processes can share. Everything else in volclone is the same SQL on both.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from volclone.db.schema import Base
from volclone.errors import DatabaseUnavailable, InsufficientStorage

MIGRATIONS = Path(__file__).parent / "migrations"
#: Our Alembic version table; TaskFlow's own migrations use the default name.
VERSION_TABLE = "volclone_alembic_version"
#: Connections a PostgreSQL engine keeps open, and how many more it may open under load.
#: The API's worker threads (up to 40) and the flow workers each hold one per transaction;
#: a thread that finds none free waits ``POOL_TIMEOUT`` seconds for one.
DEFAULT_POOL_SIZE = 10
POOL_OVERFLOW = 20
POOL_TIMEOUT = 30
#: Seconds to wait for a PostgreSQL server that does not answer.
CONNECT_TIMEOUT = 10
#: The PostgreSQL advisory lock that serialises schema upgrades of one database (processes
#: started at once would otherwise race to create the same tables).
_SCHEMA_LOCK = zlib.crc32(b"volclone schema upgrade")


def shown(url: str | URL) -> str:
    """``url`` as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other engines and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """An engine for ``url``, safe to share between threads.

    SQLite gets WAL and a busy timeout for many threads; PostgreSQL a bounded connection pool
    whose connections are checked before use (a restarted server is reconnected to, not an
    error). A URL that is not one, or names a driver that is not installed, is
    :class:`DatabaseUnavailable`.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailable(f"{url!r} is not a database URL (e.g. postgresql+psycopg://user@host/db)") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            connect_args = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "volclone"}
        return create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=POOL_OVERFLOW,
                             pool_timeout=POOL_TIMEOUT, connect_args=connect_args)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise DatabaseUnavailable(f"cannot use database {shown(parsed)}: {exc}") from exc


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def check_reachable(engine: Engine) -> None:
    """Connect once; a database that cannot be reached is :class:`DatabaseUnavailable` with
    the driver's own first line (``connection refused``, ``database "x" does not exist``)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise DatabaseUnavailable(f"cannot reach database {shown(engine.url)}: {reason}") from exc


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Held while the schema is upgraded: on PostgreSQL a session advisory lock, so processes
    that start at once upgrade one after the other (SQLite serialises its writers itself)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK})
            conn.commit()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. A database at it already is left as it is
    without loading a migration: one query, where alembic's upgrade loads every migration
    script first (0.04 s here on a quiet machine, at every start and for every test service)."""
    if current_revision(engine) == head_revision():
        return
    command.upgrade(alembic_config(engine), "head")


@functools.cache
def head_revision() -> str:
    """The newest revision the migrations know (read once per process)."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object``: only volclone's own tables (TaskFlow's share the database)."""
    if type_ == "table":
        return name in Base.metadata.tables
    table = getattr(obj, "table", None)
    return table is None or table.name in Base.metadata.tables


def schema_drift(engine: Engine) -> list[Any]:
    """What ``alembic check`` would find: the differences between the database's schema and
    the SQLAlchemy models (empty when the migrations build exactly what the models say)."""
    from alembic.autogenerate import compare_metadata

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "include_object": ours})
        return list(compare_metadata(ctx, Base.metadata))


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        rev: str | None = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}) \
            .get_current_revision()
        return rev


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


def upsert(engine: Engine, table: Any) -> Any:
    """``INSERT`` for ``table`` with ``on_conflict_do_update`` (PostgreSQL's and SQLite's own
    upsert): one statement, so writers racing on a key never fail on it, with no read first."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return postgresql_dialect.insert(table)
    if dialect == "sqlite":
        return sqlite_dialect.insert(table)
    raise ValueError(f"no upsert for the {dialect} database")


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
