"""How records look on the wire (Cinder v3's shapes, per microversion and per caller).

A field is there only from the microversion, and for the callers, that Cinder shows it to, because
clients (Tempest first) check every body against a schema that allows nothing else. What one
request may see is a :class:`VolumeShape` (volumes) or two flags (types), which the routes build
from the request's microversion and the policy's field rules (:data:`FIELD_RULES`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from volclone.domain import (
    VOLUME_BINARY,
    Attachment,
    AttachStatus,
    CloneProgress,
    Principal,
    Volume,
    VolumeType,
)
from volclone.service.clone_plans import ClonePlan
from volclone.service.services import ListedService

#: The one availability zone (Cinder's default ``storage_availability_zone``): every volume's and
#: service's, and the one os-availability-zone lists.
AVAILABILITY_ZONE = "nova"


def _time(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="microseconds") if t else None


# -- the policy rules that add fields (Cinder's names and defaults) --------------------------
#: ``os-vol-tenant-attr:tenant_id`` on a volume's show and detailed lists (admin, project reader).
TENANT_ATTRIBUTE_RULE = "volume_extension:volume_tenant_attribute"
#: ``os-vol-host-attr:host`` on a volume's show and detailed lists (admin).
HOST_ATTRIBUTE_RULE = "volume_extension:volume_host_attribute"
#: ``os-vol-mig-status-attr:migstat`` and ``:name_id`` on a volume's show and detailed lists (admin).
MIG_STATUS_ATTRIBUTE_RULE = "volume_extension:volume_mig_status_attribute"
#: ``qos_specs_id`` on a type's show and lists (admin).
TYPE_QOS_RULE = "volume_extension:access_types_qos_specs_id"
#: ``os-volume-type-access:is_public`` on a type's show, lists and create (admin, project member).
TYPE_ACCESS_RULE = "volume_extension:volume_type_access"
#: Keystone's role of services (Glance, Nova), to whom Cinder shows attachment hosts as to admins.
SERVICE_ROLE = "service"
FIELD_RULES = (TENANT_ATTRIBUTE_RULE, HOST_ATTRIBUTE_RULE, MIG_STATUS_ATTRIBUTE_RULE, TYPE_QOS_RULE,
               TYPE_ACCESS_RULE)

# -- microversions that change a volume's record (cinder/api/microversions.py) -------------
GROUP_VOLUME = (3, 13)        # group_id
PROVIDER_ID = (3, 21)         # provider_id, admins only
SHARED_TARGETS = (3, 48)      # shared_targets, service_uuid
CLUSTER_NAME = (3, 61)        # cluster_name, admins only
TYPE_ID_IN_DETAIL = (3, 63)   # volume_type_id; volume_type is always the name
USE_QUOTA = (3, 65)           # consumes_quota
# 3.64 adds encryption_key_id for encrypted volumes only: volclone has none, so it never shows.


def volume_type(t: VolumeType, qos_specs_id: bool = False, access_is_public: bool = False,
                qos: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A type. Cinder's shows and lists add ``qos_specs_id`` (:data:`TYPE_QOS_RULE`) and
    ``os-volume-type-access:is_public`` (:data:`TYPE_ACCESS_RULE`); its create adds only the
    second; its update neither. ``qos``: type id -> its QoS spec's id."""
    body: dict[str, Any] = {"id": t.id, "name": t.name, "description": t.description,
                            "is_public": t.is_public, "extra_specs": dict(t.extra_specs)}
    if access_is_public:
        body["os-volume-type-access:is_public"] = t.is_public
    if qos_specs_id:
        body["qos_specs_id"] = (qos or {}).get(t.id)
    return body


def type_access(type_id: str, projects: list[str]) -> dict[str, Any]:
    return {"volume_type_access": [{"volume_type_id": type_id, "project_id": p} for p in projects]}


@dataclasses.dataclass(frozen=True)
class VolumeShape:
    """What a volume's record holds for one request.

    ``admin`` is Cinder's ``context.is_admin`` (migration_status, provider_id, cluster_name);
    ``attachment_hosts`` shows each attachment's ``host_name`` (admins and the ``service`` role).
    The three attribute flags are the policy's field rules; Cinder adds those fields to shows and
    detailed lists only, never to a create's or an update's answer.
    """

    version: tuple[int, int] = (3, 0)
    admin: bool = False
    attachment_hosts: bool = False
    tenant_attribute: bool = False
    host_attribute: bool = False
    mig_status_attribute: bool = False
    #: Each backend's worker for ``os-vol-host-attr:host`` (a backend no worker reported: ``volclone``).
    volume_hosts: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def for_caller(cls, version: tuple[int, int], who: Principal, allows: Callable[[str], bool],
                   extended: bool = True, volume_hosts: Callable[[], Mapping[str, str]] = dict) -> VolumeShape:
        """The shape for ``who`` at ``version``; ``allows(rule)`` asks the policy about ``who``.
        ``extended``: a show or a detailed list (the attribute fields are for those only).
        ``volume_hosts()`` is asked only when the host attribute is shown."""
        host_attribute = extended and allows(HOST_ATTRIBUTE_RULE)
        return cls(version=version, admin=who.is_admin,
                   attachment_hosts=who.is_admin or SERVICE_ROLE in who.roles,
                   tenant_attribute=extended and allows(TENANT_ATTRIBUTE_RULE),
                   host_attribute=host_attribute,
                   mig_status_attribute=extended and allows(MIG_STATUS_ATTRIBUTE_RULE),
                   volume_hosts=volume_hosts() if host_attribute else {})


def volume_link(base: str, v: Volume) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{base}/v3/{v.project_id}/volumes/{v.id}"},
            {"rel": "bookmark", "href": f"{base}/{v.project_id}/volumes/{v.id}"}]


def volume_summary(base: str, v: Volume) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "links": volume_link(base, v)}


def volume(base: str, v: Volume, type_name: str | None, shape: VolumeShape) -> dict[str, Any]:
    at = shape.version
    body: dict[str, Any] = {
        "id": v.id, "name": v.name, "description": v.description, "size": v.size,
        "status": v.status.value, "metadata": volume_metadata(v), "availability_zone": AVAILABILITY_ZONE,
        # Cinder gives the type's name, or (before 3.63) its id when the type is gone.
        "volume_type": type_name if at >= TYPE_ID_IN_DETAIL else (type_name or v.volume_type_id),
        "bootable": str(v.bootable).lower(), "encrypted": False, "multiattach": v.multiattach,
        "snapshot_id": v.snapshot_id,
        "attachments": [volume_attachment(a, shape.attachment_hosts) for a in v.attachments
                        if a.status is AttachStatus.ATTACHED],
        "source_volid": v.metadata.get("clone_source_volume_id"), "consistencygroup_id": None,
        "replication_status": "disabled", "user_id": v.user_id,
        "created_at": _time(v.created_at), "updated_at": _time(v.updated_at),
        "links": volume_link(base, v),
    }
    if shape.admin:
        body["migration_status"] = v.migration_status
    if at >= GROUP_VOLUME:
        body["group_id"] = v.group_id
    if shape.admin and at >= PROVIDER_ID:
        body["provider_id"] = None
    if at >= SHARED_TARGETS:
        # Each volume is its own NBD export (or RBD image): no target is shared.
        body |= {"shared_targets": False, "service_uuid": None}
    if shape.admin and at >= CLUSTER_NAME:
        body["cluster_name"] = None
    if at >= TYPE_ID_IN_DETAIL:
        body["volume_type_id"] = v.volume_type_id
    if at >= USE_QUOTA:
        body["consumes_quota"] = True
    if shape.tenant_attribute:
        body["os-vol-tenant-attr:tenant_id"] = v.project_id
    if shape.host_attribute:
        body["os-vol-host-attr:host"] = f"{shape.volume_hosts.get(v.backend, 'volclone')}@{v.backend}#{v.backend}"
    if shape.mig_status_attribute:
        # Cinder's migstat is the volume's migration_status; name_id stays None: a migrated volume
        # keeps its own id on the new backend (volclone makes no second volume row).
        body |= {"os-vol-mig-status-attr:migstat": v.migration_status, "os-vol-mig-status-attr:name_id": None}
    return body


def volume_metadata(v: Volume) -> dict[str, str]:
    """A volume's metadata as Cinder's views show it: with the admin metadata ``readonly``
    (``"True"``/``"False"``) once os-update_readonly_flag set it."""
    if v.readonly is None:
        return dict(v.metadata)
    return {**v.metadata, "readonly": str(v.readonly)}


def volume_attachment(a: Attachment, with_host: bool = True) -> dict[str, Any]:
    """An attachment inside a volume's record (Cinder lists the completed ones only, and shows
    ``host_name`` to admins and services only)."""
    return {"id": a.volume_id, "attachment_id": a.id, "volume_id": a.volume_id, "server_id": a.instance_uuid,
            "host_name": a.host if with_host else None, "device": a.mountpoint,
            "attached_at": _time(a.attached_at)}


def attachment_summary(a: Attachment) -> dict[str, Any]:
    return {"id": a.id, "status": a.status.value, "instance": a.instance_uuid, "volume_id": a.volume_id}


def attachment(a: Attachment) -> dict[str, Any]:
    """Cinder's detailed attachment; like Cinder, a time not set yet is ``""``."""
    return {**attachment_summary(a), "attached_at": _time(a.attached_at) or "", "detached_at": "",
            "attach_mode": a.mode.value, "connection_info": a.connection_info}


def progress(p: CloneProgress) -> dict[str, Any]:
    """get_progress: the spec shows fields both inside ``details`` and at the top level; serve both."""
    flow_details = {p.flow_name: p.flow_state.value}
    details: dict[str, Any] = {
        "results": dict(p.results), "completed_tasks": p.completed_tasks, "pending_tasks": p.pending_tasks,
        "progress": p.progress, "flow_details": flow_details, **p.extra,
    }
    return {"details": details, "progress": p.progress, "pending_tasks": p.pending_tasks,
            "flow_details": flow_details, "task_id": p.task_id}


def clone_plan(plan: ClonePlan) -> dict[str, Any]:
    """A dry run's answer: each clone in request order, the set's consistency method and totals."""
    clones = []
    for c in plan.clones:
        entry: dict[str, Any] = {
            "source_id": c.source_id, "name": c.name, "size": c.size,
            "volume_type": {"id": c.volume_type.id, "name": c.volume_type.name}, "backend": c.backend,
            "method": str(c.method), "bytes_to_copy": c.bytes_to_copy,
            "estimate": {"copy_seconds": c.copy_seconds, "bytes_per_second": c.bytes_per_second,
                         "rate_from": "default" if c.bytes_per_second is not None else None},
            "consistency_method": c.consistency_method, "name_pattern": c.name_pattern}
        clones.append(entry)
    return {"clone-volumes": {"plan": {"backend": plan.backend, "consistency_method": plan.consistency_method,
                                       "clones": clones, "totals": plan.totals}}}


def service(s: ListedService, with_cluster: bool, with_backend_state: bool = False) -> dict[str, Any]:
    """One row of os-services: a worker's backend (``host`` is ``worker@backend``) or a
    scheduler (``host`` is the worker). Nothing is replicated; ``cluster`` is there from
    microversion 3.7, and on a volume service ``backend_state`` from 3.49 (``up`` while its
    worker is), as in Cinder."""
    r = s.record
    body: dict[str, Any] = {"binary": r.binary, "host": r.host, "zone": AVAILABILITY_ZONE,
                            "status": "disabled" if r.disabled else "enabled",
                            "state": "up" if s.up else "down", "updated_at": _time(r.heartbeat_at),
                            "disabled_reason": r.disabled_reason}
    if with_cluster:
        body["cluster"] = None
    if r.binary == VOLUME_BINARY:
        body |= {"replication_status": "not-capable", "active_backend_id": None, "frozen": r.frozen}
        if with_backend_state:
            body["backend_state"] = "up" if s.up else "down"
    return body
