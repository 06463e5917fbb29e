"""A revert that fails strands nothing, on a real server.

``revert:<undo>[:N]`` failpoints (``VOLCLONE_FAILPOINTS``) make an undo action of a revert
fail its first N times: the revert goes on with every other item, the flow ends FAILURE with
every message, what was left is recorded, and the leftover retry (at start, and every
``VOLCLONE_LEFTOVER_RETRY_S``) removes it until nothing of the clone is left.
"""

from __future__ import annotations

import re
import time

from conftest import Env
from volclone.flows.model import Step

from . import disk


def two_sources(e: Env) -> tuple[str, str, dict[str, str]]:
    srv, api = e.server, e.user
    a = api.create_volume(1, "a")["id"]
    b = api.create_volume(1, "b")["id"]
    disk.write(srv.active_file(a), 0x5A, 0, "64k")
    disk.write(srv.active_file(b), 0xA5, "1M", "64k")
    return a, b, {v: disk.digest(srv.active_file(v)) for v in (a, b)}


def leftovers(e: Env) -> list[tuple[str, int, bool]]:
    return [(r[0], r[1], r[2] is not None)
            for r in e.server.db_rows("SELECT id, attempts, resolved_at FROM clone_leftovers ORDER BY id")]


def assert_nothing_left(e: Env, sources: set[str], before: object) -> None:
    srv = e.server
    assert {r[0] for r in srv.db_rows("SELECT id FROM volumes")} == sources
    assert disk.pool_state(srv) == before
    disk.assert_pool_sane(srv)  # also: no group snapshot, no group, no daemon node
    assert all(resolved for _, _, resolved in leftovers(e)), leftovers(e)


def assert_clone_and_delete_work(e: Env, sums: dict[str, str]) -> None:
    """The sources are neither grouped nor locked: they clone again, and everything deletes."""
    srv, api = e.server, e.user
    p = api.wait(api.clone(list(sums)))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    for src, clone in p["details"]["results"].items():
        assert disk.digest(srv.active_file(clone)) == sums[src]
    for vid in (*sums, *p["details"]["results"].values()):
        r = api.request("DELETE", f"/volumes/{vid}")
        assert r.status_code == 202, r.text
    assert disk.pool_state(srv) == (set(), set())


def test_a_failing_revert_undoes_all_else_ends_failure_and_its_leftovers_go_at_the_next_start(make_env) -> None:
    # The first clone's delete, the group snapshot's delete and the group's removal each fail once;
    # the periodic retry is an hour away, so what is left stays until the restart below.
    e: Env = make_env(VOLCLONE_FAILPOINTS="create_group_clone,revert:delete_clone:1,"
                                          "revert:delete_group_snapshot:1,revert:delete_group:1",
                      VOLCLONE_LEFTOVER_RETRY_S="3600")
    srv, api = e.server, e.user
    a, b, sums = two_sources(e)
    before = disk.pool_state(srv)

    task = api.clone([a, b])
    p = api.wait(task)
    short = task[:8]

    # -- (a) FAILURE, with every message -----------------------------------------------
    assert p["flow_details"] == p["details"]["flow_details"] == {"cloneFlow": "FAILURE"}, p
    assert p["progress"] == 100 and p["pending_tasks"] == p["details"]["pending_tasks"] == {}
    failure = p["details"]["results"]["failure"]
    assert list(p["details"]["results"]) == ["failure"]
    assert f"failpoint hit in {Step.CREATE_GROUP_CLONE.task_name(task)}" in failure, failure
    assert f"group snapshot snap-{task} was not deleted" in failure, failure
    assert f"source group src_group-{task} was not removed" in failure, failure
    undeleted = re.findall(r"clone volume ([0-9a-f-]{36}) was not deleted", failure)
    assert len(undeleted) == 1, failure  # the first clone's delete failed, the second's was still done
    assert "failpoint hit in revert delete_clone" in failure
    done = dict(p["details"]["completed_tasks"])
    done.pop("_TaskFlow_INJECTOR", None)
    assert done == {Step.CREATE_SRC_GROUP.task_name(task): "FAILURE",
                    Step.CREATE_GROUP_SNAPSHOT.task_name(task): "FAILURE",
                    Step.CREATE_GROUP_CLONE.task_name(task): "FAILURE"}, done
    assert all(short in n for n in done)

    # What was left is recorded; the clone that would not go is error_deleting, the other one is gone.
    assert [(i, n, r) for i, n, r in leftovers(e)] == sorted([
        (f"delete_clone:{undeleted[0]}", 1, False), (f"delete_group:src_group-{task}", 1, False),
        (f"delete_group_snapshot:snap-{task}", 1, False)])
    assert {r[0]: r[1] for r in srv.db_rows("SELECT id, status FROM volumes")} == {
        a: "available", b: "available", undeleted[0]: "error_deleting"}
    # The sources are still grouped by the dead flow: a delete is refused, and changes nothing.
    r = api.request("DELETE", f"/volumes/{a}")
    assert r.status_code == 400 and "being cloned" in r.json()["badRequest"]["message"], r.text

    # -- (b)+(c) the next start retries the leftovers: nothing is left, the sources are free --
    srv.stop()
    srv.env = {k: v for k, v in srv.env.items() if k != "VOLCLONE_FAILPOINTS"}
    srv.start()
    assert_nothing_left(e, {a, b}, before)
    assert "removed a leftover of its revert" in srv.log()
    assert api.progress(task) == p, "a finished flow reads the same after its leftovers are gone"
    assert_clone_and_delete_work(e, sums)


def test_leftovers_are_retried_periodically_until_they_are_gone(make_env) -> None:
    # The group snapshot's delete fails in the revert and in the first two retries.
    e: Env = make_env(VOLCLONE_FAILPOINTS="set_clones_available,revert:delete_group_snapshot:3",
                      VOLCLONE_LEFTOVER_RETRY_S="0.2")
    srv, api = e.server, e.user
    a, b, _ = two_sources(e)
    before = disk.pool_state(srv)

    task = api.clone([a, b])
    p = api.wait(task)
    assert p["flow_details"] == {"cloneFlow": "FAILURE"}, p
    failure = p["details"]["results"]["failure"]
    assert f"failpoint hit in {Step.SET_CLONES_AVAILABLE.task_name(task)}" in failure
    assert f"group snapshot snap-{task} was not deleted (failpoint hit in revert delete_group_snapshot" in failure
    assert p["details"]["completed_tasks"][Step.CREATE_GROUP_SNAPSHOT.task_name(task)] == "FAILURE"
    assert p["details"]["completed_tasks"][Step.CREATE_SRC_GROUP.task_name(task)] == "REVERTED"

    deadline = time.monotonic() + 120
    while leftovers(e) != [(f"delete_group_snapshot:snap-{task}", 3, True)]:
        assert time.monotonic() < deadline, f"the leftover was not removed: {leftovers(e)}\n{srv.log()[-3000:]}"
        time.sleep(0.1)
    assert_nothing_left(e, {a, b}, before)
    for vid in (a, b):  # (this server's clones still fail: the sources are deleted instead)
        r = api.request("DELETE", f"/volumes/{vid}")
        assert r.status_code == 202, r.text
    assert disk.pool_state(srv) == (set(), set())


def test_a_clone_failure_shows_tenants_no_server_path(make_env) -> None:
    """A real driver failure whose message names pool files: the tenant reads it without
    paths or traces; the server log has the full error."""
    e: Env = make_env()
    srv, api = e.server, e.user
    a = api.create_volume(1, "a")["id"]
    lost = srv.active_file(a)
    lost.unlink()  # the pool lost the source's data: the group snapshot cannot read it

    p = api.wait(api.clone([a]))
    assert p["flow_details"]["cloneFlow"] in ("REVERTED", "FAILURE"), p
    failure = p["details"]["results"]["failure"]
    assert lost.name in failure, failure  # still says which file
    assert str(srv.data_dir) not in failure and not re.search(r"(^|[\s'\"(])/\w", failure), failure
    assert "Traceback" not in failure and "\n" not in failure
    assert str(srv.data_dir / "pool") in srv.log()  # the operator has it all


def test_a_start_releases_sources_grouped_by_flows_that_have_ended(make_env) -> None:
    """Groups no leftover names (left by a flow that failed before leftovers were recorded,
    or by a task that is gone) are released once their flow has ended."""
    e: Env = make_env()
    srv, api = e.server, e.user
    a = api.create_volume(1, "a")["id"]
    b = api.create_volume(1, "b")["id"]
    ended = api.clone([a])
    assert api.wait(ended)["flow_details"] == {"cloneFlow": "SUCCESS"}
    srv.stop()
    for group, task, ids in ((f"src_group-{ended}", ended, [a]), ("src_group-gone", "gone", [b])):
        srv.db_execute("INSERT INTO volume_groups (id, task_id, project_id, volume_ids, created_at) "
                       "VALUES (?, ?, 'p1', ?, '2026-12-01 00:00:00')", group, task, f'{{"ids": ["{ids[0]}"]}}')
    srv.start()
    assert srv.db_rows("SELECT id FROM volume_groups") == []
    for vid in (a, b):
        r = api.request("DELETE", f"/volumes/{vid}")
        assert r.status_code == 202, r.text
