"""Shared fixtures: a real ``volclone serve`` on a free port, tokens, and an HTTP client.

Every API/CLI/flow test goes through a real server process with a real
qemu-storage-daemon and real files in a temporary data directory.

The database: SQLite in the data directory, or with ``VOLCLONE_TEST_DATABASE=postgresql`` a
fresh PostgreSQL database for every server (and every ``database_url``), on the machine's
PostgreSQL (``VOLCLONE_TEST_PG``, default ``postgresql://postgres@127.0.0.1:5432``, trust auth).
A test session makes one throwaway database ``volclone_test_<random>``, migrated once, as the
template of the fresh ones (``..._1``, ``..._2``, ...), and drops them all at its end.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.string import TextLoader

import forked_cli

#: The driver contract's mixins (tests/contract/*.py) assert too: show their diffs.
pytest.register_assert_rewrite("contract")

VOLCLONE = str(Path(sys.executable).parent / "volclone")
#: The quota settings the test servers set to -1 (unlimited) unless a test gives them.
UNLIMITED_QUOTAS = ("VOLCLONE_QUOTA_VOLUMES", "VOLCLONE_QUOTA_GIGABYTES", "VOLCLONE_QUOTA_SNAPSHOTS")

#: Test directories (and files) whose tests share something costly or global run in one group, on
#: one pytest-xdist worker: one Ceph cluster, one Keystone, and the cluster tests, which share the
#: machine's Redis and RabbitMQ under fixed names. Every other file is a group of its own, so its
#: module fixtures start once (``--dist loadgroup``; scripts/test runs two workers).
SHARED_GROUPS = {"rbd": "ceph", "rbd_api": "ceph", "contract/test_rbd.py": "ceph", "keystone": "keystone",
                 "cluster": "cluster", "cluster_dev": "cluster"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        path = item.path.relative_to(tests).as_posix()
        group = SHARED_GROUPS.get(path) or SHARED_GROUPS.get(path.split("/")[0]) or path
        item.add_marker(pytest.mark.xdist_group(group))


#: The database the servers and in-process services of this run use: sqlite or postgresql.
TEST_DATABASE = os.environ.get("VOLCLONE_TEST_DATABASE", "sqlite")
if TEST_DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"VOLCLONE_TEST_DATABASE must be sqlite or postgresql, not {TEST_DATABASE!r}")
#: The PostgreSQL server the tests make their databases on (libpq URL, no database name).
PG_SERVER = os.environ.get("VOLCLONE_TEST_PG", "postgresql://postgres@127.0.0.1:5432").rstrip("/")

#: The database URL of each data directory that does not use its own SQLite file.
_DATABASE_URLS: dict[Path, str] = {}


def use_database(data_dir: Path, url: str) -> str:
    """Make the server and CLI of ``data_dir`` use the database ``url``."""
    _DATABASE_URLS[data_dir] = url
    return url


def database_url_of(data_dir: Path) -> str:
    """The SQLAlchemy URL the server or CLI of ``data_dir`` uses."""
    return _DATABASE_URLS.get(data_dir) or f"sqlite:///{data_dir / 'volclone.db'}"


def _connect(url: str) -> Any:
    """A DB-API connection to a SQLAlchemy URL (sqlite3 or psycopg). JSON columns read as their
    text on both (as sqlite3 reads them), so a test's expectations don't depend on the engine."""
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
    con = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), connect_timeout=10)
    for json_type in ("json", "jsonb"):
        con.adapters.register_loader(json_type, TextLoader)
    return con


def db_rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run a query on the database ``url`` names; ``?`` marks the parameters on both engines."""
    con = _connect(url)
    try:
        if not url.startswith("sqlite"):
            sql = sql.replace("?", "%s")
        return [tuple(r) for r in con.execute(sql, args).fetchall()]
    finally:
        con.close()


def db_execute(url: str, sql: str, *args: Any) -> int:
    """Run one change on the database ``url`` names and commit it; returns the rows it changed."""
    con = _connect(url)
    try:
        if not url.startswith("sqlite"):
            sql = sql.replace("?", "%s")
        with con:
            return int(con.execute(sql, args).rowcount)
    finally:
        con.close()


class PgDatabases:
    """Throwaway PostgreSQL databases of one test session (see the module's docstring)."""

    def __init__(self, server: str = PG_SERVER) -> None:
        self.server = server
        self.template = f"volclone_test_{secrets.token_hex(4)}"
        self.made: list[str] = []
        self._lock = threading.Lock()

    def url(self, name: str) -> str:
        return f"{self.server.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"

    def _admin(self) -> Any:
        return psycopg.connect(f"{self.server}/postgres", autocommit=True, connect_timeout=10)

    def _create(self, name: str, template: str | None = None) -> str:
        with self._admin() as con:
            # FILE_COPY: measured here, created in 0.1 s and dropped in 0.1 s (WAL_LOG: 0.75 s to drop)
            strategy = " STRATEGY FILE_COPY" if con.info.server_version >= 150000 and template else ""
            con.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"{strategy}' if template else ""))
        self.made.append(name)
        return self.url(name)

    def start(self) -> None:
        """Make the session's database and migrate it to the newest schema (TaskFlow's too)."""
        from volclone import bootstrap
        from volclone.config import Settings

        url = self._create(self.template)
        bootstrap.upgrade_database(Settings(database_url=url))

    def empty(self) -> str:
        """A new database with nothing in it (no tables)."""
        with self._lock:
            return self._create(f"{self.template}_{len(self.made)}")

    def fresh(self) -> str:
        """A new database at the newest schema: a copy of the session's migrated one."""
        with self._lock:
            return self._create(f"{self.template}_{len(self.made)}", template=self.template)

    def drop_all(self) -> None:
        """Drop every database made (each one tried, even after one fails); idempotent."""
        failed = []
        with self._admin() as con:
            for name in reversed(self.made):
                try:
                    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except psycopg.Error as exc:
                    failed.append(f"{name}: {exc}")
        self.made.clear()
        if failed:
            raise RuntimeError("could not drop the test databases: " + "; ".join(failed))


@pytest.fixture(scope="session")
def pg() -> Iterator[PgDatabases]:
    """The session's PostgreSQL databases; all of them are dropped at the end, failed or not."""
    dbs = PgDatabases()
    atexit.register(dbs.drop_all)  # also if the session ends without running its finalizers
    try:
        dbs.start()
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture(scope="session")
def new_database(request: pytest.FixtureRequest) -> Callable[[Path], str]:
    """``new_database(data_dir)``: the URL of a new database at the newest schema for a server
    or service in ``data_dir``: its SQLite file there, or a fresh PostgreSQL database."""
    def make(data_dir: Path) -> str:
        if TEST_DATABASE == "postgresql":
            return use_database(data_dir, request.getfixturevalue("pg").fresh())
        return ensure_database(data_dir)  # a copy of the session's migrated one, as the servers' are

    return make


@pytest.fixture
def database_url(new_database: Callable[[Path], str], tmp_path: Path) -> str:
    """A database of the test's own (SQLite in ``tmp_path``, or a fresh PostgreSQL database)."""
    return new_database(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    # Not the terminal size pytest-xdist's workers set (COLUMNS=80): the CLI prints into a pipe here.
    inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    full_env = {**inherited, "VOLCLONE_DATA_DIR": str(data_dir), **_database_env(data_dir), **(env or {})}
    done = forked_cli.run([VOLCLONE, *args], full_env, timeout=120)
    if check:
        done.check_returncode()
    return done


def _database_env(data_dir: Path) -> dict[str, str]:
    return {"VOLCLONE_DATABASE_URL": _DATABASE_URLS[data_dir]} if data_dir in _DATABASE_URLS else {}


#: A SQLite database migrated once per test session; each new data directory's starts as a copy.
_SQLITE_TEMPLATE: list[Path] = []
_TEMPLATE_LOCK = threading.Lock()


def _sqlite_template() -> Path:
    with _TEMPLATE_LOCK:
        if not _SQLITE_TEMPLATE:
            from volclone import bootstrap
            from volclone.config import Settings

            home = Path(tempfile.mkdtemp(prefix="volclone-template-"))
            atexit.register(shutil.rmtree, home, ignore_errors=True)
            bootstrap.upgrade_database(Settings(database_url=f"sqlite:///{home / 'volclone.db'}"))
            _SQLITE_TEMPLATE.append(home / "volclone.db")
        return _SQLITE_TEMPLATE[0]


def ensure_database(data_dir: Path) -> str:
    """The URL of ``data_dir``'s database, at the newest schema: a SQLite file that does not exist
    yet starts as a copy of the session's migrated one (a PostgreSQL one is made migrated)."""
    url = database_url_of(data_dir)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_sqlite_template(), path)
    return url


def make_token(data_dir: Path, project: str, admin: bool = False, reader: bool = False) -> str:
    """A local token, as ``volclone token create`` makes it (tests/cli tests that command), made
    in the test process: a CLI run per token cost 2 s of CPU, most of a test's set-up."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from volclone.db.database import Database
    from volclone.db.repos import Tokens
    from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES, AuthService

    assert not (admin and reader)
    engine = create_engine(ensure_database(data_dir), poolclass=NullPool)
    try:
        roles = ADMIN_ROLES if admin else READER_ROLES if reader else MEMBER_ROLES
        return AuthService(Tokens(Database(engine))).create_token(project, roles)
    finally:
        engine.dispose()


@dataclass
class Server:
    """One running ``volclone serve``; ``client(token)`` talks to it."""

    data_dir: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __post_init__(self) -> None:
        # Each server serves NBD on a port of its own, kept across restarts (same address).
        self.env.setdefault("VOLCLONE_NBD_PORT", str(free_port()))
        # No quotas unless a test sets them: the shared servers hold many tests' volumes
        # (the quota tests set their own limits; the defaults are Cinder's 10/1000/10).
        for name in UNLIMITED_QUOTAS:
            self.env.setdefault(name, "-1")

    @property
    def nbd_port(self) -> int:
        return int(self.env["VOLCLONE_NBD_PORT"])

    def start(self) -> None:
        env = {**os.environ, "VOLCLONE_DATA_DIR": str(self.data_dir), **_database_env(self.data_dir), **self.env}
        log = open(self.data_dir / "serve.log", "ab")
        self.proc = subprocess.Popen([VOLCLONE, "serve", "--port", str(self.port)], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"volclone serve exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/v3/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"volclone serve did not come up:\n{self.log()}")

    def stop(self, kill: bool = False) -> None:
        """Stop the service (SIGTERM, or SIGKILL with ``kill``). Its qemu-storage-daemon
        outlives it while it serves attached volumes; :meth:`close` stops that too."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(30)
        self.proc = None

    def daemon_pid(self) -> int | None:
        """The pid of the data directory's qemu-storage-daemon, if one runs."""
        try:
            pid = int((self.data_dir / "run" / "qsd.pid").read_text().strip())
            alive = b"qemu-storage-daemon" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if alive else None

    def close(self) -> None:
        """Stop the service and the daemon it may have left serving (end of a test)."""
        self.stop()
        pid = self.daemon_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")

    def client(self, token: str | None, project: str) -> Api:
        return Api(self, token, project)

    # -- looking underneath (test seams: the pool, the database, the daemon) --
    def pool_files(self) -> set[str]:
        return {p.name for p in (self.data_dir / "pool").glob("*")}

    @property
    def database_url(self) -> str:
        return database_url_of(self.data_dir)

    def db_rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """A query on the server's database (``?`` for parameters, on SQLite and PostgreSQL)."""
        return db_rows(self.database_url, sql, *args)

    def db_execute(self, sql: str, *args: Any) -> int:
        """A change to the server's database, committed; returns the rows it changed."""
        return db_execute(self.database_url, sql, *args)

    def active_file(self, volume_id: str) -> Path:
        """The qcow2 file a volume's writes go to (for writing test data with qemu-io)."""
        rows = self.db_rows("SELECT id FROM layers WHERE volume_id = ?", volume_id)
        assert rows, f"volume {volume_id} has no active layer"
        return self.data_dir / "pool" / f"{rows[0][0]}.qcow2"

    def daemon_nodes(self) -> list[str]:
        """Node names open in the server's qemu-storage-daemon, asked over its QMP socket."""
        from qemu.qmp.legacy import QEMUMonitorProtocol

        qmp = QEMUMonitorProtocol(str(self.data_dir / "run" / "qsd.qmp"))
        qmp.settimeout(10)
        qmp.connect()
        try:
            nodes = qmp.cmd("query-named-block-nodes", flat=True)
        finally:
            qmp.close()
        return [n["node-name"] for n in nodes if not n["node-name"].startswith("#")]


class Api:
    """httpx against one project, with the token set (or not)."""

    def __init__(self, server: Server, token: str | None, project: str) -> None:
        self.server = server
        self.project = project
        headers = {"X-Auth-Token": token} if token else {}
        self.http = httpx.Client(base_url=f"{server.url}/v3/{project}", headers=headers, timeout=60)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def create_volume(self, size: int = 1, name: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"volume": {"size": size, **({"name": name} if name else {}), **extra}}
        return self.ok("POST", "/volumes", json=body)["volume"]  # type: ignore[no-any-return]

    def clone(self, volume_ids: list[str], **fields: Any) -> str:
        """POST clone-volumes; returns the task id."""
        body = {"clone-volumes": {"volumes": volume_ids, **fields}}
        uri = self.ok("POST", "/clone-volumes", json=body)["clone-volumes"]["task_uri"]
        return str(httpx.URL(uri).params["task_id"])

    def progress(self, task_id: str) -> dict[str, Any]:
        return self.ok("GET", "/clone-volumes/get_progress",  # type: ignore[no-any-return]
                       params={"action": "clone-volumes", "task_id": task_id})

    def wait(self, task_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll get_progress until the flow ends; checks progress never goes down."""
        deadline = time.monotonic() + timeout
        last = -1
        p: dict[str, Any] = {}
        while time.monotonic() < deadline:
            p = self.progress(task_id)
            assert p["progress"] >= last, f"progress went down: {last} -> {p['progress']}"
            last = p["progress"]
            if p["flow_details"]["cloneFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
                return p
            time.sleep(0.02)
        raise AssertionError(f"clone task {task_id} did not end in {timeout}s: {p}")


@dataclass
class Env:
    """A server with an admin token and a user token for project ``p1``."""

    server: Server
    admin: Api
    user: Api
    user_token: str
    admin_token: str


def _start(tmp: Path, extra_env: dict[str, str] | None = None,
           new_database: Callable[[Path], str] | None = None) -> Env:
    tmp.mkdir(parents=True, exist_ok=True)
    if new_database is not None:
        new_database(tmp)
    admin_token = make_token(tmp, "admin", admin=True)
    user_token = make_token(tmp, "p1")
    server = Server(tmp, free_port(), env=extra_env or {})
    server.start()
    return Env(server, server.client(admin_token, "p1"), server.client(user_token, "p1"), user_token, admin_token)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[Path], str]) -> Iterator[Env]:
    """One shared server for tests that don't need a special environment."""
    e = _start(tmp_path_factory.mktemp("volclone"), new_database=new_database)
    yield e
    e.server.close()


@pytest.fixture
def make_env(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[Path], str]) -> Iterator[Any]:
    """Start a server of one's own, e.g. with ``VOLCLONE_FAILPOINTS`` set."""
    started: list[Env] = []

    def _make(**extra_env: str) -> Env:
        e = _start(tmp_path_factory.mktemp("volclone"), extra_env, new_database)
        started.append(e)
        return e

    yield _make
    for e in started:
        e.server.close()
