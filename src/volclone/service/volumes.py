"""Volume types and volumes."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from volclone.backends.base import Extendable, Flattenable, VolumeDriver
from volclone.db.repos import Attachments, ConfigValues, Groups, Volumes, VolumeTypes
from volclone.domain import (
    CLONEABLE,
    DELETABLE,
    Group,
    GroupStatus,
    Principal,
    TypeEncryption,
    Volume,
    VolumeQuery,
    VolumeStatus,
    VolumeSummary,
    VolumeType,
)
from volclone.errors import (
    BackendError,
    BackendUnavailable,
    BadRequest,
    CapabilityMissing,
    Conflict,
    InvalidVolume,
    NotFound,
    OverLimit,
)
from volclone.service.capabilities import backend_capabilities, satisfies
from volclone.service.locks import Lock, volume_lock
from volclone.service.messages import Action, Code, Detail, MessageService, Resource, detail_for
from volclone.service.multiattach import CREATE_RULE, Authorize
from volclone.service.quotas import QuotaService, renamed_type_keys, type_keys

if TYPE_CHECKING:
    from volclone.service.service_states import ServiceStates
    from volclone.service.snapshots import SnapshotService

log = logging.getLogger(__name__)

DEFAULT_TYPE = "__DEFAULT__"
#: The settings key (then the project id) of a project's own default type (3.62).
PROJECT_DEFAULT_KEY = "default_volume_type:"
BACKEND_KEY = "volume_backend_name"
#: Extra spec choosing how clones of this type are made: linked (default) or full copies.
CLONE_MODE_KEY = "clone_mode"
CLONE_MODES = ("linked", "full")
#: Extra spec making a type's volumes multiattach (value ``"<is> True"``), as in Cinder.
MULTIATTACH_KEY = "multiattach"
#: The most metadata items a volume (or extra specs a type) may have. Cinder has no fixed number;
#: 128 is Nova's ``metadata_items`` quota, the cap the OpenStack family knows.
MAX_METADATA_ITEMS = 128
#: The extra specs a user who is not an admin sees (Cinder's ``USER_VISIBLE_EXTRA_SPECS``); the
#: rest (``volume_backend_name``, ``clone_mode``, ...) are the operator's business.
USER_VISIBLE_EXTRA_SPECS = ("RESKEY:availability_zones", "multiattach", "replication_enabled")
_CREATING = frozenset({VolumeStatus.CREATING})
_AVAILABLE = frozenset({VolumeStatus.AVAILABLE})
_IN_USE = frozenset({VolumeStatus.IN_USE})
_EXTENDING = frozenset({VolumeStatus.EXTENDING})
#: The statuses a force delete takes a volume from: any, as in Cinder, but ``deleting`` (a delete
#: runs; the reaper finishes one whose process died).
_FORCE_DELETABLE = frozenset(VolumeStatus) - {VolumeStatus.DELETING}


def is_multiattach(vtype: VolumeType) -> bool:
    """Cinder's test of a type's ``multiattach`` extra spec: ``"<is> True"`` (any case)."""
    return vtype.extra_specs.get(MULTIATTACH_KEY, "").strip().lower() == "<is> true"


def clone_mode(vtype: VolumeType) -> str:
    return vtype.extra_specs.get(CLONE_MODE_KEY, "linked")


def _check_specs(specs: dict[str, str]) -> None:
    mode = specs.get(CLONE_MODE_KEY)
    if mode is not None and mode not in CLONE_MODES:
        raise BadRequest(f"{CLONE_MODE_KEY} must be one of {', '.join(CLONE_MODES)}, not {mode!r}")


class Backends:
    """The configured backends by name; ``default`` serves types that name none.

    A backend whose driver did not start (its cluster was down at service start) is
    *unavailable*: asking for it raises :class:`BackendUnavailable` (503) with the reason.
    """

    def __init__(self, drivers: Mapping[str, VolumeDriver], default: str,
                 down: Callable[[str], str | None] | None = None) -> None:
        self.drivers = dict(drivers)
        self.default = default
        #: Backend name -> why it is unavailable.
        self.unavailable: dict[str, str] = {}
        #: Asked on every use: why a backend is down right now, or None (an API process asks
        #: whether any worker serving it is alive, so a request fails at once instead of timing out).
        self.down = down

    def name_for(self, vtype: VolumeType) -> str:
        return vtype.backend_name or self.default

    def get(self, name: str) -> VolumeDriver:
        if name in self.unavailable:
            raise BackendUnavailable(f"backend {name} is unavailable: {self.unavailable[name]}")
        try:
            driver = self.drivers[name]
        except KeyError:
            raise BadRequest(f"no backend is named {name!r}") from None
        why = self.down(name) if self.down is not None else None
        if why:
            raise BackendUnavailable(f"backend {name} is unavailable: {why}")
        return driver


def _check_metadata_count(old: Mapping[str, str], new: Mapping[str, str]) -> None:
    """Past the cap, a change may not add items (a volume the clone flow put over it can still
    be edited, and shrink)."""
    if len(new) > MAX_METADATA_ITEMS and len(new) > len(old):
        raise OverLimit(f"a volume has at most {MAX_METADATA_ITEMS} metadata items; this would make {len(new)}")


class VolumeTypeService:
    """Volume types. A private type (``is_public: false``) is visible to admins and to the projects
    it was granted (Cinder's type access: ``add_access``); to anyone else it does not exist (404).
    A granted project lists it, shows it and makes volumes of it. Callers acting for a user pass
    ``who``; the service's own look-ups (the type of an existing volume) do not.
    """

    def __init__(self, types: VolumeTypes, settings: ConfigValues | None = None) -> None:
        self.repo = types
        #: Where each project's own default type is kept (3.62's default-types), if anywhere.
        self.settings = settings
        #: A type's encryption, if it has one (bootstrap sets it: service/type_encryption.py).
        self.encryption_of: Callable[[str], TypeEncryption | None] = lambda type_id: None

    def refuse_if_encrypted(self, vtype: VolumeType) -> None:
        """400 if ``vtype`` has an encryption: a volume of it would need a key from a key manager
        (Cinder asks Barbican for one as it creates the volume), and volclone has none. Never a
        volume that its type says is encrypted and that is not."""
        enc = self.encryption_of(vtype.id)
        if enc is not None:
            raise BadRequest(f"volume type {vtype.name} is encrypted (provider {enc.provider[:64]}, "
                             f"{enc.control_location.value}): volclone has no key manager to make the volumes' "
                             "encryption keys, so it makes no volumes of an encrypted type; use a type "
                             "without encryption")

    def ensure_default(self, backend: str) -> VolumeType:
        """The default type, made at the first start. Processes that start at once on a new
        database (the workers and APIs of a cluster) may all find it missing: one makes it, the
        others read it."""
        vtype = self.repo.by_name(DEFAULT_TYPE)
        if vtype is None:
            try:
                vtype = self.repo.add(VolumeType(id=str(uuid.uuid4()), name=DEFAULT_TYPE,
                                                 description="Default Volume Type",
                                                 extra_specs={BACKEND_KEY: backend}))
            except Conflict:
                vtype = self.repo.by_name(DEFAULT_TYPE)
                if vtype is None:
                    raise
        return vtype

    def _sees(self, who: Principal | None, vtype: VolumeType | None) -> bool:
        if vtype is None:
            return False
        if who is None or who.is_admin or vtype.is_public:
            return True
        return self.repo.has_access(vtype.id, who.project_id)

    @staticmethod
    def shown_to(who: Principal, vtype: VolumeType) -> VolumeType:
        """``vtype`` as ``who`` may see it: a user who is not an admin sees only the user-visible extra specs."""
        if who.is_admin:
            return vtype
        specs = {k: v for k, v in vtype.extra_specs.items() if k in USER_VISIBLE_EXTRA_SPECS}
        return dataclasses.replace(vtype, extra_specs=specs)

    def list(self, who: Principal | None = None, is_public: bool | None = True) -> list[VolumeType]:
        """Every type, or (with ``who``) what Cinder lists to ``who``, as they may see it.

        Cinder's ``is_public`` filter: ``True`` (its default) lists the public types and those
        granted to the caller's project; ``False`` the private types only; ``None`` every type.
        Only admins choose: anyone else always gets ``True``.
        """
        types = self.repo.list()
        if who is None:
            return types
        if not who.is_admin:
            is_public = True
        if is_public is None:
            chosen = types
        elif is_public:
            granted = self.repo.granted_to(who.project_id)
            chosen = [t for t in types if t.is_public or t.id in granted]
        else:
            chosen = [t for t in types if not t.is_public]
        return [self.shown_to(who, t) for t in chosen]

    def get(self, type_id: str, who: Principal | None = None) -> VolumeType:
        """The type with this id (404 if ``who`` is given and cannot see it). Its specs are whole."""
        vtype = self.repo.get(type_id)
        if vtype is None or not self._sees(who, vtype):
            raise NotFound(f"volume type {type_id} could not be found")
        return vtype

    def find(self, id_or_name: str, who: Principal | None = None) -> VolumeType:
        """The type with this id or name (404 if ``who`` is given and cannot see it). Its specs are whole."""
        vtype = self.repo.get(id_or_name) or self.repo.by_name(id_or_name)
        if vtype is None or not self._sees(who, vtype):
            raise NotFound(f"volume type {id_or_name} could not be found")
        return vtype

    def show(self, who: Principal, type_id: str) -> VolumeType:
        """The type with this id as ``who`` may see it (404 if ``who`` cannot see it)."""
        return self.shown_to(who, self.get(type_id, who))

    def default(self, who: Principal) -> VolumeType:
        """``GET /types/default``: the caller's project's default type."""
        return self.shown_to(who, self.default_for(who.project_id))

    def default_for(self, project_id: str) -> VolumeType:
        """The type a volume of ``project_id`` made without one gets: the project's own default
        (3.62) if one is set, else ``__DEFAULT__``."""
        type_id = self.project_defaults().get(project_id)
        vtype = self.repo.get(type_id) if type_id is not None else None
        return vtype or self.find(DEFAULT_TYPE)

    # -- 3.62's per-project defaults (admins; the API's policy rules check who) ------------------
    def project_defaults(self) -> dict[str, str]:
        """project id -> the id of its default type, for every project that has one."""
        return self.settings.with_prefix(PROJECT_DEFAULT_KEY) if self.settings is not None else {}

    def set_project_default(self, project_id: str, volume_type: str) -> str:
        """Make ``volume_type`` (a name or an id; 404 if there is none) ``project_id``'s default;
        its id. A private type must be one the project may use."""
        if self.settings is None:
            raise CapabilityMissing("this service keeps no per-project default types")
        vtype = self.find(volume_type)
        if not vtype.is_public and not self.repo.has_access(vtype.id, project_id):
            raise BadRequest(f"volume type {volume_type} is private and project {project_id} has no access to it")
        self.settings.set(PROJECT_DEFAULT_KEY + project_id, vtype.id)
        return vtype.id

    def unset_project_default(self, project_id: str) -> None:
        if self.settings is None or not self.settings.delete(PROJECT_DEFAULT_KEY + project_id):
            raise NotFound(f"Default type for project {project_id} not found.")

    def create(self, who: Principal, name: str, description: str | None = None,
               is_public: bool = True, extra_specs: dict[str, str] | None = None) -> VolumeType:
        _check_specs(extra_specs or {})
        if len(extra_specs or {}) > MAX_METADATA_ITEMS:
            raise OverLimit(f"a volume type has at most {MAX_METADATA_ITEMS} extra specs")
        if self.repo.by_name(name) is not None:
            raise Conflict(f"volume type {name} already exists")
        return self.repo.add(VolumeType(id=str(uuid.uuid4()), name=name, description=description,
                                        is_public=is_public, extra_specs=dict(extra_specs or {})))

    def update(self, who: Principal, type_id: str, name: str | None = None, description: str | None = None,
               is_public: bool | None = None) -> VolumeType:
        """Cinder's ``PUT /types/{id}``: change the name, description or visibility (None: unchanged).

        The name stays unique (409). The default type keeps its name and stays public: volclone
        finds it by name for every create that names no type, and every project must see it.
        A rename takes the type's quota limits (``volumes_<name>``, ...) to the new name, in
        the same transaction, as Cinder's does.
        """
        if name is None and description is None and is_public is None:
            raise BadRequest("Specify volume type name, description, is_public or a combination thereof.")
        if name is not None and not name.strip():
            raise BadRequest("Volume type name can not be empty.")
        vtype = self.get(type_id)
        if vtype.name == DEFAULT_TYPE:
            if name is not None and name != DEFAULT_TYPE:
                raise BadRequest(f"the default volume type {DEFAULT_TYPE} cannot be renamed")
            if is_public is False:
                raise BadRequest(f"the default volume type {DEFAULT_TYPE} cannot be made private")
        if name is not None:
            taken = self.repo.by_name(name)
            if taken is not None and taken.id != type_id:
                raise Conflict(f"volume type {name} already exists")
        updated = self.repo.update(type_id, name, description, is_public, quota_keys=renamed_type_keys)
        if updated is None:
            raise NotFound(f"volume type {type_id} could not be found")
        return updated

    # -- type access (Cinder's os-volume-type-access) ---------------------------------------
    def access_list(self, who: Principal, type_id: str) -> builtins.list[str]:
        """The projects granted the private type ``type_id`` (a public type has no list: 404, as in Cinder)."""
        vtype = self.get(type_id, who)
        if vtype.is_public:
            raise NotFound("Access list not available for public volume types.")
        return self.repo.projects_of(type_id)

    def add_access(self, who: Principal, type_id: str, project_id: str) -> None:
        """Grant the type to ``project_id`` (409 if granted already)."""
        self.get(type_id, who)
        if self.repo.has_access(type_id, project_id):
            raise Conflict(f"Volume type access for {type_id} / {project_id} combination already exists.")
        self.repo.add_access(type_id, project_id)

    def remove_access(self, who: Principal, type_id: str, project_id: str) -> None:
        """Take the grant back (404 if there was none). Volumes made of the type meanwhile stay."""
        self.get(type_id, who)
        if not self.repo.remove_access(type_id, project_id):
            raise NotFound(f"Volume type access not found for {type_id} / {project_id} combination.")

    def delete(self, who: Principal, type_id: str) -> None:
        vtype = self.get(type_id)
        if vtype.name == DEFAULT_TYPE:
            raise BadRequest("the default volume type cannot be deleted")
        projects = sorted(p for p, t in self.project_defaults().items() if t == vtype.id)
        if projects:
            raise BadRequest(f"volume type {type_id} is the default type of project(s) {', '.join(projects)}: "
                             f"unset it there first (DELETE /v3/default-types/{{project_id}})")
        if self.repo.in_use(type_id):
            raise BadRequest(f"volume type {type_id} is in use by volumes")
        self.repo.delete(type_id, quota_keys=type_keys(vtype.name))

    def set_extra_specs(self, who: Principal, type_id: str, specs: dict[str, str]) -> dict[str, str]:
        vtype = self.get(type_id)
        _check_specs(specs)
        merged = {**vtype.extra_specs, **specs}
        if _backend_changes(vtype, merged) and self.repo.in_use(type_id):
            raise BadRequest(f"{BACKEND_KEY} of a type in use cannot change")
        if len(merged) > MAX_METADATA_ITEMS and len(merged) > len(vtype.extra_specs):
            raise OverLimit(f"a volume type has at most {MAX_METADATA_ITEMS} extra specs; this would make "
                            f"{len(merged)}")
        self.repo.set_extra_specs(type_id, merged)
        return merged

    def unset_extra_spec(self, who: Principal, type_id: str, key: str) -> None:
        vtype = self.get(type_id)
        if key not in vtype.extra_specs:
            raise NotFound(f"volume type {type_id} has no extra spec {key}")
        kept = {k: v for k, v in vtype.extra_specs.items() if k != key}
        if _backend_changes(vtype, kept) and self.repo.in_use(type_id):
            raise BadRequest(f"{BACKEND_KEY} of a type in use cannot change")
        self.repo.set_extra_specs(type_id, kept)


def _backend_changes(vtype: VolumeType, specs: dict[str, str]) -> bool:
    """Whether ``specs`` would send the type's volumes to another backend (either spelling of the key)."""
    return dataclasses.replace(vtype, extra_specs=specs).backend_name != vtype.backend_name


def _check_group_takes(group: Group, vtype: VolumeType) -> None:
    if group.status not in (GroupStatus.AVAILABLE, GroupStatus.IN_USE):
        raise BadRequest(f"Invalid group: Group {group.id} status must be available or in-use, but current status "
                         f"is: {group.status.value}.")
    if vtype.id not in group.volume_type_ids:
        raise BadRequest(f"Invalid input received: Invalid volume_type provided: {vtype.name} (the group {group.id} "
                         "does not take volumes of this type)")


class VolumeService:
    def __init__(self, volumes: Volumes, groups: Groups, types: VolumeTypeService, backends: Backends,
                 attachments: Attachments | None = None, quotas: QuotaService | None = None,
                 lock: Lock | None = None, snapshots: SnapshotService | None = None,
                 messages: MessageService | None = None) -> None:
        self.repo = volumes
        #: Where failed creates and extends are told to their project (user messages).
        self.messages = messages
        #: Cinder's snapshots: volumes made from them, and the check (or cascade) of a delete.
        self.snapshots = snapshots
        #: Held (``volume-<id>``) while a create or delete works on a volume: the reaper leaves it.
        self.lock: Lock = lock or (lambda name: contextlib.nullcontext())
        self.quotas = quotas
        self.groups = groups
        self.types = types
        self.backends = backends
        self.attachments = attachments
        #: The services' disabled and frozen states (os-services), where they are kept.
        self.states: ServiceStates | None = None
        #: The policy's check of the rules only the service can tell apply (a multiattach type's).
        self.authorize: Authorize | None = None

    def get(self, who: Principal, project_id: str, volume_id: str) -> Volume:
        """The project's volume; an admin's token finds any project's (Cinder's admin context
        reads every project's volumes, whichever project its URL names)."""
        vol = self.repo.get(volume_id)
        if vol is None or (vol.project_id != project_id and not who.is_admin):
            raise NotFound(f"volume {volume_id} could not be found")
        return vol

    def list(self, who: Principal, project_id: str, all_projects: bool = False,
             filters: dict[str, str] | None = None) -> list[Volume]:
        return self.repo.list(self._scope(who, project_id, all_projects), filters)

    @staticmethod
    def _scope(who: Principal, project_id: str, all_projects: bool) -> str | None:
        return None if (all_projects and who.is_admin) else project_id

    def _resolved(self, query: VolumeQuery) -> VolumeQuery:
        """``query`` with a ``volume_type`` filter (a type's name or id) as a ``volume_type_id`` one;
        a type that does not exist matches nothing."""
        equal = []
        for key, value in query.equal:
            if key == "volume_type":
                vtype = self.types.repo.get(str(value)) or self.types.repo.by_name(str(value))
                if vtype is None:
                    return dataclasses.replace(query, nothing=True)
                key, value = "volume_type_id", vtype.id
            equal.append((key, value))
        return dataclasses.replace(query, equal=tuple(equal))

    def page(self, who: Principal, project_id: str, query: VolumeQuery,
             all_projects: bool = False) -> builtins.list[Volume]:
        """The volumes ``query`` selects, one page of them (see :class:`VolumeQuery`). A marker is
        found as ``who`` sees volumes, as in Cinder: a user's own project only, an admin's anywhere;
        otherwise it is a 404."""
        if query.marker is not None:
            owner = self.repo.project_of(query.marker)
            if owner is None or not (who.is_admin or owner == project_id):
                raise NotFound(f"Volume {query.marker} could not be found.")
        return self.repo.page(self._scope(who, project_id, all_projects), self._resolved(query))

    def count(self, who: Principal, project_id: str, query: VolumeQuery, all_projects: bool = False) -> int:
        """How many volumes ``query``'s filters select, whatever the page (Cinder's ``with_count``)."""
        return self.repo.count(self._scope(who, project_id, all_projects), self._resolved(query))

    def summary(self, who: Principal, project_id: str, all_projects: bool = False) -> VolumeSummary:
        return self.repo.summary(self._scope(who, project_id, all_projects))

    def create(self, who: Principal, project_id: str, size: int | None, name: str | None = None,
               description: str | None = None, volume_type: str | None = None,
               metadata: dict[str, str] | None = None, snapshot_id: str | None = None,
               bootable: bool | None = None, group: Group | None = None) -> Volume:
        """A new empty volume, or (``snapshot_id``) one holding a snapshot's data, on the snapshot's
        backend, of the snapshot's size unless ``size`` is bigger, of the snapshot's volume's type
        unless another type of the same backend is named (Cinder's rules). With ``group`` (the
        caller found it) the volume is made in that group: the group must be ``available`` or
        ``in-use`` and allow the volume's type (400 otherwise)."""
        snap = None
        if snapshot_id is not None:
            if self.snapshots is None:
                raise CapabilityMissing("volumes can't be made from snapshots here")
            snap = self.snapshots.source_for_volume(who, project_id, snapshot_id)
            if size is None:
                size = snap.volume_size
            if size < snap.volume_size:
                raise BadRequest(f"Volume size '{size}'GB cannot be smaller than the snapshot size "
                                 f"{snap.volume_size}GB. They must be >= original snapshot size.")
        if size is None:
            raise BadRequest("size is required")
        if size < 1:
            raise BadRequest("size must be a positive number of GiB")
        _check_metadata_count({}, metadata or {})
        if snap is not None and volume_type is None:
            source = self.repo.get(snap.volume_id)
            vtype = self.types.get(source.volume_type_id) if source is not None else self.types.find(DEFAULT_TYPE)
        else:
            vtype = self.types.find(volume_type, who) if volume_type else self.types.default_for(project_id)
        self.types.refuse_if_encrypted(vtype)
        if is_multiattach(vtype) and self.authorize is not None:
            self.authorize(CREATE_RULE, who, project_id)
        if group is not None:
            _check_group_takes(group, vtype)
        backend_name = self.backends.name_for(vtype)
        if snap is not None and backend_name != snap.backend:
            raise BadRequest(f"Invalid input received: a volume from snapshot {snap.id} is made on its backend "
                             f"{snap.backend}; volume type {vtype.name} is of backend {backend_name}")
        driver = self.backends.get(backend_name)
        if driver.max_size_gib is not None and size > driver.max_size_gib:
            raise BadRequest(f"size {size} GiB is more than backend {backend_name} can hold "
                             f"({driver.max_size_gib} GiB)")
        vol = Volume(id=str(uuid.uuid4()), project_id=project_id, name=name, description=description,
                     size=size, status=VolumeStatus.CREATING, volume_type_id=vtype.id,
                     backend=backend_name, metadata=dict(metadata or {}),
                     snapshot_id=snap.id if snap is not None else None, bootable=bool(bootable),
                     multiattach=is_multiattach(vtype), user_id=who.user_id,
                     group_id=group.id if group is not None else None)
        if self.quotas is not None:  # 413 overLimit, and nothing made
            self.quotas.reserve(project_id, vol.id, [(vol.id, size, vol.volume_type_id)])
        # As Cinder's scheduler: no disabled service, and the capabilities the type asks for.
        if self.states is not None and not self.states.placeable(backend_name):
            return self._unplaceable(vol, f"every service of backend {backend_name} is disabled")
        if not satisfies(backend_capabilities(backend_name, driver), vtype.extra_specs):
            return self._unplaceable(vol, f"backend {backend_name} does not have the capabilities volume type "
                                          f"{vtype.name} asks for")
        with self.lock(volume_lock(vol.id)):
            return self._create(driver, vol)

    def _create(self, driver: VolumeDriver, vol: Volume) -> Volume:
        try:
            self.repo.add([vol])  # from here the volume counts itself
        finally:
            if self.quotas is not None:
                self.quotas.release(vol.id)
        try:
            if vol.snapshot_id is not None and self.snapshots is not None:
                snap = self.snapshots.repo.get(vol.snapshot_id)
                if snap is None:
                    raise NotFound(f"Snapshot {vol.snapshot_id} could not be found.")
                self.snapshots.make_volume(snap, vol.id, vol.size)
            else:
                driver.create_volume(vol.id, vol.size)
        except Exception as exc:
            # The driver made nothing (its create is all or nothing): no row is left either,
            # or every failed try (a full pool, say) would leave an ``error`` volume behind.
            log.exception("creating volume %s failed", vol.id)
            self.repo.delete(vol.id)
            self._tell(vol.project_id, vol.id, Action.CREATE_VOLUME_FROM_BACKEND,
                       Detail.DRIVER_FAILED_CREATE, exc)
            raise
        # Only from creating: a create slower than VOLCLONE_STALE_AFTER_S may have been given
        # up by the reaper meanwhile, and then what the driver just made must go too.
        if not self.repo.set_status([vol.id], VolumeStatus.AVAILABLE, only_from=_CREATING):
            self._undo_late_create(driver, vol.id)
        return self.repo.get(vol.id) or dataclasses.replace(vol, status=VolumeStatus.AVAILABLE)

    def _unplaceable(self, vol: Volume, why: str) -> Volume:
        """Cinder's "no valid backend": the type asks for capabilities its backend lacks, or every
        service of the backend is disabled. As in Cinder the create is accepted and the volume is
        ``error`` (it counts against the quota until deleted, as Cinder's does) with a user
        message, ``schedule allocate volume``; the backend is never asked, so its delete has
        nothing to remove."""
        log.warning("volume %s: no valid backend: %s", vol.id, why)
        failed = dataclasses.replace(vol, status=VolumeStatus.ERROR)
        try:
            self.repo.add([failed])
        finally:
            if self.quotas is not None:
                self.quotas.release(vol.id)
        if self.messages is not None:
            self.messages.record(vol.project_id, Resource.VOLUME, vol.id, Action.SCHEDULE_ALLOCATE_VOLUME,
                                 Detail.NO_BACKEND_AVAILABLE)
        return self.repo.get(vol.id) or failed

    @staticmethod
    def _undo_late_create(driver: VolumeDriver, volume_id: str) -> None:
        try:
            driver.delete_volume(volume_id)
        except Exception:
            log.exception("volume %s was given up while its create ran late; what the backend made of it "
                          "could not be removed", volume_id)
        raise BackendError(f"creating volume {volume_id} took longer than the service waits for a backend; "
                           "it was given up. Try again")

    def update(self, who: Principal, project_id: str, volume_id: str,
               **fields: str | dict[str, str] | None) -> Volume:
        vol = self.get(who, project_id, volume_id)
        metadata = fields.get("metadata")
        if isinstance(metadata, dict):
            _check_metadata_count(vol.metadata, metadata)
        updated = self.repo.update(volume_id, **fields)
        assert updated is not None
        return updated

    def set_metadata(self, who: Principal, project_id: str, volume_id: str, metadata: dict[str, str],
                     replace: bool = False) -> dict[str, str]:
        vol = self.get(who, project_id, volume_id)
        merged = dict(metadata) if replace else {**vol.metadata, **metadata}
        _check_metadata_count(vol.metadata, merged)
        self.repo.update(volume_id, metadata=merged)
        return merged

    def delete_metadata(self, who: Principal, project_id: str, volume_id: str, key: str) -> None:
        vol = self.get(who, project_id, volume_id)
        if key not in vol.metadata:
            raise NotFound(f"volume {volume_id} has no metadata key {key}")
        self.repo.update(volume_id, metadata={k: v for k, v in vol.metadata.items() if k != key})

    def flatten(self, who: Principal, project_id: str, volume_id: str) -> bool:
        """Make a volume independent of the layers it shares; returns whether anything changed."""
        vol = self.get(who, project_id, volume_id)
        if vol.status not in CLONEABLE:
            raise InvalidVolume(f"volume {volume_id} is {vol.status.value}; only available or in-use "
                                "volumes can be flattened")
        if self.groups.grouped(volume_id):
            raise InvalidVolume(f"volume {volume_id} is being cloned; flatten it when the clone ends")
        driver = self.backends.get(vol.backend)
        if not isinstance(driver, Flattenable):
            raise CapabilityMissing(f"backend {vol.backend} cannot flatten volumes")
        return driver.flatten(volume_id)

    # -- volume actions ------------------------------------------------------------
    def extend(self, who: Principal, project_id: str, volume_id: str, new_size: int,
               attached: bool = False) -> Volume:
        """``os-extend``: grow an ``available`` volume (or, with ``attached``, an ``in-use`` one:
        Cinder's 3.42) to ``new_size`` GiB. Checks in Cinder's order: the size (400), the status
        (400), then the ``gigabytes`` quota (413); nothing changes unless all pass.

        The volume is ``extending`` while its backend grows it, then ``available`` or ``in-use``
        again (its status follows its attachments); if the backend fails, ``error_extending``
        with its old size, as in Cinder. Unlike Cinder's, the call returns once the backend did.
        """
        vol = self.get(who, project_id, volume_id)
        if new_size <= vol.size:
            raise BadRequest(f"New size for extend must be greater than current size. (current: {vol.size}, "
                             f"extended: {new_size}).")
        if self.states is not None:
            self.states.check_not_frozen(vol.backend, f"volume {vol.id}")
        expected = _IN_USE if attached else _AVAILABLE
        if vol.status not in expected:
            raise InvalidVolume(f"Volume {volume_id} status must be '{next(iter(expected)).value}' to extend, "
                                f"currently {vol.status.value}.")
        driver = self.backends.get(vol.backend)
        if not isinstance(driver, Extendable):
            raise CapabilityMissing(f"backend {vol.backend} cannot extend volumes")
        if driver.max_size_gib is not None and new_size > driver.max_size_gib:
            raise BadRequest(f"size {new_size} GiB is more than backend {vol.backend} can hold "
                             f"({driver.max_size_gib} GiB)")
        with self.lock(volume_lock(volume_id)):
            if self.quotas is not None:
                claimed = self.quotas.grow(vol.project_id, volume_id, new_size - vol.size, new_size,
                                           VolumeStatus.EXTENDING, expected)
            else:
                claimed = bool(self.repo.set_status([volume_id], VolumeStatus.EXTENDING, only_from=expected))
                if claimed:
                    self.repo.update(volume_id, size=new_size)
            if not claimed:
                raise InvalidVolume(f"volume {volume_id} changed state; try again")
            try:
                driver.extend_volume(volume_id, new_size)
            except Exception as exc:
                log.exception("extending volume %s to %d GiB failed", volume_id, new_size)
                self.repo.update(volume_id, status=VolumeStatus.ERROR_EXTENDING, size=vol.size)
                self._tell(vol.project_id, volume_id, Action.EXTEND_VOLUME, Detail.DRIVER_FAILED_EXTEND, exc)
                raise
            self._settle(volume_id, _EXTENDING)
        extended = self.repo.get(volume_id)
        assert extended is not None
        return extended

    def _tell(self, project_id: str, volume_id: str, action: Code, detail: Code, exc: BaseException) -> None:
        """A user message for the project: ``action`` on the volume failed."""
        if self.messages is not None:
            self.messages.record(project_id, Resource.VOLUME, volume_id, action, detail_for(exc, detail))

    def _settle(self, volume_id: str, from_statuses: frozenset[VolumeStatus]) -> None:
        """Out of a status of this service's own: the one the volume's attachments give it."""
        if self.attachments is not None:
            self.attachments.sync_status(volume_id, also_from=from_statuses)
        else:
            self.repo.set_status([volume_id], VolumeStatus.AVAILABLE, only_from=from_statuses)

    def set_bootable(self, who: Principal, project_id: str, volume_id: str, bootable: bool) -> Volume:
        """``os-set_bootable``: any status but ``maintenance``, as Cinder's volume update."""
        vol = self.get(who, project_id, volume_id)
        if vol.status is VolumeStatus.MAINTENANCE:
            raise InvalidVolume(f"volume {volume_id} is in maintenance; it can't be updated")
        updated = self.repo.update(volume_id, bootable=bootable)
        assert updated is not None
        return updated

    def update_readonly_flag(self, who: Principal, project_id: str, volume_id: str, readonly: bool) -> Volume:
        """``os-update_readonly_flag``: only an ``available`` volume (Cinder's rule). A read-only
        volume is attached read-only from then on."""
        vol = self.get(who, project_id, volume_id)
        if vol.status is not VolumeStatus.AVAILABLE:
            raise InvalidVolume(f"Volume {volume_id} status must be available to update readonly flag, "
                                f"but the status is {vol.status.value}.")
        updated = self.repo.update(volume_id, readonly=readonly)
        assert updated is not None
        return updated

    def delete(self, who: Principal, project_id: str, volume_id: str, force: bool = False,
               cascade: bool = False) -> None:
        """Delete an ``available``, ``error``, ``error_deleting`` or ``error_extending`` volume;
        ``force`` (``os-force_delete``) takes any status but ``deleting``. Either way a volume
        with attachments, or one a clone flow uses, is refused (400), as in Cinder; so is one
        with snapshots, unless ``cascade`` (``DELETE ...?cascade=true``) deletes them first."""
        vol = self.get(who, project_id, volume_id)
        allowed = _FORCE_DELETABLE if force else DELETABLE
        if vol.status not in allowed:
            raise InvalidVolume(f"volume {volume_id} is {vol.status.value}; it must be "
                                f"{', '.join(sorted(s.value for s in allowed))}")
        if self.states is not None:
            self.states.check_not_frozen(vol.backend, f"volume {vol.id}")
        driver = self.backends.get(vol.backend)  # an unavailable backend: 503 and nothing changes
        with self.lock(volume_lock(volume_id)):
            self._delete(driver, vol, allowed, cascade)

    def _delete(self, driver: VolumeDriver, vol: Volume, allowed: frozenset[VolumeStatus] = DELETABLE,
                cascade: bool = False) -> None:
        volume_id = vol.id
        # Claim first, check second: a clone flow groups its sources first and checks their
        # status second, so one of the two always sees the other.
        if not self.repo.set_status([volume_id], VolumeStatus.DELETING, only_from=allowed):
            raise InvalidVolume(f"volume {volume_id} changed state; try again")
        # An attachment records itself in one transaction that requires an attachable status,
        # so one made before our claim is seen here, and none can be made after it.
        if self.attachments is not None and self.attachments.list(volume_id=volume_id):
            self.attachments.sync_status(volume_id, also_from=frozenset({VolumeStatus.DELETING}))
            raise InvalidVolume(f"volume {volume_id} is attached; delete its attachments first")
        if self.groups.grouped(volume_id):
            self.repo.set_status([volume_id], vol.status, only_from=frozenset({VolumeStatus.DELETING}))
            raise InvalidVolume(f"volume {volume_id} is being cloned; delete it when the clone ends")
        if self.snapshots is not None:
            try:
                self.snapshots.delete_all_of(vol, cascade)
            except Exception:
                self.repo.set_status([volume_id], vol.status, only_from=frozenset({VolumeStatus.DELETING}))
                raise
        try:
            driver.delete_volume(volume_id)
        except Exception:
            log.exception("deleting volume %s failed", volume_id)
            self.repo.update(volume_id, status=VolumeStatus.ERROR_DELETING)
            raise
        self.repo.delete(volume_id)
