"""Serving volumes to consumers (``Attachable``): Cinder's connection_info, and what a consumer
can do with it. A driver's test class also provides ``connect``::

    @pytest.fixture
    def connect(self, driver): ...   # connect(connection_info) -> an object with read(offset, length),
                                     # write(offset, data) and, optionally, close()
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from volclone.backends.base import Attachable
from volclone.errors import VolcloneError

from .base import BLOCK, MIB, DriverFixtures, Read, Write, block, new_id, new_snapshot_id

Connect = Callable[[dict[str, Any]], Any]


class AttachContract(DriverFixtures):
    @pytest.fixture
    def connect(self, driver: Any) -> Connect:
        raise NotImplementedError("the backend's test module opens a connection_info as a consumer would")

    def test_the_capability_is_declared(self, driver: Any) -> None:
        assert isinstance(driver, Attachable)

    def test_connection_info_is_cinders_shape_and_json(self, driver: Any, write: Write) -> None:
        vid = self.volume(driver, write)
        info = driver.initialize_connection(vid, writable=True)
        assert isinstance(info["driver_volume_type"], str) and info["driver_volume_type"]
        assert isinstance(info["data"], dict)
        assert json.loads(json.dumps(info)) == info, "it is stored in the database and sent to clients"
        assert driver.initialize_connection(vid, writable=True) == info, "calling it again is harmless"
        driver.terminate_connection(vid)

    def test_a_writable_connection_reads_and_writes_the_volume(self, driver: Any, write: Write, read: Read,
                                                               connect: Connect) -> None:
        vid = self.volume(driver, write, b"a")
        conn = connect(driver.initialize_connection(vid, writable=True))
        assert conn.read(0, BLOCK) == block(b"a")
        conn.write(MIB, block(b"w"))
        assert conn.read(MIB, BLOCK) == block(b"w")
        driver.terminate_connection(vid)
        assert read(vid, MIB, BLOCK) == block(b"w"), "what the consumer wrote stays after it is gone"

    def test_a_read_only_connection_refuses_writes(self, driver: Any, write: Write, read: Read,
                                                   connect: Connect) -> None:
        vid = self.volume(driver, write, b"r")
        conn = connect(driver.initialize_connection(vid, writable=False))
        assert conn.read(0, BLOCK) == block(b"r")
        with pytest.raises(Exception):  # noqa: B017 - whatever the consumer's library raises
            conn.write(0, block(b"x"))
        driver.terminate_connection(vid)
        assert read(vid, 0, BLOCK) == block(b"r")

    def test_terminating_cuts_the_connection_and_is_idempotent(self, driver: Any, write: Write,
                                                               connect: Connect) -> None:
        vid = self.volume(driver, write, b"t")
        conn = connect(driver.initialize_connection(vid, writable=True))
        driver.terminate_connection(vid)
        with pytest.raises(Exception):  # noqa: B017
            conn.read(0, BLOCK)
        driver.terminate_connection(vid)
        driver.terminate_connection(new_id())  # never served

    def test_changing_the_mode_serves_the_new_one(self, driver: Any, write: Write, read: Read,
                                                  connect: Connect) -> None:
        vid = self.volume(driver, write, b"m")
        ro = connect(driver.initialize_connection(vid, writable=False))
        assert ro.read(0, BLOCK) == block(b"m")
        rw = connect(driver.initialize_connection(vid, writable=True))
        rw.write(0, block(b"M"))
        assert rw.read(0, BLOCK) == block(b"M")
        driver.terminate_connection(vid)
        assert read(vid, 0, BLOCK) == block(b"M")

    def test_a_missing_volume_cannot_be_served(self, driver: Any) -> None:
        with pytest.raises(VolcloneError):
            driver.initialize_connection(new_id(), writable=True)

    def test_a_served_volume_is_snapshotted_while_its_consumer_writes_on(
            self, driver: Any, write: Write, read: Read, connect: Connect) -> None:
        """The consistency point of a live clone: the clone has what was written before the
        snapshot, the consumer's connection keeps working, and its later writes go to the source."""
        vid = self.volume(driver, write)
        conn = connect(driver.initialize_connection(vid, writable=True))
        conn.write(0, block(b"1"))
        sid = new_snapshot_id()
        snap = driver.create_group_snapshot(sid, [vid])
        conn.write(0, block(b"2"))
        clone = new_id()
        driver.clone_from_group_snapshot(snap, {vid: clone})
        driver.delete_group_snapshot(sid)
        conn.write(MIB, block(b"3"))
        assert conn.read(0, BLOCK) == block(b"2")
        assert read(clone, 0, BLOCK) == block(b"1")
        assert read(clone, MIB, BLOCK) == bytes(BLOCK)
        driver.terminate_connection(vid)
        assert read(vid, MIB, BLOCK) == block(b"3")
