"""Snapshots (Cinder's): one volume frozen at one point in time, volumes made from them, and a
volume reverted to its latest one::

    snaps = svc.snapshots
    snap = snaps.create(who, "p1", vol.id, name="before-upgrade", force=True)  # in-use needs force
    snaps.revert(who, "p1", vol.id, snap.id)      # the latest snapshot only (microversion 3.40)
    snaps.delete(who, "p1", snap.id)

The rules are Cinder's (``cinder/volume/api.py``): a snapshot of an ``available`` volume, or of
an ``in-use`` one with ``force``; a snapshot is deleted from ``available`` or ``error`` (any
status but ``deleting`` with ``os-force_delete``); a volume that has snapshots is deleted only
when the delete cascades to them (:meth:`SnapshotService.delete_all_of`). Every call works on
the backend while holding the volume's lock (``volume-<id>``), the lock a volume's delete holds
too, so a snapshot can't be made of a volume being deleted.

Each call returns once the backend did its part (as volume creates do): a snapshot is
``creating`` only meanwhile. A backend failure leaves nothing made: the record goes, as a
failed volume create's does; a failed delete leaves ``error_deleting``.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import re
import uuid
from collections.abc import Collection

from volclone.backends.base import Snapshottable
from volclone.db.repos import Volumes
from volclone.db.snapshots import Snapshots
from volclone.domain import Principal, Snapshot, SnapshotQuery, SnapshotStatus, Volume, VolumeStatus
from volclone.errors import BadRequest, CapabilityMissing, Conflict, InvalidVolume, NotFound, OverLimit
from volclone.service.locks import Lock, volume_lock
from volclone.service.messages import Action, Detail, MessageService, Resource, detail_for
from volclone.service.quotas import QuotaService
from volclone.service.service_states import ServiceStates
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

#: The most metadata items a snapshot may have (as a volume: see ``service.volumes``).
MAX_METADATA_ITEMS = 128
#: Statuses a snapshot is deleted from (Cinder's), and with ``os-force_delete`` (any but deleting).
DELETABLE = frozenset({SnapshotStatus.AVAILABLE, SnapshotStatus.ERROR})
#: Any status, as Cinder's force delete: also ``deleting`` (a delete that died, or an admin's reset).
FORCE_DELETABLE = frozenset(SnapshotStatus)
#: What a cascading volume delete takes with it (Cinder: available or error, and error_deleting retried).
CASCADABLE = frozenset({SnapshotStatus.AVAILABLE, SnapshotStatus.ERROR, SnapshotStatus.ERROR_DELETING})
#: What ``os-reset_status`` may set.
RESETTABLE = frozenset(SnapshotStatus)
#: ``os-update_snapshot_status``: from each status it may be used in, the statuses it may set
#: (Cinder's: a backend reporting on a create, or on a delete).
UPDATABLE: dict[SnapshotStatus, frozenset[SnapshotStatus]] = {
    SnapshotStatus.CREATING: frozenset({SnapshotStatus.CREATING, SnapshotStatus.AVAILABLE, SnapshotStatus.ERROR}),
    SnapshotStatus.DELETING: frozenset({SnapshotStatus.DELETING, SnapshotStatus.ERROR_DELETING}),
}
_PROGRESS = re.compile(r"(\d+)%")
_CREATING = frozenset({SnapshotStatus.CREATING})
_AVAILABLE = frozenset({SnapshotStatus.AVAILABLE})
_RESTORING = frozenset({SnapshotStatus.RESTORING})
_VOLUME_AVAILABLE = frozenset({VolumeStatus.AVAILABLE})
_SNAPSHOTTABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
_VOLUME_REVERTING = frozenset({VolumeStatus.REVERTING})


def _check_metadata_count(old: dict[str, str], new: dict[str, str]) -> None:
    if len(new) > MAX_METADATA_ITEMS and len(new) > len(old):
        raise OverLimit(f"a snapshot has at most {MAX_METADATA_ITEMS} metadata items; this would make {len(new)}")


class SnapshotService:
    def __init__(self, snapshots: Snapshots, volumes: Volumes, backends: Backends,
                 quotas: QuotaService | None = None, lock: Lock | None = None,
                 messages: MessageService | None = None) -> None:
        self.repo = snapshots
        #: Where a failed snapshot create is told to its project (user messages).
        self.messages = messages
        self.volumes = volumes
        self.backends = backends
        self.quotas = quotas
        self.lock: Lock = lock or (lambda name: contextlib.nullcontext())
        #: The services' frozen states (os-services/freeze), where they are kept.
        self.states: ServiceStates | None = None

    # -- lookups -------------------------------------------------------------------
    def get(self, who: Principal, project_id: str, snapshot_id: str) -> Snapshot:
        """The snapshot, if it is the project's (an admin's token sees any project's, as in Cinder)."""
        snap = self.repo.get(snapshot_id)
        if snap is None or (snap.project_id != project_id and not who.is_admin):
            raise NotFound(f"Snapshot {snapshot_id} could not be found.")
        return snap

    def _volume(self, who: Principal, project_id: str, volume_id: str) -> Volume:
        vol = self.volumes.get(volume_id)
        if vol is None or (vol.project_id != project_id and not who.is_admin):
            raise NotFound(f"Volume {volume_id} could not be found.")
        return vol

    def driver_for(self, backend: str) -> Snapshottable:
        driver = self.backends.get(backend)
        if not isinstance(driver, Snapshottable):
            raise CapabilityMissing(f"backend {backend} cannot snapshot volumes")
        return driver

    @staticmethod
    def _scope(who: Principal, project_id: str, all_projects: bool) -> str | None:
        return None if (all_projects and who.is_admin) else project_id

    def page(self, who: Principal, project_id: str, query: SnapshotQuery,
             all_projects: bool = False) -> builtins.list[Snapshot]:
        if query.marker is not None:
            owner = self.repo.project_of(query.marker)
            if owner is None or not (who.is_admin or owner == project_id):
                raise NotFound(f"Snapshot {query.marker} could not be found.")
        return self.repo.page(self._scope(who, project_id, all_projects), query)

    def count(self, who: Principal, project_id: str, query: SnapshotQuery, all_projects: bool = False) -> int:
        return self.repo.count(self._scope(who, project_id, all_projects), query)

    # -- create ----------------------------------------------------------------------
    def create(self, who: Principal, project_id: str, volume_id: str, name: str | None = None,
               description: str | None = None, force: bool = False,
               metadata: dict[str, str] | None = None) -> Snapshot:
        """Freeze the volume now. Checks in Cinder's order: the volume (404), its status (400: an
        ``in-use`` volume needs ``force``), the backend's capability (400), then the quotas
        ``snapshots`` and ``gigabytes`` (413); nothing is made unless all pass."""
        _check_metadata_count({}, metadata or {})
        vol = self._volume(who, project_id, volume_id)
        self._check_snapshottable(vol, force)
        if self.states is not None:
            self.states.check_not_frozen(vol.backend, f"volume {vol.id}")
        driver = self.driver_for(vol.backend)
        snap = Snapshot(id=str(uuid.uuid4()), project_id=vol.project_id, volume_id=vol.id, name=name,
                        description=description, volume_size=vol.size, status=SnapshotStatus.CREATING,
                        backend=vol.backend, metadata=dict(metadata or {}), user_id=who.user_id)
        with self.lock(volume_lock(vol.id)):
            vol = self._volume(who, project_id, volume_id)  # as it is now that the lock is held
            self._check_snapshottable(vol, force)
            snap = dataclasses.replace(snap, volume_size=vol.size)
            if self.quotas is not None:
                self.quotas.add_snapshot(snap)  # 413, and nothing recorded
            else:
                self.repo.add(snap)
            # Record first, check second (a volume's delete claims first and looks for snapshots
            # second): where no lock spans both (the API role), one of the two sees the other.
            now = self.volumes.get(vol.id)
            if now is None or now.status not in _SNAPSHOTTABLE:
                self.repo.delete(snap.id)
                raise InvalidVolume(f"Volume {vol.id} changed state ({now.status.value if now else 'deleted'}); "
                                    "try again")
            try:
                driver.create_snapshot(snap.id, vol.id)
            except Exception as exc:
                log.exception("snapshot %s of volume %s failed", snap.id, vol.id)
                self.repo.delete(snap.id)
                if self.messages is not None:
                    self.messages.record(snap.project_id, Resource.VOLUME_SNAPSHOT, snap.id, Action.SNAPSHOT_CREATE,
                                         detail_for(exc, Detail.SNAPSHOT_CREATE_ERROR))
                raise
            self.repo.set_status([snap.id], SnapshotStatus.AVAILABLE, only_from=_CREATING)
        made = self.repo.get(snap.id)
        assert made is not None
        return made

    @staticmethod
    def _check_snapshottable(vol: Volume, force: bool) -> None:
        if vol.status is VolumeStatus.AVAILABLE:
            return
        if vol.status is VolumeStatus.IN_USE:
            if force:
                return
            raise InvalidVolume(f"Volume {vol.id} status must be available, but current status is: in-use. "
                                "Snapshot an attached volume with force=true.")
        raise InvalidVolume(f"Volume {vol.id} status must be available or in-use, but current status is: "
                            f"{vol.status.value}.")

    # -- update, metadata --------------------------------------------------------------
    def update(self, who: Principal, project_id: str, snapshot_id: str, **fields: str | None) -> Snapshot:
        self.get(who, project_id, snapshot_id)
        updated = self.repo.update(snapshot_id, **fields)
        if updated is None:
            raise NotFound(f"Snapshot {snapshot_id} could not be found.")
        return updated

    def set_metadata(self, who: Principal, project_id: str, snapshot_id: str, metadata: dict[str, str],
                     replace: bool = False) -> dict[str, str]:
        snap = self.get(who, project_id, snapshot_id)
        merged = dict(metadata) if replace else {**snap.metadata, **metadata}
        _check_metadata_count(snap.metadata, merged)
        self.repo.update(snapshot_id, metadata=merged)
        return merged

    def delete_metadata(self, who: Principal, project_id: str, snapshot_id: str, key: str) -> None:
        snap = self.get(who, project_id, snapshot_id)
        if key not in snap.metadata:
            raise NotFound(f"Metadata item was not found: snapshot {snapshot_id} has no metadata key {key}")
        self.repo.update(snapshot_id, metadata={k: v for k, v in snap.metadata.items() if k != key})

    # -- delete ------------------------------------------------------------------------
    def delete(self, who: Principal, project_id: str, snapshot_id: str, force: bool = False) -> None:
        """From ``available`` or ``error`` (``force``: any status; the volume's lock keeps two
        deletes of one snapshot from running at once where it is held)."""
        snap = self.get(who, project_id, snapshot_id)
        if snap.group_snapshot_id is not None:
            raise BadRequest(f"Invalid snapshot: Snapshot {snapshot_id} is a member of group snapshot "
                             f"{snap.group_snapshot_id}; it is deleted only with the group snapshot.")
        allowed = FORCE_DELETABLE if force else DELETABLE
        if snap.status not in allowed:
            raise BadRequest(f"Invalid snapshot: Volume Snapshot status must be "
                             f"{' or '.join(sorted(s.value for s in allowed))}, not {snap.status.value}.")
        if self.states is not None:
            self.states.check_not_frozen(snap.backend, f"snapshot {snap.id}")
        driver = self.driver_for(snap.backend)
        with self.lock(volume_lock(snap.volume_id)):
            self._delete(driver, snap, allowed)

    def _delete(self, driver: Snapshottable, snap: Snapshot, allowed: Collection[SnapshotStatus]) -> None:
        if not self.repo.set_status([snap.id], SnapshotStatus.DELETING, only_from=allowed):
            raise BadRequest(f"Invalid snapshot: snapshot {snap.id} changed state; try again")
        try:
            driver.delete_snapshot(snap.id, snap.volume_id)
        except Exception:
            log.exception("deleting snapshot %s failed", snap.id)
            self.repo.update(snap.id, status=SnapshotStatus.ERROR_DELETING)
            raise
        self.repo.delete(snap.id)

    def delete_all_of(self, vol: Volume, cascade: bool) -> None:
        """Before a volume's delete (the caller holds its lock): without ``cascade`` a volume that
        has snapshots is refused (400, as in Cinder); with it, its snapshots go first, each
        in turn. One that can't go stops the delete (the volume and the rest stay)."""
        snaps = self.repo.of_volume(vol.id)
        if not snaps:
            return
        if not cascade:
            raise InvalidVolume(f"Volume {vol.id} has {len(snaps)} snapshot(s); delete them first, or delete the "
                                "volume with cascade=true to delete them with it.")
        grouped = [s for s in snaps if s.group_snapshot_id is not None]
        if grouped:
            raise InvalidVolume(f"Volume {vol.id} has snapshots in group snapshots (e.g. {grouped[0].id} of "
                                f"{grouped[0].group_snapshot_id}); delete the group snapshots first.")
        busy = [s for s in snaps if s.status not in CASCADABLE]
        if busy:
            raise InvalidVolume(f"Volume {vol.id} has snapshots that can't be deleted now: "
                                + ", ".join(f"{s.id} ({s.status.value})" for s in busy))
        driver = self.driver_for(vol.backend)
        for snap in reversed(snaps):  # newest first
            self._delete(driver, snap, CASCADABLE)

    # -- admin actions ---------------------------------------------------------------------
    def reset_status(self, who: Principal, project_id: str, snapshot_id: str, status: str) -> Snapshot:
        """``os-reset_status`` (admins): set the status, checking nothing else."""
        value = status.lower()
        if value not in {s.value for s in RESETTABLE}:
            raise BadRequest(f"Must specify a valid status: one of {', '.join(sorted(s.value for s in RESETTABLE))}")
        self.get(who, project_id, snapshot_id)
        updated = self.repo.update(snapshot_id, status=SnapshotStatus(value))
        assert updated is not None
        return updated

    def update_status(self, who: Principal, project_id: str, snapshot_id: str, status: str,
                      progress: str | None = None) -> Snapshot:
        """``os-update_snapshot_status``: what a backend reports on a snapshot being created
        (``creating`` to ``creating``, ``available`` or ``error``) or deleted (``deleting`` to
        ``deleting`` or ``error_deleting``), and its ``progress`` ("0%" to "100%"), as Cinder
        allows; anything else is a 400 and changes nothing. An empty progress is none, as in Cinder."""
        snap = self.get(who, project_id, snapshot_id)
        allowed = UPDATABLE.get(snap.status)
        if allowed is None:
            raise BadRequest(f"Snapshot status {snap.status.value} not allowed for update_snapshot_status")
        if status not in {s.value for s in allowed}:
            raise BadRequest(f"Provided snapshot status {status} not allowed for snapshot with status "
                             f"{snap.status.value}.")
        if progress:
            found = _PROGRESS.fullmatch(progress)
            if found is None or int(found.group(1)) > 100:
                raise BadRequest("progress must be an integer percentage")
        if not self.repo.set_status([snapshot_id], SnapshotStatus(status), only_from={snap.status},
                                    progress=progress or None):
            raise BadRequest(f"snapshot {snapshot_id} changed status; try again")
        updated = self.repo.get(snapshot_id)
        assert updated is not None
        return updated

    # -- volumes from snapshots, and reverts ---------------------------------------------------
    def source_for_volume(self, who: Principal, project_id: str, snapshot_id: str) -> Snapshot:
        """The snapshot a new volume is made from: the project's, ``available`` (400 otherwise)."""
        snap = self.get(who, project_id, snapshot_id)
        if snap.status is not SnapshotStatus.AVAILABLE:
            raise BadRequest(f"Invalid snapshot: Originating snapshot status must be 'available' to create a "
                             f"volume, not {snap.status.value}.")
        self.driver_for(snap.backend)
        return snap

    def make_volume(self, snap: Snapshot, volume_id: str, size_gib: int) -> None:
        """The backend's part of a volume made from ``snap`` (the caller holds the new volume's lock)."""
        self.driver_for(snap.backend).create_volume_from_snapshot(volume_id, snap.id, snap.volume_id, size_gib)

    def revert(self, who: Principal, project_id: str, volume_id: str, snapshot_id: str) -> None:
        """``os-revert`` (3.40): the volume reads what its latest snapshot froze again.

        The snapshot must be the volume's latest (by creation) and of its size (400), the volume
        and the snapshot ``available`` (409), as Cinder checks. Meanwhile the volume is
        ``reverting`` and the snapshot ``restoring``; then both are ``available`` again. If the
        backend fails the volume is ``error`` (as in Cinder) and the snapshot ``available``.
        """
        vol = self._volume(who, project_id, volume_id)
        driver = self.driver_for(vol.backend)
        with self.lock(volume_lock(volume_id)):
            self._check_revert(vol, snapshot_id)
            if not self.volumes.set_status([volume_id], VolumeStatus.REVERTING, only_from=_VOLUME_AVAILABLE):
                raise Conflict(f"Invalid volume: Volume {volume_id} status must be available to revert, but it "
                               "changed; try again")
            if not self.repo.set_status([snapshot_id], SnapshotStatus.RESTORING, only_from=_AVAILABLE):
                self.volumes.set_status([volume_id], VolumeStatus.AVAILABLE, only_from=_VOLUME_REVERTING)
                raise Conflict(f"Invalid snapshot: snapshot {snapshot_id} changed state; try again")
            try:
                driver.revert_to_snapshot(volume_id, snapshot_id)
            except Exception:
                log.exception("reverting volume %s to snapshot %s failed", volume_id, snapshot_id)
                self.volumes.set_status([volume_id], VolumeStatus.ERROR, only_from=_VOLUME_REVERTING)
                self.repo.set_status([snapshot_id], SnapshotStatus.AVAILABLE, only_from=_RESTORING)
                raise
            self.repo.set_status([snapshot_id], SnapshotStatus.AVAILABLE, only_from=_RESTORING)
            self.volumes.set_status([volume_id], VolumeStatus.AVAILABLE, only_from=_VOLUME_REVERTING)

    def _check_revert(self, vol: Volume, snapshot_id: str) -> None:
        """Cinder's checks, in its order: the latest snapshot (400), of the volume's size (400),
        then the volume and the snapshot ``available`` (409)."""
        snaps = self.repo.of_volume(vol.id)
        if not snaps:
            raise BadRequest(f"Volume {vol.id} doesn't have any snapshots.")
        latest = snaps[-1]
        if latest.id != snapshot_id:
            raise BadRequest(f"Specified snapshot {snapshot_id} is None or not the latest one of volume {vol.id}.")
        current = self.volumes.get(vol.id)
        if current is None:
            raise NotFound(f"Volume {vol.id} could not be found.")
        if current.size != latest.volume_size:
            raise BadRequest(f"Can't revert volume {vol.id} to its latest snapshot {latest.id}. The volume size must "
                             "be equal to the snapshot size.")
        if current.status is not VolumeStatus.AVAILABLE:
            raise Conflict(f"Invalid volume: Volume {vol.id} status must be available to revert, but current "
                           f"status is: {current.status.value}.")
        if latest.status is not SnapshotStatus.AVAILABLE:
            raise Conflict(f"Invalid snapshot: Snapshot {latest.id} status must be available to revert, but "
                           f"current status is: {latest.status.value}.")
