"""/v3/{project_id}/types: volume types, their extra specs and who may use a private one.

Create, update, delete, extra-spec changes and type access are admin-only (Cinder's rules). A
private type is seen by admins and by the projects granted it (``addProjectAccess``). Lists take
Cinder's ``is_public`` filter (admins only; see :meth:`VolumeTypeService.list`) and, from 3.52,
``extra_specs``.
"""

from __future__ import annotations

import ast
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import views
from volclone.api.deps import allows, api_version, check_project_id, enforce, principal, rule, service
from volclone.api.schemas import (
    MAX_TEXT,
    ExtraSpecsBody,
    TypeActionBody,
    VolumeTypeCreateBody,
    VolumeTypeUpdateBody,
)
from volclone.domain import Principal, VolumeType
from volclone.errors import BadRequest, NotFound

router = APIRouter(prefix="/v3/{project_id}/types")

#: The body's action (its field name) -> the policy rule it needs besides the route's type_get.
ACTION_RULES = {
    "add_project_access": "volume_extension:volume_type_access:addProjectAccess",
    "remove_project_access": "volume_extension:volume_type_access:removeProjectAccess",
}
#: ``?extra_specs=`` filters the list from 3.52 (Cinder's ``SUPPORT_VOLUME_TYPE_FILTER``); below, ignored.
TYPE_FILTER_VERSION = (3, 52)
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


def is_public_filter(value: str | None) -> bool | None:
    """Cinder's ``?is_public=``: absent is true (public types, and those granted to the caller),
    ``none`` is every type, else a boolean as oslo's ``bool_from_string`` reads one (400 otherwise)."""
    if value is None:
        return True
    v = value.strip().lower()
    if v == "none":
        return None
    if v in _TRUE or v in _FALSE:
        return v in _TRUE
    shown = value if len(value) <= 32 else value[:32] + "..."
    raise BadRequest(f"Invalid is_public filter [{shown}]")


def _shown(request: Request, types: list[VolumeType]) -> list[dict[str, Any]]:
    """Types as Cinder's show and lists give them to the caller (the field rules asked once)."""
    qos, access = allows(request, views.TYPE_QOS_RULE), allows(request, views.TYPE_ACCESS_RULE)
    qos_service = service(request).qos
    specs = qos_service.type_specs() if qos and qos_service is not None else {}
    return [views.volume_type(t, qos_specs_id=qos, access_is_public=access, qos=specs) for t in types]


@router.get("")
@rule("volume_extension:type_get_all")
def list_types(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    # Only admins choose; Cinder does not even read the filter of anyone else.
    is_public = is_public_filter(request.query_params.get("is_public")) if who.is_admin else True
    types = service(request).types.list(who, is_public)
    specs = request.query_params.get("extra_specs")
    if specs is not None and api_version(request) >= TYPE_FILTER_VERSION:
        types = [t for t in types if has_specs(t, specs)]
    return {"volume_types": _shown(request, types)}


def has_specs(t: VolumeType, wanted: str) -> bool:
    """3.52's ``?extra_specs={"k": "v", ...}`` (a Python literal or JSON): ``t`` has every item,
    among the specs the caller sees (a value that is not a dict matches no type)."""
    try:
        items = ast.literal_eval(wanted)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    if not isinstance(items, dict):
        return False
    return all(t.extra_specs.get(str(k)) == str(v) for k, v in items.items())


@router.post("")
@rule("volume_extension:types_manage")
def create_type(body: VolumeTypeCreateBody, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    t = body.volume_type
    is_public = t.is_public if t.is_public is not None else t.os_volume_type_access_is_public
    created = service(request).types.create(who, t.name, t.description, is_public, t.extra_specs)
    return {"volume_type": views.volume_type(created, access_is_public=allows(request, views.TYPE_ACCESS_RULE))}


@router.get("/default")
@rule("volume_extension:type_get")
def default_type(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume_type": _shown(request, [service(request).types.default(who)])[0]}


@router.get("/{type_id}")
@rule("volume_extension:type_get")
def show_type(type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"volume_type": _shown(request, [service(request).types.show(who, type_id)])[0]}


@router.put("/{type_id}")
@rule("volume_extension:types_manage")
def update_type(type_id: str, body: VolumeTypeUpdateBody, request: Request,
                who: Principal = Depends(principal)) -> dict[str, Any]:
    u = body.volume_type
    updated = service(request).types.update(who, type_id, u.name, u.description, u.public)
    return {"volume_type": views.volume_type(updated)}


@router.get("/{type_id}/os-volume-type-access")
@rule("volume_extension:volume_type_access:get_all_for_type")
def list_type_access(type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return views.type_access(type_id, service(request).types.access_list(who, type_id))


@router.post("/{type_id}/action", status_code=202)
@rule("volume_extension:type_get")
def type_action(project_id: str, type_id: str, body: TypeActionBody, request: Request,
                who: Principal = Depends(principal)) -> Response:
    (name,) = body.model_fields_set
    enforce(request, ACTION_RULES[name], project_id)
    access = getattr(body, name)
    if access is None:
        raise BadRequest(f"{TypeActionBody.model_fields[name].alias} needs an object")
    check_project_id(access.project)
    types = service(request).types
    if body.add_project_access is not None:
        types.add_access(who, type_id, access.project)
    else:
        types.remove_access(who, type_id, access.project)
    return Response(status_code=202)


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


@router.delete("/{type_id}/extra_specs/{key}", status_code=202)
@rule("volume_extension:types_extra_specs:delete")
def delete_spec(type_id: str, key: str, request: Request, who: Principal = Depends(principal)) -> Response:
    service(request).types.unset_extra_spec(who, type_id, key)
    return Response(status_code=202)  # Cinder's (Tempest's schema checks it)
