"""The in-memory driver: every capability, volumes held in this process's memory.

For tests and demos: fast, needs nothing, and forgets everything when the process ends.
It is a real implementation, proven by the same driver contract suite as ``local`` and
``rbd`` (``tests/contract/``)::

    driver = MemoryDriver("mem")
    driver.create_volume("a", 10)                 # 10 GiB, costs nothing until written
    driver.write("a", 0, b"hello")
    snap = driver.create_group_snapshot("snap-1", ["a"])
    driver.clone_from_group_snapshot(snap, {"a": "c"})
    driver.delete_group_snapshot("snap-1")
    driver.read("c", 0, 5)                        # b"hello"

Volumes are chains of layers, as in the local pool: a layer is a sparse dict of
fixed-size blocks (:data:`BLOCK`), reads fall through to the layers below, and a
block that was never written reads as zeros. A group snapshot freezes every
source's active layer at once, under the driver's one lock, and puts an empty
layer on top; a clone is an empty layer over the frozen one. Frozen layers are
never written: a layer nobody references goes, and one with a single remaining
user is folded into it. :meth:`flatten` copies what a volume reads from below
into its own layer.

Attached volumes are served in process: :meth:`initialize_connection` gives a
``{"driver_volume_type": "memory", ...}`` connection_info, and :meth:`connect`
opens it as a :class:`MemoryConnection` (read-only ones refuse writes; a
connection is cut when the volume is no longer served, or served in the other mode).

Fault injection (tests only): :meth:`inject` makes the next call of a driver method
fail once, before it acts (or after, with ``after=True``)::

    driver.inject("clone_from_group_snapshot")                  # raises BackendError, once
    driver.inject("create_group_snapshot", after=True)          # snapshots, then raises
    driver.inject("delete_volume", lambda: gate.wait(5))        # runs first: a pause, or raise your own
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

from volclone.backends.base import (
    Attachable,
    ByteProgress,
    CloneMethod,
    ClonePlannable,
    DataSwappable,
    Extendable,
    Flattenable,
    GroupSnapshot,
    GroupSnapshotCapable,
    GroupSnapshottable,
    QosLimitable,
    SnapshotReadable,
    Snapshottable,
    VolumeDriver,
    VolumeImportable,
    VolumeReader,
    VolumeWriter,
)
from volclone.errors import BackendError

log = logging.getLogger(__name__)

GIB = 1024**3
#: Bytes per block: the unit of allocation and of copy-on-write.
BLOCK = 64 * 1024
CONNECTION_TYPE = "memory"

_ZERO_BLOCK = bytes(BLOCK)

P = ParamSpec("P")
R = TypeVar("R")
#: What :meth:`MemoryDriver.inject` takes: an exception to raise, or a callable to run.
Fault = BaseException | Callable[[], object]


#: The methods :meth:`MemoryDriver.inject` can make fail.
_FAULTABLE: set[str] = set()


def _faultable(method: Callable[Concatenate[MemoryDriver, P], R]) -> Callable[Concatenate[MemoryDriver, P], R]:
    """Let :meth:`MemoryDriver.inject` make ``method`` fail once, before or after it acts."""
    name = method.__name__

    def wrapper(self: MemoryDriver, /, *args: P.args, **kwargs: P.kwargs) -> R:
        self._fire(name, after=False)
        result = method(self, *args, **kwargs)
        self._fire(name, after=True)
        return result
    functools.update_wrapper(wrapper, method)
    _FAULTABLE.add(name)
    return wrapper


@dataclass(eq=False)
class _Layer:
    id: str
    size: int
    parent: _Layer | None = None
    #: Block index -> the block's bytes (exactly BLOCK long). Absent: read from the parent.
    blocks: dict[int, bytes] = field(default_factory=dict)
    #: The volume whose active layer this is; None for a frozen layer.
    volume_id: str | None = None
    children: set[str] = field(default_factory=set)
    #: Snapshots that hold this layer.
    holds: set[str] = field(default_factory=set)

    def chain(self) -> Iterator[_Layer]:
        layer: _Layer | None = self
        while layer is not None:
            yield layer
            layer = layer.parent

    def block(self, index: int) -> bytes | None:
        for layer in self.chain():
            data = layer.blocks.get(index)
            if data is not None:
                return data
        return None

    def merged(self) -> dict[int, bytes]:
        """Every block the chain holds, as this layer reads it (zero blocks left out)."""
        out: dict[int, bytes] = {}
        for layer in reversed(list(self.chain())):
            out.update(layer.blocks)
        return {i: b for i, b in out.items() if b != _ZERO_BLOCK}


@dataclass
class _Snapshot:
    #: Volume id -> the id of its frozen layer.
    members: dict[str, str]
    #: Sources whose clones are independent full copies.
    full_copy: frozenset[str]


def _read(lookup: Callable[[int], bytes | None], size: int, offset: int, length: int) -> bytes:
    _check_range(size, offset, length)
    out = bytearray()
    pos, end = offset, offset + length
    while pos < end:
        index, start = divmod(pos, BLOCK)
        step = min(end - pos, BLOCK - start)
        data = lookup(index)
        out += data[start:start + step] if data is not None else bytes(step)
        pos += step
    return bytes(out)


def _write(blocks: dict[int, bytes], lookup: Callable[[int], bytes | None], size: int, offset: int,
           data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data).cast("B")
    _check_range(size, offset, len(view))
    pos, done = offset, 0
    while done < len(view):
        index, start = divmod(pos, BLOCK)
        step = min(len(view) - done, BLOCK - start)
        if step == BLOCK:
            blocks[index] = bytes(view[done:done + step])
        else:
            current = bytearray(lookup(index) or _ZERO_BLOCK)
            current[start:start + step] = view[done:done + step]
            blocks[index] = bytes(current)
        pos += step
        done += step


def _check_range(size: int, offset: int, length: int) -> None:
    if offset < 0 or length < 0 or offset + length > size:
        raise BackendError(f"I/O of {length} bytes at {offset} is outside the volume ({size} bytes)")


def _extents(indices: Collection[int], size: int) -> Iterator[tuple[int, int]]:
    """Runs of consecutive blocks as ``(offset, length)``, clipped to ``size``."""
    ordered = sorted(indices)
    for _, run in itertools.groupby(enumerate(ordered), key=lambda pair: pair[1] - pair[0]):
        run_blocks = [i for _, i in run]
        start = run_blocks[0] * BLOCK
        end = min(size, (run_blocks[-1] + 1) * BLOCK)
        if end > start:
            yield start, end - start


def snapshot_hold(snapshot_id: str) -> str:
    """The group snapshot of one member that holds a Cinder snapshot's frozen layer."""
    return f"snapshot-{snapshot_id}"


class MemoryDriver(VolumeDriver, GroupSnapshotCapable, Attachable, Flattenable, SnapshotReadable,
                   VolumeImportable, Extendable, ClonePlannable, Snapshottable, DataSwappable, QosLimitable,
                   GroupSnapshottable):
    #: Every member copied under one lock.
    consistency_method = "in-memory"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # One lock for every change and every read of the state: a group snapshot is atomic.
        self._lock = threading.RLock()
        self._layers: dict[str, _Layer] = {}
        #: Volume id -> its active layer.
        self._volumes: dict[str, _Layer] = {}
        self._snapshots: dict[str, _Snapshot] = {}
        #: Served volumes: volume id -> (writable, generation). A connection of an older
        #: generation was cut.
        self._served: dict[str, tuple[bool, int]] = {}
        self._generations = itertools.count(1)
        self._ids = itertools.count(1)
        self._faults: dict[tuple[str, bool], list[Fault]] = {}
        #: Volume id -> the QoS limits set on it (Cinder's keys), as a backend would enforce them.
        self._qos: dict[str, dict[str, int]] = {}

    # -- fault injection (tests) -------------------------------------------------
    def inject(self, method: str, fault: Fault | None = None, *, after: bool = False) -> None:
        """The next call of ``method`` fails once: it raises ``fault`` (a BackendError by
        default), or runs it if it is callable, before the method acts, or after it acted
        (``after=True``). Several injections for one method fire on successive calls."""
        if method not in _FAULTABLE:
            raise ValueError(f"MemoryDriver can't make {method!r} fail; it can: {', '.join(sorted(_FAULTABLE))}")
        with self._lock:
            self._faults.setdefault((method, after), []).append(
                fault if fault is not None else BackendError(f"injected fault in {method}"))

    def _fire(self, method: str, after: bool) -> None:
        with self._lock:
            pending = self._faults.get((method, after))
            fault = pending.pop(0) if pending else None
        if fault is None:
            return
        log.info("backend %s: injected fault in %s (%s)", self.name, method, "after" if after else "before")
        if isinstance(fault, BaseException):
            raise fault
        fault()

    # -- state, for tests and diagnostics ------------------------------------------
    def state(self) -> tuple[list[str], list[str], list[str]]:
        """(volumes, layers, snapshots): a comparable listing of what the driver holds."""
        with self._lock:
            return sorted(self._volumes), sorted(self._layers), sorted(self._snapshots)

    def depth(self, volume_id: str) -> int:
        """How many layers a volume reads through."""
        with self._lock:
            return len(list(self._top(volume_id).chain()))

    def size(self, volume_id: str) -> int:
        with self._lock:
            return self._top(volume_id).size

    def extents(self, volume_id: str) -> list[tuple[int, int]]:
        """``(offset, length)`` ranges of the volume that may hold data; the rest reads as zeros."""
        with self._lock:
            top = self._top(volume_id)
            return list(_extents(top.merged(), top.size))

    # -- volumes -------------------------------------------------------------
    def _new_layer(self, size: int, parent: _Layer | None = None, volume_id: str | None = None) -> _Layer:
        layer = _Layer(f"{self.name}-{next(self._ids)}", size, parent, volume_id=volume_id)
        self._layers[layer.id] = layer
        if parent is not None:
            parent.children.add(layer.id)
        if volume_id is not None:
            self._volumes[volume_id] = layer
        return layer

    def _top(self, volume_id: str) -> _Layer:
        layer = self._volumes.get(volume_id)
        if layer is None:
            raise BackendError(f"backend {self.name} has no volume {volume_id}")
        return layer

    @_faultable
    def create_volume(self, volume_id: str, size_gib: int) -> None:
        if size_gib < 1:
            raise BackendError(f"a volume needs at least 1 GiB, not {size_gib}")
        with self._lock:
            if volume_id in self._volumes:
                raise BackendError(f"backend {self.name} has a volume {volume_id} already")
            self._new_layer(size_gib * GIB, volume_id=volume_id)

    # -- QoS: the limits are recorded, for the service's tests to read back -------------
    @_faultable
    def set_volume_qos(self, volume_id: str, limits: Mapping[str, int]) -> None:
        with self._lock:
            if volume_id not in self._volumes:
                return
            if limits:
                self._qos[volume_id] = dict(limits)
            else:
                self._qos.pop(volume_id, None)

    def volume_qos(self, volume_id: str) -> dict[str, int]:
        with self._lock:
            return dict(self._qos.get(volume_id, {}))

    @_faultable
    def delete_volume(self, volume_id: str) -> None:
        self._remove(volume_id)

    def _remove(self, volume_id: str) -> None:
        with self._lock:
            top = self._volumes.pop(volume_id, None)
            if top is None:
                return
            self._served.pop(volume_id, None)
            self._qos.pop(volume_id, None)
            top.volume_id = None
            self._collect(top)

    def volume_exists(self, volume_id: str) -> bool:
        with self._lock:
            return volume_id in self._volumes

    def read(self, volume_id: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the volume from ``offset`` (never-written ranges read as zeros)."""
        with self._lock:
            top = self._top(volume_id)
            return _read(top.block, top.size, offset, length)

    def write(self, volume_id: str, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Write into the volume's own layer; the layers below it never change."""
        with self._lock:
            top = self._top(volume_id)
            _write(top.blocks, top.block, top.size, offset, data)

    # -- reference counting ----------------------------------------------------
    def _collect(self, layer: _Layer) -> None:
        """Drop ``layer`` if nothing references it; fold its only user into it if that is safe."""
        if layer.volume_id is not None or layer.holds:
            return
        if not layer.children:
            del self._layers[layer.id]
            if layer.parent is not None:
                layer.parent.children.discard(layer.id)
                self._collect(layer.parent)
        elif len(layer.children) == 1:
            child = self._layers[next(iter(layer.children))]
            if child.volume_id is not None and not child.children and not child.holds:
                self._merge(child)

    def _merge(self, child: _Layer) -> None:
        """Fold an active layer into its parent, which only it uses; the parent becomes active."""
        parent = child.parent
        assert parent is not None and child.volume_id is not None
        parent.blocks.update(child.blocks)
        parent.children.clear()
        parent.volume_id = child.volume_id
        self._volumes[child.volume_id] = parent
        del self._layers[child.id]
        if parent.parent is not None:
            self._collect(parent.parent)

    # -- group snapshots and clones --------------------------------------------
    @_faultable
    def create_group_snapshot(self, snapshot_id: str, volume_ids: list[str], *,
                              full_copy: Collection[str] = ()) -> GroupSnapshot:
        """All sources frozen at once under the driver's lock; sources in ``full_copy`` get
        clones that are independent copies (no shared layer)."""
        volume_ids = list(dict.fromkeys(volume_ids))
        with self._lock:
            existing = self._snapshots.get(snapshot_id)
            if existing is not None:
                return GroupSnapshot(snapshot_id, dict(existing.members))
            if not volume_ids:
                raise BackendError("a group snapshot needs at least one volume")
            missing = [v for v in volume_ids if v not in self._volumes]
            if missing:
                raise BackendError(f"backend {self.name} has no volume {', '.join(missing)}")
            members = {}
            for vid in volume_ids:
                frozen = self._volumes[vid]
                frozen.volume_id = None
                frozen.holds.add(snapshot_id)
                self._new_layer(frozen.size, parent=frozen, volume_id=vid)
                members[vid] = frozen.id
            self._snapshots[snapshot_id] = _Snapshot(members, frozenset(full_copy) & set(volume_ids))
            return GroupSnapshot(snapshot_id, dict(members), io_freeze_ms=0.0)

    def find_group_snapshot(self, snapshot_id: str) -> GroupSnapshot | None:
        with self._lock:
            snap = self._snapshots.get(snapshot_id)
            return GroupSnapshot(snapshot_id, dict(snap.members)) if snap else None

    @_faultable
    def delete_group_snapshot(self, snapshot_id: str) -> None:
        with self._lock:
            snap = self._snapshots.pop(snapshot_id, None)
            if snap is None:
                return
            for layer_id in snap.members.values():
                layer = self._layers[layer_id]
                layer.holds.discard(snapshot_id)
                self._collect(layer)

    def _frozen(self, snapshot: GroupSnapshot, source: str) -> _Layer:
        layer = self._layers.get(snapshot.members.get(source, ""))
        # Only a layer this snapshot holds is frozen: after the snapshot is deleted, its layer
        # may be a volume's active layer again, and a clone linked to it would change with it.
        if layer is None or snapshot.id not in layer.holds:
            raise BackendError(f"group snapshot {snapshot.id} has no data of volume {source}")
        return layer

    @_faultable
    def clone_from_group_snapshot(self, snapshot: GroupSnapshot, clones: Mapping[str, str], *,
                                  progress: ByteProgress | None = None) -> None:
        """Linked clones (an empty layer over each frozen one), or independent copies for the
        snapshot's full-copy sources (``progress`` hears their bytes). All or nothing; clones
        that exist already (a resumed call) are kept."""
        with self._lock:
            missing = sorted(set(clones) - set(snapshot.members))
            if missing:
                raise BackendError(f"volumes {', '.join(missing)} are not in group snapshot {snapshot.id}")
            frozen = {source: self._frozen(snapshot, source) for source in clones}
            record = self._snapshots.get(snapshot.id)
            full = record.full_copy if record is not None else frozenset()
            todo = {s: c for s, c in clones.items() if c not in self._volumes}
            copies = {s: frozen[s].merged() for s in todo if s in full}
            total = sum(len(blocks) * BLOCK for blocks in copies.values())
            if copies and progress is not None:
                progress(0, total)
            done = 0
            made: list[str] = []
            try:
                for source, clone_id in todo.items():
                    made.append(clone_id)
                    if source in copies:
                        layer = self._new_layer(frozen[source].size, volume_id=clone_id)
                        layer.blocks = copies[source]
                        done += len(layer.blocks) * BLOCK
                        if progress is not None:
                            progress(done, total)  # may raise (Cancelled): nothing of this call stays
                    else:
                        self._new_layer(frozen[source].size, parent=frozen[source], volume_id=clone_id)
            except BaseException:
                for clone_id in made:
                    self._remove(clone_id)
                raise

    # -- dry runs --------------------------------------------------------------------
    def clone_method_for(self, full_copy: bool) -> CloneMethod:
        return CloneMethod.FULL if full_copy else CloneMethod.LINKED

    def allocated_bytes(self, volume_ids: Sequence[str]) -> dict[str, int]:
        """The blocks each volume's chain holds (zero blocks left out), as a copy reads them."""
        with self._lock:
            return {v: sum(n for _, n in _extents(self._top(v).merged(), self._top(v).size)) for v in volume_ids}

    # -- snapshots of one volume (Cinder's) --------------------------------------------
    # A snapshot is a group snapshot of its one volume: its frozen layer, held under its name.
    @_faultable
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.create_group_snapshot(snapshot_hold(snapshot_id), [volume_id])

    @_faultable
    def create_snapshots_at_once(self, members: Sequence[tuple[str, str]], *,
                                 group_snapshot_id: str | None = None) -> None:
        """Every member frozen under the driver's lock (one instant), each held under its own name."""
        with self._lock:
            missing = [v for v, _ in members if v not in self._volumes]
            if missing:
                raise BackendError(f"backend {self.name} has no volume {', '.join(missing)}")
            if len({v for v, _ in members}) != len(members):
                raise BackendError("a volume can be in a group snapshot only once")
            try:
                for volume_id, snapshot_id in members:
                    self.create_group_snapshot(snapshot_hold(snapshot_id), [volume_id])
            except Exception:
                for _, snapshot_id in members:  # a no-op for those not made
                    self.delete_group_snapshot(snapshot_hold(snapshot_id))
                raise

    def snapshot_exists(self, snapshot_id: str, volume_id: str) -> bool:
        snap = self.find_group_snapshot(snapshot_hold(snapshot_id))
        return snap is not None and volume_id in snap.members

    @_faultable
    def delete_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.delete_group_snapshot(snapshot_hold(snapshot_id))

    def _snapshot_layer(self, snapshot_id: str, volume_id: str) -> _Layer:
        snap = self.find_group_snapshot(snapshot_hold(snapshot_id))
        if snap is None or volume_id not in snap.members:
            raise BackendError(f"backend {self.name} has no snapshot {snapshot_id} of volume {volume_id}")
        return self._frozen(snap, volume_id)

    @_faultable
    def create_volume_from_snapshot(self, new_volume_id: str, snapshot_id: str, volume_id: str,
                                    size_gib: int) -> None:
        """A linked clone of the frozen layer; a bigger one reads zeros past the snapshot's end."""
        with self._lock:
            frozen = self._snapshot_layer(snapshot_id, volume_id)
            if size_gib * GIB < frozen.size:
                raise BackendError(f"a volume from snapshot {snapshot_id} needs at least {frozen.size // GIB} GiB")
            if new_volume_id in self._volumes:
                raise BackendError(f"backend {self.name} has a volume {new_volume_id} already")
            self._new_layer(size_gib * GIB, parent=frozen, volume_id=new_volume_id)

    @_faultable
    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """A new empty active layer over the frozen one; the old active layer goes."""
        with self._lock:
            frozen = self._snapshot_layer(snapshot_id, volume_id)
            old = self._top(volume_id)
            if volume_id in self._served:
                raise BackendError(f"volume {volume_id} is served; detach it before reverting it")
            self._new_layer(frozen.size, parent=frozen, volume_id=volume_id)
            old.volume_id = None
            self._collect(old)

    # -- swapping a volume's data (reverts in place) ---------------------------------
    def _move(self, from_id: str, to_id: str) -> None:
        """The active layer of ``from_id`` becomes ``to_id``'s (which has none)."""
        layer = self._volumes.pop(from_id)
        layer.volume_id = to_id
        self._volumes[to_id] = layer

    def _unserved(self, *volume_ids: str) -> None:
        served = [v for v in volume_ids if v in self._served]
        if served:
            raise BackendError(f"volume {', '.join(served)} is served; its data can't be swapped")

    @_faultable
    def swap_in(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        with self._lock:
            have = {v for v in (volume_id, replacement_id, keep_as) if v in self._volumes}
            if have == {volume_id, keep_as}:
                return  # done already
            self._unserved(volume_id, replacement_id)
            if have == {volume_id, replacement_id}:
                self._move(volume_id, keep_as)
            elif have != {replacement_id, keep_as}:  # (that one: half done; the old data is kept)
                raise BackendError(f"volume {volume_id} can't take the data of {replacement_id}: "
                                   f"{', '.join(sorted(have)) or 'none of them'} exist")
            self._move(replacement_id, volume_id)

    @_faultable
    def swap_back(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        with self._lock:
            if keep_as not in self._volumes:
                return  # never swapped in, or back already
            self._unserved(volume_id)
            if volume_id in self._volumes:
                if replacement_id in self._volumes:
                    raise BackendError(f"volume {volume_id} can't be swapped back: {replacement_id} exists")
                self._move(volume_id, replacement_id)
            self._move(keep_as, volume_id)

    # -- growing ---------------------------------------------------------------------
    @_faultable
    def extend_volume(self, volume_id: str, new_size_gib: int) -> None:
        """Only the active layer grows: layers below (snapshots, clones' sources) keep their size,
        and the new range reads as zeros through them. Connections see the new size at once."""
        with self._lock:
            top = self._top(volume_id)
            if new_size_gib * GIB <= top.size:
                raise BackendError(f"volume {volume_id} is {top.size} bytes; it can't grow to {new_size_gib} GiB")
            top.size = new_size_gib * GIB

    # -- flattening --------------------------------------------------------------
    @_faultable
    def flatten(self, volume_id: str) -> bool:
        with self._lock:
            top = self._top(volume_id)
            parent = top.parent
            if parent is None:
                return False
            top.blocks = top.merged()
            top.parent = None
            parent.children.discard(top.id)
            self._collect(parent)
            return True

    # -- attachments ---------------------------------------------------------------
    @_faultable
    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        with self._lock:
            self._top(volume_id)
            served = self._served.get(volume_id)
            if served is None or served[0] != writable:  # a mode change cuts the old connections
                self._served[volume_id] = (writable, next(self._generations))
            return self.connection_info(volume_id)

    def connection_info(self, volume_id: str) -> dict[str, object]:
        with self._lock:
            writable, _ = self._served[volume_id]
        return {"driver_volume_type": CONNECTION_TYPE,
                "data": {"backend": self.name, "volume_id": volume_id, "access_mode": "rw" if writable else "ro"}}

    @_faultable
    def terminate_connection(self, volume_id: str) -> None:
        with self._lock:
            self._served.pop(volume_id, None)

    def connect(self, connection_info: Mapping[str, Any]) -> MemoryConnection:
        """Open a served volume, as a consumer given ``connection_info`` does."""
        data = connection_info.get("data") or {}
        if connection_info.get("driver_volume_type") != CONNECTION_TYPE or data.get("backend") != self.name:
            raise BackendError(f"not a connection to backend {self.name}: {dict(connection_info)}")
        volume_id = str(data.get("volume_id"))
        with self._lock:
            served = self._served.get(volume_id)
            if served is None:
                raise BackendError(f"volume {volume_id} is not served")
            return MemoryConnection(self, volume_id, writable=served[0], generation=served[1])

    def _served_as(self, conn: MemoryConnection) -> None:
        if self._served.get(conn.volume_id) != (conn.writable, conn.generation):
            raise BackendError(f"the connection to volume {conn.volume_id} was closed")

    # -- cross-backend copies ------------------------------------------------------
    @_faultable
    def open_snapshot_member(self, snapshot: GroupSnapshot, volume_id: str) -> VolumeReader:
        with self._lock:
            if volume_id not in snapshot.members:
                raise BackendError(f"volume {volume_id} is not in group snapshot {snapshot.id}")
            layer = self._frozen(snapshot, volume_id)
            return MemoryReader(layer.size, layer.merged())

    @_faultable
    def import_volume(self, volume_id: str, size: int) -> VolumeWriter:
        with self._lock:
            if volume_id in self._volumes:
                raise BackendError(f"backend {self.name} has a volume {volume_id} already")
        return MemoryWriter(self, volume_id, size)

    def _adopt(self, volume_id: str, size: int, blocks: dict[int, bytes]) -> None:
        with self._lock:
            if volume_id in self._volumes:
                raise BackendError(f"backend {self.name} has a volume {volume_id} already")
            self._new_layer(size, volume_id=volume_id).blocks = blocks


class MemoryConnection:
    """A consumer's handle on a served volume. Read-only connections refuse writes; every
    call fails once the volume is no longer served in this connection's mode."""

    def __init__(self, driver: MemoryDriver, volume_id: str, *, writable: bool, generation: int) -> None:
        self._driver = driver
        self.volume_id = volume_id
        self.writable = writable
        self.generation = generation

    def read(self, offset: int, length: int) -> bytes:
        with self._driver._lock:
            self._driver._served_as(self)
            return self._driver.read(self.volume_id, offset, length)

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        with self._driver._lock:
            self._driver._served_as(self)
            if not self.writable:
                raise BackendError(f"the connection to volume {self.volume_id} is read-only")
            self._driver.write(self.volume_id, offset, data)


class MemoryReader(VolumeReader):
    """A frozen copy of one volume's blocks as of a group snapshot."""

    def __init__(self, size: int, blocks: dict[int, bytes]) -> None:
        self.size = size
        self._blocks = blocks

    def extents(self) -> Iterator[tuple[int, int]]:
        return _extents(self._blocks, self.size)

    def read(self, offset: int, length: int) -> bytes:
        return _read(self._blocks.get, self.size, offset, length)


class MemoryWriter(VolumeWriter):
    """A new volume's blocks, gathered apart; the volume exists once committed."""

    def __init__(self, driver: MemoryDriver, volume_id: str, size: int) -> None:
        self._driver = driver
        self._volume_id = volume_id
        self._size = size
        self._blocks: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self._closed = False

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            if self._closed:
                raise BackendError(f"the import of volume {self._volume_id} has ended")
            _write(self._blocks, self._blocks.get, self._size, offset, data)

    def commit(self) -> None:
        with self._lock:
            if self._closed:
                raise BackendError(f"the import of volume {self._volume_id} has ended")
            self._driver._adopt(self._volume_id, self._size, self._blocks)
            self._closed = True

    def abort(self) -> None:
        with self._lock:
            self._closed = True
            self._blocks = {}
