"""GET /v3/{project_id}/resource_filters[?resource=volume] (microversion 3.33; below, 404):

    {"resource_filters": [{"resource": "volume", "filters": ["availability_zone", ...]}, ...]}

The filters a user (not an admin, who may filter on anything) may give each list, as Cinder
answers from its ``resource_filters.json``; here they are the ones the lists' parsers take, so
the answer and the lists cannot disagree. A resource volclone does not list is not named (and
``?resource=`` of one gives an empty list, as Cinder's).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from volclone.api import attachment_listing, group_listing, group_snapshot_listing, listing, snapshot_listing
from volclone.api.deps import api_version, principal, rule
from volclone.api.versions import fmt
from volclone.domain import Principal
from volclone.errors import NotFound

router = APIRouter(prefix="/v3/{project_id}/resource_filters")
#: Cinder's ``RESOURCE_FILTER_CONFIG``.
RESOURCE_FILTERS_VERSION = (3, 33)

#: resource -> the filters a user may give its list (at the newest microversion).
RESOURCE_FILTERS: dict[str, frozenset[str]] = {
    "volume": listing.USER_FILTERS | listing.LIKE_FILTERS.keys() | {"description", *listing.TIME_FILTERS},
    "snapshot": snapshot_listing.USER_FILTERS,
    "attachment": attachment_listing.USER_FILTERS,
    "group": group_listing.USER_FILTERS,
    "group_snapshot": group_snapshot_listing.USER_FILTERS,
    "volume_type": frozenset({"is_public", "extra_specs"}),
}


@router.get("")
@rule("volume_extension:resource_filters")
def list_resource_filters(project_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    version = api_version(request)
    if version < RESOURCE_FILTERS_VERSION:
        raise NotFound(f"API version {fmt(version)} is not supported on this method; resource filters need "
                       f"microversion {fmt(RESOURCE_FILTERS_VERSION)} or later")
    wanted = request.query_params.get("resource")
    return {"resource_filters": [{"resource": name, "filters": sorted(filters)}
                                 for name, filters in RESOURCE_FILTERS.items() if wanted in (None, name)]}
