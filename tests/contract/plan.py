"""What a dry run asks a driver (``ClonePlannable``): how it clones, and how much data a volume
holds, as the chain reads it; both change nothing. A test class may override
``expected_clone_methods`` (what ``clone_method_for(full_copy)`` answers on its driver) and
``allocation_unit`` (the most bytes one written block may count for: a backend allocates in
blocks, clusters or objects)."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.backends.base import CloneMethod
from volclone.errors import BackendError

from .base import BLOCK, MIB, DriverFixtures, Write, block, new_id


class PlanContract(DriverFixtures):
    allocation_unit = 64 * 1024

    def expected_clone_methods(self, driver: Any) -> dict[bool, CloneMethod]:
        return {False: CloneMethod.LINKED, True: CloneMethod.FULL}

    def test_it_says_how_it_clones(self, driver: Any, pool_state: Any) -> None:
        before = pool_state()
        assert {full: driver.clone_method_for(full) for full in (False, True)} == self.expected_clone_methods(driver)
        assert pool_state() == before

    def test_allocated_bytes_count_what_is_written_through_the_chain(self, driver: Any, write: Write,
                                                                     pool_state: Any) -> None:
        empty, used = self.volume(driver, write), self.volume(driver, write, b"a")
        write(used, 256 * MIB, block(b"b"))
        before = pool_state()
        sizes = driver.allocated_bytes([empty, used])
        assert pool_state() == before
        assert sizes[empty] == 0
        assert 2 * BLOCK <= sizes[used] <= 2 * self.allocation_unit, sizes
        _, clones = self.snapshot_and_clone(driver, [used])
        assert driver.allocated_bytes([clones[used]]) == {clones[used]: sizes[used]}, "a clone reads its source's data"

    def test_a_volume_it_does_not_hold_is_an_error(self, driver: Any, pool_state: Any) -> None:
        before = pool_state()
        with pytest.raises(BackendError):
            driver.allocated_bytes([new_id()])
        assert pool_state() == before
