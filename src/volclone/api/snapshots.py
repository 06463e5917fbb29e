"""Cinder's snapshots: ``/v3/{project_id}/snapshots``.

    POST   /snapshots                      create (202); an in-use volume needs "force": true below 3.66
    GET    /snapshots, /snapshots/detail   lists: filters, sort, paging (volclone.api.snapshot_listing)
    GET    /snapshots/{id}                 show
    PUT    /snapshots/{id}                 name, description
    DELETE /snapshots/{id}                 delete (202), from available or error
    GET|POST|PUT /snapshots/{id}/metadata, GET|PUT|DELETE /snapshots/{id}/metadata/{key}
    POST   /snapshots/{id}/action          os-reset_status, os-force_delete (admins);
                                           os-update_snapshot_status (admin, project member)

Policy, as in Cinder: each route names its rule; an action needs ``volume:get_snapshot`` first,
then the action's own rule (:data:`ACTION_RULES`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import listing, snapshot_listing, snapshot_views
from volclone.api.deps import allows, api_version, enforce, principal, rule, service
from volclone.api.schemas import MetadataBody, MetaItemBody
from volclone.api.snapshot_schemas import SnapshotActionBody, SnapshotCreateBody, SnapshotUpdateBody
from volclone.domain import Principal, Snapshot
from volclone.errors import BadRequest, CapabilityMissing, NotFound
from volclone.service.snapshots import SnapshotService

router = APIRouter(prefix="/v3/{project_id}/snapshots")

#: From 3.66 an in-use volume is snapshotted without ``force`` (Cinder's ``SNAPSHOT_IN_USE``).
SNAPSHOT_IN_USE_VERSION = (3, 66)

ACTION_RULES = {
    "os_reset_status": "volume_extension:snapshot_admin_actions:reset_status",
    "os_force_delete": "volume_extension:snapshot_admin_actions:force_delete",
    "os_update_snapshot_status": "snapshot_extension:snapshot_actions:update_snapshot_status",
}


def _svc(request: Request) -> SnapshotService:
    snaps = service(request).snapshots
    if snaps is None:
        raise CapabilityMissing("this service has no snapshots")
    return snaps


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _show(request: Request, snaps: list[Snapshot], extended: bool) -> list[dict[str, Any]]:
    extended = extended and allows(request, snapshot_views.EXTENDED_ATTRIBUTES_RULE)
    return [snapshot_views.snapshot(s, api_version(request), extended) for s in snaps]


def _list(request: Request, who: Principal, project_id: str, collection: str, extended: bool) -> dict[str, Any]:
    parsed = snapshot_listing.snapshot_list(request.query_params.multi_items(), api_version(request), who.is_admin)
    svc = _svc(request)
    snaps = svc.page(who, project_id, parsed.query, parsed.all_projects)
    body: dict[str, Any] = {"snapshots": _show(request, snaps, extended)}
    body.update(listing.paging_links(request, "snapshots", f"/v3/{project_id}/{collection}", snaps, parsed.limit))
    if parsed.with_count:
        body["count"] = svc.count(who, project_id, parsed.query, parsed.all_projects)
    return body


@router.get("")
@rule("volume:get_all_snapshots")
def list_snapshots(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "snapshots", extended=False)


@router.get("/detail")
@rule("volume:get_all_snapshots")
def list_snapshots_detail(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, "snapshots/detail", extended=True)


@router.post("", status_code=202)
@rule("volume:create_snapshot")
def create_snapshot(project_id: str, body: SnapshotCreateBody, request: Request,
                    who: Principal = Depends(principal)) -> dict[str, Any]:
    b = body.snapshot
    if b.volume_id is None:
        raise NotFound("Volume None could not be found.")
    force = bool(b.force)
    if api_version(request) >= SNAPSHOT_IN_USE_VERSION:
        # From 3.66 an in-use volume needs no force; force=true is still taken (and means nothing),
        # force=false is refused, as Cinder does.
        if b.force is False:
            raise BadRequest("The 'force' flag is not valid from microversion 3.66 on: leave it out "
                             "(an in-use volume is snapshotted without it)")
        force = True
    snap = _svc(request).create(who, project_id, b.volume_id,
                                name=b.name if b.name is not None else b.display_name,
                                description=b.description if b.description is not None else b.display_description,
                                force=force, metadata=b.metadata or {})
    return {"snapshot": _show(request, [snap], extended=False)[0]}


@router.get("/{snapshot_id}")
@rule("volume:get_snapshot")
def show_snapshot(project_id: str, snapshot_id: str, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"snapshot": _show(request, [_svc(request).get(who, project_id, snapshot_id)], extended=True)[0]}


@router.put("/{snapshot_id}")
@rule("volume:update_snapshot")
def update_snapshot(project_id: str, snapshot_id: str, body: SnapshotUpdateBody, request: Request,
                    who: Principal = Depends(principal)) -> dict[str, Any]:
    u = body.snapshot
    fields: dict[str, str | None] = {}
    if "name" in u.model_fields_set or "display_name" in u.model_fields_set:
        fields["name"] = u.name if "name" in u.model_fields_set else u.display_name
    if "description" in u.model_fields_set or "display_description" in u.model_fields_set:
        fields["description"] = u.description if "description" in u.model_fields_set else u.display_description
    snap = _svc(request).update(who, project_id, snapshot_id, **fields)
    return {"snapshot": _show(request, [snap], extended=False)[0]}


@router.delete("/{snapshot_id}", status_code=202)
@rule("volume:delete_snapshot")
def delete_snapshot(project_id: str, snapshot_id: str, request: Request,
                    who: Principal = Depends(principal)) -> Response:
    _svc(request).delete(who, project_id, snapshot_id)
    return Response(status_code=202)


@router.post("/{snapshot_id}/action")
@rule("volume:get_snapshot")
def snapshot_action(project_id: str, snapshot_id: str, body: SnapshotActionBody, request: Request,
                    who: Principal = Depends(principal)) -> Response:
    (name,) = body.model_fields_set
    enforce(request, ACTION_RULES[name], project_id)
    svc = _svc(request)
    if body.os_reset_status is not None:
        svc.reset_status(who, project_id, snapshot_id, body.os_reset_status.status)
    elif name == "os_force_delete":
        svc.delete(who, project_id, snapshot_id, force=True)
    elif body.os_update_snapshot_status is not None:
        update = body.os_update_snapshot_status
        svc.update_status(who, project_id, snapshot_id, update.status, update.progress)
    else:
        raise BadRequest(f"{SnapshotActionBody.model_fields[name].alias} needs an object")
    return Response(status_code=202)


# -- metadata ---------------------------------------------------------------------------------
@router.get("/{snapshot_id}/metadata")
@rule("volume:get_snapshot_metadata")
def show_metadata(project_id: str, snapshot_id: str, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": _svc(request).get(who, project_id, snapshot_id).metadata}


@router.post("/{snapshot_id}/metadata")
@rule("volume:update_snapshot_metadata")
def add_metadata(project_id: str, snapshot_id: str, body: MetadataBody, request: Request,
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": _svc(request).set_metadata(who, project_id, snapshot_id, body.metadata)}


@router.put("/{snapshot_id}/metadata")
@rule("volume:update_snapshot_metadata")
def replace_metadata(project_id: str, snapshot_id: str, body: MetadataBody, request: Request,
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": _svc(request).set_metadata(who, project_id, snapshot_id, body.metadata, replace=True)}


@router.get("/{snapshot_id}/metadata/{key}")
@rule("volume:get_snapshot_metadata")
def show_meta_item(project_id: str, snapshot_id: str, key: str, request: Request,
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    meta = _svc(request).get(who, project_id, snapshot_id).metadata
    if key not in meta:
        raise NotFound(f"Metadata item was not found: snapshot {snapshot_id} has no metadata key {key}")
    return {"meta": {key: meta[key]}}


@router.put("/{snapshot_id}/metadata/{key}")
@rule("volume:update_snapshot_metadata")
def set_meta_item(project_id: str, snapshot_id: str, key: str, body: MetaItemBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    if list(body.meta) != [key]:
        raise BadRequest("Request body and URI mismatch: the body's meta must hold exactly the key named in the URL")
    _svc(request).set_metadata(who, project_id, snapshot_id, body.meta)
    return {"meta": body.meta}


@router.delete("/{snapshot_id}/metadata/{key}")
@rule("volume:delete_snapshot_metadata")
def delete_meta_item(project_id: str, snapshot_id: str, key: str, request: Request,
                     who: Principal = Depends(principal)) -> Response:
    _svc(request).delete_metadata(who, project_id, snapshot_id, key)
    return Response(status_code=200)
