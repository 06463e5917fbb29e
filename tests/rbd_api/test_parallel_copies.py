"""The RBD driver deep-copies several images at once (``CLONE_WORKERS``): a copy that fails while
others run still leaves no clone behind, and progress still counts whole images, in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from contract.ceph import Cluster, pool_listing
from volclone.backends.rbd.driver import CLONE_WORKERS, RbdDriver, image_name
from volclone.errors import BackendError

from .conftest import MIB, POOL, pattern


@pytest.fixture
def driver(ceph_cluster: Cluster, api_pool: Any) -> Iterator[RbdDriver]:
    d = RbdDriver("ceph", conf=ceph_cluster.conf, pool=POOL)
    d.start()
    yield d
    d.stop()


def sources(driver: RbdDriver, io: Any, count: int) -> list[str]:
    import rbd

    vids = [str(uuid.uuid4()) for _ in range(count)]
    for i, vid in enumerate(vids):
        driver.create_volume(vid, 1)
        with rbd.Image(io, image_name(vid)) as image:
            image.write(pattern(0x30 + i, 4 * MIB), 0)
    return vids


def test_a_copy_failing_while_others_run_leaves_no_clone(driver: RbdDriver, api_pool: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert CLONE_WORKERS > 1
    vids = sources(driver, api_pool, CLONE_WORKERS + 2)
    before = pool_listing(api_pool)
    sid = f"snap-{uuid.uuid4()}"
    snap = driver.create_group_snapshot(sid, vids)
    after_snapshot = pool_listing(api_pool)

    make_clone, started = driver._make_clone, []

    def fail_one(source: str, snap_id: int, clone_id: str) -> None:
        started.append(source)
        make_clone(source, snap_id, clone_id)  # the failing one leaves a whole image behind
        if source == image_name(vids[1]):
            raise BackendError("injected: the cluster went away")

    monkeypatch.setattr(driver, "_make_clone", fail_one)
    with pytest.raises(BackendError, match="injected"):
        driver.clone_from_group_snapshot(snap, {v: str(uuid.uuid4()) for v in vids})
    assert image_name(vids[1]) in started
    assert pool_listing(api_pool) == after_snapshot
    driver.delete_group_snapshot(sid)
    assert pool_listing(api_pool) == before
    for vid in vids:
        driver.delete_volume(vid)


def test_progress_counts_whole_images_in_order(driver: RbdDriver, api_pool: Any) -> None:
    vids = sources(driver, api_pool, CLONE_WORKERS + 2)
    sid = f"snap-{uuid.uuid4()}"
    snap = driver.create_group_snapshot(sid, vids)
    calls: list[tuple[int, int]] = []
    clones = {v: str(uuid.uuid4()) for v in vids}
    driver.clone_from_group_snapshot(snap, clones, progress=lambda done, total: calls.append((done, total)))
    total = len(vids) * 1024 * MIB
    # Each image adds its size once it is made; between, the copy reports again (unchanged) at
    # each tick, where a cancel is heard.
    distinct = [c for n, c in enumerate(calls) if n == 0 or c != calls[n - 1]]
    assert distinct == [(i * 1024 * MIB, total) for i in range(len(vids) + 1)]
    driver.delete_group_snapshot(sid)
    for vid in [*vids, *clones.values()]:
        driver.delete_volume(vid)
