"""Long work on one volume does not stop the pool: a live flatten runs without the pool
lock, under a busy mark that only that volume's operations wait for, and every such wait
is bounded; stopping gives up a full copy in progress instead of waiting it out.

Real daemon and files; the block jobs are slowed (QMP ``speed``) so that they surely
still run while the test looks.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from volclone.backends.local.driver import LocalDriver
from volclone.errors import BackendError

#: Slow enough that a job of a few MiB is still running when the test checks.
SLOW = 64 * 1024


@pytest.fixture
def driver(make_driver: Callable[..., LocalDriver]) -> LocalDriver:
    return make_driver(max_chain_depth=0)


def _top(driver: LocalDriver, volume_id: str) -> Path:
    top = driver.store.top(volume_id)
    assert top is not None
    return driver.path(top.id)


def _jobs(driver: LocalDriver, prefix: str) -> list[dict[str, Any]]:
    return [j for j in driver.daemon.execute("query-jobs") if j["id"].startswith(prefix)]


class Background(threading.Thread):
    """Runs ``fn`` and keeps what it returned or raised."""

    def __init__(self, fn: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.outcome: list[object] = []

    def run(self) -> None:
        try:
            self.outcome.append(self.fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.outcome.append(exc)


def _two_deep_and_exported(driver: LocalDriver, volume_id: str) -> None:
    driver.create_volume(volume_id, 1)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 8M", str(_top(driver, volume_id))],
                   check=True, capture_output=True)
    snap = driver.create_group_snapshot(f"s-{volume_id}", [volume_id])
    driver.clone_from_group_snapshot(snap, {volume_id: f"c-{volume_id}"})
    driver.delete_group_snapshot(f"s-{volume_id}")
    assert driver.depth(volume_id) == 2
    driver.initialize_connection(volume_id, writable=True)


def _slowed(driver: LocalDriver) -> None:
    real = driver.daemon.run_job
    driver.daemon.run_job = lambda *a, **kw: real(*a, speed=SLOW, **kw)  # type: ignore[method-assign]


def test_a_live_flatten_does_not_hold_up_the_rest_of_the_pool(driver: LocalDriver) -> None:
    _two_deep_and_exported(driver, "v")
    driver.create_volume("w", 1)
    _slowed(driver)
    flatten = Background(lambda: driver.flatten("v"))
    flatten.start()
    while not _jobs(driver, "stream-"):
        assert flatten.is_alive(), flatten.outcome
    # Other volumes: exported, snapshotted, cloned, deleted -- while the stream runs.
    driver.initialize_connection("w", writable=True)
    snap = driver.create_group_snapshot("s-w", ["w"])
    driver.clone_from_group_snapshot(snap, {"w": "c-w"})
    driver.delete_group_snapshot("s-w")
    driver.terminate_connection("w")
    driver.delete_volume("c-w")
    driver.create_volume("x", 1)
    assert _jobs(driver, "stream-"), "the flatten was still running all along"
    # The busy volume's own operations wait, and give up after the bound.
    driver.busy_timeout = 0.2
    with pytest.raises(BackendError, match="busy"):
        driver.create_group_snapshot("s-v", ["v"])
    with pytest.raises(BackendError, match="busy"):
        driver.delete_volume("v")
    driver.busy_timeout = 600
    driver.interrupt()
    flatten.join(60)
    assert not flatten.is_alive()
    assert driver.depth("v") == 2, "a given-up flatten leaves the chain as it was"


def test_a_copy_mark_left_behind_does_not_park_a_snapshot_forever(driver: LocalDriver) -> None:
    driver.create_volume("v", 1)
    driver._copying.add("v")  # a full copy whose mark was never cleared (an error path)
    driver.busy_timeout = 0.2
    attempt = Background(lambda: driver.create_group_snapshot("s", ["v"]))
    attempt.start()
    attempt.join(60)
    assert not attempt.is_alive(), "the snapshot waits forever"
    [outcome] = attempt.outcome
    assert isinstance(outcome, BackendError) and "busy" in outcome.message, outcome


def test_stopping_gives_up_a_full_copy_instead_of_waiting_it_out(driver: LocalDriver) -> None:
    driver.create_volume("v", 1)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 32M", str(_top(driver, "v"))],
                   check=True, capture_output=True)
    snap = driver.create_group_snapshot("s", ["v"], full_copy=["v"])
    [job] = _jobs(driver, "copy-")
    driver.daemon.execute("block-job-set-speed", device=job["id"], speed=SLOW)
    clone = Background(lambda: driver.clone_from_group_snapshot(snap, {"v": "c"}))
    clone.start()
    driver.interrupt()
    clone.join(60)
    assert not clone.is_alive(), "the clone waited for the whole copy"
    [outcome] = clone.outcome
    assert isinstance(outcome, BackendError) and "stopping" in outcome.message, outcome
    driver.delete_group_snapshot("s")  # what the flow's revert does
    assert _jobs(driver, "copy-") == []
    assert driver.store.top("c") is None


def test_a_live_merge_does_not_hold_up_the_rest_of_the_pool(driver: LocalDriver) -> None:
    """Deleting a volume's last clone folds the volume's overlay back into its frozen layer: for an
    exported volume a live block-commit, which runs without the pool lock (the volume is busy)."""
    driver.create_volume("v", 1)
    snap = driver.create_group_snapshot("s-v", ["v"])
    driver.clone_from_group_snapshot(snap, {"v": "c-v"})
    driver.delete_group_snapshot("s-v")
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 48M", str(_top(driver, "v"))],
                   check=True, capture_output=True)  # the overlay holds data to commit
    info: Any = driver.initialize_connection("v", writable=True)
    driver.create_volume("w", 1)
    assert driver.depth("v") == 2
    _slowed(driver)
    delete = Background(lambda: driver.delete_volume("c-v"))
    delete.start()
    while not _jobs(driver, "commit-"):
        assert delete.is_alive(), delete.outcome
    # Other volumes: exported, snapshotted, cloned, deleted -- while the commit runs.
    def other_volumes() -> None:
        driver.initialize_connection("w", writable=True)
        snap = driver.create_group_snapshot("s-w", ["w"])
        driver.clone_from_group_snapshot(snap, {"w": "c-w"})
        driver.delete_group_snapshot("s-w")
        driver.terminate_connection("w")
        driver.delete_volume("c-w")
        driver.create_volume("x", 1)

    others = Background(other_volumes)
    others.start()
    others.join(60)
    [job] = _jobs(driver, "commit-")
    if others.is_alive():  # let the commit end before failing, so the daemon stops cleanly
        driver.daemon.execute("block-job-set-speed", device=job["id"], speed=0)
    assert not others.is_alive(), "another volume's operations waited for the merge"
    assert others.outcome == [None], others.outcome
    assert delete.is_alive(), "the commit was still running all along"
    # The merging volume's own operations wait, and give up after the bound.
    driver.busy_timeout = 0.2
    with pytest.raises(BackendError, match="busy"):
        driver.create_group_snapshot("s-v2", ["v"])
    driver.busy_timeout = 600
    driver.daemon.execute("block-job-set-speed", device=job["id"], speed=0)  # let it finish now
    delete.join(60)
    assert delete.outcome == [None]
    assert driver.depth("v") == 1, "the overlay was folded into its frozen layer"
    out = subprocess.run(["qemu-io", "-f", "raw", "-r", "-c", "read -P 0x5a 0 48M", info["data"]["uri"]],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Pattern verification failed" not in out.stdout, out.stdout + out.stderr
