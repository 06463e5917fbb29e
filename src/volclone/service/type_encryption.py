"""A volume type's encryption (Cinder's ``/types/{type_id}/encryption``): what the volumes of
the type are to be encrypted with.

Admin-only (the API checks Cinder's ``volume_extension:volume_type_encryption:*`` rules). As in
Cinder, a type has at most one encryption; it is added, changed and removed only while no volume
is of the type; ``provider`` is any string (Cinder checks it only when it makes a volume). Cinder
itself encrypts nothing: the host that attaches a volume does (os-brick, with a key Cinder got from
the key manager as it made the volume). volclone has no key manager, so it makes no volume of an
encrypted type (:meth:`VolumeTypeService.refuse_if_encrypted`)::

    enc = svc.type_encryption.create(admin, t.id, {"provider": "luks", "control_location": "front-end"})
    svc.volumes.create(who, project, 1, volume_type=t.id)   # 400: no key manager
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any

from volclone.db.repos import VolumeTypes
from volclone.db.type_encryption import TypeEncryptions
from volclone.domain import ControlLocation, Principal, TypeEncryption
from volclone.errors import BadRequest, NotFound
from volclone.service.volumes import VolumeTypeService

MAX_TEXT = 255
#: Cinder's ``DB_MAX_INT``: the largest key size its column (and so its schema) takes.
MAX_KEY_SIZE = 2**31 - 1
FIELDS = ("provider", "cipher", "key_size", "control_location")
REQUIRED = ("provider", "control_location")


def _text(name: str, value: object, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        kind = "a string or null" if nullable else "a string"
        raise BadRequest(f"Invalid input for field/attribute {name}: it must be {kind} of at most {MAX_TEXT} "
                         "characters")
    return value


def _key_size(value: object) -> int | None:
    """Cinder's ``key_size``: null, or a whole number from 0 (an integer, or a string of digits)."""
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 0 <= number <= MAX_KEY_SIZE:
        raise BadRequest(f"Invalid input for field/attribute key_size: it must be a whole number from 0 to "
                         f"{MAX_KEY_SIZE} (bits), or null; not {str(value)[:32]!r}")
    return number


def _control_location(value: object) -> ControlLocation:
    try:
        return ControlLocation(value)
    except ValueError:
        choices = ", ".join(c.value for c in ControlLocation)
        raise BadRequest(f"Invalid input for field/attribute control_location: it must be one of {choices}, "
                         f"not {str(value)[:32]!r}") from None


def checked(fields: Mapping[str, Any], create: bool) -> dict[str, Any]:
    """``fields`` as stored (``key_size`` a number, ``control_location`` a :class:`ControlLocation`);
    400 for an unknown field, a missing one (on create) or a bad value."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadRequest(f"Invalid input: additional properties are not allowed ({', '.join(unknown)[:64]}); "
                         f"an encryption has {', '.join(FIELDS)}")
    missing = [f for f in REQUIRED if f not in fields] if create else []
    if missing:
        raise BadRequest(f"Invalid input: {missing[0]} is a required property")
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "key_size":
            out[name] = _key_size(value)
        elif name == "control_location":
            out[name] = _control_location(value)
        else:
            out[name] = _text(name, value, nullable=name == "cipher")
    return out


class TypeEncryptionService:
    """Admin-only (the API checks the rules): ``who`` is for symmetry with the other services."""

    def __init__(self, repo: TypeEncryptions, types: VolumeTypeService) -> None:
        self.repo = repo
        self.types = types

    @property
    def _type_rows(self) -> VolumeTypes:
        return self.types.repo

    def _in_use(self, type_id: str, doing: str) -> None:
        if self._type_rows.in_use(type_id):
            raise BadRequest(f"Cannot {doing} encryption specs. Volume type in use.")

    def get(self, who: Principal, type_id: str) -> TypeEncryption | None:
        """The type's encryption; None if it has none (404 if there is no such type)."""
        self.types.get(type_id)
        return self.repo.get(type_id)

    def create(self, who: Principal, type_id: str, fields: Mapping[str, Any]) -> TypeEncryption:
        """Give a type without volumes its encryption (400 if it has one)."""
        values = checked(fields, create=True)
        self._in_use(type_id, "create")
        vtype = self.types.get(type_id)
        if self.repo.get(vtype.id) is not None:
            raise BadRequest(f"Volume type encryption for type {vtype.id} already exists.")
        return self.repo.add(TypeEncryption(encryption_id=str(uuid.uuid4()), volume_type_id=vtype.id, **values))

    def update(self, who: Principal, type_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of the encryption of a type without volumes; returns them as stored."""
        values = checked(fields, create=False)
        self.types.get(type_id)
        self._in_use(type_id, "update")
        enc = self.repo.get(type_id)
        if enc is None or self.repo.save(dataclasses.replace(enc, **values)) is None:
            raise NotFound(f"Volume type encryption for type {type_id} does not exist.")
        return values

    def delete(self, who: Principal, type_id: str) -> None:
        """Remove the encryption of a type without volumes (404 if it has none)."""
        self._in_use(type_id, "delete")
        if not self.repo.delete(type_id):
            raise NotFound(f"Volume type encryption for type {type_id} does not exist.")

