"""Clones onto another backend (``target-volume-type-id`` naming a type there): the consistent
snapshot is taken where the sources are, its data copied to the target with byte progress,
and the clones land with the target type. A revert removes partly copied clones."""

from __future__ import annotations

from typing import Any

from flows import disk

from .conftest import MIB, RbdEnv, pattern
from .test_clones import no_clone_leftovers, watch


def test_local_volumes_clone_onto_rbd(rbd_env: RbdEnv) -> None:
    e, srv = rbd_env, rbd_env.server
    a = e.user.create_volume(1, "la")["id"]
    b = e.user.create_volume(2, "lb")["id"]
    disk.write(srv.active_file(a), 0x5A, 0, "24M")
    disk.write(srv.active_file(a), 0x11, "700M", "64k")
    disk.write(srv.active_file(b), 0xA5, "1G", "40M")
    layers_before, files_before = disk.pool_state(srv)
    ceph_before = e.listing()

    p, seen = watch(e, e.user.clone([a, b], **{"target-volume-type-id": e.ceph_type}))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    total = 24 * MIB + 64 * 1024 + 40 * MIB  # only what the sources hold is copied
    assert (p["details"]["bytes_done"], p["details"]["bytes_total"]) == (total, total)
    copied = [s["details"]["bytes_done"] for s in seen if "bytes_done" in s["details"]]
    assert copied == sorted(copied)
    clones = p["details"]["results"]
    for src in (a, b):
        c = e.volume(clones[src])
        assert (c["volume_type"], c["status"]) == ("ceph", "available")  # volume_type_id: from 3.63
        assert c["os-vol-host-attr:host"].split("@", 1)[1].startswith("ceph#")
        assert c["size"] == e.volume(src)["size"]
    assert e.read(clones[a], 0, 24 * MIB) == pattern(0x5A, 24 * MIB)
    assert e.read(clones[a], 700 * MIB, 64 * 1024) == pattern(0x11, 64 * 1024)
    assert e.read(clones[b], 1024 * MIB, 40 * MIB) == pattern(0xA5, 40 * MIB)
    assert e.read(clones[b], 0, MIB) == bytes(MIB)

    # The sources' chains fold back as after any clone; the copies are independent of them.
    assert disk.pool_state(srv) == (layers_before, files_before)
    assert srv.db_rows("SELECT * FROM snapshot_members") == []
    after = e.listing()
    no_clone_leftovers(after)
    assert set(after["images"]) == set(ceph_before["images"]) | {f"volume-{c}" for c in clones.values()}
    e.delete(a, b)
    assert e.read(clones[a], 0, MIB) == pattern(0x5A, MIB)
    e.delete(*clones.values())
    assert e.listing() == ceph_before


def test_rbd_volumes_clone_onto_the_local_pool(rbd_env: RbdEnv) -> None:
    e, srv = rbd_env, rbd_env.server
    a = e.user.create_volume(1, "ra", volume_type=e.ceph_type)["id"]
    b = e.user.create_volume(1, "rb", volume_type=e.ceph_type)["id"]
    e.write(a, 0, pattern(0x61, 20 * MIB))
    e.write(b, 512 * MIB, pattern(0x62, 8 * MIB))
    e.write(b, 1000 * MIB, pattern(0x63, 64 * 1024))
    ceph_before = e.listing()

    p, seen = watch(e, e.user.clone([a, b], **{"target-volume-type-id": e.local_type}))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    assert p["details"]["bytes_done"] == p["details"]["bytes_total"] >= 20 * MIB + 8 * MIB + 64 * 1024
    clones = p["details"]["results"]
    for src in (a, b):
        c = e.volume(clones[src])
        assert (c["volume_type"], c["status"]) == ("__DEFAULT__", "available")
        assert c["os-vol-host-attr:host"].split("@", 1)[1].startswith("local#")
    disk.expect(srv.active_file(clones[a]), (0x61, 0, "20M"), (0, "20M", "64k"))
    disk.expect(srv.active_file(clones[b]), (0, 0, "1M"), (0x62, "512M", "8M"), (0x63, "1000M", "64k"))
    assert srv.active_file(clones[b]).stat().st_blocks * 512 < 64 * MIB, "the copy is thin"
    assert e.listing() == ceph_before  # the group snapshot is gone with its group
    e.delete(a, b, *clones.values())


def test_a_failed_cross_backend_copy_leaves_neither_pool_changed(make_rbd_env: Any) -> None:
    e: RbdEnv = make_rbd_env(VOLCLONE_FAILPOINTS="create_group_clone")
    srv = e.server
    local = e.user.create_volume(1, "l")["id"]
    disk.write(srv.active_file(local), 0x5A, 0, "8M")
    remote = e.user.create_volume(1, "r", volume_type=e.ceph_type)["id"]
    e.write(remote, 0, pattern(0x6B, 8 * MIB))
    layers_before, files_before = disk.pool_state(srv)
    ceph_before = e.listing()

    for source, target in ((local, e.ceph_type), (remote, e.local_type)):
        p = e.user.wait(e.user.clone([source], **{"target-volume-type-id": target}), timeout=120)
        assert p["flow_details"] == {"cloneFlow": "REVERTED"}, p
        assert e.listing() == ceph_before
        assert disk.pool_state(srv) == (layers_before, files_before)
        assert {v["id"] for v in e.user.ok("GET", "/volumes")["volumes"]} == {local, remote}
    disk.expect(srv.active_file(local), (0x5A, 0, "8M"))
    assert e.read(remote, 0, 8 * MIB) == pattern(0x6B, 8 * MIB)
    e.delete(local, remote)
