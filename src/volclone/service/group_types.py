"""Cinder's group types and their ``group_specs``::

    gts = svc.group_types
    gt = gts.create(admin, "consistent", group_specs={"consistent_group_snapshot_enabled": "<is> True"})
    gts.set_specs(admin, gt.id, {"k": "v"})

Create, update, delete and spec changes are admin-only (the API checks Cinder's rules). A private
type (``is_public=False``) is seen by admins only, as in Cinder without group type access grants.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from volclone.db.generic_groups import GroupTypes
from volclone.domain import GroupType, Principal
from volclone.errors import BadRequest, NotFound

#: The most specs a group type may have, and the longest key or value (Cinder's 255).
MAX_SPECS = 128
MAX_TEXT = 255


def _check_specs(specs: dict[str, str]) -> None:
    for key, value in specs.items():
        if not key or len(key) > MAX_TEXT or len(value) > MAX_TEXT:
            raise BadRequest("group spec keys are 1 to 255 characters and values at most 255")


#: The keys a group type list sorts by (Cinder's group type columns volclone keeps).
SORT_KEYS = ("id", "name", "description", "is_public", "created_at")


def _sort_key(key: str, made: dict[str, int]) -> Callable[[GroupType], Any]:
    if key == "created_at":
        return lambda t: made[t.id]
    if key == "is_public":
        return lambda t: t.is_public
    return lambda t: getattr(t, key) or ""  # a missing description sorts as ""


class GroupTypeService:
    def __init__(self, repo: GroupTypes) -> None:
        self.repo = repo

    def list(self, who: Principal, is_public: bool | None = True, sort: Sequence[tuple[str, bool]] = (),
             marker: str | None = None, limit: int | None = None, offset: int = 0) -> builtins.list[GroupType]:
        """Public types (non-admins see only these); an admin's ``is_public`` None lists every type,
        False the private ones. Sorted by ``sort`` ((field, ascending) pairs: ``id``, ``name``,
        ``description``, ``is_public``, ``created_at``), then in the order they were made; then
        Cinder's paging: after the ``marker`` type (404 if it is not listed), ``offset``, ``limit``."""
        types = self.repo.list()  # in the order they were made
        if not who.is_admin:
            is_public = True
        chosen = [t for t in types if is_public is None or t.is_public == is_public]
        made = {t.id: n for n, t in enumerate(types)}
        for key, up in reversed(sort):  # stable sorts, the last key first
            chosen.sort(key=_sort_key(key, made), reverse=not up)
        if marker is not None:
            at = next((n for n, t in enumerate(chosen) if t.id == marker), None)
            if at is None:
                raise NotFound(f"Marker {marker} could not be found.")
            chosen = chosen[at + 1:]
        chosen = chosen[offset:]
        return chosen if limit is None else chosen[:limit]

    def get(self, who: Principal, id_or_name: str) -> GroupType:
        gtype = self.repo.get(id_or_name) or self.repo.by_name(id_or_name)
        if gtype is None or (not gtype.is_public and not who.is_admin):
            raise NotFound(f"Group type {id_or_name} could not be found.")
        return gtype

    def create(self, who: Principal, name: str, description: str | None = None, is_public: bool = True,
               group_specs: dict[str, str] | None = None) -> GroupType:
        name = name.strip()
        if not name:
            raise BadRequest("Group type name can not be empty.")
        _check_specs(group_specs or {})
        return self.repo.add(GroupType(id=str(uuid.uuid4()), name=name, description=description,
                                       is_public=is_public, group_specs=dict(group_specs or {})))

    def update(self, who: Principal, type_id: str, name: str | None = None, description: str | None = None,
               is_public: bool | None = None) -> GroupType:
        self.get(who, type_id)
        fields: dict[str, object] = {}
        if name is not None:
            if not name.strip():
                raise BadRequest("Group type name can not be empty.")
            fields["name"] = name.strip()
        if description is not None:
            fields["description"] = description
        if is_public is not None:
            fields["is_public"] = is_public
        if not fields:
            raise BadRequest("Specify group type name, description or a combination thereof.")
        updated = self.repo.update(type_id, **fields)
        if updated is None:
            raise NotFound(f"Group type {type_id} could not be found.")
        return updated

    def delete(self, who: Principal, type_id: str) -> None:
        gtype = self.get(who, type_id)
        if self.repo.in_use(gtype.id):
            raise BadRequest(f"Target group type {type_id} is still in use.")
        self.repo.delete(gtype.id)

    def set_specs(self, who: Principal, type_id: str, specs: dict[str, str]) -> dict[str, str]:
        gtype = self.get(who, type_id)
        _check_specs(specs)
        merged = {**gtype.group_specs, **specs}
        if len(merged) > MAX_SPECS and len(merged) > len(gtype.group_specs):
            raise BadRequest(f"a group type has at most {MAX_SPECS} group specs")
        self.repo.update(gtype.id, group_specs=merged)
        return merged

    def unset_spec(self, who: Principal, type_id: str, key: str) -> None:
        gtype = self.get(who, type_id)
        if key not in gtype.group_specs:
            raise NotFound(f"Group Type {type_id} has no specs with key {key}.")
        self.repo.update(gtype.id, group_specs={k: v for k, v in gtype.group_specs.items() if k != key})
