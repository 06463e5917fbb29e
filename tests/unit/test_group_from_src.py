# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""Cinder's ``create-from-src`` (3.14) through the API in process (memory driver): a group from a
group (one clone-volumes flow) and from a group snapshot (one group-from-snapshot flow), the
checks (nothing made on a refusal), the revert at each failing step (nothing left, the group
``error``, a user message), and the quotas."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.flows.clone_volumes import META_TASK
from volclone.flows.group_from_snapshot import SnapshotGroupStep
from volclone.flows.model import Step
from volclone.service.auth import MEMBER_ROLES

from .conftest import WAIT, Fast
from .test_groups import GROUP_KEYS, GroupHttp, http  # noqa: F401 (the fixture)
from .test_volume_actions import fault


def _source(http: GroupHttp, n: int = 2) -> tuple[dict[str, Any], list[str]]:
    gt = http.group_type()
    group = http.group(gt["id"], name="src")
    vols = [http.fast.volume(1, name=f"v{i}", fill=bytes([65 + i])).id for i in range(n)]
    assert http.update(group["id"], add_volumes=",".join(vols)).status_code == 202
    return http.show(group["id"]), vols


def _from_src(http: GroupHttp, version: str = "3.14", token: str | None = None, **ids: Any) -> Any:
    return http.call("POST", "/groups/action", {"create-from-src": {"name": "copy", **ids}}, version=version,
                     token=token)


def _task_of(fast: Fast, group_id: str) -> str:
    [row] = [t for t in fast.svc.clones.tasks.list() if t.request.get("target_group_id") == group_id]
    return row.id


def _made(http: GroupHttp, r: Any) -> tuple[dict[str, Any], str]:
    """The new group's show once its flow ended, and its flow's task id."""
    assert r.status_code == 202, r.text
    made = r.json()["group"]
    assert set(made) == {"id", "name"} and made["name"] == "copy"
    task = _task_of(http.fast, made["id"])
    http.fast.svc.clones.wait(task, WAIT)
    return http.show(made["id"]), task


def _progress(http: GroupHttp, task: str) -> tuple[str, dict[str, Any]]:
    """get_progress of the task, as a client reads it: (the flow's state, the details)."""
    body = http.ok("GET", f"/clone-volumes/get_progress?action=clone-volumes&task_id={task}")
    [state] = body["flow_details"].values()
    return state, body["details"]


def _snapshot(http: GroupHttp, group_id: str) -> str:
    r = http.call("POST", "/group_snapshots", {"group_snapshot": {"group_id": group_id, "name": "gs"}})
    assert r.status_code == 202, r.text
    return str(r.json()["group_snapshot"]["id"])


def test_a_group_from_a_group_is_one_clone_flow(http: GroupHttp, fast: Fast) -> None:
    src, vols = _source(http)
    digests = {v: fast.digest(v) for v in vols}
    alice = fast.svc.auth.create_token("p1", MEMBER_ROLES, user_id="alice-id")
    shown, task = _made(http, _from_src(http, token=alice, source_group_id=src["id"]))
    assert set(shown) == GROUP_KEYS
    assert (shown["status"], shown["source_group_id"], shown["group_snapshot_id"]) == ("available", src["id"], None)
    assert (shown["group_type"], shown["volume_types"]) == (src["group_type"], src["volume_types"])
    members = http.members(shown["id"])
    assert len(members) == 2 and not set(members) & set(vols)
    # One flow made them all: its get_progress is the clone flow's, SUCCESS, mapping each source.
    state, progress = _progress(http, task)
    assert state == "SUCCESS" and set(progress["results"]) == set(vols)
    assert sorted(progress["results"].values()) == sorted(members)
    for source, clone in progress["results"].items():
        vol = fast.get(clone)
        assert (vol.status.value, vol.group_id, vol.metadata[META_TASK]) == ("available", shown["id"], task)
        assert vol.name == fast.get(source).name and fast.digest(clone) == digests[source]
        assert vol.user_id == "alice-id"  # the caller's, through the flow's store
    # The sources are left as they were: in their group, available.
    assert sorted(http.members(src["id"])) == sorted(vols)
    assert {fast.get(v).status.value for v in vols} == {"available"}


def test_a_group_from_a_group_snapshot_holds_the_snapshot_point(http: GroupHttp, fast: Fast) -> None:
    src, vols = _source(http)
    at_point = {v: fast.digest(v) for v in vols}
    gs = _snapshot(http, src["id"])
    for v in vols:  # written after the point: the new group must not see it
        fast.mem.write(v, 0, b"Z" * 65536)
    bob = fast.svc.auth.create_token("p1", MEMBER_ROLES, user_id="bob-id")
    shown, task = _made(http, _from_src(http, token=bob, group_snapshot_id=gs))
    assert (shown["status"], shown["group_snapshot_id"], shown["source_group_id"]) == ("available", gs, None)
    assert shown["group_type"] == src["group_type"]
    state, progress = _progress(http, task)
    assert state == "SUCCESS" and progress["progress"] == 100
    snaps = {s["id"]: s["volume_id"] for s in http.ok("GET", "/snapshots")["snapshots"]}
    assert set(progress["results"]) == set(snaps)
    for snap, new in progress["results"].items():
        assert fast.digest(new) == at_point[snaps[snap]]
        assert (fast.get(new).group_id, fast.get(new).user_id) == (shown["id"], "bob-id")
    assert sorted(http.members(shown["id"])) == sorted(progress["results"].values())


def test_the_view_fields_and_the_action_need_3_14(http: GroupHttp) -> None:
    src, _ = _source(http, 1)
    fault(_from_src(http, version="3.13", source_group_id=src["id"]), 404, "itemNotFound")
    assert "source_group_id" not in http.show(src["id"], version="3.13")


def _rows(fast: Fast) -> dict[str, Any]:
    return {**fast.footprint(), "groups": fast.db_rows("SELECT id, status FROM generic_groups ORDER BY id")}


@pytest.mark.parametrize("make_body, status, words", [
    (lambda src, gs: {"source_group_id": src, "group_snapshot_id": gs}, 400, "both"),
    (lambda src, gs: {}, 400, "Either"),
    (lambda src, gs: {"source_group_id": "3f0e1c1e-0000-4000-8000-00000000ffff"}, 404, "could not be found"),
    (lambda src, gs: {"group_snapshot_id": "3f0e1c1e-0000-4000-8000-00000000fffe"}, 404, "could not be found"),
    (lambda src, gs: {"source_group_id": src, "volumes": "x"}, 400, "volumes"),
], ids=["both", "neither", "unknown-group", "unknown-group-snapshot", "unknown-field"])
def test_refusals_make_nothing(http: GroupHttp, fast: Fast, make_body: Any, status: int, words: str) -> None:
    src, _ = _source(http, 1)
    gs = _snapshot(http, src["id"])
    before = _rows(fast)
    r = http.call("POST", "/groups/action", {"create-from-src": make_body(src["id"], gs)})
    fault(r, status, "badRequest" if status == 400 else "itemNotFound", words)
    assert _rows(fast) == before


def test_another_projects_source_is_404_and_a_busy_source_400(http: GroupHttp, fast: Fast) -> None:
    src, vols = _source(http, 1)
    gs = _snapshot(http, src["id"])
    before = _rows(fast)
    for ids in ({"source_group_id": src["id"]}, {"group_snapshot_id": gs}):
        fault(http.call("POST", "/groups/action", {"create-from-src": ids}, token=http.other, project="p2"), 404,
              "itemNotFound")
    ok = http.call("POST", f"/groups/{src['id']}/action", {"reset_status": {"status": "error"}}, version="3.20",
                   token=http.admin)
    assert ok.status_code == 202, ok.text
    fault(_from_src(http, source_group_id=src["id"]), 400, "badRequest", "must be available")
    ok = http.call("POST", f"/group_snapshots/{gs}/action", {"reset_status": {"status": "error"}}, version="3.19",
                   token=http.admin)
    assert ok.status_code == 202, ok.text
    fault(_from_src(http, group_snapshot_id=gs), 400, "badRequest", "must be available")
    # A member that can't be cloned (here: error) refuses the whole group.
    http.call("POST", f"/groups/{src['id']}/action", {"reset_status": {"status": "available"}}, version="3.20",
              token=http.admin)
    fast.set_status(vols[0], "error")
    fault(_from_src(http, source_group_id=src["id"]), 400, "badRequest", "error")
    assert _rows(fast) == {**before, "volumes": fast.footprint()["volumes"]}


def test_quotas_are_checked_up_front(http: GroupHttp, fast: Fast) -> None:
    src, _ = _source(http, 2)
    gs = _snapshot(http, src["id"])
    before = _rows(fast)
    for limits, words in (({"groups": 1}, "quota 'groups'"), ({"volumes": 3}, "volumes"),
                          ({"gigabytes": 3}, "gigabytes")):
        with fast.svc.quotas.repo.locked("p1", fast.svc.quotas.clock()) as q:
            q.set_overrides({"groups": -1, "volumes": -1, "gigabytes": -1, **limits})
        for ids in ({"source_group_id": src["id"]}, {"group_snapshot_id": gs}):
            fault(_from_src(http, **ids), 413, "overLimit", words)
            assert _rows(fast) == before
    assert fast.db_rows("SELECT * FROM reservations") == []


def test_the_new_volumes_count_in_their_types_quota(http: GroupHttp, fast: Fast) -> None:
    src, _ = _source(http, 2)  # two volumes of the default type
    before = _rows(fast)
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes___DEFAULT__": 3})
    fault(_from_src(http, source_group_id=src["id"]), 413, "overLimit", "quota 'volumes___DEFAULT__'")
    assert _rows(fast) == before and fast.db_rows("SELECT * FROM reservations") == []
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes___DEFAULT__": 4})
    made, _ = _made(http, _from_src(http, source_group_id=src["id"]))
    assert made["status"] == "available"


STEPS = [("group", s.prefix) for s in Step] + [("snapshot", f"{s.value}-") for s in SnapshotGroupStep]


@pytest.mark.parametrize("source, failpoint", STEPS, ids=[f"{s}-{p.rstrip('-')}" for s, p in STEPS])
def test_a_failing_step_reverts_leaving_nothing(make_fast: Any, source: str, failpoint: str) -> None:
    fast = make_fast(failpoints=(failpoint,))
    with GroupHttp.serving(fast) as api:
        src, vols = _source(api)
        ids = ({"source_group_id": src["id"]} if source == "group"
               else {"group_snapshot_id": _snapshot(api, src["id"])})
        before_volumes = fast.volume_ids()
        before_data = fast.mem.state()
        shown, task = _made(api, _from_src(api, **ids))
        assert shown["status"] == "error"
        state, progress = _progress(api, task)
        assert state == "REVERTED", progress
        assert "failpoint" in progress["results"]["failure"]
        assert api.members(shown["id"]) == [] and fast.volume_ids() == before_volumes
        assert fast.mem.state() == before_data
        assert {fast.get(v).status.value for v in vols} == {"available"}
        [msg] = api.ok("GET", "/messages")["messages"]
        assert (msg["resource_uuid"], msg["resource_type"]) == (shown["id"], "GROUP")
        # The failed group can be deleted, and the quota is all back.
        assert api.call("POST", f"/groups/{shown['id']}/action", {"delete": {}}).status_code == 202
        assert fast.db_rows("SELECT * FROM reservations") == []


def test_migration_0022_matches_the_schema_and_downgrades(tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0022")
        assert [d for d in schema_drift(engine) if "generic_groups" in repr(d)] == []
        command.downgrade(cfg, "0021")
        columns = {c["name"] for c in inspect(engine).get_columns("generic_groups")}
        assert not columns & {"group_snapshot_id", "source_group_id"} and "group_type_id" in columns
        command.upgrade(cfg, "0022")
        assert [d for d in schema_drift(engine) if "generic_groups" in repr(d)] == []
    finally:
        engine.dispose()
