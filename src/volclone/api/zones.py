"""/v3/{project_id}/os-availability-zone: the availability zones, as Cinder lists them.

volclone has one zone, ``nova`` (Cinder's default ``storage_availability_zone``), the one every
volume shows in ``availability_zone``::

    GET /os-availability-zone  ->  {"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}}]}
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from volclone.api import views
from volclone.api.deps import principal, rule
from volclone.domain import Principal

router = APIRouter(prefix="/v3/{project_id}")


@router.get("/os-availability-zone")
@rule("volume_extension:availability_zone_list")
def list_zones(project_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"availabilityZoneInfo": [{"zoneName": views.AVAILABILITY_ZONE, "zoneState": {"available": True}}]}
