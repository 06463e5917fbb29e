"""Swapping a volume's data (``DataSwappable``, what a revert in place switches sources with):
the volume reads the data prepared beside it, its old data is kept under another id until it is
dropped, a swap back restores it exactly, and both calls are safe to repeat."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.errors import BackendError

from .base import BLOCK, DriverFixtures, Read, Write, block, new_id, new_snapshot_id


class SwapContract(DriverFixtures):
    def prepared(self, driver: Any, write: Write) -> tuple[str, str, str, str]:
        """(volume with "o", its replacement with "n" made from another volume's snapshot as a
        revert in place makes it, a free id to keep the old data as, the snapshot's id)."""
        vid = self.volume(driver, write, b"o")
        donor = self.volume(driver, write, b"n")
        snap = driver.create_group_snapshot(new_snapshot_id(), [donor])
        replacement = new_id()  # (a revert in place derives its ids: volclone.flows.model.staged_id)
        driver.clone_from_group_snapshot(snap, {donor: replacement})
        write(donor, 0, block(b"d"))  # the donor goes on changing: the replacement is its point
        return vid, replacement, new_id(), snap.id

    def test_swap_in_puts_the_replacement_in_and_keeps_the_old_data(self, driver: Any, write: Write,
                                                                     read: Read) -> None:
        vid, replacement, keep, snap = self.prepared(driver, write)
        driver.swap_in(vid, replacement, keep)
        assert read(vid, 0, BLOCK) == block(b"n")
        assert read(keep, 0, BLOCK) == block(b"o")
        assert not driver.volume_exists(replacement)
        driver.swap_in(vid, replacement, keep)  # done already: nothing happens
        assert read(vid, 0, BLOCK) == block(b"n")
        write(vid, BLOCK, block(b"w"))  # the volume takes writes; the kept data doesn't see them
        assert read(keep, BLOCK, BLOCK) != block(b"w")
        driver.delete_group_snapshot(snap)
        driver.delete_volume(keep)  # the old data goes; what the volume reads stays
        assert read(vid, 0, 2 * BLOCK) == block(b"n") + block(b"w")

    def test_swap_back_restores_the_old_data(self, driver: Any, write: Write, read: Read) -> None:
        vid, replacement, keep, snap = self.prepared(driver, write)
        driver.swap_back(vid, replacement, keep)  # never swapped in: nothing happens
        assert read(vid, 0, BLOCK) == block(b"o") and driver.volume_exists(replacement)
        driver.swap_in(vid, replacement, keep)
        driver.swap_back(vid, replacement, keep)
        driver.swap_back(vid, replacement, keep)  # back already: nothing happens
        assert read(vid, 0, BLOCK) == block(b"o")
        assert read(replacement, 0, BLOCK) == block(b"n")
        assert not driver.volume_exists(keep)
        driver.delete_volume(replacement)
        driver.delete_group_snapshot(snap)
        assert read(vid, 0, BLOCK) == block(b"o")

    def test_the_old_data_outlives_a_clone_made_of_it(self, driver: Any, write: Write, read: Read) -> None:
        """A clone made of the volume before the swap keeps reading its own data after the old
        data is dropped (a revert in place drops a source's old data, which its clones may use)."""
        vid, replacement, keep, snap = self.prepared(driver, write)
        before = driver.create_group_snapshot(new_snapshot_id(), [vid])
        clone = new_id()
        driver.clone_from_group_snapshot(before, {vid: clone})
        driver.delete_group_snapshot(before.id)
        driver.swap_in(vid, replacement, keep)
        driver.delete_volume(keep)
        assert read(clone, 0, BLOCK) == block(b"o")
        assert read(vid, 0, BLOCK) == block(b"n")

    def test_a_swap_without_a_replacement_is_refused(self, driver: Any, write: Write, read: Read) -> None:
        vid = self.volume(driver, write, b"o")
        with pytest.raises(BackendError, match="can't take the data"):
            driver.swap_in(vid, new_id(), new_id())
        assert read(vid, 0, BLOCK) == block(b"o")



class ServedSwapContract(SwapContract):
    """Backends that serve volumes themselves (the memory driver, the local pool's daemon) refuse
    to swap a served volume's data under its clients."""

    def test_a_served_volume_is_not_swapped(self, driver: Any, write: Write, read: Read) -> None:
        vid, replacement, keep, _ = self.prepared(driver, write)
        driver.initialize_connection(vid, writable=True)
        with pytest.raises(BackendError, match="served"):
            driver.swap_in(vid, replacement, keep)
        driver.terminate_connection(vid)
        assert read(vid, 0, BLOCK) == block(b"o") and driver.volume_exists(replacement)
