"""A real ``volclone serve`` on PostgreSQL whose database goes away for a while: 503s in the
OpenStack fault format (no traceback, no URL), then the same server serves again by itself."""

from __future__ import annotations

from pathlib import Path

import psycopg

from conftest import PG_SERVER, PgDatabases, _start, use_database


def _admin(sql: str, *args: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as con:
        con.execute(sql, args)


def test_a_database_that_goes_away_is_503_until_it_is_back(tmp_path: Path, pg: PgDatabases) -> None:
    url = pg.fresh()
    name = url.rsplit("/", 1)[1]
    e = _start(tmp_path / "srv", new_database=lambda d: use_database(d, url))
    try:
        vol = e.user.create_volume(1, "a")
        _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name)

        for _ in range(2):  # the pool's connections were cut, and no new one is let in
            r = e.user.request("GET", f"/volumes/{vol['id']}")
            assert r.status_code == 503, r.text
            assert r.json() == {"serviceUnavailable": {"code": 503,
                                                       "message": "the database is unavailable; try again"}}

        _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        assert e.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["name"] == "a"
        assert e.server.proc is not None and e.server.proc.poll() is None
    finally:
        _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        e.server.stop()
