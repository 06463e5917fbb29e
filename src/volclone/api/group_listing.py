"""The query of ``GET /groups[/detail]`` as Cinder reads it (``cinder/api/v3/groups.py``):

- ``marker`` (an unknown one is a 404), ``limit`` and ``offset`` as
  :func:`~volclone.api.listing.page_params` reads them (a larger ``limit`` is cut to
  :data:`~volclone.api.listing.MAX_LIMIT`),
  ``sort=key[:dir],...`` or ``sort_key``/``sort_dir`` on :data:`SORT_KEYS`; the order ends with
  ``created_at`` then ``id`` in the first key's direction, newest first by default;
  ``all_tenants`` (admins); ``list_volume`` (3.25) is not a filter;
- filters: below 3.33 anyone's may name any field of :data:`EQUAL_FILTERS` (another matches
  nothing, as Cinder's database finds nothing for it); from 3.33 a user's are a 400 (Cinder's
  default ``resource_filters.json`` names none for groups), an admin's still name any field, and
  from 3.34 an admin's ``key~`` matches a part of the field, in any case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from volclone.api.field_filters import field_filters, reject_user_filters
from volclone.api.listing import MAX_LIMIT, RESOURCE_FILTER_VERSION, Version, boolean, page_params, sort_params
from volclone.domain import PageQuery

#: Cinder's default ``resource_filters.json`` for groups: none.
USER_FILTERS: frozenset[str] = frozenset()
#: The parameter -> the group's field (the columns of Cinder's ``groups`` that volclone keeps).
EQUAL_FILTERS = {key: key for key in ("id", "name", "description", "status", "group_type_id", "project_id",
                                      "availability_zone", "group_snapshot_id", "source_group_id")}
SORT_KEYS = {**EQUAL_FILTERS, "created_at": "created_at", "updated_at": "updated_at"}
_NOT_FILTERS = frozenset({"marker", "limit", "offset", "sort", "sort_key", "sort_dir", "all_tenants", "list_volume"})


@dataclass(frozen=True)
class GroupList:
    query: PageQuery
    all_projects: bool = False
    #: The page size the answer was cut to (a full page gets a ``next`` link).
    limit: int = MAX_LIMIT


def group_list(items: Iterable[tuple[str, str]], version: Version, is_admin: bool) -> GroupList:
    """Parse a group list's query parameters, as Cinder does at ``version`` for an admin or not."""
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
    return GroupList(query, all_projects, limit)
