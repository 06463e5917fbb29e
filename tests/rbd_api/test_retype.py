"""``os-retype`` onto another backend through a real server: a local volume's data moves to
Ceph and back under the same volume id, byte for byte, and each move leaves nothing on the
backend it left (no qcow2 layer or file in the local pool, no image or snapshot in the Ceph pool)."""

from __future__ import annotations

from flows import disk

from .conftest import MIB, RbdEnv, pattern


def retype(e: RbdEnv, vid: str, new_type: str, policy: str | None = "on-demand") -> int:
    body = {"new_type": new_type, **({"migration_policy": policy} if policy else {})}
    return e.user.request("POST", f"/volumes/{vid}/action", json={"os-retype": body}).status_code


def test_a_local_volume_moves_to_ceph_and_back_with_its_data(rbd_env: RbdEnv) -> None:
    e, srv = rbd_env, rbd_env.server
    pool_before, ceph_before = disk.pool_state(srv), e.listing()
    vid = e.user.create_volume(1, "mover")["id"]
    disk.write(srv.active_file(vid), 0x5A, 0, "8M")
    disk.write(srv.active_file(vid), 0x33, "900M", "64k")

    refused = e.user.request("POST", f"/volumes/{vid}/action", json={"os-retype": {"new_type": e.ceph_type}})
    assert refused.status_code == 400 and "on-demand" in refused.text  # migration_policy never, by default
    assert retype(e, vid, e.ceph_type) == 202
    moved = e.admin.ok("GET", f"/volumes/{vid}")["volume"]
    assert (moved["volume_type"], moved["status"], moved["migration_status"]) == ("ceph", "available", "success")
    assert moved["os-vol-host-attr:host"].split("@", 1)[1].startswith("ceph#") and moved["name"] == "mover"
    assert e.read(vid, 0, 8 * MIB) == pattern(0x5A, 8 * MIB)
    assert e.read(vid, 900 * MIB, 64 * 1024) == pattern(0x33, 64 * 1024)
    assert e.read(vid, 8 * MIB, MIB) == bytes(MIB)
    assert disk.pool_state(srv) == pool_before, "the local pool holds nothing of it any more"

    assert retype(e, vid, e.local_type) == 202
    back = e.admin.ok("GET", f"/volumes/{vid}")["volume"]
    assert (back["volume_type"], back["status"]) == ("__DEFAULT__", "available")
    disk.expect(srv.active_file(vid), (0x5A, 0, "8M"), (0, "8M", "1M"), (0x33, "900M", "64k"))
    assert e.listing() == ceph_before, "no image or snapshot left in the Ceph pool"
    e.delete(vid)
    assert disk.pool_state(srv) == pool_before
