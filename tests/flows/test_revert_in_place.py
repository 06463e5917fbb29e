"""Revert a set in place on the local pool, through the real server and qemu: the sources read
their clones' data again (write A, clone, overwrite with B, revert, read A), and a failure after
any step's side effect leaves every source byte-identical to before (checksums of the files)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Api, Env, _start
from volclone.flows.model import RevertStep

from . import disk

REVERT_ACTION = "clone-volumes-revert"
FINAL = {"SUCCESS", "REVERTED", "FAILURE"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[Path], str]) -> Iterator[Env]:
    """A server of this module's own (not the shared one): its checks look at the whole pool and
    daemon, which the shared server's other tests also use."""
    e = _start(tmp_path_factory.mktemp("volclone"), new_database=new_database)
    yield e
    e.server.close()


def start_revert(api: Api, task_id: str) -> str:
    r = api.request("POST", "/clone-volumes/revert", json={"revert": {"task_id": task_id}})
    assert r.status_code == 202, r.text
    uri = httpx.URL(r.json()["revert"]["task_uri"])
    assert uri.path.endswith("/clone-volumes/get_progress") and uri.params["action"] == REVERT_ACTION, uri
    return str(uri.params["task_id"])


def wait_revert(api: Api, task_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p: dict[str, Any] = api.ok("GET", "/clone-volumes/get_progress",
                                   params={"action": REVERT_ACTION, "task_id": task_id})
        if p["flow_details"]["revertFlow"] in FINAL:
            return p
        time.sleep(0.02)
    raise AssertionError(f"revert task {task_id} did not end in {timeout} s")


def cloned_then_overwritten(env: Env) -> tuple[list[str], str, dict[str, str]]:
    """Two sources with data A, cloned, then overwritten with B."""
    srv, api = env.server, env.user
    a = api.create_volume(1, "a")["id"]
    b = api.create_volume(2, "b")["id"]
    disk.write(srv.active_file(a), 0x41, 0, "64k")
    disk.write(srv.active_file(b), 0x41, "1M", "64k")
    task = api.clone([a, b])
    p = api.wait(task)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    for vid in (a, b):
        disk.write(srv.active_file(vid), 0x42, 0, "64k")
        disk.write(srv.active_file(vid), 0x42, "3M", "64k")
    return [a, b], task, p["details"]["results"]


def test_revert_in_place_reads_back_the_clones_data(env: Env) -> None:
    srv, api = env.server, env.user
    untouched = disk.pool_state(srv)  # the shared server's other tests' volumes
    (a, b), task, clones = cloned_then_overwritten(env)
    sums = {v: disk.digest(srv.active_file(clones[v])) for v in (a, b)}
    p = wait_revert(api, start_revert(api, task))
    assert p["flow_details"] == {"revertFlow": "SUCCESS"}, p
    assert p["details"]["results"] == clones
    done = p["details"]["completed_tasks"]
    assert all(any(n.startswith(s.prefix) and state == "SUCCESS" for n, state in done.items())
               for s in RevertStep), done
    disk.expect(srv.active_file(a), (0x41, 0, "64k"), (0, "3M", "64k"))
    disk.expect(srv.active_file(b), (0, 0, "64k"), (0x41, "1M", "64k"), (0, "3M", "64k"))
    assert {v: disk.digest(srv.active_file(v)) for v in (a, b)} == sums
    for vid in (a, b):
        assert api.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    disk.assert_pool_sane(srv)
    for vid in (a, b, *clones.values()):
        assert api.request("DELETE", f"/volumes/{vid}").status_code == 202
    # the old data goes right after the flow ended (the flow's thread drops it): wait, bounded
    deadline = time.monotonic() + 30
    while disk.pool_state(srv) != untouched and time.monotonic() < deadline:
        time.sleep(0.1)
    assert disk.pool_state(srv) == untouched, "the old data went once the revert succeeded"


#: The steps whose side effect is on the pool's files and daemon: the clones' group snapshot (one QMP
#: transaction), the prepared qcow2 files, the swap of layer records, and the last step (every
#: revert, the swap back after the snapshot was dropped). Measured: ~17 s a server here, so the
#: other three (database-only side effects) are run on the memory driver only
#: (tests/unit/test_clone_revert.py runs all seven).
REAL_SERVER_STEPS = [RevertStep.SNAPSHOT_CLONES, RevertStep.PREPARE_DATA, RevertStep.SWAP_IN,
                     RevertStep.RELEASE_VOLUMES]


@pytest.mark.parametrize("step", REAL_SERVER_STEPS, ids=[s.value for s in REAL_SERVER_STEPS])
def test_a_failure_at_each_step_leaves_the_sources_as_they_were(make_env: Any, step: RevertStep) -> None:
    e: Env = make_env(VOLCLONE_FAILPOINTS=step.prefix)
    srv, api = e.server, e.user
    (a, b), task, clones = cloned_then_overwritten(e)
    sums = {v: disk.digest(srv.active_file(v)) for v in (a, b, *clones.values())}
    pool = disk.pool_state(srv)
    p = wait_revert(api, start_revert(api, task))
    assert p["flow_details"] == {"revertFlow": "REVERTED"}, p
    assert "failpoint" in p["details"]["results"]["failure"]
    assert {v: disk.digest(srv.active_file(v)) for v in (a, b, *clones.values())} == sums
    assert disk.pool_state(srv) == pool
    assert srv.db_rows("SELECT * FROM snapshot_members") == []
    assert srv.db_rows("SELECT * FROM volume_groups") == []
    assert srv.daemon_nodes() == []
    for vid in (a, b):
        assert api.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
