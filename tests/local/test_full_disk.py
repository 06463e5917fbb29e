"""A full disk, through the real server, with a small tmpfs as the pool or the data directory.

* A full pool: creating a volume answers a clean 507 fault that names no server path and
  leaves no row (each try used to leave an ``error`` volume); a clone fails and reverts,
  and its failure names no server path either.
* A full data directory (database, pool and daemon socket on it): the service still
  starts (its reflink probe used to need room for a file; the database gets the room
  kept in reserve for it), so deletes can make room.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Env, Server, _start
from volclone.db.reserve import RESERVE_BYTES


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte; returns the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (bytes(1 << 20), bytes(4096), bytes(1)):
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


def _tmpfs(mnt: Path, size: str) -> None:
    mnt.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)


def _end(e: Env, mnt: Path, keep_log: Path) -> None:
    e.server.close()
    if (e.server.data_dir / "serve.log").exists():
        shutil.copy(e.server.data_dir / "serve.log", keep_log)  # for a failure's report; the tmpfs goes
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def small_pool(tmp_path: Path) -> Iterator[tuple[Env, Path]]:
    """A server whose pool is a 64 MiB filesystem of its own."""
    data = tmp_path / "data"
    pool = data / "pool"
    _tmpfs(pool, "64m")
    e = _start(data)
    try:
        yield e, pool
    finally:
        _end(e, pool, tmp_path / "serve.log")


@pytest.fixture
def small_data_dir(tmp_path: Path) -> Iterator[tuple[Env, Path]]:
    """A server whose whole data directory is a 96 MiB filesystem."""
    data = tmp_path / "data"
    _tmpfs(data, "96m")
    e = _start(data)
    try:
        yield e, data
    finally:
        _end(e, data, tmp_path / "serve.log")


def _no_server_path(server: Server, text: str) -> None:
    assert str(server.data_dir) not in text and "/pool" not in text and "qemu-img" not in text, text


def test_a_full_pool_gives_a_clean_fault_and_leaves_nothing(small_pool: tuple[Env, Path]) -> None:
    env, pool = small_pool
    kept = env.user.create_volume(1, name="kept")
    filler = fill(pool)
    rows = env.server.db_rows("SELECT id, status FROM volumes ORDER BY id")
    files = env.server.pool_files()
    for _ in range(3):
        r = env.user.request("POST", "/volumes", json={"volume": {"size": 1, "name": "no-room"}})
        assert r.status_code == 507, r.text
        body = r.json()
        assert list(body) == ["insufficientStorage"] and body["insufficientStorage"]["code"] == 507, body
        _no_server_path(env.server, r.text)
    assert env.server.db_rows("SELECT id, status FROM volumes ORDER BY id") == rows, "no error rows"
    assert env.server.pool_files() == files

    p = env.user.wait(env.user.clone([kept["id"]]))
    assert p["flow_details"]["cloneFlow"] == "REVERTED", p
    assert "full" in p["details"]["results"]["failure"], p
    _no_server_path(env.server, str(p))
    assert env.server.pool_files() == files
    assert env.server.db_rows("SELECT id, status FROM volumes ORDER BY id") == rows

    filler.unlink()
    assert env.user.create_volume(1, name="room-again")["status"] == "available"
    assert env.user.wait(env.user.clone([kept["id"]]))["flow_details"]["cloneFlow"] == "SUCCESS"


def test_the_service_starts_on_a_full_data_dir_and_serves_deletes(small_data_dir: tuple[Env, Path]) -> None:
    env, data = small_data_dir
    doomed = env.user.create_volume(1, name="doomed")
    env.server.stop()
    filler = fill(data)
    env.server.start()
    r = env.user.request("DELETE", f"/volumes/{doomed['id']}")
    assert r.status_code == 202, r.text
    assert env.user.request("GET", f"/volumes/{doomed['id']}").status_code == 404
    assert env.server.db_rows("SELECT id FROM layers") == []
    assert env.server.pool_files() == set()
    filler.unlink()
    env.server.stop()
    env.server.start()  # with room again, the reserve is taken back
    assert (data / "space-reserve").stat().st_size == RESERVE_BYTES
    assert env.user.create_volume(1)["status"] == "available"


def test_the_reflink_probe_of_a_full_pool_says_no_instead_of_failing(tmp_path: Path) -> None:
    from volclone.backends.local import images

    mnt = tmp_path / "pool"
    _tmpfs(mnt, "4m")
    try:
        fill(mnt)
        assert images.can_reflink(mnt) is False
        assert sorted(p.name for p in mnt.iterdir()) == ["filler"], "the probe leaves no file"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
