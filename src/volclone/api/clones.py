"""/v3/{project_id}/clone-volumes: start a consistent multi-volume clone, watch its progress,
cancel it (``POST /{task_id}/action {"cancel": {}}``, an extension: 202 and no body)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from volclone.api import views
from volclone.api.deps import principal, rule, service
from volclone.api.event_stream import open_stream, wants_events
from volclone.api.listing import boolean
from volclone.api.schemas import CloneTaskActionBody, CloneVolumesBody, RevertBody
from volclone.domain import CloneRequest, Principal, TaskKind
from volclone.errors import BadRequest

router = APIRouter(prefix="/v3/{project_id}/clone-volumes")
ACTION = "clone-volumes"
#: get_progress's ``action`` for a revert in place's task (a volclone extension).
REVERT_ACTION = "clone-volumes-revert"
KINDS = {ACTION: TaskKind.CLONE, REVERT_ACTION: TaskKind.REVERT}
#: An extension (clients written against the spec alone never send it): printable ASCII, 1-255.
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: An extension: validate and plan, make nothing (docs/dry-run.md).
DRY_RUN = "dry_run"


@router.post("")
@rule("clone_volumes:create")
def clone_volumes(project_id: str, body: CloneVolumesBody, request: Request,
                  who: Principal = Depends(principal),
                  idempotency_key: str | None = Header(
                      default=None, alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255, pattern=r"^[!-~]+$",
                      description="Retries with the same key and body (within 24 h) get the same task_uri; "
                                  "the same key with another body is a 409. On a dry run it is checked "
                                  "and otherwise ignored")) -> dict[str, Any]:
    dry = _dry_run(request)
    b = body.clone_volumes
    req = CloneRequest(project_id=project_id, volume_ids=b.volumes, display_name=b.display_name,
                       description=b.description, target_type_id=b.target_volume_type_id)
    clones = service(request).clones
    if dry:
        return views.clone_plan(clones.plan(who, req))
    task_id = clones.start(who, req, idempotency_key=idempotency_key)
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


def _dry_run(request: Request) -> bool:
    """``?dry_run=``, a boolean as Cinder reads one (400 for anything else, or given twice); any
    other query parameter is a 400, as on get_progress."""
    unknown = set(request.query_params) - {DRY_RUN}
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(sorted(unknown))}")
    values = request.query_params.getlist(DRY_RUN)
    if len(values) > 1:
        raise BadRequest(f"{DRY_RUN} may be given once")
    return boolean(DRY_RUN, values[0]) if values else False


@router.get("/get_progress", response_model=None)
@rule("clone_volumes:get_progress")
def get_progress(project_id: str, request: Request,
                 action: Literal["clone-volumes", "clone-volumes-revert"] = Query(
                     description=f"{ACTION} for a clone's task, {REVERT_ACTION} for a revert in place's"),
                 task_id: str = Query(min_length=1, description="the task the POST started"),
                 who: Principal = Depends(principal)) -> dict[str, Any] | Response:
    """The task's progress; with ``Accept: text/event-stream`` (an extension) its events as they
    happen, ending with this same body (docs/events.md). Every fault comes before a stream starts."""
    unknown = set(request.query_params) - {"action", "task_id"}
    if unknown:
        raise BadRequest(f"unknown query parameters: {', '.join(sorted(unknown))}")
    clones = service(request).clones
    kind = KINDS[action]
    first = clones.progress(who, project_id, task_id, kind)
    if not wants_events(request.headers.get("accept")):
        return views.progress(first)
    return open_stream(request, first, lambda: clones.progress(who, project_id, task_id, kind))


@router.post("/{task_id}/action", status_code=202)
@rule("clone_volumes:cancel")
def clone_task_action(project_id: str, task_id: str, body: CloneTaskActionBody, request: Request,
                      who: Principal = Depends(principal)) -> Response:
    """``{"cancel": {}}``: stop the task and revert it; 202 and no body once the cancel is recorded
    (get_progress then shows REVERTED, with ``results.failure`` saying it was cancelled)."""
    service(request).clones.cancel(who, project_id, task_id)
    return Response(status_code=202)
