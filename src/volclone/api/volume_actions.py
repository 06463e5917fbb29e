"""POST /v3/{project_id}/volumes/{volume_id}/action: one action per request.

    os-initialize_connection | os-attach | os-detach | os-terminate_connection
        Cinder's older attach actions, on the same attachment records as /attachments.
    os-flatten {}
        volclone's own: make a linked clone (or a source with a snapshot chain) independent of
        every layer below its own, now. The service also does it in the background when a
        chain grows past VOLCLONE_MAX_CHAIN_DEPTH.

Policy, as in Cinder: the route needs ``volume:get`` (checked before the body is read), then each
action its own rule (:data:`ACTION_RULES`, checked once the body says which action it is).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api.deps import enforce, principal, rule, service
from volclone.api.schemas import VolumeActionBody
from volclone.domain import AttachMode, Principal
from volclone.errors import BadRequest

router = APIRouter(prefix="/v3/{project_id}/volumes/{volume_id}/action")

_ACTIONS = "volume_extension:volume_actions"
#: The body's action (its field name) -> the policy rule it needs besides the route's volume:get.
ACTION_RULES = {
    "os_initialize_connection": f"{_ACTIONS}:initialize_connection",
    "os_attach": f"{_ACTIONS}:attach",
    "os_detach": f"{_ACTIONS}:detach",
    "os_terminate_connection": f"{_ACTIONS}:terminate_connection",
    "os_flatten": f"{_ACTIONS}:flatten",
}


@router.post("")
@rule("volume:get")
def volume_action(project_id: str, volume_id: str, body: VolumeActionBody, request: Request,
                  who: Principal = Depends(principal)) -> Any:
    (name,) = body.model_fields_set
    enforce(request, ACTION_RULES[name], project_id)
    if getattr(body, name) is None:
        raise BadRequest(f"{VolumeActionBody.model_fields[name].alias} needs an object")
    if body.os_flatten is not None:
        service(request).volumes.flatten(who, project_id, volume_id)
        return Response(status_code=202)
    svc = service(request).attachments
    if body.os_initialize_connection is not None:
        info = svc.initialize_connection(who, project_id, volume_id, body.os_initialize_connection.connector)
        return {"connection_info": info}
    if body.os_attach is not None:
        b = body.os_attach
        svc.attach(who, project_id, volume_id, b.instance_uuid, b.mountpoint,
                   AttachMode(b.mode) if b.mode else None)
    elif body.os_detach is not None:
        svc.detach(who, project_id, volume_id, body.os_detach.attachment_id)
    elif body.os_terminate_connection is not None:
        svc.terminate_connection(who, project_id, volume_id, body.os_terminate_connection.connector)
    return Response(status_code=202)
