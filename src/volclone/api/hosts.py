"""/v3/{project_id}/os-hosts: Cinder's host list and one volume host's usage (admins).

    GET /os-hosts[?zone=nova]
        {"hosts": [{"host_name": "worker-1@ceph", "service": "cinder-volume", "zone": "nova",
                    "service-status": "available", "service-state": "enabled", "last-update": ...}]}
    GET /os-hosts/worker-1@ceph
        {"host": [{"resource": {"host": ..., "project": "(total)", "volume_count": "3", ...}}, ...]}

The figures are strings, as Cinder's; the first resource is the total, then one per project
(:mod:`volclone.service.hosts`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from volclone.api.deps import principal, rule, service
from volclone.api.views import AVAILABILITY_ZONE
from volclone.domain import HostUsage, Principal
from volclone.errors import CapabilityMissing
from volclone.service.hosts import RULE, HostService

router = APIRouter(prefix="/v3/{project_id}")


def _hosts(request: Request) -> HostService:
    hosts = service(request).hosts
    if hosts is None:
        raise CapabilityMissing("this service lists no hosts")
    return hosts


@router.get("/os-hosts")
@rule(RULE)
def list_hosts(project_id: str, request: Request,
               zone: str | None = Query(None, description="only the hosts of this availability zone"),
               who: Principal = Depends(principal)) -> dict[str, Any]:
    listed = _hosts(request).list(who) if not zone or zone == AVAILABILITY_ZONE else []
    return {"hosts": [{"host_name": s.record.host, "service": s.record.binary, "zone": AVAILABILITY_ZONE,
                       "service-status": "available" if s.up else "unavailable",
                       "service-state": "disabled" if s.record.disabled else "enabled",
                       "last-update": s.record.heartbeat_at.isoformat(timespec="microseconds")}
                      for s in listed]}


def _resource(host: str, project: str, u: HostUsage) -> dict[str, Any]:
    return {"resource": {"host": host, "project": project, "volume_count": str(u.volumes),
                         "total_volume_gb": str(u.volume_gb), "snapshot_count": str(u.snapshots),
                         "total_snapshot_gb": str(u.snapshot_gb)}}


@router.get("/os-hosts/{host_name}")
@rule(RULE)
def show_host(project_id: str, host_name: str, request: Request,
              who: Principal = Depends(principal)) -> dict[str, Any]:
    usage = _hosts(request).show(who, host_name)
    total = HostUsage("(total)", sum(u.volumes for u in usage), sum(u.volume_gb for u in usage),
                      sum(u.snapshots for u in usage), sum(u.snapshot_gb for u in usage))
    return {"host": [_resource(host_name, "(total)", total), *(_resource(host_name, u.project_id, u) for u in usage)]}
