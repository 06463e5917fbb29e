"""clone_mode=full (point-in-time copies started in the snapshot's transaction) and reflink
clones on a filesystem that shares blocks (XFS on a loop file), through the real server."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Env
from flows.disk import digest, expect, write

MIB = 1024 * 1024


def _layer(server: Any, volume_id: str) -> tuple[str, str | None]:
    [(layer_id, parent_id)] = server.db_rows("SELECT id, parent_id FROM layers WHERE volume_id = ?", volume_id)
    return layer_id, parent_id


def _depth(server: Any, volume_id: str) -> int:
    layer_id, parent = _layer(server, volume_id)
    depth = 1
    while parent:
        [(parent,)] = server.db_rows("SELECT parent_id FROM layers WHERE id = ?", parent)
        depth += 1
    return depth


@pytest.fixture(scope="module")
def full_type(env: Env) -> str:
    body = {"volume_type": {"name": "full-copies", "extra_specs": {"clone_mode": "full"}}}
    return str(env.admin.ok("POST", "/types", json=body)["volume_type"]["id"])


def test_clone_mode_must_be_linked_or_full(env: Env) -> None:
    r = env.admin.request("POST", "/types", json={"volume_type": {"name": "bad-mode",
                                                                  "extra_specs": {"clone_mode": "deep"}}})
    assert r.status_code == 400 and "clone_mode" in r.json()["badRequest"]["message"]


def test_full_copies_are_independent_point_in_time_copies_with_byte_progress(env: Env, full_type: str) -> None:
    a = env.user.create_volume(1, "full-a", volume_type=full_type)["id"]
    b = env.user.create_volume(1, "full-b", volume_type=full_type)["id"]
    write(env.server.active_file(a), 0x61, 0, "96M")
    write(env.server.active_file(b), 0x62, 64 * MIB, "32M")
    before = {v: digest(env.server.active_file(v)) for v in (a, b)}

    p = env.user.wait(env.user.clone([a, b]))
    assert p["flow_details"]["cloneFlow"] == "SUCCESS", p
    details = p["details"]
    assert details["bytes_total"] == 2 * 1024 * MIB and details["bytes_done"] == details["bytes_total"]
    clones = details["results"]
    for src, clone in clones.items():
        assert _layer(env.server, clone)[1] is None, "a full copy has no backing layer"
        assert _depth(env.server, src) == 1, "a full copy leaves its source's chain alone"
        assert digest(env.server.active_file(clone)) == before[src]
    write(env.server.active_file(a), 0x71, 0, "64k")
    expect(env.server.active_file(clones[a]), (0x61, 0, "64k"))
    assert env.server.daemon_nodes() == []


def test_a_set_of_full_and_linked_sources_is_cloned_at_one_point(env: Env, full_type: str) -> None:
    """One source of type clone_mode=full and one linked, in one request: one transaction takes
    both (QEMU refuses a grouped completion mode beside a blockdev-snapshot, so none is asked)."""
    a = env.user.create_volume(1, "mixed-full", volume_type=full_type)["id"]
    b = env.user.create_volume(1, "mixed-linked")["id"]
    write(env.server.active_file(a), 0x61, 0, "8M")
    write(env.server.active_file(b), 0x62, 0, "8M")
    before = {v: digest(env.server.active_file(v)) for v in (a, b)}

    p = env.user.wait(env.user.clone([a, b]))
    assert p["flow_details"]["cloneFlow"] == "SUCCESS", p
    clones = p["details"]["results"]
    assert _layer(env.server, clones[a])[1] is None, "the full source's clone is a full copy"
    assert _layer(env.server, clones[b])[1] is not None, "the linked source's clone is a layer over the point"
    assert {src: digest(env.server.active_file(c)) for src, c in clones.items()} == before


def test_full_copy_revert_leaves_nothing(make_env: Any) -> None:
    e = make_env(VOLCLONE_FAILPOINTS="create_group_clone")
    tid = e.admin.ok("POST", "/types", json={"volume_type": {"name": "f", "extra_specs": {"clone_mode": "full"}}})
    vol = e.user.create_volume(1, "src", volume_type=tid["volume_type"]["id"])["id"]
    write(e.server.active_file(vol), 0x33, 0, "16M")
    files, rows = e.server.pool_files(), e.server.db_rows("SELECT id FROM layers ORDER BY id")
    p = e.user.wait(e.user.clone([vol]))
    assert p["flow_details"]["cloneFlow"] == "REVERTED" and "failpoint" in p["details"]["results"]["failure"]
    assert e.server.pool_files() == files and e.server.db_rows("SELECT id FROM layers ORDER BY id") == rows
    assert e.server.db_rows("SELECT * FROM snapshot_members") == []
    assert e.server.daemon_nodes() == []
    expect(e.server.active_file(vol), (0x33, 0, "16M"))


# -- reflink -------------------------------------------------------------------------
@contextlib.contextmanager
def xfs_mount(tmp: Path) -> Iterator[Path]:
    """An XFS filesystem with reflink on a sparse loop file, mounted for the test."""
    if shutil.which("mkfs.xfs") is None:
        pytest.fail("mkfs.xfs is missing: scripts/setup installs xfsprogs")
    image, mnt = tmp / "xfs.img", tmp / "mnt"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "2G", str(image)], check=True)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_reflink_clones_are_independent_and_chains_stay_one_deep(tmp_path: Path) -> None:
    from conftest import _start

    with xfs_mount(tmp_path) as mnt:
        e = _start(mnt / "data")
        try:
            a = e.user.create_volume(1, "rl-a")["id"]
            b = e.user.create_volume(1, "rl-b")["id"]
            write(e.server.active_file(a), 0x41, 0, "64M")
            write(e.server.active_file(b), 0x42, 0, "64M")
            used_before = shutil.disk_usage(mnt).used
            clones = [e.user.wait(e.user.clone([a, b]))["details"]["results"] for _ in range(3)]
            used_after = shutil.disk_usage(mnt).used
            for results in clones:
                for src, clone in results.items():
                    assert _layer(e.server, clone)[1] is None, "a reflink clone is one file"
                    expect(e.server.active_file(clone), (0x41 if src == a else 0x42, 0, "64M"))
            assert _depth(e.server, a) == 1 and _depth(e.server, b) == 1, "the overlays folded back"
            # six 64 MiB clones share their blocks with the sources
            assert used_after - used_before < 64 * MIB, (used_before, used_after)
            write(e.server.active_file(a), 0x51, 0, "64k")
            expect(e.server.active_file(clones[0][a]), (0x41, 0, "64k"))
            assert e.user.request("DELETE", f"/volumes/{a}").status_code == 202
            expect(e.server.active_file(clones[2][a]), (0x41, 0, "64M"))
        finally:
            e.server.stop()
