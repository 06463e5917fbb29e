"""Request bodies. Unknown fields and wrong types are 400s, never silently dropped.

Free text is capped as Cinder caps it: names, descriptions, metadata and extra-spec keys and
values at 255 characters, and at most :data:`MAX_METADATA_ITEMS` items in one metadata or
extra-specs object. A body over a cap is a 400 and changes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from volclone.service.quotas import MAX_LIMIT, PER_TYPE, RESOURCES, UNLIMITED
from volclone.service.volumes import MAX_METADATA_ITEMS

#: Cinder's largest size (``cinder.api.validation.parameter_types.volume_size``: DB_MAX_INT GiB).
MAX_SIZE_GIB = 0x7FFFFFFF
#: Cinder's cap on names, descriptions, metadata keys and values.
MAX_TEXT = 255
#: The longest attach connector, as JSON. os-brick's connectors (host, ip, initiator, wwpns,
#: nqn, ...) are a few hundred bytes; this leaves room for many FC ports.
MAX_CONNECTOR_BYTES = 16 * 1024

Name = Annotated[StrictStr, StringConstraints(max_length=MAX_TEXT)]
Text = Annotated[StrictStr, StringConstraints(max_length=MAX_TEXT)]
Key = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_TEXT)]
#: Metadata and extra specs: string keys and values of at most 255 characters, 128 items at most.
Pairs = Annotated[dict[Key, Text], Field(max_length=MAX_METADATA_ITEMS)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=False)


# -- volume types -------------------------------------------------------------
class VolumeTypeCreate(Strict):
    name: StrictStr = Field(min_length=1, max_length=MAX_TEXT)
    description: Text | None = None
    os_volume_type_access_is_public: StrictBool = Field(True, alias="os-volume-type-access:is_public")
    is_public: StrictBool | None = None
    extra_specs: Pairs = Field(default_factory=dict)


class VolumeTypeCreateBody(Strict):
    volume_type: VolumeTypeCreate


class VolumeTypeUpdate(Strict):
    """``PUT /types/{id}``: what to change; a field left out (or null) stays.

    Cinder's schema takes ``is_public`` only; openstacksdk (so ``openstack volume type set
    --private``) sends ``os-volume-type-access:is_public``, which volclone takes too.
    """

    name: Name | None = None
    description: Text | None = None
    is_public: StrictBool | None = None
    os_volume_type_access_is_public: StrictBool | None = Field(None, alias="os-volume-type-access:is_public")

    @model_validator(mode="after")
    def _one_visibility(self) -> VolumeTypeUpdate:
        both = (self.is_public, self.os_volume_type_access_is_public)
        if None not in both and both[0] != both[1]:
            raise ValueError("is_public and os-volume-type-access:is_public disagree")
        return self

    @property
    def public(self) -> bool | None:
        return self.is_public if self.is_public is not None else self.os_volume_type_access_is_public


class VolumeTypeUpdateBody(Strict):
    volume_type: VolumeTypeUpdate


class ExtraSpecsBody(Strict):
    extra_specs: Pairs


class ProjectAccess(Strict):
    project: StrictStr = Field(min_length=1, max_length=MAX_TEXT)


class OneAction(Strict):
    """An ``/action`` body: exactly one of the actions its fields name (by their aliases)."""

    @model_validator(mode="before")
    @classmethod
    def _one_known_action(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = sorted(f.alias for f in cls.model_fields.values() if f.alias)
            unknown = sorted(set(data) - set(known))
            if unknown:
                raise ValueError(f"there is no action {', '.join(unknown)}; volclone knows {', '.join(known)}")
            if len(data) != 1:
                raise ValueError("the body must name exactly one action")
        return data


class TypeActionBody(OneAction):
    """``POST /types/{id}/action``: exactly one of Cinder's type-access actions."""

    add_project_access: ProjectAccess | None = Field(None, alias="addProjectAccess")
    remove_project_access: ProjectAccess | None = Field(None, alias="removeProjectAccess")


# -- volumes ------------------------------------------------------------------
#: Fields of Cinder's volume-create body that volclone does not serve: null (as openstackclient
#: and cinderclient send them) means absent; a value is a 400 naming the field. Images and
#: backups are other services' (Glance's, cinder-backup's), which volclone does not have.
UNSERVED_CREATE_FIELDS = ("imageRef", "image_id", "backup_id")
#: Fields volclone does not serve yet.
UNSUPPORTED_CREATE_FIELDS = ("consistencygroup_id",)
#: Scheduler hints that name volumes (Cinder's schema: a UUID, or a list of them), and one that
#: names a server.
VOLUME_HINTS = ("same_host", "different_host")
INSTANCE_HINT = "local_to_instance"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _UUID.match(value) is not None


def check_scheduler_hints(where: str, hints: dict[str, Any] | None) -> None:
    """Cinder's shape of scheduler hints: ``same_host`` / ``different_host`` a volume id or a
    list of them, ``local_to_instance`` a server id, ``query`` a string or an object; others
    pass. volclone has one scheduler per backend, so valid hints change nothing."""
    for key, value in (hints or {}).items():
        if key in VOLUME_HINTS:
            ids = value if isinstance(value, list) else [value]
            if not ids or not all(_is_uuid(v) for v in ids):
                raise ValueError(f"{where}: {key} must be a volume id (a UUID) or a list of them")
        elif key == INSTANCE_HINT and not _is_uuid(value):
            raise ValueError(f"{where}: {key} must be a server id (a UUID)")
        elif key == "query" and not isinstance(value, str | dict):
            raise ValueError(f"{where}: query must be a string or an object")


class VolumeCreate(Strict):
    """Cinder's whole volume-create body (cinder/api/schemas/volumes.py, up to 3.53). Unknown
    fields are kept aside (``model_extra``): below 3.53 Cinder ignored them, from 3.53 they are a
    400; the route decides, as only it knows the microversion."""

    model_config = ConfigDict(extra="allow", populate_by_name=False)

    size: StrictInt | None = Field(None, ge=1, le=MAX_SIZE_GIB)
    name: Name | None = None
    description: Text | None = None
    display_name: Name | None = None
    display_description: Text | None = None
    volume_type: Name | None = None
    metadata: Pairs | None = None
    availability_zone: Name | None = None
    multiattach: StrictBool | None = None
    bootable: StrictBool | None = None
    scheduler_hints: dict[StrictStr, Any] | None = None
    snapshot_id: Name | None = None
    source_volid: Name | None = None
    consistencygroup_id: Name | None = None
    imageRef: Name | None = None  # Cinder's spelling
    image_id: Name | None = None
    backup_id: Name | None = None
    group_id: Name | None = None

    @model_validator(mode="after")
    def _supported(self) -> VolumeCreate:
        unserved = [f for f in UNSERVED_CREATE_FIELDS if getattr(self, f) is not None]
        if unserved:
            raise ValueError(f"{', '.join(unserved)}: not served; volclone has no image or backup service. It "
                             "creates empty volumes, and volumes from snapshots (snapshot_id) and from volumes "
                             "(source_volid); leave it out or send null")
        given = [f for f in UNSUPPORTED_CREATE_FIELDS if getattr(self, f) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: not supported yet (leave it out or send null)")
        if self.multiattach:
            # Cinder's rule since 3.50: a volume is multiattach through its type only.
            raise ValueError("multiattach: a volume is multiattach through its volume type only (Cinder's rule "
                             "since 3.50): use a type with the extra spec multiattach=\"<is> True\" (leave "
                             "multiattach out, or send false or null)")
        if self.snapshot_id is not None and self.source_volid is not None:
            raise ValueError("give snapshot_id or source_volid, not both")
        if self.size is None and self.snapshot_id is None and self.source_volid is None:
            raise ValueError("size is required (it may be left out only with snapshot_id or source_volid)")
        check_scheduler_hints("scheduler_hints", self.scheduler_hints)
        return self


class VolumeCreateBody(Strict):
    volume: VolumeCreate
    scheduler_hints: dict[StrictStr, Any] | None = Field(None, alias="OS-SCH-HNT:scheduler_hints")

    @model_validator(mode="after")
    def _hints(self) -> VolumeCreateBody:
        check_scheduler_hints("OS-SCH-HNT:scheduler_hints", self.scheduler_hints)
        return self


class VolumeUpdate(Strict):
    name: Name | None = None
    description: Text | None = None
    display_name: Name | None = None
    display_description: Text | None = None
    metadata: Pairs | None = None


class VolumeUpdateBody(Strict):
    volume: VolumeUpdate


class MetadataBody(Strict):
    metadata: Pairs


class MetaItemBody(Strict):
    meta: Pairs


# -- clone-volumes (hyphenated keys, exactly the spec's body) ----------------
class CloneVolumes(Strict):
    display_name: Name | None = Field(None, alias="display-name")
    description: Text | None = None
    # ids: an odd one is a 404, as the spec's tests ask. minItems/uniqueItems only document what the
    # service checks with its own messages (at most VOLCLONE_MAX_CLONE_VOLUMES).
    volumes: list[StrictStr] = Field(json_schema_extra={"minItems": 1, "uniqueItems": True})
    target_volume_type_id: StrictStr | None = Field(None, alias="target-volume-type-id")


class CloneVolumesBody(Strict):
    clone_volumes: CloneVolumes = Field(alias="clone-volumes")


class CancelOptions(Strict):
    """``{"cancel": {}}`` takes no options (an option it does not know is a 400)."""


class CloneTaskActionBody(OneAction):
    """``POST /clone-volumes/{task_id}/action``: exactly one action (today: ``cancel``)."""

    cancel: CancelOptions | None = Field(None, alias="cancel")


class RevertClone(Strict):
    task_id: StrictStr = Field(min_length=1, max_length=MAX_TEXT,
                               description="a clone task that ended SUCCESS: its sources get its clones' data back")


class RevertBody(Strict):
    """``POST clone-volumes/revert`` (a volclone extension): put a set's sources back to its clones."""

    revert: RevertClone


# -- attachments (Cinder v3, microversion 3.27) and the older volume actions --------
def _small_connector(connector: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(connector)) > MAX_CONNECTOR_BYTES:
        raise ValueError(f"the connector is longer than {MAX_CONNECTOR_BYTES} bytes as JSON")
    return connector


#: A connector describes the consumer (host, ip, initiator, mountpoint, mode...): any JSON object
#: of at most :data:`MAX_CONNECTOR_BYTES`.
Connector = Annotated[dict[StrictStr, Any], AfterValidator(_small_connector)]


class AttachmentCreate(Strict):
    volume_uuid: StrictStr = Field(min_length=1, max_length=36)
    instance_uuid: StrictStr | None = Field(None, max_length=255)
    connector: Connector | None = None
    mode: Literal["rw", "ro"] | None = None


class AttachmentCreateBody(Strict):
    attachment: AttachmentCreate


class AttachmentUpdate(Strict):
    connector: Connector | None = None


class AttachmentUpdateBody(Strict):
    attachment: AttachmentUpdate


class AttachmentActionBody(Strict):
    """``POST /attachments/{id}/action``: ``{"os-complete": <anything, e.g. the id>}``."""

    os_complete: Any = Field(alias="os-complete")


class OsInitializeConnection(Strict):
    connector: Connector


class OsAttach(Strict):
    instance_uuid: StrictStr | None = Field(None, max_length=255)
    mountpoint: StrictStr = Field(min_length=1, max_length=255)
    mode: Literal["rw", "ro"] | None = None


class OsDetach(Strict):
    attachment_id: StrictStr | None = Field(None, max_length=36)


class OsTerminateConnection(Strict):
    connector: Connector


class Flatten(Strict):
    """``{"os-flatten": {}}``: no options."""


#: Cinder's ``parameter_types.boolean``: JSON true/false, or one of these strings (any case).
_TRUE = frozenset({"true", "1", "on", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "off", "no", "n", "f"})


def _cinder_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean: give true or false")


def _cinder_size(value: Any) -> int:
    """Cinder's ``parameter_types.volume_size``: an integer, or a string of digits, 1 to 2^31 - 1."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE_GIB:
        raise ValueError(f"new_size must be a whole number of GiB from 1 to {MAX_SIZE_GIB}, not {value!r}")
    return value


CinderBool = Annotated[Any, AfterValidator(_cinder_bool)]
CinderSize = Annotated[Any, AfterValidator(_cinder_size)]
#: The body of an action that takes no options: Cinder's clients send null, some ``{}``;
#: Cinder reads neither.
NoOptions = dict[StrictStr, Any] | None


class OsExtend(Strict):
    new_size: CinderSize = Field(json_schema_extra={"type": ["integer", "string"], "pattern": "^[0-9]+$"})


class OsSetBootable(Strict):
    bootable: CinderBool = Field(json_schema_extra={"type": ["boolean", "string"]})


class OsUpdateReadonlyFlag(Strict):
    readonly: CinderBool = Field(json_schema_extra={"type": ["boolean", "string"]})


class OsResetStatus(Strict):
    """At least one of them (400 otherwise), each one of Cinder's values."""

    status: StrictStr | None = Field(None, max_length=255)
    attach_status: StrictStr | None = Field(None, max_length=255)
    migration_status: StrictStr | None = Field(None, max_length=255)


class OsRevert(Strict):
    """``{"revert": {"snapshot_id": ...}}`` (3.40): the volume's latest snapshot."""

    snapshot_id: StrictStr = Field(min_length=1, max_length=255)


class OsRetype(Strict):
    """``{"os-retype": {"new_type": name-or-id, "migration_policy": "never" | "on-demand"}}``."""

    new_type: StrictStr = Field(min_length=1, max_length=255)
    migration_policy: Literal["never", "on-demand"] | None = None
class OsExtendVolumeCompletion(Strict):
    """``{"os-extend_volume_completion": {"error": false}}`` (3.71): Nova's answer to an extend."""

    error: CinderBool = Field(json_schema_extra={"type": ["boolean", "string"]})


class VolumeActionBody(OneAction):
    """``POST /volumes/{id}/action``: exactly one action."""

    # Cinder's action name is ``revert`` (its clients send {"revert": {"snapshot_id": ...}}).
    os_revert: OsRevert | None = Field(None, alias="revert")
    os_initialize_connection: OsInitializeConnection | None = Field(None, alias="os-initialize_connection")
    os_attach: OsAttach | None = Field(None, alias="os-attach")
    os_detach: OsDetach | None = Field(None, alias="os-detach")
    os_terminate_connection: OsTerminateConnection | None = Field(None, alias="os-terminate_connection")
    os_flatten: Flatten | None = Field(None, alias="os-flatten")
    os_extend: OsExtend | None = Field(None, alias="os-extend")
    os_retype: OsRetype | None = Field(None, alias="os-retype")
    os_set_bootable: OsSetBootable | None = Field(None, alias="os-set_bootable")
    os_update_readonly_flag: OsUpdateReadonlyFlag | None = Field(None, alias="os-update_readonly_flag")
    os_reset_status: OsResetStatus | None = Field(None, alias="os-reset_status")
    os_force_delete: NoOptions = Field(None, alias="os-force_delete")
    os_reserve: NoOptions = Field(None, alias="os-reserve")
    os_unreserve: NoOptions = Field(None, alias="os-unreserve")
    os_begin_detaching: NoOptions = Field(None, alias="os-begin_detaching")
    os_roll_detaching: NoOptions = Field(None, alias="os-roll_detaching")
    os_extend_volume_completion: OsExtendVolumeCompletion | None = Field(None, alias="os-extend_volume_completion")


# -- quotas ------------------------------------------------------------------------
#: A limit: -1 (unlimited) or 0 up to Cinder's largest (``db.MAX_INT``).
QuotaLimit = Annotated[StrictInt, Field(ge=UNLIMITED, le=MAX_LIMIT)]


class QuotaSetUpdate(Strict):
    """The limits to change; the others stay. ``tenant_id`` and ``id`` are ignored, as Cinder
    ignores them (python-cinderclient sends ``tenant_id``). A per-type key (``volumes_<type>``,
    ``gigabytes_<type>``, ``snapshots_<type>``) is checked here for its value and by the service
    for its type (400 "Bad key(s)" when no such type exists)."""

    model_config = ConfigDict(extra="allow", populate_by_name=False)

    volumes: QuotaLimit | None = None
    gigabytes: QuotaLimit | None = None
    snapshots: QuotaLimit | None = None
    backups: QuotaLimit | None = None
    backup_gigabytes: QuotaLimit | None = None
    groups: QuotaLimit | None = None
    per_volume_gigabytes: QuotaLimit | None = None
    tenant_id: StrictStr | None = None
    id: StrictStr | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> QuotaSetUpdate:
        nulls = sorted(r for r in self.model_fields_set & set(RESOURCES) if getattr(self, r) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)}: a limit must be a number (-1: unlimited), not null")
        extra = self.model_extra or {}
        bad = sorted(k for k in extra if not k.startswith(tuple(f"{r}_" for r in PER_TYPE)))
        if bad:
            raise ValueError(f"Bad key(s) in quota set: {', '.join(bad)}")
        for key, value in extra.items():
            if isinstance(value, bool) or not isinstance(value, int) or not UNLIMITED <= value <= MAX_LIMIT:
                raise ValueError(f"{key}: a limit must be an integer from {UNLIMITED} (unlimited) to {MAX_LIMIT}, "
                                 f"not {value!r}")
        return self

    def limits(self) -> dict[str, int]:
        return {**{r: int(getattr(self, r)) for r in RESOURCES if r in self.model_fields_set},
                **{k: int(v) for k, v in (self.model_extra or {}).items()}}


class QuotaSetUpdateBody(Strict):
    """``{"quota_set": {"volumes": 20, "gigabytes": -1}}``."""

    quota_set: QuotaSetUpdate
