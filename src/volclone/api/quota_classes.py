"""/v3/{project_id}/os-quota-class-sets/{class_name}: quota classes, as Cinder's (admins).

    GET /os-quota-class-sets/default      {"quota_class_set": {"id": "default", "volumes": 10, ...}}
    PUT /os-quota-class-sets/default      {"quota_class_set": {"volumes": 20, "volumes_gold": 5}}
        {"quota_class_set": {"volumes": 20, ...}}           (no ``id``, as Cinder answers)

The ``default`` class gives the defaults of every project without limits of its own
(:mod:`volclone.service.quota_classes`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from volclone.api.deps import principal, rule, service
from volclone.api.schemas import Strict
from volclone.domain import Principal
from volclone.errors import CapabilityMissing
from volclone.service.quota_classes import QuotaClassService

router = APIRouter(prefix="/v3/{project_id}")
RULE = "volume_extension:quota_classes"


class QuotaClassSetBody(Strict):
    """``{"quota_class_set": {KEY: LIMIT, ...}}``; the keys and limits are checked by the service."""

    quota_class_set: dict[str, Any]


def _classes(request: Request) -> QuotaClassService:
    classes = service(request).quota_classes
    if classes is None:
        raise CapabilityMissing("this service keeps no quota classes")
    return classes


@router.get("/os-quota-class-sets/{class_name}")
@rule(RULE)
def show_quota_class(project_id: str, class_name: str, request: Request,
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"quota_class_set": {"id": class_name, **_classes(request).show(class_name)}}


@router.put("/os-quota-class-sets/{class_name}")
@rule(RULE)
def update_quota_class(project_id: str, class_name: str, body: QuotaClassSetBody, request: Request,
                       who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"quota_class_set": _classes(request).update(class_name, body.quota_class_set)}
