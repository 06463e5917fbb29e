"""How records look on the wire (Cinder v3's shapes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from volclone.domain import VOLUME_BINARY, Attachment, AttachStatus, CloneProgress, Volume, VolumeType
from volclone.service.services import ListedService


def _time(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="microseconds") if t else None


def volume_type(t: VolumeType) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
            "os-volume-type-access:is_public": t.is_public, "extra_specs": dict(t.extra_specs),
            "qos_specs_id": None}


def volume_link(base: str, v: Volume) -> list[dict[str, str]]:
    return [{"rel": "self", "href": f"{base}/v3/{v.project_id}/volumes/{v.id}"},
            {"rel": "bookmark", "href": f"{base}/{v.project_id}/volumes/{v.id}"}]


def volume_summary(base: str, v: Volume) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "links": volume_link(base, v)}


def volume(base: str, v: Volume, type_name: str | None, admin: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": v.id, "name": v.name, "description": v.description, "size": v.size,
        "status": v.status.value, "volume_type": type_name, "volume_type_id": v.volume_type_id,
        "metadata": volume_metadata(v), "availability_zone": "nova", "bootable": str(v.bootable).lower(),
        "encrypted": False, "multiattach": False, "snapshot_id": None,
        "attachments": [volume_attachment(a) for a in v.attachments if a.status is AttachStatus.ATTACHED],
        "source_volid": v.metadata.get("clone_source_volume_id"), "consistencygroup_id": None,
        "group_id": None, "replication_status": "disabled", "migration_status": v.migration_status,
        "user_id": None, "os-vol-tenant-attr:tenant_id": v.project_id,
        "created_at": _time(v.created_at), "updated_at": _time(v.updated_at),
        "links": volume_link(base, v),
    }
    if admin:
        body["os-vol-host-attr:host"] = f"volclone@{v.backend}#{v.backend}"
    return body


def volume_metadata(v: Volume) -> dict[str, str]:
    """A volume's metadata as Cinder's views show it: with the admin metadata ``readonly``
    (``"True"``/``"False"``) once os-update_readonly_flag set it."""
    if v.readonly is None:
        return dict(v.metadata)
    return {**v.metadata, "readonly": str(v.readonly)}


def volume_attachment(a: Attachment) -> dict[str, Any]:
    """An attachment inside a volume's record (Cinder lists the completed ones only)."""
    return {"id": a.volume_id, "attachment_id": a.id, "volume_id": a.volume_id, "server_id": a.instance_uuid,
            "host_name": a.host, "device": a.mountpoint, "attached_at": _time(a.attached_at)}


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


def service(s: ListedService, with_cluster: bool) -> dict[str, Any]:
    """One row of os-services: a worker's backend (``host`` is ``worker@backend``). Nothing is
    disabled or replicated yet; ``cluster`` is there from microversion 3.7, as in Cinder."""
    r = s.record
    body: dict[str, Any] = {"binary": r.binary, "host": r.host, "zone": "nova", "status": "enabled",
                            "state": "up" if s.up else "down", "updated_at": _time(r.heartbeat_at),
                            "disabled_reason": None}
    if with_cluster:
        body["cluster"] = None
    if r.binary == VOLUME_BINARY:
        body |= {"replication_status": "not-capable", "active_backend_id": None, "frozen": False}
    return body
