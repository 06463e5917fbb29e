# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""Cinder's group snapshots (3.14) through the API in process (memory driver): Tempest's bodies,
the version gate, the policy rules, member snapshots in /snapshots, the refusals (a group with
group snapshots, a member snapshot alone, a backend that can't), quotas and failure cleanup."""

from __future__ import annotations

from typing import Any

from plain import PlainDriver
from volclone.backends.memory import MemoryDriver

from .conftest import Fast
from .test_groups import GroupHttp, http  # noqa: F401 (the fixture)
from .test_volume_actions import fault

#: Tempest's schemas (tempest/lib/api_schema/response/volume/group_snapshots.py).
CREATED_KEYS = {"id", "name", "group_type_id"}
SHOW_KEYS = {"created_at", "group_id", "id", "name", "status", "description", "group_type_id"}


def _group_with(http: GroupHttp, n: int = 2, **kw: Any) -> tuple[dict[str, Any], list[str]]:
    gt = http.group_type()
    group = http.group(gt["id"], **kw)
    vols = [http.fast.volume(1, fill=bytes([65 + i])).id for i in range(n)]
    r = http.update(group["id"], add_volumes=",".join(vols))
    assert r.status_code == 202, r.text
    return group, vols


def _create(http: GroupHttp, group_id: str, **kw: Any) -> Any:
    return http.call("POST", "/group_snapshots", {"group_snapshot": {"group_id": group_id, "name": "gs", **kw}})


def test_create_list_show_delete_with_members_in_snapshots(http: GroupHttp, fast: Fast) -> None:
    group, vols = _group_with(http)
    before = {v: fast.digest(v) for v in vols}
    r = _create(http, group["id"], description="nightly")
    assert r.status_code == 202, r.text
    made = r.json()["group_snapshot"]
    assert set(made) == CREATED_KEYS and made["name"] == "gs"
    shown = http.ok("GET", f"/group_snapshots/{made['id']}")["group_snapshot"]
    assert set(shown) == SHOW_KEYS
    assert (shown["group_id"], shown["status"], shown["description"]) == (group["id"], "available", "nightly")
    assert http.ok("GET", "/group_snapshots")["group_snapshots"] == [{"id": made["id"], "name": "gs"}]
    [detail] = http.ok("GET", "/group_snapshots/detail")["group_snapshots"]
    assert detail == shown
    # One member snapshot per volume, each with group_snapshot_id (from 3.14; not shown at 3.13).
    snaps = http.ok("GET", "/snapshots/detail")["snapshots"]
    assert sorted(s["volume_id"] for s in snaps) == sorted(vols)
    assert {s["group_snapshot_id"] for s in snaps} == {made["id"]} and {s["status"] for s in snaps} == {"available"}
    assert "group_snapshot_id" not in http.ok("GET", "/snapshots/detail", version="3.13")["snapshots"][0]
    # The members froze the data: a write after does not change what a volume from a member reads.
    for v in vols:
        fast.mem.write(v, 0, b"Z" * 65536)
    for s in snaps:
        new = fast.svc.volumes.create(fast.who, "p1", 1, snapshot_id=s["id"])
        assert fast.digest(new.id) == before[s["volume_id"]]
        fast.svc.volumes.delete(fast.who, "p1", new.id)
    r = http.call("DELETE", f"/group_snapshots/{made['id']}")
    assert r.status_code == 202, r.text
    assert http.ok("GET", "/snapshots")["snapshots"] == []
    fault(http.call("GET", f"/group_snapshots/{made['id']}"), 404, "itemNotFound")
    assert not fast.db_rows("SELECT id FROM group_snapshots")


def test_reset_status_from_3_19_and_project_id_from_3_58(http: GroupHttp) -> None:
    group, _ = _group_with(http, 1)
    gs = _create(http, group["id"]).json()["group_snapshot"]["id"]
    path = f"/group_snapshots/{gs}/action"
    body = {"reset_status": {"status": "error"}}
    fault(http.call("POST", path, body, version="3.18", token=http.admin), 404, "itemNotFound", "reset_status")
    fault(http.call("POST", path, body, version="3.19"), 403, "forbidden", "group:reset_group_snapshot_status")
    fault(http.call("POST", path, {"reset_status": {"status": "broken"}}, version="3.19", token=http.admin), 400,
          "badRequest", "broken")
    fault(http.call("POST", path, {"delete": {}}, version="3.19", token=http.admin), 400, "badRequest")
    assert http.ok("GET", f"/group_snapshots/{gs}")["group_snapshot"]["status"] == "available"
    assert http.call("POST", path, body, version="3.19", token=http.admin).status_code == 202
    shown = http.ok("GET", f"/group_snapshots/{gs}", version="3.58")["group_snapshot"]
    assert (shown["status"], shown["project_id"]) == ("error", "p1") and set(shown) == SHOW_KEYS | {"project_id"}
    assert "project_id" not in http.ok("GET", f"/group_snapshots/{gs}", version="3.57")["group_snapshot"]
    assert [d["project_id"] for d in http.ok("GET", "/group_snapshots/detail", version="3.58")["group_snapshots"]
            ] == ["p1"]
    assert http.call("DELETE", f"/group_snapshots/{gs}").status_code == 202  # an error one can be deleted


def test_below_3_14_is_a_404(http: GroupHttp) -> None:
    group, _ = _group_with(http, 1)
    fault(http.call("POST", "/group_snapshots", {"group_snapshot": {"group_id": group["id"]}}, version="3.13"),
          404, "itemNotFound", "3.14")
    fault(http.call("GET", "/group_snapshots", version="3.13"), 404, "itemNotFound")
    assert not http.fast.db_rows("SELECT id FROM group_snapshots")


def test_rules(http: GroupHttp) -> None:
    group, _ = _group_with(http, 1)
    fault(http.call("POST", "/group_snapshots", {"group_snapshot": {"group_id": group["id"]}}, token=http.reader),
          403, "forbidden", "group:create_group_snapshot")
    gs = _create(http, group["id"]).json()["group_snapshot"]
    http.ok("GET", "/group_snapshots", token=http.reader)
    http.ok("GET", f"/group_snapshots/{gs['id']}", token=http.reader)
    fault(http.call("DELETE", f"/group_snapshots/{gs['id']}", token=http.reader), 403, "forbidden",
          "group:delete_group_snapshot")
    # Another project's caller: the project path is not theirs (403); theirs: not found (404).
    fault(http.call("GET", f"/group_snapshots/{gs['id']}", token=http.other), 403, "forbidden")
    fault(http.call("GET", f"/group_snapshots/{gs['id']}", token=http.other, project="p2"), 404, "itemNotFound")
    assert http.ok("GET", "/group_snapshots", token=http.other, project="p2")["group_snapshots"] == []
    assert len(http.ok("GET", "/group_snapshots?all_tenants=1", token=http.admin, project="admin",
                       version="3.29")["group_snapshots"]) == 1


def test_refusals(http: GroupHttp, fast: Fast) -> None:
    group, vols = _group_with(http)
    fault(http.call("POST", "/group_snapshots", {"group_snapshot": {"group_id": group["id"], "bogus": 1}}),
          400, "badRequest")
    fault(_create(http, "no-such-group"), 404, "itemNotFound")
    empty = http.group(http.group_type("gt2")["id"])
    fault(_create(http, empty["id"]), 400, "badRequest", "no volumes")
    gs = _create(http, group["id"]).json()["group_snapshot"]
    [snap, _] = http.ok("GET", "/snapshots")["snapshots"]
    # A member snapshot is deleted only with its group snapshot; its volume, not even with cascade.
    fault(http.call("DELETE", f"/snapshots/{snap['id']}"), 400, "badRequest", "group snapshot")
    fault(http.call("DELETE", f"/volumes/{vols[0]}?cascade=true"), 400, "badRequest", "group snapshot")
    # A group with group snapshots is not deleted.
    fault(http.call("POST", f"/groups/{group['id']}/action", {"delete": {"delete-volumes": True}}), 400,
          "badRequest", "group snapshots")
    assert len(http.ok("GET", "/snapshots")["snapshots"]) == 2
    http.ok("DELETE", f"/group_snapshots/{gs['id']}", status=202)
    http.ok("POST", f"/groups/{group['id']}/action", {"delete": {"delete-volumes": True}}, status=202)


def test_backend_failure_leaves_nothing(http: GroupHttp, fast: Fast) -> None:
    group, _ = _group_with(http, 3)
    before = fast.footprint()
    # The first member's freeze acted, then failed: the backend undoes it, the service its records.
    fast.mem.inject("create_group_snapshot", after=True)
    fault(_create(http, group["id"]), 500, "computeFault", "injected fault in create_group_snapshot")
    assert fast.footprint() == before
    # The whole call acted, then its answer was lost: the service removes the members it recorded.
    fast.mem.inject("create_snapshots_at_once", after=True)
    fault(_create(http, group["id"]), 500, "computeFault", "injected fault")
    assert fast.footprint() == before
    assert http.ok("GET", "/snapshots")["snapshots"] == [] == http.ok("GET", "/group_snapshots")["group_snapshots"]
    http.ok("POST", "/group_snapshots", {"group_snapshot": {"group_id": group["id"]}}, status=202)


def test_a_failed_create_whose_cleanup_fails_is_a_leftover(http: GroupHttp, fast: Fast) -> None:
    """The service drops what the backend kept for the instant (``delete_group_snapshot`` of the
    group snapshot's id: RBD's group); when that fails too, the leftover retry does it later."""
    group, _ = _group_with(http, 2)
    before = fast.footprint()
    fast.mem.inject("create_snapshots_at_once")
    for _ in range(3):  # the memory driver's two member deletes call it too, then the service's
        fast.mem.inject("delete_group_snapshot")
    fault(_create(http, group["id"]), 500, "computeFault", "injected fault in create_snapshots_at_once")
    assert fast.footprint() == before
    assert http.ok("GET", "/snapshots")["snapshots"] == [] == http.ok("GET", "/group_snapshots")["group_snapshots"]
    [item] = fast.svc.clones.leftovers.pending()
    assert (item.kind, item.ref, item.backend) == ("delete_group_snapshot", item.task_id, "local")
    assert "injected fault in delete_group_snapshot" in item.message
    assert fast.svc.clones.retry_leftovers() == 0
    assert fast.svc.clones.leftovers.pending() == []


def test_quota_counts_each_member(http: GroupHttp, fast: Fast) -> None:
    group, _ = _group_with(http, 2)
    with fast.svc.quotas.repo.locked("p1", fast.svc.quotas.clock()) as q:
        q.set_overrides({"snapshots": 1})
    before = fast.footprint()
    fault(_create(http, group["id"]), 413, "overLimit", "quota 'snapshots'")
    assert fast.footprint() == before
    with fast.svc.quotas.repo.locked("p1", fast.svc.quotas.clock()) as q:
        q.set_overrides({"snapshots": 2})
    http.ok("POST", "/group_snapshots", {"group_snapshot": {"group_id": group["id"]}}, status=202)
    assert http.ok("GET", "/os-quota-sets/p1?usage=true")["quota_set"]["snapshots"]["in_use"] == 2


def test_a_backend_without_it_is_a_400_and_nothing_is_made(make_fast: Any) -> None:
    fast = make_fast(drivers={"local": MemoryDriver("local"), "plain": PlainDriver("plain")})
    fast.svc.types.create(fast.admin, "plain", extra_specs={"volume_backend_name": "plain"})
    with GroupHttp.serving(fast) as http:
        gt = http.group_type()
        group = http.group(gt["id"], volume_types=["plain"])
        vol = fast.volume(1, volume_type="plain")
        assert http.update(group["id"], add_volumes=vol.id).status_code == 202
        before = fast.footprint()
        fault(_create(http, group["id"]), 400, "badRequest", "cannot snapshot several volumes")
        assert fast.footprint() == before


def _of_0019(drift: list[Any]) -> list[Any]:
    """The drift in what 0019 makes (the group_snapshots table, snapshots.group_snapshot_id); later
    migrations' tables and columns are not there yet at 0019 (0022's generic_groups.group_snapshot_id)."""
    return [d for d in drift if "group_snapshot" in repr(d) and "generic_groups" not in repr(d)]


def test_migration_0019_matches_the_schema_and_downgrades(tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0019")
        assert _of_0019(schema_drift(engine)) == []
        command.downgrade(cfg, "0018")
        assert "group_snapshots" not in inspect(engine).get_table_names()
        assert "group_snapshot_id" not in {c["name"] for c in inspect(engine).get_columns("snapshots")}
        command.upgrade(cfg, "0019")
        assert _of_0019(schema_drift(engine)) == []
    finally:
        engine.dispose()
