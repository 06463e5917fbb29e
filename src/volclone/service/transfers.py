"""Volume transfers (Cinder's ``os-volume-transfer`` and 3.55's ``volume-transfers``): a project
offers one of its volumes, any project that is given the offer's auth key takes it::

    offer, key = svc.transfers.create(who, "p1", vol.id, name="for-p2")   # the key, this once
    svc.transfers.accept(other, "p2", offer.id, key)   # the volume (and snapshots) are p2's now
    svc.transfers.delete(who, "p1", offer.id)          # or: withdrawn, the volume available again

The rules are Cinder's (``cinder/transfer/api.py``): only an ``available`` volume is offered, and
unless ``no_snapshots`` its snapshots must all be ``available`` (400); while the offer is open the
volume is ``awaiting-transfer`` (nothing attaches, snapshots, extends or deletes it). The key is
16 hex digits shown once, in the create's answer; the record keeps an 8-digit salt and
HMAC-SHA256(salt, key) (Cinder: HMAC-SHA1), compared in constant time. A wrong key is a 400.
An accept checks the accepting project's ``volumes``, ``gigabytes`` and ``snapshots`` quotas,
and those of the volume's type (413), and moves the volume, its snapshots (unless
``no_snapshots``) and their usage in one transaction under that project's quota lock.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import hmac
import secrets
import uuid

from volclone.db.repos import Groups, Volumes
from volclone.db.snapshots import Snapshots
from volclone.db.transfers import Transfers
from volclone.domain import PageQuery, Principal, SnapshotStatus, Transfer, Volume, VolumeStatus
from volclone.errors import BadRequest, Conflict, InvalidVolume, NotFound
from volclone.service.locks import Lock, volume_lock
from volclone.service.quotas import QuotaService

#: Cinder's ``volume_transfer_key_length`` and ``volume_transfer_salt_length`` (hex digits).
KEY_LENGTH = 16
SALT_LENGTH = 8
_OFFERABLE = frozenset({VolumeStatus.AVAILABLE})


def key_hash(salt: str, auth_key: str) -> str:
    return hmac.new(salt.encode(), auth_key.encode(), hashlib.sha256).hexdigest()


class TransferService:
    def __init__(self, transfers: Transfers, volumes: Volumes, snapshots: Snapshots, quotas: QuotaService,
                 groups: Groups | None = None, lock: Lock | None = None) -> None:
        self.repo = transfers
        self.volumes = volumes
        self.snapshots = snapshots
        self.quotas = quotas
        self.groups = groups or Groups(volumes.db)
        self.lock: Lock = lock or (lambda name: contextlib.nullcontext())

    # -- lookups ---------------------------------------------------------------------
    def get(self, who: Principal, project_id: str, transfer_id: str) -> Transfer:
        """The open transfer, if it is the project's (an admin's token sees any)."""
        transfer = self.repo.get(transfer_id)
        if transfer is None or (transfer.project_id != project_id and not who.is_admin):
            raise NotFound(f"Transfer {transfer_id} could not be found.")
        return transfer

    def page(self, who: Principal, project_id: str, query: PageQuery,
             all_projects: bool = False) -> builtins.list[Transfer]:
        """The project's open transfers (``all_projects``, an admin's: every project's)."""
        if query.marker is not None:
            owner = self.repo.project_of(query.marker)
            if owner is None or not (who.is_admin or owner == project_id):
                raise NotFound(f"Transfer {query.marker} could not be found.")
        return self.repo.page(None if all_projects and who.is_admin else project_id, query)

    def _volume(self, who: Principal, project_id: str, volume_id: str) -> Volume:
        vol = self.volumes.get(volume_id)
        if vol is None or (vol.project_id != project_id and not who.is_admin):
            raise NotFound(f"Volume {volume_id} could not be found.")
        return vol

    # -- create, delete ------------------------------------------------------------------
    def create(self, who: Principal, project_id: str, volume_id: str, name: str | None = None,
               no_snapshots: bool = False) -> tuple[Transfer, str]:
        """Offer the volume; returns the transfer and its auth key (shown this once, never stored)."""
        vol = self._volume(who, project_id, volume_id)
        with self.lock(volume_lock(vol.id)):
            vol = self._volume(who, project_id, volume_id)
            if vol.status is not VolumeStatus.AVAILABLE:
                raise InvalidVolume(f"Invalid volume: status must be available, but volume {vol.id} is "
                                    f"{vol.status.value}.")
            if self.groups.grouped(vol.id):
                raise InvalidVolume(f"Invalid volume: volume {vol.id} is being cloned; transfer it when the "
                                    "clone ends.")
            if not no_snapshots:
                for snap in self.snapshots.of_volume(vol.id):
                    if snap.status is not SnapshotStatus.AVAILABLE:
                        raise BadRequest(f"Invalid snapshot: Snapshot: {snap.name or snap.id}, status: "
                                         f"{snap.status.value} doesn't allow transfer")
            auth_key = secrets.token_hex(KEY_LENGTH // 2)
            salt = secrets.token_hex(SALT_LENGTH // 2)
            transfer = Transfer(id=str(uuid.uuid4()), volume_id=vol.id, project_id=vol.project_id, name=name,
                                salt=salt, key_hash=key_hash(salt, auth_key), no_snapshots=no_snapshots)
            if not self.repo.open(transfer, _OFFERABLE):
                raise InvalidVolume(f"Invalid volume: volume {vol.id} changed state; try again")
        made = self.repo.get(transfer.id)
        assert made is not None
        return made, auth_key

    def delete(self, who: Principal, project_id: str, transfer_id: str) -> None:
        """Withdraw the offer: the volume is ``available`` again."""
        transfer = self.get(who, project_id, transfer_id)
        with self.lock(volume_lock(transfer.volume_id)):
            if not self.repo.cancel(transfer):
                raise NotFound(f"Transfer {transfer_id} could not be found.")

    # -- accept ----------------------------------------------------------------------------
    def accept(self, who: Principal, project_id: str, transfer_id: str, auth_key: str) -> Transfer:
        """Take the offered volume into ``project_id`` (the caller's project). Any project may,
        given the key: the transfer is looked up in every project, as Cinder's elevated look-up."""
        transfer = self.repo.get(transfer_id)
        if transfer is None:
            raise NotFound(f"Transfer {transfer_id} could not be found.")
        if not hmac.compare_digest(key_hash(transfer.salt, auth_key), transfer.key_hash):
            raise BadRequest(f"Invalid auth key: Attempt to transfer {transfer_id} with invalid auth key.")
        with self.lock(volume_lock(transfer.volume_id)):
            vol = self.volumes.get(transfer.volume_id)
            if vol is None:  # force-deleted while offered: the offer goes with it
                self.repo.forget(transfer.id)
                raise NotFound(f"Volume {transfer.volume_id} could not be found.")
            if vol.status is not VolumeStatus.AWAITING_TRANSFER:
                raise InvalidVolume(f"Invalid volume: volume {vol.id} is {vol.status.value}, not awaiting-transfer.")
            snaps = [] if transfer.no_snapshots else self.snapshots.of_volume(vol.id)
            if not self.quotas.take_transfer(project_id, transfer.id, vol, snaps, who.user_id):
                raise Conflict(f"volume {vol.id} changed state; try again")
        return transfer
