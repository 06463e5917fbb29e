"""The query of ``GET /group_snapshots[/detail]`` as Cinder reads it (``cinder/api/v3/group_snapshots.py``):

- below 3.29 (Cinder's ``GROUP_SNAPSHOT_PAGINATION``) every query parameter is ignored: the list
  is the project's whole list, newest first (Cinder hands its database no parameter there, not
  even ``all_tenants``);
- from 3.29: ``marker`` (an unknown one is a 404), ``limit`` and ``offset`` as
  :func:`~volclone.api.listing.page_params` reads them (a larger ``limit`` is cut to
  :data:`~volclone.api.listing.MAX_LIMIT`),
  ``sort=key[:dir],...`` or ``sort_key``/``sort_dir`` on the fields in :data:`SORT_KEYS` (another
  key, or a direction other than ``asc``/``desc``, is a 400); the order ends with ``created_at``
  then ``id`` in the first key's direction, newest first by default; ``all_tenants`` (admins);
- filters: a user's, from 3.33, only ``status`` and ``group_id`` (Cinder's default
  ``resource_filters.json``; others are a 400); an admin's (and a user's from 3.29 to 3.32) may
  name any field of :data:`EQUAL_FILTERS` (another matches nothing, as Cinder's database finds
  nothing for it), and from 3.34 ``key~`` matches a part of the field, in any case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from volclone.api.field_filters import field_filters, reject_user_filters
from volclone.api.listing import MAX_LIMIT, RESOURCE_FILTER_VERSION, Version, boolean, page_params, sort_params
from volclone.domain import PageQuery

#: Cinder's ``GROUP_SNAPSHOT_PAGINATION``: filters, sort and paging.
PAGINATION_VERSION = (3, 29)
#: Cinder's default ``resource_filters.json`` for group snapshots.
USER_FILTERS = frozenset({"status", "group_id"})
#: The parameter -> the group snapshot's field (the columns of Cinder's ``group_snapshots``
#: that volclone keeps).
EQUAL_FILTERS = {"id": "id", "name": "name", "description": "description", "status": "status",
                 "group_id": "group_id", "group_type_id": "group_type_id", "project_id": "project_id"}
SORT_KEYS = {**EQUAL_FILTERS, "created_at": "created_at", "updated_at": "updated_at"}
_NOT_FILTERS = frozenset({"marker", "limit", "offset", "sort", "sort_key", "sort_dir", "all_tenants"})


@dataclass(frozen=True)
class GroupSnapshotList:
    query: PageQuery
    all_projects: bool = False
    #: The page size the answer was cut to (a full page gets a ``next`` link).
    limit: int = MAX_LIMIT


def group_snapshot_list(items: Iterable[tuple[str, str]], version: Version, is_admin: bool) -> GroupSnapshotList:
    """Parse a list request's query parameters, as Cinder does at ``version`` for an admin or not."""
    if version < PAGINATION_VERSION:
        return GroupSnapshotList(PageQuery())
    params = dict(items)  # a repeated parameter: its last value counts
    limit, offset = page_params(params)
    sort = sort_params(params, SORT_KEYS, frozenset())
    all_projects = boolean("all_tenants", params["all_tenants"]) if "all_tenants" in params else False
    filters = {k: v for k, v in params.items() if k not in _NOT_FILTERS}
    if not is_admin and version >= RESOURCE_FILTER_VERSION:
        reject_user_filters(filters, USER_FILTERS)
    found = field_filters(filters, EQUAL_FILTERS, version)
    query = PageQuery(equal=found.equal, contains=found.contains, nothing=found.nothing, sort=sort,
                      marker=params.get("marker"), limit=limit, offset=offset)
    return GroupSnapshotList(query, all_projects, limit)
