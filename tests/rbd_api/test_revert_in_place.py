"""Revert a set in place on RBD through the API: write A, clone, overwrite with B, revert, read A;
afterwards the pool holds exactly the sources and the clones (no prepared or kept image, no group,
no snapshot), and the clones still read their own data once the sources are deleted."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .conftest import MIB, RbdEnv, pattern


def revert_and_wait(e: RbdEnv, task_id: str, timeout: float = 120) -> dict[str, Any]:
    r = e.user.request("POST", "/clone-volumes/revert", json={"revert": {"task_id": task_id}})
    assert r.status_code == 202, r.text
    uri = httpx.URL(r.json()["revert"]["task_uri"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p: dict[str, Any] = e.user.ok("GET", "/clone-volumes/get_progress", params=dict(uri.params))
        if p["flow_details"]["revertFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
            return p
        time.sleep(0.02)
    raise AssertionError(f"revert of {task_id} did not end")


def test_revert_in_place_on_rbd_reads_back_the_clones_data(rbd_env: RbdEnv) -> None:
    e = rbd_env
    sources = [e.user.create_volume(1, f"rv{i}", volume_type=e.ceph_type)["id"] for i in range(2)]
    for i, vid in enumerate(sources):
        e.write(vid, 0, pattern(0x41 + i, MIB))
    done = e.user.wait(e.user.clone(sources))
    assert done["flow_details"] == {"cloneFlow": "SUCCESS"}, done
    clones = done["details"]["results"]
    for vid in sources:
        e.write(vid, 0, pattern(0x42, MIB))
        e.write(vid, 8 * MIB, pattern(0x43, MIB))
    p = revert_and_wait(e, done["task_id"])
    assert p["flow_details"] == {"revertFlow": "SUCCESS"}, p
    for i, vid in enumerate(sources):
        assert e.read(vid, 0, MIB) == pattern(0x41 + i, MIB)
        assert e.read(vid, 8 * MIB, MIB) == bytes(MIB)
    # the old data goes right after the flow ended (the flow's thread drops it): wait, bounded
    want = {e.image(v) for v in (*sources, *clones.values())}
    deadline = time.monotonic() + 30
    while set(e.listing()["images"]) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    listing = e.listing()
    assert set(listing["images"]) == {e.image(v) for v in (*sources, *clones.values())}, listing["images"]
    assert listing["groups"] == []
    for vid in sources:
        assert e.user.request("DELETE", f"/volumes/{vid}").status_code == 202
    for i, vid in enumerate(sources):
        assert e.read(clones[vid], 0, MIB) == pattern(0x41 + i, MIB)
