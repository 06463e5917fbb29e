"""The primitives every driver has (``VolumeDriver``): create, exists, delete, and data kept."""

from __future__ import annotations

from typing import Any

from .base import BLOCK, MIB, ZEROS, DriverFixtures, Read, Write, block, new_id


class VolumeContract(DriverFixtures):
    def test_create_exists_delete(self, driver: Any) -> None:
        vid = new_id()
        assert not driver.volume_exists(vid)
        driver.create_volume(vid, self.size_gib)
        assert driver.volume_exists(vid)
        driver.delete_volume(vid)
        assert not driver.volume_exists(vid)

    def test_a_new_volume_reads_zeros_and_keeps_what_is_written(self, driver: Any, write: Write,
                                                                read: Read) -> None:
        vid = self.volume(driver, write)
        assert read(vid, 0, BLOCK) == ZEROS
        write(vid, MIB, block(b"x"))
        assert read(vid, MIB, BLOCK) == block(b"x")
        assert read(vid, 0, BLOCK) == ZEROS

    def test_deleting_a_missing_volume_is_a_noop(self, driver: Any) -> None:
        driver.delete_volume(new_id())
        vid = new_id()
        driver.create_volume(vid, self.size_gib)
        driver.delete_volume(vid)
        driver.delete_volume(vid)
        assert not driver.volume_exists(vid)

