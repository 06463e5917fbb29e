"""Cinder's group snapshot on the local pool (a real qemu-storage-daemon, real NBD clients):
``create_snapshots_at_once`` freezes every member in ONE QMP ``transaction`` (recorded here)
while the volumes are served and written, and each member is then an ordinary snapshot: it
exists under its own id, a volume made from it reads what was written before, and it is
deleted on its own."""

from __future__ import annotations

from typing import Any

import nbd

from volclone.backends.local.driver import LocalDriver

BLOCK = 64 * 1024


def client(info: dict[str, Any]) -> nbd.NBD:
    h = nbd.NBD()
    h.connect_uri(info["data"]["uri"])
    return h


def test_members_are_frozen_by_one_transaction_and_read_right(driver: LocalDriver) -> None:
    vols = ["a", "b", "c"]
    clients = {}
    for i, v in enumerate(vols):
        driver.create_volume(v, 1)
        clients[v] = client(driver.initialize_connection(v, writable=True))
        clients[v].pwrite(bytes([0x41 + i]) * BLOCK, 0)
        clients[v].flush()
    tops = {v: driver.store.top(v).node for v in vols}  # type: ignore[union-attr]
    calls: list[tuple[str, dict[str, Any]]] = []
    execute = driver.daemon.execute

    def record(command: str, **arguments: Any) -> Any:
        calls.append((command, arguments))
        return execute(command, **arguments)

    driver.daemon.execute = record  # type: ignore[method-assign]
    try:
        driver.create_snapshots_at_once([(v, f"s-{v}") for v in vols])
    finally:
        driver.daemon.execute = execute  # type: ignore[method-assign]
    transactions = [args for command, args in calls if command == "transaction"]
    assert len(transactions) == 1, calls
    [actions] = [t["actions"] for t in transactions]
    assert [a["type"] for a in actions] == ["blockdev-snapshot"] * 3
    assert [a["data"]["node"] for a in actions] == [tops[v] for v in vols]
    # Each member is an ordinary snapshot, held under its own id (no group-wide hold is left).
    for v in vols:
        assert driver.snapshot_exists(f"s-{v}", v)
        assert not driver.snapshot_exists(f"s-{v}", "a" if v != "a" else "b")
    # Writes after the consistency point don't reach the members.
    for v in vols:
        clients[v].pwrite(b"Z" * BLOCK, 0)
        clients[v].flush()
        clients[v].shutdown()
        driver.terminate_connection(v)
    for i, v in enumerate(vols):
        driver.create_volume_from_snapshot(f"from-{v}", f"s-{v}", v, 1)
        h = client(driver.initialize_connection(f"from-{v}", writable=False))
        assert h.pread(BLOCK, 0) == bytes([0x41 + i]) * BLOCK
        h.shutdown()
        driver.terminate_connection(f"from-{v}")
        driver.delete_volume(f"from-{v}")
    for v in vols:
        driver.delete_snapshot(f"s-{v}", v)
        assert not driver.snapshot_exists(f"s-{v}", v)
    assert all(not driver.store.held_by(layer.id) for v in vols for layer in driver.store.chain(v))
