"""Every task of the clone flow reverts completely.

One server per failpoint (``VOLCLONE_FAILPOINTS``): the named task raises right
AFTER its side effect, so its own revert and the revert of every task before it
run. Afterwards nothing of the clone may be left (volumes, layers, files, group
snapshots, groups, daemon nodes), the sources must be untouched (status, layer
records, files, data), and the same sources must clone fine once the server runs
without the failpoint.
"""

from __future__ import annotations

import pytest

from conftest import Env
from volclone.flows.model import Step

from . import disk

#: The flow's tasks in the order they run (name prefixes; the rest is the task id).
TASKS = [s.prefix for s in Step]


def position(task_name: str) -> int:
    return next(i for i, prefix in enumerate(TASKS) if task_name.startswith(prefix))


#: The failpoints run here, against real qemu: the group snapshot (one QMP transaction, its
#: revert folds the overlays back), the clones (qcow2 files over the frozen layers), and the
#: last task (every revert, after the snapshot was dropped). A failure at each of the seven
#: tasks is proven on the service and the flow in tests/unit/test_clone_flow.py (memory driver).
REAL_SERVER_CASES = ["create_group_snapshot-", "create_group_clone-", "set_clones_available-"]


@pytest.mark.parametrize("failpoint", REAL_SERVER_CASES, ids=[t.rstrip("-") for t in REAL_SERVER_CASES])
def test_a_failing_task_reverts_the_whole_flow(make_env, failpoint: str) -> None:
    e: Env = make_env(VOLCLONE_FAILPOINTS=failpoint)
    srv, api = e.server, e.user
    a = api.create_volume(1, "a")["id"]
    b = api.create_volume(1, "b")["id"]
    disk.write(srv.active_file(a), 0x5A, 0, "64k")
    disk.write(srv.active_file(a), 0x11, "1M", "64k")
    disk.write(srv.active_file(b), 0xA5, 0, "64k")
    disk.write(srv.active_file(b), 0x22, "2M", "64k")
    sums = {a: disk.digest(srv.active_file(a)), b: disk.digest(srv.active_file(b))}
    layers_before, files_before = disk.pool_state(srv)

    task = api.clone([a, b], **{"display-name": "rv"})
    p = api.wait(task)

    # -- what get_progress says ------------------------------------------------
    assert p["flow_details"] == {"cloneFlow": "REVERTED"}, p
    results = p["details"]["results"]
    assert list(results) == ["failure"], results
    assert "failpoint" in results["failure"] and failpoint in results["failure"], results
    assert p["progress"] == p["details"]["progress"] == 100
    states = {**p["details"]["pending_tasks"], **p["details"]["completed_tasks"]}
    states.pop("_TaskFlow_INJECTOR", None)
    # Steps that never ran are left out of a reverted flow; every step that ran is REVERTED.
    assert sorted({position(n) for n in states}) == list(range(TASKS.index(failpoint) + 1)), states
    assert p["details"]["pending_tasks"] == {}, p
    failed = [n for n in states if n.startswith(failpoint)]
    assert len(failed) == 1 and p["details"]["completed_tasks"][failed[0]] == "REVERTED", states
    assert set(states.values()) == {"REVERTED"}, states

    # -- nothing of the clone is left ----------------------------------------------
    listed = {v["id"] for v in api.ok("GET", "/volumes")["volumes"]}
    assert listed == {a, b}
    assert {r[0] for r in srv.db_rows("SELECT id FROM volumes")} == {a, b}
    assert disk.pool_state(srv) == (layers_before, files_before)
    assert srv.db_rows("SELECT * FROM snapshot_members") == []
    assert srv.db_rows("SELECT * FROM volume_groups") == []
    assert srv.daemon_nodes() == []

    # -- the sources are as they were --------------------------------------------------
    for vid in (a, b):
        vol = api.ok("GET", f"/volumes/{vid}")["volume"]
        assert vol["status"] == "available"
        assert vol["metadata"] == {}
    disk.expect(srv.active_file(a), (0x5A, 0, "64k"), (0x11, "1M", "64k"), (0, "2M", "64k"))
    disk.expect(srv.active_file(b), (0xA5, 0, "64k"), (0, "1M", "64k"), (0x22, "2M", "64k"))
    assert {v: disk.digest(srv.active_file(v)) for v in (a, b)} == sums

    # -- without the failpoint the same sources clone fine, and everything can go --
    srv.stop()
    srv.env = {}
    srv.start()
    assert api.progress(task) == p, "a finished flow reads the same after a restart"
    p2 = api.wait(api.clone([a, b], **{"display-name": "ok"}))
    assert p2["flow_details"] == {"cloneFlow": "SUCCESS"}, p2
    clones = p2["details"]["results"]
    assert set(clones) == {a, b}
    for src, clone in clones.items():
        assert disk.digest(srv.active_file(clone)) == sums[src]
    disk.assert_pool_sane(srv)
    for vid in (a, b, *clones.values()):
        assert api.request("DELETE", f"/volumes/{vid}").status_code == 202
    assert api.ok("GET", "/volumes")["volumes"] == []
    assert disk.pool_state(srv) == (set(), set())
