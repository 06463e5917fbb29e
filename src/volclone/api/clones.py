"""/v3/{project_id}/clone-volumes: start a consistent multi-volume clone, watch its progress,
cancel it (``POST /{task_id}/action {"cancel": {}}``, an extension: 202 and no body)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from volclone.api import views
from volclone.api.deps import principal, rule, service
from volclone.api.schemas import CloneTaskActionBody, CloneVolumesBody
from volclone.domain import CloneRequest, Principal
from volclone.errors import BadRequest

router = APIRouter(prefix="/v3/{project_id}/clone-volumes")
ACTION = "clone-volumes"
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
    base = str(request.base_url).rstrip("/")
    uri = f"{base}/v3/{project_id}/clone-volumes/get_progress?action={ACTION}&task_id={task_id}"
    return {"clone-volumes": {"task_uri": uri}}


@router.get("/get_progress")
@rule("clone_volumes:get_progress")
def get_progress(project_id: str, request: Request,
                 action: Literal["clone-volumes"] = Query(description=f"always {ACTION}"),
                 task_id: str = Query(min_length=1, description="the task the POST started"),
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    unknown = set(request.query_params) - {"action", "task_id"}
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(sorted(unknown))}")
    return views.progress(service(request).clones.progress(who, project_id, task_id))


@router.post("/{task_id}/action", status_code=202)
@rule("clone_volumes:cancel")
def clone_task_action(project_id: str, task_id: str, body: CloneTaskActionBody, request: Request,
                      who: Principal = Depends(principal)) -> Response:
    """``{"cancel": {}}``: stop the task and revert it; 202 and no body once the cancel is recorded
    (get_progress then shows REVERTED, with ``results.failure`` saying it was cancelled)."""
    service(request).clones.cancel(who, project_id, task_id)
    return Response(status_code=202)
