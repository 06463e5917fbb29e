"""/v3/{project_id}/group_snapshots (microversion 3.14): Cinder's group snapshots.

    POST   /group_snapshots                 create (202): group_id, name, description
    GET    /group_snapshots, /detail        lists (3.29: filters, sort, limit, marker, offset, all_tenants)
    GET    /group_snapshots/{id}            show
    DELETE /group_snapshots/{id}            delete (202)
    POST   /group_snapshots/{id}/action     {"reset_status": {"status": S}} (3.19, admins; 202)

Each route names its Cinder rule (``group:create_group_snapshot``, ``group:get_all_group_snapshots``,
``group:get_group_snapshot``, ``group:delete_group_snapshot``, ``group:reset_group_snapshot_status``).
From 3.58 a detailed body carries its ``project_id``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import group_snapshot_listing, group_views, listing
from volclone.api.deps import api_version, principal, rule, service
from volclone.api.group_schemas import GroupSnapshotActionBody, GroupSnapshotCreateBody
from volclone.api.group_types import check_version
from volclone.api.versions import fmt
from volclone.domain import Principal
from volclone.errors import CapabilityMissing, NotFound
from volclone.service.group_snapshots import GroupSnapshotService

#: The microversion that brought group snapshots (Cinder's ``GROUP_SNAPSHOTS``).
GROUP_SNAPSHOTS_VERSION = (3, 14)
#: The admins' reset_status action (Cinder's ``GROUP_SNAPSHOT_RESET_STATUS``).
RESET_STATUS_VERSION = (3, 19)


def _require(request: Request) -> None:
    check_version(request, GROUP_SNAPSHOTS_VERSION, "group snapshots")


router = APIRouter(prefix="/v3/{project_id}/group_snapshots", dependencies=[Depends(_require)])


def _svc(request: Request) -> GroupSnapshotService:
    svc = service(request).group_snapshots
    if svc is None:
        raise CapabilityMissing("this service has no group snapshots")
    return svc


def _list(request: Request, who: Principal, project_id: str, collection: str, detailed: bool) -> dict[str, Any]:
    version = api_version(request)
    parsed = group_snapshot_listing.group_snapshot_list(request.query_params.multi_items(), version, who.is_admin)
    found = _svc(request).page(who, project_id, parsed.query, parsed.all_projects)
    body: dict[str, Any] = {"group_snapshots": [
        group_views.group_snapshot(gs, version) if detailed else group_views.group_snapshot_summary(gs)
        for gs in found]}
    if version >= group_snapshot_listing.PAGINATION_VERSION:
        body.update(listing.paging_links(request, "group_snapshots", f"/v3/{project_id}/{collection}", found,
                                         parsed.limit))
    return body


@router.get("")
@rule("group:get_all_group_snapshots")
def list_group_snapshots(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "group_snapshots", detailed=False)


@router.get("/detail")
@rule("group:get_all_group_snapshots")
def list_group_snapshots_detail(project_id: str, request: Request,
                                who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "group_snapshots/detail", detailed=True)


@router.post("", status_code=202)
@rule("group:create_group_snapshot")
def create_group_snapshot(project_id: str, body: GroupSnapshotCreateBody, request: Request,
                          who: Principal = Depends(principal)) -> dict[str, Any]:
    b = body.group_snapshot
    gs = _svc(request).create(who, project_id, b.group_id, name=b.name, description=b.description)
    return {"group_snapshot": group_views.group_snapshot_created(gs)}


@router.get("/{group_snapshot_id}")
@rule("group:get_group_snapshot")
def show_group_snapshot(project_id: str, group_snapshot_id: str, request: Request,
                        who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"group_snapshot": group_views.group_snapshot(_svc(request).get(who, project_id, group_snapshot_id),
                                                         api_version(request))}


@router.delete("/{group_snapshot_id}", status_code=202)
@rule("group:delete_group_snapshot")
def delete_group_snapshot(project_id: str, group_snapshot_id: str, request: Request,
                          who: Principal = Depends(principal)) -> Response:
    _svc(request).delete(who, project_id, group_snapshot_id)
    return Response(status_code=202)


@router.post("/{group_snapshot_id}/action", status_code=202)
@rule("group:reset_group_snapshot_status")
def group_snapshot_action(project_id: str, group_snapshot_id: str, body: GroupSnapshotActionBody,
                          request: Request, who: Principal = Depends(principal)) -> Response:
    if api_version(request) < RESET_STATUS_VERSION:
        raise NotFound(f"There is no such action: reset_status (it needs microversion {fmt(RESET_STATUS_VERSION)})")
    _svc(request).reset_status(who, project_id, group_snapshot_id, body.reset_status.status)
    return Response(status_code=202)
