"""/v3/{project_id}/types: volume types and their extra specs (create/delete/specs: admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import views
from volclone.api.deps import principal, rule, service
from volclone.api.schemas import MAX_TEXT, ExtraSpecsBody, VolumeTypeCreateBody
from volclone.domain import Principal
from volclone.errors import BadRequest, NotFound

router = APIRouter(prefix="/v3/{project_id}/types")


@router.get("")
@rule("volume_extension:type_get_all")
def list_types(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume_types": [views.volume_type(t) for t in service(request).types.list(who)]}


@router.post("")
@rule("volume_extension:types_manage")
def create_type(body: VolumeTypeCreateBody, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    t = body.volume_type
    is_public = t.is_public if t.is_public is not None else t.os_volume_type_access_is_public
    created = service(request).types.create(who, t.name, t.description, is_public, t.extra_specs)
    return {"volume_type": views.volume_type(created)}


@router.get("/default")
@rule("volume_extension:type_get")
def default_type(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume_type": views.volume_type(service(request).types.default(who))}


@router.get("/{type_id}")
@rule("volume_extension:type_get")
def show_type(type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume_type": views.volume_type(service(request).types.show(who, type_id))}


@router.delete("/{type_id}", status_code=202)
@rule("volume_extension:types_manage")
def delete_type(type_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    service(request).types.delete(who, type_id)
    return Response(status_code=202)


@router.get("/{type_id}/extra_specs")
@rule("volume_extension:types_extra_specs:index")
def list_specs(type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"extra_specs": service(request).types.show(who, type_id).extra_specs}


@router.post("/{type_id}/extra_specs")
@rule("volume_extension:types_extra_specs:create")
def set_specs(type_id: str, body: ExtraSpecsBody, request: Request,
              who: Principal = Depends(principal)) -> dict[str, Any]:
    service(request).types.set_extra_specs(who, type_id, body.extra_specs)
    return {"extra_specs": body.extra_specs}


@router.get("/{type_id}/extra_specs/{key}")
@rule("volume_extension:types_extra_specs:show")
def show_spec(type_id: str, key: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    specs = service(request).types.show(who, type_id).extra_specs
    if key not in specs:
        raise NotFound(f"volume type {type_id} has no extra spec {key}")
    return {key: specs[key]}


@router.put("/{type_id}/extra_specs/{key}")
@rule("volume_extension:types_extra_specs:update")
def update_spec(type_id: str, key: str, body: dict[str, str], request: Request,
                who: Principal = Depends(principal)) -> dict[str, Any]:
    if list(body) != [key]:
        raise BadRequest(f"the body must be {{{key!r}: value}}")
    if len(key) > MAX_TEXT or len(body[key]) > MAX_TEXT:
        raise BadRequest(f"extra spec keys and values are at most {MAX_TEXT} characters")
    service(request).types.set_extra_specs(who, type_id, body)
    return body


@router.delete("/{type_id}/extra_specs/{key}")
@rule("volume_extension:types_extra_specs:delete")
def delete_spec(type_id: str, key: str, request: Request, who: Principal = Depends(principal)) -> Response:
    service(request).types.unset_extra_spec(who, type_id, key)
    return Response(status_code=200)
