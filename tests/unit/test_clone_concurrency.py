"""Clone requests that overlap in their sources, all at once; and deletes racing clones.

As tests/flows/test_concurrency.py does on a real server, with more requests than flow
workers: every request succeeds with clones that hold exactly their sources' data, and
deleting everything in a random order keeps what remains intact and, at the end, leaves
nothing in the backend.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from volclone.domain import TaskState
from volclone.errors import InvalidVolume, NotFound

from .conftest import MIB, Fast

SOURCES = 5
REQUESTS = [[0, 1], [1, 2, 3], [0, 2], [0, 1, 2, 3, 4], [3, 0], [2, 1, 3], [4], [4, 0], [1, 4, 2], [3]]


def run_all(fns: list[Callable[[], object]]) -> list[object]:
    """Call every ``fn`` from its own thread at the same instant; returns results (or exceptions)."""
    barrier = threading.Barrier(len(fns))
    out: list[object] = [None] * len(fns)

    def one(i: int) -> None:
        barrier.wait(10)
        try:
            out[i] = fns[i]()
        except Exception as exc:  # handed to the test's thread
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_overlapping_clones_at_once(make_fast: Callable[..., Fast]) -> None:
    fast = make_fast(flow_workers=3)
    sources = [fast.volume(1, f"s{i}", fill=bytes([0x40 + i])).id for i in range(SOURCES)]
    for i, vid in enumerate(sources):
        fast.mem.write(vid, (i + 2) * MIB, bytes([0x80 + i]) * 4096)
    sums = {vid: fast.digest(vid) for vid in sources}

    tasks = run_all([lambda picks=picks: fast.clone([sources[i] for i in picks]) for picks in REQUESTS])
    assert all(isinstance(t, str) for t in tasks), tasks

    holds: dict[str, int] = {}  # volume id -> index of the source whose data it holds
    for picks, task in zip(REQUESTS, tasks, strict=True):
        assert isinstance(task, str)
        p = fast.wait(task)
        assert p.flow_state is TaskState.SUCCESS, p
        assert list(p.results) == [sources[i] for i in picks]
        for i in picks:
            holds[p.results[sources[i]]] = i
    assert len(holds) == sum(len(r) for r in REQUESTS), "every clone is a volume of its own"
    for clone, i in holds.items():
        assert fast.digest(clone) == sums[sources[i]], f"clone of s{i}"
        vol = fast.get(clone)
        assert vol.status.value == "available"
        assert vol.metadata["clone_source_volume_id"] == sources[i]
    holds.update({vid: i for i, vid in enumerate(sources)})
    assert fast.db_rows("SELECT * FROM volume_groups") == []
    assert fast.mem.state()[2] == []

    seed = random.randrange(2**32)
    order = list(holds)
    random.Random(seed).shuffle(order)
    for n, vid in enumerate(order):
        fast.svc.volumes.delete(fast.who, "p1", vid)
        for other in order[n + 1:]:
            assert fast.digest(other) == sums[sources[holds[other]]], f"seed {seed}, step {n}"
    assert fast.volume_ids() == set()
    assert fast.mem.state() == ([], [], []), f"seed {seed}: every layer went"


def test_the_same_sources_cloned_by_many_at_once(make_fast: Callable[..., Fast]) -> None:
    fast = make_fast(flow_workers=4)
    a, b = fast.volume(1, "a", fill=b"a").id, fast.volume(1, "b", fill=b"b").id
    sums = {a: fast.digest(a), b: fast.digest(b)}
    tasks = run_all([lambda: fast.clone([a, b])] * 12)
    for task in tasks:
        assert isinstance(task, str), task
        p = fast.wait(task)
        assert p.flow_state is TaskState.SUCCESS
        assert [fast.digest(p.results[s]) for s in (a, b)] == [sums[a], sums[b]]


@pytest.mark.parametrize("rounds", [20])
def test_a_delete_racing_a_clone_never_strands_either(fast: Fast, rounds: int) -> None:
    """A source deleted while a clone of it starts. Never a clone of a deleted source, never
    a source left grouped or in 'deleting'. Both may back off (the delete claimed the source,
    the flow grouped it, each then saw the other): the source is then as it was."""
    outcomes = set()
    for _ in range(rounds):
        a = fast.volume(1, "a", fill=b"a").id
        task, deleted = run_all([lambda a=a: fast.clone([a]),
                                 lambda a=a: fast.svc.volumes.delete(fast.who, "p1", a)])
        if isinstance(deleted, Exception):
            assert isinstance(deleted, InvalidVolume), deleted
        if isinstance(task, Exception):
            assert isinstance(task, NotFound | InvalidVolume), task
            state = "refused"
        else:
            assert isinstance(task, str)
            p = fast.wait(task)
            assert p.flow_state in (TaskState.SUCCESS, TaskState.REVERTED), p
            state = p.flow_state.value
            if deleted is None:
                assert p.flow_state is TaskState.REVERTED, "a clone of a deleted source"
        assert fast.db_rows("SELECT * FROM volume_groups") == []
        outcomes.add((state, "deleted" if deleted is None else "delete refused"))
        if deleted is not None:
            assert fast.get(a).status.value == "available"
            fast.svc.volumes.delete(fast.who, "p1", a)
        if state == "SUCCESS":
            fast.svc.volumes.delete(fast.who, "p1", fast.wait(str(task)).results[a])
    assert fast.volume_ids() == set()
    assert fast.mem.state() == ([], [], [])
    assert outcomes  # which ones happen is up to the scheduler
