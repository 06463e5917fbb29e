"""Growing volumes of the local pool (os-extend) on a real qemu-storage-daemon, read back with
real NBD clients (libnbd): closed volumes, clones over a smaller frozen layer, and served volumes.

What it shows about a served volume (QEMU 7.2, docs/measurements.md): the export pins its node's
size (``block_resize`` on an exported node is a permission conflict), so the driver removes the
export, grows the node and adds the export back at the same name; a client connected before is
cut off, and a client that (re)connects sees the new size, the old data and zeros past the old end.
"""

from __future__ import annotations

import time
from typing import Any

import nbd
import pytest

from volclone.backends.local import images
from volclone.backends.local.driver import LocalDriver
from volclone.errors import BackendError

GIB = 1024**3
BLOCK = 64 * 1024


def client(info: dict[str, Any]) -> nbd.NBD:
    h = nbd.NBD()
    h.connect_uri(info["data"]["uri"])
    return h


def size_of(d: LocalDriver, volume_id: str) -> int:
    top = d.store.top(volume_id)
    assert top is not None
    return images.virtual_size(d.path(top.id))


def test_a_closed_volume_grows_with_its_data(driver: LocalDriver) -> None:
    driver.create_volume("a", 1)
    h = client(driver.initialize_connection("a", writable=True))
    h.pwrite(b"\x11" * BLOCK, 0)
    h.shutdown()
    driver.terminate_connection("a")
    assert driver.store.top("a").node not in driver.graph.nodes  # type: ignore[union-attr]

    driver.extend_volume("a", 3)
    assert size_of(driver, "a") == 3 * GIB
    h = client(driver.initialize_connection("a", writable=True))
    assert h.get_size() == 3 * GIB
    assert h.pread(BLOCK, 0) == b"\x11" * BLOCK
    assert h.pread(BLOCK, 2 * GIB) == b"\0" * BLOCK
    h.pwrite(b"\x22" * BLOCK, 3 * GIB - BLOCK)  # the new end is writable
    assert h.pread(BLOCK, 3 * GIB - BLOCK) == b"\x22" * BLOCK
    h.shutdown()


def test_a_clone_grows_past_its_frozen_layer_and_the_snapshot_keeps_its_size(driver: LocalDriver) -> None:
    driver.create_volume("src", 1)
    h = client(driver.initialize_connection("src", writable=True))
    h.pwrite(b"\x33" * BLOCK, GIB - BLOCK)  # the last block below the old end
    h.shutdown()
    driver.terminate_connection("src")
    snap = driver.create_group_snapshot("s1", ["src"])
    driver.clone_from_group_snapshot(snap, {"src": "clone"})
    driver.extend_volume("clone", 2)
    assert size_of(driver, "clone") == 2 * GIB and size_of(driver, "src") == GIB
    frozen = driver.store.get(snap.members["src"])
    assert frozen is not None and images.virtual_size(driver.path(frozen.id)) == GIB
    h = client(driver.initialize_connection("clone", writable=False))
    assert h.get_size() == 2 * GIB
    assert h.pread(BLOCK, GIB - BLOCK) == b"\x33" * BLOCK  # read through the frozen layer
    assert h.pread(BLOCK, GIB) == b"\0" * BLOCK  # past the frozen layer's end: zeros
    h.shutdown()
    driver.extend_volume("src", 2)  # the source grows too; the snapshot does not
    assert images.virtual_size(driver.path(frozen.id)) == GIB


def test_a_served_volume_grows_live_and_a_reconnecting_client_sees_the_new_size(driver: LocalDriver) -> None:
    driver.create_volume("live", 1)
    info = driver.initialize_connection("live", writable=True)
    old = client(info)
    old.pwrite(b"\x44" * BLOCK, 0)
    old.flush()
    assert old.get_size() == GIB

    started = time.monotonic()
    driver.extend_volume("live", 2)
    took_ms = (time.monotonic() - started) * 1000
    assert size_of(driver, "live") == 2 * GIB
    assert driver.initialize_connection("live", writable=True) == info  # the same export, same address
    assert driver.exports.served == {"live": True}

    # The client connected before was cut off (NBD gives the size only at the handshake).
    with pytest.raises(nbd.Error):
        old.pread(BLOCK, 0)
    new = client(info)
    assert new.get_size() == 2 * GIB
    assert new.pread(BLOCK, 0) == b"\x44" * BLOCK
    assert new.pread(BLOCK, GIB + BLOCK) == b"\0" * BLOCK
    new.pwrite(b"\x55" * BLOCK, 2 * GIB - BLOCK)
    assert new.pread(BLOCK, 2 * GIB - BLOCK) == b"\x55" * BLOCK
    new.shutdown()
    print(f"live extend of a served volume: {took_ms:.1f} ms")  # for docs/measurements.md
    assert took_ms < 5000


def test_a_read_only_served_volume_grows_and_stays_read_only(driver: LocalDriver) -> None:
    driver.create_volume("ro", 1)
    info = driver.initialize_connection("ro", writable=False)
    driver.extend_volume("ro", 2)
    assert driver.exports.served == {"ro": False}
    h = client(info)
    assert h.get_size() == 2 * GIB and h.is_read_only()
    h.shutdown()


def test_growing_to_no_more_than_the_size_is_refused_and_changes_nothing(driver: LocalDriver) -> None:
    driver.create_volume("b", 2)
    info = driver.initialize_connection("b", writable=True)
    for size in (1, 2):
        with pytest.raises(BackendError, match="can't grow"):
            driver.extend_volume("b", size)
    assert size_of(driver, "b") == 2 * GIB
    h = client(info)  # still served
    assert h.get_size() == 2 * GIB
    h.shutdown()
    with pytest.raises(BackendError, match="no data"):
        driver.extend_volume("missing", 3)
