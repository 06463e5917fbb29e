"""The RBD driver: volumes are thin RBD images ``volume-<id>`` in one Ceph pool.

Usage::

    driver = RbdDriver("ceph", conf="/etc/ceph/ceph.conf", pool="rbd")
    driver.start()                      # one RADOS connection for the driver's life
    driver.create_volume(vid, 10)
    snap = driver.create_group_snapshot("snap-t1", [vid])
    driver.clone_from_group_snapshot(snap, {vid: clone_id}, progress=print)
    driver.delete_group_snapshot("snap-t1")
    driver.stop()

The consistency point is an RBD group snapshot, never per-image snapshots:
:meth:`~RbdDriver.create_group_snapshot` puts the sources into a new group
``volclone-<snapshot id>``, takes ``group snap create`` (librbd stops writes to
every member, then snapshots them all), records each member's snapshot id in a
small RADOS object ``volclone_group_snapshot.<snapshot id>``, and takes the
images out of the group again. An image can be in one group at a time, but its
group snapshot stays readable, and stays the group's, after the image leaves
(measured on Ceph 16, see docs/ceph-dev.md). So requests whose sources overlap
serialize only on that short step, not until their clones are made.

Clones are COW children made by snapshot id where librbd can (``rbd_clone4``,
Ceph 19+, probed at :meth:`~RbdDriver.start`); otherwise each source is
deep-copied as of its group snapshot (Ceph 16 cannot clone from a group
snapshot). Either way a clone is made under a temporary name and renamed when
complete, so an image ``volume-<id>`` is always whole and a leftover of a crash
is found by name.

Removing the group removes its snapshots from every image it snapped, member or
not, so nothing of a group snapshot outlives :meth:`~RbdDriver.delete_group_snapshot`.
A snapshot that COW clones still use moves to RBD's trash namespace and goes
with its last child; deleting a volume flattens such children first.

Cinder's group snapshots (:meth:`~RbdDriver.create_snapshots_at_once`) are the same one RBD
group snapshot, named after the group snapshot record; each member's share of it is then a
snapshot of its volume (``volclone.backends.rbd.members``).

Attached volumes are not served by volclone: :meth:`~RbdDriver.initialize_connection`
returns Cinder's ``rbd`` connection_info (pool/image, monitor addresses, auth) and the
consumer's librbd (QEMU, krbd) talks to the cluster itself. Cross-backend clones read
an image at its group snapshot and write new images (``volclone.backends.rbd.ports``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_any
from pathlib import Path
from typing import Any

from volclone.backends.base import (
    Attachable,
    ByteProgress,
    CloneMethod,
    ClonePlannable,
    DataSwappable,
    Extendable,
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
    remove_made,
)
from volclone.backends.rbd import qos
from volclone.backends.rbd.members import MemberSnapshots
from volclone.backends.rbd.ports import RbdReader, RbdWriter
from volclone.errors import BackendError

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install python3-rbd python3-rados"
GIB = 1024**3

#: How clones are made (:attr:`RbdDriver.clone_method`).
COW = "cow"  # COW children of the group snapshot, by snapshot id (Ceph 19+)
COPY = "copy"  # deep copies as of the group snapshot (Ceph 16)

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_GROUP_SNAP_NAME = "volclone"
_PROBE_PARENT = "volclone-probe-parent-that-does-not-exist"
#: Images deep-copied at once by clone_from_group_snapshot (the bindings release the GIL while
#: librbd copies). On one OSD, one at a time measured 1.46-1.56x the raw floor in the benchmark,
#: four at a time 1.25x (docs/ceph-dev.md).
CLONE_WORKERS = 4
#: Seconds between two progress reports while images are cloned (a raising report stops the clone).
REPORT_EVERY = 0.1
#: Waits before retrying an operation that librbd refused with EBUSY (see _discard).
_BUSY_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
#: How long a clone waits for the partial image of an earlier attempt to be let go. A worker
#: killed during a deep copy keeps its watch on the image until the OSDs time the watch out
#: (``osd_client_watch_timeout``, 30 s by default); the worker that takes the flow over waits
#: that out instead of failing (and reverting) the clone.
STALE_PARTIAL_WAIT_S = 45.0
#: How long a group snapshot waits for another worker's group to let go of a source image.
GROUP_BUSY_WAIT_S = 60.0


class _InAnotherGroup(BackendError):
    """An image is in another RBD group (another group snapshot's, for a moment)."""


def image_name(volume_id: str) -> str:
    return f"volume-{volume_id}"


def partial_name(volume_id: str) -> str:
    """Where a clone is made until it is complete."""
    return f"volume-{volume_id}.partial"


def group_name(snapshot_id: str) -> str:
    return f"volclone-{snapshot_id}"


def record_name(snapshot_id: str) -> str:
    """The RADOS object holding a group snapshot's member snapshot ids."""
    return f"volclone_group_snapshot.{snapshot_id}"


def _check_id(kind: str, value: str) -> None:
    if not _SAFE_ID.fullmatch(value):
        raise BackendError(f"{kind} {value!r} cannot name an RBD object")


def _bindings() -> tuple[Any, Any]:
    try:
        import rados

        import rbd
    except ImportError as exc:
        raise BackendError(f"the RBD driver needs Ceph's Python bindings ({INSTALL_HINT}): {exc}") from exc
    return rados, rbd


def snap_name(snapshot_id: str) -> str:
    """The RBD snapshot (user namespace) of a Cinder snapshot, on its volume's image."""
    return f"snapshot-{snapshot_id}"


class RbdDriver(VolumeDriver, GroupSnapshotCapable, Attachable, SnapshotReadable, VolumeImportable, Extendable,
                ClonePlannable, Snapshottable, GroupSnapshottable, DataSwappable, QosLimitable):
    #: One RBD group snapshot of the sources' group.
    consistency_method = "rbd-group-snapshot"

    def __init__(self, name: str, *, conf: str, pool: str, user: str | None = None,
                 connect_timeout: int = 10) -> None:
        super().__init__(name)
        self.conf = conf
        self.pool = pool
        self.user = user
        #: Seconds start() waits for the monitors (librados' ``client_mount_timeout``).
        self.connect_timeout = max(1, int(connect_timeout))
        # Ceph's modules and handles; set by start().
        self._rados: Any = None
        self._rbd: Any = None
        self._cluster: Any = None
        self._ioctx: Any = None
        self._clone_method: str | None = None
        # Group snapshots are made and removed one at a time: an image can be in one group at a
        # time, and while `group snap create` holds its members' exclusive locks, librbd
        # refuses other snapshot operations on them with EBUSY.
        self._group_lock = threading.RLock()
        self._members = MemberSnapshots(self)

    @classmethod
    def prepare_options(cls, options: Mapping[str, str]) -> dict[str, str]:
        """``conf`` (required) must name an existing file; it is recorded as an absolute path."""
        prepared = dict(options)
        for required in ("conf", "pool"):
            if not prepared.get(required):
                raise ValueError(f"the rbd driver needs the option {required}=...")
        conf = Path(prepared["conf"])
        if not conf.is_file():
            raise ValueError(f"conf file {conf} does not exist")
        prepared["conf"] = str(conf.resolve())
        return prepared

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        if self._ioctx is not None:
            return
        self._rados, self._rbd = _bindings()
        try:
            cluster = self._rados.Rados(conffile=self.conf, rados_id=self.user,
                                        conf={"client_mount_timeout": str(self.connect_timeout)})
        except self._rados.Error as exc:
            raise BackendError(f"backend {self.name}: cannot read {self.conf}: {exc}") from exc
        try:
            cluster.connect(timeout=self.connect_timeout)
            ioctx = cluster.open_ioctx(self.pool)
        except self._rados.Error as exc:
            cluster.shutdown()
            raise BackendError(f"backend {self.name}: cannot open pool {self.pool!r} of the Ceph cluster "
                               f"in {self.conf}: {exc}") from exc
        self._cluster, self._ioctx = cluster, ioctx
        self._clone_method = COW if self._can_clone_by_snap_id() else COPY
        log.info("backend %s: pool %s, clones by %s", self.name, self.pool,
                 "COW clone of the group snapshot" if self._clone_method == COW else "deep copy")

    def stop(self) -> None:
        if self._ioctx is not None:
            self._ioctx.close()
        if self._cluster is not None:
            self._cluster.shutdown()
        self._cluster = self._ioctx = None

    @property
    def clone_method(self) -> str:
        """:data:`COW` or :data:`COPY`, as found at start."""
        if self._clone_method is None:
            raise BackendError(f"backend {self.name} is not started")
        return self._clone_method

    @property
    def _io(self) -> Any:
        if self._ioctx is None:
            raise BackendError(f"backend {self.name} is not started")
        return self._ioctx

    @contextlib.contextmanager
    def _ceph(self, doing: str) -> Iterator[None]:
        """Translate librados/librbd errors into :class:`BackendError` at the driver boundary."""
        try:
            yield
        except (self._rbd.Error, self._rados.Error) as exc:
            raise BackendError(f"backend {self.name}: {doing}: {exc}") from exc

    def _can_clone_by_snap_id(self) -> bool:
        """Whether librbd clones by snapshot id (``rbd_clone4``, Ceph 19+), which reaches
        group snapshots. Asked of a parent that does not exist: bindings that can answer
        ENOENT from librbd; older ones refuse the integer before calling librbd."""
        rbd = self._rbd
        try:
            rbd.RBD().clone(self._io, _PROBE_PARENT, 1, self._io, _PROBE_PARENT + "-child")
        except rbd.ImageNotFound:
            return True
        except (rbd.Error, TypeError) as exc:  # Ceph 16: "p_snapname must be a string"
            log.debug("no clone by snapshot id: %s", exc)
            return False
        return False  # pragma: no cover - a clone of nothing cannot succeed

    # -- volumes -----------------------------------------------------------
    def create_volume(self, volume_id: str, size_gib: int) -> None:
        _check_id("volume id", volume_id)
        with self._ceph(f"creating volume {volume_id}"):
            self._rbd.RBD().create(self._io, image_name(volume_id), size_gib * GIB, old_format=False)

    def extend_volume(self, volume_id: str, new_size_gib: int) -> None:
        """``image.resize``: clients with the image open (a VM's librbd, ``rbd map``) get the
        header update and see the new size without reconnecting. Snapshots keep their size."""
        size = new_size_gib * GIB
        with self._ceph(f"growing volume {volume_id}"), self._rbd.Image(self._io, image_name(volume_id)) as image:
            current = image.size()
            if size <= current:
                raise BackendError(f"volume {volume_id} is {current} bytes; it can't grow to {new_size_gib} GiB")
            image.resize(size)

    # -- QoS: librbd's options in the image's metadata (backends/rbd/qos.py) -------------
    def set_volume_qos(self, volume_id: str, limits: Mapping[str, int]) -> None:
        with self._ceph(f"setting the QoS limits of volume {volume_id}"):
            try:
                with self._rbd.Image(self._io, image_name(volume_id)) as image:
                    qos.apply(image, limits)
            except self._rbd.ImageNotFound:
                return

    def volume_qos(self, volume_id: str) -> dict[str, int]:
        with self._ceph(f"reading the QoS limits of volume {volume_id}"):
            try:
                with self._rbd.Image(self._io, image_name(volume_id), read_only=True) as image:
                    return qos.read(image)
            except self._rbd.ImageNotFound:
                return {}

    def volume_exists(self, volume_id: str) -> bool:
        with self._ceph(f"looking up volume {volume_id}"):
            return self._exists(image_name(volume_id))

    def _exists(self, name: str) -> bool:
        try:
            with self._rbd.Image(self._io, name, read_only=True):
                return True
        except self._rbd.ImageNotFound:
            return False

    def delete_volume(self, volume_id: str) -> None:
        for name in (partial_name(volume_id), image_name(volume_id)):
            self._remove_image(name)

    # -- swapping a volume's data (reverts in place): image renames ------------------
    def _rename(self, from_id: str, to_id: str) -> None:
        """Rename an image; its snapshots and its children (linked by image id) come along."""
        self._rbd.RBD().rename(self._io, image_name(from_id), image_name(to_id))

    def swap_in(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        """Two renames: the volume's image becomes ``keep_as``'s, the replacement's the volume's."""
        for vid in (volume_id, replacement_id, keep_as):
            _check_id("volume id", vid)
        with self._ceph(f"swapping the data of volume {volume_id}"):
            have = {v for v in (volume_id, replacement_id, keep_as) if self._exists(image_name(v))}
            if have == {volume_id, keep_as}:
                return
            if have == {volume_id, replacement_id}:
                self._rename(volume_id, keep_as)
            elif have != {replacement_id, keep_as}:
                raise BackendError(f"volume {volume_id} can't take the data of {replacement_id}: "
                                   f"{', '.join(sorted(have)) or 'none of them'} exist in backend {self.name}")
            self._rename(replacement_id, volume_id)

    def swap_back(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        with self._ceph(f"swapping back the data of volume {volume_id}"):
            if not self._exists(image_name(keep_as)):
                return
            if self._exists(image_name(volume_id)):
                if self._exists(image_name(replacement_id)):
                    raise BackendError(f"volume {volume_id} can't be swapped back: {replacement_id} exists")
                self._rename(volume_id, replacement_id)
            self._rename(keep_as, volume_id)

    def _remove_image(self, name: str, busy_wait: float = 0.0) -> None:
        """Remove an image and its snapshots; their children are flattened first, so no
        clone loses data. Refused while a group snapshot holds the image, and while another
        client has it open (after waiting up to ``busy_wait`` seconds for it to let go)."""
        rbd = self._rbd
        deadline = time.monotonic() + busy_wait
        with self._ceph(f"deleting image {name}"):
            while True:
                try:
                    self._remove_once(name)
                    return
                except rbd.ImageBusy as exc:
                    if time.monotonic() >= deadline:
                        raise BackendError(f"backend {self.name}: image {name} is in use: {exc}") from exc
                    log.info("backend %s: image %s is open elsewhere (a dead client's watch?); waiting",
                             self.name, name)
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _remove_once(self, name: str) -> None:
        rbd = self._rbd
        try:
            rbd.RBD().remove(self._io, name)  # the common case: no snapshots
            return
        except rbd.ImageNotFound:
            return
        except rbd.ImageHasSnapshots:
            pass
        self._drop_snapshots(name)
        try:
            rbd.RBD().remove(self._io, name)
        except rbd.ImageNotFound:
            return

    def _drop_snapshots(self, name: str) -> None:
        """Flatten the children of an image's snapshots, then remove its user snapshots; a
        trashed snapshot goes by itself with its last child."""
        rbd = self._rbd
        with rbd.Image(self._io, name) as image:
            snaps = list(image.list_snaps())
            held = sorted({s["group"]["name"] for s in snaps
                           if s["namespace"] == rbd.RBD_SNAP_NAMESPACE_TYPE_GROUP})
            if held:
                raise BackendError(f"backend {self.name}: image {name} is held by group snapshot "
                                   f"{', '.join(held)}; delete that first")
            for snap in snaps:
                image.set_snap_by_id(snap["id"])
                for child in image.list_children2():
                    self._flatten(child, name)
            image.set_snap(None)
            for snap in snaps:
                if snap["namespace"] == rbd.RBD_SNAP_NAMESPACE_TYPE_USER:
                    self._remove_user_snap(image, snap["name"])

    def _flatten(self, child: Mapping[str, Any], parent: str) -> None:
        log.info("flattening image %s/%s: its parent %s is being deleted", child["pool"], child["image"], parent)
        ioctx = self._cluster.open_ioctx(child["pool"])
        try:
            if child.get("pool_namespace"):
                ioctx.set_namespace(child["pool_namespace"])
            with self._rbd.Image(ioctx, image_id=child["id"]) as image:
                image.flatten()
        finally:
            ioctx.close()

    @staticmethod
    def _remove_user_snap(image: Any, snap: str) -> None:
        if image.is_protected_snap(snap):
            image.unprotect_snap(snap)
        image.remove_snap(snap)

    # -- attachments: the consumer's librbd connects to the cluster itself -----
    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        """Cinder's ``rbd`` connection_info, as its RBD driver gives it to Nova/os-brick."""
        if not self.volume_exists(volume_id):
            raise BackendError(f"backend {self.name}: volume {volume_id} has no image")
        hosts, ports = self.monitors()
        with self._ceph("reading the client settings"):
            auth = "cephx" in (self._cluster.conf_get("auth_client_required") or "cephx")
        user = (self.user or "admin") if auth else None  # librados' default client id is "admin"
        return {"driver_volume_type": "rbd",
                "data": {"name": f"{self.pool}/{image_name(volume_id)}", "hosts": hosts, "ports": ports,
                         "cluster_name": "ceph", "auth_enabled": auth, "auth_username": user,
                         "secret_type": "ceph", "secret_uuid": None, "volume_id": volume_id,
                         "discard": True, "keyring": None, "access_mode": "rw" if writable else "ro"}}

    def terminate_connection(self, volume_id: str) -> None:
        """Nothing is served here; the consumer's librbd closes the image itself."""

    def monitors(self) -> tuple[list[str], list[str]]:
        """The monitors' hosts and ports (as strings, like Cinder), from ``mon dump``: each
        monitor's msgr1 address, which every librbd speaks, else its msgr2 one."""
        with self._ceph("asking the monitors for the monitor map"):
            ret, out, err = self._cluster.mon_command(json.dumps({"prefix": "mon dump", "format": "json"}), b"")
        if ret != 0:
            raise BackendError(f"backend {self.name}: mon dump failed: {err}")
        hosts, ports = [], []
        for mon in json.loads(out)["mons"]:
            addrs = {a["type"]: a["addr"] for a in mon.get("public_addrs", {}).get("addrvec", [])}
            addr = addrs.get("v1") or addrs.get("v2") or mon["addr"].split("/")[0]
            host, port = addr.rsplit(":", 1)
            hosts.append(host.strip("[]"))
            ports.append(port)
        return hosts, ports

    # -- cross-backend copies ---------------------------------------------------
    def open_snapshot_member(self, snapshot: GroupSnapshot, volume_id: str) -> VolumeReader:
        if volume_id not in snapshot.members:
            raise BackendError(f"backend {self.name}: volume {volume_id} is not in group snapshot {snapshot.id}")
        return RbdReader(self._rbd, self._io, image_name(volume_id), self._snap_ref(snapshot, volume_id),
                         self._ceph)

    def import_volume(self, volume_id: str, size: int) -> VolumeWriter:
        _check_id("volume id", volume_id)
        return RbdWriter(self._rbd, self._io, partial_name(volume_id), image_name(volume_id), size, self._ceph,
                         self._remove_image)

    # -- dry runs ----------------------------------------------------------------
    def clone_method_for(self, full_copy: bool) -> CloneMethod:
        """COW children where librbd clones by snapshot id, else deep copies; ``full_copy``
        changes nothing (see :meth:`create_group_snapshot`)."""
        return CloneMethod.RBD_COW if self.clone_method == COW else CloneMethod.RBD_DEEP_COPY

    def allocated_bytes(self, volume_ids: Sequence[str]) -> dict[str, int]:
        """What ``rbd du`` counts: the image's allocated extents (its parent's included), from
        ``diff_iterate`` (whole objects where the fast-diff map is valid). Read only."""
        for vid in volume_ids:
            _check_id("volume id", vid)
        return dict(zip(volume_ids, self._map(self._allocated, list(volume_ids)), strict=True))

    def _allocated(self, volume_id: str) -> int:
        rbd, total = self._rbd, 0

        def heard(offset: int, length: int, exists: bool) -> int:
            nonlocal total
            total += length if exists else 0
            return 0

        with self._ceph(f"measuring volume {volume_id}"), \
                rbd.Image(self._io, image_name(volume_id), read_only=True) as image:
            image.diff_iterate(0, image.size(), None, heard, include_parent=True,
                               whole_object=bool(image.features() & rbd.RBD_FEATURE_FAST_DIFF))
        return total

    # -- group snapshots -----------------------------------------------------
    def create_group_snapshot(self, snapshot_id: str, volume_ids: list[str], *,
                              full_copy: Collection[str] = ()) -> GroupSnapshot:
        # Clones are copies on every Ceph that can't clone from a group snapshot, so
        # ``full_copy`` changes nothing there.
        _check_id("snapshot id", snapshot_id)
        volume_ids = list(dict.fromkeys(volume_ids))
        if not volume_ids:
            raise BackendError(f"backend {self.name}: a group snapshot needs at least one volume")
        group = group_name(snapshot_id)
        with self._group_lock:
            existing = self.find_group_snapshot(snapshot_id)
            if existing is not None:
                with self._ceph(f"ungrouping the sources of {snapshot_id}"):
                    self._ungroup(group)  # a crash may have come between recording and ungrouping
                return existing
            try:
                with self._ceph(f"taking group snapshot {snapshot_id}"):
                    handle = self._group_sources(group, volume_ids)
                    started = time.perf_counter()
                    handle.create_snap(_GROUP_SNAP_NAME)  # writers pause within this call
                    freeze_ms = (time.perf_counter() - started) * 1000
                    snap_ids = self._map(lambda vid: self._group_snap_id(image_name(vid), group), volume_ids)
                    members = dict(zip(volume_ids, snap_ids, strict=True))
                    self._write_record(snapshot_id, members)
                    self._ungroup(group)
            except Exception:
                try:
                    self._discard(snapshot_id)
                except Exception:
                    log.exception("backend %s: could not clean up group snapshot %s", self.name, snapshot_id)
                raise
        log.info("backend %s: group snapshot %s of %d volumes: I/O paused at most %.0f ms", self.name,
                 snapshot_id, len(volume_ids), freeze_ms)
        return GroupSnapshot(snapshot_id, {vid: str(snap) for vid, snap in members.items()},
                             io_freeze_ms=freeze_ms)

    def _group_sources(self, group: str, volume_ids: list[str]) -> Any:
        """RBD group ``group`` (made anew) holding the sources' images.

        An image is in one RBD group at a time, and another worker of the backend (another
        process: ``_group_lock`` does not reach it) may be taking a group snapshot of some of
        them. Its group holds them only for a moment; let go of ours and try again, for up to
        :data:`GROUP_BUSY_WAIT_S` (a group a crashed worker left goes when its flow resumes)."""
        rbd = self._rbd
        deadline, wait = time.monotonic() + GROUP_BUSY_WAIT_S, 0.02
        while True:
            rbd.RBD().group_remove(self._io, group)  # left by an attempt that never finished
            rbd.RBD().group_create(self._io, group)
            handle = rbd.Group(self._io, group)
            try:
                for vid in volume_ids:
                    self._add_to_group(handle, vid)
                return handle
            except _InAnotherGroup as exc:
                if time.monotonic() >= deadline:
                    raise BackendError(f"{exc.message} for {GROUP_BUSY_WAIT_S:g} s") from exc
                log.info("backend %s: %s; retrying", self.name, exc.message)
            rbd.RBD().group_remove(self._io, group)  # hold nothing while waiting: no deadlock
            time.sleep(wait * random.uniform(0.5, 1.5))
            wait = min(wait * 2, 0.5)

    def _add_to_group(self, handle: Any, volume_id: str) -> None:
        rbd = self._rbd
        try:
            handle.add_image(self._io, image_name(volume_id))
        except rbd.ObjectNotFound as exc:
            raise BackendError(f"backend {self.name}: volume {volume_id} has no image") from exc
        except rbd.ObjectExists as exc:
            raise _InAnotherGroup(f"backend {self.name}: volume {volume_id} is in another RBD group") from exc

    def _group_snap_id(self, name: str, group: str) -> int:
        rbd = self._rbd
        with rbd.Image(self._io, name, read_only=True) as image:
            for snap in image.list_snaps():
                if snap["namespace"] == rbd.RBD_SNAP_NAMESPACE_TYPE_GROUP and snap["group"]["name"] == group:
                    return int(snap["id"])
        raise BackendError(f"backend {self.name}: image {name} has no snapshot of group {group}")

    def _ungroup(self, group: str) -> None:
        handle = self._rbd.Group(self._io, group)
        try:
            images = list(handle.list_images())
        except self._rbd.ObjectNotFound:
            return
        for image in images:
            handle.remove_image(self._io, image["name"])

    def _write_record(self, snapshot_id: str, members: Mapping[str, int], *,
                      snapshots: Mapping[str, str] | None = None) -> None:
        """``snapshots``: a Cinder group snapshot's member snapshot ids (-> volume ids)."""
        body: dict[str, object] = {"group": group_name(snapshot_id), "members": dict(members)}
        if snapshots:
            body["snapshots"] = dict(snapshots)
        self._io.write_full(record_name(snapshot_id), json.dumps(body, sort_keys=True).encode())

    def _record(self, snapshot_id: str) -> dict[str, Any] | None:
        try:
            size, _ = self._io.stat(record_name(snapshot_id))
            raw = self._io.read(record_name(snapshot_id), size)
        except self._rados.ObjectNotFound:
            return None
        body: dict[str, Any] = json.loads(raw)
        return body

    def _read_record(self, snapshot_id: str) -> dict[str, int] | None:
        body = self._record(snapshot_id)
        return None if body is None else {vid: int(snap) for vid, snap in body["members"].items()}

    def _discard(self, snapshot_id: str) -> None:
        """Remove a group snapshot: first its members' pointers and its record (so it is never
        found half gone), then its group, which takes the group's snapshots off every image it
        snapped. No-op if gone.

        Another client's ``group snap create`` on the same images makes librbd refuse the
        snapshot removals with EBUSY for a moment: wait and retry."""
        self._members.drop_pointers(self._record(snapshot_id) or {})
        try:
            self._io.remove_object(record_name(snapshot_id))
        except self._rados.ObjectNotFound:
            pass
        for wait in (*_BUSY_RETRIES, None):
            try:
                self._rbd.RBD().group_remove(self._io, group_name(snapshot_id))
                return
            except self._rbd.ImageBusy:
                if wait is None:
                    raise
                log.info("backend %s: images of group snapshot %s are busy; retrying", self.name, snapshot_id)
                time.sleep(wait)

    def find_group_snapshot(self, snapshot_id: str) -> GroupSnapshot | None:
        _check_id("snapshot id", snapshot_id)
        with self._ceph(f"looking up group snapshot {snapshot_id}"):
            members = self._read_record(snapshot_id)
        if members is None:
            return None
        return GroupSnapshot(snapshot_id, {vid: str(snap) for vid, snap in members.items()})

    def delete_group_snapshot(self, snapshot_id: str) -> None:
        _check_id("snapshot id", snapshot_id)
        with self._group_lock, self._ceph(f"deleting group snapshot {snapshot_id}"):
            self._discard(snapshot_id)

    # -- Cinder's group snapshots: one RBD group snapshot (backends/rbd/members.py) ------
    def create_snapshots_at_once(self, members: Sequence[tuple[str, str]], *,
                                 group_snapshot_id: str | None = None) -> None:
        """ONE RBD group snapshot of every member's image (group ``volclone-<group snapshot id>``);
        each member's share of it is then snapshot ``snapshot_id`` of its volume."""
        for volume_id, snapshot_id in members:
            _check_id("volume id", volume_id)
            _check_id("snapshot id", snapshot_id)
        self._members.create_at_once(members, group_snapshot_id)

    # -- snapshots of one volume (Cinder's): RBD snapshots of its image ---------------
    # (or its share of a group snapshot: a group-namespace snapshot, reached by its id)
    def _user_snaps(self, image: Any) -> set[str]:
        return {sn["name"] for sn in image.list_snaps() if sn.get("namespace", self._rbd.RBD_SNAP_NAMESPACE_TYPE_USER)
                == self._rbd.RBD_SNAP_NAMESPACE_TYPE_USER}

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """``image.create_snap``: librbd takes the image's exclusive lock from its writer for the
        moment of the snapshot, so it is one point in time of a written image."""
        _check_id("snapshot id", snapshot_id)
        name = snap_name(snapshot_id)
        with self._group_lock, self._ceph(f"snapshotting volume {volume_id}"), \
                self._rbd.Image(self._io, image_name(volume_id)) as image:
            if name not in self._user_snaps(image):
                image.create_snap(name)

    def snapshot_exists(self, snapshot_id: str, volume_id: str) -> bool:
        _check_id("snapshot id", snapshot_id)
        with self._ceph(f"looking up snapshot {snapshot_id}"):
            if self._members.find(snapshot_id, volume_id) is not None:
                return True
            try:
                with self._rbd.Image(self._io, image_name(volume_id), read_only=True) as image:
                    return snap_name(snapshot_id) in self._user_snaps(image)
            except self._rbd.ImageNotFound:
                return False

    def delete_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """Removed; one that format-2 clones still use moves to RBD's trash and goes with its last child."""
        _check_id("snapshot id", snapshot_id)
        name = snap_name(snapshot_id)
        with self._group_lock, self._ceph(f"deleting snapshot {snapshot_id}"):
            if self._members.delete(snapshot_id):
                return
            try:
                with self._rbd.Image(self._io, image_name(volume_id)) as image:
                    if name in self._user_snaps(image):
                        self._remove_user_snap(image, name)
            except self._rbd.ImageNotFound:
                return

    def create_volume_from_snapshot(self, new_volume_id: str, snapshot_id: str, volume_id: str,
                                    size_gib: int) -> None:
        """A format-2 COW clone of the snapshot (no protection needed), made under its temporary
        name, grown when asked bigger, then renamed."""
        _check_id("snapshot id", snapshot_id)
        _check_id("volume id", new_volume_id)
        rbd, name, partial = self._rbd, snap_name(snapshot_id), partial_name(new_volume_id)
        with self._ceph(f"making volume {new_volume_id} from snapshot {snapshot_id}"):
            member = self._members.find(snapshot_id, volume_id)
            if member is not None:  # a group-namespace snapshot: by id (COW on Ceph 19+, else a deep copy)
                self._members.create_volume(new_volume_id, image_name(volume_id), member[1], size_gib)
                return
        try:
            with self._ceph(f"making volume {new_volume_id} from snapshot {snapshot_id}"):
                with rbd.Image(self._io, image_name(volume_id), read_only=True) as image:
                    if name not in self._user_snaps(image):
                        raise BackendError(f"backend {self.name} has no snapshot {snapshot_id} of volume {volume_id}")
                    features = image.features()
                    image.set_snap(name)
                    size = int(image.size())
                if size_gib * GIB < size:
                    raise BackendError(f"a volume from snapshot {snapshot_id} needs at least {size // GIB} GiB")
                self._remove_image(partial, busy_wait=STALE_PARTIAL_WAIT_S)
                try:
                    rbd.RBD().clone(self._io, image_name(volume_id), name, self._io, partial, features=features,
                                    clone_format=2)
                except TypeError:  # bindings without clone_format: the cluster's default applies
                    rbd.RBD().clone(self._io, image_name(volume_id), name, self._io, partial, features=features)
                if size_gib * GIB > size:
                    with rbd.Image(self._io, partial) as clone:
                        clone.resize(size_gib * GIB)
                rbd.RBD().rename(self._io, partial, image_name(new_volume_id))
        except Exception:
            with contextlib.suppress(Exception):
                self._remove_image(partial)
            raise

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """``image.rollback_to_snap``: the image's data (and size) as the snapshot froze them."""
        _check_id("snapshot id", snapshot_id)
        name = snap_name(snapshot_id)
        with self._ceph(f"reverting volume {volume_id} to snapshot {snapshot_id}"):
            member = self._members.find(snapshot_id, volume_id)
            if member is not None:  # librbd rolls an image back to a user snapshot only
                self._members.revert(image_name(volume_id), member[1])  # data I/O: no group lock held
                return
        with self._group_lock, self._ceph(f"reverting volume {volume_id} to snapshot {snapshot_id}"), \
                self._rbd.Image(self._io, image_name(volume_id)) as image:
            if name not in self._user_snaps(image):
                raise BackendError(f"backend {self.name} has no snapshot {snapshot_id} of volume {volume_id}")
            image.rollback_to_snap(name)

    # -- clones --------------------------------------------------------------
    def clone_from_group_snapshot(self, snapshot: GroupSnapshot, clones: Mapping[str, str], *,
                                  progress: ByteProgress | None = None) -> None:
        """Make ``clones[source]`` from each source as of ``snapshot``; all or nothing.

        ``progress(done, total)`` counts bytes of the sources' provisioned size: a deep copy
        reports each image when it is copied (Ceph 16's bindings give no finer progress),
        a COW clone is done at once. Clones that exist already (a resumed call) count as done.
        Up to :data:`CLONE_WORKERS` images are copied at once; ``progress`` is called on the
        caller's thread only.
        """
        missing = sorted(set(clones) - set(snapshot.members))
        if missing:
            raise BackendError(f"backend {self.name}: volumes {', '.join(missing)} are not in "
                               f"group snapshot {snapshot.id}")
        for clone_id in clones.values():
            _check_id("volume id", clone_id)
        report = progress or (lambda done, total: None)
        made: list[str] = []
        try:
            with self._ceph(f"cloning from group snapshot {snapshot.id}"):
                snap_ids = {source: self._snap_ref(snapshot, source) for source in clones}
                sources = list(clones)
                sizes = dict(zip(sources, self._map(lambda s: self._size_at(image_name(s), snap_ids[s]), sources),
                                 strict=True))
                total, done = sum(sizes.values()), 0
                report(done, total)
                images = set(self._rbd.RBD().list(self._io))
                todo = [s for s in sources if image_name(clones[s]) not in images]
                for source in clones:
                    if source not in todo:
                        done += sizes[source]
                        report(done, total)
                made = [clones[s] for s in todo]

            def make(source: str) -> str:
                with self._ceph(f"cloning {source} from group snapshot {snapshot.id}"):
                    self._make_clone(image_name(source), snap_ids[source], clones[source])
                return source

            with ThreadPoolExecutor(max_workers=CLONE_WORKERS, thread_name_prefix="rbd-clone") as pool:
                pending = {pool.submit(make, s) for s in todo}
                try:
                    while pending:
                        ended, pending = wait_any(pending, timeout=REPORT_EVERY, return_when=FIRST_COMPLETED)
                        for future in ended:  # one report per image made, as before
                            done += sizes[future.result()]
                            report(done, total)
                        if not ended:  # and one a tick: it may raise (Cancelled): the copies not begun never begin
                            report(done, total)
                finally:
                    # A deep copy under way cannot be stopped (Ceph 16's Image.deep_copy has no
                    # progress callback to stop it by): the pool waits for it, then it is removed.
                    for future in pending:
                        future.cancel()
        except Exception:
            remove_made(self, made)
            raise

    @staticmethod
    def _map(fn: Callable[[str], Any], items: list[str]) -> list[Any]:
        """``fn`` over ``items``, a few at a time: each call mostly waits on the cluster, and the
        bindings release the GIL meanwhile."""
        if len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(CLONE_WORKERS, len(items)), thread_name_prefix="rbd") as pool:
            return list(pool.map(fn, items))

    def _snap_ref(self, snapshot: GroupSnapshot, source: str) -> int:
        try:
            return int(snapshot.members[source])
        except ValueError:
            raise BackendError(f"backend {self.name}: {snapshot.members[source]!r} is not an RBD "
                               f"snapshot id (volume {source} in {snapshot.id})") from None

    def _size_at(self, name: str, snap_id: int) -> int:
        with self._rbd.Image(self._io, name, read_only=True) as image:
            image.set_snap_by_id(snap_id)
            return int(image.size())

    def _make_clone(self, source: str, snap_id: int, clone_id: str, size: int | None = None) -> None:
        """Make the clone under its temporary name (grown to ``size`` bytes when that is bigger),
        then give it its own."""
        partial = partial_name(clone_id)
        self._remove_image(partial, busy_wait=STALE_PARTIAL_WAIT_S)  # left by a crash
        if self.clone_method == COW:
            self._cow_clone(source, snap_id, partial)
        else:
            self._deep_copy(source, snap_id, partial)
        if size is not None:
            with self._rbd.Image(self._io, partial) as image:
                if size > int(image.size()):
                    image.resize(size)
        self._rbd.RBD().rename(self._io, partial, image_name(clone_id))

    def _cow_clone(self, source: str, snap_id: int, dest: str) -> None:
        rbd = self._rbd
        with rbd.Image(self._io, source, read_only=True) as image:
            features = image.features()
        try:
            # Format 2 clones need no protected snapshot, which a group snapshot cannot be.
            rbd.RBD().clone(self._io, source, snap_id, self._io, dest, features=features, clone_format=2)
        except TypeError:  # bindings without clone_format: the cluster's default applies
            rbd.RBD().clone(self._io, source, snap_id, self._io, dest, features=features)

    def _deep_copy(self, source: str, snap_id: int, dest: str) -> None:
        rbd = self._rbd
        with rbd.Image(self._io, source, read_only=True) as image:
            image.set_snap_by_id(snap_id)
            features = image.features()
            # Ceph 16 aborts the whole process (ceph_assert in object_map::SnapshotRollbackRequest)
            # when a deep copy's destination has an object map: copy without, add it afterwards.
            deferred = features & (rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF)
            image.deep_copy(self._io, dest, features=features & ~deferred)
        with rbd.Image(self._io, dest) as copy:
            for snap in copy.list_snaps():  # a deep copy brings the source's older user snapshots
                if snap["namespace"] == rbd.RBD_SNAP_NAMESPACE_TYPE_USER:
                    self._remove_user_snap(copy, snap["name"])
            if deferred:
                copy.update_features(deferred, True)
                copy.rebuild_object_map()
