"""Cinder's pools and capabilities (admins, by default):

    GET /v3/{project_id}/scheduler-stats/get_pools[?detail=true][&<capability>=<value>...][&volume_type=T]
    GET /v3/{project_id}/capabilities/{hostname}

``detail`` adds each pool's ``capabilities``. From microversion 3.28 any other parameter filters
the pools (``name``, or a capability: ``volume_backend_name=ceph``); from 3.35 ``volume_type``
(name or id) keeps the pools its volumes go to. Below those versions Cinder ignores them, and so
does volclone. ``hostname`` is a volume service's ``host`` as os-services lists it (``worker@backend``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from volclone.api.deps import principal, rule, service
from volclone.domain import Principal
from volclone.service.pools import PoolDirectory

router = APIRouter(prefix="/v3/{project_id}")
#: Cinder's ``POOL_FILTER`` and ``POOL_TYPE_FILTER`` microversions.
FILTER_VERSION = (3, 28)
TYPE_FILTER_VERSION = (3, 35)
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})


def _pools(request: Request) -> PoolDirectory:
    svc = service(request)
    return PoolDirectory(svc.services, svc.volumes.backends, svc.types)


@router.get("/scheduler-stats/get_pools")
@rule("scheduler_extension:scheduler_stats:get_pools")
def get_pools(project_id: str, request: Request,
              detail: str | None = Query(None, description="true: each pool's capabilities too"),
              who: Principal = Depends(principal)) -> dict[str, Any]:
    version = getattr(request.state, "api_version", (3, 0))
    params = dict(request.query_params)
    params.pop("detail", None)
    volume_type = params.pop("volume_type", None) if version >= TYPE_FILTER_VERSION else None
    params.pop("volume_type", None)
    filters = params if version >= FILTER_VERSION else {}
    pools = _pools(request).list(who, filters=filters, volume_type=volume_type)
    with_detail = (detail or "").strip().lower() in _TRUE  # Cinder's bool_from_string: anything else is false
    return {"pools": [{"name": p.name, "capabilities": p.capabilities} if with_detail else {"name": p.name}
                      for p in pools]}


@router.get("/capabilities/{hostname}")
@rule("volume_extension:capabilities")
def get_capabilities(project_id: str, hostname: str, request: Request,
                     who: Principal = Depends(principal)) -> dict[str, Any]:
    return _pools(request).capabilities(who, hostname)
