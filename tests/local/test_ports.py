"""The local pool's side of cross-backend copies, in process: a snapshot member read over a
private qemu-nbd, written into a new volume of the pool (local -> local here; the real
cross-backend tests in tests/rbd_api/ need Ceph)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from volclone.backends.local.driver import LocalDriver
from volclone.errors import BackendError

MIB = 1024 * 1024




def _qemu_io(path: Path, command: str) -> str:
    out = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-U", "-c", command, str(path)],
                         capture_output=True, text=True, check=True)
    assert "fail" not in out.stdout.lower(), out.stdout
    return out.stdout


def test_a_snapshot_member_copies_into_a_new_volume(driver: LocalDriver) -> None:
    driver.create_volume("v", 1)
    top = driver.store.top("v")
    assert top is not None
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x61 1M 2M", str(driver.path(top.id))],
                   check=True, capture_output=True)
    snap = driver.create_group_snapshot("s", ["v"])
    with driver.open_snapshot_member(snap, "v") as reader:
        extents = list(reader.extents())
        assert extents and all(1 * MIB <= off and off + n <= 3 * MIB + 64 * 1024 for off, n in extents), extents
        writer = driver.import_volume("copy", reader.size)
        assert driver.store.top("copy") is None, "no record until the commit"
        for off, n in extents:
            writer.write(off, reader.read(off, n))
        writer.commit()
    copy = driver.store.top("copy")
    assert copy is not None
    _qemu_io(driver.path(copy.id), "read -P 0x61 1M 2M")
    _qemu_io(driver.path(copy.id), "read -P 0 0 1M")
    with pytest.raises(BackendError, match="exists already"):
        driver.import_volume("copy", MIB)
    driver.delete_group_snapshot("s")


def test_an_aborted_import_leaves_no_file(driver: LocalDriver) -> None:
    before = sorted(p.name for p in driver.pool.iterdir())
    writer = driver.import_volume("gone", 64 * MIB)
    writer.write(0, b"x" * 4096)
    writer.abort()
    assert sorted(p.name for p in driver.pool.iterdir()) == before
    assert driver.store.top("gone") is None
