"""Cinder's group snapshots on RBD: ONE RBD group snapshot is the consistency point, and each
member's share of it is an ordinary volclone snapshot of that volume.

Usage (the driver delegates; the service calls the driver)::

    driver.create_snapshots_at_once([(vol_a, snap_a), (vol_b, snap_b)], group_snapshot_id=gs)
    driver.create_volume_from_snapshot(new_id, snap_a, vol_a, 10)   # as of the group snapshot
    driver.delete_snapshot(snap_a, vol_a)
    driver.delete_snapshot(snap_b, vol_b)    # the last member: the RBD group goes

What the pool holds for group snapshot ``gs``:

* RBD group ``volclone-<gs>`` and its one group snapshot, taken by the driver's
  ``create_group_snapshot`` (librbd takes every member's exclusive lock, so no writer writes
  between the first member's snapshot and the last; then the images leave the group again);
* its record ``volclone_group_snapshot.<gs>`` (each volume's RBD snapshot id, and here also the
  member snapshot ids);
* one small RADOS object ``volclone_member_snapshot.<snapshot id>`` per member, pointing to the
  group snapshot: how a snapshot id (all ``Snapshottable`` calls get) finds it.

Written in that order, removed in the reverse (pointers, record, group), so every pointer's
group snapshot exists and ``delete_group_snapshot(gs)`` removes all of it.

The members' snapshots live in the *group* namespace: Ceph 16 and 18 can't clone, protect,
rename or roll back an image to one (measured, docs/ceph-dev.md), but read it by id. So a volume
from a member snapshot is a COW clone by snapshot id where librbd has it (Ceph 19+), else a deep
copy as of the snapshot; a revert to one rewrites the (unserved) volume from the snapshot, the
ranges either holds data in. A member is deleted by dropping its pointer; the RBD group (and so
every member's image snapshot) goes with the last one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from volclone.backends.base import remove_made
from volclone.errors import BackendError

if TYPE_CHECKING:
    from volclone.backends.rbd.driver import RbdDriver

log = logging.getLogger(__name__)
GIB = 1024**3
#: How much a revert to a member snapshot reads and writes at once.
REWRITE_CHUNK = 4 * 1024 * 1024


def pointer_name(snapshot_id: str) -> str:
    """The RADOS object naming the group snapshot of member snapshot ``snapshot_id``."""
    return f"volclone_member_snapshot.{snapshot_id}"


class MemberSnapshots:
    """The driver's member-snapshot side; holds no state of its own."""

    def __init__(self, driver: RbdDriver) -> None:
        self.d = driver

    # -- create ------------------------------------------------------------------
    def create_at_once(self, members: Sequence[tuple[str, str]], group_snapshot_id: str | None) -> None:
        d = self.d
        volume_ids = [v for v, _ in members]
        if not members:
            raise BackendError(f"backend {d.name}: a group snapshot needs at least one volume")
        if len(set(volume_ids)) != len(volume_ids):
            raise BackendError("a volume can be in a group snapshot only once")
        gs = group_snapshot_id or f"cgs-{members[0][1]}"
        with d._group_lock:
            snap = d.create_group_snapshot(gs, volume_ids)  # the consistency point; a no-op if made
            try:
                with d._ceph(f"recording the members of group snapshot {gs}"):
                    d._write_record(gs, {v: int(s) for v, s in snap.members.items()},
                                    snapshots={s: v for v, s in members})
                    for volume_id, snapshot_id in members:
                        body = {"group_snapshot": gs, "volume": volume_id}
                        d._io.write_full(pointer_name(snapshot_id), json.dumps(body, sort_keys=True).encode())
            except Exception:
                try:
                    d.delete_group_snapshot(gs)
                except Exception:
                    log.exception("backend %s: could not remove group snapshot %s of a failed create",
                                    d.name, gs)
                raise

    # -- lookups -----------------------------------------------------------------
    def find(self, snapshot_id: str, volume_id: str) -> tuple[str, int] | None:
        """``(group snapshot id, RBD snapshot id)`` of member ``snapshot_id`` of ``volume_id``."""
        d = self.d
        pointer = self._pointer(snapshot_id)
        if pointer is None or pointer["volume"] != volume_id:
            return None
        members = d._read_record(pointer["group_snapshot"])
        if members is None or volume_id not in members:
            return None
        return pointer["group_snapshot"], members[volume_id]

    def _pointer(self, snapshot_id: str) -> dict[str, str] | None:
        d = self.d
        try:
            size, _ = d._io.stat(pointer_name(snapshot_id))
            raw = d._io.read(pointer_name(snapshot_id), size)
        except d._rados.ObjectNotFound:
            return None
        body: dict[str, str] = json.loads(raw)
        return body

    # -- delete ------------------------------------------------------------------
    def delete(self, snapshot_id: str) -> bool:
        """Drop member ``snapshot_id``, and its group snapshot with the last member; whether it
        was a member snapshot (False: not one, nothing done)."""
        d = self.d
        pointer = self._pointer(snapshot_id)
        if pointer is None:
            return False
        gs = pointer["group_snapshot"]
        body = d._record(gs) or {}
        others = [s for s in body.get("snapshots", {}) if s != snapshot_id]
        try:
            d._io.remove_object(pointer_name(snapshot_id))
        except d._rados.ObjectNotFound:
            pass
        if not any(self._pointer(s) is not None for s in others):
            d._discard(gs)
        return True

    def drop_pointers(self, body: dict[str, Any]) -> None:
        """Remove the pointers of every member a record lists (a group snapshot going)."""
        d = self.d
        for snapshot_id in body.get("snapshots", {}):
            try:
                d._io.remove_object(pointer_name(snapshot_id))
            except d._rados.ObjectNotFound:
                pass

    # -- data ----------------------------------------------------------------------
    def create_volume(self, new_volume_id: str, source: str, snap_id: int, size_gib: int) -> None:
        """A COW clone by snapshot id (Ceph 19+) or a deep copy as of the snapshot of image
        ``source``, grown when asked bigger; made under its temporary name, removed on error."""
        d = self.d
        size = d._size_at(source, snap_id)
        if size_gib * GIB < size:
            raise BackendError(f"a volume from this snapshot needs at least {size // GIB} GiB")
        try:
            d._make_clone(source, snap_id, new_volume_id, size=size_gib * GIB)
        except Exception:
            remove_made(d, [new_volume_id])
            raise

    def revert(self, name: str, snap_id: int) -> None:
        """Rewrite image ``name`` (unserved) from its snapshot: every range that the snapshot or
        the image holds data in is written with the snapshot's bytes (zeros where it has none),
        and the image takes the snapshot's size."""
        d, rbd = self.d, self.d._rbd
        with rbd.Image(d._io, name, read_only=True) as at, rbd.Image(d._io, name) as image:
            at.set_snap_by_id(snap_id)
            size = int(at.size())
            if int(image.size()) != size:
                image.resize(size)
            ranges = _merge(_extents(at, size) + _extents(image, size))
            for offset, length in ranges:
                end = offset + length
                while offset < end:
                    n = min(REWRITE_CHUNK, end - offset)
                    data = bytes(at.read(offset, n))
                    if data.count(0) == len(data):
                        image.write_zeroes(offset, n)
                    else:
                        image.write(data, offset)
                    offset += n
            image.flush()


def _extents(image: Any, size: int) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []

    def heard(offset: int, length: int, exists: bool) -> int:
        if exists:
            found.append((offset, length))
        return 0

    image.diff_iterate(0, size, None, heard, include_parent=True, whole_object=False)
    return found


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for offset, length in sorted(ranges):
        if merged and offset <= merged[-1][0] + merged[-1][1]:
            start, was = merged[-1]
            merged[-1] = (start, max(was, offset + length - start))
        else:
            merged.append((offset, length))
    return merged
