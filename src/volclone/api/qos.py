"""/v3/{project_id}/qos-specs: QoS specs and the volume types they are associated with.

Admin-only, under Cinder's ``volume_extension:qos_specs_manage:*`` rules. As in Cinder, associate
and disassociate are GETs that change things (``?vol_type_id=``), a spec still associated is
deleted only with ``?force=true``, and ``PUT`` answers with the keys it was given.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field, StrictStr

from volclone.api.deps import principal, rule, service
from volclone.api.schemas import Key, Strict
from volclone.domain import Principal, QosSpecs
from volclone.errors import BadRequest, CapabilityMissing
from volclone.service.qos import MAX_KEYS, QosService

router = APIRouter(prefix="/v3/{project_id}/qos-specs")

#: Cinder's values of a QoS key: strings (its schema takes no numbers).
Value = Annotated[StrictStr, Field(max_length=255)]
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


class QosCreateBody(Strict):
    qos_specs: Annotated[dict[Key, Value], Field(max_length=MAX_KEYS + 2)]


class QosUpdateBody(Strict):
    qos_specs: Annotated[dict[Key, Value], Field(min_length=1, max_length=MAX_KEYS + 1)]


class DeleteKeysBody(Strict):
    keys: Annotated[list[Key], Field(min_length=1, max_length=MAX_KEYS)]


def _qos(request: Request) -> QosService:
    svc = service(request).qos
    if svc is None:
        raise CapabilityMissing("this service has no QoS specs")
    return svc


def _view(q: QosSpecs) -> dict[str, Any]:
    return {"id": q.id, "name": q.name, "consumer": q.consumer.value, "specs": dict(q.specs)}


def _links(request: Request, project_id: str, q: QosSpecs) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/")
    return [{"rel": "self", "href": f"{base}/v3/{project_id}/qos-specs/{q.id}"},
            {"rel": "bookmark", "href": f"{base}/{project_id}/qos-specs/{q.id}"}]


def _flag(value: str | None) -> bool:
    """Cinder reads ``force`` with oslo's strict ``bool_from_string``: anything else is a 400."""
    if value is None:
        return False
    v = value.strip().lower()
    if v not in _TRUE | _FALSE:
        raise BadRequest(f"Invalid value for force: {value[:32]!r}; use true or false")
    return v in _TRUE


@router.get("")
@rule("volume_extension:qos_specs_manage:get_all")
def list_qos(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"qos_specs": [_view(q) for q in _qos(request).list(who)]}


@router.post("")
@rule("volume_extension:qos_specs_manage:create")
def create_qos(project_id: str, body: QosCreateBody, request: Request,
               who: Principal = Depends(principal)) -> dict[str, Any]:
    specs = dict(body.qos_specs)
    name, consumer = specs.pop("name", ""), specs.pop("consumer", None)
    created = _qos(request).create(who, name, specs, consumer)
    return {"qos_specs": _view(created), "links": _links(request, project_id, created)}


@router.get("/{qos_id}")
@rule("volume_extension:qos_specs_manage:get")
def show_qos(project_id: str, qos_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    q = _qos(request).get(who, qos_id)
    return {"qos_specs": _view(q), "links": _links(request, project_id, q)}


@router.put("/{qos_id}")
@rule("volume_extension:qos_specs_manage:update")
def update_qos(qos_id: str, body: QosUpdateBody, request: Request,
               who: Principal = Depends(principal)) -> dict[str, Any]:
    _qos(request).update(who, qos_id, body.qos_specs)
    return {"qos_specs": dict(body.qos_specs)}


@router.delete("/{qos_id}", status_code=202)
@rule("volume_extension:qos_specs_manage:delete")
def delete_qos(qos_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    _qos(request).delete(who, qos_id, force=_flag(request.query_params.get("force")))
    return Response(status_code=202)


@router.put("/{qos_id}/delete_keys", status_code=202)
@rule("volume_extension:qos_specs_manage:delete")
def delete_keys(qos_id: str, body: DeleteKeysBody, request: Request,
                who: Principal = Depends(principal)) -> Response:
    _qos(request).delete_keys(who, qos_id, body.keys)
    return Response(status_code=202)


@router.get("/{qos_id}/associations")
@rule("volume_extension:qos_specs_manage:get_all")
def associations(qos_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"qos_associations": [{"association_type": "volume_type", "name": name, "id": type_id}
                                 for type_id, name in _qos(request).associations(who, qos_id)]}


@router.get("/{qos_id}/associate", status_code=202)
@rule("volume_extension:qos_specs_manage:update")
def associate(qos_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    _qos(request).associate(who, qos_id, request.query_params.get("vol_type_id"))
    return Response(status_code=202)


@router.get("/{qos_id}/disassociate", status_code=202)
@rule("volume_extension:qos_specs_manage:update")
def disassociate(qos_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    _qos(request).disassociate(who, qos_id, request.query_params.get("vol_type_id"))
    return Response(status_code=202)


@router.get("/{qos_id}/disassociate_all", status_code=202)
@rule("volume_extension:qos_specs_manage:update")
def disassociate_all(qos_id: str, request: Request, who: Principal = Depends(principal)) -> Response:
    _qos(request).disassociate_all(who, qos_id)
    return Response(status_code=202)
