"""Cinder's group snapshots on RBD, on a real cluster (``scripts/ceph-dev``), at driver level.

ONE RBD group snapshot is the consistency point of all members; each member's share of it
is then an ordinary snapshot of its volume: found, made into volumes, reverted to, deleted.
Deleting the last member leaves the pool exactly as it was; a create that fails half way
leaves nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from contract.base import MIB, block, new_id
from contract.ceph import Cluster, ceph_cluster, ceph_io, pool_listing
from volclone.backends.rbd.driver import COPY, GIB, RbdDriver, group_name, image_name
from volclone.errors import BackendError

__all__ = ["ceph_cluster", "ceph_io"]  # fixtures


@pytest.fixture
def driver(ceph_cluster: Cluster) -> Iterator[RbdDriver]:
    driver = RbdDriver("ceph", conf=ceph_cluster.conf, pool=ceph_cluster.pool)
    driver.start()
    yield driver
    driver.stop()


def write(ioctx: Any, vid: str, offset: int, data: bytes) -> None:
    import rbd

    with rbd.Image(ioctx, image_name(vid)) as image:
        image.write(data, offset)


def read(ioctx: Any, vid: str, offset: int, length: int = len(block(b"x"))) -> bytes:
    import rbd

    with rbd.Image(ioctx, image_name(vid), read_only=True) as image:
        return bytes(image.read(offset, length))


def group_snaps(ioctx: Any, vid: str) -> list[dict[str, Any]]:
    import rbd

    with rbd.Image(ioctx, image_name(vid), read_only=True) as image:
        return [s for s in image.list_snaps() if s["namespace"] == rbd.RBD_SNAP_NAMESPACE_TYPE_GROUP]


def volumes(driver: RbdDriver, count: int) -> list[str]:
    ids = [new_id() for _ in range(count)]
    for n, vid in enumerate(ids):
        driver.create_volume(vid, 1)
        write(driver._io, vid, 0, block(b"abc"[n : n + 1]))
    return ids


def test_members_are_snapshots_of_their_volumes_at_one_point(driver: RbdDriver, ceph_io: Any) -> None:
    import rbd

    vids = volumes(driver, 3)
    before = pool_listing(ceph_io)
    gs, sids = str(uuid.uuid4()), [new_id() for _ in vids]
    driver.create_snapshots_at_once(list(zip(vids, sids, strict=True)), group_snapshot_id=gs)
    for vid in vids:  # after the point: no member sees it
        write(ceph_io, vid, 0, block(b"Z"))
        write(ceph_io, vid, MIB, block(b"Z"))

    # ONE RBD group snapshot: one group, one group-namespace snapshot on every member, of that group
    listing = pool_listing(ceph_io)
    assert listing["groups"] == [group_name(gs)]
    for vid in vids:
        snaps = group_snaps(ceph_io, vid)
        assert [s["group"]["name"] for s in snaps] == [group_name(gs)]
    assert all(driver.snapshot_exists(s, v) for v, s in zip(vids, sids, strict=True))
    assert not driver.snapshot_exists(sids[0], vids[1])

    # a volume from each member holds what its volume held at the point (one asked bigger)
    made = [new_id() for _ in vids]
    for n, (vid, sid, new) in enumerate(zip(vids, sids, made, strict=True)):
        driver.create_volume_from_snapshot(new, sid, vid, 2 if n == 0 else 1)
        assert read(ceph_io, new, 0) == block(b"abc"[n : n + 1])
        assert read(ceph_io, new, MIB) == bytes(len(block(b"x")))
    with rbd.Image(ceph_io, image_name(made[0]), read_only=True) as image:
        assert image.size() == 2 * GIB
    with pytest.raises(BackendError, match="at least 1 GiB"):
        driver.create_volume_from_snapshot(new_id(), sids[0], vids[0], 0)
    if driver.clone_method == COPY:
        # why these are copies: this librbd can't clone from a group-namespace snapshot
        with pytest.raises(rbd.ImageNotFound):
            rbd.RBD().clone(ceph_io, image_name(vids[0]), group_snaps(ceph_io, vids[0])[0]["name"],
                            ceph_io, "bare-clone-of-a-group-snapshot")

    # a revert to a member: the volume reads the point again, what came after is gone
    driver.revert_to_snapshot(vids[1], sids[1])
    assert read(ceph_io, vids[1], 0) == block(b"b")
    assert read(ceph_io, vids[1], MIB) == bytes(len(block(b"x")))
    assert read(ceph_io, vids[2], 0) == block(b"Z")  # the other members are untouched

    # members go one by one; the RBD group with the last one; the volumes made stay whole
    driver.delete_snapshot(sids[0], vids[0])
    assert not driver.snapshot_exists(sids[0], vids[0])
    assert pool_listing(ceph_io)["groups"] == [group_name(gs)]
    driver.delete_snapshot(sids[1], vids[1])
    driver.delete_snapshot(sids[2], vids[2])
    driver.delete_snapshot(sids[2], vids[2])  # again: a no-op
    assert read(ceph_io, made[2], 0) == block(b"c")
    for new in made:
        driver.delete_volume(new)
    assert without_data(pool_listing(ceph_io)) == without_data(before)  # (the volumes were written since)


def without_data(listing: dict[str, Any]) -> dict[str, Any]:
    """Without data objects, and without the trash's directory object (made, empty, the first time
    an image goes through the trash, and kept; the listing's ``trash`` says what is in it)."""
    return {**listing, "objects": [o for o in listing["objects"] if not o.startswith("rbd_data.") and o != "rbd_trash"]}


def test_a_create_failing_half_way_leaves_nothing(driver: RbdDriver, ceph_io: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The RBD group snapshot is taken, recording its members fails: it goes again. When that
    cleanup fails too, ``delete_group_snapshot`` (the leftover retry's call) removes it all."""
    vids = volumes(driver, 2)
    before = pool_listing(ceph_io)
    write_record = driver._write_record

    def fail_for_members(snapshot_id: str, members: Any, **kw: Any) -> None:
        if kw.get("snapshots"):
            write_record(snapshot_id, members, **kw)  # recorded, then the cluster "goes away"
            raise BackendError("injected: recording the members failed")
        write_record(snapshot_id, members, **kw)

    monkeypatch.setattr(driver, "_write_record", fail_for_members)
    gs, sids = str(uuid.uuid4()), [new_id() for _ in vids]
    with pytest.raises(BackendError, match="injected"):
        driver.create_snapshots_at_once(list(zip(vids, sids, strict=True)), group_snapshot_id=gs)
    assert pool_listing(ceph_io) == before
    assert not any(driver.snapshot_exists(s, v) for v, s in zip(vids, sids, strict=True))

    discard = driver._discard

    def cleanup_fails(snapshot_id: str) -> None:
        raise BackendError("injected: the cleanup failed too")

    monkeypatch.setattr(driver, "_discard", cleanup_fails)
    with pytest.raises(BackendError, match="injected: recording"):
        driver.create_snapshots_at_once(list(zip(vids, sids, strict=True)), group_snapshot_id=gs)
    assert pool_listing(ceph_io)["groups"] == [group_name(gs)]  # left behind
    monkeypatch.setattr(driver, "_discard", discard)
    driver.delete_group_snapshot(gs)
    assert pool_listing(ceph_io) == before
