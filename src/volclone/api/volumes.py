"""/v3/{project_id}/volumes: create, list, show, update, metadata, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import views
from volclone.api.deps import principal, rule, service, volume_shape
from volclone.api.schemas import MetadataBody, MetaItemBody, VolumeCreateBody, VolumeUpdateBody
from volclone.domain import Principal, Volume
from volclone.errors import BadRequest, NotFound

router = APIRouter(prefix="/v3/{project_id}/volumes")

#: List filters a user may give, and the column each one selects.
FILTERS = {"name": "name", "status": "status"}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _detail(request: Request, who: Principal, vols: list[Volume], extended: bool = True) -> list[dict[str, Any]]:
    """Volume records as ``who`` may see them; ``extended=False`` for a create's or an update's answer."""
    names = {t.id: t.name for t in service(request).types.list()}
    shape = volume_shape(request, extended)
    return [views.volume(_base(request), v, names.get(v.volume_type_id), shape) for v in vols]


def _list(request: Request, who: Principal, project_id: str) -> list[Volume]:
    q = request.query_params
    filters = {FILTERS[k]: v for k, v in q.items() if k in FILTERS}
    all_projects = q.get("all_tenants", "0").lower() in ("1", "true")
    vols = service(request).volumes.list(who, project_id, all_projects, filters)
    marker = q.get("marker")
    if marker:
        ids = [v.id for v in vols]
        if marker not in ids:
            raise BadRequest(f"marker {marker} not found")
        vols = vols[ids.index(marker) + 1:]
    if "limit" in q:
        try:
            limit = int(q["limit"])
        except ValueError:
            raise BadRequest("limit must be an integer") from None
        if limit < 0:
            raise BadRequest("limit must be zero or more")
        vols = vols[:limit]
    return vols


@router.get("")
@rule("volume:get_all")
def list_volumes(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volumes": [views.volume_summary(_base(request), v) for v in _list(request, who, project_id)]}


@router.get("/detail")
@rule("volume:get_all")
def list_volumes_detail(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volumes": _detail(request, who, _list(request, who, project_id))}


@router.post("", status_code=202)
@rule("volume:create")
def create_volume(project_id: str, body: VolumeCreateBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    v = body.volume
    assert v.size is not None  # the schema requires it
    name = v.name if v.name is not None else v.display_name
    description = v.description if v.description is not None else v.display_description
    vol = service(request).volumes.create(who, project_id, v.size, name, description, v.volume_type,
                                          v.metadata or {})
    return {"volume": _detail(request, who, [vol], extended=False)[0]}


@router.get("/{volume_id}")
@rule("volume:get")
def show_volume(project_id: str, volume_id: str, request: Request,
                who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume": _detail(request, who, [service(request).volumes.get(who, project_id, volume_id)])[0]}


@router.put("/{volume_id}")
@rule("volume:update")
def update_volume(project_id: str, volume_id: str, body: VolumeUpdateBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    u = body.volume
    fields: dict[str, Any] = {}
    if u.name is not None or u.display_name is not None:
        fields["name"] = u.name if u.name is not None else u.display_name
    if u.description is not None or u.display_description is not None:
        fields["description"] = u.description if u.description is not None else u.display_description
    if u.metadata is not None:
        fields["metadata"] = u.metadata
    if not fields:
        raise BadRequest("nothing to update: give name, description or metadata")
    vol = service(request).volumes.update(who, project_id, volume_id, **fields)
    return {"volume": _detail(request, who, [vol], extended=False)[0]}


@router.delete("/{volume_id}", status_code=202)
@rule("volume:delete")
def delete_volume(project_id: str, volume_id: str, request: Request,
                  who: Principal = Depends(principal)) -> Response:
    service(request).volumes.delete(who, project_id, volume_id)
    return Response(status_code=202)


@router.get("/{volume_id}/metadata")
@rule("volume:get_volume_metadata")
def show_metadata(project_id: str, volume_id: str, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": service(request).volumes.get(who, project_id, volume_id).metadata}


@router.post("/{volume_id}/metadata")
@rule("volume:create_volume_metadata")
def add_metadata(project_id: str, volume_id: str, body: MetadataBody, request: Request,
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": service(request).volumes.set_metadata(who, project_id, volume_id, body.metadata)}


@router.put("/{volume_id}/metadata")
@rule("volume:update_volume_metadata")
def replace_metadata(project_id: str, volume_id: str, body: MetadataBody, request: Request,
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"metadata": service(request).volumes.set_metadata(who, project_id, volume_id, body.metadata,
                                                              replace=True)}


@router.get("/{volume_id}/metadata/{key}")
@rule("volume:get_volume_metadata")
def show_meta_item(project_id: str, volume_id: str, key: str, request: Request,
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    meta = service(request).volumes.get(who, project_id, volume_id).metadata
    if key not in meta:
        raise NotFound(f"volume {volume_id} has no metadata key {key}")
    return {"meta": {key: meta[key]}}


@router.put("/{volume_id}/metadata/{key}")
@rule("volume:update_volume_metadata")
def set_meta_item(project_id: str, volume_id: str, key: str, body: MetaItemBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    if list(body.meta) != [key]:
        raise BadRequest("the body's meta must hold exactly the key named in the URL")
    service(request).volumes.set_metadata(who, project_id, volume_id, body.meta)
    return {"meta": body.meta}


@router.delete("/{volume_id}/metadata/{key}")
@rule("volume:delete_volume_metadata")
def delete_meta_item(project_id: str, volume_id: str, key: str, request: Request,
                     who: Principal = Depends(principal)) -> Response:
    service(request).volumes.delete_metadata(who, project_id, volume_id, key)
    return Response(status_code=200)
