"""The local driver: volumes are chains of qcow2 layers in one pool directory.

Consistency comes from ONE qemu-storage-daemon: a group snapshot puts a new
overlay on top of every source in one QMP ``transaction`` (atomic inside one
daemon), which freezes the old active layers at the same instant. A clone is a
new qcow2 whose backing is the frozen layer: instant at any size.

Every layer's references live in the :class:`LayerStore`; a layer is deleted
only when nothing references it, and data is committed into a frozen layer only
when exactly one active layer still uses it (committing into a layer that a
clone also uses would silently corrupt the clone).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
from volclone.backends.local import images
from volclone.backends.local.exports import NbdExports, export_id
from volclone.backends.local.graph import Graph
from volclone.backends.local.layers import Layer, LayerStore, new_layer_id
from volclone.backends.local.ports import LocalReader, LocalWriter
from volclone.backends.local.qsd import JobCancelled, StorageDaemon
from volclone.backends.local.throttle import filter_node
from volclone.errors import BackendError, Cancelled

log = logging.getLogger(__name__)

GIB = 1024**3
#: How long an operation waits for a volume busy with a flatten or a full copy.
BUSY_TIMEOUT = 600.0


def _args(arguments: dict[str, Any]) -> dict[str, Any]:
    """QMP arguments whose names are not Python identifiers, to pass as ``**``."""
    return arguments


def _copy_job(target: Layer) -> str:
    return f"copy-{target.id}"


def snapshot_hold(snapshot_id: str) -> str:
    """The group snapshot of one member that holds a Cinder snapshot's frozen layer."""
    return f"snapshot-{snapshot_id}"


class LocalDriver(VolumeDriver, GroupSnapshotCapable, Attachable, Flattenable, SnapshotReadable, VolumeImportable,
                  Extendable, ClonePlannable, Snapshottable, DataSwappable, QosLimitable,
                  GroupSnapshottable):
    """The pool's volumes, snapshots and clones, and the reference counting of their layers.

    Its parts: :class:`~volclone.backends.local.qsd.StorageDaemon` (the process and QMP),
    :class:`~volclone.backends.local.graph.Graph` (the daemon's open nodes),
    :class:`~volclone.backends.local.exports.NbdExports` (attachments),
    :mod:`~volclone.backends.local.ports` (cross-backend copies) and
    :mod:`~volclone.backends.local.images` (qemu-img, offline).
    """

    #: qcow2 with 64 KiB clusters holds at most 2 PiB.
    max_size_gib = 2 * 1024 * 1024
    #: One QMP ``transaction`` makes every source's new top layer at one instant.
    consistency_method = "qmp-transaction"

    @property
    def crash_consistent(self) -> bool:
        return not self.unsafe_snapshot_gap_ms

    def __init__(self, name: str, *, pool_dir: Path, run_dir: Path, store: LayerStore,
                 nbd_host: str = "127.0.0.1", nbd_port: int = 10809, max_chain_depth: int = 4,
                 unsafe_snapshot_gap_ms: float = 0) -> None:
        super().__init__(name)
        self.pool = Path(pool_dir)
        self.store = store
        self.unsafe_snapshot_gap_ms = unsafe_snapshot_gap_ms
        #: Volumes deeper than this many layers are flattened in the background (0: never).
        self.max_chain_depth = max_chain_depth
        self._compactor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compact")
        #: Volumes a background flatten is queued for (how many times): a group snapshot of one
        #: waits for it, or clones coming faster than flattens would deepen its chain further.
        self._compacting: dict[str, int] = {}
        self._stopping = threading.Event()
        self.daemon = StorageDaemon(Path(run_dir), on_restart=self._rebuild)
        self.graph = Graph(self.pool, store, self.daemon)
        self.exports = NbdExports(self.graph, nbd_host, nbd_port)
        # One lock for every change to the pool's graph: snapshots, merges, deletes, exports.
        # Long work on one volume (a flatten, a full copy) runs without it, under a busy mark.
        self._lock = threading.RLock()
        #: Sources of running full copies: their graphs must not change until the copy ends.
        self._copying: set[str] = set()
        #: Volumes a flatten works on without the pool lock (volume id -> what).
        self._busy: dict[str, str] = {}
        #: Notified whenever a volume stops being busy or copied.
        self._idle = threading.Condition(self._lock)
        #: How long an operation waits for a busy volume before it gives up (seconds).
        self.busy_timeout = BUSY_TIMEOUT
        #: Whether the pool's filesystem can share blocks between files (found at start).
        self.reflink = False

    # -- lifecycle ---------------------------------------------------------
    @property
    def nbd_host(self) -> str:
        return self.exports.host

    @property
    def nbd_port(self) -> int:
        return self.exports.port

    @nbd_port.setter
    def nbd_port(self, port: int) -> None:
        self.exports.port = port

    def start(self) -> None:
        self.graph.forget()
        self.pool.mkdir(parents=True, exist_ok=True)
        self.reflink = images.can_reflink(self.pool)
        log.info("pool %s: %s clones", self.pool, "reflink" if self.reflink else "linked qcow2")
        if self.daemon.start():
            self._adopt()
        self._remove_orphans()

    def _adopt(self) -> None:
        """Take over a daemon that outlived the last run of the service (its NBD clients stay
        connected): keep what matches the layer records, undo the rest.

        * block jobs: a job of the dead service (a stream, a commit, a full copy) has
          nobody waiting for it: cancelled (each leaves the data as the records say);
        * exports: kept when the volume's active layer is the exported node, in the mode
          the export's id names; any other export goes (an attachment that is recorded is
          served again by the service's restore, which also drops exports it doesn't claim,
          see :meth:`keep_only`);
        * nodes: those of the kept exports' chains stay; every other node is closed.
        """
        with self._lock:
            for job in self.daemon.execute("query-jobs"):
                log.warning("cancelling block job %s of an earlier run", job["id"])
                self.daemon.dispose_job(job["id"])
            unswitched = self._repair_exports(self.exports.adopt())
            self.graph.adopt({layer.node for vid in [*self.exports.served, *unswitched]
                              for layer in self.chain(vid)}, others={filter_node(v) for v in self.exports.filtered})
            if unswitched:
                self._finish_switch(unswitched)
            log.info("took over the running qemu-storage-daemon: %d exports, %d nodes kept",
                     len(self.exports.served), len(self.graph.nodes))

    def _repair_exports(self, differ: list[tuple[str, str, bool, str]]) -> dict[str, tuple[Layer, Layer, bool]]:
        """Exports of a daemon taken over whose node is not the volume's active layer: the
        earlier run died between recording a graph change and making it, or the other way
        round. Two cases are repaired, so that the clients stay connected and nothing is lost:

        * the node is the active layer's parent and a group snapshot holds it: the snapshot
          was recorded, its transaction never ran; returned (volume -> (old top, overlay,
          writable)) for :meth:`_finish_switch`, which runs it now;
        * the node is the active layer's parent and nothing else holds it: a live merge
          (active block-commit) completed in the daemon and was not recorded; it is
          recorded now (the child's file is stale: writes went to the parent since).

        Any other export is removed (the service's restore serves the volume again).
        """
        unswitched: dict[str, tuple[Layer, Layer, bool]] = {}
        for eid, vid, writable, node in differ:
            top = self.store.top(vid)
            parent = self.store.get(top.parent_id) if top is not None and top.parent_id else None
            if top is None or parent is None or parent.node != node:
                log.warning("removing export %s of an earlier run: it serves node %s, not the volume's "
                            "active layer", eid, node)
                self.exports.drop(eid)
            elif self.store.held_by(parent.id):
                unswitched[vid] = (parent, top, writable)
            elif not self.store.children(top.id) and len(self.store.children(parent.id)) == 1:
                log.warning("volume %s: recording the merge of %s into %s that the daemon completed",
                            vid, top.id, parent.id)
                self.store.merge_into_parent(top.id)
                self.path(top.id).unlink(missing_ok=True)
                self.exports.served[vid] = writable
            else:
                log.warning("removing export %s of an earlier run: its node %s is shared", eid, node)
                self.exports.drop(eid)
        return unswitched

    def _finish_switch(self, unswitched: dict[str, tuple[Layer, Layer, bool]]) -> None:
        """Put each recorded overlay on top of its exported old top, all in ONE transaction
        (the snapshot's consistency point is now); the exports follow the new tops."""
        try:
            for _, overlay, _ in unswitched.values():
                if overlay.node not in self.graph.nodes:  # the earlier run may have opened it
                    self.graph.add(overlay, backing=None)
            self.daemon.execute("transaction", actions=[
                {"type": "blockdev-snapshot", "data": {"node": old.node, "overlay": overlay.node}}
                for old, overlay, _ in unswitched.values()])
        except BackendError:
            log.exception("the recorded snapshot switch of %s failed; their exports go (restore serves "
                          "them again)", ", ".join(unswitched))
            for vid, (_, _, writable) in unswitched.items():
                self.exports.drop(export_id(vid, writable))
            return
        for vid, (_, _, writable) in unswitched.items():
            self.exports.served[vid] = writable
        log.warning("volumes %s: ran the recorded snapshot switch the earlier run did not", ", ".join(unswitched))

    def _remove_orphans(self) -> None:
        """Delete pool files without a layer record: left by a crash between making a file
        and recording it. Runs at start, before any flow, so nothing is being made now."""
        known = self.store.all_ids()
        for path in self.pool.glob("*.qcow2"):
            if path.stem not in known:
                log.warning("removing orphan pool file %s", path.name)
                path.unlink(missing_ok=True)

    def interrupt(self) -> None:
        """The service is stopping: flattens and waits for full copies give up now (their
        flows revert), before the service waits for its flows to end."""
        self._stopping.set()

    def stop(self, keep_serving: bool = False) -> None:
        """Stop promptly: a flatten in progress is cancelled, not waited for to the end.

        With ``keep_serving``, a daemon that serves attached volumes is left running, and
        their NBD clients connected; the next start takes it over (see :meth:`_adopt`).
        """
        self._stopping.set()
        self._compactor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            # A flatten of another thread gives up now; its stream is disposed of before
            # the daemon goes (or its last commands would start a new daemon).
            if not self._idle.wait_for(lambda: not self._busy, timeout=60):
                log.warning("stopping while %s are still busy", ", ".join(self._busy))
            if keep_serving and self.exports.served and self.daemon.alive():
                log.info("qemu-storage-daemon pid %s keeps serving %d attached volumes",
                         self.daemon.pid, len(self.exports.served))
                self.daemon.detach()
            else:
                self.daemon.close()
            self.exports.stopped()

    # -- attachments: NBD exports served by the daemon ----------------------
    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        with self._lock:
            if volume_id in self._busy:
                self._wait_until_free([volume_id])
            if self.store.top(volume_id) is None:
                raise BackendError(f"volume {volume_id} has no data in pool {self.name}")
            self.exports.serve(volume_id, writable)
            return self.exports.connection_info(volume_id)

    def terminate_connection(self, volume_id: str) -> None:
        with self._lock:
            if volume_id in self._busy:
                self._wait_until_free([volume_id])
            if self.exports.stop_serving(volume_id):
                self._close([volume_id])

    # -- QoS: a throttle group per served volume with limits ---------------------------
    def set_volume_qos(self, volume_id: str, limits: Mapping[str, int]) -> None:
        """Applied at once to a volume served through its throttle filter; else from its next
        export (an export without the filter can't get one while it serves: QEMU 7.2 can't put
        a node under a running export)."""
        with self._lock:
            if self.store.top(volume_id) is None:
                self.exports.limits.pop(volume_id, None)
                return
            if not self.exports.set_limits(volume_id, dict(limits)):
                log.info("volume %s is served without a throttle; its QoS limits apply from its next attach",
                         volume_id)

    def volume_qos(self, volume_id: str) -> dict[str, int]:
        """The limits the daemon enforces on the volume's export, read from its throttle group
        (``qom-get``); empty when it is not served through one."""
        with self._lock:
            if volume_id not in self.exports.filtered:
                return {}
            return self.exports.throttles.group_limits(volume_id) or {}

    def keep_only(self, volume_ids: Collection[str]) -> None:
        """Stop serving every volume not in ``volume_ids`` (after a start: what a daemon
        taken over served for attachments that are gone)."""
        with self._lock:
            for volume_id in [v for v in self.exports.served if v not in volume_ids]:
                log.warning("volume %s was served without an attachment; no longer", volume_id)
                self.terminate_connection(volume_id)

    def _rebuild(self) -> None:
        """After the daemon restarted: reopen and serve every exported volume again."""
        with self._lock:
            self.graph.forget()
            self.exports.rebuild()

    def path(self, layer_id: str) -> Path:
        return self.graph.path(layer_id)

    def daemon_nodes(self) -> set[str]:
        """Node names the daemon has open (for tests and diagnostics)."""
        return self.graph.daemon_nodes()

    # -- volumes -----------------------------------------------------------
    def create_volume(self, volume_id: str, size_gib: int) -> None:
        layer = Layer(new_layer_id(), None, volume_id)
        try:  # all or nothing: a file qemu-img left half made (a full pool) goes too
            images.run_all([images.create_commands(self.path(layer.id), size_gib * GIB)])
            self.store.add([layer])
        except Exception:
            self.path(layer.id).unlink(missing_ok=True)
            raise

    def volume_exists(self, volume_id: str) -> bool:
        top = self.store.top(volume_id)
        return top is not None and self.path(top.id).exists()

    def chain(self, volume_id: str) -> list[Layer]:
        """A volume's layers, active layer first."""
        return self.store.chain(volume_id)

    def delete_volume(self, volume_id: str) -> None:
        """The volume lets go of its active layer; the layer goes when nothing else holds it."""
        with self._lock:
            if volume_id in self._busy:
                self._wait_until_free([volume_id])
            self.exports.limits.pop(volume_id, None)
            top = self.store.top(volume_id)
            if top is None:
                return
            self.store.adopt(top.id, None)
            self._collect(Layer(top.id, top.parent_id, None))

    def extend_volume(self, volume_id: str, new_size_gib: int) -> None:
        """Grow the volume's active layer; the layers below (snapshots, shared layers) keep their size.

        Closed in the daemon: ``qemu-img resize``. Open: QMP ``block_resize`` on its node. An NBD
        export fixes its node's size (QEMU 7.2 refuses ``block_resize`` on an exported node: the
        export does not share the resize permission), and NBD tells a client the size only when
        it connects. So a served volume's export is removed, its node grown, and the export added
        again at the same name and address: connected clients are cut off, and see the new size
        when they reconnect (docs/measurements.md).
        """
        size = new_size_gib * GIB
        with self._lock:
            self._wait_until_free([volume_id])
            top = self.store.top(volume_id)
            if top is None:
                raise BackendError(f"volume {volume_id} has no data in pool {self.name}")
            current = images.virtual_size(self.path(top.id))
            if size <= current:
                raise BackendError(f"volume {volume_id} is {current} bytes; it can't grow to {new_size_gib} GiB")
            if top.node not in self.graph.nodes:
                images.resize(self.path(top.id), size)
                return
            writable = self.exports.served.get(volume_id)
            if writable is not None:
                self.exports.stop_serving(volume_id)
            try:
                self.daemon.execute("block_resize", **{"node-name": top.node}, size=size)
            finally:
                if writable is not None:
                    self.exports.serve(volume_id, writable)
            log.info("volume %s grew to %d GiB%s", volume_id, new_size_gib,
                     " (its NBD clients were cut off; they see the new size when they reconnect)"
                     if writable is not None else "")

    # -- dry runs -------------------------------------------------------------
    def clone_method_for(self, full_copy: bool) -> CloneMethod:
        if full_copy:
            return CloneMethod.FULL
        return CloneMethod.REFLINK if self.reflink else CloneMethod.LINKED

    def allocated_bytes(self, volume_ids: Sequence[str]) -> dict[str, int]:
        """What each volume's chain holds (``qemu-img map`` of its active layer; read only)."""
        with self._lock:
            tops = {v: self.store.top(v) for v in volume_ids}
            missing = [v for v, top in tops.items() if top is None]
            if missing:
                raise BackendError(f"volumes {', '.join(missing)} have no data in pool {self.name}")
            return {v: images.allocated(self.path(top.id)) for v, top in tops.items() if top is not None}

    # -- busy volumes -------------------------------------------------------
    def _wait_until_free(self, volume_ids: Collection[str], flattened: bool = False) -> None:
        """Wait (with the pool lock, which the wait lets go of) until no volume of
        ``volume_ids`` is busy or being copied, and with ``flattened`` none past the chain bound
        has a background flatten queued; gives up after ``busy_timeout``."""
        def busy() -> list[str]:
            return [f"{v} ({self._busy.get(v) or ('a queued flatten' if v in self._compacting else 'a full copy')})"
                    for v in volume_ids if v in self._busy or v in self._copying
                    or (flattened and v in self._compacting and self._too_deep(v))]

        if not self._idle.wait_for(lambda: not busy(), timeout=self.busy_timeout):
            raise BackendError(f"volumes busy for more than {self.busy_timeout:.0f} s: {', '.join(busy())}; "
                               "try again later")

    # -- group snapshots and clones ---------------------------------------
    def create_group_snapshot(self, snapshot_id: str, volume_ids: list[str], *,
                              full_copy: Collection[str] = ()) -> GroupSnapshot:
        """Freeze ``volume_ids`` at one instant. Sources in ``full_copy`` are not frozen:
        a point-in-time full copy of each starts in the same transaction instead
        (``blockdev-backup``), into a new layer the snapshot holds until a clone adopts it."""
        with self._lock:
            existing = self.find_group_snapshot(snapshot_id)
            if existing is not None:
                return existing
            self._wait_until_free(volume_ids, flattened=True)
            tops = {}
            for vid in volume_ids:
                top = self.store.top(vid)
                if top is None:
                    raise BackendError(f"volume {vid} has no data in pool {self.name}")
                tops[vid] = top
            overlays = {v: Layer(new_layer_id(), tops[v].id, v) for v in volume_ids if v not in full_copy}
            targets = {v: Layer(new_layer_id()) for v in volume_ids if v in full_copy}
            sizes = {v: images.virtual_size(self.path(top.id)) for v, top in tops.items()}
            images.run_all(
                [images.create_commands(self.path(ov.id), sizes[v], backing=self.path(tops[v].id))
                 for v, ov in overlays.items()]
                + [images.create_commands(self.path(t.id), sizes[v], options=images.COPY_TARGET_OPTIONS)
                   for v, t in targets.items()]
            )
            new_layers = [*overlays.values(), *targets.values()]
            self.graph.open(volume_ids)
            try:
                for layer in new_layers:
                    self.graph.add(layer, backing=None)
                # Record first, switch second: if the service dies between the two, the
                # overlay (empty, backed by the old top) reads exactly like the old top.
                self.store.freeze(snapshot_id, overlays, targets)
                try:
                    freeze_ms = self._switch(tops, overlays, targets, volume_ids)
                except Exception:
                    self.store.release(snapshot_id)
                    for ov in overlays.values():
                        self.store.merge_into_parent(ov.id)
                    for t in targets.values():
                        self.store.remove(t.id)
                    raise
            except Exception:
                for layer in new_layers:
                    self.graph.remove(layer.node)
                    self.path(layer.id).unlink(missing_ok=True)
                self._close(list(targets))
                raise
            finally:
                self._close(list(overlays))
            self._copying.update(targets)
            log.info("group snapshot %s of %d volumes (%d full copies): I/O paused %.2f ms", snapshot_id,
                     len(volume_ids), len(targets), freeze_ms)
            members = {v: (targets[v] if v in targets else tops[v]).id for v in volume_ids}
            return GroupSnapshot(snapshot_id, members, io_freeze_ms=freeze_ms)

    def _switch(self, tops: Mapping[str, Layer], overlays: Mapping[str, Layer], targets: Mapping[str, Layer],
                volume_ids: list[str]) -> float:
        """ONE QMP transaction: every overlay goes on top of its volume and every full copy
        starts -- the consistency point. Returns how long the daemon took (an upper bound on
        the writers' pause), in ms.

        ``unsafe_snapshot_gap_ms`` (tests only) switches one volume at a time with a gap
        instead, which is NOT consistent; the consistency tests use it to prove they can fail.
        """
        actions = [
            {"type": "blockdev-snapshot", "data": {"node": tops[v].node, "overlay": overlays[v].node}}
            if v in overlays else
            {"type": "blockdev-backup", "data": {"device": tops[v].node, "target": targets[v].node,
                                                 "sync": "full", "job-id": _copy_job(targets[v]),
                                                 # copy_file_range: the kernel moves the data
                                                 # (docs/measurements.md); x-perf is QEMU 7.2's
                                                 # name for it, pinned with Debian 12's QEMU.
                                                 "x-perf": {"use-copy-range": True},
                                                 "auto-dismiss": False}}
            for v in volume_ids
        ]
        # Grouped: one full copy that fails cancels the others. QEMU takes that property only
        # when every action is a job ("Action 'blockdev-snapshot' does not support Transaction
        # property completion-mode"), so a set mixing linked and full sources goes without it;
        # _finish_copies then fails the clone for any copy that failed.
        grouped = {"completion-mode": "grouped"} if targets and not overlays else {}
        batches = [[a] for a in actions] if self.unsafe_snapshot_gap_ms else [actions]
        # Only volumes being written (rw exports): on the others QEMU has nothing to flush.
        images.flush_to_disk(self.path(tops[v].id) for v in volume_ids if self.exports.served.get(v))
        total = 0.0
        for batch in batches:
            t0 = time.perf_counter()
            self.daemon.execute("transaction", actions=batch,
                                **({"properties": grouped} if grouped and len(batch) > 1 else {}))
            total += time.perf_counter() - t0
            if self.unsafe_snapshot_gap_ms:
                time.sleep(self.unsafe_snapshot_gap_ms / 1000)
        return total * 1000

    def find_group_snapshot(self, snapshot_id: str) -> GroupSnapshot | None:
        holds = self.store.holds(snapshot_id)
        return GroupSnapshot(snapshot_id, holds) if holds else None

    def delete_group_snapshot(self, snapshot_id: str) -> None:
        with self._lock:
            holds = self.store.holds(snapshot_id)
            for source, layer_id in holds.items():
                layer = self.store.get(layer_id)
                if layer is not None and source in self._copying and self._is_copy(layer):
                    self._end_copy(source, layer, adopt_as=None)
                elif layer is None and source in self._copying:
                    # Its copy's layer is gone (a failed clone, a lost job): the mark goes too,
                    # or every later snapshot of the source waits for a copy that never ends.
                    self._copying.discard(source)
                    self._idle.notify_all()
            self.store.release(snapshot_id)
            touched = set(holds)
            for layer_id in holds.values():
                touched.update(c.volume_id for c in self.store.children(layer_id) if c.volume_id)
                layer = self.store.get(layer_id)
                if layer is not None:
                    self._collect(layer)
            self._compact_later(touched)

    def clone_from_group_snapshot(self, snapshot: GroupSnapshot, clones: Mapping[str, str], *,
                                  progress: ByteProgress | None = None) -> None:
        """Linked clones: a new qcow2 over each frozen layer (instant at any size). On a pool
        that can reflink (XFS, btrfs), independent clones: a reflink copy of the frozen layer,
        sharing its blocks, so the source's overlay folds back and chains stay one deep.
        Full copies started by the snapshot are waited for (``progress`` hears their bytes)
        and their layers become the clones."""
        with self._lock:
            missing = [s for s in clones if s not in snapshot.members]
            if missing:
                raise BackendError(f"volumes {', '.join(missing)} are not in group snapshot {snapshot.id}")
            frozen = {source: self.store.get(snapshot.members[source]) for source in clones}
            broken = [s for s, layer in frozen.items() if layer is None or not self.path(layer.id).exists()]
            if broken:
                raise BackendError(f"group snapshot {snapshot.id} lost the data of {', '.join(broken)}")
            todo = {s: layer for s, layer in frozen.items()
                    if layer is not None and self.store.top(clones[s]) is None}
            copies = {s: layer for s, layer in todo.items() if s in self._copying or self._is_copy(layer)}
            self._clone_linked({clones[s]: layer for s, layer in todo.items() if s not in copies})
        if copies:
            self._finish_copies(copies, clones, progress)

    def _clone_linked(self, todo: Mapping[str, Layer]) -> None:
        made: list[Layer] = []
        try:
            if self.reflink:
                for clone_id, layer in todo.items():
                    made.append(Layer(new_layer_id(), layer.parent_id, clone_id))
                    images.reflink(self.path(layer.id), self.path(made[-1].id))
            else:
                made = [Layer(new_layer_id(), layer.id, clone_id) for clone_id, layer in todo.items()]
                images.run_all(
                    images.create_commands(self.path(c.id), images.virtual_size(self.path(p.id)),
                                           backing=self.path(p.id))
                    for c, p in zip(made, todo.values(), strict=True)
                )
            self.store.add(made)
        except Exception:
            for layer in made:
                self.path(layer.id).unlink(missing_ok=True)
            raise

    def _is_copy(self, layer: Layer) -> bool:
        """A layer a full copy writes into: held by a snapshot, used by nothing yet."""
        return layer.parent_id is None and layer.volume_id is None and not self.store.children(layer.id)

    def _finish_copies(self, copies: Mapping[str, Layer], clones: Mapping[str, str],
                       progress: ByteProgress | None) -> None:
        """Wait for the full copies (without the pool lock: they may take long), then let
        each clone adopt its copy. A failure leaves the copies to delete_group_snapshot.

        A ``progress`` that raises :class:`~volclone.errors.Cancelled` (the clone task was
        cancelled) stops the copies at once: their block jobs are cancelled here, and their
        layers still go with delete_group_snapshot (the flow's revert)."""
        jobs = {_copy_job(layer): source for source, layer in copies.items()}
        try:
            self._wait_for_copies(jobs, progress)
        except Cancelled:
            with self._lock:
                for job in jobs:
                    self.daemon.dispose_job(job)
            log.info("full copies of %s cancelled", ", ".join(sorted(jobs.values())))
            raise
        with self._lock:
            for source, layer in copies.items():
                self._end_copy(source, layer, adopt_as=clones[source])

    def _wait_for_copies(self, jobs: Mapping[str, str], progress: ByteProgress | None) -> None:
        """Poll the copy jobs (job id -> source) until all have concluded, reporting their bytes."""
        while True:
            running = {j["id"]: j for j in self.daemon.execute("query-jobs") if j["id"] in jobs}
            lost = [jobs[j] for j in jobs if j not in running]
            if lost:
                raise BackendError(f"the full copy of {', '.join(lost)} was lost (did the daemon restart?)")
            if progress is not None:
                progress(sum(int(j["current-progress"]) for j in running.values()),
                         sum(int(j["total-progress"]) for j in running.values()))
            if all(j["status"] == "concluded" for j in running.values()):
                failed = {jobs[i]: j["error"] for i, j in running.items() if j.get("error")}
                if failed:
                    raise BackendError("full copy failed: " + "; ".join(f"{s}: {e}" for s, e in failed.items()))
                break
            if self._stopping.is_set():
                raise BackendError("the service is stopping: the full copy of "
                                   f"{', '.join(sorted(jobs.values()))} was given up")
            time.sleep(0.02)

    def _end_copy(self, source: str, layer: Layer, adopt_as: str | None) -> None:
        """Retire a full copy's job and node; the clone ``adopt_as`` takes its layer (or nobody)."""
        self.daemon.dispose_job(_copy_job(layer))
        self.graph.remove(layer.node)
        if adopt_as is not None:
            self.store.adopt(layer.id, adopt_as)
        self._copying.discard(source)
        self._close([source])
        self._idle.notify_all()

    # -- snapshots of one volume (Cinder's) ---------------------------------
    # A snapshot is a group snapshot of its one volume (one QMP transaction, also while the
    # volume is exported and written): its frozen layer, held under the snapshot's name.
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.create_group_snapshot(snapshot_hold(snapshot_id), [volume_id])

    def create_snapshots_at_once(self, members: Sequence[tuple[str, str]], *,
                                 group_snapshot_id: str | None = None) -> None:
        """Cinder's group snapshot: ONE QMP transaction freezes every member (the group
        snapshot's consistency point, as for a clone-volumes set); then each frozen layer's hold
        is handed to its member snapshot, in one commit, so each is an ordinary snapshot."""
        volume_ids = [v for v, _ in members]
        if len(set(volume_ids)) != len(volume_ids):
            raise BackendError("a volume can be in a group snapshot only once")
        at_once = f"group-{new_layer_id()}"
        with self._lock:
            self.create_group_snapshot(at_once, volume_ids)
            try:
                self.store.split(at_once, {v: snapshot_hold(s) for v, s in members})
            except Exception:
                self.delete_group_snapshot(at_once)
                raise

    def snapshot_exists(self, snapshot_id: str, volume_id: str) -> bool:
        return volume_id in self.store.holds(snapshot_hold(snapshot_id))

    def delete_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.delete_group_snapshot(snapshot_hold(snapshot_id))

    def _snapshot_layer(self, snapshot_id: str, volume_id: str) -> Layer:
        layer_id = self.store.holds(snapshot_hold(snapshot_id)).get(volume_id)
        layer = self.store.get(layer_id) if layer_id else None
        if layer is None or not self.path(layer.id).exists():
            raise BackendError(f"pool {self.name} has no snapshot {snapshot_id} of volume {volume_id}")
        return layer

    def create_volume_from_snapshot(self, new_volume_id: str, snapshot_id: str, volume_id: str,
                                    size_gib: int) -> None:
        """A linked clone of the frozen layer (a reflink copy where the pool can), grown to
        ``size_gib`` when that is bigger than the snapshot."""
        with self._lock:
            frozen = self._snapshot_layer(snapshot_id, volume_id)
            size = images.virtual_size(self.path(frozen.id))
            if size_gib * GIB < size:
                raise BackendError(f"a volume from snapshot {snapshot_id} needs at least {size // GIB} GiB")
            if self.store.top(new_volume_id) is not None:
                raise BackendError(f"pool {self.name} has a volume {new_volume_id} already")
            self._clone_linked({new_volume_id: frozen})
            if size_gib * GIB > size:
                try:
                    self.extend_volume(new_volume_id, size_gib)
                except Exception:
                    self.delete_volume(new_volume_id)
                    raise

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """A new, empty active layer over the frozen one takes the old active layer's place (one
        record change); the old layer goes. Until the record changes the volume reads as before."""
        with self._lock:
            self._wait_until_free([volume_id])
            if volume_id in self.exports.served:
                raise BackendError(f"volume {volume_id} is served; detach it before reverting it")
            frozen = self._snapshot_layer(snapshot_id, volume_id)
            top = self.store.top(volume_id)
            if top is None:
                raise BackendError(f"volume {volume_id} has no data in pool {self.name}")
            new = Layer(new_layer_id(), frozen.id, volume_id)
            try:
                images.run_all([images.create_commands(self.path(new.id), images.virtual_size(self.path(frozen.id)),
                                                       backing=self.path(frozen.id))])
                self.store.replace_top(volume_id, new)
            except Exception:
                self.path(new.id).unlink(missing_ok=True)
                raise
            self.graph.close_layers([top])
            self._collect(Layer(top.id, top.parent_id, None))

    # -- reference counting -----------------------------------------------
    def _drop(self, layer: Layer) -> None:
        """Remove a layer that lost its last reference, then look at its parent."""
        self.store.remove(layer.id)
        self.path(layer.id).unlink(missing_ok=True)
        parent = self.store.get(layer.parent_id) if layer.parent_id else None
        if parent is not None:
            self._collect(parent)

    def _collect(self, layer: Layer) -> None:
        """Remove ``layer`` if unreferenced; fold it with its only child if that is safe."""
        if layer.volume_id is not None or self.store.held_by(layer.id):
            return
        children = self.store.children(layer.id)
        if not children:
            self._drop(layer)
        elif len(children) == 1 and self._mergeable(children[0]):
            self._merge(children[0])

    def _mergeable(self, child: Layer) -> bool:
        # Not a busy volume: a flatten streams into its active layer (it folds later).
        return (child.volume_id is not None and child.volume_id not in self._busy
                and not self.store.children(child.id) and not self.store.held_by(child.id))

    def _merge(self, child: Layer) -> None:
        """Fold an active layer into its parent, which only it references.

        Offline with ``qemu-img commit`` when the volume is closed; live with an active
        ``block-commit`` when it is exported (the export moves to the parent). Crash-safe in
        any order: until the record moves, the child still reads the same data.
        """
        assert child.parent_id is not None
        parent = self.store.get(child.parent_id)
        assert parent is not None
        if child.node in self.graph.nodes:
            self._commit_live(child, parent)
            self.graph.remove(child.node)
        else:
            images.commit(self.path(child.id))
        self.store.merge_into_parent(child.id)
        self.path(child.id).unlink(missing_ok=True)
        # The parent is an active layer now, so the frozen layer under it may have lost its
        # last other user earlier (e.g. the older of two clones went first): fold it too, or
        # a source's chain grows by one layer with every such clone-and-delete cycle.
        grandparent = self.store.get(parent.parent_id) if parent.parent_id else None
        if grandparent is not None:
            self._collect(grandparent)

    def _commit_live(self, child: Layer, parent: Layer) -> None:
        """Run the live ``block-commit`` of ``child`` into ``parent`` WITHOUT the pool lock
        (it takes as long as the child's data): the caller holds the lock, and waiting on the
        pool's condition lets go of it until the job has ended. The busy mark keeps the
        volume's own snapshots, exports, deletes, merges and flattens off it meanwhile; no
        other volume can reach ``parent`` (only ``child`` references it)."""
        volume_id = child.volume_id
        assert volume_id is not None
        failed: list[BaseException] = []
        ended = threading.Event()

        def commit() -> None:
            try:
                # A throttle filter over the active layer is the root QEMU wants named (measured:
                # "Need a root block node" otherwise), the layer its top.
                top = {"top-node": child.node} if volume_id in self.exports.filtered else {}
                device = filter_node(volume_id) if top else child.node
                self.daemon.run_job("block-commit", f"commit-{child.id}", device=device,
                                    **_args({"base-node": parent.node, **top}))
            except BaseException as exc:  # handed to the waiting thread
                failed.append(exc)
            finally:
                with self._lock:
                    ended.set()
                    self._idle.notify_all()

        self._busy[volume_id] = "a merge"
        try:
            threading.Thread(target=commit, name=f"commit-{child.id}", daemon=True).start()
            self._idle.wait_for(ended.is_set)  # the job ends: done, failed, or its daemon gone
        finally:
            self._busy.pop(volume_id, None)
            self._idle.notify_all()
        if failed:
            raise failed[0]

    # -- flattening: chains stay short ----------------------------------------
    def flatten(self, volume_id: str) -> bool:
        """Make a volume independent of every layer below its own; returns whether it changed.

        Live with ``block-stream`` when the volume is exported, offline with
        ``qemu-img rebase`` otherwise. The layers it leaves behind lose a reference
        and go, or fold into their last user, by the usual rules.
        """
        with self._lock:
            self._wait_until_free([volume_id])
            chain = self.chain(volume_id)
            if len(chain) < 2:
                return False
            top, parent = chain[0], chain[1]
            live = top.node in self.graph.nodes
            # The copying runs without the pool lock (it takes as long as the data): the
            # busy mark keeps snapshots, exports, deletes and merges off this volume.
            self._busy[volume_id] = "a flatten"
        try:
            if live:
                # A stream cancelled halfway changes nothing the chain reads (it only
                # copied data up), and the next stream skips what is already there.
                self.daemon.run_job("block-stream", f"stream-{top.id}", device=top.node,
                                    give_up=self._stopping.is_set)
            else:
                images.make_standalone(self.path(top.id))
            with self._lock:
                if live:
                    self.graph.close_layers(chain[1:])
                self.store.set_parent(top.id, None)
                del self._busy[volume_id]
                self._collect(parent)
            return True
        finally:
            with self._lock:
                self._busy.pop(volume_id, None)
                self._idle.notify_all()

    def depth(self, volume_id: str) -> int:
        return len(self.chain(volume_id))

    def _too_deep(self, volume_id: str) -> bool:
        return self.store.top(volume_id) is not None and self.depth(volume_id) > self.max_chain_depth

    def _compact_later(self, volume_ids: set[str]) -> None:
        """Flatten, in the background, the volumes whose chains grew past the bound."""
        if self.max_chain_depth and volume_ids:
            for vid in volume_ids:
                self._compacting[vid] = self._compacting.get(vid, 0) + 1
            self._compactor.submit(self._compact, sorted(volume_ids))

    def _compact(self, volume_ids: list[str]) -> None:
        for vid in volume_ids:
            if self._stopping.is_set():
                return
            try:
                if self._too_deep(vid):
                    log.info("volume %s is %d layers deep; flattening it", vid, self.depth(vid))
                    self.flatten(vid)
            except JobCancelled:
                log.info("flattening volume %s stopped: the service is stopping", vid)
            except Exception:
                log.exception("flattening volume %s failed; it stays as it is", vid)
            finally:
                with self._lock:
                    left = self._compacting.pop(vid, 1) - 1
                    if left > 0:
                        self._compacting[vid] = left
                    self._idle.notify_all()

    # -- the daemon's graph -------------------------------------------------
    def _close(self, volume_ids: list[str]) -> None:
        """Close volumes' chains from the top down, keeping layers that other open nodes use
        and the chains of exported volumes and of running full copies."""
        self.graph.close([v for v in volume_ids if v not in self.exports.served and v not in self._copying])

    # -- swapping a volume's data (reverts in place) -------------------------------
    def _closed_for_swap(self, volume_ids: list[str]) -> None:
        """Wait out busy volumes; refuse served or copied ones; close their chains in the daemon.

        The daemon's nodes are named after layers, not volumes, so a swap moves no node; but
        a volume's chain left open would go on being closed by the volume id it had before."""
        self._wait_until_free(volume_ids)
        held = [v for v in volume_ids if v in self.exports.served or v in self._copying]
        if held:
            raise BackendError(f"volume {', '.join(held)} is served or being copied; its data can't be swapped")
        self.graph.close(volume_ids)
        still = [v for v in volume_ids for layer in self.chain(v)[:1] if layer.node in self.graph.nodes]
        if still:
            raise BackendError(f"volume {', '.join(still)} is in use in the daemon; its data can't be swapped")

    def _move(self, from_id: str, to_id: str) -> None:
        top = self.store.top(from_id)
        assert top is not None
        self.store.adopt(top.id, to_id)

    def swap_in(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        """Two record changes (the files stay where they are): the volume's active layer is
        kept as ``keep_as``, the replacement's becomes the volume's. A crash between them
        leaves ``volume_id`` without data and both others with theirs; a repeat finishes it."""
        with self._lock:
            have = {v for v in (volume_id, replacement_id, keep_as) if self.store.top(v) is not None}
            if have == {volume_id, keep_as}:
                return
            self._closed_for_swap([volume_id, replacement_id])
            if have == {volume_id, replacement_id}:
                self._move(volume_id, keep_as)
            elif have != {replacement_id, keep_as}:
                raise BackendError(f"volume {volume_id} can't take the data of {replacement_id}: "
                                   f"{', '.join(sorted(have)) or 'none of them'} exist in pool {self.name}")
            self._move(replacement_id, volume_id)

    def swap_back(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        with self._lock:
            if self.store.top(keep_as) is None:
                return
            self._closed_for_swap([volume_id, keep_as])
            if self.store.top(volume_id) is not None:
                if self.store.top(replacement_id) is not None:
                    raise BackendError(f"volume {volume_id} can't be swapped back: {replacement_id} exists")
                self._move(volume_id, replacement_id)
            self._move(keep_as, volume_id)

    # -- cross-backend copies (see ports) ---------------------------------------
    def open_snapshot_member(self, snapshot: GroupSnapshot, volume_id: str) -> VolumeReader:
        layer_id = snapshot.members.get(volume_id)
        if layer_id is None:
            raise BackendError(f"volume {volume_id} is not in group snapshot {snapshot.id}")
        with self._lock:
            layer = self.store.get(layer_id)
            if layer is None or not self.path(layer.id).exists():
                raise BackendError(f"group snapshot {snapshot.id} lost the data of {volume_id}")
            if volume_id in self._copying and self._is_copy(layer):
                raise BackendError(f"the full copy of {volume_id} in {snapshot.id} is still running")
            return LocalReader(self.path(layer.id))

    def import_volume(self, volume_id: str, size: int) -> VolumeWriter:
        if self.store.top(volume_id) is not None:
            raise BackendError(f"volume {volume_id} exists already in pool {self.name}")
        layer = Layer(new_layer_id(), None, volume_id)

        def record() -> None:
            with self._lock:
                self.store.add([layer])

        return LocalWriter(self.path(layer.id), size, record)
