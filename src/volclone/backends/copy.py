"""Copying volumes from a group snapshot on one backend into new volumes on another.

Usage::

    snap = source.create_group_snapshot("snap-t1", [a, b])     # the consistency point
    copy_from_group_snapshot(source, snap, target, {a: clone_a, b: clone_b}, progress=print)
    source.delete_group_snapshot("snap-t1")

The source reads each volume as of the snapshot (:class:`~volclone.backends.base.SnapshotReadable`),
the target writes new volumes (:class:`~volclone.backends.base.VolumeImportable`). Only the
ranges the source says may hold data are read, and of those only the blocks that are not all
zeros are written, so the copies stay thin. ``progress(done, total)`` counts those bytes: the
total is known before the first byte moves (every source's extents are listed first). It is
called on the caller's thread only (TaskFlow's progress notifications must come from the
task's own thread), every :data:`REPORT_EVERY` seconds while chunks move on worker threads.
A ``progress`` that raises stops the copy within that long (plus the chunks in flight): the
chunks not started are dropped, the volume being written is aborted and those made are
removed (that is how a cancelled clone task stops its copy).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from volclone.backends.base import (
    ByteProgress,
    GroupSnapshot,
    SnapshotReadable,
    VolumeDriver,
    VolumeImportable,
    VolumeReader,
    VolumeWriter,
    remove_made,
)
from volclone.errors import BackendError, CapabilityMissing

log = logging.getLogger(__name__)

#: Bytes read and written per request (RBD's default object size).
CHUNK = 4 * 1024 * 1024
#: Zero detection granularity: a block of zeros inside a chunk is not written.
ZERO_BLOCK = 64 * 1024
#: Chunks in flight per volume (both ends release the GIL while they wait).
WORKERS = 4
#: Seconds between two progress reports during a copy.
REPORT_EVERY = 0.1

_ZEROS = bytes(ZERO_BLOCK)


def copy_from_group_snapshot(source: VolumeDriver, snapshot: GroupSnapshot, target: VolumeDriver,
                             clones: Mapping[str, str], *, progress: ByteProgress | None = None,
                             workers: int = WORKERS) -> None:
    """Make volume ``clones[source_id]`` on ``target`` from each source's data in ``snapshot``.

    All or nothing, like ``clone_from_group_snapshot``: on error, no clone of this call is left.
    Clones that exist already (a resumed call) are kept and count as done.
    """
    if not isinstance(source, SnapshotReadable):
        raise CapabilityMissing(f"backend {source.name} cannot read its snapshots for a copy to another backend")
    if not isinstance(target, VolumeImportable):
        raise CapabilityMissing(f"backend {target.name} cannot take volumes copied from another backend")
    missing = sorted(set(clones) - set(snapshot.members))
    if missing:
        raise BackendError(f"volumes {', '.join(missing)} are not in group snapshot {snapshot.id}")
    todo = {s: c for s, c in clones.items() if not target.volume_exists(c)}
    report = progress or (lambda done, total: None)
    # First every source's extents, so the total is known from the start.
    plans: dict[str, tuple[int, list[tuple[int, int]]]] = {}
    for s in todo:
        with source.open_snapshot_member(snapshot, s) as reader:
            plans[s] = (reader.size, list(chunks(reader.extents(), CHUNK)))
    counter = _Counter(sum(n for _, plan in plans.values() for _, n in plan), report)
    made: list[str] = []
    try:
        for s, clone_id in todo.items():
            size, plan = plans[s]
            made.append(clone_id)
            with source.open_snapshot_member(snapshot, s) as reader:
                writer = target.import_volume(clone_id, size)
                try:
                    _copy(reader, writer, plan, counter, workers)
                    writer.commit()
                except BaseException:
                    writer.abort()
                    raise
            log.info("copied volume %s (%s) to %s on backend %s", s, source.name, clone_id, target.name)
        counter.finish()
    except Exception:
        remove_made(target, made)
        raise


def chunks(extents: Iterable[tuple[int, int]], size: int) -> Iterator[tuple[int, int]]:
    """Extents cut into pieces of at most ``size`` bytes, aligned to ``size``."""
    for offset, length in extents:
        end = offset + length
        while offset < end:
            step = min(end, (offset // size + 1) * size) - offset
            yield offset, step
            offset += step


def nonzero_runs(data: bytes | bytearray, block: int = ZERO_BLOCK) -> Iterator[tuple[int, memoryview]]:
    """``(offset in data, bytes)`` of the runs of blocks that are not all zeros."""
    view = memoryview(data)
    start = None
    for pos in range(0, len(data), block):
        piece = view[pos:pos + block]
        zero = piece == _ZEROS[:len(piece)]
        if zero and start is not None:
            yield start, view[start:pos]
            start = None
        elif not zero and start is None:
            start = pos
    if start is not None:
        yield start, view[start:]


class _Counter:
    """Bytes done, counted by the copying threads, reported by the caller's."""

    def __init__(self, total: int, report: ByteProgress) -> None:
        self.total = total
        self.done = 0
        self._report = report
        self._lock = threading.Lock()
        report(0, total)

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n

    def report(self) -> None:
        with self._lock:
            done = self.done
        self._report(done, self.total)

    def finish(self) -> None:
        self._report(self.total, self.total)


def _copy(reader: VolumeReader, writer: VolumeWriter, plan: list[tuple[int, int]], counter: _Counter,
          workers: int) -> None:
    def one(offset: int, length: int) -> None:
        data = reader.read(offset, length)
        if len(data) != length:
            raise BackendError(f"short read at {offset}: {len(data)} of {length} bytes")
        for at, run in nonzero_runs(data):
            writer.write(offset + at, run)
        counter.add(length)

    if not plan:
        return
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="copy") as pool:
        futures = [pool.submit(one, off, n) for off, n in plan]
        pending: set[Future[None]] = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=REPORT_EVERY, return_when=FIRST_EXCEPTION)
                counter.report()  # may raise (Cancelled: the clone task was cancelled)
                if any(f.exception() is not None for f in done):
                    break
        finally:  # chunks not started yet never start; the pool waits only for those in flight
            for f in pending:
                f.cancel()
    for f in futures:
        if f.done() and not f.cancelled():
            f.result()  # raises the first error
