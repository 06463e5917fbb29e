"""PUT /v3/{project_id}/os-services/{action}: Cinder's service actions (admins).

    PUT /os-services/disable             {"host": "worker-1@ceph", "binary": "cinder-volume"}
        {"host": ..., "binary": ..., "service": "", "disabled": true, "status": "disabled"}
    PUT /os-services/disable-log-reason  {"host": ..., "binary": ..., "disabled_reason": "maintenance"}
    PUT /os-services/enable              {"host": ..., "binary": ...}     (``disabled_reason`` null)
    PUT /os-services/freeze              {"host": "worker-1"}             200, no body
    PUT /os-services/thaw                {"host": "worker-1"}             200, no body

``host`` is a worker (all its backends) or ``worker@backend``; ``service`` is the older name of
``binary``. A disabled volume service gets no new volumes; a frozen backend's volumes take no
management operation (:mod:`volclone.service.service_states`). set-log and get-log are
:mod:`volclone.api.log_levels`'s; any other action is a 400 ``Unknown action``, as Cinder's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from volclone.api.deps import principal, rule, service
from volclone.api.schemas import Strict
from volclone.domain import Principal
from volclone.errors import BadRequest, CapabilityMissing
from volclone.service.service_states import ServiceStates

router = APIRouter(prefix="/v3/{project_id}/os-services")


def _no_cluster(cluster: str | None) -> None:
    if cluster is not None:  # Cinder's 3.26 clusters: volclone has none (its workers are listed as hosts)
        raise BadRequest("Invalid input received: volclone has no clusters; name a host")


class ServiceBody(Strict):
    host: str = Field(min_length=1, max_length=255)
    binary: str | None = Field(None, min_length=1, max_length=255)
    service: str | None = Field(None, min_length=1, max_length=255)
    cluster: str | None = None

    def binary_name(self) -> str:
        _no_cluster(self.cluster)
        name = self.binary or self.service
        if not name:
            raise BadRequest("Invalid input received: binary is required")
        return name

    def echo(self) -> dict[str, Any]:
        return {"host": self.host, "binary": self.binary or "", "service": self.service or ""}


class DisableLogReasonBody(ServiceBody):
    disabled_reason: str = Field(min_length=1, max_length=255)


class HostBody(Strict):
    host: str = Field(min_length=1, max_length=255)
    cluster: str | None = None


def _states(request: Request) -> ServiceStates:
    states = service(request).volumes.states
    if states is None:
        raise CapabilityMissing("this service keeps no service states")
    return states


@router.put("/enable")
@rule("volume_extension:services:update")
def enable(project_id: str, body: ServiceBody, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    _states(request).enable(who, body.host, body.binary_name())
    return {**body.echo(), "disabled": False, "status": "enabled", "disabled_reason": None}


@router.put("/disable")
@rule("volume_extension:services:update")
def disable(project_id: str, body: ServiceBody, request: Request,
            who: Principal = Depends(principal)) -> dict[str, Any]:
    _states(request).disable(who, body.host, body.binary_name())
    return {**body.echo(), "disabled": True, "status": "disabled"}


@router.put("/disable-log-reason")
@rule("volume_extension:services:update")
def disable_log_reason(project_id: str, body: DisableLogReasonBody, request: Request,
                       who: Principal = Depends(principal)) -> dict[str, Any]:
    _states(request).disable(who, body.host, body.binary_name(), reason=body.disabled_reason)
    return {**body.echo(), "disabled": True, "status": "disabled", "disabled_reason": body.disabled_reason}


@router.put("/freeze")
@rule("volume:freeze_host")
def freeze(project_id: str, body: HostBody, request: Request, who: Principal = Depends(principal)) -> Response:
    _no_cluster(body.cluster)
    _states(request).freeze(who, body.host)
    return Response(status_code=200)


@router.put("/thaw")
@rule("volume:thaw_host")
def thaw(project_id: str, body: HostBody, request: Request, who: Principal = Depends(principal)) -> Response:
    _no_cluster(body.cluster)
    _states(request).thaw(who, body.host)
    return Response(status_code=200)


@router.put("/{action}")
@rule("volume_extension:services:update")
def unknown_action(project_id: str, action: str, who: Principal = Depends(principal)) -> Response:
    raise BadRequest("Invalid input received: Unknown action")
