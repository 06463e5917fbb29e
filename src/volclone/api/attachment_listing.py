"""The filters of ``GET /attachments[/detail]`` as Cinder reads them (``cinder/api/v3/attachments.py``):

- a user's: :data:`USER_FILTERS` (Cinder's default ``resource_filters.json``); below 3.33 others
  are dropped, from 3.33 they are a 400 naming them;
- an admin's may name any field of :data:`EQUAL_FILTERS` (another matches nothing, as Cinder's
  database finds nothing for it), and from 3.34 ``key~`` (``instance_id~``, ``volume_id~``, ...)
  matches a part of the field, in any case;
- ``instance_id`` is the attachment's ``instance_uuid``, ``status`` and ``attach_status`` its
  status; ``all_tenants`` (admins), ``marker``, ``limit``, ``offset`` and ``sort`` are not filters;
- the page, as Cinder's ``get_pagination_params`` and ``get_sort_params``: ``marker`` (an unknown
  one is a 404), ``limit`` and ``offset`` as :func:`~volclone.api.listing.page_params` reads them
  (a larger ``limit`` is cut to :data:`~volclone.api.listing.MAX_LIMIT`), ``sort=key[:dir],...`` or
  ``sort_key``/``sort_dir`` on :data:`SORT_KEYS`; the order ends with ``created_at`` then ``id``,
  newest first by default, as Cinder's.
"""

from __future__ import annotations

from collections.abc import Iterable

from volclone.api.field_filters import field_filters, reject_user_filters
from volclone.api.listing import RESOURCE_FILTER_VERSION, Version, page_params, sort_params
from volclone.domain import PageQuery

#: Cinder's default ``resource_filters.json`` for attachments.
USER_FILTERS = frozenset({"volume_id", "status", "instance_id", "attach_status"})
#: The parameter -> the attachment's field.
EQUAL_FILTERS = {"id": "id", "volume_id": "volume_id", "project_id": "project_id", "instance_id": "instance_uuid",
                 "instance_uuid": "instance_uuid", "status": "status", "attach_status": "status",
                 "attach_mode": "mode", "mountpoint": "mountpoint"}
SORT_KEYS = {**EQUAL_FILTERS, "created_at": "created_at"}
_NOT_FILTERS = frozenset({"all_tenants", "marker", "limit", "offset", "sort", "sort_key", "sort_dir"})


def attachment_filters(items: Iterable[tuple[str, str]], version: Version, is_admin: bool) -> PageQuery:
    """The filters and page of a list request's query parameters, as Cinder reads them at ``version``."""
    params = dict(items)  # a repeated parameter: its last value counts
    limit, offset = page_params(params)
    sort = sort_params(params, SORT_KEYS, frozenset())
    filters = {k: v for k, v in params.items() if k not in _NOT_FILTERS}
    if not is_admin:
        if version >= RESOURCE_FILTER_VERSION:
            reject_user_filters(filters, USER_FILTERS)
        filters = {k: v for k, v in filters.items() if k in USER_FILTERS}
    found = field_filters(filters, EQUAL_FILTERS, version)
    return PageQuery(equal=found.equal, contains=found.contains, nothing=found.nothing, sort=sort,
                     marker=params.get("marker"), limit=limit, offset=offset)
