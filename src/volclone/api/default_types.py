"""/v3/default-types: a project's own default volume type (microversion 3.62; below, 404).

    PUT    /v3/default-types/{target}  {"default_type": {"volume_type": NAME_OR_ID}}
                                       {"default_type": {"project_id", "volume_type_id"}}
    GET    /v3/default-types/{target}  the same answer (404 if the project has none)
    GET    /v3/default-types           {"default_types": [...]}
    DELETE /v3/default-types/{target}  204

Each also under ``/v3/{project_id}/default-types`` (the caller's project, as cinderclient calls
it). Each call has its own rule, admins only by default. A project's default is the type its volumes get when a create
names none, and what ``GET /types/default`` answers its members; a type that is some project's
default can't be deleted (400) until it is unset there.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from volclone.api.deps import api_version, check_project_id, principal, rule, service
from volclone.api.schemas import Strict
from volclone.api.versions import fmt
from volclone.domain import Principal
from volclone.errors import NotFound

#: Cinder's ``DEFAULT_TYPE_OVERRIDES``.
DEFAULT_TYPES_VERSION = (3, 62)


def require_version(request: Request) -> None:
    version = api_version(request)
    if version < DEFAULT_TYPES_VERSION:
        raise NotFound(f"API version {fmt(version)} is not supported on this method; default types need "
                       f"microversion {fmt(DEFAULT_TYPES_VERSION)} or later")


#: Cinder serves both: ``/v3/default-types`` and, as python-cinderclient calls it from its
#: project endpoint, ``/v3/{project_id}/default-types`` (the caller's project, not the target).
router = APIRouter(dependencies=[Depends(require_version)])
_PATHS = ("/v3/default-types", "/v3/{project_id}/default-types")


class DefaultType(Strict):
    volume_type: str = Field(min_length=1, max_length=255)


class DefaultTypeBody(Strict):
    default_type: DefaultType


def _view(project_id: str, type_id: str) -> dict[str, str]:
    return {"project_id": project_id, "volume_type_id": type_id}


@rule("volume_extension:default_set_or_update")
def set_default_type(target_project_id: str, body: DefaultTypeBody, request: Request,
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    check_project_id(target_project_id)
    type_id = service(request).types.set_project_default(target_project_id, body.default_type.volume_type)
    return {"default_type": _view(target_project_id, type_id)}


@rule("volume_extension:default_get")
def show_default_type(target_project_id: str, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    type_id = service(request).types.project_defaults().get(target_project_id)
    if type_id is None:
        raise NotFound(f"Default type for project {target_project_id} not found.")
    return {"default_type": _view(target_project_id, type_id)}


@rule("volume_extension:default_get_all")
def list_default_types(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"default_types": [_view(p, t) for p, t in service(request).types.project_defaults().items()]}


@rule("volume_extension:default_unset")
def unset_default_type(target_project_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    service(request).types.unset_project_default(target_project_id)
    return Response(status_code=204)


for _path in _PATHS:
    router.add_api_route(_path + "/{target_project_id}", set_default_type, methods=["PUT"])
    router.add_api_route(_path + "/{target_project_id}", show_default_type, methods=["GET"])
    router.add_api_route(_path, list_default_types, methods=["GET"])
    router.add_api_route(_path + "/{target_project_id}", unset_default_type, methods=["DELETE"], status_code=204)
