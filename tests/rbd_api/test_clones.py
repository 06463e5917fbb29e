"""Clones of RBD volumes through the API: progress in bytes, data, and nothing left behind --
after a success, after a revert at every task, and whatever order volumes are deleted in."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from volclone.flows.model import Step

from .conftest import MIB, RbdEnv, pattern

#: The flow's task-name prefixes, in order.
TASKS = [s.prefix for s in Step]


def no_clone_leftovers(listing: dict[str, Any]) -> None:
    """No group, no group snapshot on any image, no snapshot record, no partial image."""
    assert listing["groups"] == [], listing["groups"]
    for image, snaps in listing["images"].items():
        assert snaps == [], (image, snaps)
        assert not image.endswith(".partial"), image
    assert not [o for o in listing["objects"] if o.startswith("volclone_group_snapshot.")]


def watch(e: RbdEnv, task_id: str, timeout: float = 120) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll get_progress until the flow ends; returns the last answer and every one seen."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = e.user.progress(task_id)
        seen.append(p)
        if p["flow_details"]["cloneFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
            return p, seen
        time.sleep(0.01)
    raise AssertionError(f"clone task {task_id} did not end: {seen[-1]}")


def test_a_clone_of_rbd_volumes_reports_bytes_and_leaves_no_group_or_snapshot(rbd_env: RbdEnv) -> None:
    e = rbd_env
    sizes = [1, 2, 1, 1]
    sources = [e.user.create_volume(size, f"src{i}", volume_type=e.ceph_type)["id"] for i, size in enumerate(sizes)]
    for i, vid in enumerate(sources):
        assert e.volume(vid)["os-vol-host-attr:host"].split("@", 1)[1].startswith("ceph#")
        e.write(vid, 0, pattern(0x41 + i, 48 * MIB))  # enough that the copies take a moment
        e.write(vid, 900 * MIB, pattern(0x61 + i, 64 * 1024))
    before = e.listing()

    p, seen = watch(e, e.user.clone(sources, **{"display-name": "nightly"}))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    total = sum(sizes) * 1024 * MIB
    assert p["details"]["bytes_total"] == total and p["details"]["bytes_done"] == total
    assert {k: p["details"]["consistency"][k] for k in ("level", "method", "members")} == {
        "level": "crash-consistent", "method": "rbd-group-snapshot", "members": sources}
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    copied = [s["details"]["bytes_done"] for s in seen if "bytes_done" in s["details"]]
    assert copied == sorted(copied)
    # Ceph 16's deep copy reports per image, several images at once: a poll may or may not
    # land between two images, but it must see the copy before it is done.
    assert copied and copied[0] < total, f"no progress seen before the end: {copied}"
    assert set(p["details"]["completed_tasks"]) >= {t + p["task_id"][:8] for t in TASKS}

    clones = p["details"]["results"]
    for i, src in enumerate(sources):
        c = e.volume(clones[src])
        assert (c["status"], c["size"], c["volume_type"]) == ("available", sizes[i], "ceph")
        assert c["os-vol-host-attr:host"].split("@", 1)[1].startswith("ceph#")
        assert c["metadata"]["clone_source_volume_id"] == src
        assert e.read(clones[src], 0, 48 * MIB) == pattern(0x41 + i, 48 * MIB)
        assert e.read(clones[src], 900 * MIB, 64 * 1024) == pattern(0x61 + i, 64 * 1024)
        assert e.read(clones[src], 100 * MIB, 4096) == bytes(4096)
    after = e.listing()
    no_clone_leftovers(after)
    assert set(after["images"]) == set(before["images"]) | {f"volume-{c}" for c in clones.values()}
    e.delete(*sources, *clones.values())
    assert set(e.listing()["images"]) == set(before["images"]) - {f"volume-{s}" for s in sources}


@pytest.mark.parametrize("failpoint", TASKS, ids=[t.rstrip("-") for t in TASKS])
def test_a_revert_at_any_task_leaves_the_pool_as_it_was(make_rbd_env: Any, failpoint: str) -> None:
    e: RbdEnv = make_rbd_env(VOLCLONE_FAILPOINTS=failpoint)
    a = e.user.create_volume(1, "a", volume_type=e.ceph_type)["id"]
    b = e.user.create_volume(1, "b", volume_type=e.ceph_type)["id"]
    e.write(a, 0, pattern(0x5A, MIB))
    e.write(b, 2 * MIB, pattern(0xA5, MIB))
    before = e.listing()

    p = e.user.wait(e.user.clone([a, b]), timeout=120)
    assert p["flow_details"] == {"cloneFlow": "REVERTED"}, p
    assert failpoint in p["details"]["results"]["failure"]
    assert e.listing() == before
    assert {v["id"] for v in e.user.ok("GET", "/volumes")["volumes"]} == {a, b}
    assert e.server.db_rows("SELECT * FROM volume_groups") == []
    for vid in (a, b):
        assert (e.volume(vid)["status"], e.volume(vid)["metadata"]) == ("available", {})
    assert e.read(a, 0, MIB) == pattern(0x5A, MIB) and e.read(b, 2 * MIB, MIB) == pattern(0xA5, MIB)
    e.delete(a, b)


def test_deleting_sources_and_clones_in_any_order_loses_no_data(rbd_env: RbdEnv) -> None:
    """A source, its clone and the clone's clone, each written after it was cloned, then
    deleted in every order: what is left always reads as written."""
    e = rbd_env
    before = e.listing()
    for order in itertools.permutations(range(3)):
        src = e.user.create_volume(1, "src", volume_type=e.ceph_type)["id"]
        e.write(src, 0, pattern(0x11, 64 * 1024))
        clone = e.user.wait(e.user.clone([src]))["details"]["results"][src]
        e.write(clone, MIB, pattern(0x22, 64 * 1024))
        grand = e.user.wait(e.user.clone([clone]))["details"]["results"][clone]
        e.write(grand, 2 * MIB, pattern(0x33, 64 * 1024))
        e.write(src, 3 * MIB, pattern(0x44, 64 * 1024))
        expected = {
            src: {0: 0x11, MIB: 0, 2 * MIB: 0, 3 * MIB: 0x44},
            clone: {0: 0x11, MIB: 0x22, 2 * MIB: 0, 3 * MIB: 0},
            grand: {0: 0x11, MIB: 0x22, 2 * MIB: 0x33, 3 * MIB: 0},
        }
        volumes = [src, clone, grand]
        for gone in order:
            e.delete(volumes[gone])
            expected.pop(volumes[gone])
            for vid, blocks in expected.items():
                for offset, byte in blocks.items():
                    assert e.read(vid, offset, 64 * 1024) == pattern(byte, 64 * 1024), (order, vid, offset)
        assert e.listing() == before, order
