"""The query of ``GET /snapshots[/detail]`` as Cinder reads it (``cinder/api/v3/snapshots.py``):

- ``marker``, ``limit`` (at most :data:`~volclone.api.listing.MAX_LIMIT`), ``offset``, and
  ``sort=key[:dir],...`` or ``sort_key``/``sort_dir``; newest first by default, and the order
  always ends with ``created_at`` then ``id``;
- a user's filters: ``name``, ``status``, ``volume_id``, ``metadata`` (and ``availability_zone``,
  which every volclone snapshot has as ``nova``); below 3.33 others are ignored, from 3.33 they
  are a 400; an admin's may name any field (an unknown one matches nothing), and from 3.34 an
  admin's ``key~`` (``name~``, ``description~``, ``status~``, ...) matches a part of the field,
  in any case (users may not: Cinder's default resource filters name no ``key~`` for snapshots);
- ``all_tenants`` (admins), ``with_count`` (3.45), ``consumes_quota`` (3.65: every volclone
  snapshot consumes quota, so ``false`` lists none).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from volclone.api.listing import (
    COUNT_VERSION,
    LIKE_FILTER_VERSION,
    MAX_LIMIT,
    RESOURCE_FILTER_VERSION,
    USE_QUOTA_VERSION,
    Version,
    boolean,
    page_params,
    sort_params,
)
from volclone.domain import SnapshotQuery
from volclone.errors import BadRequest

#: Cinder's default ``resource_filters.json`` for snapshots.
USER_FILTERS = frozenset({"name", "status", "volume_id", "metadata", "availability_zone"})
PAGING = frozenset({"marker", "limit", "offset", "sort", "sort_key", "sort_dir"})
#: The parameter -> the snapshot's field.
EQUAL_FILTERS = {"name": "name", "display_name": "name", "description": "description",
                 "display_description": "description", "status": "status", "volume_id": "volume_id",
                 "id": "id", "project_id": "project_id"}
#: From 3.34, an admin's ``key~``: the parameter -> the snapshot's field it holds a part of.
LIKE_FILTERS = {f"{key}~": name for key, name in EQUAL_FILTERS.items()}
SORT_KEYS = {"id": "id", "name": "name", "display_name": "name", "description": "description",
             "display_description": "description", "status": "status", "size": "size", "volume_size": "size",
             "volume_id": "volume_id", "project_id": "project_id", "created_at": "created_at",
             "updated_at": "updated_at"}


@dataclass(frozen=True)
class SnapshotList:
    query: SnapshotQuery
    all_projects: bool = False
    with_count: bool = False
    limit: int = MAX_LIMIT


def snapshot_list(items: Iterable[tuple[str, str]], version: Version, is_admin: bool) -> SnapshotList:
    params = dict(items)
    limit, offset = page_params(params)
    sort = sort_params(params, SORT_KEYS, frozenset())
    filters = {k: v for k, v in params.items() if k not in PAGING}
    all_projects = boolean("all_tenants", filters.pop("all_tenants")) if "all_tenants" in filters else False
    with_count = boolean("with_count", filters.pop("with_count")) \
        if version >= COUNT_VERSION and "with_count" in filters else False
    nothing = False
    if version >= USE_QUOTA_VERSION and "consumes_quota" in filters:
        nothing = not boolean("consumes_quota", filters.pop("consumes_quota"))
    if not is_admin:
        invalid = [k for k in filters if k not in USER_FILTERS]
        if invalid and version >= RESOURCE_FILTER_VERSION:
            raise BadRequest(f"Invalid filters {','.join(invalid)} are found in query options.")
        for k in invalid:
            del filters[k]
    equal: list[tuple[str, object]] = []
    metadata: list[tuple[str, str]] = []
    contains: list[tuple[str, str]] = []
    for key, raw in filters.items():
        if key == "metadata":
            try:
                value = ast.literal_eval(raw)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = None
            if isinstance(value, dict):
                metadata += [(str(k), str(v)) for k, v in value.items()]
            else:
                nothing = True
        elif key == "availability_zone":
            nothing |= raw != "nova"
        elif key in EQUAL_FILTERS:
            equal.append((EQUAL_FILTERS[key], raw))
        elif key in LIKE_FILTERS and version >= LIKE_FILTER_VERSION:
            contains.append((LIKE_FILTERS[key], raw))
        else:
            nothing = True
    query = SnapshotQuery(equal=tuple(equal), metadata=tuple(metadata), contains=tuple(contains),
                          nothing=nothing, sort=sort,
                          marker=params.get("marker"), limit=limit, offset=offset)
    return SnapshotList(query, all_projects, with_count, limit)
