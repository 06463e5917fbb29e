"""Crash consistency of RBD clones, on a real cluster (``scripts/ceph-dev``), at driver level.

A librbd writer (its own RADOS connection, like a VM's) writes a counter n to every
image in turn, flushing after each write, for n = 1, 2, ... A crash-consistent copy
of the images is a prefix of that sequence: image values A >= B >= ... >= A - 1.
Group snapshots (a clone request's, and Cinder's group snapshots' members) must never break
that; per-image snapshots taken one by one do.

Also here: a revert leaves the pool exactly as it was (listed before and after), and
deleting sources and clones in any order loses no data.
"""

from __future__ import annotations

import itertools
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from contract.base import BLOCK, MIB, block, new_id, new_snapshot_id
from contract.ceph import Cluster, ceph_cluster, ceph_io, pool_listing
from volclone.backends.base import GroupSnapshot
from volclone.backends.rbd.driver import RbdDriver, group_name, image_name
from volclone.errors import BackendError

__all__ = ["ceph_cluster", "ceph_io"]  # fixtures

COUNTER = struct.Struct("<Q")
#: Clone requests per image count; two run at once, on the same sources.
ROUNDS = 50
#: The sizes of the sets cloned while written: four volumes hold every pair a set of two would
#: test, so the set of two (another 33 s on the local pool, 20 s on RBD, per CI run) is left out.
SET_SIZES = [4]
WORKERS = 2


def consistent(values: list[int]) -> bool:
    """Whether image values are a prefix of the writer's sequence: A >= B >= ... >= A - 1."""
    return all(x >= y for x, y in itertools.pairwise(values)) and values[-1] >= values[0] - 1


class Writer(threading.Thread):
    """Writes n at offset 0 of each image in order, with a flush after each write, for n = 1, 2, ..."""

    def __init__(self, conf: str, pool: str, names: list[str]) -> None:
        super().__init__(daemon=True)
        import rados

        self.cluster = rados.Rados(conffile=conf)
        self.cluster.connect(timeout=30)
        self.ioctx = self.cluster.open_ioctx(pool)
        self.names = names
        self.n = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        import rbd

        images = [rbd.Image(self.ioctx, name) for name in self.names]
        try:
            while not self._halt.is_set():
                self.n += 1
                for image in images:
                    image.write(COUNTER.pack(self.n), 0)
                    image.flush()
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            for image in images:
                image.close()

    def stop(self) -> int:
        self._halt.set()
        self.join(30)
        self.ioctx.close()
        self.cluster.shutdown()
        if self.error is not None:
            raise AssertionError(f"the writer failed: {self.error!r}") from self.error
        return self.n


@pytest.fixture
def driver(ceph_cluster: Cluster) -> Iterator[RbdDriver]:
    driver = RbdDriver("ceph", conf=ceph_cluster.conf, pool=ceph_cluster.pool)
    driver.start()
    yield driver
    driver.stop()


def counter_of(ioctx: Any, name: str, snap_id: int | None = None) -> int:
    import rbd

    with rbd.Image(ioctx, name, read_only=True) as image:
        if snap_id is not None:
            image.set_snap_by_id(snap_id)
        return int(COUNTER.unpack(image.read(0, COUNTER.size))[0])


def write(ioctx: Any, vid: str, offset: int, data: bytes) -> None:
    import rbd

    with rbd.Image(ioctx, image_name(vid)) as image:
        image.write(data, offset)


def read(ioctx: Any, vid: str, offset: int, length: int = BLOCK) -> bytes:
    import rbd

    with rbd.Image(ioctx, image_name(vid), read_only=True) as image:
        return bytes(image.read(offset, length))


def sources(driver: RbdDriver, count: int) -> list[str]:
    ids = [new_id() for _ in range(count)]
    for vid in ids:
        driver.create_volume(vid, 1)
    return ids


def group_clone_round(driver: RbdDriver, ioctx: Any, vids: list[str]) -> list[int]:
    """One clone request: group snapshot, clones, their counters; then everything removed."""
    sid = new_snapshot_id()
    snap = driver.create_group_snapshot(sid, vids)
    clones = {v: new_id() for v in vids}
    try:
        driver.clone_from_group_snapshot(snap, clones)
        return [counter_of(ioctx, image_name(clones[v])) for v in vids]
    finally:
        driver.delete_group_snapshot(sid)
        for clone_id in clones.values():
            driver.delete_volume(clone_id)


def per_image_round(ioctx: Any, vids: list[str], gap: float) -> list[int]:
    """What a driver without group snapshots would do: snapshot each image in turn."""
    import rbd

    name = f"naive-{new_id()}"
    snap_ids = []
    for vid in vids:
        with rbd.Image(ioctx, image_name(vid)) as image:
            image.create_snap(name)
            snap_ids.append(image.snap_get_id(name))
        time.sleep(gap)
    values = [counter_of(ioctx, image_name(v), s) for v, s in zip(vids, snap_ids, strict=False)]
    for vid in vids:
        with rbd.Image(ioctx, image_name(vid)) as image:
            image.remove_snap(name)
    return values


@pytest.mark.parametrize("count", SET_SIZES)
def test_group_snapshot_clones_are_crash_consistent(driver: RbdDriver, ceph_cluster: Cluster, ceph_io: Any,
                                                     count: int) -> None:
    vids = sources(driver, count)
    writer = Writer(ceph_cluster.conf, ceph_cluster.pool, [image_name(v) for v in vids])
    writer.start()
    try:
        while writer.n < 10:
            time.sleep(0.01)
        # Two requests at once on the same sources: an image can be in one RBD group at a time.
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda _: group_clone_round(driver, ceph_io, vids), range(ROUNDS)))
    finally:
        written = writer.stop()
    violations = [r for r in results if not consistent(r)]
    assert len(results) == ROUNDS
    assert violations == [], f"{len(violations)} of {ROUNDS} clone sets are inconsistent: {violations[:5]}"
    # not vacuous: the writer ran all along and the clones caught it at many points
    assert len({r[0] for r in results}) > ROUNDS // 2, results
    assert written > max(r[0] for r in results)
    assert pool_listing(ceph_io)["groups"] == []


def cinder_group_snapshot_round(driver: RbdDriver, ioctx: Any, vids: list[str]) -> list[int]:
    """One Cinder group snapshot (``create_snapshots_at_once``): each member's counter, read at
    the member snapshot's RBD snapshot id; then the members deleted (the last takes the group)."""
    sids = [new_id() for _ in vids]
    driver.create_snapshots_at_once(list(zip(vids, sids, strict=True)), group_snapshot_id=new_id())
    try:
        found = [driver._members.find(s, v) for v, s in zip(vids, sids, strict=True)]
        return [counter_of(ioctx, image_name(v), f[1]) for v, f in zip(vids, found, strict=True) if f is not None]
    finally:
        for vid, sid in zip(vids, sids, strict=True):
            driver.delete_snapshot(sid, vid)


def test_cinder_group_snapshots_are_crash_consistent(driver: RbdDriver, ceph_cluster: Cluster,
                                                     ceph_io: Any) -> None:
    vids = sources(driver, 3)
    writer = Writer(ceph_cluster.conf, ceph_cluster.pool, [image_name(v) for v in vids])
    writer.start()
    try:
        while writer.n < 10:
            time.sleep(0.01)
        results = [cinder_group_snapshot_round(driver, ceph_io, vids) for _ in range(10)]
    finally:
        written = writer.stop()
    assert all(len(r) == len(vids) for r in results), results
    assert [r for r in results if not consistent(r)] == []
    assert len({r[0] for r in results}) > 5, results  # not vacuous: caught at many points
    assert written > max(r[0] for r in results)
    assert pool_listing(ceph_io)["groups"] == []


@pytest.mark.parametrize("count", SET_SIZES)
def test_per_image_snapshots_are_not(driver: RbdDriver, ceph_cluster: Cluster, ceph_io: Any, count: int) -> None:
    vids = sources(driver, count)
    writer = Writer(ceph_cluster.conf, ceph_cluster.pool, [image_name(v) for v in vids])
    writer.start()
    try:
        while writer.n < 10:
            time.sleep(0.01)
        results = [per_image_round(ceph_io, vids, gap=0.02) for _ in range(5)]
    finally:
        writer.stop()
    violations = [r for r in results if not consistent(r)]
    assert violations, f"per-image snapshots looked consistent every time: {results}"


# -- reverts leave nothing --------------------------------------------------
def test_a_reverted_clone_leaves_the_pool_as_it_was(driver: RbdDriver, ceph_io: Any) -> None:
    vids = sources(driver, 2)
    for vid, ch in zip(vids, (b"a", b"b"), strict=False):
        write(ceph_io, vid, 0, block(ch))
    before = pool_listing(ceph_io)

    sid = new_snapshot_id()
    snap = driver.create_group_snapshot(sid, vids)
    clones = {v: new_id() for v in vids}
    driver.clone_from_group_snapshot(snap, clones)
    during = pool_listing(ceph_io)
    assert group_name(sid) in during["groups"]
    assert {image_name(c) for c in clones.values()} <= set(during["images"])
    # the flow's revert, in its order: clones, then the group snapshot
    for clone_id in clones.values():
        driver.delete_volume(clone_id)
    driver.delete_group_snapshot(sid)
    # (the trash's directory object may be made here, the first time an image goes through the
    # trash: run first, as `pytest tests/rbd` does, this test saw it appear)
    assert without_directories(pool_listing(ceph_io)) == without_directories(before)


def test_a_clone_failing_halfway_leaves_the_pool_as_it_was(driver: RbdDriver, ceph_io: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    vids = sources(driver, 3)
    before = pool_listing(ceph_io)
    sid = new_snapshot_id()
    snap = driver.create_group_snapshot(sid, vids)
    after_snapshot = pool_listing(ceph_io)

    make_clone, made, calls, lock = driver._make_clone, [], [], threading.Lock()

    def fail_on_the_third(source: str, snap_id: int, clone_id: str) -> None:
        with lock:  # the driver copies several images at once
            calls.append(clone_id)
            third = len(calls) == 3
        if third:
            raise BackendError("injected: the cluster went away")
        make_clone(source, snap_id, clone_id)
        made.append(clone_id)

    monkeypatch.setattr(driver, "_make_clone", fail_on_the_third)
    clones = {v: new_id() for v in vids}
    with pytest.raises(BackendError, match="injected"):
        driver.clone_from_group_snapshot(snap, clones)
    assert len(made) == 2
    # Removing an image that a parallel copy had just opened can go through Ceph's trash; the
    # trash's directory object then exists (empty) from then on. Nothing may be IN the trash.
    import rbd

    assert list(rbd.RBD().trash_list(ceph_io)) == []
    assert without_directories(pool_listing(ceph_io)) == without_directories(after_snapshot)
    driver.delete_group_snapshot(sid)
    assert without_directories(pool_listing(ceph_io)) == without_directories(before)


def without_directories(listing: dict[str, Any]) -> dict[str, Any]:
    """A pool listing without Ceph's directory objects for the trash and for groups: created the
    first time they're needed and kept, empty, afterwards. The listing's groups and an empty
    trash (checked by the caller) say whether anything is left in them."""
    return {**listing, "objects": [o for o in listing["objects"] if o not in ("rbd_trash", "rbd_group_directory")]}


def group_snapshot_of_a_crashed_attempt(ioctx: Any, sid: str, vids: list[str]) -> None:
    import rbd

    rbd.RBD().group_create(ioctx, group_name(sid))
    group = rbd.Group(ioctx, group_name(sid))
    for vid in vids:
        group.add_image(ioctx, image_name(vid))
    group.create_snap("volclone")


def test_a_snapshot_interrupted_before_it_was_recorded_is_cleaned_up(driver: RbdDriver, ceph_io: Any) -> None:
    """A crash between ``group snap create`` and the record: the group and its snapshots are there,
    but the snapshot is not (it was never returned); deleting or retaking it removes the leftovers."""
    vids = sources(driver, 2)
    before = pool_listing(ceph_io)
    sid = new_snapshot_id()
    group_snapshot_of_a_crashed_attempt(ceph_io, sid, vids)
    assert driver.find_group_snapshot(sid) is None
    driver.delete_group_snapshot(sid)
    assert pool_listing(ceph_io) == before

    group_snapshot_of_a_crashed_attempt(ceph_io, sid, vids)
    snap = driver.create_group_snapshot(sid, vids)  # the retried task
    assert set(snap.members) == set(vids)
    driver.delete_group_snapshot(sid)
    assert pool_listing(ceph_io) == before


# -- deleting in any order loses nothing ---------------------------------------
def clone_one(driver: RbdDriver, source: str) -> str:
    sid = new_snapshot_id()
    clone_id = new_id()
    driver.clone_from_group_snapshot(driver.create_group_snapshot(sid, [source]), {source: clone_id})
    driver.delete_group_snapshot(sid)
    return clone_id


@pytest.mark.parametrize("order", list(itertools.permutations(["source", "clone", "grandclone"])),
                         ids="-".join)
def test_deleting_sources_and_clones_in_any_order_loses_nothing(driver: RbdDriver, ceph_io: Any,
                                                                order: tuple[str, ...]) -> None:
    source = sources(driver, 1)[0]
    write(ceph_io, source, 0, block(b"s"))
    clone = clone_one(driver, source)
    write(ceph_io, clone, MIB, block(b"c"))
    grandclone = clone_one(driver, clone)
    write(ceph_io, source, 2 * MIB, block(b"S"))  # after the clone: the clones must not see it
    expected = {
        source: {0: b"s", MIB: b"\0", 2 * MIB: b"S"},
        clone: {0: b"s", MIB: b"c", 2 * MIB: b"\0"},
        grandclone: {0: b"s", MIB: b"c", 2 * MIB: b"\0"},
    }
    names = {"source": source, "clone": clone, "grandclone": grandclone}
    for step, role in enumerate(order):
        driver.delete_volume(names[role])
        assert not driver.volume_exists(names[role])
        expected.pop(names[role])
        for vid, blocks in expected.items():
            for offset, ch in blocks.items():
                assert read(ceph_io, vid, offset) == block(ch), f"after deleting {order[:step + 1]}"
    assert not any(v in name for name in pool_listing(ceph_io)["images"] for v in names.values())


def test_a_group_snapshot_missing_its_record_is_not_found(driver: RbdDriver) -> None:
    assert driver.find_group_snapshot(new_snapshot_id()) is None
    with pytest.raises(BackendError):
        driver.clone_from_group_snapshot(GroupSnapshot(new_snapshot_id(), {}), {new_id(): new_id()})
