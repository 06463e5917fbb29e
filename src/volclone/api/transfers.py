"""Cinder's volume transfers: ``/v3/{project_id}/os-volume-transfer`` and, from 3.55,
``/v3/{project_id}/volume-transfers`` (the same calls, with ``no_snapshots``)::

    POST   /os-volume-transfer                 create (202): the answer holds the auth_key, once
    GET    /os-volume-transfer[/detail]        the project's open transfers (filters, paging; sort 3.59)
    GET    /os-volume-transfer/{id}            show
    POST   /os-volume-transfer/{id}/accept     {"accept": {"auth_key": ...}} (202), by any project
    DELETE /os-volume-transfer/{id}            withdraw (202)

Fields by microversion (Cinder's views): ``no_snapshots`` from 3.55, ``destination_project_id``,
``source_project_id`` and ``accepted`` from 3.57. Policy, as Cinder names it: ``volume:create_transfer``,
``volume:get_all_transfers``, ``volume:get_transfer``, ``volume:accept_transfer``, ``volume:delete_transfer``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, StrictStr

from volclone.api import listing, small_lists
from volclone.api.deps import api_version, path_of, principal, rule, service
from volclone.api.schemas import CinderBool, Name, Strict
from volclone.api.versions import fmt
from volclone.domain import PageQuery, Principal, Transfer
from volclone.errors import BadRequest, CapabilityMissing, NotFound
from volclone.service.transfers import TransferService

#: ``volume-transfers`` and ``no_snapshots`` (3.55), the accepted/project fields (3.57), sort (3.59).
TRANSFERS_NO_SNAPSHOTS = (3, 55)
TRANSFERS_PROJECTS = (3, 57)
TRANSFERS_SORT = (3, 59)
LEGACY = "os-volume-transfer"
CURRENT = "volume-transfers"
FILTERS = {"name": "name", "display_name": "name", "volume_id": "volume_id", "id": "id"}
SORT_KEYS = {"id": "id", "name": "name", "display_name": "name", "volume_id": "volume_id",
             "created_at": "created_at"}


class TransferCreate(Strict):
    volume_id: StrictStr = Field(min_length=1, max_length=255)
    name: Name | None = None
    display_name: Name | None = None
    no_snapshots: CinderBool | None = Field(None, json_schema_extra={"type": ["boolean", "string"]})


class TransferCreateBody(Strict):
    transfer: TransferCreate


class TransferAccept(Strict):
    auth_key: StrictStr = Field(min_length=1, max_length=255)


class TransferAcceptBody(Strict):
    accept: TransferAccept


def require_current(request: Request) -> None:
    """``volume-transfers`` exists from 3.55: below it a 404, as Cinder answers."""
    version = api_version(request)
    if version < TRANSFERS_NO_SNAPSHOTS:
        raise NotFound(f"API version {fmt(version)} is not supported on this method; volume-transfers need "
                       f"microversion {fmt(TRANSFERS_NO_SNAPSHOTS)} or later (os-volume-transfer serves all)")


legacy = APIRouter(prefix=f"/v3/{{project_id}}/{LEGACY}")
current = APIRouter(prefix=f"/v3/{{project_id}}/{CURRENT}", dependencies=[Depends(require_current)])
routers = (legacy, current)


def _svc(request: Request) -> TransferService:
    transfers = service(request).transfers
    if transfers is None:
        raise CapabilityMissing("this service has no volume transfers")
    return transfers


def _collection(request: Request) -> str:
    """The collection the request went to: the path's segment after ``/v3/{project_id}/``."""
    parts = path_of(request.scope).split("/")
    return CURRENT if len(parts) > 3 and parts[3] == CURRENT else LEGACY


def _links(request: Request, project_id: str, transfer_id: str) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/")
    where = f"{project_id}/{_collection(request)}/{transfer_id}"
    return [{"rel": "self", "href": f"{base}/v3/{where}"}, {"rel": "bookmark", "href": f"{base}/{where}"}]


def _time(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="microseconds") if t else None


def view(request: Request, project_id: str, t: Transfer, detail: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"id": t.id, "name": t.name, "volume_id": t.volume_id}
    if detail:
        version = api_version(request)
        body["created_at"] = _time(t.created_at)
        if version >= TRANSFERS_NO_SNAPSHOTS:
            body["no_snapshots"] = t.no_snapshots
        if version >= TRANSFERS_PROJECTS:
            body.update(destination_project_id=t.destination_project_id, source_project_id=t.project_id,
                        accepted=t.accepted)
    body["links"] = _links(request, project_id, t.id)
    return body


def _list(request: Request, who: Principal, project_id: str, detail: bool) -> dict[str, Any]:
    sorts = _collection(request) == CURRENT and api_version(request) >= TRANSFERS_SORT
    parsed = small_lists.parse(request.query_params.multi_items(), FILTERS, SORT_KEYS if sorts else None)
    query = PageQuery(equal=parsed.equal, sort=parsed.sort, marker=parsed.marker, limit=parsed.limit,
                          offset=parsed.offset)
    found = _svc(request).page(who, project_id, query, parsed.all_projects)
    body: dict[str, Any] = {"transfers": [view(request, project_id, t, detail) for t in found]}
    body.update(listing.paging_links(request, "transfers", request.url.path, found, parsed.limit))
    return body


# -- the endpoints: the same six on both routers (rules are looked up by endpoint function) ----
@rule("volume:get_all_transfers")
def list_transfers(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, detail=False)


@rule("volume:get_all_transfers")
def list_transfers_detail(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return _list(request, who, project_id, detail=True)


@rule("volume:create_transfer")
def create_transfer(project_id: str, body: TransferCreateBody, request: Request,
                    who: Principal = Depends(principal)) -> dict[str, Any]:
    b = body.transfer
    if b.no_snapshots is not None and _collection(request) != CURRENT:
        # Cinder's os-volume-transfer body schema has no no_snapshots at any microversion.
        raise BadRequest(f"Invalid input: no_snapshots is taken by {CURRENT} (microversion "
                         f"{fmt(TRANSFERS_NO_SNAPSHOTS)} or later), not by {LEGACY}")
    transfer, auth_key = _svc(request).create(who, project_id, b.volume_id,
                                              name=b.name if b.name is not None else b.display_name,
                                              no_snapshots=bool(b.no_snapshots))
    return {"transfer": {**view(request, project_id, transfer, detail=True), "auth_key": auth_key}}


@rule("volume:get_transfer")
def show_transfer(project_id: str, transfer_id: str, request: Request,
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"transfer": view(request, project_id, _svc(request).get(who, project_id, transfer_id), detail=True)}


@rule("volume:accept_transfer")
def accept_transfer(project_id: str, transfer_id: str, body: TransferAcceptBody, request: Request,
                    who: Principal = Depends(principal)) -> dict[str, Any]:
    transfer = _svc(request).accept(who, project_id, transfer_id, body.accept.auth_key)
    return {"transfer": view(request, project_id, transfer, detail=False)}


@rule("volume:delete_transfer")
def delete_transfer(project_id: str, transfer_id: str, request: Request,
                    who: Principal = Depends(principal)) -> Response:
    _svc(request).delete(who, project_id, transfer_id)
    return Response(status_code=202)


for _router in routers:
    _router.add_api_route("", list_transfers, methods=["GET"])
    _router.add_api_route("/detail", list_transfers_detail, methods=["GET"])
    _router.add_api_route("", create_transfer, methods=["POST"], status_code=202)
    _router.add_api_route("/{transfer_id}", show_transfer, methods=["GET"])
    _router.add_api_route("/{transfer_id}/accept", accept_transfer, methods=["POST"], status_code=202)
    _router.add_api_route("/{transfer_id}", delete_transfer, methods=["DELETE"], status_code=202)
