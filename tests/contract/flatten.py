"""Making a volume independent of the layers it shares with others (``Flattenable``)."""

from __future__ import annotations

from typing import Any

from volclone.backends.base import Flattenable

from .base import BLOCK, MIB, ZEROS, DriverFixtures, Read, Write, block


class FlattenContract(DriverFixtures):
    def test_the_capability_is_declared(self, driver: Any) -> None:
        assert isinstance(driver, Flattenable)

    def test_a_new_volume_has_nothing_to_flatten(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"n")
        assert driver.flatten(vid) is False
        assert read(vid, 0, BLOCK) == block(b"n")

    def test_a_flattened_clone_reads_the_same_and_a_second_flatten_changes_nothing(
            self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        write(a, 2 * MIB, block(b"z"))
        _, clones = self.snapshot_and_clone(driver, [a])
        c = clones[a]
        write(c, MIB, block(b"c"))
        write(c, 2 * MIB, ZEROS)  # zeros written over the source's data are data too
        assert driver.flatten(c) is True
        assert [read(c, off, BLOCK) for off in (0, MIB, 2 * MIB)] == [block(b"a"), block(b"c"), ZEROS]
        assert driver.flatten(c) is False
        assert read(a, 2 * MIB, BLOCK) == block(b"z")

    def test_a_flattened_clone_outlives_its_source(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        _, clones = self.snapshot_and_clone(driver, [a])
        driver.flatten(clones[a])
        driver.delete_volume(a)
        assert read(clones[a], 0, BLOCK) == block(b"a")
        write(clones[a], 0, block(b"x"))
        assert read(clones[a], 0, BLOCK) == block(b"x")

    def test_flattening_the_source_keeps_its_clones(self, driver: Any, write: Write, read: Read) -> None:
        a = self.volume(driver, write, b"a")
        _, clones = self.snapshot_and_clone(driver, [a])
        write(a, 0, block(b"s"))
        driver.flatten(a)
        assert read(a, 0, BLOCK) == block(b"s")
        assert read(clones[a], 0, BLOCK) == block(b"a")
        driver.delete_volume(a)
        assert read(clones[a], 0, BLOCK) == block(b"a")
