"""Clones onto another backend: a driver reads its volumes as of a group snapshot
(``SnapshotReadable``) and makes new volumes from bytes written into it (``VolumeImportable``).

The other end of each copy is an in-memory driver (``volclone.backends.memory``), itself
proven by this contract, so every driver that mixes this in is copied to and from a
second backend through ``volclone.backends.copy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from volclone.backends.base import SnapshotReadable, VolumeImportable
from volclone.backends.copy import copy_from_group_snapshot
from volclone.backends.memory import MemoryDriver
from volclone.errors import VolcloneError

from .base import BLOCK, MIB, ZEROS, DriverFixtures, Read, Write, block, new_id, new_snapshot_id

GIB = 1024**3


class CrossBackendContract(DriverFixtures):
    @pytest.fixture
    def other(self) -> MemoryDriver:
        """The backend at the other end of each copy."""
        return MemoryDriver("other")

    def test_the_capabilities_are_declared(self, driver: Any) -> None:
        assert isinstance(driver, SnapshotReadable) and isinstance(driver, VolumeImportable)

    def test_a_snapshot_member_reads_as_of_the_snapshot(self, driver: Any, write: Write) -> None:
        a = self.volume(driver, write, b"a")
        write(a, 3 * MIB, block(b"b"))
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a])
        write(a, 0, block(b"A"))
        with driver.open_snapshot_member(snap, a) as reader:
            assert reader.size == self.size_gib * GIB
            assert reader.read(0, BLOCK) == block(b"a")
            assert reader.read(3 * MIB, BLOCK) == block(b"b")
            assert reader.read(MIB, BLOCK) == ZEROS
            extents = list(reader.extents())
            assert extents == sorted(extents)
            covered = [(off, off + n) for off, n in extents]
            for at in (0, 3 * MIB):  # the data is inside the extents
                assert any(lo <= at and at + BLOCK <= hi for lo, hi in covered), (at, extents)
            assert sum(n for _, n in extents) < reader.size, "a thin volume says where its data is"
        driver.delete_group_snapshot(sid)

    def test_a_volume_outside_the_snapshot_cannot_be_read(self, driver: Any, write: Write) -> None:
        a, b = self.volume(driver, write), self.volume(driver, write)
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a])
        with pytest.raises(VolcloneError):
            driver.open_snapshot_member(snap, b)
        driver.delete_group_snapshot(sid)

    def test_an_import_exists_once_committed(self, driver: Any, read: Read) -> None:
        vid = new_id()
        writer = driver.import_volume(vid, self.size_gib * GIB)
        writer.write(0, block(b"i"))
        writer.write(MIB + 100, b"xyz")  # not aligned to anything
        assert not driver.volume_exists(vid)
        writer.commit()
        assert driver.volume_exists(vid)
        assert read(vid, 0, BLOCK) == block(b"i")
        assert read(vid, MIB + 99, 5) == b"\0xyz\0"
        assert read(vid, 2 * MIB, BLOCK) == ZEROS

    def test_an_aborted_import_leaves_nothing(self, driver: Any, pool_state: Callable[[], Any]) -> None:
        before = pool_state()
        vid = new_id()
        writer = driver.import_volume(vid, self.size_gib * GIB)
        writer.write(0, block(b"i"))
        writer.abort()
        writer.abort()
        assert not driver.volume_exists(vid)
        assert pool_state() == before

    def test_an_import_never_replaces_a_volume(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"k")
        with pytest.raises(VolcloneError):
            writer = driver.import_volume(vid, self.size_gib * GIB)
            try:
                writer.write(0, block(b"x"))
                writer.commit()
            finally:
                writer.abort()
        assert read(vid, 0, BLOCK) == block(b"k")

    def test_copies_to_another_backend(self, driver: Any, write: Write, other: MemoryDriver) -> None:
        a, b = self.volume(driver, write, b"a"), self.volume(driver, write, b"b")
        write(b, 5 * MIB, block(b"B"))
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [a, b])
        write(a, 0, block(b"!"))
        calls: list[tuple[int, int]] = []
        clones = {a: new_id(), b: new_id()}
        copy_from_group_snapshot(driver, snap, other, clones, progress=lambda d, t: calls.append((d, t)))
        driver.delete_group_snapshot(sid)
        assert other.read(clones[a], 0, BLOCK) == block(b"a")
        assert other.read(clones[b], 0, BLOCK) == block(b"b")
        assert other.read(clones[b], 5 * MIB, BLOCK) == block(b"B")
        assert other.size(clones[a]) == self.size_gib * GIB
        assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] > 0

    def test_copies_from_another_backend(self, driver: Any, read: Read, other: MemoryDriver) -> None:
        src = new_id()
        other.create_volume(src, self.size_gib)
        other.write(src, 0, block(b"o"))
        other.write(src, 7 * MIB, block(b"p"))
        snap = other.create_group_snapshot("s", [src])
        clone = new_id()
        copy_from_group_snapshot(other, snap, driver, {src: clone})
        other.delete_group_snapshot("s")
        assert read(clone, 0, BLOCK) == block(b"o")
        assert read(clone, 7 * MIB, BLOCK) == block(b"p")
        assert read(clone, MIB, BLOCK) == ZEROS

    def test_a_failed_copy_leaves_nothing_on_the_target(self, driver: Any, write: Write,
                                                        pool_state: Callable[[], Any]) -> None:
        source = MemoryDriver("source")
        a, b = new_id(), new_id()
        for vid in (a, b):
            source.create_volume(vid, self.size_gib)
            source.write(vid, 0, block(b"f"))
        snap = source.create_group_snapshot("s", [a, b])
        before = pool_state()
        clones = {a: new_id(), b: new_id()}
        # copy_from_group_snapshot opens each member twice: to plan, then to copy. The fourth
        # open fails, after the first clone was copied and committed on the target.
        for _ in range(3):
            source.inject("open_snapshot_member", lambda: None)
        source.inject("open_snapshot_member")
        with pytest.raises(VolcloneError, match="injected"):
            copy_from_group_snapshot(source, snap, driver, clones)
        assert not driver.volume_exists(clones[a]) and not driver.volume_exists(clones[b])
        assert pool_state() == before
        # and the same copy works once the source does
        copy_from_group_snapshot(source, snap, driver, clones)
        assert all(driver.volume_exists(c) for c in clones.values())
