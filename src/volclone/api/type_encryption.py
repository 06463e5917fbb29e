"""/v3/{project_id}/types/{type_id}/encryption: a volume type's encryption, as Cinder serves it.

Admin-only, under Cinder's ``volume_extension:volume_type_encryption:*`` rules. As in Cinder, the
show of a type without encryption is ``{}``, ``GET .../encryption/{key}`` is one field, create
answers with the fields it was given and the two ids, update with the fields it was given, and
the ``{encryption_id}`` of ``PUT`` and ``DELETE`` is not looked at (python-cinderclient sends
``provider`` there). No volume is ever made of an encrypted type: docs/volume-type-encryption.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from volclone.api.deps import principal, rule, service
from volclone.api.schemas import Strict
from volclone.domain import ControlLocation, Principal, TypeEncryption
from volclone.errors import CapabilityMissing, NotFound
from volclone.service.type_encryption import TypeEncryptionService

router = APIRouter(prefix="/v3/{project_id}/types/{type_id}/encryption")

RULE = "volume_extension:volume_type_encryption"


class EncryptionBody(Strict):
    #: The fields are checked by the service (its messages name each one).
    encryption: dict[str, Any]


def _svc(request: Request) -> TypeEncryptionService:
    svc = service(request).type_encryption
    if svc is None:
        raise CapabilityMissing("this service has no volume type encryption")
    return svc


def _time(t: Any) -> str | None:
    return t.isoformat(timespec="microseconds") if t is not None else None


def _view(enc: TypeEncryption) -> dict[str, Any]:
    """Cinder's encryption row, every column (Tempest's show schema): never soft-deleted here."""
    return {"volume_type_id": enc.volume_type_id, "encryption_id": enc.encryption_id,
            "provider": enc.provider, "cipher": enc.cipher, "key_size": enc.key_size,
            "control_location": enc.control_location.value, "created_at": _time(enc.created_at),
            "updated_at": _time(enc.updated_at), "deleted": False, "deleted_at": None}


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, ControlLocation) else v for k, v in values.items()}


@router.get("")
@rule(f"{RULE}:get")
def show_encryption(type_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    enc = _svc(request).get(who, type_id)
    return _view(enc) if enc is not None else {}


@router.post("")
@rule(f"{RULE}:create")
def create_encryption(type_id: str, body: EncryptionBody, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    enc = _svc(request).create(who, type_id, body.encryption)
    view = _view(enc)
    return {"encryption": {**{k: view[k] for k in body.encryption},
                           "volume_type_id": enc.volume_type_id, "encryption_id": enc.encryption_id}}


@router.get("/{encryption_id}")
@rule(f"{RULE}:get")
def show_encryption_key(type_id: str, encryption_id: str, request: Request,
                        who: Principal = Depends(principal)) -> dict[str, Any]:
    """One field of the encryption; the path names the field (Cinder's ``show``, whose ``id`` is
    a key), in the one path template the update and the delete share, so that the resource has
    one ``Allow`` (GET, PUT, DELETE)."""
    key = encryption_id
    enc = _svc(request).get(who, type_id)
    view = _view(enc) if enc is not None else {}
    if key not in view:
        raise NotFound(f"Volume type encryption for type {type_id} does not exist.")
    return {key: view[key]}


@router.put("/{encryption_id}")
@rule(f"{RULE}:update")
def update_encryption(type_id: str, encryption_id: str, body: EncryptionBody, request: Request,
                      who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"encryption": _given(_svc(request).update(who, type_id, body.encryption))}


@router.delete("/{encryption_id}", status_code=202)
@rule(f"{RULE}:delete")
def delete_encryption(type_id: str, encryption_id: str, request: Request,
                      who: Principal = Depends(principal)) -> Response:
    _svc(request).delete(who, type_id)
    return Response(status_code=202)
