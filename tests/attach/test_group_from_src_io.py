"""create-from-src (3.14) end to end on a real server (uvicorn, qemu-storage-daemon, the local
qcow2 pool): a source group with one attached, written volume and one detached one; a group
made from it (one clone-volumes flow) and one made from its group snapshot each hold exactly
the data of the consistency point, read over NBD, whatever the sources are written after; the
flows' get_progress is polled to SUCCESS."""

from __future__ import annotations

import time
from typing import Any

from api.support import unique

from .support import MV, Model, attach, block, detach, digest, offset_of, opened, uri_of

H = {"OpenStack-API-Version": "volume 3.25"}  # 3.14 create-from-src, 3.25 list_volume
#: The longest a flow may take before the test gives up (a deadline, not a timed assertion).
FLOW_DEADLINE_S = 300


def _data(api: Any, volume_id: str) -> str:
    a = attach(api, volume_id, "ro")
    try:
        with opened(uri_of(a)) as h:
            return digest(h)
    finally:
        detach(api, a["id"])


def _until_success(api: Any, group_id: str) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """Poll get_progress of the group's flow (its task id is on its volumes) until it ends; the
    group, its volumes and the last progress body."""
    deadline = time.monotonic() + FLOW_DEADLINE_S
    task = None
    while True:
        members = api.ok("GET", f"/groups/{group_id}?list_volume=true", headers=H)["group"]["volumes"]
        if members and task is None:
            task = api.ok("GET", f"/volumes/{members[0]}")["volume"]["metadata"]["clone_task_id"]
        if task is not None:
            body = api.ok("GET", f"/clone-volumes/get_progress?action=clone-volumes&task_id={task}")
            [state] = body["flow_details"].values()
            if state in ("SUCCESS", "REVERTED", "FAILURE"):
                group = api.ok("GET", f"/groups/{group_id}", headers=H)["group"]
                return group, members, body
        assert time.monotonic() < deadline, f"the flow of group {group_id} did not end"
        time.sleep(0.2)


def test_groups_from_a_group_and_from_its_snapshot_hold_the_point(make_env):
    env = make_env()
    api = env.user
    gt = env.admin.ok("POST", "/group_types", json={"group_type": {"name": unique("io-gt")}}, headers=H)["group_type"]
    src = api.ok("POST", "/groups", json={"group": {"group_type": gt["id"], "volume_types": ["__DEFAULT__"],
                                                     "name": "src"}}, headers=H)["group"]["id"]
    attached, detached = (api.create_volume(1, name=unique(n))["id"] for n in ("io-att", "io-det"))
    api.ok("PUT", f"/groups/{src}", json={"group": {"add_volumes": f"{attached},{detached}"}}, headers=H)
    a = attach(api, attached, "rw")
    api.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)  # in-use, served
    models = {attached: Model(), detached: Model()}
    with opened(uri_of(a)) as h:
        for i in range(16):
            models[attached].write(h, offset_of(i), block(i))
        b = attach(api, detached, "rw")
        with opened(uri_of(b)) as hb:
            for i in range(100, 116):
                models[detached].write(hb, offset_of(i), block(i))
        detach(api, b["id"])
        # The point of the group snapshot; the sources are written after it.
        gs = api.ok("POST", "/group_snapshots", json={"group_snapshot": {"group_id": src}}, headers=H)
        gs_id = gs["group_snapshot"]["id"]
        at_point = {v: m.digest() for v, m in models.items()}
        from_gs = api.ok("POST", "/groups/action", headers=H, json={
            "create-from-src": {"group_snapshot_id": gs_id, "name": "from-gs"}})["group"]["id"]
        for i in range(16):
            h.pwrite(b"Z" * len(block(i)), offset_of(i))
        h.flush()
        models[attached] = Model()
        for i in range(16):
            models[attached].blocks[offset_of(i)] = b"Z" * len(block(i))
        group, members, body = _until_success(api, from_gs)
        assert body["details"]["progress"] == 100 and "SUCCESS" in body["flow_details"].values(), body
        assert (group["status"], group["group_snapshot_id"], group["source_group_id"]) == ("available", gs_id, None)
        assert sorted(_data(api, m) for m in members) == sorted(at_point.values())
        # From the group itself (the attached source stays attached and written): its point is now.
        now = {v: m.digest() for v, m in models.items()}
        from_group = api.ok("POST", "/groups/action", headers=H, json={
            "create-from-src": {"source_group_id": src, "name": "from-group"}})["group"]["id"]
        group, members, body = _until_success(api, from_group)
        assert "SUCCESS" in body["flow_details"].values(), body
        assert (group["status"], group["source_group_id"], group["group_type"]) == ("available", src, gt["id"])
        results = body["details"]["results"]
        assert set(results) == {attached, detached} and sorted(results.values()) == sorted(members)
        for source, clone in results.items():
            assert _data(api, clone) == now[source]
    detach(api, a["id"])
    for g in (from_gs, from_group):
        api.ok("POST", f"/groups/{g}/action", json={"delete": {"delete-volumes": True}}, headers=H)
    api.ok("DELETE", f"/group_snapshots/{gs_id}", headers=H)
    api.ok("POST", f"/groups/{src}/action", json={"delete": {"delete-volumes": True}}, headers=H)
