"""``/openapi.json``: the document of what the server does, made honest in one place.

FastAPI derives the paths, the request bodies and the parameters a handler names from the
routes. :func:`document` adds the rest after generation, so the routers stay plain:

- the path parameters a route's URL has but its handler does not name (``/types``' ``project_id``);
- the ``X-Auth-Token`` security scheme, and the ``OpenStack-API-Version`` request and response
  headers, on every ``/v3/{project_id}/...`` operation;
- the success body of every operation (:data:`SUCCESS`, one entry per operation: a new route
  without an entry fails the build of the document, and so its test);
- the faults each operation can answer, in the OpenStack fault format
  (``{"badRequest": {"code": 400, "message": "..."}}``); FastAPI's 422 goes, validation errors are 400s;
- the list filters of the routes that read ``request.query_params`` themselves (:data:`QUERY`);
- links from each create to the operations on what it made (:data:`LINKS`).

The test command runs schemathesis against the document of a real server: every answer it gets
must be documented, status, headers and body.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.routing import Route, compile_path

from volclone.api.deps import TOKEN_HEADER
from volclone.api.faults import FAULT_NAMES
from volclone.api.versions import HEADER, MAX_VERSION, MIN_VERSION, SERVICE, fmt
from volclone.domain import AttachMode, AttachStatus, TaskState, VolumeStatus

Schema = dict[str, Any]

PROJECT_PREFIX = "/v3/{project_id}"
SECURITY_SCHEME = "keystoneToken"
_REF = "#/components/schemas/{model}"


# -- the bodies the server answers (see views.py, whose dicts these describe) --------------
class Out(BaseModel):
    """A response object: every field is always there, and nothing else is."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)


class Link(Out):
    rel: str
    href: str


class VersionLink(Out):
    rel: str
    href: str
    type: str = Field("text/html", description="given on the describedby link only")


class MediaType(Out):
    base: str
    type: str


class Version(Out):
    id: str
    status: Literal["CURRENT"]
    version: str = Field(description="the newest microversion served")
    min_version: str
    updated: str
    links: list[VersionLink]
    media_types: list[MediaType] = Field(alias="media-types")


class Versions(Out):
    versions: list[Version]


class VolumeType(Out):
    """A volume type. An update's answer has neither optional field; a create's only the first."""

    id: str
    name: str
    description: str | None
    is_public: bool
    extra_specs: dict[str, str] = Field(description="users who are not admins see the user-visible ones only")
    os_volume_type_access_is_public: bool = Field(
        False, alias="os-volume-type-access:is_public",
        description="for admins and project members (rule volume_extension:volume_type_access)")
    qos_specs_id: str | None = Field(None, description="the id of its QoS spec; for admins (rule "
                                     "volume_extension:access_types_qos_specs_id)")


class TypeAccess(Out):
    volume_type_id: str
    project_id: str = Field(description="a project granted the private type")


class QosSpecs(Out):
    id: str
    name: str
    consumer: str = Field(description="front-end, back-end or both: who enforces the keys")
    specs: dict[str, str] = Field(description="Cinder's keys (total_iops_sec, read_bytes_sec, ...) and any others")


class QosAssociation(Out):
    association_type: str = Field(description="volume_type")
    name: str
    id: str


class VolumeAttachment(Out):
    """A completed attachment, inside its volume's record."""

    id: str = Field(description="the volume's id, as Cinder gives it")
    attachment_id: str
    volume_id: str
    server_id: str | None
    host_name: str | None
    device: str | None
    attached_at: str | None


class VolumeSummary(Out):
    id: str
    name: str | None
    links: list[Link]


class Volume(Out):
    """A volume. Fields with a default are there only from a microversion, or for some callers
    (the policy rule named), as Cinder gives them; the attribute fields (``os-vol-...``) are in
    shows and detailed lists only, not in a create's or an update's answer."""

    id: str
    name: str | None
    description: str | None
    size: int = Field(description="GiB")
    status: VolumeStatus
    volume_type: str | None = Field(description="the type's name")
    metadata: dict[str, str]
    availability_zone: str
    bootable: Literal["true", "false"]
    encrypted: bool
    multiattach: bool
    snapshot_id: str | None = Field(description="the snapshot the volume was made from (snapshot_id in the create)")
    attachments: list[VolumeAttachment]
    source_volid: str | None = Field(description="for a clone: the volume it was cloned from")
    consistencygroup_id: None
    replication_status: str
    user_id: str | None = Field(description="the user who made it (null: made before volclone recorded it)")
    created_at: str | None
    updated_at: str | None
    links: list[Link]
    migration_status: Literal["migrating", "error", "success", "completing", "starting"] | None = Field(
        None, description="admins only; a retype onto another backend sets it (migrating, completing, then "
                          "success or error), and so does os-reset_status (null is Cinder's none)")
    group_id: str | None = Field(None, description="from microversion 3.13: the generic group it is in")
    provider_id: None = Field(None, description="from microversion 3.21, admins only")
    shared_targets: bool = Field(False, description="from microversion 3.48")
    service_uuid: None = Field(None, description="from microversion 3.48")
    cluster_name: None = Field(None, description="from microversion 3.61, admins only")
    volume_type_id: str = Field("", description="from microversion 3.63")
    consumes_quota: bool = Field(True, description="from microversion 3.65")
    tenant_id: str = Field("", alias="os-vol-tenant-attr:tenant_id",
                           description="rule volume_extension:volume_tenant_attribute (admins, project readers)")
    host: str = Field("", alias="os-vol-host-attr:host",
                      description="rule volume_extension:volume_host_attribute (admins)")
    migstat: str | None = Field(None, alias="os-vol-mig-status-attr:migstat",
                                description="rule volume_extension:volume_mig_status_attribute (admins): "
                                            "the volume's migration_status")
    name_id: None = Field(None, alias="os-vol-mig-status-attr:name_id",
                          description="rule volume_extension:volume_mig_status_attribute (admins)")


class AttachmentSummary(Out):
    id: str
    status: AttachStatus
    instance: str | None
    volume_id: str


class Attachment(AttachmentSummary):
    attached_at: str = Field(description='ISO 8601, or "" while not attached yet')
    detached_at: Literal[""]
    attach_mode: AttachMode
    connection_info: dict[str, Any] | None = Field(description="how to reach the volume, e.g. over NBD")


class TaskUri(Out):
    task_uri: str = Field(description="the get_progress URL of the clone task")


class CloneStarted(Out):
    clone_volumes: TaskUri = Field(alias="clone-volumes")


class PlanType(Out):
    id: str
    name: str


class PlanEstimate(Out):
    """The copying's time, no better than its rate: never a promise (docs/dry-run.md)."""

    copy_seconds: float = Field(ge=0, description="bytes_to_copy / bytes_per_second, two significant digits; "
                                                  "0 when nothing is copied")
    bytes_per_second: int | None = Field(description="the rate assumed; null when nothing is copied")
    rate_from: Literal["default"] | None = Field(description="default: the documented rate of the method")


class PlannedClone(Out):
    """One clone a real request with this body would make (an extension of the spec)."""

    source_id: str
    name: str | None = Field(description="exactly the name a real request gives; null when the name is made of "
                                         "the clone's id, which only the real request picks")
    name_pattern: str | None = Field(description='"volume-{clone_id}" when name is null, else null')
    size: int = Field(description="GiB")
    volume_type: PlanType
    backend: str
    method: Literal["linked", "reflink", "full", "rbd-cow", "rbd-deep-copy", "cross-backend-copy"] = Field(
        description="how the clone is made; linked, reflink and rbd-cow share the data and copy nothing")
    bytes_to_copy: int = Field(ge=0, description="the data the source holds now, for the methods that copy; else 0")
    estimate: PlanEstimate
    consistency_method: str = Field(description="qmp-transaction (local pool) or rbd-group-snapshot")


class PlanTotals(Out):
    volumes: int
    gigabytes: int
    bytes_to_copy: int = Field(ge=0)
    copy_seconds: float = Field(ge=0)


class ClonePlanBody(Out):
    backend: str = Field(description="the sources' backend, where the consistency point is taken")
    consistency_method: str
    clones: list[PlannedClone] = Field(description="in request order")
    totals: PlanTotals


class ClonePlanOnly(Out):
    plan: ClonePlanBody


class ClonePlanned(Out):
    """A dry run's answer (``?dry_run=true``): nothing was made."""

    clone_volumes: ClonePlanOnly = Field(alias="clone-volumes")


class RevertStarted(Out):
    """``POST clone-volumes/revert``'s answer (a volclone extension): its task's get_progress URL,
    with ``action=clone-volumes-revert``."""

    revert: TaskUri


class Consistency(BaseModel):
    """What consistency the set got (an extension of the spec), once the point is taken."""

    level: Literal["crash-consistent", "none"] = Field(
        description='crash-consistent is the one level volclone promises; "none" only under the test-only switch')
    method: str = Field(description="qmp-transaction (local pool) or rbd-group-snapshot")
    members: list[str] = Field(description="the source ids frozen together, in request order")
    taken_at: str = Field(description="ISO 8601, UTC")
    io_freeze_ms: float | None = Field(None, description="how long writers were paused, where measured")


class ManifestAttachment(BaseModel):
    instance_uuid: str | None
    attach_mode: AttachMode
    attach_order: int | None = Field(description="1 for the first to attach; null where not known")
    mountpoint: str | None


class ManifestEntry(BaseModel):
    """One member of the set a succeeded task made (an extension of the spec)."""

    source_id: str
    clone_id: str
    name: str
    size: int | None = Field(description="GiB")
    volume_type_id: str
    bootable: bool
    attachments: list[ManifestAttachment] = Field(description="the source's, at the consistency point")
    metadata: dict[str, str] = Field(description="the source's user metadata as copied, with the clone keys")


class ProgressDetails(BaseModel):
    """The progress, and what the flow measured (``io_freeze_ms``, ``bytes_done``, ...)."""

    model_config = ConfigDict(extra="allow")
    results: dict[str, Any]
    completed_tasks: dict[str, TaskState]
    pending_tasks: dict[str, TaskState]
    progress: int = Field(ge=0, le=100)
    flow_details: dict[str, TaskState]
    bytes_per_second: int | None = Field(None, description="while data is copied: the rate measured so far")
    eta_seconds: float | None = Field(None, description="while data is copied: the time left at that rate")
    consistency: Consistency | None = Field(None, description="once the consistency point is taken")
    manifest: list[ManifestEntry] | None = Field(None, description="in request order, once the task succeeded")


class ProgressOut(Out):
    details: ProgressDetails
    progress: int = Field(ge=0, le=100)
    pending_tasks: dict[str, TaskState]
    flow_details: dict[str, TaskState] = Field(description="the flow's name and state, e.g. cloneFlow: SUCCESS")
    task_id: str


#: A quota set's per-type keys (``volumes_<type>``, ``gigabytes_<type>``, ``snapshots_<type>`` of
#: each volume type) are not fixed names: they are the schema's additional properties.
_PER_TYPE = ConfigDict(extra="allow", populate_by_name=False,
                       json_schema_extra={"description": "and volumes_TYPE, gigabytes_TYPE, snapshots_TYPE of each "
                                                         "volume type (-1 unless set)"})


class QuotaSet(Out):
    """A project's limits (-1: unlimited), and its per-type limits."""

    model_config = _PER_TYPE

    id: str = Field(description="the project the quotas are of")
    volumes: int
    gigabytes: int
    snapshots: int
    backups: int = Field(description="kept and shown; volclone serves no backups")
    backup_gigabytes: int = Field(description="kept and shown; volclone serves no backups")
    groups: int
    per_volume_gigabytes: int = Field(description="the largest volume a create or an extend may make, in GiB")


class QuotaUsage(Out):
    limit: int = Field(description="-1: unlimited")
    in_use: int = Field(description="what the project has")
    reserved: int = Field(description="what requests in progress hold for volumes they have not made yet")
    allocated: int = Field(description="always 0 (no nested projects)")


class QuotaSetUsage(Out):
    """A project's limits with what it uses (``?usage=true``), per-type keys too."""

    model_config = _PER_TYPE

    id: str
    volumes: QuotaUsage
    gigabytes: QuotaUsage
    snapshots: QuotaUsage
    backups: QuotaUsage
    backup_gigabytes: QuotaUsage
    groups: QuotaUsage
    per_volume_gigabytes: QuotaUsage = Field(description="in_use and reserved are always 0")


class QuotaLimits(Out):
    """An updated project's limits, per-type keys too."""

    model_config = _PER_TYPE

    volumes: int
    gigabytes: int
    snapshots: int
    backups: int = Field(description="kept and shown; volclone serves no backups")
    backup_gigabytes: int = Field(description="kept and shown; volclone serves no backups")
    groups: int
    per_volume_gigabytes: int = Field(description="the largest volume a create or an extend may make, in GiB")


class AbsoluteLimits(Out):
    maxTotalVolumes: int = Field(description="-1: unlimited")  # noqa: N815 (Cinder's names)
    maxTotalVolumeGigabytes: int = Field(description="-1: unlimited")  # noqa: N815
    maxTotalSnapshots: int = Field(description="-1: unlimited")  # noqa: N815
    totalVolumesUsed: int  # noqa: N815
    totalGigabytesUsed: int  # noqa: N815
    totalSnapshotsUsed: int  # noqa: N815
    maxTotalBackups: int = Field(description="kept and shown; no backups are served")  # noqa: N815
    maxTotalBackupGigabytes: int = Field(description="kept and shown; no backups are served")  # noqa: N815
    totalBackupsUsed: int = Field(description="always 0")  # noqa: N815
    totalBackupGigabytesUsed: int = Field(description="always 0")  # noqa: N815


class Limits(Out):
    rate: list[Any] = Field(description="always empty (no rate limits)")
    absolute: AbsoluteLimits


class CinderService(Out):
    """One worker's backend. ``cluster`` is given from microversion 3.7; ``replication_status``,
    ``active_backend_id`` and ``frozen`` on cinder-volume services only (as Cinder gives them)."""

    binary: str = Field(description="cinder-volume: a worker's backend; cinder-scheduler: a process that "
                                    "places volumes")
    host: str = Field(description="worker@backend (a scheduler: worker)")
    zone: str
    status: Literal["enabled", "disabled"]
    state: Literal["up", "down"] = Field(description="up: the worker beat within VOLCLONE_SERVICE_DOWN_TIME "
                                                     "seconds and is in the coordination group")
    updated_at: str | None = Field(description="the last heartbeat (UTC)")
    disabled_reason: str | None
    cluster: str | None = Field(None, description="from microversion 3.7; always null")
    replication_status: str = Field("not-capable", description="cinder-volume only")
    active_backend_id: str | None = Field(None, description="cinder-volume only")
    frozen: bool = Field(False, description="cinder-volume only")
    backend_state: Literal["up", "down"] = Field("up", description="from microversion 3.49, cinder-volume only: "
                                                               "the backend's worker is up")


class Snapshot(Out):
    """A snapshot of one volume. A show and the detailed list add the two
    ``os-extended-snapshot-attributes`` fields (rule volume_extension:extended_snapshot_attributes:
    admins, project readers); a create, an update and the summary list do not."""

    id: str
    name: str | None
    description: str | None
    volume_id: str
    status: Literal["creating", "available", "deleting", "error", "error_deleting", "restoring"]
    size: int = Field(description="GiB: the volume's size when the snapshot was taken")
    metadata: dict[str, str]
    created_at: str | None
    updated_at: str | None
    group_snapshot_id: str | None = Field(None, description="from microversion 3.14")
    user_id: str | None = Field(None, description="from microversion 3.41: the user who took it")
    consumes_quota: bool = Field(True, description="from microversion 3.65")
    progress: str = Field("100%", alias="os-extended-snapshot-attributes:progress",
                          description="shows and detailed lists: 100% once made")
    project_id: str = Field("", alias="os-extended-snapshot-attributes:project_id",
                            description="shows and detailed lists")


class Transfer(Out):
    """A volume transfer (volclone.api.transfers): lists show the first four fields and links."""

    id: str
    name: str | None
    volume_id: str
    links: list[Link]
    created_at: str = Field("", description="detailed lists, shows and creates")
    auth_key: str = Field("", description="the create's answer only: 16 hex digits, shown this once")
    no_snapshots: bool = Field(False, description="detailed lists, shows and creates, from microversion 3.55")
    destination_project_id: None = Field(None, description="from microversion 3.57 (an open transfer has none)")
    source_project_id: str = Field("", description="from microversion 3.57")
    accepted: bool = Field(False, description="from microversion 3.57 (an open transfer is not)")


class UserMessageOut(Out):
    """A user message (volclone.api.messages), microversion 3.3."""

    id: str
    message_level: Literal["ERROR"]
    event_id: str = Field(description="VOLUME_<resource type>_<action id>_<detail id>, Cinder's codes")
    user_message: str = Field(description="<action>:<detail>")
    resource_type: str
    resource_uuid: str | None
    request_id: str
    guaranteed_until: str
    created_at: str
    links: list[Link]


class GroupType(Out):
    """A group type (microversion 3.11). ``group_specs`` only for rule group:access_group_types_specs (admins)."""

    id: str
    name: str
    description: str | None
    is_public: bool
    group_specs: dict[str, str] = Field(default_factory=dict, description="admins")


class GroupSummary(Out):
    """A group in a create's answer and the summary list."""

    id: str
    name: str | None


class Group(Out):
    """A generic volume group (microversion 3.13)."""

    id: str
    name: str | None
    description: str | None
    status: Literal["creating", "available", "updating", "deleting", "error", "error_deleting", "in-use"]
    availability_zone: str
    created_at: str | None
    group_type: str = Field(description="the group type's id")
    volume_types: list[str] = Field(description="the ids of the volume types its volumes may have")
    group_snapshot_id: str | None = Field(None, description="from microversion 3.14")
    source_group_id: str | None = Field(None, description="from microversion 3.14")
    project_id: str = Field("", description="from microversion 3.58")
    volumes: list[str] = Field(default_factory=list,
                               description="from microversion 3.25 with ?list_volume=true: its volumes' ids")


class GroupSnapshotSummary(Out):
    """A group snapshot in a summary list (Tempest's ``list_group_snapshots_no_detail``)."""

    id: str
    name: str | None


class GroupSnapshotCreated(GroupSnapshotSummary):
    """A group snapshot create's answer (202)."""

    group_type_id: str


class GroupSnapshot(GroupSnapshotCreated):
    """Cinder's group snapshot (3.14): a group's volumes frozen at one instant; its member
    snapshots are in /snapshots with its id as ``group_snapshot_id``."""

    group_id: str
    description: str | None
    status: Literal["creating", "available", "deleting", "error", "error_deleting"]
    created_at: str | None
    project_id: str = Field("", description="from microversion 3.58")


MODELS: tuple[type[BaseModel], ...] = (Versions, VolumeType, TypeAccess, VolumeSummary, Volume, AttachmentSummary,
                                      Attachment, CloneStarted, ClonePlanned, RevertStarted, ProgressOut, QuotaSet,
                                      QuotaSetUsage, QuotaLimits, Limits, CinderService, Snapshot, Transfer,
                                      UserMessageOut, QosSpecs, QosAssociation,
                                      GroupType, GroupSummary, Group, GroupSnapshotSummary, GroupSnapshotCreated,
                                      GroupSnapshot)


def _ref(model: type[BaseModel]) -> Schema:
    return {"$ref": _REF.format(model=model.__name__)}


def _obj(**properties: Schema) -> Schema:
    """An object with exactly these members."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _list_of(model: type[BaseModel]) -> Schema:
    return {"type": "array", "items": _ref(model)}


def _volume_list(model: type[BaseModel]) -> Schema:
    """A page of volumes: ``volumes_links`` when the page is full, ``count`` when asked for (3.45)."""
    return {"type": "object", "required": ["volumes"], "additionalProperties": False, "properties": {
        "volumes": _list_of(model),
        "volumes_links": {"type": "array", "items": _ref(Link), "minItems": 1,
                          "description": "given when the page is full: rel next, the same request after its last "
                                         "volume (marker)"},
        "count": {"type": "integer", "minimum": 0,
                  "description": "from microversion 3.45 with with_count=true: how many volumes the filters select"},
    }}


_VOLUME_SUMMARY: Schema = {
    "type": "object", "required": ["total_size", "total_count"], "additionalProperties": False, "properties": {
        "total_size": {"type": "integer", "minimum": 0, "description": "GiB"},
        "total_count": {"type": "integer", "minimum": 0},
        "metadata": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                     "description": "from microversion 3.36: every value each metadata key has"}}}
_STRINGS: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
_ONE_STRING: Schema = {**_STRINGS, "minProperties": 1, "maxProperties": 1}
_TYPE = _obj(volume_type=_ref(VolumeType))
_VOLUME = _obj(volume=_ref(Volume))
_ATTACHMENT = _obj(attachment=_ref(Attachment))
_ATTACHMENTS = _obj(attachments=_list_of(AttachmentSummary))
_METADATA = _obj(metadata=_STRINGS)
_SPECS = _obj(extra_specs=_STRINGS)
_Q = "/v3/{project_id}/os-quota-sets/{target_project_id}"
_S = "/v3/{project_id}/snapshots/{snapshot_id}"
_SNAPSHOT = _obj(snapshot=_ref(Snapshot))
_QS = "/v3/{project_id}/qos-specs"
_ENC = "/v3/{project_id}/types/{type_id}/encryption"
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}
#: A type's encryption, as Cinder shows it (Tempest's schema): ``{}`` for a type without one.
_ENCRYPTION_FIELDS: dict[str, Schema] = {
    "volume_type_id": {"type": "string"}, "encryption_id": {"type": "string"}, "provider": {"type": "string"},
    "cipher": _NULLABLE_STRING, "key_size": {"type": ["integer", "null"]},
    "control_location": {"enum": ["front-end", "back-end"]}, "created_at": {"type": "string"},
    "updated_at": _NULLABLE_STRING, "deleted": {"type": "boolean"}, "deleted_at": {"type": "null"}}
_ENCRYPTION: Schema = {"type": "object", "properties": _ENCRYPTION_FIELDS, "additionalProperties": False}
_ENCRYPTION_GIVEN = _obj(encryption={**_ENCRYPTION, "required": []})
_QOS = _obj(qos_specs=_ref(QosSpecs), links={"type": "array", "items": _ref(Link)})
_DEFAULT_TYPE_ITEM = _obj(project_id={"type": "string"}, volume_type_id={"type": "string"})
_DEFAULT_TYPE_OK: dict[int, Schema | None] = {200: _obj(default_type=_DEFAULT_TYPE_ITEM)}
_DEFAULT_TYPES_OK: dict[int, Schema | None] = {
    200: _obj(default_types={"type": "array", "items": _DEFAULT_TYPE_ITEM})}
_NO_CONTENT: dict[int, Schema | None] = {204: None}
_GT = "/v3/{project_id}/group_types/{group_type_id}"
_GROUP_TYPE = _obj(group_type=_ref(GroupType))
_GROUP_SPECS = _obj(group_specs=_STRINGS)
_G = "/v3/{project_id}/groups/{group_id}"


def _page_of(collection: str, model: type[BaseModel]) -> Schema:
    """A page of a list: ``<collection>_links`` when the page is full."""
    return {"type": "object", "required": [collection], "additionalProperties": False, "properties": {
        collection: _list_of(model),
        f"{collection}_links": {"type": "array", "items": _ref(Link), "minItems": 1,
                                "description": "given when the page is full: rel next (marker: the page's last)"}}}


def _snapshot_list() -> Schema:
    """A page of snapshots: ``snapshots_links`` when the page is full, ``count`` when asked for (3.45)."""
    return {"type": "object", "required": ["snapshots"], "additionalProperties": False, "properties": {
        "snapshots": _list_of(Snapshot),
        "snapshots_links": {"type": "array", "items": _ref(Link), "minItems": 1,
                            "description": "given when the page is full: rel next (marker: the page's last)"},
        "count": {"type": "integer", "minimum": 0, "description": "from microversion 3.45 with with_count=true"},
    }}


def _page(name: str, model: type[BaseModel]) -> Schema:
    """A page of ``name``: ``<name>_links`` when the page is full."""
    return {"type": "object", "required": [name], "additionalProperties": False, "properties": {
        name: _list_of(model),
        f"{name}_links": {"type": "array", "items": _ref(Link), "minItems": 1,
                          "description": "given when the page is full: rel next (marker: the page's last)"}}}


def _transfers(prefix: str) -> dict[tuple[str, str], dict[int, Schema | None]]:
    one = _obj(transfer=_ref(Transfer))
    return {("GET", prefix): {200: _page("transfers", Transfer)},
            ("GET", prefix + "/detail"): {200: _page("transfers", Transfer)},
            ("POST", prefix): {202: one},
            ("GET", prefix + "/{transfer_id}"): {200: one},
            ("POST", prefix + "/{transfer_id}/accept"): {202: one},
            ("DELETE", prefix + "/{transfer_id}"): {202: None}}


def _quota_class_set(with_id: bool) -> Schema:
    """The seven resources, then ``volumes_<type>``, ``gigabytes_<type>`` and ``snapshots_<type>``
    of each volume type (enforced for the projects that fall back to the class)."""
    names = ["volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes", "groups", "per_volume_gigabytes"]
    properties: dict[str, Schema] = {n: {"type": "integer", "description": "-1: unlimited"} for n in names}
    if with_id:
        properties = {"id": {"type": "string", "description": "the class (or project) name"}, **properties}
    return {"type": "object", "required": list(properties), "properties": properties,
            "additionalProperties": {"type": "integer", "description": "a per-type limit (RESOURCE_TYPENAME)"}}


_HOST_FIELDS: dict[str, Schema] = {
    "host_name": {"type": "string", "description": "worker@backend (a scheduler: worker)"},
    "service": {"type": "string", "description": "cinder-volume or cinder-scheduler"},
    "zone": {"type": "string"}, "service-status": {"enum": ["available", "unavailable"]},
    "service-state": {"enum": ["enabled", "disabled"]},
    "last-update": {"type": "string", "description": "the last heartbeat (UTC)"}}
_HOST = _obj(**_HOST_FIELDS)
_HOST_RESOURCE = _obj(resource=_obj(**{n: {"type": "string"} for n in (
    "host", "project", "volume_count", "total_volume_gb", "snapshot_count", "total_snapshot_gb")}))
_SERVICE_ACTION = {"type": "object", "required": ["host", "binary", "service", "disabled", "status"],
                   "additionalProperties": False, "properties": {
                       "host": {"type": "string"}, "binary": {"type": "string"}, "service": {"type": "string"},
                       "disabled": {"type": "boolean"}, "status": {"enum": ["enabled", "disabled"]},
                       "disabled_reason": {"type": ["string", "null"],
                                           "description": "enable (null) and disable-log-reason only"}}}
_M = "/v3/{project_id}/messages"
#: ``{(METHOD, path): {status: body schema, or None for an empty body}}``: every operation's success.
SUCCESS: dict[tuple[str, str], dict[int, Schema | None]] = {
    ("GET", "/"): {300: _ref(Versions)},
    ("GET", "/v3"): {200: _ref(Versions)},
    ("GET", "/v3/"): {200: _ref(Versions)},
    ("GET", "/v3/{project_id}/types"): {200: _obj(volume_types=_list_of(VolumeType))},
    ("POST", "/v3/{project_id}/types"): {200: _TYPE},
    ("GET", "/v3/{project_id}/types/default"): {200: _TYPE},
    ("GET", "/v3/{project_id}/types/{type_id}"): {200: _TYPE},
    ("PUT", "/v3/{project_id}/types/{type_id}"): {200: _TYPE},
    ("GET", "/v3/{project_id}/types/{type_id}/os-volume-type-access"): {
        200: _obj(volume_type_access=_list_of(TypeAccess))},
    ("POST", "/v3/{project_id}/types/{type_id}/action"): {202: None},
    ("DELETE", "/v3/{project_id}/types/{type_id}"): {202: None},
    ("GET", "/v3/{project_id}/types/{type_id}/extra_specs"): {200: _SPECS},
    ("POST", "/v3/{project_id}/types/{type_id}/extra_specs"): {200: _SPECS},
    ("GET", "/v3/{project_id}/types/{type_id}/extra_specs/{key}"): {200: _ONE_STRING},
    ("PUT", "/v3/{project_id}/types/{type_id}/extra_specs/{key}"): {200: _ONE_STRING},
    ("DELETE", "/v3/{project_id}/types/{type_id}/extra_specs/{key}"): {202: None},
    ("GET", _ENC): {200: _ENCRYPTION},
    ("POST", _ENC): {200: _obj(encryption={**_ENCRYPTION, "required": ["volume_type_id", "encryption_id"]})},
    ("GET", _ENC + "/{encryption_id}"): {200: {**_ENCRYPTION, "minProperties": 1, "maxProperties": 1}},
    ("PUT", _ENC + "/{encryption_id}"): {200: _ENCRYPTION_GIVEN},
    ("DELETE", _ENC + "/{encryption_id}"): {202: None},
    ("GET", _QS): {200: _obj(qos_specs=_list_of(QosSpecs))},
    ("POST", _QS): {200: _QOS},
    ("GET", _QS + "/{qos_id}"): {200: _QOS},
    ("PUT", _QS + "/{qos_id}"): {200: _obj(qos_specs=_STRINGS)},
    ("DELETE", _QS + "/{qos_id}"): {202: None},
    ("PUT", _QS + "/{qos_id}/delete_keys"): {202: None},
    ("GET", _QS + "/{qos_id}/associations"): {200: _obj(qos_associations=_list_of(QosAssociation))},
    ("GET", _QS + "/{qos_id}/associate"): {202: None},
    ("GET", _QS + "/{qos_id}/disassociate"): {202: None},
    ("GET", _QS + "/{qos_id}/disassociate_all"): {202: None},
    ("GET", "/v3/{project_id}/volumes"): {200: _volume_list(VolumeSummary)},
    ("POST", "/v3/{project_id}/volumes"): {202: _VOLUME},
    ("GET", "/v3/{project_id}/volumes/detail"): {200: _volume_list(Volume)},
    ("GET", "/v3/{project_id}/volumes/summary"): {200: _obj(**{"volume-summary": _VOLUME_SUMMARY})},
    ("GET", "/v3/{project_id}/volumes/{volume_id}"): {200: _VOLUME},
    ("PUT", "/v3/{project_id}/volumes/{volume_id}"): {200: _VOLUME},
    ("DELETE", "/v3/{project_id}/volumes/{volume_id}"): {202: None},
    ("GET", "/v3/{project_id}/volumes/{volume_id}/metadata"): {200: _METADATA},
    ("POST", "/v3/{project_id}/volumes/{volume_id}/metadata"): {200: _METADATA},
    ("PUT", "/v3/{project_id}/volumes/{volume_id}/metadata"): {200: _METADATA},
    ("GET", "/v3/{project_id}/volumes/{volume_id}/metadata/{key}"): {200: _obj(meta=_ONE_STRING)},
    ("PUT", "/v3/{project_id}/volumes/{volume_id}/metadata/{key}"): {200: _obj(meta=_ONE_STRING)},
    ("DELETE", "/v3/{project_id}/volumes/{volume_id}/metadata/{key}"): {200: None},
    ("POST", "/v3/{project_id}/volumes/{volume_id}/action"): {
        200: _obj(connection_info={"type": "object", "description": "os-initialize_connection's answer"}),
        202: None},  # and os-set_bootable's empty 200: _EMPTY_TOO
    # The task_uri of a clone started, or (?dry_run=true) the plan of one.
    ("POST", "/v3/{project_id}/clone-volumes"): {
        200: _obj(**{"clone-volumes": {"oneOf": [_ref(TaskUri), _ref(ClonePlanOnly)]}})},
    ("GET", "/v3/{project_id}/clone-volumes/get_progress"): {200: _ref(ProgressOut)},
    ("POST", "/v3/{project_id}/clone-volumes/{task_id}/action"): {202: None},
    ("POST", "/v3/{project_id}/clone-volumes/revert"): {202: _ref(RevertStarted)},
    ("POST", "/v3/{project_id}/attachments"): {200: _ATTACHMENT},
    ("GET", "/v3/{project_id}/attachments"): {200: _page_of("attachments", AttachmentSummary)},
    ("GET", "/v3/{project_id}/attachments/detail"): {200: _page_of("attachments", Attachment)},
    ("GET", "/v3/{project_id}/attachments/{attachment_id}"): {200: _ATTACHMENT},
    ("PUT", "/v3/{project_id}/attachments/{attachment_id}"): {200: _ATTACHMENT},
    ("DELETE", "/v3/{project_id}/attachments/{attachment_id}"): {200: _ATTACHMENTS},
    ("POST", "/v3/{project_id}/attachments/{attachment_id}/action"): {204: None},
    ("GET", _Q): {200: _obj(quota_set={"oneOf": [_ref(QuotaSet), _ref(QuotaSetUsage)]})},
    ("PUT", _Q): {200: _obj(quota_set=_ref(QuotaLimits))},
    ("DELETE", _Q): {200: None},
    ("GET", _Q + "/defaults"): {200: _obj(quota_set=_quota_class_set(with_id=True))},
    ("GET", "/v3/{project_id}/os-quota-class-sets/{class_name}"): {
        200: _obj(quota_class_set=_quota_class_set(with_id=True))},
    ("PUT", "/v3/{project_id}/os-quota-class-sets/{class_name}"): {
        200: _obj(quota_class_set=_quota_class_set(with_id=False))},
    ("GET", "/v3/{project_id}/os-hosts"): {200: _obj(hosts={"type": "array", "items": _HOST})},
    ("GET", "/v3/{project_id}/os-hosts/{host_name}"): {200: _obj(host={"type": "array", "items": _HOST_RESOURCE})},
    **{("PUT", f"/v3/{{project_id}}/os-services/{a}"): {200: _SERVICE_ACTION}
       for a in ("enable", "disable", "disable-log-reason")},
    ("PUT", "/v3/{project_id}/os-services/freeze"): {200: None},
    ("PUT", "/v3/{project_id}/os-services/thaw"): {200: None},
    ("PUT", "/v3/{project_id}/os-services/{action}"): {200: None},
    ("GET", "/v3/{project_id}/limits"): {200: _obj(limits=_ref(Limits))},
    ("GET", "/v3/{project_id}/os-services"): {200: _obj(services=_list_of(CinderService))},
    ("PUT", "/v3/{project_id}/os-services/set-log"): {202: None},
    ("PUT", "/v3/{project_id}/os-services/get-log"): {200: _obj(log_levels={"type": "array", "items": _obj(
        binary={"type": "string"}, host={"type": "string"}, levels=_STRINGS)})},
    **{op: answer for prefix in ("/v3/default-types", "/v3/{project_id}/default-types") for op, answer in (
        (("PUT", prefix + "/{target_project_id}"), _DEFAULT_TYPE_OK),
        (("GET", prefix + "/{target_project_id}"), _DEFAULT_TYPE_OK),
        (("GET", prefix), _DEFAULT_TYPES_OK),
        (("DELETE", prefix + "/{target_project_id}"), _NO_CONTENT))},
    ("GET", "/v3/{project_id}/resource_filters"): {200: _obj(resource_filters={"type": "array", "items": _obj(
        resource={"type": "string"}, filters={"type": "array", "items": {"type": "string"}})})},
    ("GET", "/v3/{project_id}/snapshots"): {200: _snapshot_list()},
    ("GET", "/v3/{project_id}/snapshots/detail"): {200: _snapshot_list()},
    ("POST", "/v3/{project_id}/snapshots"): {202: _SNAPSHOT},
    ("GET", _S): {200: _SNAPSHOT},
    ("PUT", _S): {200: _SNAPSHOT},
    ("DELETE", _S): {202: None},
    ("POST", _S + "/action"): {202: None},
    ("GET", _S + "/metadata"): {200: _METADATA},
    ("POST", _S + "/metadata"): {200: _METADATA},
    ("PUT", _S + "/metadata"): {200: _METADATA},
    ("GET", _S + "/metadata/{key}"): {200: _obj(meta=_ONE_STRING)},
    ("PUT", _S + "/metadata/{key}"): {200: _obj(meta=_ONE_STRING)},
    ("DELETE", _S + "/metadata/{key}"): {200: None},
    ("GET", "/v3/{project_id}/group_types"): {200: _obj(group_types=_list_of(GroupType))},
    ("POST", "/v3/{project_id}/group_types"): {202: _GROUP_TYPE},
    ("GET", "/v3/{project_id}/group_types/default"): {200: _GROUP_TYPE},
    ("GET", _GT): {200: _GROUP_TYPE},
    ("PUT", _GT): {200: _GROUP_TYPE},
    ("DELETE", _GT): {202: None},
    ("GET", _GT + "/group_specs"): {200: _GROUP_SPECS},
    ("POST", _GT + "/group_specs"): {202: _GROUP_SPECS},
    ("GET", _GT + "/group_specs/{key}"): {200: _ONE_STRING},
    ("PUT", _GT + "/group_specs/{key}"): {200: _ONE_STRING},
    ("DELETE", _GT + "/group_specs/{key}"): {202: None},
    ("GET", "/v3/{project_id}/groups"): {200: _page_of("groups", GroupSummary)},
    ("GET", "/v3/{project_id}/groups/detail"): {200: _page_of("groups", Group)},
    ("POST", "/v3/{project_id}/groups"): {202: _obj(group=_ref(GroupSummary))},
    ("POST", "/v3/{project_id}/groups/action"): {202: _obj(group=_ref(GroupSummary))},
    ("GET", _G): {200: _obj(group=_ref(Group))},
    ("PUT", _G): {202: None},
    ("POST", _G + "/action"): {202: None},
    ("GET", "/v3/{project_id}/group_snapshots"): {200: _page_of("group_snapshots", GroupSnapshotSummary)},
    ("GET", "/v3/{project_id}/group_snapshots/detail"): {200: _page_of("group_snapshots", GroupSnapshot)},
    ("POST", "/v3/{project_id}/group_snapshots"): {202: _obj(group_snapshot=_ref(GroupSnapshotCreated))},
    ("GET", "/v3/{project_id}/group_snapshots/{group_snapshot_id}"): {200: _obj(group_snapshot=_ref(GroupSnapshot))},
    ("DELETE", "/v3/{project_id}/group_snapshots/{group_snapshot_id}"): {202: None},
    ("POST", "/v3/{project_id}/group_snapshots/{group_snapshot_id}/action"): {202: None},
    ("GET", "/v3/{project_id}/os-availability-zone"): {200: _obj(availabilityZoneInfo={"type": "array", "items": _obj(
        zoneName={"type": "string"}, zoneState=_obj(available={"type": "boolean"}))})},
    ("GET", "/v3/{project_id}/extensions"): {200: _obj(extensions={"type": "array", "items": _obj(
        name={"type": "string"}, alias={"type": "string"}, description={"type": "string"},
        links={"type": "array", "maxItems": 0}, updated={"type": "string", "format": "date-time"})})},
    **_transfers("/v3/{project_id}/os-volume-transfer"),
    **_transfers("/v3/{project_id}/volume-transfers"),
    ("GET", _M): {200: _obj(messages=_list_of(UserMessageOut))},
    ("GET", _M + "/{message_id}"): {200: _obj(message=_ref(UserMessageOut))},
    ("DELETE", _M + "/{message_id}"): {204: None},
    ("GET", "/v3/{project_id}/scheduler-stats/get_pools"): {200: _obj(pools={"type": "array", "items": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "capabilities": {"type": "object"}}}})},
    ("GET", "/v3/{project_id}/capabilities/{hostname}"): {200: _obj(
        namespace={"type": "string", "pattern": "^OS::Storage::Capabilities::.+$"},
        volume_backend_name={"type": "string"}, pool_name={"type": ["string", "null"]},
        vendor_name={"type": "string"}, driver_version={"type": "string"}, storage_protocol={"type": "string"},
        display_name={"type": ["string", "null"]}, description={"type": ["string", "null"]},
        visibility={"type": ["string", "null"]}, replication_targets={"type": "array"},
        properties={"type": "object", "additionalProperties": _obj(
            title={"type": "string"}, description={"type": "string"}, type={"type": "string"})})},
}


#: Successes that may also come with an empty ``text/html`` body, as Cinder sends them
#: (os-set_bootable answers 200 so, beside os-initialize_connection's JSON 200).
_EMPTY_TOO = {("POST", "/v3/{project_id}/volumes/{volume_id}/action", 200)}


_PROGRESS = ("GET", "/v3/{project_id}/clone-volumes/get_progress")
#: get_progress with ``Accept: text/event-stream`` (an extension; docs/events.md): the same 200, streamed.
_EVENT_STREAM = {"text/event-stream": {
    "schema": {"type": "string", "description": (
        "Server-Sent Events, each with an id (1, 2, ...; the last one's is 'end') and JSON data: "
        "'flow' {flow, state, observed}, 'state' {task, state, observed} for each state a step passes "
        "(observed: false for those passed between two reads), 'progress' {progress, bytes_done, bytes_total, "
        "bytes_per_second, eta_seconds} at most twice a second, then 'end' with exactly the application/json "
        "body, and the stream closes; 'error' with a fault body if the task can no longer be read. A comment "
        "line keeps a quiet stream alive. Every fault comes before a stream starts")}}}
_STREAM_FAULTS = {
    503: "with Accept: text/event-stream: this API process has all the event streams open it serves at once "
         "(VOLCLONE_MAX_EVENT_STREAMS); Retry-After says when to ask again (or poll without the header)",
}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


_BOOL = {"type": "string", "description": "1, true, yes, on, t, y; or 0, false, no, off, f, n (any case)"}
_ALL_TENANTS = _query("all_tenants", "admins: true lists every project's (a user: only this one's); not a boolean: "
                      "400", _BOOL)
_VOLUME_FILTERS = [
    _query("name", "only volumes of this name"),
    _query("status", "only volumes in this status"),
    _query("metadata", "only volumes with these metadata items, as a dict: {\"k\": \"v\"} (not a dict: none)"),
    _query("volume_type", "admins: only volumes of this type (name or id); a user's: ignored below 3.33, "
                           "a 400 from it"),
    _query("bootable", "only bootable volumes (true: none, volclone's are not bootable); not a boolean: 400"),
    _query("availability_zone", "only volumes in this zone (nova: all)"),
    _query("group_id", "from 3.10: only volumes in this group (null: in no group)"),
    _query("migration_status", "only volumes in this migration status (none migrate)"),
    _query("name~", "from 3.34: only volumes whose name contains this, in any case"),
    _query("description~", "from 3.34: only volumes whose description contains this, in any case"),
    _query("sort", "key[:asc|desc],...: id, name, description, size, status, created_at, updated_at, project_id, "
                   "volume_type_id (default created_at:desc; created_at and id end every order)"),
    _query("sort_key", "the older form of sort: one key (not with sort)"),
    _query("sort_dir", "the older form of sort: asc or desc (not with sort)"),
    _query("marker", "the id of the volume after which the page starts (404 if there is none the caller sees)"),
    _query("limit", "at most this many (at most and by default 1000)", {"type": "integer", "minimum": 0}),
    _query("offset", "skip this many first", {"type": "integer", "minimum": 0, "maximum": 2147483647}),
    _query("with_count", "from 3.45: add count, how many volumes the filters select", _BOOL),
    _ALL_TENANTS,
]
_SNAPSHOT_FILTERS = [
    _query("name", "only snapshots of this name"),
    _query("status", "only snapshots in this status"),
    _query("volume_id", "only snapshots of this volume"),
    _query("metadata", "only snapshots with these metadata items, as a dict: {\"k\": \"v\"}"),
    _query("name~", "admins, from 3.34: only snapshots whose name contains this, in any case (a user's: 400)"),
    _query("description~", "admins, from 3.34: only snapshots whose description contains this, in any case"),
    _query("sort", "key[:asc|desc],...: id, name, description, status, size, volume_id, project_id, created_at, "
                   "updated_at (default created_at:desc; created_at and id end every order)"),
    _query("sort_key", "the older form of sort: one key (not with sort)"),
    _query("sort_dir", "the older form of sort: asc or desc (not with sort)"),
    _query("marker", "the id of the snapshot after which the page starts"),
    _query("limit", "at most this many (at most and by default 1000)", {"type": "integer", "minimum": 0}),
    _query("offset", "skip this many first", {"type": "integer", "minimum": 0, "maximum": 2147483647}),
    _query("with_count", "from 3.45: add count", _BOOL),
    _ALL_TENANTS,
]
_PAGE = [
    _query("marker", "the id after which the page starts (404 if there is none the caller sees)"),
    _query("limit", "at most this many (at most and by default 1000)", {"type": "integer", "minimum": 0}),
    _query("offset", "skip this many first", {"type": "integer", "minimum": 0, "maximum": 2147483647}),
]
_GROUP_SNAPSHOT_FILTERS = [
    _query("status", "from 3.29: only group snapshots in this status"),
    _query("group_id", "from 3.29: only group snapshots of this group"),
    _query("name~", "admins, from 3.34: only group snapshots whose name contains this, in any case (a user's: "
                    "400)"),
    _query("sort", "from 3.29: key[:asc|desc],...: id, name, description, status, group_id, group_type_id, "
                   "project_id, created_at, updated_at (default created_at:desc; created_at and id end every "
                   "order)"),
    _query("sort_key", "from 3.29: the older form of sort: one key (not with sort)"),
    _query("sort_dir", "from 3.29: the older form of sort: asc or desc (not with sort)"),
    *_PAGE,
    _ALL_TENANTS,
]
_GROUP_FILTERS = [
    _query("sort", "key[:asc|desc],...: id, name, description, status, group_type_id, project_id, "
                   "availability_zone, group_snapshot_id, source_group_id, created_at, updated_at (default "
                   "created_at:desc; created_at and id end every order)"),
    _query("sort_key", "the older form of sort: one key (not with sort)"),
    _query("sort_dir", "the older form of sort: asc or desc (not with sort)"),
    *_PAGE,
    _ALL_TENANTS,
]
_GROUP_TYPE_FILTERS = [
    _query("is_public", "admins: true (the default: the public types), false (the private ones) or none (every "
                        "type); ignored for others"),
    _query("sort", "key[:asc|desc],...: id, name, description, is_public, created_at (default desc)"),
    _query("sort_key", "the older form of sort: one key (not with sort)"),
    _query("sort_dir", "the older form of sort: asc or desc (not with sort)"),
    *_PAGE,
]
_TRANSFER_FILTERS = [
    _query("name", "only transfers of this name"), _query("volume_id", "only transfers of this volume"),
    *_PAGE,
    _query("sort", "volume-transfers from 3.59: key[:asc|desc],...: id, name, volume_id, created_at (default "
                   "created_at:desc); ignored otherwise"),
    _ALL_TENANTS,
]
_MESSAGE_FILTERS = [
    *(_query(k, f"from 3.5: only messages of this {k}") for k in
      ("resource_uuid", "resource_type", "event_id", "request_id", "message_level")),
    *_PAGE,
    _query("sort", "from 3.5: key[:asc|desc],...: id, event_id, message_level, resource_type, resource_uuid, "
                   "request_id, created_at, guaranteed_until (default created_at:desc)"),
]
#: Query parameters of the routes that read ``request.query_params`` themselves.
QUERY: dict[tuple[str, str], list[Schema]] = {
    ("GET", "/v3/{project_id}/types"): [
        _query("is_public", "admins: true (the default: public types and those granted to the caller's project), "
                            "false (private types only) or none (every type); ignored for others")],
    ("GET", "/v3/{project_id}/volumes"): _VOLUME_FILTERS,
    ("GET", "/v3/{project_id}/volumes/detail"): _VOLUME_FILTERS,
    ("GET", "/v3/{project_id}/volumes/summary"): [_ALL_TENANTS],
    ("POST", "/v3/{project_id}/clone-volumes"): [
        _query("dry_run", "true: validate as a real request does (the same 4xx), make nothing, answer the plan "
                          "(200); any other query parameter: 400", _BOOL)],
    ("DELETE", "/v3/{project_id}/volumes/{volume_id}"): [
        _query("cascade", "true: delete the volume's snapshots too (a volume with snapshots is a 400 without)",
               _BOOL)],
    ("GET", "/v3/{project_id}/snapshots"): _SNAPSHOT_FILTERS,
    ("GET", "/v3/{project_id}/snapshots/detail"): _SNAPSHOT_FILTERS,
    **{("GET", f"/v3/{{project_id}}/{c}{d}"): _TRANSFER_FILTERS
       for c in ("os-volume-transfer", "volume-transfers") for d in ("", "/detail")},
    ("GET", _M): _MESSAGE_FILTERS,
    ("GET", "/v3/{project_id}/groups"): _GROUP_FILTERS,
    ("GET", "/v3/{project_id}/groups/detail"): _GROUP_FILTERS,
    ("GET", "/v3/{project_id}/group_types"): _GROUP_TYPE_FILTERS,
    ("GET", "/v3/{project_id}/group_snapshots"): _GROUP_SNAPSHOT_FILTERS,
    ("GET", "/v3/{project_id}/group_snapshots/detail"): _GROUP_SNAPSHOT_FILTERS,
}


#: OpenAPI links: where the id a create answers can be used next. ``{(METHOD, path): (status, path
#: parameter, where the id is in the answer, [(METHOD, path), ...])}``.
_V = "/v3/{project_id}/volumes/{volume_id}"
_T = "/v3/{project_id}/types/{type_id}"
_A = "/v3/{project_id}/attachments/{attachment_id}"
LINKS: dict[tuple[str, str], tuple[int, str, str, list[tuple[str, str]]]] = {
    ("POST", "/v3/{project_id}/volumes"): (202, "volume_id", "/volume/id", [
        ("GET", _V), ("PUT", _V), ("DELETE", _V), ("GET", _V + "/metadata"), ("POST", _V + "/metadata"),
        ("PUT", _V + "/metadata"), ("POST", _V + "/action")]),
    ("POST", "/v3/{project_id}/types"): (200, "type_id", "/volume_type/id", [
        ("GET", _T), ("PUT", _T), ("DELETE", _T), ("GET", _T + "/extra_specs"), ("POST", _T + "/extra_specs"),
        ("GET", _T + "/os-volume-type-access"), ("POST", _T + "/action")]),
    ("POST", "/v3/{project_id}/attachments"): (200, "attachment_id", "/attachment/id", [
        ("GET", _A), ("PUT", _A), ("DELETE", _A), ("POST", _A + "/action")]),
    ("POST", "/v3/{project_id}/snapshots"): (202, "snapshot_id", "/snapshot/id", [
        ("GET", _S), ("PUT", _S), ("DELETE", _S), ("GET", _S + "/metadata"), ("POST", _S + "/action")]),
}


def _add_links(doc: Schema) -> None:
    paths = doc["paths"]
    for (method, path), (status, param, pointer, targets) in LINKS.items():
        links = paths[path][method.lower()]["responses"][str(status)].setdefault("links", {})
        for t_method, t_path in targets:
            target = paths[t_path][t_method.lower()]
            links[target["operationId"]] = {
                "operationId": target["operationId"],
                "parameters": {"project_id": "$request.path.project_id", param: f"$response.body#{pointer}"}}


# -- faults and headers --------------------------------------------------------------------
def _fault_schema(status: int) -> Schema:
    name = FAULT_NAMES[status]
    detail = _obj(code={"type": "integer", "const": status}, message={"type": "string"})
    return {**_obj(**{name: detail}), "title": f"{name} fault"}


#: What each fault means on any operation under /v3/{project_id}.
_FAULTS = {
    400: "bad request: a body or parameter that is not valid, or a malformed OpenStack-API-Version",
    401: "no token, or a token that is not valid",
    403: "the policy does not allow it; the message names the rule (docs/policy.md)",
    404: "not found (also: an operation or action below the microversion that brought it, e.g. the attachments "
         "API below 3.27, the volume summary below 3.12, resource_filters below 3.33, os-complete below 3.44, "
         "default-types below 3.62, the messages below 3.3, volume-transfers below 3.55; a list's marker that is "
         "nothing the caller sees)",
    406: "the OpenStack-API-Version asked for is not served",
    409: "the resource's state does not allow it (a clone task's cancel: the task has ended, or is reverting)",
    413: "the request body, or a field in it, is too large; or (volume create, clone-volumes, os-extend) the "
         "project's quota would be exceeded: the message names the resource",
    503: "the backend the volume lives on is not available (its driver did not start)",
    507: "the backend's storage is full: nothing was made (deleting volumes makes room)",
}
#: The operations that reach a storage backend (and so can find it unavailable: 503).
#: Those of them that make data can find it full (507).
_BACKEND_OPS = {
    ("POST", "/v3/{project_id}/volumes"), ("DELETE", _V), ("POST", _V + "/action"),
    ("POST", "/v3/{project_id}/clone-volumes"), ("POST", "/v3/{project_id}/attachments"), ("PUT", _A),
    ("DELETE", _A), ("POST", _A + "/action"), ("POST", "/v3/{project_id}/clone-volumes/revert"),
    ("POST", "/v3/{project_id}/snapshots"), ("DELETE", _S), ("POST", _S + "/action"),
    ("POST", _G + "/action"),
}
_MAKES_DATA = {("POST", "/v3/{project_id}/volumes"), ("POST", "/v3/{project_id}/clone-volumes"),
               ("POST", _V + "/action"), ("POST", "/v3/{project_id}/snapshots")}


def _version_header_param() -> Schema:
    # Any text is accepted, as by Cinder: the header may name other services' versions too
    # ("compute 2.1, volume 3.27"); only the volume entry counts, and without one it is 3.0.
    return {"name": HEADER, "in": "header", "required": False,
            "description": (f"the microversion, as '{SERVICE} X.Y' ({fmt(MIN_VERSION)} to {fmt(MAX_VERSION)}) or "
                            f"'{SERVICE} latest', among other services' entries, comma-separated. Without a "
                            f"{SERVICE} entry: {fmt(MIN_VERSION)}. A malformed one: 400; one out of range: 406"),
            "schema": {"type": "string"}, "example": f"{SERVICE} {fmt(MAX_VERSION)}"}


def _version_response_headers() -> Schema:
    return {HEADER: {"description": "the microversion that served the request", "required": True,
                     "schema": {"type": "string", "pattern": rf"^{SERVICE} 3\.[0-9]+$"}},
            "Vary": {"description": f"names {HEADER}", "required": True, "schema": {"type": "string"}},
            "x-openstack-request-id": {"description": "the request's id, req-<uuid> (a user message written while "
                                                      "serving it names it)", "required": True,
                                       "schema": {"type": "string", "pattern": "^req-[0-9a-f-]{36}$"}}}


def _json(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _responses(method: str, path: str, op: Schema) -> Schema:
    try:
        success = SUCCESS[(method, path)]
    except KeyError:
        raise RuntimeError(f"{method} {path} has no documented success body: add it to openapi.SUCCESS") from None
    # 3.62's default-types name their target project, not an acting one, and are answered alike.
    scoped = path.startswith((PROJECT_PREFIX + "/", "/v3/default-types"))
    out: Schema = {}
    for status, body in success.items():
        r: Schema = {"description": "success" if status < 300 else "the versions served (multiple choices)"}
        if body is not None:
            r["content"] = _json(body)
        if (method, path) == _PROGRESS and status == 200:
            r["description"] += " (with Accept: text/event-stream, the task's events, ending with this body)"
            r["content"] |= _EVENT_STREAM
        if (method, path, status) in _EMPTY_TOO:
            r["description"] += " (os-set_bootable: an empty text/html body, as Cinder sends it)"
            r.setdefault("content", {})["text/html"] = {"schema": {"type": "string", "maxLength": 0}}
        if scoped:
            r["headers"] = _version_response_headers()
        out[str(status)] = r
    if scoped:
        statuses = [400, 401, 403, 404, 406]
        if method != "GET":
            statuses.append(409)
        if "requestBody" in op:
            statuses.append(413)
        if (method, path) in _BACKEND_OPS:
            statuses.append(503)
        if (method, path) in _MAKES_DATA:
            statuses.append(507)
        if (method, path) == _PROGRESS:
            statuses.append(503)
            out["204"] = {"description": "with Accept: text/event-stream and Last-Event-ID: end (the end event "
                                         "was had): nothing more; an EventSource stops reconnecting",
                          "headers": _version_response_headers()}
        for status in statuses:
            out[str(status)] = {"description": _STREAM_FAULTS[status] if (method, path) == _PROGRESS
                                and status in _STREAM_FAULTS else _FAULTS[status],
                                "content": _json({"$ref": _REF.format(model=f"{FAULT_NAMES[status]}Fault")})}
        if (method, path) == _PROGRESS:
            out["503"]["headers"] = {"Retry-After": {"description": "seconds to wait before asking again",
                                                     "schema": {"type": "integer"}}}
    return out


def _add_path_params(path: str, op: Schema) -> None:
    params = op.setdefault("parameters", [])
    named = {p["name"] for p in params if p["in"] == "path"}
    missing = [n for n in re.findall(r"{(\w+)}", path) if n not in named]
    params[:0] = [{"name": n, "in": "path", "required": True, "schema": {"type": "string", "title": n}}
                  for n in missing]


def _components(generated: Schema) -> Schema:
    schemas: Schema = generated.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _, top = models_json_schema([(m, "validation") for m in MODELS], ref_template=_REF)
    for name, schema in {**top.get("$defs", {}),
                         **{f"{n}Fault": _fault_schema(s) for s, n in FAULT_NAMES.items() if s in _FAULTS}}.items():
        if name in schemas and schemas[name] != schema:
            raise RuntimeError(f"two schemas are named {name}: a request model and a response model")
        schemas[name] = schema
    generated["securitySchemes"] = {SECURITY_SCHEME: {
        "type": "apiKey", "in": "header", "name": TOKEN_HEADER,
        "description": "a token made by `volclone token create`; it acts on its own project, an admin's on any"}}
    return generated


def document(app: FastAPI) -> Schema:
    """FastAPI's document of ``app``'s routes, with everything it leaves out added (see the module's doc)."""
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                      description="An OpenStack Block Storage (Cinder) v3-shaped API with consistent "
                                  "multi-volume clones. Every fault is {faultName: {code, message}}.")
    doc["components"] = _components(doc.get("components", {}))
    for path, item in doc["paths"].items():
        for method, op in item.items():
            _add_path_params(path, op)
            op["parameters"].extend(copy.deepcopy(QUERY.get((method.upper(), path), [])))
            if path.startswith(PROJECT_PREFIX + "/"):
                op["parameters"].append(_version_header_param())
                op["security"] = [{SECURITY_SCHEME: []}]
            if not op["parameters"]:
                del op["parameters"]
            op["responses"] = _responses(method.upper(), path, op)
    _add_links(doc)
    return doc


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of the resource ``path`` names (for a 405's ``Allow``): those of the first
    documented path template it matches, in the routers' order, as the router matches them."""
    for template, item in app.openapi()["paths"].items():
        if compile_path(template)[0].match(path):
            return sorted(m.upper() for m in item)
    # The routes outside the document: the document's own.
    return sorted({m for r in app.router.routes if isinstance(r, Route) and r.path_regex.match(path)
                   for m in r.methods or ()})


def install(app: FastAPI) -> None:
    """Serve :func:`document` at ``app.openapi_url``, built once on first use."""

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
