"""Attachments: serving a volume to a consumer (Cinder's v3 attachments API and the older
volume actions), through the backend's :class:`~volclone.backends.base.Attachable` capability.

    a = svc.attachments.create(who, project, volume_id, instance_uuid=server, connector={"host": "h1"})
    a.connection_info        # {"driver_volume_type": "nbd", "data": {"uri": "nbd://...", ...}}
    svc.attachments.complete(who, project, a.id)     # volume in-use
    svc.attachments.delete(who, project, a.id)       # volume available again once none is left

The rules:

* the volume must exist in the project (404) and be ``available``, ``reserved``,
  ``attaching`` or ``in-use``; ``creating``, ``error``, ``deleting``... are 400s;
* who may share the volume is Cinder's multiattach rule (:mod:`volclone.service.multiattach`):
  ``POST /attachments`` reserves a volume that is ``available`` (or ``in-use`` when it is
  multiattach), or one the same instance has an attachment of already (live migration); an
  attachment of another instance never joins a volume that is not multiattach (400);
* a volume is served through ONE export, writable or not: its attachments never mix modes,
  and a read-write one is its only one unless they share it (a multiattach volume, or one
  instance's attachments) (400 otherwise);
* an attachment made with a connector is served at once (``attaching``); one made
  without is only ``reserved`` until a connector comes with its completion;
* the volume's status follows its attachments: ``in-use`` once one is completed
  (``attached``), ``attaching``/``reserved`` before, ``available`` once none is left;
* the database is the record of what is served: an attachment is recorded before its
  volume is exported and deleted only after the export is gone, so at service start
  :meth:`AttachmentService.restore` exports again exactly what is recorded, at the
  backend's configured address.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from volclone.backends.base import Attachable, QosLimitable
from volclone.db.repos import Attachments, Volumes
from volclone.domain import (
    ATTACHABLE,
    SERVED,
    Attachment,
    AttachMode,
    AttachStatus,
    PageQuery,
    Principal,
    QosSpecs,
    Volume,
    VolumeStatus,
    mode_conflict,
)
from volclone.errors import BadRequest, CapabilityMissing, InvalidVolume, NotFound
from volclone.service.multiattach import (
    RESERVABLE,
    Authorize,
    attach_rule,
    other_instance_refusal,
    reserve_refusal,
    shares_export,
)
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

_IN_USE = frozenset({VolumeStatus.IN_USE})
_DETACHING = frozenset({VolumeStatus.DETACHING})
#: What ``os-reset_status`` may set: every status volclone has (Cinder's list, and its own).
RESETTABLE = frozenset(VolumeStatus)
#: Cinder's ``attach_status`` values ``os-reset_status`` takes, and its ``migration_status`` ones.
ATTACH_STATUSES = ("attached", "detached")
MIGRATION_STATUSES = ("migrating", "error", "success", "completing", "none", "starting")

#: Connector keys that say how to attach (Cinder puts ``mode`` and ``mountpoint`` there too).
MODE_KEY = "mode"
MOUNTPOINT_KEY = "mountpoint"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _same_connector(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two connectors name the same consumer: the same ``host`` if both give one, else equal."""
    if a.get("host") is not None and b.get("host") is not None:
        return bool(a["host"] == b["host"])
    return dict(a) == dict(b)


class AttachmentService:
    def __init__(self, attachments: Attachments, volumes: Volumes, backends: Backends) -> None:
        self.repo = attachments
        self.volumes = volumes
        self.backends = backends
        # Every change of what is served goes through here: the check of the other
        # attachments, the backend call and the record stay in step. (One process serves
        # a pool: its exports live in that process's daemon.)
        self._lock = threading.RLock()
        #: The QoS spec of a volume type (bootstrap sets it): applied before a volume is served.
        self.qos_of_type: Callable[[str], QosSpecs | None] | None = None
        #: The policy's check of the rules only the volume can tell apply (a bootable multiattach one's).
        self.authorize: Authorize | None = None

    # -- lookups ---------------------------------------------------------------
    def _volume(self, project_id: str, volume_id: str) -> Volume:
        vol = self.volumes.get(volume_id)
        if vol is None or vol.project_id != project_id:
            raise NotFound(f"volume {volume_id} could not be found")
        return vol

    def driver_for(self, backend: str) -> Attachable:
        driver = self.backends.get(backend)
        if not isinstance(driver, Attachable):
            raise CapabilityMissing(f"backend {backend} cannot serve volumes to consumers (no attachments)")
        return driver

    def get(self, who: Principal, project_id: str, attachment_id: str) -> Attachment:
        a = self.repo.get(attachment_id)
        if a is None or a.project_id != project_id:
            raise NotFound(f"attachment {attachment_id} could not be found")
        return a

    def list(self, who: Principal, project_id: str, all_projects: bool = False, volume_id: str | None = None,
             instance_uuid: str | None = None, status: str | None = None) -> list[Attachment]:
        named = (("volume_id", volume_id), ("instance_uuid", instance_uuid), ("status", status))
        return self.page(who, project_id, PageQuery(equal=tuple((k, v) for k, v in named if v is not None)),
                         all_projects)

    def page(self, who: Principal, project_id: str, query: PageQuery,
             all_projects: bool = False) -> builtins.list[Attachment]:
        """The project's attachments ``query`` selects, one page (``all_projects``, an admin's: every
        project's); a marker ``who`` can't see is a 404, as Cinder's."""
        scope = None if (all_projects and who.is_admin) else project_id
        if query.marker is not None:
            found = self.repo.get(query.marker)
            if found is None or (scope is not None and found.project_id != scope):
                raise NotFound(f"Attachment {query.marker} could not be found.")
        return self.repo.page(scope, query)

    # -- the attachments API -------------------------------------------------------
    def create(self, who: Principal, project_id: str, volume_id: str, instance_uuid: str | None = None,
               connector: Mapping[str, Any] | None = None, mode: AttachMode | None = None) -> Attachment:
        """Attach; served at once when ``connector`` is given, else only reserved.

        ``mode`` defaults to the connector's ``mode``, else read-only for a read-only volume and
        read-write for the others. Nothing is recorded or served unless every check passes.
        """
        connector = dict(connector or {})
        with self._lock:
            rule = attach_rule(self._volume(project_id, volume_id))
            if rule is not None and self.authorize is not None:
                self.authorize(rule, who, project_id)
            return self._attach(project_id, volume_id, instance_uuid, connector, self._mode(mode, connector),
                                serve=bool(connector), reserving=True)

    def _attach(self, project_id: str, volume_id: str, instance_uuid: str | None, connector: dict[str, Any],
                asked: AttachMode | None, serve: bool, reserving: bool = False) -> Attachment:
        """``reserving``: Cinder's reservation rule of ``POST /attachments`` applies too."""
        vol = self._volume(project_id, volume_id)
        driver = self.driver_for(vol.backend)
        # A read-only volume (os-update_readonly_flag) is attached read-only; asking for
        # read-write is Cinder's InvalidVolumeAttachMode (400).
        if vol.readonly and asked is AttachMode.RW:
            raise InvalidVolume(f"Invalid attaching mode 'rw' for volume {volume_id}: it is read-only.")
        mode = asked or (AttachMode.RO if vol.readonly else AttachMode.RW)
        why = (reserve_refusal(vol, instance_uuid) if reserving and vol.status in ATTACHABLE else None) \
            or other_instance_refusal(vol, instance_uuid)
        if why:
            raise InvalidVolume(why)
        self._check_attachable(vol, mode, shares_export(vol, instance_uuid))
        a = Attachment(id=str(uuid.uuid4()), volume_id=volume_id, project_id=project_id,
                       instance_uuid=instance_uuid, mode=mode,
                       status=AttachStatus.ATTACHING if serve else AttachStatus.RESERVED,
                       connector=connector, mountpoint=_mountpoint(connector))
        # Record first, serve second (see _detach for the other half).
        if not self.repo.add(a, volume_in=ATTACHABLE):
            raise InvalidVolume(f"volume {volume_id} changed state; try again")
        if not serve:
            return a
        try:
            info = self._serve(driver, a)
        except Exception:
            log.exception("serving volume %s failed", volume_id)
            self.repo.remove(a.id)
            raise
        updated = self.repo.update(a.id, connection_info=info)
        assert updated is not None
        log.info("volume %s attached %s (attachment %s)", volume_id, mode.value, a.id)
        return updated

    def complete(self, who: Principal, project_id: str, attachment_id: str,
                 connector: Mapping[str, Any] | None = None) -> Attachment:
        """Mark an attachment done (volume ``in-use``), serving it first if it was only reserved."""
        with self._lock:
            a = self.get(who, project_id, attachment_id)
            if connector and MODE_KEY in connector and connector[MODE_KEY] not in (None, a.mode.value):
                raise BadRequest(f"attachment {attachment_id} is {a.mode.value}; its mode can't change")
            fields: dict[str, Any] = {}
            if connector:
                fields["connector"] = dict(connector)
                fields["mountpoint"] = _mountpoint(connector) or a.mountpoint
            if a.status is AttachStatus.RESERVED:  # record first, serve second, as in _attach
                driver = self.driver_for(self._volume(project_id, a.volume_id).backend)
                self.repo.update(attachment_id, status=AttachStatus.ATTACHING)
                try:
                    fields["connection_info"] = self._serve(driver, a)
                except Exception:
                    self.repo.update(attachment_id, status=AttachStatus.RESERVED)
                    raise
            if a.status is not AttachStatus.ATTACHED:
                fields.update(status=AttachStatus.ATTACHED, attached_at=_now())
            updated = self.repo.update(attachment_id, **fields) if fields else a
            assert updated is not None
            return updated

    def delete(self, who: Principal, project_id: str, attachment_id: str) -> builtins.list[Attachment]:
        """Detach; returns the volume's attachments that are left."""
        with self._lock:
            a = self.get(who, project_id, attachment_id)
            self._detach(a)
            return self.repo.list(volume_id=a.volume_id)

    # -- the older volume actions, on the same records -------------------------------
    def initialize_connection(self, who: Principal, project_id: str, volume_id: str,
                              connector: Mapping[str, Any]) -> dict[str, Any]:
        """``os-initialize_connection``: serve the volume to ``connector``; repeating it is harmless.

        It makes an attachment (``attaching``, read-write unless the connector says ``ro``)
        that ``os-attach`` completes, or reuses the pending one of the same connector.
        """
        with self._lock:
            vol = self._volume(project_id, volume_id)
            for a in vol.attachments:
                if a.status is AttachStatus.ATTACHING and _same_connector(a.connector, connector):
                    assert a.connection_info is not None
                    return a.connection_info
            a = self._attach(project_id, volume_id, None, dict(connector), self._mode(None, connector), serve=True)
            assert a.connection_info is not None
            return a.connection_info

    def attach(self, who: Principal, project_id: str, volume_id: str, instance_uuid: str | None,
               mountpoint: str | None, mode: AttachMode | None) -> Attachment:
        """``os-attach``: complete the volume's pending attachment (the one of this instance, or the
        only one without an instance), or attach and complete at once when there is none."""
        with self._lock:
            vol = self._volume(project_id, volume_id)
            pending = [a for a in vol.attachments if a.status is not AttachStatus.ATTACHED
                       and a.instance_uuid in (None, instance_uuid)]
            if len(pending) > 1:
                raise BadRequest(f"volume {volume_id} has {len(pending)} pending attachments; "
                                 "use the attachments API to complete one")
            if not pending:
                connector = {MOUNTPOINT_KEY: mountpoint} if mountpoint else {}
                a = self._attach(project_id, volume_id, instance_uuid, connector, mode, serve=True)
            else:
                a = pending[0]
                why = other_instance_refusal(vol, instance_uuid, ignore=a.id)
                if why:
                    raise InvalidVolume(why)
                if mode is not None and mode is not a.mode:
                    raise BadRequest(f"volume {volume_id} was connected {a.mode.value}; os-attach can't "
                                     f"make it {mode.value}")
            fields: dict[str, Any] = {"instance_uuid": instance_uuid or a.instance_uuid}
            if mountpoint:
                fields["mountpoint"] = mountpoint
            self.repo.update(a.id, **fields)
            return self.complete(who, project_id, a.id)

    def detach(self, who: Principal, project_id: str, volume_id: str, attachment_id: str | None) -> None:
        """``os-detach``: delete the named attachment, or the volume's only one."""
        with self._lock:
            vol = self._volume(project_id, volume_id)
            if attachment_id is None:
                if len(vol.attachments) != 1:
                    raise BadRequest(f"volume {volume_id} has {len(vol.attachments)} attachments; "
                                     "name one with attachment_id")
                attachment_id = vol.attachments[0].id
            a = self.get(who, project_id, attachment_id)
            if a.volume_id != volume_id:
                raise NotFound(f"volume {volume_id} has no attachment {attachment_id}")
            self._detach(a)

    def terminate_connection(self, who: Principal, project_id: str, volume_id: str,
                             connector: Mapping[str, Any]) -> None:
        """``os-terminate_connection``: end this connector's attachments that were never completed.

        A completed attachment ends with ``os-detach`` (Nova calls both, in either order).
        """
        with self._lock:
            vol = self._volume(project_id, volume_id)
            for a in vol.attachments:
                if a.status is not AttachStatus.ATTACHED and _same_connector(a.connector, connector):
                    self._detach(a)

    # -- Nova's status steps around the older actions (Cinder's rules) ----------------
    def reserve(self, who: Principal, project_id: str, volume_id: str) -> None:
        """``os-reserve``: ``available`` (or ``in-use``, multiattach) -> ``attaching``, before Nova
        connects it."""
        vol = self._volume(project_id, volume_id)
        allowed = RESERVABLE[vol.multiattach]
        if not self.volumes.set_status([volume_id], VolumeStatus.ATTACHING, only_from=frozenset(allowed)):
            raise InvalidVolume(f"Volume status must be {' or '.join(s.value for s in allowed)} to reserve, "
                                f"but the status is {vol.status.value}.")

    def unreserve(self, who: Principal, project_id: str, volume_id: str) -> None:
        """``os-unreserve``: out of ``attaching``, to what the attachments say (``available``
        without any); a volume not ``attaching`` is left as it is (Cinder: nothing to do)."""
        with self._lock:
            vol = self._volume(project_id, volume_id)
            if vol.status is VolumeStatus.ATTACHING:
                self.repo.sync_status(volume_id)

    def begin_detaching(self, who: Principal, project_id: str, volume_id: str) -> None:
        """``os-begin_detaching``: ``in-use`` (with an attached attachment) -> ``detaching``."""
        vol = self._volume(project_id, volume_id)
        if vol.migration_status not in (None, "success", "error") \
                or not self.volumes.set_status([volume_id], VolumeStatus.DETACHING, only_from=_IN_USE):
            raise InvalidVolume("Unable to detach volume. Volume status must be 'in-use' and attach_status "
                                "must be 'attached' to detach.")

    def roll_detaching(self, who: Principal, project_id: str, volume_id: str) -> None:
        """``os-roll_detaching``: ``detaching`` -> what the attachments say (``in-use``); any other
        status is left as it is, as in Cinder."""
        with self._lock:
            self._volume(project_id, volume_id)
            self.repo.sync_status(volume_id, also_from=_DETACHING)

    def reset_status(self, who: Principal, project_id: str, volume_id: str, status: str | None = None,
                     attach_status: str | None = None, migration_status: str | None = None) -> Volume:
        """``os-reset_status`` (admins): set the volume's fields as given, checking nothing else.

        ``attach_status: detached`` ends every attachment of the volume (its export goes, as
        best it can: a backend that fails is logged); ``attached`` changes nothing, since
        volclone's attach status is its attachments'. A ``status`` given wins over what the
        remaining attachments would make it. 400 unless at least one field is given and valid.
        """
        status, attach_status, migration_status = (v.lower() if v is not None else None
                                                    for v in (status, attach_status, migration_status))
        if not (status or attach_status or migration_status):
            raise BadRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.")
        if status and status not in {s.value for s in RESETTABLE}:
            raise BadRequest(f"Must specify a valid status: one of {', '.join(sorted(s.value for s in RESETTABLE))}")
        if attach_status and attach_status not in ATTACH_STATUSES:
            raise BadRequest(f"Must specify a valid attach status: {' or '.join(ATTACH_STATUSES)}")
        if migration_status and migration_status not in MIGRATION_STATUSES:
            raise BadRequest(f"Must specify a valid migration status: one of {', '.join(MIGRATION_STATUSES)}")
        with self._lock:
            vol = self._volume(project_id, volume_id)
            if attach_status == "detached":
                for a in vol.attachments:
                    try:
                        self._detach(a)
                    except Exception:  # the record goes anyway: the admin said it is detached
                        log.exception("volume %s: stopping the export of attachment %s failed", volume_id, a.id)
                        self.repo.remove(a.id, also_from=frozenset(VolumeStatus))
            fields: dict[str, Any] = {}
            if status:
                fields["status"] = VolumeStatus(status)
            if migration_status:
                fields["migration_status"] = None if migration_status == "none" else migration_status
            if not fields:
                updated = self.volumes.get(volume_id)
            else:
                updated = self.volumes.update(volume_id, **fields)
            assert updated is not None
            log.warning("volume %s reset: %s", volume_id, {"status": status, "attach_status": attach_status,
                                                           "migration_status": migration_status})
            return updated

    # -- at service start --------------------------------------------------------
    def restore(self) -> int:
        """Serve every attached volume again, as recorded (after a service restart); returns how many."""
        served = 0
        with self._lock:
            by_volume: dict[str, list[Attachment]] = {}
            for a in self.repo.list():
                if a.status in SERVED:
                    by_volume.setdefault(a.volume_id, []).append(a)
            claimed: dict[str, set[str]] = {}  # backend -> volumes with a served attachment
            for volume_id, attachments in by_volume.items():
                vol = self.volumes.get(volume_id)
                if vol is not None and vol.backend not in self.backends.drivers:
                    continue  # another process (a worker) serves that backend
                try:
                    assert vol is not None
                    claimed.setdefault(vol.backend, set()).add(volume_id)
                    driver = self.driver_for(vol.backend)
                    for a in attachments:
                        self.repo.update(a.id, connection_info=self._serve(driver, a))
                    served += 1
                except Exception:
                    log.exception("serving attached volume %s again failed", volume_id)
            for name, backend in self.backends.drivers.items():
                if isinstance(backend, Attachable) and name not in self.backends.unavailable:
                    try:
                        backend.keep_only(claimed.get(name, set()))
                    except Exception:
                        log.exception("backend %s: stopping unclaimed exports failed", name)
        if served:
            log.info("%d attached volumes served again", served)
        return served

    # -- internals -----------------------------------------------------------------
    @staticmethod
    def _mode(mode: AttachMode | None, connector: Mapping[str, Any]) -> AttachMode | None:
        """The mode asked for (``mode``, else the connector's), or None: the volume's default."""
        given = connector.get(MODE_KEY)
        if given is not None:
            try:
                from_connector = AttachMode(given)
            except ValueError:
                raise BadRequest(f"connector mode must be rw or ro, not {given!r}") from None
            if mode is not None and mode is not from_connector:
                raise BadRequest(f"mode {mode.value} and the connector's mode {given} disagree")
            return from_connector
        return mode

    def _check_attachable(self, vol: Volume, mode: AttachMode, shared: bool) -> None:
        if vol.status not in ATTACHABLE:
            raise InvalidVolume(f"volume {vol.id} is {vol.status.value}; only available or in-use "
                                "volumes can be attached")
        why = mode_conflict(vol.attachments, mode, shared)
        if why:
            raise InvalidVolume(f"volume {vol.id} can't be attached {mode.value}: {why}")

    def _serve(self, driver: Attachable, a: Attachment) -> dict[str, Any]:
        """Export the volume in the attachment's mode; Cinder's connection_info with ``access_mode``,
        and ``qos_specs`` when its type's QoS spec is the consumer's to enforce. A back-end spec's
        limits are set on the backend first, so the volume is never served without them."""
        vol = self.volumes.get(a.volume_id)
        qos = self.qos_of_type(vol.volume_type_id) if vol is not None and self.qos_of_type is not None else None
        if isinstance(driver, QosLimitable):
            driver.set_volume_qos(a.volume_id, qos.limits() if qos is not None else {})
        info = dict(driver.initialize_connection(a.volume_id, writable=a.mode is AttachMode.RW))
        data = info.get("data")
        shown: dict[str, Any] = {**(data if isinstance(data, dict) else {}), "access_mode": a.mode.value}
        if qos is not None and qos.consumer.frontend_enforces:
            shown["qos_specs"] = dict(qos.specs)
        info["data"] = shown
        return info

    def _detach(self, a: Attachment) -> None:
        """Stop serving the volume when ``a`` is its last served attachment, then forget ``a``.

        In this order: a crash in between leaves the record, and a restart serves it again.
        """
        others = [o for o in self.repo.list(volume_id=a.volume_id) if o.id != a.id and o.status in SERVED]
        if a.status in SERVED and not others:
            vol = self.volumes.get(a.volume_id)
            assert vol is not None
            self.driver_for(vol.backend).terminate_connection(a.volume_id)
        # A detach ends os-begin_detaching's ``detaching`` too (Cinder's os-detach does).
        self.repo.remove(a.id, also_from=_DETACHING)
        log.info("volume %s detached (attachment %s)", a.volume_id, a.id)


def _mountpoint(connector: Mapping[str, Any]) -> str | None:
    value = connector.get(MOUNTPOINT_KEY)
    return str(value) if value else None
