"""Growing volumes (``Extendable``): the data stays, the new range reads as zeros and takes
writes, a snapshot and the clones made from it keep the size they had, and a size that is not
bigger is refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.errors import BackendError

from .base import BLOCK, ZEROS, DriverFixtures, Read, Write, block, new_id, new_snapshot_id

GIB = 1024**3


class ExtendContract(DriverFixtures):
    def test_a_volume_grows_and_keeps_its_data(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"e")
        old_end = self.size_gib * GIB
        driver.extend_volume(vid, self.size_gib + 1)
        assert read(vid, 0, BLOCK) == block(b"e")
        assert read(vid, old_end, BLOCK) == ZEROS
        write(vid, old_end + GIB - BLOCK, block(b"n"))  # the new last block
        assert read(vid, old_end + GIB - BLOCK, BLOCK) == block(b"n")

    def test_a_snapshot_and_its_clones_keep_their_size(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"s")
        snap = driver.create_group_snapshot(new_snapshot_id(), [vid])
        driver.extend_volume(vid, self.size_gib + 1)
        clone = new_id()
        driver.clone_from_group_snapshot(snap, {vid: clone})
        driver.delete_group_snapshot(snap.id)
        assert read(clone, 0, BLOCK) == block(b"s")
        with pytest.raises(Exception):  # noqa: B017 (each backend refuses I/O past the end its own way)
            read(clone, self.size_gib * GIB, BLOCK)
        driver.extend_volume(clone, self.size_gib + 2)  # a clone grows past the layer it reads through
        assert read(clone, (self.size_gib + 2) * GIB - BLOCK, BLOCK) == ZEROS
        assert read(clone, 0, BLOCK) == block(b"s")

    def test_a_size_that_is_not_bigger_is_refused(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"r")
        driver.extend_volume(vid, self.size_gib + 1)
        for size in (self.size_gib, self.size_gib + 1):
            with pytest.raises(BackendError, match="can't grow"):
                driver.extend_volume(vid, size)
        assert read(vid, (self.size_gib + 1) * GIB - BLOCK, BLOCK) == ZEROS
        assert read(vid, 0, BLOCK) == block(b"r")
