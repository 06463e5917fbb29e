"""Cinder's user messages (microversion 3.3): ``/v3/{project_id}/messages``::

    GET    /messages         the project's messages, newest first (3.5: filters, sort, paging; 3.34: an
                             admin's key~ filters)
    GET    /messages/{id}    show
    DELETE /messages/{id}    delete (204)

A message reads as Cinder's: ``id, message_level, event_id, user_message, resource_type,
resource_uuid, request_id, guaranteed_until, created_at, links``. Policy: ``message:get_all``,
``message:get``, ``message:delete``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api import small_lists
from volclone.api.deps import api_version, principal, rule, service
from volclone.api.listing import LIKE_FILTER_VERSION
from volclone.api.versions import fmt
from volclone.domain import PageQuery, Principal, UserMessage
from volclone.errors import CapabilityMissing, NotFound
from volclone.service.messages import MessageService, user_message

MESSAGES_VERSION = (3, 3)
#: Filters, sort and paging on the list (Cinder's ``MESSAGES_PAGINATION``... ``3.5``).
MESSAGES_PAGING = (3, 5)
#: Cinder's ``resource_filters.json`` for messages, and the fields a list sorts on.
FILTERS = {k: k for k in ("resource_uuid", "resource_type", "event_id", "request_id", "message_level")}
#: From 3.34 an admin's ``key~`` (Cinder's resource filters, which bind users, name none for messages).
LIKE_FILTERS = {f"{k}~": k for k in FILTERS}
SORT_KEYS = {k: k for k in ("id", "event_id", "message_level", "resource_type", "resource_uuid", "request_id",
                            "created_at", "guaranteed_until")}


def require_version(request: Request) -> None:
    version = api_version(request)
    if version < MESSAGES_VERSION:
        raise NotFound(f"API version {fmt(version)} is not supported on this method; messages need microversion "
                       f"{fmt(MESSAGES_VERSION)} or later (OpenStack-API-Version: volume {fmt(MESSAGES_VERSION)})")


router = APIRouter(prefix="/v3/{project_id}/messages", dependencies=[Depends(require_version)])


def _svc(request: Request) -> MessageService:
    messages = service(request).messages
    if messages is None:
        raise CapabilityMissing("this service has no user messages")
    return messages


def _time(t: dt.datetime) -> str:
    return t.isoformat(timespec="microseconds")


def view(request: Request, project_id: str, m: UserMessage) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {"id": m.id, "message_level": m.message_level, "event_id": m.event_id, "user_message": user_message(m),
            "resource_type": m.resource_type, "resource_uuid": m.resource_uuid, "request_id": m.request_id,
            "guaranteed_until": _time(m.expires_at), "created_at": _time(m.created_at),
            "links": [{"rel": "self", "href": f"{base}/v3/{project_id}/messages/{m.id}"},
                      {"rel": "bookmark", "href": f"{base}/{project_id}/messages/{m.id}"}]}


@router.get("")
@rule("message:get_all")
def list_messages(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    paged = api_version(request) >= MESSAGES_PAGING
    like = LIKE_FILTERS if who.is_admin and api_version(request) >= LIKE_FILTER_VERSION else None
    parsed = small_lists.parse(request.query_params.multi_items(), FILTERS if paged else {},
                               SORT_KEYS if paged else None, paged=paged, like=like)
    query = PageQuery(equal=parsed.equal, contains=parsed.contains, sort=parsed.sort, marker=parsed.marker,
                      limit=parsed.limit, offset=parsed.offset)
    found = _svc(request).page(who, project_id, query)
    # No messages_links, even for a full page: Cinder's view has none (Tempest's schema allows none);
    # the next page is asked with marker=<the last id>.
    return {"messages": [view(request, project_id, m) for m in found]}


@router.get("/{message_id}")
@rule("message:get")
def show_message(project_id: str, message_id: str, request: Request,
                 who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"message": view(request, project_id, _svc(request).get(who, project_id, message_id))}


@router.delete("/{message_id}", status_code=204)
@rule("message:delete")
def delete_message(project_id: str, message_id: str, request: Request,
                   who: Principal = Depends(principal)) -> Response:
    _svc(request).delete(who, project_id, message_id)
    return Response(status_code=204)
