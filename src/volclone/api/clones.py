"""/v3/{project_id}/clone-volumes: start a consistent multi-volume clone, watch its progress."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request

from volclone.api import views
from volclone.api.deps import principal, rule, service
from volclone.api.schemas import CloneVolumesBody, RevertBody
from volclone.domain import CloneRequest, Principal, TaskKind
from volclone.errors import BadRequest

router = APIRouter(prefix="/v3/{project_id}/clone-volumes")
ACTION = "clone-volumes"
#: get_progress's ``action`` for a revert in place's task (a volclone extension).
REVERT_ACTION = "clone-volumes-revert"
KINDS = {ACTION: TaskKind.CLONE, REVERT_ACTION: TaskKind.REVERT}
#: An extension (clients written against the spec alone never send it): printable ASCII, 1-255.
IDEMPOTENCY_HEADER = "Idempotency-Key"


@router.post("")
@rule("clone_volumes:create")
def clone_volumes(project_id: str, body: CloneVolumesBody, request: Request,
                  who: Principal = Depends(principal),
                  idempotency_key: str | None = Header(
                      default=None, alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255, pattern=r"^[!-~]+$",
                      description="Retries with the same key and body (within 24 h) get the same task_uri; "
                                  "the same key with another body is a 409")) -> dict[str, Any]:
    b = body.clone_volumes
    task_id = service(request).clones.start(who, CloneRequest(
        project_id=project_id, volume_ids=b.volumes, display_name=b.display_name,
        description=b.description, target_type_id=b.target_volume_type_id), idempotency_key=idempotency_key)
    return {"clone-volumes": {"task_uri": task_uri(request, project_id, ACTION, task_id)}}


def task_uri(request: Request, project_id: str, action: str, task_id: str) -> str:
    base = str(request.base_url).rstrip("/")
    return f"{base}/v3/{project_id}/clone-volumes/get_progress?action={action}&task_id={task_id}"


@router.post("/revert", status_code=202)
@rule("clone_volumes:revert")
def revert(project_id: str, body: RevertBody, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    """Put the sources of a SUCCESS clone task back to its clones' data, in place (an extension)."""
    task_id = service(request).clones.revert(who, project_id, body.revert.task_id)
    return {"revert": {"task_uri": task_uri(request, project_id, REVERT_ACTION, task_id)}}


@router.get("/get_progress")
@rule("clone_volumes:get_progress")
def get_progress(project_id: str, request: Request,
                 action: Literal["clone-volumes", "clone-volumes-revert"] = Query(
                     description=f"{ACTION} for a clone's task, {REVERT_ACTION} for a revert in place's"),
                 task_id: str = Query(min_length=1, description="the task the POST started"),
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    unknown = set(request.query_params) - {"action", "task_id"}
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(sorted(unknown))}")
    return views.progress(service(request).clones.progress(who, project_id, task_id, KINDS[action]))
