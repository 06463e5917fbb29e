"""Group type and group bodies as Cinder's views give them (and Tempest's schemas check)."""

from __future__ import annotations

from typing import Any

from volclone.domain import Group, GroupType, VolumeGroupSnapshot

#: Microversions: group_snapshot_id and source_group_id (3.14); the members' ids on ?list_volume
#: (3.25); the group's project_id (3.58, Cinder's ``GROUP_GROUPSNAPSHOT_PROJECT_ID``).
GROUP_SOURCES = (3, 14)
GROUP_VOLUMES = (3, 25)
GROUP_PROJECT = (3, 58)


def _time(group: Group) -> str | None:
    return group.created_at.isoformat(timespec="microseconds") if group.created_at else None


def group_type(t: GroupType, specs: bool) -> dict[str, Any]:
    """``specs``: the caller passes ``group:access_group_types_specs`` (admins, by default)."""
    body: dict[str, Any] = {"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public}
    if specs:
        body["group_specs"] = dict(t.group_specs)
    return body


def group_summary(g: Group) -> dict[str, Any]:
    return {"id": g.id, "name": g.name}


def group(g: Group, version: tuple[int, int], members: list[str] | None = None) -> dict[str, Any]:
    """``members``: the volume ids to show (3.25 with ``list_volume=true``), else None."""
    body: dict[str, Any] = {
        "id": g.id, "name": g.name, "description": g.description, "status": g.status.value,
        "availability_zone": g.availability_zone, "created_at": _time(g), "group_type": g.group_type_id,
        "volume_types": list(g.volume_type_ids),
    }
    if version >= GROUP_SOURCES:
        body |= {"group_snapshot_id": g.group_snapshot_id, "source_group_id": g.source_group_id}
    if version >= GROUP_PROJECT:
        body["project_id"] = g.project_id
    if members is not None and version >= GROUP_VOLUMES:
        body["volumes"] = members
    return body


def group_snapshot_summary(gs: VolumeGroupSnapshot) -> dict[str, Any]:
    return {"id": gs.id, "name": gs.name}


def group_snapshot_created(gs: VolumeGroupSnapshot) -> dict[str, Any]:
    return {"id": gs.id, "name": gs.name, "group_type_id": gs.group_type_id}


def group_snapshot(gs: VolumeGroupSnapshot, version: tuple[int, int] = (3, 0)) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": gs.id, "group_id": gs.group_id, "group_type_id": gs.group_type_id, "name": gs.name,
        "description": gs.description, "status": gs.status.value,
        "created_at": gs.created_at.isoformat(timespec="microseconds") if gs.created_at else None}
    if version >= GROUP_PROJECT:
        body["project_id"] = gs.project_id
    return body
