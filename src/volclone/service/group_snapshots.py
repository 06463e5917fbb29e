"""Cinder's group snapshots (3.14): a group's volumes frozen at ONE instant::

    gs = svc.group_snapshots.create(who, "p1", group.id, name="nightly")
    svc.snapshots.page(...)   # one snapshot per member, each with group_snapshot_id=gs.id
    svc.group_snapshots.delete(who, "p1", gs.id)

The group snapshot is the consistency point: the members' backend freezes them all at once
(:class:`~volclone.backends.base.GroupSnapshottable`: the local pool's one QMP ``transaction``,
the memory driver's lock); a backend that can't is refused (400) and nothing is made. Each
member snapshot counts against the project's ``snapshots`` and ``gigabytes`` as a single
snapshot does (413: nothing made). A failure leaves nothing behind: the member snapshots'
records go, and the backend's call is all or nothing; what a backend keeps for the instant
itself (RBD's group) is removed again, and recorded as a leftover (retried by the clone
service's leftover retry, ``volclone.db.leftovers``) if that fails. A member snapshot is deleted only with
its group snapshot; a group that has group snapshots can't be deleted (both 400, as Cinder).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import uuid

from volclone.backends.base import GroupSnapshotCapable, GroupSnapshottable, Snapshottable
from volclone.db.group_snapshots import GroupSnapshots
from volclone.db.leftovers import Leftover, Leftovers
from volclone.db.repos import Volumes
from volclone.db.snapshots import Snapshots
from volclone.domain import (
    GroupSnapshotStatus,
    GroupStatus,
    PageQuery,
    Principal,
    Snapshot,
    SnapshotStatus,
    Volume,
    VolumeGroupSnapshot,
    VolumeStatus,
)
from volclone.errors import BadRequest, CapabilityMissing, InvalidVolume, NotFound
from volclone.flows.messages import public_error
from volclone.flows.model import Undo
from volclone.service.groups import GroupService
from volclone.service.locks import Lock, volume_lock
from volclone.service.quotas import QuotaService
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

#: What a group must be to be snapshotted (Cinder's), and each of its volumes.
SNAPSHOTTABLE_GROUP = frozenset({GroupStatus.AVAILABLE, GroupStatus.IN_USE})
SNAPSHOTTABLE_VOLUME = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
#: Statuses a group snapshot is deleted from (Cinder's).
DELETABLE = frozenset({GroupSnapshotStatus.AVAILABLE, GroupSnapshotStatus.ERROR})
_CREATING = frozenset({GroupSnapshotStatus.CREATING})
_DELETING = frozenset({GroupSnapshotStatus.DELETING})
_SNAP_CREATING = frozenset({SnapshotStatus.CREATING})


class GroupSnapshotService:
    def __init__(self, repo: GroupSnapshots, snapshots: Snapshots, volumes: Volumes, groups: GroupService,
                 backends: Backends, quotas: QuotaService | None = None, lock: Lock | None = None,
                 leftovers: Leftovers | None = None) -> None:
        self.repo = repo
        self.snapshots = snapshots
        self.volumes = volumes
        self.groups = groups
        self.backends = backends
        self.quotas = quotas
        self.lock: Lock = lock or (lambda name: contextlib.nullcontext())
        self.leftovers = leftovers or Leftovers(volumes.db)

    # -- lookups ------------------------------------------------------------------------
    def get(self, who: Principal, project_id: str, group_snapshot_id: str) -> VolumeGroupSnapshot:
        gs = self.repo.get(group_snapshot_id)
        if gs is None or (gs.project_id != project_id and not who.is_admin):
            raise NotFound(f"GroupSnapshot {group_snapshot_id} could not be found.")
        return gs

    def page(self, who: Principal, project_id: str, query: PageQuery | None = None,
             all_projects: bool = False) -> builtins.list[VolumeGroupSnapshot]:
        """The project's group snapshots ``query`` selects (``all_projects``, an admin's: every
        project's), one page; a marker ``who`` can't see is a 404, as Cinder's."""
        query = query or PageQuery()
        scope = None if (all_projects and who.is_admin) else project_id
        if query.marker is not None:
            self.get(who, project_id, query.marker)
        return self.repo.page(scope, query)

    def members(self, group_snapshot_id: str) -> builtins.list[Snapshot]:
        return self.snapshots.of_group_snapshot(group_snapshot_id)

    def _driver(self, backend: str) -> GroupSnapshottable:
        driver = self.backends.get(backend)
        if not isinstance(driver, GroupSnapshottable):
            raise CapabilityMissing(f"backend {backend} cannot snapshot several volumes at one instant, so it "
                                    "takes no group snapshots; nothing was made")
        return driver

    # -- create ---------------------------------------------------------------------------
    def create(self, who: Principal, project_id: str, group_id: str, name: str | None = None,
               description: str | None = None) -> VolumeGroupSnapshot:
        """Checks in order: the group (404), its status (400), its volumes' statuses and backend
        (400), the backend's capability (400), the quotas (413); then every member at once."""
        group = self.groups.get(who, project_id, group_id)
        if group.status not in SNAPSHOTTABLE_GROUP:
            raise BadRequest(f"Invalid group: Group {group_id} status must be available or in-use, but current "
                             f"status is: {group.status.value}.")
        member_ids = self.groups.member_ids(group_id)
        if not member_ids:
            raise BadRequest(f"Invalid group: Group {group_id} has no volumes; there is nothing to snapshot.")
        vols = self._member_volumes(member_ids)
        backends = {v.backend for v in vols}
        if len(backends) != 1:
            raise BadRequest(f"Invalid group: the volumes of group {group_id} are on several backends "
                             f"({', '.join(sorted(backends))}); a group snapshot is taken on one.")
        backend = backends.pop()
        driver = self._driver(backend)
        gs = VolumeGroupSnapshot(id=str(uuid.uuid4()), project_id=group.project_id, group_id=group.id,
                                 group_type_id=group.group_type_id, name=name, description=description,
                                 status=GroupSnapshotStatus.CREATING)
        with contextlib.ExitStack() as held:
            for volume_id in sorted(member_ids):  # one order: two group snapshots never deadlock
                held.enter_context(self.lock(volume_lock(volume_id)))
            vols = self._member_volumes(self.groups.member_ids(group_id))  # as they are now
            self.repo.add(gs)
            made: builtins.list[Snapshot] = []
            try:
                for vol in vols:
                    snap = Snapshot(id=str(uuid.uuid4()), project_id=vol.project_id, volume_id=vol.id, name=name,
                                    description=description, volume_size=vol.size,
                                    status=SnapshotStatus.CREATING, backend=backend, user_id=who.user_id,
                                    group_snapshot_id=gs.id)
                    if self.quotas is not None:
                        self.quotas.add_snapshot(snap)  # 413
                    else:
                        self.snapshots.add(snap)
                    made.append(snap)
                # Record first, check second (as a single snapshot does): a volume deleted meanwhile
                # by a role holding no lock is seen by one of the two.
                now = [self.volumes.get(v.id) for v in vols]
                changed = [v.id for v, n in zip(vols, now, strict=True) if n is None or n.status not in
                           SNAPSHOTTABLE_VOLUME or n.group_id != group_id]
                if changed:
                    raise InvalidVolume(f"Volume {changed[0]} changed state meanwhile; nothing was made, try again")
                try:
                    driver.create_snapshots_at_once([(s.volume_id, s.id) for s in made], group_snapshot_id=gs.id)
                except Exception:
                    self._undo(driver, made, gs.id, backend)  # in case it acted and only its answer was lost
                    raise
            except Exception:
                log.exception("group snapshot %s of group %s failed", gs.id, group_id)
                for snap in made:
                    self.snapshots.delete(snap.id)
                self.repo.delete(gs.id)
                raise
            self.snapshots.set_status([s.id for s in made], SnapshotStatus.AVAILABLE, only_from=_SNAP_CREATING)
            self.repo.set_status(gs.id, GroupSnapshotStatus.AVAILABLE, only_from=_CREATING)
        done = self.repo.get(gs.id)
        assert done is not None
        return done

    def _undo(self, driver: GroupSnapshottable, made: builtins.list[Snapshot], group_snapshot_id: str,
              backend: str) -> None:
        if isinstance(driver, Snapshottable):
            for snap in made:
                try:
                    driver.delete_snapshot(snap.id, snap.volume_id)  # a no-op if it is gone
                except Exception:
                    log.exception("could not remove snapshot %s of a failed group snapshot", snap.id)
        if not isinstance(driver, GroupSnapshotCapable):
            return
        try:  # what the backend kept for the instant (RBD's group); a no-op if there is none
            driver.delete_group_snapshot(group_snapshot_id)
        except Exception as exc:
            log.exception("could not remove group snapshot %s of a failed create; recorded to retry",
                          group_snapshot_id)
            try:
                self.leftovers.record(Leftover.new(group_snapshot_id, "create_group_snapshot",
                                                   Undo.DELETE_GROUP_SNAPSHOT.value, group_snapshot_id, backend,
                                                   public_error(exc)))
            except Exception:
                log.exception("the leftover group snapshot %s could not be recorded", group_snapshot_id)

    def _member_volumes(self, member_ids: builtins.list[str]) -> builtins.list[Volume]:
        vols = []
        for volume_id in member_ids:
            vol = self.volumes.get(volume_id)
            if vol is None:
                raise InvalidVolume(f"Volume {volume_id} changed meanwhile; try again")
            if vol.status not in SNAPSHOTTABLE_VOLUME:
                raise InvalidVolume(f"Invalid volume: Volume {volume_id} status must be available or in-use, but "
                                    f"current status is: {vol.status.value}.")
            vols.append(vol)
        return vols

    # -- delete ---------------------------------------------------------------------------
    def reset_status(self, who: Principal, project_id: str, group_snapshot_id: str, status: str) -> None:
        """Cinder's admin ``reset_status`` (3.19): any of Cinder's group snapshot statuses (else
        400), from whatever it is; the member snapshots are left as they are."""
        gs = self.get(who, project_id, group_snapshot_id)
        try:
            new = GroupSnapshotStatus(status)
        except ValueError:
            valid = ", ".join(s.value for s in GroupSnapshotStatus)
            raise BadRequest(f"Invalid group snapshot status: {status}, valid statuses are: {valid}.") from None
        if not self.repo.set_status(gs.id, new, only_from=list(GroupSnapshotStatus)):
            raise NotFound(f"GroupSnapshot {group_snapshot_id} could not be found.")

    def delete(self, who: Principal, project_id: str, group_snapshot_id: str) -> None:
        """From ``available`` or ``error``: every member snapshot goes, then the record. One that
        can't go leaves the group snapshot ``error_deleting`` with the members left."""
        gs = self.get(who, project_id, group_snapshot_id)
        if gs.status not in DELETABLE:
            raise BadRequest(f"Invalid GroupSnapshot: Group snapshot status must be available or error, but "
                             f"current status is: {gs.status.value}.")
        members = self.members(gs.id)
        if not self.repo.set_status(gs.id, GroupSnapshotStatus.DELETING, only_from=DELETABLE):
            raise BadRequest(f"Invalid GroupSnapshot: group snapshot {gs.id} changed state; try again")
        try:
            for snap in members:
                driver = self.backends.get(snap.backend)
                if not isinstance(driver, Snapshottable):
                    raise CapabilityMissing(f"backend {snap.backend} cannot delete snapshots")
                with self.lock(volume_lock(snap.volume_id)):
                    self.snapshots.set_status([snap.id], SnapshotStatus.DELETING)
                    try:
                        driver.delete_snapshot(snap.id, snap.volume_id)
                    except Exception:
                        self.snapshots.update(snap.id, status=SnapshotStatus.ERROR_DELETING)
                        raise
                    self.snapshots.delete(snap.id)
        except Exception:
            log.exception("deleting group snapshot %s failed", gs.id)
            self.repo.set_status(gs.id, GroupSnapshotStatus.ERROR_DELETING, only_from=_DELETING)
            raise
        self.repo.delete(gs.id)

    def of_group(self, group_id: str) -> builtins.list[str]:
        return self.repo.of_group(group_id)
