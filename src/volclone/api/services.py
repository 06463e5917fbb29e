"""/v3/{project_id}/os-services: the services, as Cinder lists them (admins, by default).

    GET /os-services[?host=worker[@backend]][&binary=cinder-volume]

One row per worker and backend it serves (binary ``cinder-volume``, Cinder's name), and one per
process that places volumes (``cinder-scheduler``: ``volclone serve``, each API process; Cinder
lists no ``cinder-api``). ``binary=volclone-volume``, volclone's older name, is taken too.
``state`` is ``up`` while the worker beats and is in the coordination group; ``status`` is
``disabled`` after os-services/disable or a freeze (:mod:`volclone.api.service_actions`).
``service`` is the older name of ``binary`` (Cinder's, deprecated; ``binary`` wins).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from volclone.api import views
from volclone.api.deps import principal, rule, service
from volclone.domain import Principal

router = APIRouter(prefix="/v3/{project_id}")
#: The microversion that added ``cluster`` to each service (Cinder's 3.7).
CLUSTER_VERSION = (3, 7)
#: ... and ``backend_state`` to each volume service (Cinder's ``BACKEND_STATE_REPORT``).
BACKEND_STATE_VERSION = (3, 49)


@router.get("/os-services")
@rule("volume_extension:services:index")
def list_services(project_id: str, request: Request,
                  host: str | None = Query(None, description="a worker (all its backends) or worker@backend"),
                  binary: str | None = Query(None, description="only services of this binary, e.g. cinder-volume"),
                  service_name: str | None = Query(None, alias="service", deprecated=True,
                                                   description="the older name of binary"),
                  who: Principal = Depends(principal)) -> dict[str, Any]:
    listed = service(request).services.list(who, host=host, binary=binary or service_name)
    version = getattr(request.state, "api_version", (3, 0))
    return {"services": [views.service(s, version >= CLUSTER_VERSION, version >= BACKEND_STATE_VERSION)
                         for s in listed]}
