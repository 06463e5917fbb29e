"""The pieces a cancel goes through, alone: CancelWatch (the marks polled from persistence)
and backends/copy.py's cross-backend copy stopping when its progress callback raises."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator

import pytest

from volclone.backends.base import GroupSnapshot, VolumeReader
from volclone.backends.copy import CHUNK, copy_from_group_snapshot
from volclone.backends.memory import MemoryDriver
from volclone.errors import Cancelled
from volclone.flows.cancels import CancelWatch

WAIT = 30


class Marks:
    """Stands in for CancelMarks.requested: the marked ids, and every query made."""

    def __init__(self) -> None:
        self.marked: set[str] = set()
        self.queries: list[set[str]] = []
        self.fail = False
        self.asked = threading.Event()

    def __call__(self, ids: Collection[str]) -> set[str]:
        self.queries.append(set(ids))
        self.asked.set()
        if self.fail:
            raise OSError("the database is away")
        return self.marked & set(ids)


def test_a_mark_reaches_the_watched_task_and_only_it() -> None:
    marks = Marks()
    watch = CancelWatch(marks, poll_s=0.01)
    with watch.watching("t1"), watch.watching("t2"):
        assert not watch.cancelled("t1") and not watch.cancelled("t1", now=True)
        marks.marked.add("t1")
        assert watch.wait("t1", WAIT)
        watch.check("t2")  # not marked: no raise
        with pytest.raises(Cancelled, match="cancelled on request"):
            watch.check("t1")
        assert not watch.cancelled("t2")


def test_the_start_check_asks_persistence_itself() -> None:
    marks = Marks()
    watch = CancelWatch(marks, poll_s=3600)  # the poller would not look again in time
    marks.marked.add("t1")
    with watch.watching("t1"):
        with pytest.raises(Cancelled):
            watch.check("t1", now=True)
        assert watch.cancelled("t1"), "the event is set for the copy loops too"


def test_the_poller_goes_when_nothing_is_watched_and_comes_back() -> None:
    marks = Marks()
    watch = CancelWatch(marks, poll_s=0.01)
    with watch.watching("t1"):
        assert marks.asked.wait(WAIT)
        thread = watch._thread
        assert thread is not None
    thread.join(WAIT)
    assert not thread.is_alive() and watch._thread is None
    marks.marked.add("t2")
    with watch.watching("t2"):
        assert watch.wait("t2", WAIT)


def test_a_database_error_is_retried_at_the_next_look() -> None:
    marks = Marks()
    marks.fail = True
    watch = CancelWatch(marks, poll_s=0.01)
    with watch.watching("t1"):
        assert marks.asked.wait(WAIT)
        marks.marked.add("t1")
        marks.fail = False
        assert watch.wait("t1", WAIT)


class GatedDriver(MemoryDriver):
    """Its snapshot readers hold every read until ``gate`` opens, and count them."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = threading.Event()
        self.reads = 0

    def open_snapshot_member(self, snapshot: GroupSnapshot, volume_id: str) -> VolumeReader:
        inner = super().open_snapshot_member(snapshot, volume_id)
        driver = self

        class Gated(VolumeReader):
            def __init__(self) -> None:
                self.size = inner.size

            def extents(self) -> Iterator[tuple[int, int]]:
                return inner.extents()

            def read(self, offset: int, length: int) -> bytes:
                assert driver.gate.wait(WAIT)
                driver.reads += 1
                return inner.read(offset, length)

        return Gated()


def test_a_raising_progress_stops_a_cross_backend_copy_and_leaves_nothing() -> None:
    source, target = GatedDriver("src"), MemoryDriver("dst")
    source.create_volume("v", 1)
    for n in range(8):  # eight chunks of data
        source.write("v", n * CHUNK, b"d" * 65536)
    snap = source.create_group_snapshot("s", ["v"])
    calls = 0

    def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:  # the first report from the copy loop: the clone task was cancelled
            source.gate.set()  # the chunk in flight may end now
            raise Cancelled()

    with pytest.raises(Cancelled):
        copy_from_group_snapshot(source, snap, target, {"v": "c"}, progress=progress, workers=1)
    assert source.reads == 1, "the chunks not started were dropped"
    assert target.state() == ([], [], []) and not target.volume_exists("c")
