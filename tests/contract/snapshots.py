"""Snapshots of one volume, volumes made from them, and reverts (``Snapshottable``): the snapshot
keeps what it froze while the volume is written, a volume from it holds that (and zeros past it
when bigger), a revert brings it back, and deletes leave nothing behind, in either order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from volclone.backends.base import supports_snapshots
from volclone.errors import VolcloneError

from .base import BLOCK, MIB, ZEROS, DriverFixtures, Read, Write, block, new_id
from .group_snapshots import PlainDriver

GIB = 1024**3


def new_cinder_snapshot_id() -> str:
    return str(uuid.uuid4())


class SnapshotContract(DriverFixtures):
    def test_the_capability_is_declared(self, driver: Any) -> None:
        assert supports_snapshots(driver)
        assert not supports_snapshots(PlainDriver("plain"))

    def test_a_snapshot_keeps_what_it_froze_and_makes_volumes(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"a")
        sid = new_cinder_snapshot_id()
        driver.create_snapshot(sid, vid)
        driver.create_snapshot(sid, vid)  # again: harmless
        assert driver.snapshot_exists(sid, vid) and not driver.snapshot_exists(new_cinder_snapshot_id(), vid)
        write(vid, 0, block(b"b"))
        write(vid, MIB, block(b"c"))
        made = new_id()
        driver.create_volume_from_snapshot(made, sid, vid, self.size_gib)
        assert read(made, 0, BLOCK) == block(b"a") and read(made, MIB, BLOCK) == ZEROS
        assert read(vid, 0, BLOCK) == block(b"b")
        write(made, 0, block(b"m"))  # the new volume's writes are its own
        assert read(vid, 0, BLOCK) == block(b"b")
        bigger = new_id()
        driver.create_volume_from_snapshot(bigger, sid, vid, self.size_gib + 1)
        assert read(bigger, 0, BLOCK) == block(b"a")
        assert read(bigger, self.size_gib * GIB, BLOCK) == ZEROS  # past the snapshot's end
        # The snapshot goes first, then the source: the volumes made from it keep their data.
        driver.delete_snapshot(sid, vid)
        driver.delete_snapshot(sid, vid)  # again: a no-op
        assert not driver.snapshot_exists(sid, vid)
        driver.delete_volume(vid)
        assert read(made, 0, BLOCK) == block(b"m") and read(bigger, 0, BLOCK) == block(b"a")
        for v in (made, bigger):
            driver.delete_volume(v)

    def test_a_volume_from_a_snapshot_is_never_smaller(self, driver: Any, write: Write, pool_state: Callable[[], Any]
                                                       ) -> None:
        vid = self.volume(driver, write, b"s")
        driver.extend_volume(vid, self.size_gib + 1)
        sid = new_cinder_snapshot_id()
        driver.create_snapshot(sid, vid)
        before = pool_state()
        made = new_id()
        with pytest.raises(VolcloneError):
            driver.create_volume_from_snapshot(made, sid, vid, self.size_gib)
        with pytest.raises(VolcloneError):
            driver.create_volume_from_snapshot(made, new_cinder_snapshot_id(), vid, self.size_gib + 1)
        assert not driver.volume_exists(made) and pool_state() == before
        driver.delete_snapshot(sid, vid)
        driver.delete_volume(vid)

    def test_a_revert_brings_back_what_the_snapshot_froze(self, driver: Any, write: Write, read: Read,
                                                           pool_state: Callable[[], Any]) -> None:
        vid = self.volume(driver, write, b"1")
        first = new_cinder_snapshot_id()
        driver.create_snapshot(first, vid)
        write(vid, 0, block(b"2"))
        latest = new_cinder_snapshot_id()
        driver.create_snapshot(latest, vid)
        write(vid, 0, block(b"3"))
        write(vid, MIB, block(b"x"))
        driver.revert_to_snapshot(vid, latest)
        assert read(vid, 0, BLOCK) == block(b"2") and read(vid, MIB, BLOCK) == ZEROS
        write(vid, 0, block(b"4"))
        driver.revert_to_snapshot(vid, latest)  # the snapshot stays: again
        assert read(vid, 0, BLOCK) == block(b"2")
        driver.delete_snapshot(latest, vid)
        driver.revert_to_snapshot(vid, first)
        assert read(vid, 0, BLOCK) == block(b"1")
        with pytest.raises(VolcloneError):
            driver.revert_to_snapshot(vid, latest)  # gone
        assert read(vid, 0, BLOCK) == block(b"1")
        driver.delete_snapshot(first, vid)
        driver.delete_volume(vid)

    def test_deleting_the_volume_and_its_snapshots_leaves_nothing(self, driver: Any, write: Write,
                                                                  pool_state: Callable[[], Any]) -> None:
        # (No writes after the snapshots: on RBD the OSDs trim the objects' snapshot clones in the
        # background, so the pool's RADOS objects would settle only later.)
        before = pool_state()
        vid = self.volume(driver, write, b"v")
        sids = [new_cinder_snapshot_id() for _ in range(2)]
        for sid in sids:
            driver.create_snapshot(sid, vid)
        made = new_id()
        driver.create_volume_from_snapshot(made, sids[0], vid, self.size_gib)
        for sid in reversed(sids):
            driver.delete_snapshot(sid, vid)
        driver.delete_volume(vid)
        driver.delete_volume(made)
        assert pool_state() == before, (pool_state(), before)
