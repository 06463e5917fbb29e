"""Clone requests that overlap in their sources, all at once, on one server.

Six requests name two to four of four sources and are fired from threads at the
same instant (more than the server's four flow workers, so some wait their turn
while others freeze the same sources). Every one must succeed with clones that
hold exactly their sources' data; the layer records and the pool must agree; and
deleting everything in a random order must leave every remaining volume's data
intact after each step and, at the end, an empty pool.
"""

from __future__ import annotations

import random
import threading

from conftest import Env

from . import disk

SOURCES = 4
REQUESTS = [[0, 1], [1, 2, 3], [0, 2], [0, 1, 2, 3], [3, 0], [2, 1, 3]]


def regions(i: int) -> list[tuple[int, int | str, int | str]]:
    """Source ``i``'s data: its own pattern at 0, a second one at (i+1) MiB, zeros after."""
    return [(0x40 + i, 0, "64k"), (0x80 + i, f"{i + 1}M", "128k"), (0, "8M", "64k")]


def test_overlapping_clones_at_once(make_env) -> None:
    # The layer structure is inspected while nothing runs: background flattening (which these
    # deep chains would trigger, and tests/consistency/test_chain_depth.py covers) is off here.
    e: Env = make_env(VOLCLONE_MAX_CHAIN_DEPTH="0")
    srv = e.server
    sources = [e.user.create_volume(1, f"s{i}")["id"] for i in range(SOURCES)]
    for i, vid in enumerate(sources):
        for pattern, off, length in regions(i):
            if pattern:
                disk.write(srv.active_file(vid), pattern, off, length)
    sums = {vid: disk.digest(srv.active_file(vid)) for vid in sources}

    # -- fire every request at the same instant, each from its own client --------
    barrier = threading.Barrier(len(REQUESTS))
    tasks: list[str | None] = [None] * len(REQUESTS)
    errors: list[BaseException] = []

    def fire(n: int, picks: list[int]) -> None:
        api = srv.client(e.user_token, "p1")
        try:
            barrier.wait(10)
            tasks[n] = api.clone([sources[i] for i in picks])
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(n, picks)) for n, picks in enumerate(REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors

    expected: dict[str, int] = {}  # volume id -> index of the source whose data it holds
    for picks, task in zip(REQUESTS, tasks, strict=False):
        assert task is not None
        p = e.user.wait(task)
        assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
        results = p["details"]["results"]
        assert set(results) == {sources[i] for i in picks}
        for i in picks:
            expected[results[sources[i]]] = i
    assert len(expected) == sum(len(r) for r in REQUESTS), "every clone is a volume of its own"
    for clone, i in expected.items():
        assert disk.digest(srv.active_file(clone)) == sums[sources[i]], f"clone of s{i}"
        vol = e.user.ok("GET", f"/volumes/{clone}")["volume"]
        assert vol["status"] == "available"
        assert vol["metadata"]["clone_source_volume_id"] == sources[i]
    expected.update({vid: i for i, vid in enumerate(sources)})
    disk.assert_pool_sane(srv)

    # -- delete everything in a random order; what remains keeps its data ---------
    seed = random.randrange(2**32)
    order = list(expected)
    random.Random(seed).shuffle(order)
    for n, vid in enumerate(order):
        r = e.user.request("DELETE", f"/volumes/{vid}")
        assert r.status_code == 202, f"seed {seed}, step {n}: {r.status_code} {r.text}"
        left = order[n + 1:]
        for other in left:
            disk.expect(srv.active_file(other), *regions(expected[other]))
        for i, src in enumerate(sources):
            if src in left and not any(expected[v] == i for v in left if v != src):
                assert len(disk.chain_files(srv, src)) == 1, f"seed {seed}, step {n}: s{i} has no clone left"
    disk.assert_pool_sane(srv)
    assert e.user.ok("GET", "/volumes")["volumes"] == []
    assert disk.pool_state(srv) == (set(), set()), f"seed {seed}"
    assert srv.db_rows("SELECT * FROM layers") == []
    assert srv.db_rows("SELECT * FROM snapshot_members") == []
