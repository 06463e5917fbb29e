"""``volclone db upgrade`` and ``db check`` on an empty PostgreSQL database and on SQLite; the admin
commands on the database ``VOLCLONE_DATABASE_URL`` names; a database that cannot be reached is
one line, not a traceback. Real PostgreSQL (a fresh database per test) and real SQLite files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from conftest import VOLCLONE, PgDatabases, db_rows, free_port, run_cli
from volclone.config import Settings
from volclone.db.database import current_revision, head_revision, make_engine, schema_drift


def cli(data_dir: Path, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli(data_dir, *args, env={"VOLCLONE_DATABASE_URL": url}, check=check)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'elsewhere' / 'v.db'}"
    pg: PgDatabases = request.getfixturevalue("pg")
    return pg.empty()


def test_db_upgrade_on_an_empty_database_ends_at_head_with_no_drift(tmp_path, empty_url):
    data_dir = tmp_path / "data"
    out = cli(data_dir, empty_url, "db", "upgrade")
    head = head_revision()
    assert out.stdout.strip().splitlines()[-1].endswith(f": at revision {head} (head)"), out.stdout
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) == head
        assert schema_drift(engine) == []  # what `alembic check` compares: the migrations make the models
        tables = set(inspect(engine).get_table_names())
        assert {"volumes", "attachments", "layers", "backends"} <= tables
        assert {"logbooks", "flowdetails", "atomdetails"} <= tables  # TaskFlow's, migrated with ours
    finally:
        engine.dispose()
    assert "the schema matches the models" in cli(data_dir, empty_url, "db", "check").stdout
    # Once more: nothing to do, the same revision.
    assert f"at revision {head} (head)" in cli(data_dir, empty_url, "db", "upgrade").stdout


def test_db_check_finds_a_schema_that_differs(tmp_path, empty_url):
    data_dir = tmp_path / "data"
    cli(data_dir, empty_url, "db", "upgrade")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE volumes ADD COLUMN stray INTEGER"))
        assert [d[0] for d in schema_drift(engine)] == ["remove_column"]
    finally:
        engine.dispose()
    out = cli(data_dir, empty_url, "db", "check", check=False)
    assert out.returncode == 1 and "stray" in out.stdout, out


def test_admin_commands_act_on_the_database_url_and_leave_the_data_dir_alone(tmp_path, pg):
    url = pg.empty()
    data_dir = tmp_path / "never-made"  # on PostgreSQL no admin command needs it
    token = cli(data_dir, url, "token", "create", "--project", "p9", "--admin").stdout.strip().splitlines()[-1]
    assert token
    assert db_rows(url, "SELECT project_id, is_admin FROM tokens") == [("p9", True)]
    cli(data_dir, url, "config", "set", "clone-name-prefix", "nightly-")
    assert db_rows(url, "SELECT key, value FROM settings") == [("clone-name-prefix", "nightly-")]
    assert cli(data_dir, url, "config", "get", "clone-name-prefix").stdout.strip() == "nightly-"
    (tmp_path / "ceph.conf").write_text("[global]\n")  # rbd wants the file; --no-check never reads it
    cli(data_dir, url, "backend", "add", "ceph", "--driver", "rbd", "-o", f"conf={tmp_path}/ceph.conf",
        "-o", "pool=volumes", "--no-check")
    assert db_rows(url, "SELECT name, driver FROM backends") == [("ceph", "rbd")]
    listed = cli(data_dir, url, "backend", "list").stdout
    assert "ceph" in listed and "rbd" in listed
    assert not data_dir.exists()
    # ...and the same commands on SQLite (the default) never saw any of it.
    sqlite_dir = tmp_path / "sqlite"
    assert "ceph" not in run_cli(sqlite_dir, "backend", "list").stdout
    assert run_cli(sqlite_dir, "config", "get", "clone-name-prefix").stdout.strip() == "clone-"


UNREACHABLE = [
    ("db", "upgrade"), ("db", "check"), ("token", "create", "--project", "p1"),
    ("config", "set", "clone-name-prefix", "x-"), ("config", "get", "clone-name-prefix"),
    ("backend", "add", "b", "--driver", "rbd", "-o", "conf=/c", "-o", "pool=p", "--no-check"),
    ("backend", "list"), ("serve", "--port", "0"),
]


@pytest.mark.parametrize("args", UNREACHABLE, ids=[" ".join(a[:2]) for a in UNREACHABLE])
def test_an_unreachable_database_is_one_line(tmp_path, args):
    url = f"postgresql+psycopg://volclone:s3cret@127.0.0.1:{free_port()}/nothing"  # nothing listens there
    out = cli(tmp_path, url, *args, check=False)
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("Error: cannot reach database postgresql+psycopg://volclone:***@127.0.0.1:"), lines
    assert "s3cret" not in out.stderr + out.stdout


@pytest.mark.parametrize("url,says", [
    ("not a url", "is not a database URL"),
    ("postgresql+nosuchdriver://u@127.0.0.1/x", "cannot use database postgresql+nosuchdriver://u@127.0.0.1/x"),
])
def test_an_unusable_database_url_is_one_line(tmp_path, url, says):
    out = cli(tmp_path, url, "db", "upgrade", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out
    [line] = out.stderr.strip().splitlines()
    assert says in line, line


def test_upgrades_started_at_once_take_turns(tmp_path, pg):
    """Several processes starting on one new database (api processes behind a load balancer)
    upgrade it one after the other: none fails on a table another is creating."""
    url = pg.empty()
    procs = [subprocess.Popen([VOLCLONE, "db", "upgrade"], env={**os.environ, "VOLCLONE_DATABASE_URL": url},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert all(f"at revision {head_revision()} (head)" in o for o, _ in outs)


def test_database_settings_from_the_environment(pg):
    url = pg.fresh()
    s = Settings.from_env({"VOLCLONE_DATABASE_URL": f" {url} ", "VOLCLONE_DATABASE_POOL_SIZE": "3"})
    assert (s.db_url, s.database_pool_size) == (url, 3)
    engine = make_engine(s.db_url, s.database_pool_size)
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="VOLCLONE_DATABASE_POOL_SIZE must be at least 1"):
        Settings.from_env({"VOLCLONE_DATABASE_POOL_SIZE": "0"})
    assert Settings.from_env({"VOLCLONE_DATA_DIR": "/srv/v"}).db_url == "sqlite:////srv/v/volclone.db"
