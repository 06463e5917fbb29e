"""What every volclone storage driver must do, as tests: the fixtures and helpers that every
part of the contract shares.

The contract is one mixin per capability of ``volclone.backends.base`` (fsspec's
``tests/abstract`` works the same way); a backend's test class mixes in the parts its
driver implements and provides the fixtures::

    class TestMyDriver(VolumeContract, GroupSnapshotContract):
        @pytest.fixture
        def driver(self): ...            # a started driver; stopped after the test
        @pytest.fixture
        def write(self, driver): ...     # write(volume_id, offset, data) into the volume
        @pytest.fixture
        def read(self, driver): ...      # read(volume_id, offset, length) -> bytes
        @pytest.fixture
        def pool_state(self, driver): ...  # pool_state() -> a comparable listing of the pool

The parts, one module each:

* ``volumes.VolumeContract``: the primitives (create, exists, delete, data kept);
* ``group_snapshots.GroupSnapshotContract``: consistent group snapshots and their clones;
* ``attach.AttachContract``: connections (the test class also provides ``connect``);
* ``flatten.FlattenContract``: making a volume independent of shared layers;
* ``cross_backend.CrossBackendContract``: reading snapshot members and importing volumes,
  copied to and from an in-memory driver.

Each covers what must NOT happen too: a failed call leaves nothing behind, and a driver
without a capability is recognised as such.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

Write = Callable[[str, int, bytes], None]
Read = Callable[[str, int, int], bytes]

BLOCK = 4096
MIB = 1024**2


def new_id() -> str:
    return str(uuid.uuid4())


def new_snapshot_id() -> str:
    return f"snap-{uuid.uuid4()}"


def block(char: bytes) -> bytes:
    """One 4 KiB block filled with ``char``."""
    return char * BLOCK


ZEROS = bytes(BLOCK)


class DriverFixtures:
    """The fixtures a backend's test class provides, and helpers on top of them."""

    size_gib = 1

    @pytest.fixture
    def driver(self) -> Any:
        raise NotImplementedError("the backend's test module provides a started driver")

    @pytest.fixture
    def write(self, driver: Any) -> Write:
        raise NotImplementedError

    @pytest.fixture
    def read(self, driver: Any) -> Read:
        raise NotImplementedError

    @pytest.fixture
    def pool_state(self, driver: Any) -> Callable[[], Any]:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------
    def volume(self, driver: Any, write: Write, char: bytes | None = None) -> str:
        """A new volume; with ``char``, its first block is filled with it."""
        vid = new_id()
        driver.create_volume(vid, self.size_gib)
        if char is not None:
            write(vid, 0, block(char))
        return vid

    def snapshot_and_clone(self, driver: Any, sources: list[str]) -> tuple[str, dict[str, str]]:
        """Group-snapshot ``sources``, clone them all, drop the snapshot; returns (snapshot id, clones)."""
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, sources)
        clones = {s: new_id() for s in sources}
        driver.clone_from_group_snapshot(snap, clones)
        driver.delete_group_snapshot(sid)
        return sid, clones
