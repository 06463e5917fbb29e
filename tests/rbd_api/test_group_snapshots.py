"""Cinder's group snapshots (3.14) of RBD volumes through a real server: ONE RBD group snapshot
holds the members; a volume made from a member holds its volume's data at that point; deleting
the group snapshot leaves the Ceph pool as it was."""

from __future__ import annotations

import time
import uuid
from typing import Any

from .conftest import MIB, RbdEnv, pattern

H = {"OpenStack-API-Version": "volume 3.14"}


def wait_available(e: RbdEnv, vid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while (vol := e.user.ok("GET", f"/volumes/{vid}")["volume"])["status"] != "available":
        assert vol["status"] not in ("error", "error_deleting"), vol
        assert time.monotonic() < deadline, vol
        time.sleep(0.05)
    return vol  # type: ignore[no-any-return]


def test_a_group_snapshot_of_rbd_volumes(rbd_env: RbdEnv) -> None:
    e = rbd_env
    before = e.listing()
    gt = e.admin.ok("POST", "/group_types", headers=H, json={"group_type": {"name": f"gt-{uuid.uuid4()}"}})
    group = e.user.ok("POST", "/groups", headers=H, json={"group": {
        "name": "rbd-gs", "group_type": gt["group_type"]["id"], "volume_types": [e.ceph_type]}})["group"]
    vols = [e.user.create_volume(1, f"rbd-gs-{n}", volume_type=e.ceph_type)["id"] for n in range(2)]
    for n, vid in enumerate(vols):
        wait_available(e, vid)
        e.write(vid, 0, pattern(0x41 + n, MIB))
    e.user.ok("PUT", f"/groups/{group['id']}", headers=H, json={"group": {"add_volumes": ",".join(vols)}})
    with_volumes = e.listing()

    made = e.user.ok("POST", "/group_snapshots", headers=H, json={"group_snapshot": {"group_id": group["id"]}})
    gsid = made["group_snapshot"]["id"]
    shown = e.user.ok("GET", f"/group_snapshots/{gsid}", headers=H)["group_snapshot"]
    assert shown["status"] == "available"
    assert e.listing()["groups"] == [f"volclone-{gsid}"]  # one RBD group snapshot
    members = {s["volume_id"]: s for s in e.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
               if s["group_snapshot_id"] == gsid}
    assert sorted(members) == sorted(vols)
    assert {s["status"] for s in members.values()} == {"available"}
    for vid in vols:
        e.write(vid, 0, pattern(0x5A, MIB))  # after the point

    # a volume from a member (bigger than the snapshot) holds what its volume held at the point
    new = e.user.create_volume(2, "from-member", snapshot_id=members[vols[1]]["id"])["id"]
    vol = wait_available(e, new)
    assert (vol["snapshot_id"], vol["size"]) == (members[vols[1]]["id"], 2)
    assert e.read(new, 0, MIB) == pattern(0x42, MIB)
    e.delete(new)

    r = e.user.request("DELETE", f"/group_snapshots/{gsid}", headers=H)
    assert r.status_code == 202, r.text
    assert e.user.request("GET", f"/group_snapshots/{gsid}", headers=H).status_code == 404
    listing = e.listing()
    assert listing["groups"] == [] and listing["images"] == with_volumes["images"]
    assert [o for o in listing["objects"] if "volclone_" in o] == []  # no record, no member pointer
    e.user.ok("POST", f"/groups/{group['id']}/action", headers=H, json={"delete": {"delete-volumes": True}})
    deadline = time.monotonic() + 30
    while e.listing() != before:
        assert time.monotonic() < deadline, "the volumes' images were not removed"
        time.sleep(0.1)
