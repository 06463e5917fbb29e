"""Consistent group snapshots and the clones made from them (``GroupSnapshotCapable``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from volclone.backends.base import GroupSnapshot, VolumeDriver, supports_group_snapshots
from volclone.errors import Cancelled, VolcloneError

from .base import BLOCK, MIB, ZEROS, DriverFixtures, Read, Write, block, new_id, new_snapshot_id


class PlainDriver(VolumeDriver):
    """A backend with the primitives only: no consistent group snapshots."""

    def create_volume(self, volume_id: str, size_gib: int) -> None:
        pass

    def delete_volume(self, volume_id: str) -> None:
        pass

    def volume_exists(self, volume_id: str) -> bool:
        return False


class GroupSnapshotContract(DriverFixtures):
    def test_the_capability_is_declared(self, driver: Any) -> None:
        assert supports_group_snapshots(driver)

    def test_a_driver_without_the_capability_is_refused(self) -> None:
        plain = PlainDriver("plain")
        assert not supports_group_snapshots(plain)
        assert not hasattr(plain, "create_group_snapshot")

    def test_a_clone_has_the_data_as_of_the_snapshot(self, driver: Any, write: Write, read: Read) -> None:
        a, b = self.volume(driver, write, b"a"), self.volume(driver, write, b"b")
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a, b])
        assert set(snap.members) == {a, b}
        write(a, 0, block(b"A"))
        write(b, MIB, block(b"B"))

        ca, cb = new_id(), new_id()
        driver.clone_from_group_snapshot(driver.find_group_snapshot(sid), {a: ca, b: cb})
        assert driver.volume_exists(ca) and driver.volume_exists(cb)
        assert read(ca, 0, BLOCK) == block(b"a")
        assert read(cb, 0, BLOCK) == block(b"b")
        assert read(cb, MIB, BLOCK) == ZEROS
        assert read(a, 0, BLOCK) == block(b"A")
        assert read(b, MIB, BLOCK) == block(b"B")
        driver.delete_group_snapshot(sid)

    def test_writes_after_the_clone_stay_on_their_side(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a])
        ca = new_id()
        driver.clone_from_group_snapshot(snap, {a: ca})
        write(a, 0, block(b"s"))
        write(ca, MIB, block(b"c"))
        assert read(ca, 0, BLOCK) == block(b"a")
        assert read(a, MIB, BLOCK) == ZEROS
        driver.delete_group_snapshot(sid)
        assert read(ca, 0, BLOCK) == block(b"a")
        assert read(ca, MIB, BLOCK) == block(b"c")
        assert read(a, 0, BLOCK) == block(b"s")

    def test_deleting_the_source_keeps_the_clone(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        _, clones = self.snapshot_and_clone(driver, [a])
        driver.delete_volume(a)
        assert not driver.volume_exists(a)
        assert read(clones[a], 0, BLOCK) == block(b"a")
        write(clones[a], 0, block(b"n"))
        assert read(clones[a], 0, BLOCK) == block(b"n")

    def test_deleting_the_clone_keeps_the_source(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        _, clones = self.snapshot_and_clone(driver, [a])
        driver.delete_volume(clones[a])
        assert not driver.volume_exists(clones[a])
        assert read(a, 0, BLOCK) == block(b"a")
        write(a, 0, block(b"n"))
        assert read(a, 0, BLOCK) == block(b"n")

    def test_a_clone_of_a_clone(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        _, first = self.snapshot_and_clone(driver, [a])
        write(first[a], MIB, block(b"1"))
        _, second = self.snapshot_and_clone(driver, [first[a]])
        clone = second[first[a]]
        assert read(clone, 0, BLOCK) == block(b"a")
        assert read(clone, MIB, BLOCK) == block(b"1")

    def test_find_group_snapshot(self, driver: Any, write: Write) -> None:
        a, b = self.volume(driver, write), self.volume(driver, write)
        sid = new_snapshot_id()
        assert driver.find_group_snapshot(sid) is None
        made = driver.create_group_snapshot(sid, [a, b])
        found = driver.find_group_snapshot(sid)
        assert isinstance(found, GroupSnapshot)
        assert found.id == sid
        assert dict(found.members) == dict(made.members)
        driver.delete_group_snapshot(sid)
        assert driver.find_group_snapshot(sid) is None

    def test_creating_a_group_snapshot_again_returns_the_first(self, driver: Any, write: Write,
                                                               read: Read) -> None:
        a = self.volume(driver, write, b"1")
        sid = new_snapshot_id()
        first = driver.create_group_snapshot(sid, [a])
        write(a, 0, block(b"2"))
        again = driver.create_group_snapshot(sid, [a])
        assert dict(again.members) == dict(first.members)
        ca = new_id()
        driver.clone_from_group_snapshot(again, {a: ca})
        assert read(ca, 0, BLOCK) == block(b"1")
        driver.delete_group_snapshot(sid)

    def test_deleting_a_group_snapshot_is_idempotent(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        sid = new_snapshot_id()
        driver.create_group_snapshot(sid, [a])
        driver.delete_group_snapshot(sid)
        driver.delete_group_snapshot(sid)
        driver.delete_group_snapshot(new_snapshot_id())  # never made
        assert driver.find_group_snapshot(sid) is None
        assert read(a, 0, BLOCK) == block(b"a")

    def test_overlapping_group_snapshots_each_keep_their_point_in_time(self, driver: Any, write: Write,
                                                                        read: Read) -> None:
        a, b, c = (self.volume(driver, write, ch) for ch in (b"a", b"b", b"c"))
        s1, s2 = new_snapshot_id(), new_snapshot_id()
        snap1 = driver.create_group_snapshot(s1, [a, b])
        write(b, 0, block(b"B"))
        snap2 = driver.create_group_snapshot(s2, [b, c])
        write(b, 0, block(b"!"))
        c1 = {a: new_id(), b: new_id()}
        c2 = {b: new_id(), c: new_id()}
        driver.clone_from_group_snapshot(snap2, c2)
        driver.clone_from_group_snapshot(snap1, c1)
        assert [read(c1[v], 0, BLOCK) for v in (a, b)] == [block(b"a"), block(b"b")]
        assert [read(c2[v], 0, BLOCK) for v in (b, c)] == [block(b"B"), block(b"c")]
        driver.delete_group_snapshot(s1)
        driver.delete_group_snapshot(s2)
        assert read(b, 0, BLOCK) == block(b"!")

    def test_a_group_snapshot_of_a_missing_volume_changes_nothing(self, driver: Any, write: Write,
                                                                 pool_state: Callable[[], Any]) -> None:
        a = self.volume(driver, write, b"a")
        before = pool_state()
        sid = new_snapshot_id()
        with pytest.raises(VolcloneError):
            driver.create_group_snapshot(sid, [a, new_id()])
        assert driver.find_group_snapshot(sid) is None
        assert pool_state() == before
        # and the source is free for the next snapshot
        driver.create_group_snapshot(sid, [a])
        driver.delete_group_snapshot(sid)
        assert pool_state() == before

    def test_a_clone_naming_a_source_outside_the_snapshot_makes_nothing(
            self, driver: Any, write: Write, pool_state: Callable[[], Any]) -> None:
        a, b = self.volume(driver, write, b"a"), self.volume(driver, write, b"b")
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a])
        before = pool_state()
        ca, cb = new_id(), new_id()
        with pytest.raises(VolcloneError):
            driver.clone_from_group_snapshot(snap, {a: ca, b: cb})
        assert not driver.volume_exists(ca) and not driver.volume_exists(cb)
        assert pool_state() == before
        driver.delete_group_snapshot(sid)

    def test_a_clone_from_a_broken_member_makes_nothing(self, driver: Any, write: Write,
                                                        pool_state: Callable[[], Any]) -> None:
        a, b = self.volume(driver, write, b"a"), self.volume(driver, write, b"b")
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a])
        broken = GroupSnapshot(sid, {**snap.members, b: "4040404"})  # b's ref names nothing
        before = pool_state()
        ca, cb = new_id(), new_id()
        with pytest.raises(VolcloneError):
            driver.clone_from_group_snapshot(broken, {a: ca, b: cb})
        assert not driver.volume_exists(ca) and not driver.volume_exists(cb)
        assert pool_state() == before
        driver.delete_group_snapshot(sid)

    def test_a_progress_that_raises_stops_a_full_copy_clone_and_makes_nothing(
            self, driver: Any, write: Write, pool_state: Callable[[], Any]) -> None:
        """How a cancelled clone task stops a copy: its progress callback raises Cancelled once
        bytes have moved. The call is all or nothing still: no clone of it is left."""
        a, b = self.volume(driver, write, b"a"), self.volume(driver, write, b"b")
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a, b], full_copy=[a, b])
        driver.delete_volume(self.volume(driver, write))  # a pool's first delete makes bookkeeping (RBD's trash)
        before = pool_state()
        calls: list[int] = []

        def progress(done: int, total: int) -> None:
            calls.append(done)
            if done > 0 or len(calls) > 1:
                raise Cancelled()

        clones = {a: new_id(), b: new_id()}
        with pytest.raises(Cancelled):
            driver.clone_from_group_snapshot(snap, clones, progress=progress)
        assert not any(driver.volume_exists(c) for c in clones.values())
        after = pool_state()
        assert after == before, (before, after)
        driver.delete_group_snapshot(sid)
        # and the sources clone again
        driver.delete_group_snapshot(self.snapshot_and_clone(driver, [a, b])[0])
