"""POST /v3/{project_id}/volumes/{volume_id}/action: one action per request.

    os-initialize_connection | os-attach | os-detach | os-terminate_connection
        Cinder's older attach actions, on the same attachment records as /attachments.
    os-flatten {}
        volclone's own: make a linked clone (or a source with a snapshot chain) independent of
        every layer below its own, now. The service also does it in the background when a
        chain grows past VOLCLONE_MAX_CHAIN_DEPTH.

    os-extend {"new_size": N}
        Grow the volume: an ``available`` one, or an ``in-use`` one from microversion 3.42 (rule
        ``volume:extend_attached_volume`` then), as Cinder.
    os-retype {"new_type": T, "migration_policy": "never" | "on-demand"}
        Give the volume type T (name or id): on the same backend the type changes; on another
        one, with ``on-demand``, an ``available`` volume's data moves there (it keeps its id;
        ``volclone.service.retype``). Rule ``volume:retype``.
    os-extend_volume_completion {"error": B}
        From 3.71 (below: 404), admins: Nova's answer to an extend Cinder handed it. volclone
        finishes every extend itself, so no volume waits for one: a 400 for any volume.
    os-set_bootable {"bootable": B} (200) | os-update_readonly_flag {"readonly": B}
    os-reset_status {"status", "attach_status", "migration_status"} | os-force_delete (admins)
    os-reserve | os-unreserve | os-begin_detaching | os-roll_detaching
        Nova's status steps around the older attach actions, with Cinder's transitions.
    revert {"snapshot_id": S}
        From microversion 3.40 (below it the action is unknown, 404 as Cinder's version-gated
        action): put the volume back to its latest snapshot (rule ``volume:revert_to_snapshot``).

Every action answers 202 and no body, but os-initialize_connection (its connection_info) and
os-set_bootable (200, as Cinder).

Policy, as in Cinder: the route needs ``volume:get`` (checked before the body is read), then each
action its own rule (:data:`ACTION_RULES`, checked once the body says which action it is).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api.deps import enforce, principal, rule, service
from volclone.api.schemas import VolumeActionBody
from volclone.api.versions import fmt
from volclone.domain import AttachMode, Principal, VolumeStatus
from volclone.errors import BadRequest, CapabilityMissing, NotFound
from volclone.service.retype import Retyper

router = APIRouter(prefix="/v3/{project_id}/volumes/{volume_id}/action")

_ACTIONS = "volume_extension:volume_actions"
#: The body's action (its field name) -> the policy rule it needs besides the route's volume:get.
ACTION_RULES = {
    "os_initialize_connection": f"{_ACTIONS}:initialize_connection",
    "os_attach": f"{_ACTIONS}:attach",
    "os_detach": f"{_ACTIONS}:detach",
    "os_terminate_connection": f"{_ACTIONS}:terminate_connection",
    "os_flatten": f"{_ACTIONS}:flatten",
    "os_reserve": f"{_ACTIONS}:reserve",
    "os_unreserve": f"{_ACTIONS}:unreserve",
    "os_begin_detaching": f"{_ACTIONS}:begin_detaching",
    "os_roll_detaching": f"{_ACTIONS}:roll_detaching",
    "os_extend": "volume:extend",  # or EXTEND_ATTACHED_RULE, by the volume's status (see below)
    "os_set_bootable": "volume:update",
    "os_update_readonly_flag": "volume:update_readonly_flag",
    "os_reset_status": "volume_extension:volume_admin_actions:reset_status",
    "os_force_delete": "volume_extension:volume_admin_actions:force_delete",
    "os_revert": "volume:revert_to_snapshot",
    "os_retype": "volume:retype",
    "os_extend_volume_completion": "volume_extension:volume_admin_actions:extend_volume_completion",
}
EXTEND_ATTACHED_RULE = "volume:extend_attached_volume"
#: The microversion from which an in-use volume can be extended (Cinder's ``VOLUME_EXTEND_INUSE``).
EXTEND_IN_USE_VERSION = (3, 42)
#: The microversion of ``revert`` (Cinder's ``VOLUME_REVERT``).
REVERT_VERSION = (3, 40)
#: The microversion of ``os-extend_volume_completion`` (Cinder's ``EXTEND_VOLUME_COMPLETION``).
EXTEND_COMPLETION_VERSION = (3, 71)
#: The actions whose body holds nothing (Cinder's clients send null).
_NO_OPTIONS = frozenset({"os_force_delete", "os_reserve", "os_unreserve", "os_begin_detaching",
                         "os_roll_detaching"})


@router.post("")
@rule("volume:get")
def volume_action(project_id: str, volume_id: str, body: VolumeActionBody, request: Request,
                  who: Principal = Depends(principal)) -> Any:
    (name,) = body.model_fields_set
    if getattr(body, name) is None and name not in _NO_OPTIONS:
        enforce(request, ACTION_RULES[name], project_id)
        raise BadRequest(f"{VolumeActionBody.model_fields[name].alias} needs an object")
    volumes = service(request).volumes
    if body.os_extend is not None:
        # From 3.42 Cinder decides by the volume's status which of the two rules (and checks)
        # apply, so it reads the volume first; below, the rule is always volume:extend.
        attached = (getattr(request.state, "api_version", (3, 0)) >= EXTEND_IN_USE_VERSION
                    and volumes.get(who, project_id, volume_id).status is VolumeStatus.IN_USE)
        enforce(request, EXTEND_ATTACHED_RULE if attached else ACTION_RULES[name], project_id)
        volumes.extend(who, project_id, volume_id, body.os_extend.new_size, attached=attached)
        return Response(status_code=202)
    if body.os_revert is not None:
        version = getattr(request.state, "api_version", (3, 0))
        if version < REVERT_VERSION:
            raise NotFound(f"There is no such action: revert (it needs microversion {fmt(REVERT_VERSION)} "
                           f"or later; this request is {fmt(version)})")
        enforce(request, ACTION_RULES[name], project_id)
        snaps = service(request).snapshots
        if snaps is None:
            raise CapabilityMissing("this service has no snapshots")
        snaps.revert(who, project_id, volume_id, body.os_revert.snapshot_id)
        return Response(status_code=202)
    if body.os_extend_volume_completion is not None:
        version = getattr(request.state, "api_version", (3, 0))
        if version < EXTEND_COMPLETION_VERSION:
            raise NotFound(f"There is no such action: os-extend_volume_completion (it needs microversion "
                           f"{fmt(EXTEND_COMPLETION_VERSION)} or later; this request is {fmt(version)})")
        enforce(request, ACTION_RULES[name], project_id)
        vol = volumes.get(who, project_id, volume_id)
        # Cinder takes it only for a volume whose driver handed the extend to Nova (status extending,
        # the new size in its admin metadata). volclone resizes attached volumes itself
        # (block_resize), so no volume ever waits for it: always a 400, as Cinder's for such a volume.
        raise BadRequest(f"Invalid volume: volume {vol.id} is not waiting for an extend completion (status "
                         f"{vol.status.value}; volclone finishes every extend itself)")
    enforce(request, ACTION_RULES[name], project_id)
    if body.os_retype is not None:
        Retyper(volumes).retype(who, project_id, volume_id, body.os_retype.new_type,
                                body.os_retype.migration_policy)
        return Response(status_code=202)
    if body.os_flatten is not None:
        volumes.flatten(who, project_id, volume_id)
        return Response(status_code=202)
    if body.os_set_bootable is not None:
        volumes.set_bootable(who, project_id, volume_id, body.os_set_bootable.bootable)
        return Response(status_code=200, media_type="text/html")  # Cinder's empty 200
    if body.os_update_readonly_flag is not None:
        volumes.update_readonly_flag(who, project_id, volume_id, body.os_update_readonly_flag.readonly)
        return Response(status_code=202)
    if name == "os_force_delete":
        volumes.delete(who, project_id, volume_id, force=True)
        return Response(status_code=202)
    svc = service(request).attachments
    if body.os_reset_status is not None:
        r = body.os_reset_status
        svc.reset_status(who, project_id, volume_id, r.status, r.attach_status, r.migration_status)
    elif name == "os_reserve":
        svc.reserve(who, project_id, volume_id)
    elif name == "os_unreserve":
        svc.unreserve(who, project_id, volume_id)
    elif name == "os_begin_detaching":
        svc.begin_detaching(who, project_id, volume_id)
    elif name == "os_roll_detaching":
        svc.roll_detaching(who, project_id, volume_id)
    elif body.os_initialize_connection is not None:
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
