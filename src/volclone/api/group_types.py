"""/v3/{project_id}/group_types (microversion 3.11): group types and their ``group_specs``.

    GET    /group_types, /group_types/{id}          list (is_public, sort, paging), show (private types: admins only)
    POST   /group_types                             create (202; admins)
    PUT    /group_types/{id}                        name, description, is_public (admins)
    DELETE /group_types/{id}                        delete (202; admins), unless a group uses it
    GET|POST /group_types/{id}/group_specs, GET|PUT|DELETE /group_types/{id}/group_specs/{key} (admins)

``group_specs`` is in shows and lists only for callers passing ``group:access_group_types_specs``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import group_views
from volclone.api.deps import allows, api_version, principal, rule, service
from volclone.api.group_schemas import GroupSpecsBody, GroupTypeCreateBody, GroupTypeUpdateBody
from volclone.api.listing import page_params, sort_params
from volclone.api.types import is_public_filter
from volclone.api.versions import fmt
from volclone.domain import GroupType, Principal
from volclone.errors import BadRequest, CapabilityMissing, NotFound
from volclone.service.group_types import MAX_TEXT, SORT_KEYS, GroupTypeService

#: The microversion that brought group types (Cinder's ``GROUP_TYPE``).
GROUP_TYPES_VERSION = (3, 11)
SPECS_RULE = "group:access_group_types_specs"


def check_version(request: Request, at_least: tuple[int, int], what: str) -> None:
    """Below the microversion that brought it, a method does not exist: 404, as Cinder answers."""
    version = api_version(request)
    if version < at_least:
        raise NotFound(f"API version {fmt(version)} is not supported on this method; {what} need microversion "
                       f"{fmt(at_least)} or later (OpenStack-API-Version: volume {fmt(at_least)})")


def _require(request: Request) -> None:
    check_version(request, GROUP_TYPES_VERSION, "group types")


router = APIRouter(prefix="/v3/{project_id}/group_types", dependencies=[Depends(_require)])


def _svc(request: Request) -> GroupTypeService:
    gts = service(request).group_types
    if gts is None:
        raise CapabilityMissing("this service has no group types")
    return gts


def _shown(request: Request, types: list[GroupType]) -> list[dict[str, Any]]:
    specs = allows(request, SPECS_RULE)
    return [group_views.group_type(t, specs) for t in types]


@router.get("")
@rule("group:group_types:get")
def list_group_types(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """Cinder's list: ``is_public`` (admins: absent or true the public types, false the private
    ones, ``none`` every type; anyone else the public ones, whatever it says), ``sort`` (or
    ``sort_key``/``sort_dir``), ``marker``, ``limit``, ``offset``. Other parameters are ignored,
    as Cinder ignores them here."""
    params = dict(request.query_params)
    is_public = is_public_filter(params.get("is_public")) if who.is_admin else True
    sort = sort_params(params, {k: k for k in SORT_KEYS}, frozenset())
    limit, offset = page_params(params)
    types = _svc(request).list(who, is_public, sort, params.get("marker"), limit, offset)
    return {"group_types": _shown(request, types)}


@router.post("", status_code=202)
@rule("group:group_types:create")
def create_group_type(body: GroupTypeCreateBody, request: Request, who: Principal = Depends(principal)
                      ) -> dict[str, Any]:
    t = body.group_type
    made = _svc(request).create(who, t.name, t.description, True if t.is_public is None else bool(t.is_public),
                                t.group_specs)
    return {"group_type": group_views.group_type(made, specs=True)}


@router.get("/default")
@rule("group:group_types:get")
def default_group_type(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    # volclone has no default_group_type setting: Cinder's answer when none is configured.
    raise NotFound("Default group type can not be found.")


@router.get("/{group_type_id}")
@rule("group:group_types:get")
def show_group_type(group_type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"group_type": _shown(request, [_svc(request).get(who, group_type_id)])[0]}


@router.put("/{group_type_id}")
@rule("group:group_types:update")
def update_group_type(group_type_id: str, body: GroupTypeUpdateBody, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    u = body.group_type
    updated = _svc(request).update(who, group_type_id, u.name, u.description,
                                   None if u.is_public is None else bool(u.is_public))
    return {"group_type": group_views.group_type(updated, specs=True)}


@router.delete("/{group_type_id}", status_code=202)
@rule("group:group_types:delete")
def delete_group_type(group_type_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    _svc(request).delete(who, group_type_id)
    return Response(status_code=202)


@router.get("/{group_type_id}/group_specs")
@rule("group:group_types_specs:get_all")
def list_specs(group_type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"group_specs": _svc(request).get(who, group_type_id).group_specs}


@router.post("/{group_type_id}/group_specs", status_code=202)
@rule("group:group_types_specs:create")
def set_specs(group_type_id: str, body: GroupSpecsBody, request: Request,
              who: Principal = Depends(principal)) -> dict[str, Any]:
    _svc(request).set_specs(who, group_type_id, body.group_specs)
    return {"group_specs": body.group_specs}


@router.get("/{group_type_id}/group_specs/{key}")
@rule("group:group_types_specs:get")
def show_spec(group_type_id: str, key: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    specs = _svc(request).get(who, group_type_id).group_specs
    if key not in specs:
        raise NotFound(f"Group Type {group_type_id} has no specs with key {key}.")
    return {key: specs[key]}


@router.put("/{group_type_id}/group_specs/{key}")
@rule("group:group_types_specs:update")
def update_spec(group_type_id: str, key: str, body: dict[str, Any], request: Request,
                who: Principal = Depends(principal)) -> dict[str, Any]:
    if list(body) != [key] or not isinstance(body[key], str):
        raise BadRequest(f"the body must be {{{key!r}: a string value}}, the key the URL names")
    if len(key) > MAX_TEXT or len(body[key]) > MAX_TEXT:
        raise BadRequest(f"group spec keys and values are at most {MAX_TEXT} characters")
    _svc(request).set_specs(who, group_type_id, body)
    return body


@router.delete("/{group_type_id}/group_specs/{key}", status_code=202)
@rule("group:group_types_specs:delete")
def delete_spec(group_type_id: str, key: str, request: Request, who: Principal = Depends(principal)) -> Response:
    _svc(request).unset_spec(who, group_type_id, key)
    return Response(status_code=202)
