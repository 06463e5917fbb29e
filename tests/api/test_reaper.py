"""A real ``volclone serve`` killed mid-create (simulated: the row is left ``creating``, changed
long ago), then started again: the start's reaper pass leaves no ``creating`` volume, nor its
qcow2 in the pool (the unit tests, tests/unit/test_reaper.py, cover every status)."""

from __future__ import annotations

from .support import assert_fault, unique

LONG_AGO = "2000-01-01 00:00:00.000000"


def test_a_killed_serve_leaves_no_creating_volume_after_its_restart(make_env):
    e = make_env()
    v = e.user.create_volume(1, name=unique("reap"))
    path = e.server.active_file(v["id"])
    assert path.exists()
    e.server.stop(kill=True)
    assert e.server.db_execute("UPDATE volumes SET status = 'creating', updated_at = ? WHERE id = ?",
                               LONG_AGO, v["id"]) == 1
    e.server.start()
    assert e.server.db_rows("SELECT id FROM volumes WHERE status = 'creating'") == []
    assert_fault(e.user.request("GET", f"/volumes/{v['id']}"), 404)
    assert not path.exists()
    assert e.server.db_rows("SELECT id FROM layers WHERE volume_id = ?", v["id"]) == []
    assert "its create never finished" in e.server.log()
