"""Cinder's group types and generic volume groups (3.11, 3.13) through the API in process (a
TestClient on the fast service, memory driver): bodies in Tempest's shapes, Cinder's policy names,
version gates, add/remove volumes with Cinder's status rules, delete with delete-volumes, paging,
and the ``groups`` quota."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import Fast
from .http import Http
from .test_volume_actions import attach, fault

V = "3.14"
#: Tempest's schemas (tempest/lib/api_schema/response/volume/group_types.py, groups.py).
GROUP_TYPE_KEYS = {"id", "name", "description", "is_public"}
GROUP_KEYS = {"id", "name", "description", "status", "availability_zone", "created_at", "group_type",
              "volume_types", "group_snapshot_id", "source_group_id"}


@dataclass
class GroupHttp(Http):
    """Calls at :data:`V` by default, and the groups' own requests."""

    version: str | None = V

    def group_type(self, name: str = "gt", **fields: Any) -> dict[str, Any]:
        return self.ok("POST", "/group_types", {"group_type": {"name": name, **fields}},  # type: ignore[no-any-return]
                       status=202, token=self.admin)["group_type"]

    def group(self, group_type: str, volume_types: list[str] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"group": {"group_type": group_type, "volume_types": volume_types or ["__DEFAULT__"], **fields}}
        return self.ok("POST", "/groups", body, status=202)["group"]  # type: ignore[no-any-return]

    def show(self, group_id: str, **kw: Any) -> dict[str, Any]:
        return self.ok("GET", f"/groups/{group_id}", **kw)["group"]  # type: ignore[no-any-return]

    def members(self, group_id: str) -> list[str]:
        return self.ok("GET", f"/groups/{group_id}?list_volume=true", version="3.25")["group"]["volumes"]  # type: ignore[no-any-return]

    def update(self, group_id: str, **fields: Any) -> httpx.Response:
        return self.call("PUT", f"/groups/{group_id}", {"group": fields})


@pytest.fixture
def http(fast: Fast) -> Iterator[GroupHttp]:
    with GroupHttp.serving(fast) as client:
        yield client


# -- group types ----------------------------------------------------------------------------------
def test_group_type_crud_and_specs(http: GroupHttp) -> None:
    made = http.group_type("consistent", description="one point in time",
                           group_specs={"consistent_group_snapshot_enabled": "<is> True"})
    assert set(made) == GROUP_TYPE_KEYS | {"group_specs"} and made["is_public"] is True
    gid = made["id"]
    # Members see it without its specs (group:access_group_types_specs is an admin's); admins with them.
    shown = http.ok("GET", f"/group_types/{gid}")["group_type"]
    assert set(shown) == GROUP_TYPE_KEYS and shown["description"] == "one point in time"
    assert http.ok("GET", f"/group_types/{gid}", token=http.admin)["group_type"]["group_specs"] == {
        "consistent_group_snapshot_enabled": "<is> True"}
    assert [t["id"] for t in http.ok("GET", "/group_types")["group_types"]] == [gid]
    # Specs: admins only, Cinder's codes (create 202, item update 200, delete 202).
    assert http.ok("POST", f"/group_types/{gid}/group_specs", {"group_specs": {"a": "1"}}, status=202,
                   token=http.admin) == {"group_specs": {"a": "1"}}
    assert http.ok("PUT", f"/group_types/{gid}/group_specs/a", {"a": "2"}, token=http.admin) == {"a": "2"}
    assert http.ok("GET", f"/group_types/{gid}/group_specs/a", token=http.admin) == {"a": "2"}
    http.ok("DELETE", f"/group_types/{gid}/group_specs/a", status=202, token=http.admin)
    fault(http.call("GET", f"/group_types/{gid}/group_specs/a", token=http.admin), 404, "itemNotFound", "a")
    assert http.ok("GET", f"/group_types/{gid}/group_specs", token=http.admin)["group_specs"] == {
        "consistent_group_snapshot_enabled": "<is> True"}
    fault(http.call("GET", f"/group_types/{gid}/group_specs"), 403, "forbidden", "group:group_types_specs:get_all")
    fault(http.call("PUT", f"/group_types/{gid}/group_specs/a", {"b": "2"}, token=http.admin), 400, "badRequest")
    # Update (200) and delete (202), admins only.
    updated = http.ok("PUT", f"/group_types/{gid}", {"group_type": {"name": "renamed"}}, token=http.admin)
    assert updated["group_type"]["name"] == "renamed"
    fault(http.call("PUT", f"/group_types/{gid}", {"group_type": {"name": "x"}}), 403, "forbidden",
          "group:group_types:update")
    fault(http.call("DELETE", f"/group_types/{gid}"), 403, "forbidden", "group:group_types:delete")
    http.ok("DELETE", f"/group_types/{gid}", status=202, token=http.admin)
    fault(http.call("GET", f"/group_types/{gid}"), 404, "itemNotFound")


def test_group_type_rules_and_bad_input(http: GroupHttp) -> None:
    fault(http.call("POST", "/group_types", {"group_type": {"name": "x"}}), 403, "forbidden",
          "group:group_types:create")
    for bad in ({}, {"group_type": {}}, {"group_type": {"name": ""}}, {"group_type": {"name": "x", "nope": 1}},
                {"group_type": {"name": "x", "is_public": "maybe"}}, {"group_type": {"name": "x" * 256}}):
        fault(http.call("POST", "/group_types", bad, token=http.admin), 400, "badRequest")
    http.group_type("dup")
    fault(http.call("POST", "/group_types", {"group_type": {"name": "dup"}}, token=http.admin), 409,
          "conflictingRequest")
    fault(http.call("GET", "/group_types/default"), 404, "itemNotFound", "Default group type")
    # Below 3.11 group types don't exist (a version-gated method's 404).
    fault(http.call("GET", "/group_types", version="3.10"), 404, "itemNotFound", "3.11")
    fault(http.call("GET", "/group_types", version="3.0"), 404, "itemNotFound")


def test_private_group_type_is_an_admins(http: GroupHttp) -> None:
    private = http.group_type("private", is_public=False)
    public = http.group_type("public")
    assert [t["id"] for t in http.ok("GET", "/group_types")["group_types"]] == [public["id"]]
    fault(http.call("GET", f"/group_types/{private['id']}"), 404, "itemNotFound")
    seen = http.ok("GET", "/group_types?is_public=none", token=http.admin)["group_types"]
    assert {t["id"] for t in seen} == {private["id"], public["id"]}
    assert [t["id"] for t in http.ok("GET", "/group_types?is_public=false", token=http.admin)["group_types"]] == [
        private["id"]]
    fault(http.call("POST", "/groups", {"group": {"group_type": private["id"], "volume_types": ["__DEFAULT__"]}}),
          404, "itemNotFound")


# -- groups -----------------------------------------------------------------------------------------
def test_group_create_show_list(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    made = http.group(gt["name"], name="db", description="the db's disks")
    assert set(made) == {"id", "name"} and made["name"] == "db"
    shown = http.show(made["id"])
    assert set(shown) == GROUP_KEYS
    default_type = fast.svc.types.find("__DEFAULT__").id
    assert shown | {"created_at": None} == {
        "id": made["id"], "name": "db", "description": "the db's disks", "status": "available",
        "availability_zone": "nova", "created_at": None, "group_type": gt["id"], "volume_types": [default_type],
        "group_snapshot_id": None, "source_group_id": None}
    assert set(http.show(made["id"], version="3.13")) == GROUP_KEYS - {"group_snapshot_id", "source_group_id"}
    assert http.members(made["id"]) == []
    assert http.ok("GET", "/groups")["groups"] == [{"id": made["id"], "name": "db"}]
    assert [set(g) for g in http.ok("GET", "/groups/detail")["groups"]] == [GROUP_KEYS]
    # Another project's group is not found; an admin sees it and lists it with all_tenants.
    fault(http.call("GET", f"/groups/{made['id']}", project="p2", token=http.other), 404, "itemNotFound")
    assert http.ok("GET", "/groups", project="p2", token=http.other)["groups"] == []
    assert http.ok("GET", "/groups?all_tenants=1", token=http.admin, project="admin")["groups"][0]["id"] == made["id"]
    # A group type in use can't be deleted.
    fault(http.call("DELETE", f"/group_types/{gt['id']}", token=http.admin), 400, "badRequest", "in use")


def test_group_create_bad_input(http: GroupHttp) -> None:
    gt = http.group_type()
    for bad in ({"group": {"group_type": gt["id"]}}, {"group": {"group_type": gt["id"], "volume_types": []}},
                {"group": {"volume_types": ["__DEFAULT__"]}},
                {"group": {"group_type": gt["id"], "volume_types": "__DEFAULT__"}},
                {"group": {"group_type": gt["id"], "volume_types": ["__DEFAULT__"], "colour": "red"}},
                {"group": {"group_type": gt["id"], "volume_types": ["__DEFAULT__"], "availability_zone": "mars"}}):
        fault(http.call("POST", "/groups", bad), 400, "badRequest")
    fault(http.call("POST", "/groups", {"group": {"group_type": "nope", "volume_types": ["__DEFAULT__"]}}),
          404, "itemNotFound", "Group type nope")
    fault(http.call("POST", "/groups", {"group": {"group_type": gt["id"], "volume_types": ["nope"]}}),
          404, "itemNotFound", "nope")
    fault(http.call("POST", "/groups", {"group": {"group_type": gt["id"], "volume_types": ["__DEFAULT__"]}},
                    token=http.reader), 403, "forbidden", "group:create")
    fault(http.call("GET", "/groups", version="3.12"), 404, "itemNotFound", "3.13")
    assert http.ok("GET", "/groups")["groups"] == []


def test_add_and_remove_volumes(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    g = http.group(gt["id"])["id"]
    a, b, c = fast.volume(1), fast.volume(1), fast.volume(1)
    assert http.update(g, add_volumes=f"{a.id}, {b.id},").status_code == 202
    assert sorted(http.members(g)) == sorted([a.id, b.id])
    vol = http.ok("GET", f"/volumes/{a.id}", version="3.13")["volume"]
    assert vol["group_id"] == g
    assert "group_id" not in http.ok("GET", f"/volumes/{a.id}", version="3.12")["volume"]
    assert http.update(g, remove_volumes=a.id, add_volumes=c.id, name="renamed").status_code == 202
    assert sorted(http.members(g)) == sorted([b.id, c.id]) and http.show(g)["name"] == "renamed"
    assert fast.get(a.id).group_id is None


def test_update_follows_cinders_rules(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    g = http.group(gt["id"])["id"]
    other = http.group(gt["id"])["id"]
    inside, busy, theirs = fast.volume(1), fast.volume(1), fast.volume(1, project="p2")
    assert http.update(other, add_volumes=inside.id).status_code == 202
    fault(http.update(g, add_volumes=inside.id), 400, "badRequest", "already in another group")
    fast.set_status(busy.id, "creating")
    fault(http.update(g, add_volumes=busy.id), 400, "badRequest", "invalid state: creating")
    fault(http.update(g, add_volumes=theirs.id), 400, "badRequest", "cannot be found")
    fault(http.update(g, remove_volumes=inside.id), 400, "badRequest", "is not in group")
    fault(http.update(g, add_volumes=busy.id, remove_volumes=busy.id), 400, "badRequest", "both add and remove")
    fault(http.update(g), 400, "badRequest")
    # Only volumes of one of the group's types join.
    gold = fast.svc.types.create(fast.admin, "gold")
    golden = fast.volume(1, volume_type=gold.id)
    fault(http.update(g, add_volumes=golden.id), 400, "badRequest", "volume type is not supported")
    # All or nothing: one bad volume and none moves.
    ok = fast.volume(1)
    fault(http.update(g, add_volumes=f"{ok.id},{busy.id}"), 400, "badRequest")
    assert http.members(g) == []
    fault(http.call("PUT", f"/groups/{g}", {"group": {"name": "x"}}, token=http.reader), 403, "forbidden",
          "group:update")


def test_delete_group(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    empty = http.group(gt["id"])["id"]
    assert http.call("POST", f"/groups/{empty}/action", {"delete": {}}).status_code == 202
    fault(http.call("GET", f"/groups/{empty}"), 404, "itemNotFound")
    g = http.group(gt["id"])["id"]
    a, b = fast.volume(1), fast.volume(1)
    assert http.update(g, add_volumes=f"{a.id},{b.id}").status_code == 202
    fault(http.call("POST", f"/groups/{g}/action", {"delete": {"delete-volumes": False}}), 400, "badRequest",
          "delete-volumes")
    attach(fast, a.id)
    fault(http.call("POST", f"/groups/{g}/action", {"delete": {"delete-volumes": True}}), 400, "badRequest",
          "attached")
    fault(http.call("POST", f"/groups/{g}/action", {"delete": {"delete-volumes": True}}, token=http.reader),
          403, "forbidden", "group:delete")
    fault(http.call("POST", f"/groups/{g}/action", {"destroy": {}}), 400, "badRequest")
    assert http.update(g, remove_volumes=a.id).status_code == 202  # an in-use volume may leave
    assert http.call("POST", f"/groups/{g}/action", {"delete": {"delete-volumes": True}}).status_code == 202
    fault(http.call("GET", f"/groups/{g}"), 404, "itemNotFound")
    assert {v.id for v in fast.svc.volumes.list(fast.who, "p1")} == {a.id}
    assert fast.mem.volume_exists(a.id) and not fast.mem.volume_exists(b.id)


def test_reset_status_is_an_admins_from_3_20(http: GroupHttp) -> None:
    g = http.group(http.group_type()["id"])["id"]
    body = {"reset_status": {"status": "error"}}
    fault(http.call("POST", f"/groups/{g}/action", body, version="3.19", token=http.admin), 404, "itemNotFound",
          "reset_status")
    fault(http.call("POST", f"/groups/{g}/action", body, version="3.20"), 403, "forbidden", "group:reset_status")
    fault(http.call("POST", f"/groups/{g}/action", {"reset_status": {"status": "broken"}},
                    version="3.20", token=http.admin),
          400, "badRequest", "broken")
    assert http.show(g)["status"] == "available"  # nothing changed by the refusals
    assert http.call("POST", f"/groups/{g}/action", body, version="3.20", token=http.admin).status_code == 202
    assert http.show(g)["status"] == "error"
    # An error group can be deleted (Cinder's rule), which is what an admin resets it for.
    assert http.call("POST", f"/groups/{g}/action", {"delete": {}}).status_code == 202


def test_groups_show_their_project_from_3_58(http: GroupHttp) -> None:
    g = http.group(http.group_type()["id"])["id"]
    assert http.show(g, version="3.58")["project_id"] == "p1"
    assert "project_id" not in http.show(g, version="3.57")
    assert [d["project_id"] for d in http.ok("GET", "/groups/detail", version="3.58")["groups"]] == ["p1"]


def test_paging(http: GroupHttp) -> None:
    gt = http.group_type()
    made = [http.group(gt["id"], name=f"g{i}")["id"] for i in range(5)]
    first = http.ok("GET", "/groups?limit=2")
    assert [g["id"] for g in first["groups"]] == made[::-1][:2]
    link = first["groups_links"][0]["href"]
    assert "marker=" + made[3] in link
    rest = http.ok("GET", f"/groups?limit=2&marker={made[3]}")["groups"]
    assert [g["id"] for g in rest] == made[::-1][2:4]
    assert [g["id"] for g in http.ok("GET", "/groups/detail?offset=4")["groups"]] == [made[0]]
    for bad in ("limit=x", "limit=-1", "offset=y", "all_tenants=maybe"):
        fault(http.call("GET", f"/groups?{bad}"), 400, "badRequest")
    fault(http.call("GET", "/groups?marker=nope"), 404, "itemNotFound")


def test_groups_quota(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    with fast.svc.quotas.repo.locked("p1", fast.svc.quotas.clock()) as q:
        q.set_overrides({"groups": 1})
    http.group(gt["id"])
    fault(http.call("POST", "/groups", {"group": {"group_type": gt["id"], "volume_types": ["__DEFAULT__"]}}),
          413, "overLimit", "quota 'groups'")
    assert len(http.ok("GET", "/groups")["groups"]) == 1


def test_volume_lists_filter_on_group_id(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    g = http.group(gt["id"])["id"]
    inside, outside = fast.volume(1), fast.volume(1)
    assert http.update(g, add_volumes=inside.id).status_code == 202

    def ids(query: str, version: str = "3.13") -> list[str]:
        return [v["id"] for v in http.ok("GET", f"/volumes?{query}", version=version)["volumes"]]

    assert ids(f"group_id={g}") == [inside.id]
    assert ids("group_id=None") == [outside.id]
    assert ids("group_id=nope") == []
    assert sorted(ids(f"group_id={g}", version="3.9")) == sorted([inside.id, outside.id])  # a filter from 3.10


def test_the_groups_migration_upgrades_keeps_volumes_and_downgrades_on_sqlite(tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0013")
        with engine.begin() as c:
            c.execute(text("INSERT INTO volume_types (id, name, is_public, extra_specs, created_at) "
                           "VALUES ('t', 't', 1, '{}', '2026-01-01')"))
            c.execute(text("INSERT INTO volumes (id, project_id, size, status, volume_type_id, backend, metadata, "
                           "created_at, updated_at) VALUES ('v', 'p', 1, 'available', 't', 'b', '{}', "
                           "'2026-01-01', '2026-01-01')"))
        command.upgrade(cfg, "0015")
        assert {"group_types", "generic_groups"} <= set(inspect(engine).get_table_names())
        with engine.connect() as c:  # an existing volume is in no group
            assert c.execute(text("SELECT id, group_id FROM volumes")).one() == ("v", None)
        # (Only 0015's part is checked: later migrations' tables and columns, 0019's group_snapshots and
        # 0022's source columns, are not there yet.)
        assert not [d for d in schema_drift(engine) if "group" in repr(d) and "group_snapshot" not in repr(d)
                    and "source_group_id" not in repr(d)]
        command.downgrade(cfg, "0013")
        assert not {"group_types", "generic_groups"} & set(inspect(engine).get_table_names())
        assert "group_id" not in {c["name"] for c in inspect(engine).get_columns("volumes")}
        with engine.connect() as c:
            assert c.execute(text("SELECT id FROM volumes")).scalar_one() == "v"
    finally:
        engine.dispose()


def test_volume_create_in_a_group(http: GroupHttp, fast: Fast) -> None:
    gt = http.group_type()
    g = http.group(gt["id"])["id"]
    made = http.ok("POST", "/volumes", {"volume": {"size": 1, "group_id": g}}, status=202, version="3.13")["volume"]
    assert made["group_id"] == g and http.members(g) == [made["id"]]
    # Below 3.13 Cinder does not read group_id: the volume is made in no group.
    old = http.ok("POST", "/volumes", {"volume": {"size": 1, "group_id": g}}, status=202, version="3.12")["volume"]
    assert fast.get(old["id"]).group_id is None
    gold = fast.svc.types.create(fast.admin, "gold")
    with fast.creates_nothing():
        fault(http.call("POST", "/volumes", {"volume": {"size": 1, "group_id": g, "volume_type": gold.id}},
                        version="3.13"), 400, "badRequest", "does not take volumes of this type")
        fault(http.call("POST", "/volumes", {"volume": {"size": 1, "group_id": "nope"}}, version="3.13"),
              404, "itemNotFound", "Group nope")
        fault(http.call("POST", "/volumes", {"volume": {"size": 1, "group_id": g}}, version="3.13", project="p2",
                        token=http.other), 404, "itemNotFound")


def test_a_volume_that_changed_meanwhile_moves_nothing(http: GroupHttp, fast: Fast) -> None:
    """The move itself is all or nothing: a volume that left the joinable statuses after the
    service's checks (here: set so behind its back) makes the conditional UPDATEs move none."""
    from volclone.domain import VolumeStatus
    from volclone.service.groups import JOINABLE, LEAVABLE

    gt = http.group_type()
    g = http.group(gt["id"])["id"]
    a, b = fast.volume(1), fast.volume(1)
    fast.set_status(b.id, "deleting")
    repo = fast.svc.groups.repo  # type: ignore[union-attr]
    assert repo.set_members(g, [a.id, b.id], [], JOINABLE, LEAVABLE) is False
    assert repo.member_ids(g) == [] and fast.get(a.id).group_id is None
    fast.set_status(b.id, "available")
    assert repo.set_members(g, [a.id, b.id], [], JOINABLE, LEAVABLE) is True
    assert sorted(repo.member_ids(g)) == sorted([a.id, b.id])
    assert VolumeStatus.ERROR in LEAVABLE and VolumeStatus.ERROR not in JOINABLE
