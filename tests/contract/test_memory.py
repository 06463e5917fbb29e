"""The whole driver contract on the in-memory driver, plus what only it has: sparse volumes,
thread safety, and the fault-injection hook the fast tests use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from volclone.backends import registry
from volclone.backends.memory import BLOCK as MEMORY_BLOCK
from volclone.backends.memory import MemoryDriver
from volclone.errors import BackendError

from .attach import AttachContract, Connect
from .base import BLOCK, MIB, Read, Write, block, new_id, new_snapshot_id
from .cross_backend import CrossBackendContract
from .extend import ExtendContract
from .flatten import FlattenContract
from .group_snapshots import GroupSnapshotContract
from .plan import PlanContract
from .snapshots import SnapshotContract
from .swap import ServedSwapContract
from .volumes import VolumeContract


class TestMemoryDriver(VolumeContract, GroupSnapshotContract, AttachContract, FlattenContract,
                       CrossBackendContract, ExtendContract, PlanContract, SnapshotContract,
                       ServedSwapContract):
    @pytest.fixture
    def driver(self) -> MemoryDriver:
        driver = MemoryDriver("memory")
        driver.start()
        return driver

    @pytest.fixture
    def write(self, driver: MemoryDriver) -> Write:
        return driver.write

    @pytest.fixture
    def read(self, driver: MemoryDriver) -> Read:
        return driver.read

    @pytest.fixture
    def pool_state(self, driver: MemoryDriver) -> Callable[[], Any]:
        return driver.state

    @pytest.fixture
    def connect(self, driver: MemoryDriver) -> Connect:
        return driver.connect


# -- memory only -------------------------------------------------------------------
def test_a_huge_volume_costs_only_what_is_written() -> None:
    driver = MemoryDriver("m")
    driver.create_volume("big", 10 * 1024)  # 10 TiB
    driver.write("big", 5 * 1024**4, b"x")
    assert driver.read("big", 5 * 1024**4 - 1, 3) == b"\0x\0"
    layer = driver._volumes["big"]
    assert len(layer.blocks) == 1 and all(len(b) == MEMORY_BLOCK for b in layer.blocks.values())


def test_io_outside_the_volume_is_refused() -> None:
    driver = MemoryDriver("m")
    driver.create_volume("v", 1)
    with pytest.raises(BackendError, match="outside"):
        driver.write("v", 1024**3 - 1, b"ab")
    with pytest.raises(BackendError, match="outside"):
        driver.read("v", -1, 1)


def test_chains_fold_back_when_the_clones_go() -> None:
    """Snapshot and clone and delete, many times: the source stays one layer deep and
    nothing accumulates."""
    driver = MemoryDriver("m")
    driver.create_volume("v", 1)
    driver.write("v", 0, block(b"v"))
    before = driver.state()
    for n in range(5):
        snap = driver.create_group_snapshot(f"s{n}", ["v"])
        driver.clone_from_group_snapshot(snap, {"v": f"c{n}"})
        driver.delete_group_snapshot(f"s{n}")
        assert driver.depth(f"c{n}") == n + 2
    assert driver.depth("v") == 6
    for n in reversed(range(5)):
        driver.delete_volume(f"c{n}")
    assert driver.depth("v") == 1
    assert driver.state() == before
    assert driver.read("v", 0, BLOCK) == block(b"v")


def test_a_deleted_snapshot_makes_no_clone() -> None:
    """A GroupSnapshot kept after its deletion names a layer that is the source's active
    layer again (the overlay folded back): a clone linked to it would change with the source."""
    driver = MemoryDriver("m")
    driver.create_volume("v", 1)
    driver.write("v", 0, block(b"1"))
    snap = driver.create_group_snapshot("s", ["v"])
    driver.delete_group_snapshot("s")
    with pytest.raises(BackendError, match="no data"):
        driver.clone_from_group_snapshot(snap, {"v": "c"})
    with pytest.raises(BackendError, match="no data"):
        driver.open_snapshot_member(snap, "v")
    assert not driver.volume_exists("c")


def test_full_copy_clones_share_nothing() -> None:
    driver = MemoryDriver("m")
    driver.create_volume("v", 1)
    driver.write("v", 0, block(b"v"))
    snap = driver.create_group_snapshot("s", ["v"], full_copy=["v"])
    calls: list[tuple[int, int]] = []
    driver.clone_from_group_snapshot(snap, {"v": "c"}, progress=lambda d, t: calls.append((d, t)))
    assert driver.depth("c") == 1
    assert calls == [(0, MEMORY_BLOCK), (MEMORY_BLOCK, MEMORY_BLOCK)]
    driver.delete_group_snapshot("s")
    assert driver.depth("v") == 1, "nothing uses the frozen layer: the overlay folds back"
    assert driver.read("c", 0, BLOCK) == block(b"v")


def test_concurrent_writers_and_snapshots_are_consistent() -> None:
    """Two volumes written in lock step (same counter in both) from several threads while
    group snapshots are taken: every snapshot holds the same counter in both volumes."""
    driver = MemoryDriver("m")
    for vid in ("a", "b"):
        driver.create_volume(vid, 1)
    stop = threading.Event()
    lock = threading.Lock()  # the writers' own order: a then b, one step at a time
    counter = [0]

    def writer() -> None:
        while not stop.is_set():
            with lock:
                counter[0] += 1
                data = counter[0].to_bytes(8, "big")
                with driver._lock:  # one step writes both volumes, as one transaction would
                    driver.write("a", 0, data)
                    driver.write("b", MIB, data)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(30):
            snap = driver.create_group_snapshot(f"s{n}", ["a", "b"])
            driver.clone_from_group_snapshot(snap, {"a": f"ca{n}", "b": f"cb{n}"})
            driver.delete_group_snapshot(f"s{n}")
            assert driver.read(f"ca{n}", 0, 8) == driver.read(f"cb{n}", MIB, 8)
    finally:
        stop.set()
        for t in threads:
            t.join(10)


def test_an_injected_fault_fires_once_before_or_after() -> None:
    driver = MemoryDriver("m")
    driver.inject("create_volume")
    with pytest.raises(BackendError, match="injected fault in create_volume"):
        driver.create_volume("v", 1)
    assert not driver.volume_exists("v"), "before: the call did nothing"
    driver.create_volume("v", 1)
    driver.inject("create_group_snapshot", after=True)
    with pytest.raises(BackendError):
        driver.create_group_snapshot("s", ["v"])
    assert driver.find_group_snapshot("s") is not None, "after: the call acted, then failed"
    driver.inject("delete_volume", RuntimeError("disk on fire"))
    with pytest.raises(RuntimeError, match="disk on fire"):
        driver.delete_volume("v")
    seen: list[str] = []
    driver.inject("flatten", lambda: seen.append("called"))
    driver.flatten("v")
    assert seen == ["called"]
    for name in ("no_such_method", "read", "volume_exists"):  # never silently ignored
        with pytest.raises(ValueError, match="can't make"):
            driver.inject(name)


def test_a_connection_is_for_its_own_backend() -> None:
    one, two = MemoryDriver("one"), MemoryDriver("two")
    one.create_volume("v", 1)
    info = one.initialize_connection("v", writable=True)
    assert info["driver_volume_type"] == "memory"
    with pytest.raises(BackendError):
        two.connect(info)
    with pytest.raises(BackendError):
        one.connect({"driver_volume_type": "nbd", "data": {}})


def test_deleting_a_served_volume_cuts_its_connection() -> None:
    driver = MemoryDriver("m")
    driver.create_volume("v", 1)
    conn = driver.connect(driver.initialize_connection("v", writable=True))
    driver.delete_volume("v")
    with pytest.raises(BackendError):
        conn.read(0, 1)


def test_the_registry_builds_it() -> None:
    driver = registry.load_driver("memory", "mem")
    assert isinstance(driver, MemoryDriver) and driver.name == "mem"
    vid = new_id()
    driver.create_volume(vid, 1)
    snap = driver.create_group_snapshot(new_snapshot_id(), [vid])
    assert set(snap.members) == {vid}
