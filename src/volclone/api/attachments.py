"""/v3/{project_id}/attachments (Cinder's attachments API, microversion 3.27 and later).

    POST   /attachments          {"attachment": {"volume_uuid", "instance_uuid", "connector", "mode"}}
                                 (``mode`` from 3.54; below, the connector's ``mode`` counts)
    GET    /attachments[/detail] ?volume_id=&instance_id=&status=&all_tenants= (an admin's: any
                                 field, 3.34 ``key~``), limit, marker, offset, sort: ``attachment_listing``
    GET    /attachments/{id}
    PUT    /attachments/{id}     {"attachment": {"connector": {...}}}  completes it: volume in-use
    DELETE /attachments/{id}     answers the volume's attachments that are left
    POST   /attachments/{id}/action  {"os-complete": ...}: the same completion as PUT, from 3.44
                                 (below: 404, as Cinder's version-gated action)

The older attach actions on /volumes/{id}/action are in ``volume_actions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from volclone.api import attachment_listing, listing, views
from volclone.api.deps import api_version, principal, rule, service
from volclone.api.schemas import AttachmentActionBody, AttachmentCreateBody, AttachmentUpdateBody
from volclone.api.versions import fmt
from volclone.domain import AttachMode, Principal
from volclone.errors import NotFound

#: The microversion that brought the attachments API (Cinder's ``NEW_ATTACH``).
ATTACHMENTS_VERSION = (3, 27)
#: ``os-complete`` (Cinder's ``NEW_ATTACH_COMPLETION``).
COMPLETE_VERSION = (3, 44)
#: ``mode`` in a create's body (Cinder's ``ATTACHMENT_CREATE_MODE_ARG``).
MODE_VERSION = (3, 54)


def require_version(request: Request) -> None:
    """Below 3.27 the attachments API does not exist: 404, as Cinder answers for a version-gated method."""
    version = getattr(request.state, "api_version", None)
    if version is None or version < ATTACHMENTS_VERSION:
        shown = fmt(version) if version else "?"
        raise NotFound(f"API version {shown} is not supported on this method; attachments need "
                       f"microversion {fmt(ATTACHMENTS_VERSION)} or later (OpenStack-API-Version: volume "
                       f"{fmt(ATTACHMENTS_VERSION)})")


router = APIRouter(prefix="/v3/{project_id}/attachments", dependencies=[Depends(require_version)])


class Filters:
    """The list filters (query parameters) of GET /attachments[/detail] that the API's schema
    names; :func:`~volclone.api.attachment_listing.attachment_filters` reads them all, and an
    admin's on any other field."""

    def __init__(self, volume_id: str | None = Query(None, description="only this volume's"),
                 instance_id: str | None = Query(None, description="only this instance's"),
                 status: str | None = Query(None, description="only in this status (reserved, attaching, attached)"),
                 attach_status: str | None = Query(None, description="the same as status"),
                 all_tenants: str = Query("0", description="admins: 1 or true lists every project's"),
                 limit: str | None = Query(None, description="at most this many (at most and by default 1000)"),
                 marker: str | None = Query(None, description="after this attachment (the last of a page)"),
                 offset: str | None = Query(None, description="skip this many"),
                 sort: str | None = Query(None, description="key[:asc|desc],... (default created_at:desc)"),
                 sort_key: str | None = Query(None, description="the older spelling of sort's key"),
                 sort_dir: str | None = Query(None, description="the older spelling of sort's direction")) -> None:
        self.all_projects = all_tenants.lower() in ("1", "true")


def _list(request: Request, who: Principal, project_id: str, f: Filters, collection: str,
          view: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    query = attachment_listing.attachment_filters(request.query_params.multi_items(), api_version(request),
                                                  who.is_admin)
    page = service(request).attachments.page(who, project_id, query, all_projects=f.all_projects)
    body: dict[str, Any] = {"attachments": [view(a) for a in page]}
    body.update(listing.paging_links(request, "attachments", f"/v3/{project_id}/{collection}", page, query.limit))
    return body


@router.post("")
@rule("volume:attachment_create")
def create_attachment(project_id: str, body: AttachmentCreateBody, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    b = body.attachment
    # Below 3.54 Cinder reads the mode from the connector only; the body's is ignored.
    mode = AttachMode(b.mode) if b.mode and api_version(request) >= MODE_VERSION else None
    a = service(request).attachments.create(who, project_id, b.volume_uuid, b.instance_uuid, b.connector, mode)
    return {"attachment": views.attachment(a)}


@router.get("")
@rule("volume:attachment_get_all")
def list_attachments(project_id: str, request: Request, filters: Filters = Depends(),
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, filters, "attachments", views.attachment_summary)


@router.get("/detail")
@rule("volume:attachment_get_all")
def list_attachments_detail(project_id: str, request: Request, filters: Filters = Depends(),
                            who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, filters, "attachments/detail", views.attachment)


@router.get("/{attachment_id}")
@rule("volume:attachment_get")
def show_attachment(project_id: str, attachment_id: str, request: Request,
                    who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"attachment": views.attachment(service(request).attachments.get(who, project_id, attachment_id))}


@router.put("/{attachment_id}")
@rule("volume:attachment_update")
def update_attachment(project_id: str, attachment_id: str, body: AttachmentUpdateBody, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    a = service(request).attachments.complete(who, project_id, attachment_id, body.attachment.connector)
    return {"attachment": views.attachment(a)}


@router.post("/{attachment_id}/action", status_code=204)
@rule("volume:attachment_complete")
def attachment_action(project_id: str, attachment_id: str, body: AttachmentActionBody, request: Request,
                      who: Principal = Depends(principal)) -> Response:
    version = api_version(request)
    if version < COMPLETE_VERSION:
        raise NotFound(f"There is no such action: os-complete (it needs microversion {fmt(COMPLETE_VERSION)} "
                       f"or later; this request is {fmt(version)})")
    service(request).attachments.complete(who, project_id, attachment_id)
    return Response(status_code=204)


@router.delete("/{attachment_id}")
@rule("volume:attachment_delete")
def delete_attachment(project_id: str, attachment_id: str, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    left = service(request).attachments.delete(who, project_id, attachment_id)
    return {"attachments": [views.attachment_summary(a) for a in left]}
