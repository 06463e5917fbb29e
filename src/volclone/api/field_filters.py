"""The filters of a list that match a field, shared by the lists that take an admin's any-field
filters (groups, group snapshots, attachments): ``key`` is equal, from 3.34 (Cinder's
``LIKE_FILTER``) ``key~`` holds a part of the field in any case, and a key the list has no field
of matches nothing (Cinder hands it to its database, which finds nothing for it).

    found = field_filters({"name~": "nigh"}, {"name": "name"}, (3, 34))
    found.contains == (("name", "nigh"),)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from volclone.api.listing import LIKE_FILTER_VERSION, Version
from volclone.errors import BadRequest


@dataclass(frozen=True)
class FieldFilters:
    equal: tuple[tuple[str, object], ...] = ()
    contains: tuple[tuple[str, str], ...] = ()
    #: A key the list has no field of (or ``key~`` below 3.34): no row matches.
    nothing: bool = False


def field_filters(filters: Mapping[str, str], fields: Mapping[str, str], version: Version) -> FieldFilters:
    """``filters`` (parameter -> value) on ``fields`` (parameter -> the row's field)."""
    equal: list[tuple[str, object]] = []
    contains: list[tuple[str, str]] = []
    nothing = False
    for key, value in filters.items():
        if key in fields:
            equal.append((fields[key], value))
        elif key.endswith("~") and key[:-1] in fields and version >= LIKE_FILTER_VERSION:
            contains.append((fields[key[:-1]], value))
        else:
            nothing = True
    return FieldFilters(tuple(equal), tuple(contains), nothing)


def reject_user_filters(keys: Iterable[str], allowed: frozenset[str]) -> None:
    """From 3.33 (Cinder's ``RESOURCE_FILTER``) a user's filter outside the list's resource
    filters is a 400 naming it (``all_tenants`` is never one, as in Cinder)."""
    invalid = [k for k in keys if k not in allowed and k != "all_tenants"]
    if invalid:
        raise BadRequest(f"Invalid filters {','.join(invalid)} are found in query options.")
