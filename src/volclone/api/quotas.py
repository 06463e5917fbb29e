"""/v3/{project_id}/os-quota-sets and /v3/{project_id}/limits, as Cinder answers them.

Anyone may read its own project's quotas and limits; an admin reads any project's and is the
only one who changes them (PUT) or sets them back to the defaults (DELETE).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from volclone.api.deps import api_version, check_project_id, principal, rule, service
from volclone.api.schemas import QuotaSetUpdateBody
from volclone.domain import Principal
from volclone.errors import BadRequest
from volclone.service.quotas import QuotaUsage

router = APIRouter(prefix="/v3/{project_id}")
#: ``GET /limits?project_id=`` (Cinder's ``LIMITS_ADMIN_FILTER``).
LIMITS_ADMIN_FILTER = (3, 39)
#: oslo's ``bool_from_string`` words, as Cinder reads ``?usage=``.
TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


def _flag(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word not in TRUE | FALSE:
        raise BadRequest(f"{name} must be true or false, not {value!r}")
    return word in TRUE


def _usage(u: QuotaUsage) -> dict[str, int]:
    return {"limit": u.limit, "in_use": u.in_use, "reserved": u.reserved, "allocated": u.allocated}


@router.get("/os-quota-sets/{target_project_id}")
@rule("volume_extension:quotas:show")
def show_quotas(project_id: str, target_project_id: str, request: Request,
                usage: str = Query("false", description="true: each resource's limit, in_use, reserved, allocated"),
                who: Principal = Depends(principal)) -> dict[str, Any]:
    check_project_id(target_project_id)
    quotas = service(request).quotas
    body: dict[str, Any] = {"id": target_project_id}
    if _flag("usage", usage):
        body |= {r: _usage(u) for r, u in quotas.show_usage(who, project_id, target_project_id).items()}
    else:
        body |= quotas.show(who, project_id, target_project_id)
    return {"quota_set": body}


@router.get("/os-quota-sets/{target_project_id}/defaults")
@rule("volume_extension:quotas:show")
def default_quotas(project_id: str, target_project_id: str, request: Request,
                   who: Principal = Depends(principal)) -> dict[str, Any]:
    check_project_id(target_project_id)
    defaults = service(request).quotas.defaults(who, project_id, target_project_id)
    return {"quota_set": {"id": target_project_id, **defaults}}


@router.put("/os-quota-sets/{target_project_id}")
@rule("volume_extension:quotas:update")
def update_quotas(project_id: str, target_project_id: str, body: QuotaSetUpdateBody, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    check_project_id(target_project_id)
    return {"quota_set": service(request).quotas.update(
        who, project_id, target_project_id, body.quota_set.limits())}


@router.delete("/os-quota-sets/{target_project_id}")
@rule("volume_extension:quotas:delete")
def delete_quotas(project_id: str, target_project_id: str, request: Request,
                  who: Principal = Depends(principal)) -> Response:
    check_project_id(target_project_id)
    service(request).quotas.delete(who, project_id, target_project_id)
    return Response(status_code=200)


@router.get("/limits")
@rule("limits_extension:used_limits")
def limits(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """From 3.39 ``?project_id=`` names the project (admins: any; a user: its own, else 403)."""
    target = request.query_params.get("project_id") if api_version(request) >= LIMITS_ADMIN_FILTER else None
    if target is not None:
        check_project_id(target)
    return {"limits": {"rate": [], "absolute": service(request).quotas.absolute_limits(who, project_id, target)}}
