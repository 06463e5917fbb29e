"""The driver contract on RBD, against a real one-node cluster (``scripts/ceph-dev``), plus what
only the RBD driver has: byte progress, the clone strategy, deleting images that others use."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from volclone.backends.rbd.driver import COPY, RbdDriver, group_name, image_name, partial_name
from volclone.errors import BackendError

from .base import BLOCK, MIB, ZEROS, Read, Write, block, new_id, new_snapshot_id
from .ceph import Cluster, ceph_cluster, ceph_io, pool_listing
from .extend import ExtendContract
from .group_snapshots import GroupSnapshotContract
from .snapshots import SnapshotContract
from .swap import SwapContract
from .volumes import VolumeContract

__all__ = ["ceph_cluster", "ceph_io"]  # fixtures


@pytest.fixture
def rbd_driver(ceph_cluster: Cluster) -> Iterator[RbdDriver]:
    driver = RbdDriver("ceph", conf=ceph_cluster.conf, pool=ceph_cluster.pool)
    driver.start()
    yield driver
    driver.stop()


@pytest.fixture
def rbd_write(ceph_io: Any) -> Write:
    import rbd

    def write(volume_id: str, offset: int, data: bytes) -> None:
        with rbd.Image(ceph_io, image_name(volume_id)) as image:
            image.write(data, offset)
    return write


@pytest.fixture
def rbd_read(ceph_io: Any) -> Read:
    import rbd

    def read(volume_id: str, offset: int, length: int) -> bytes:
        with rbd.Image(ceph_io, image_name(volume_id), read_only=True) as image:
            return bytes(image.read(offset, length))
    return read


class TestRbdDriver(VolumeContract, GroupSnapshotContract, ExtendContract, SnapshotContract, SwapContract):
    @pytest.fixture
    def driver(self, rbd_driver: RbdDriver) -> RbdDriver:
        return rbd_driver

    @pytest.fixture
    def write(self, rbd_write: Write) -> Write:
        return rbd_write

    @pytest.fixture
    def read(self, rbd_read: Read) -> Read:
        return rbd_read

    @pytest.fixture
    def pool_state(self, ceph_io: Any) -> Callable[[], Any]:
        return lambda: pool_listing(ceph_io)


# -- RBD only ------------------------------------------------------------------
def test_ceph_16_clones_by_deep_copy(rbd_driver: RbdDriver) -> None:
    import rbd

    if rbd.RBD().version() < (1, 19, 0):  # librbd 1.16 ships with Ceph 16
        assert rbd_driver.clone_method == COPY


def test_progress_counts_bytes_up_to_the_total(rbd_driver: RbdDriver, rbd_write: Write, rbd_read: Read) -> None:
    sources = [new_id() for _ in range(3)]
    for i, vid in enumerate(sources):
        rbd_driver.create_volume(vid, 1 + i)
        rbd_write(vid, 0, block(b"abc"[i:i + 1]))
    sid = new_snapshot_id()
    snap = rbd_driver.create_group_snapshot(sid, sources)
    assert snap.io_freeze_ms is not None and snap.io_freeze_ms > 0
    calls: list[tuple[int, int]] = []
    clones = {s: new_id() for s in sources}
    rbd_driver.clone_from_group_snapshot(snap, clones, progress=lambda done, total: calls.append((done, total)))
    total = 6 * 1024**3
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert {t for _, t in calls} == {total}
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    # one report at the start and one per image made; between them the same figures again
    # every REPORT_EVERY (a cancel is heard there)
    assert len(set(calls)) == 4, calls
    assert [rbd_read(clones[s], 0, 1) for s in sources] == [b"a", b"b", b"c"]
    rbd_driver.delete_group_snapshot(sid)


def test_a_source_held_by_a_group_snapshot_is_not_deleted(rbd_driver: RbdDriver, rbd_write: Write,
                                                          rbd_read: Read) -> None:
    a = new_id()
    rbd_driver.create_volume(a, 1)
    rbd_write(a, 0, block(b"a"))
    sid = new_snapshot_id()
    rbd_driver.create_group_snapshot(sid, [a])
    with pytest.raises(BackendError, match=group_name(sid)):
        rbd_driver.delete_volume(a)
    assert rbd_read(a, 0, BLOCK) == block(b"a")
    rbd_driver.delete_group_snapshot(sid)
    rbd_driver.delete_volume(a)
    assert not rbd_driver.volume_exists(a)


def test_deleting_a_parent_flattens_its_children_first(rbd_driver: RbdDriver, rbd_write: Write,
                                                       rbd_read: Read, ceph_io: Any) -> None:
    """COW children (what Ceph 19+ clones are, made here from a user snapshot with clone
    format 2) keep their data when the parent goes."""
    import rbd

    parent, child = new_id(), new_id()
    rbd_driver.create_volume(parent, 1)
    rbd_write(parent, 0, block(b"p"))
    with rbd.Image(ceph_io, image_name(parent)) as image:
        image.create_snap("base")
    rbd.RBD().clone(ceph_io, image_name(parent), "base", ceph_io, image_name(child))
    with rbd.Image(ceph_io, image_name(parent)) as image:
        image.remove_snap("base")  # a format-2 parent snapshot with a child moves to the trash namespace
    rbd_write(child, MIB, block(b"c"))

    rbd_driver.delete_volume(parent)
    assert not rbd_driver.volume_exists(parent)
    assert rbd_read(child, 0, BLOCK) == block(b"p")
    assert rbd_read(child, MIB, BLOCK) == block(b"c")
    with rbd.Image(ceph_io, image_name(child), read_only=True) as image:
        with pytest.raises(rbd.ImageNotFound):
            image.parent_info()
    rbd_driver.delete_volume(child)


def test_an_image_in_use_is_not_deleted(rbd_driver: RbdDriver, ceph_io: Any) -> None:
    import rbd

    a = new_id()
    rbd_driver.create_volume(a, 1)
    with rbd.Image(ceph_io, image_name(a)) as image:
        image.write(b"x", 0)  # an attached volume: watched and locked
        with pytest.raises(BackendError, match="in use"):
            rbd_driver.delete_volume(a)
    rbd_driver.delete_volume(a)


def test_a_partial_clone_left_by_a_crash_is_replaced_and_deleted(rbd_driver: RbdDriver, rbd_write: Write,
                                                                 rbd_read: Read, ceph_io: Any) -> None:
    import rbd

    a, c = new_id(), new_id()
    rbd_driver.create_volume(a, 1)
    rbd_write(a, 0, block(b"a"))
    rbd.RBD().create(ceph_io, partial_name(c), 1024**3)  # a copy that never finished
    assert not rbd_driver.volume_exists(c)
    sid = new_snapshot_id()
    rbd_driver.clone_from_group_snapshot(rbd_driver.create_group_snapshot(sid, [a]), {a: c})
    assert rbd_read(c, 0, BLOCK) == block(b"a")
    assert partial_name(c) not in rbd.RBD().list(ceph_io)
    rbd_driver.delete_group_snapshot(sid)

    rbd.RBD().create(ceph_io, partial_name(c), 1024**3)
    rbd_driver.delete_volume(c)  # the clone task's revert
    assert {image_name(c), partial_name(c)}.isdisjoint(rbd.RBD().list(ceph_io))


def test_a_partial_clone_still_watched_by_a_dead_copier_is_waited_for(rbd_driver: RbdDriver, rbd_write: Write,
                                                                      rbd_read: Read, ceph_io: Any) -> None:
    """A worker killed during a deep copy keeps its watch on the partial image until the OSDs
    time it out (30 s): the worker taking the flow over waits for it instead of failing the clone
    (a takeover used to revert on "image is in use")."""
    import rbd

    a, c = new_id(), new_id()
    rbd_driver.create_volume(a, 1)
    rbd_write(a, 0, block(b"a"))
    rbd.RBD().create(ceph_io, partial_name(c), 1024**3)
    holder = rbd.Image(ceph_io, partial_name(c))  # the dead copier's watch
    release = threading.Timer(2.0, holder.close)
    release.start()
    try:
        sid = new_snapshot_id()
        started = time.monotonic()
        rbd_driver.clone_from_group_snapshot(rbd_driver.create_group_snapshot(sid, [a]), {a: c})
        assert time.monotonic() - started >= 1.5
    finally:
        release.join()
    assert rbd_read(c, 0, BLOCK) == block(b"a")
    assert partial_name(c) not in rbd.RBD().list(ceph_io)
    rbd_driver.delete_group_snapshot(sid)
    rbd_driver.delete_volume(c)
    rbd_driver.delete_volume(a)


def test_group_snapshots_of_the_same_volumes_from_two_drivers_at_once_all_succeed(ceph_cluster: Cluster,
                                                                                   rbd_driver: RbdDriver) -> None:
    """Two workers of one backend each have a driver; an image is in one RBD group at a time, so
    their group snapshots of the same volumes collide (one of them used to fail with "is in another
    RBD group" and its clone reverted). Each waits for the other's group to let go."""
    other = RbdDriver("ceph", conf=ceph_cluster.conf, pool=ceph_cluster.pool)
    other.start()
    try:
        vids = [new_id() for _ in range(3)]
        for vid in vids:
            rbd_driver.create_volume(vid, 1)

        def snapshots(driver: RbdDriver, order: list[str]) -> list[str]:
            sids = [new_snapshot_id() for _ in range(6)]
            for sid in sids:
                driver.create_group_snapshot(sid, order)
            return sids

        with ThreadPoolExecutor(2) as pool:  # opposite orders, as two requests may name them
            runs = [pool.submit(snapshots, rbd_driver, vids), pool.submit(snapshots, other, vids[::-1])]
            taken = [sid for run in runs for sid in run.result()]
        assert all(rbd_driver.find_group_snapshot(sid) is not None for sid in taken)
        for sid in taken:
            rbd_driver.delete_group_snapshot(sid)
        for vid in vids:
            rbd_driver.delete_volume(vid)
    finally:
        other.stop()


def test_a_resumed_clone_keeps_the_clones_already_made(rbd_driver: RbdDriver, rbd_write: Write,
                                                       rbd_read: Read) -> None:
    a, b = new_id(), new_id()
    for vid, ch in ((a, b"a"), (b, b"b")):
        rbd_driver.create_volume(vid, 1)
        rbd_write(vid, 0, block(ch))
    sid = new_snapshot_id()
    snap = rbd_driver.create_group_snapshot(sid, [a, b])
    clones = {a: new_id(), b: new_id()}
    rbd_driver.clone_from_group_snapshot(snap, {a: clones[a]})
    rbd_write(clones[a], MIB, block(b"w"))  # in use already
    rbd_driver.clone_from_group_snapshot(snap, clones)
    assert rbd_read(clones[a], MIB, BLOCK) == block(b"w")
    assert rbd_read(clones[b], 0, BLOCK) == block(b"b")
    assert rbd_read(clones[b], MIB, BLOCK) == ZEROS
    rbd_driver.delete_group_snapshot(sid)


def test_missing_bindings_give_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rbd", None)  # makes `import rbd` raise ImportError
    driver = RbdDriver("ceph", conf="/nonexistent/ceph.conf", pool="rbd")
    with pytest.raises(BackendError, match="apt-get install python3-rbd python3-rados"):
        driver.start()


def test_an_unreachable_pool_is_a_backend_error(ceph_cluster: Cluster) -> None:
    driver = RbdDriver("ceph", conf=ceph_cluster.conf, pool="no-such-pool")
    with pytest.raises(BackendError, match="no-such-pool"):
        driver.start()


def test_a_client_with_the_image_open_sees_the_new_size_without_reopening(rbd_driver: RbdDriver,
                                                                           ceph_io: Any) -> None:
    """What a VM's librbd would see: the resize notifies the image's watchers."""
    import rbd

    vid = new_id()
    rbd_driver.create_volume(vid, 1)
    with rbd.Image(ceph_io, image_name(vid)) as consumer:
        assert consumer.size() == 1024**3
        started = time.monotonic()
        rbd_driver.extend_volume(vid, 2)
        while consumer.size() != 2 * 1024**3 and time.monotonic() - started < 10:
            time.sleep(0.01)
        seen_ms = (time.monotonic() - started) * 1000
        assert consumer.size() == 2 * 1024**3
        consumer.write(block(b"g"), 2 * 1024**3 - BLOCK)  # the open handle writes the new end
        assert bytes(consumer.read(2 * 1024**3 - BLOCK, BLOCK)) == block(b"g")
    print(f"rbd: an open client saw the new size {seen_ms:.0f} ms after extend_volume was called")
    rbd_driver.delete_volume(vid)


def test_qos_limits_are_librbd_options_in_the_image_metadata(rbd_driver: RbdDriver, ceph_io: Any) -> None:
    """Read back through the tests' own connection: the image's ``conf_rbd_qos_*`` metadata, and the
    options librbd takes from it when it opens the image (``config_list``: source image)."""
    import rbd

    vid = new_id()
    rbd_driver.create_volume(vid, 1)
    try:
        rbd_driver.set_volume_qos(vid, {"total_iops_sec": 300, "read_bytes_sec": 1 << 20,
                                        "total_iops_sec_max": 600, "size_iops_sec": 4096})
        with rbd.Image(ceph_io, image_name(vid), read_only=True) as image:
            meta = {k: v for k, v in image.metadata_list() if k.startswith("conf_rbd_qos")}
            applied = {c["name"]: c["value"] for c in image.config_list() if c["source"] == rbd.RBD_CONFIG_SOURCE_IMAGE}
        assert meta == {"conf_rbd_qos_iops_limit": "300", "conf_rbd_qos_read_bps_limit": "1048576",
                        "conf_rbd_qos_iops_burst": "600"}  # librbd has no I/O size key
        assert {k: applied.get(k) for k in ("rbd_qos_iops_limit", "rbd_qos_read_bps_limit", "rbd_qos_iops_burst")} \
            == {"rbd_qos_iops_limit": "300", "rbd_qos_read_bps_limit": "1048576", "rbd_qos_iops_burst": "600"}
        assert rbd_driver.volume_qos(vid) == {"total_iops_sec": 300, "read_bytes_sec": 1 << 20,
                                              "total_iops_sec_max": 600}

        rbd_driver.set_volume_qos(vid, {"write_iops_sec": 50})  # exactly these from now on
        with rbd.Image(ceph_io, image_name(vid), read_only=True) as image:
            assert {k: v for k, v in image.metadata_list() if k.startswith("conf_")} == {
                "conf_rbd_qos_write_iops_limit": "50"}
        rbd_driver.set_volume_qos(vid, {})
        assert rbd_driver.volume_qos(vid) == {}
        rbd_driver.set_volume_qos(new_id(), {"total_iops_sec": 1})  # no such image: left alone
    finally:
        rbd_driver.delete_volume(vid)
