"""/v3/{project_id}/groups (microversion 3.13): Cinder's generic volume groups.

    POST /groups                      create (202): group_type, volume_types, name, description, AZ
    GET  /groups, /groups/detail      lists (limit, marker, offset, sort, all_tenants, filters; 3.25
                                      list_volume): ``group_listing``
    GET  /groups/{id}                 show (3.25: ?list_volume=true adds the members' ids)
    PUT  /groups/{id}                 name, description, add_volumes, remove_volumes (202)
    POST /groups/action               {"create-from-src": {group_snapshot_id | source_group_id, name,
                                      description}} (3.14; 202, the new group's id and name)
    POST /groups/{id}/action          {"delete": {"delete-volumes": bool}} (202);
                                      {"reset_status": {"status": S}} (3.20, admins; 202)

Policy, as in Cinder: each route names its rule; the actions need ``group:get`` first, then
``group:delete`` or ``group:reset_status``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import group_listing, group_views, listing, views
from volclone.api.deps import api_version, enforce, principal, rule, service
from volclone.api.group_schemas import GroupActionBody, GroupCreateBody, GroupsActionBody, GroupUpdateBody, id_list
from volclone.api.group_types import check_version
from volclone.api.versions import fmt
from volclone.domain import Group, Principal
from volclone.errors import BadRequest, CapabilityMissing, NotFound
from volclone.service.groups import GroupService

#: The microversion that brought generic groups (Cinder's ``GROUP_VOLUME``).
GROUPS_VERSION = (3, 13)
#: The rule the delete action needs besides the route's group:get.
DELETE_RULE = "group:delete"
#: The reset_status action: its microversion (Cinder's ``GROUP_STATUS``) and rule.
RESET_STATUS_VERSION = (3, 20)
RESET_STATUS_RULE = "group:reset_status"
#: create-from-src: its microversion (Cinder's ``GROUP_SNAPSHOTS``).
FROM_SRC_VERSION = (3, 14)


def _require(request: Request) -> None:
    check_version(request, GROUPS_VERSION, "groups")


router = APIRouter(prefix="/v3/{project_id}/groups", dependencies=[Depends(_require)])


def _svc(request: Request) -> GroupService:
    groups = service(request).groups
    if groups is None:
        raise CapabilityMissing("this service has no groups")
    return groups


def _list_volume(request: Request) -> bool:
    value = request.query_params.get("list_volume")
    return value is not None and listing.boolean("list_volume", value)


def _detail(request: Request, groups: list[Group]) -> list[dict[str, Any]]:
    svc, version, members = _svc(request), api_version(request), _list_volume(request)
    return [group_views.group(g, version, svc.member_ids(g.id) if members else None) for g in groups]


def _list(request: Request, who: Principal, project_id: str, collection: str, detailed: bool) -> dict[str, Any]:
    parsed = group_listing.group_list(request.query_params.multi_items(), api_version(request), who.is_admin)
    groups = _svc(request).page(who, project_id, parsed.query, parsed.all_projects)
    body: dict[str, Any] = {"groups": _detail(request, groups) if detailed
                            else [group_views.group_summary(g) for g in groups]}
    body.update(listing.paging_links(request, "groups", f"/v3/{project_id}/{collection}", groups, parsed.limit))
    return body


@router.get("")
@rule("group:get_all")
def list_groups(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "groups", detailed=False)


@router.get("/detail")
@rule("group:get_all")
def list_groups_detail(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "groups/detail", detailed=True)


@router.post("", status_code=202)
@rule("group:create")
def create_group(project_id: str, body: GroupCreateBody, request: Request,
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    b = body.group
    if b.availability_zone is not None and b.availability_zone != views.AVAILABILITY_ZONE:
        raise BadRequest(f"Invalid input received: Availability zone '{b.availability_zone}' is invalid.")
    group = _svc(request).create(who, project_id, b.group_type, list(b.volume_types), name=b.name,
                                 description=b.description, availability_zone=views.AVAILABILITY_ZONE)
    return {"group": group_views.group_summary(group)}


@router.post("/action", status_code=202)
@rule("group:create_group_from_src")
def create_group_from_src(project_id: str, body: GroupsActionBody, request: Request,
                          who: Principal = Depends(principal)) -> dict[str, Any]:
    check_version(request, FROM_SRC_VERSION, "groups from a source")
    src = service(request).group_sources
    if src is None:
        raise CapabilityMissing("this service cannot make groups from a source")
    b = body.create_from_src
    group = src.create(who, project_id, group_snapshot_id=b.group_snapshot_id, source_group_id=b.source_group_id,
                       name=b.name, description=b.description)
    return {"group": group_views.group_summary(group)}


@router.get("/{group_id}")
@rule("group:get")
def show_group(project_id: str, group_id: str, request: Request, who: Principal = Depends(principal)
               ) -> dict[str, Any]:
    return {"group": _detail(request, [_svc(request).get(who, project_id, group_id)])[0]}


@router.put("/{group_id}", status_code=202)
@rule("group:update")
def update_group(project_id: str, group_id: str, body: GroupUpdateBody, request: Request,
                 who: Principal = Depends(principal)) -> Response:
    u = body.group
    _svc(request).update(who, project_id, group_id, name=u.name, description=u.description,
                         add_volumes=id_list(u.add_volumes), remove_volumes=id_list(u.remove_volumes))
    return Response(status_code=202)


@router.post("/{group_id}/action", status_code=202)
@rule("group:get")
def group_action(project_id: str, group_id: str, body: GroupActionBody, request: Request,
                 who: Principal = Depends(principal)) -> Response:
    if body.reset_status is not None:
        if api_version(request) < RESET_STATUS_VERSION:
            raise NotFound(f"There is no such action: reset_status (it needs microversion "
                           f"{fmt(RESET_STATUS_VERSION)})")
        enforce(request, RESET_STATUS_RULE, project_id)
        _svc(request).reset_status(who, project_id, group_id, body.reset_status.status)
        return Response(status_code=202)
    enforce(request, DELETE_RULE, project_id)
    delete = body.delete
    _svc(request).delete(who, project_id, group_id, delete_volumes=bool(delete and delete.delete_volumes))
    return Response(status_code=202)
