"""``os-retype``: give a volume another type, moving its data to the new type's backend when
that is another one (Cinder's retype with ``migration_policy=on-demand``)::

    retyper = Retyper(volume_service)
    retyper.retype(who, "p1", volume_id, "gold", "never")       # same backend: the type changes
    retyper.retype(who, "p1", volume_id, "ceph", "on-demand")   # another backend: data moves

Checks, in Cinder's order, and nothing changes unless all pass: the policy (the API checked
``volume:retype``), ``migration_policy`` (400), the new type (404), the status (``available`` or
``in-use``, 400), a migration already running (400), the same type (400), a change of the
volume's multiattach flag while it is not ``available`` (400, Cinder's; the flag follows the
new type's ``multiattach`` extra spec, :mod:`volclone.service.multiattach`). A type on another
backend needs ``migration_policy=on-demand`` (else 400, as Cinder's scheduler refuses), an
``available`` volume without snapshots (an attached one would have to be copied while it is
written, which volclone does not do: 400), and backends that can copy (400 ``CapabilityMissing``).

Quotas, as Cinder's: the project-wide ones do not change (usage is read from the rows), but the
volume moves from its old type's ``volumes_<type>`` and ``gigabytes_<type>`` to the new type's.
Last of the checks, the new type's limits are checked and held (413, nothing changed,
:meth:`QuotaService.reserve_retype`) until the row names the new type, which frees the old
type's usage in the same UPDATE; the hold is released whether the retype succeeded or not.

A migration (``available`` volumes only) runs under the volume's lock, in the request:

1. claim: ``available`` -> ``retyping``, ``migration_status`` ``migrating`` (one conditional UPDATE);
2. a group snapshot of the volume on its backend (id :func:`migration_snapshot_id`);
3. its data copied onto the new backend, under the volume's own id (backends are separate
   namespaces; the copy stays thin);
4. one UPDATE switches the row's ``backend`` and ``volume_type_id`` (``migration_status``
   ``completing``): from here the volume is the copy;
5. the snapshot and the old backend's data deleted;
6. ``available`` again, ``migration_status`` ``success``.

Why no TaskFlow flow: the volume row is the one persisted fact, and step 4 flips it atomically.
Everything else is derived from it and idempotent, so recovery needs no journal:
:func:`recover` (the reaper's, for a ``retyping`` volume left by a dead process once nobody holds
its lock) deletes the volume's id from every backend but the row's (a partial copy before step 4,
the old data after it) and the snapshot, then sets the volume ``available`` with
``migration_status`` ``error`` (the row still names the old backend: the data never moved) or
``success``. A failure inside the request does the same at once and answers the error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from volclone.backends.base import GroupSnapshotCapable, SnapshotReadable, VolumeDriver, VolumeImportable
from volclone.backends.copy import copy_from_group_snapshot
from volclone.db.repos import Volumes
from volclone.domain import Principal, Volume, VolumeStatus, VolumeType
from volclone.errors import BadRequest, CapabilityMissing, InvalidVolume, NotFound
from volclone.service.locks import volume_lock
from volclone.service.multiattach import CREATE_RULE, retype_refusal
from volclone.service.volumes import Backends, VolumeService, is_multiattach

log = logging.getLogger(__name__)

#: Cinder's two policies: ``never`` refuses a retype that would move the data.
MIGRATION_POLICIES = ("never", "on-demand")
RETYPABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
#: ``migration_status`` values a new retype may start from (Cinder's: none, or a finished one).
_MIGRATION_DONE = (None, "deleting", "error", "success")
_RETYPING = frozenset({VolumeStatus.RETYPING})
#: ``migration_status`` while the data is copied, and once the row names the new backend.
MIGRATING = "migrating"
COMPLETING = "completing"


def migration_snapshot_id(volume_id: str) -> str:
    """The group snapshot a migration of ``volume_id`` copies from (deterministic: recovery finds it)."""
    return f"retype-{volume_id}"


class Retyper:
    def __init__(self, volumes: VolumeService) -> None:
        self.volumes = volumes

    @property
    def backends(self) -> Backends:
        return self.volumes.backends

    def retype(self, who: Principal, project_id: str, volume_id: str, new_type: str,
               migration_policy: str | None = None) -> Volume:
        policy = migration_policy or "never"
        if policy not in MIGRATION_POLICIES:
            raise BadRequest(f"migration_policy must be one of {', '.join(MIGRATION_POLICIES)}, not {policy!r}")
        vol = self.volumes.get(who, project_id, volume_id)
        try:
            vtype = self.volumes.types.find(new_type, who)
        except NotFound:
            raise NotFound(f"Volume type {new_type} could not be found.") from None
        self.volumes.types.refuse_if_encrypted(vtype)
        if vol.status not in RETYPABLE:
            raise InvalidVolume(f"Volume status must be available or in-use, but current status is: "
                                f"{vol.status.value}.")
        if vol.migration_status not in _MIGRATION_DONE:
            raise InvalidVolume(f"Volume {volume_id} is already part of an active migration "
                                f"({vol.migration_status}).")
        if vtype.id == vol.volume_type_id:
            raise InvalidVolume(f"Retype requires a different type; volume {volume_id} is already of type "
                                f"{vtype.name}.")
        why = retype_refusal(vol, is_multiattach(vtype))
        if why:
            raise BadRequest(why)
        if is_multiattach(vtype) and self.volumes.authorize is not None:
            self.volumes.authorize(CREATE_RULE, who, project_id)
        if self.volumes.groups.grouped(volume_id):
            raise InvalidVolume(f"volume {volume_id} is being cloned or reverted; retype it when that ends")
        if self.volumes.states is not None:
            self.volumes.states.check_not_frozen(vol.backend, f"volume {vol.id}")
        target = self.backends.name_for(vtype)
        if target == vol.backend:
            return self._change_type(vol, vtype)
        if policy != "on-demand":
            raise BadRequest(f"volume type {vtype.name} is on backend {target}, not on the volume's ({vol.backend}); "
                             "retyping it needs a migration: send migration_policy on-demand")
        if vol.status is not VolumeStatus.AVAILABLE or vol.attachments:
            raise InvalidVolume(f"volume {volume_id} is attached; a retype onto another backend ({target}) copies "
                                "its data, which volclone does only for detached volumes: detach it first")
        snapshots = self.volumes.snapshots
        if snapshots is not None and snapshots.repo.count_of_volume(volume_id):
            raise InvalidVolume(f"volume {volume_id} has snapshots; they can't move to backend {target}: "
                                "delete them to retype it there")
        source, dest = self.backends.get(vol.backend), self.backends.get(target)
        if not isinstance(source, GroupSnapshotCapable) or not isinstance(source, SnapshotReadable):
            raise CapabilityMissing(f"backend {vol.backend} cannot read its volumes for a copy to another backend")
        if not isinstance(dest, VolumeImportable):
            raise CapabilityMissing(f"backend {target} cannot take volumes copied from another backend")
        if dest.max_size_gib is not None and vol.size > dest.max_size_gib:
            raise BadRequest(f"volume {volume_id} ({vol.size} GiB) is more than backend {target} can hold "
                             f"({dest.max_size_gib} GiB)")
        with self.volumes.lock(volume_lock(volume_id)):
            return self._migrate(vol, vtype, source, dest, target)

    def _change_type(self, vol: Volume, vtype: VolumeType) -> Volume:
        # Conditional: a volume that changed status since it was read is not retyped behind its back
        # (one whose multiattach flag changes only while it is still available).
        multiattach = is_multiattach(vtype)
        only_from = RETYPABLE if multiattach == vol.multiattach else frozenset({VolumeStatus.AVAILABLE})
        with self._new_type_quota(vol, vtype):
            changed = self.volumes.repo.update_if(vol.id, only_from, volume_type_id=vtype.id,
                                                  multiattach=multiattach)
        if changed is None:
            raise InvalidVolume(f"volume {vol.id} changed state; try again")
        log.info("volume %s retyped to %s (backend %s)", vol.id, vtype.name, vol.backend)
        return changed

    @contextlib.contextmanager
    def _new_type_quota(self, vol: Volume, vtype: VolumeType) -> Iterator[None]:
        """The new type's quota held while the row is switched to it (413, and nothing changed)."""
        quotas, holder = self.volumes.quotas, f"retype-{vol.id}"
        if quotas is None:
            yield
            return
        quotas.reserve_retype(vol.project_id, holder, vol.id, vol.size, vtype.id)
        try:
            yield
        finally:
            quotas.release(holder)

    def _migrate(self, vol: Volume, vtype: VolumeType, source: VolumeDriver, dest: VolumeDriver,
                 target: str) -> Volume:
        with self._new_type_quota(vol, vtype):
            return self._migrate_data(vol, vtype, source, dest, target)

    def _migrate_data(self, vol: Volume, vtype: VolumeType, source: VolumeDriver, dest: VolumeDriver,
                      target: str) -> Volume:
        repo = self.volumes.repo
        if repo.update_if(vol.id, {VolumeStatus.AVAILABLE}, status=VolumeStatus.RETYPING,
                          migration_status=MIGRATING) is None:
            raise InvalidVolume(f"volume {vol.id} changed state; try again")
        snap_id = migration_snapshot_id(vol.id)
        try:
            assert isinstance(source, GroupSnapshotCapable)
            snap = source.create_group_snapshot(snap_id, [vol.id])
            copy_from_group_snapshot(source, snap, dest, {vol.id: vol.id})
            if repo.update_if(vol.id, _RETYPING, backend=target, volume_type_id=vtype.id,
                              multiattach=is_multiattach(vtype), migration_status=COMPLETING) is None:
                raise InvalidVolume(f"volume {vol.id} changed state during its migration")
        except Exception:
            log.exception("migrating volume %s from backend %s to %s failed", vol.id, vol.backend, target)
            with_row = repo.get(vol.id)
            if with_row is not None:
                try:
                    recover(self.backends, repo, with_row)
                except Exception:
                    log.exception("volume %s: undoing its migration failed; the reaper tries again", vol.id)
            raise
        log.info("volume %s migrated from backend %s to %s (type %s)", vol.id, vol.backend, target, vtype.name)
        switched = repo.get(vol.id)
        assert switched is not None
        try:
            done = recover(self.backends, repo, switched)
        except Exception:  # the volume is already the copy; the reaper removes the old data later
            log.exception("volume %s: its old data on backend %s was not removed; the reaper tries again",
                          vol.id, vol.backend)
            return switched
        return done or switched


def recover(backends: Backends, repo: Volumes, vol: Volume) -> Volume | None:
    """Finish or undo the migration of ``vol`` (``retyping``), whichever its row says: the data
    lives where the row's ``backend`` is; every other backend's copy goes, and so does the
    snapshot; then the volume is ``available`` again. Raises (the volume stays ``retyping``, for
    the next try) if a delete fails. A backend that is unavailable is skipped (logged): a copy
    on it, if any, is not found again."""
    snap_id = migration_snapshot_id(vol.id)
    for name, driver in backends.drivers.items():
        if name in backends.unavailable:
            log.warning("volume %s: backend %s is unavailable; a copy of the volume there is not removed",
                        vol.id, name)
            continue
        if isinstance(driver, GroupSnapshotCapable) and driver.find_group_snapshot(snap_id) is not None:
            driver.delete_group_snapshot(snap_id)
        if name != vol.backend and driver.volume_exists(vol.id):
            driver.delete_volume(vol.id)
    outcome = "success" if vol.migration_status == COMPLETING else "error"
    return repo.update_if(vol.id, _RETYPING, status=VolumeStatus.AVAILABLE, migration_status=outcome)
