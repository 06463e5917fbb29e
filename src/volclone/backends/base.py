"""What a storage backend is, and the optional capabilities it may have.

A driver implements a few primitives (:class:`VolumeDriver`). Consistent group
snapshots and clones are a separate capability (:class:`GroupSnapshotCapable`):
a backend that cannot snapshot a group of volumes at one point in time does not
implement it, and the service refuses to clone from it rather than faking
consistency.

Clones onto another backend need two more small capabilities: the source backend
reads a volume as of a group snapshot (:class:`SnapshotReadable`), the target
backend fills a new volume with writes (:class:`VolumeImportable`);
``volclone.backends.copy`` moves the bytes between them.

A dry run of a clone asks, changing nothing, how a backend would make each clone and how
much data it holds (:class:`ClonePlannable`).

Cinder's snapshots of one volume, volumes made from them and revert-to-snapshot are one more
capability (:class:`Snapshottable`).

Per-volume I/O limits (Cinder's back-end QoS specs) are :class:`QosLimitable`.

Reverting a set in place (``POST clone-volumes/revert``) needs one more:
:class:`DataSwappable`, which puts data prepared beside a volume in its place and
keeps the old data, until the caller drops it, so the switch can be undone.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType

log = logging.getLogger(__name__)

#: A progress callback: (bytes done, bytes total).
ByteProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class GroupSnapshot:
    """A point in time shared by several volumes of one backend.

    ``id`` is chosen by the caller and deterministic (derived from the clone
    task), so a revert can find a snapshot even when the call that made it
    never returned.
    """

    id: str
    members: Mapping[str, str] = field(default_factory=dict)  # volume id -> backend ref
    #: How long writers' I/O was paused to take it, when the backend can tell.
    io_freeze_ms: float | None = None


class VolumeDriver(abc.ABC):
    """The primitives every backend has."""

    #: The largest volume the backend can hold, if it has a limit.
    max_size_gib: int | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def prepare_options(cls, options: Mapping[str, str]) -> dict[str, str]:
        """The options to record for a new backend of this driver, as given on ``backend add``
        (e.g. a path made absolute); raises ``ValueError`` for options it can't use."""
        return dict(options)

    def start(self) -> None:  # noqa: B027 (a no-op by default, on purpose)
        """Bring up whatever the backend needs (daemons, connections)."""

    def stop(self) -> None:  # noqa: B027 (a no-op by default, on purpose)
        """Release what :meth:`start` took."""

    @abc.abstractmethod
    def create_volume(self, volume_id: str, size_gib: int) -> None:
        """Make a new, empty, thin volume."""

    @abc.abstractmethod
    def delete_volume(self, volume_id: str) -> None:
        """Remove a volume; a no-op for one that does not exist."""

    @abc.abstractmethod
    def volume_exists(self, volume_id: str) -> bool:
        """Whether the backend holds data for ``volume_id``."""


class GroupSnapshotCapable(abc.ABC):
    """Atomic snapshots of several volumes, and clones made from them."""

    #: How the one point in time is taken (get_progress reports it in ``details.consistency``).
    consistency_method = "group-snapshot"

    @property
    def crash_consistent(self) -> bool:
        """Whether its group snapshots are one point in time for all members (a driver switched
        into a test-only, one-at-a-time mode says False, and the report says so)."""
        return True

    @abc.abstractmethod
    def create_group_snapshot(self, snapshot_id: str, volume_ids: list[str], *,
                              full_copy: Collection[str] = ()) -> GroupSnapshot:
        """Freeze all ``volume_ids`` at ONE point in time, atomically, or raise and change nothing.

        Sources in ``full_copy`` will be cloned as independent full copies (volume-type
        extra spec ``clone_mode=full``); a backend may start those copies here, at the
        same instant, or treat the hint as it sees fit.
        """

    @abc.abstractmethod
    def find_group_snapshot(self, snapshot_id: str) -> GroupSnapshot | None:
        """The snapshot with this id, if it exists."""

    @abc.abstractmethod
    def delete_group_snapshot(self, snapshot_id: str) -> None:
        """Drop the snapshot; data that clones or sources still use stays. Idempotent."""

    @abc.abstractmethod
    def clone_from_group_snapshot(self, snapshot: GroupSnapshot, clones: Mapping[str, str], *,
                                  progress: ByteProgress | None = None) -> None:
        """Make volume ``clones[source]`` from each source's point in time in ``snapshot``.

        All or nothing: on error, no clone of this call is left behind. A backend that
        copies data reports ``progress(bytes done, bytes total)`` as it goes.
        """


class Attachable(abc.ABC):
    """Volumes a host or VM reads and writes directly (Cinder's connections)."""

    @abc.abstractmethod
    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        """Make the volume reachable; returns Cinder's ``connection_info``
        (``{"driver_volume_type": ..., "data": {...}}``). Calling it again is harmless."""

    @abc.abstractmethod
    def terminate_connection(self, volume_id: str) -> None:
        """Stop serving the volume; a no-op when it is not served."""

    def keep_only(self, volume_ids: Collection[str]) -> None:  # noqa: B027 (a no-op by default, on purpose)
        """At service start, after every recorded attachment was served again: stop serving
        any other volume (a backend that serves from a process outliving the service may
        still serve volumes whose attachments are gone). Nothing to do for most backends."""


class Flattenable(abc.ABC):
    """Volumes made from another's data can be made independent of it."""

    @abc.abstractmethod
    def flatten(self, volume_id: str) -> bool:
        """Copy in whatever the volume still reads from shared layers; returns whether it changed."""


class Extendable(abc.ABC):
    """Volumes can grow (Cinder's ``os-extend``), also while they are served."""

    @abc.abstractmethod
    def extend_volume(self, volume_id: str, new_size_gib: int) -> None:
        """Grow the volume to ``new_size_gib`` (more than its size); the new space reads as zeros.

        A served volume grows in place, its data and connection_info unchanged; whether a
        connected consumer sees the new size without reconnecting is the backend's to say
        (the local pool's NBD clients must reconnect; RBD's librbd clients see it). Snapshots
        and clones made before keep their size. All or nothing: on error the size is unchanged.
        """


class Snapshottable(abc.ABC):
    """Cinder's snapshots: one volume frozen at one point in time (also while it is written:
    ``force``), volumes made from it, and the volume reverted to it.

    ``snapshot_id`` is the snapshot record's id (a UUID) and names the backend's snapshot, so a
    call that never returned can be found, repeated or undone by it. Every call is all or nothing.
    """

    @abc.abstractmethod
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """Freeze ``volume_id``'s data as it is now; the volume goes on taking writes. Calling it
        again with the same id is harmless."""

    @abc.abstractmethod
    def snapshot_exists(self, snapshot_id: str, volume_id: str) -> bool:
        """Whether the backend holds snapshot ``snapshot_id`` of ``volume_id``."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """Drop the snapshot; volumes made from it keep their data. A no-op if it is gone."""

    @abc.abstractmethod
    def create_volume_from_snapshot(self, new_volume_id: str, snapshot_id: str, volume_id: str,
                                    size_gib: int) -> None:
        """A new volume ``new_volume_id`` of ``size_gib`` (at least the snapshot's size) holding
        what snapshot ``snapshot_id`` of ``volume_id`` froze, the rest reading as zeros.
        Nothing is left behind on error."""

    @abc.abstractmethod
    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """The volume (not served, of the snapshot's size) reads exactly what the snapshot froze;
        what was written since is gone. The snapshot stays. On error the volume is unchanged."""


class GroupSnapshottable(abc.ABC):
    """Cinder's group snapshots: several volumes' snapshots taken at ONE instant (the
    consistency point), each then an ordinary :class:`Snapshottable` snapshot under its own id
    (deleted, read and reverted to one by one)."""

    @abc.abstractmethod
    def create_snapshots_at_once(self, members: Sequence[tuple[str, str]], *,
                                 group_snapshot_id: str | None = None) -> None:
        """For each ``(volume_id, snapshot_id)``, snapshot ``snapshot_id`` of the volume, all
        frozen at the same instant. All or nothing: on error no snapshot of them is left.

        ``group_snapshot_id`` (the group snapshot record's id) may name what the backend keeps
        for the instant itself (RBD: the RBD group and its group snapshot); a backend that is
        also :class:`GroupSnapshotCapable` then removes all of it with
        ``delete_group_snapshot(group_snapshot_id)``, which the service calls (and records as a
        leftover when it fails) after a failed create."""


class QosLimitable(abc.ABC):
    """Per-volume I/O limits the backend enforces (Cinder's QoS specs whose consumer is the back end).

    ``limits`` uses Cinder's key names (:data:`volclone.domain.QOS_LIMIT_KEYS`, e.g.
    ``total_iops_sec``), each a positive number; an empty mapping lifts every limit. The service
    calls it before it serves a volume and when a spec or an association changes; a backend
    applies it to a served volume at once where it can, and says in :meth:`volume_qos` what it
    enforces.
    """

    @abc.abstractmethod
    def set_volume_qos(self, volume_id: str, limits: Mapping[str, int]) -> None:
        """The volume's limits from now on; a volume the backend does not hold is left alone."""

    @abc.abstractmethod
    def volume_qos(self, volume_id: str) -> dict[str, int]:
        """The limits the backend holds for the volume, read back from where it enforces them
        (Cinder's keys; empty: none)."""


class VolumeReader(abc.ABC):
    """One volume's data as of a group snapshot, open for reading. ``read`` may be called
    from several threads at once. Close it (or use it as a context manager) when done."""

    #: The volume's size in bytes.
    size: int

    @abc.abstractmethod
    def extents(self) -> Iterator[tuple[int, int]]:
        """``(offset, length)`` ranges that may hold data, in order; the rest reads as zeros."""

    @abc.abstractmethod
    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None:  # noqa: B027 (a no-op by default, on purpose)
        """Let go of the snapshot's data."""

    def __enter__(self) -> VolumeReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class VolumeWriter(abc.ABC):
    """A new volume being filled. It exists (``volume_exists``) only after :meth:`commit`;
    :meth:`abort` leaves nothing behind. ``write`` may be called from several threads at once."""

    @abc.abstractmethod
    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...

    @abc.abstractmethod
    def commit(self) -> None:
        """Make everything written durable and the volume complete."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Remove what was written; idempotent."""


class SnapshotReadable(abc.ABC):
    """The source side of a cross-backend clone: read a volume as of a group snapshot."""

    @abc.abstractmethod
    def open_snapshot_member(self, snapshot: GroupSnapshot, volume_id: str) -> VolumeReader:
        """``volume_id``'s data as the group snapshot froze it (the snapshot stays meanwhile)."""


class VolumeImportable(abc.ABC):
    """The target side of a cross-backend clone: make a volume from bytes written into it."""

    @abc.abstractmethod
    def import_volume(self, volume_id: str, size: int) -> VolumeWriter:
        """Start a new, empty (all zeros), thin volume of ``size`` bytes, to be written and committed."""


class CloneMethod(StrEnum):
    """How a clone is made, as a dry run's plan names it (stable, machine-readable)."""

    #: A new qcow2 (or memory) layer over the frozen one: nothing is copied.
    LINKED = "linked"
    #: A reflink copy of the frozen layer (XFS, btrfs): the blocks are shared, nothing is copied.
    REFLINK = "reflink"
    #: An independent full copy (the local pool: QMP ``blockdev-backup`` started with the snapshot).
    FULL = "full"
    #: An RBD COW child of the group snapshot (Ceph 19+): nothing is copied.
    RBD_COW = "rbd-cow"
    #: An RBD deep copy of the image as of the group snapshot (Ceph 16).
    RBD_DEEP_COPY = "rbd-deep-copy"
    #: The snapshot's data read on the sources' backend and written on another.
    CROSS_BACKEND_COPY = "cross-backend-copy"

    @property
    def copies(self) -> bool:
        """Whether the clone's data is copied (else it is shared, and instant at any size)."""
        return self in (CloneMethod.FULL, CloneMethod.RBD_DEEP_COPY, CloneMethod.CROSS_BACKEND_COPY)


class ClonePlannable(abc.ABC):
    """What a dry run asks a backend. Neither call changes anything on the backend."""

    @abc.abstractmethod
    def clone_method_for(self, full_copy: bool) -> CloneMethod:
        """How :meth:`GroupSnapshotCapable.clone_from_group_snapshot` makes a clone here now, of
        a source asked for a full copy (``full_copy``, the ``clone_mode=full`` extra spec) or not."""

    @abc.abstractmethod
    def allocated_bytes(self, volume_ids: Sequence[str]) -> dict[str, int]:
        """The bytes of data each volume holds now (what a copy of it reads; unwritten and
        zero ranges left out). A volume the backend does not hold is a BackendError."""


class DataSwappable(abc.ABC):
    """A volume's data can be switched for data prepared beside it, and switched back.

    Three volume ids take part: ``volume_id`` (the volume whose data changes), ``replacement_id``
    (a volume holding the new data, made beforehand, e.g. by ``clone_from_group_snapshot``) and
    ``keep_as`` (a volume id, free beforehand, under which the old data is kept). Which of the
    three hold data tells how far a switch got, so both calls are safe to repeat and finish a
    switch a crash interrupted::

        driver.swap_in("src", "src.new", "src.old")    # src reads the new data; src.old the old
        driver.swap_back("src", "src.new", "src.old")  # src reads the old data again; src.new the new
        driver.delete_volume("src.old")                 # (after swap_in) the old data goes

    The volume must not be served (attached) meanwhile; a backend refuses to switch a served one.
    """

    @abc.abstractmethod
    def swap_in(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        """``volume_id`` reads what ``replacement_id`` held; its old data is volume ``keep_as``;
        ``replacement_id`` is gone. Done already: nothing happens."""

    @abc.abstractmethod
    def swap_back(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        """Undo :meth:`swap_in`: ``volume_id`` reads what ``keep_as`` held, the data swapped in is
        ``replacement_id`` again and ``keep_as`` is gone. Never swapped in (or back already):
        nothing happens."""


def remove_made(driver: VolumeDriver, volume_ids: list[str]) -> None:
    """Undo a failed all-or-nothing call: delete the volumes it made, logging (not raising)
    what can't be deleted, so the caller re-raises the original error."""
    for volume_id in volume_ids:
        try:
            driver.delete_volume(volume_id)
        except Exception:
            log.exception("backend %s: could not remove volume %s of a failed call", driver.name, volume_id)


def supports_snapshots(driver: VolumeDriver) -> bool:
    return isinstance(driver, Snapshottable)


def supports_group_snapshots(driver: VolumeDriver) -> bool:
    return isinstance(driver, GroupSnapshotCapable)
