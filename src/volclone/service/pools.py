"""Cinder's scheduler pools and backend capabilities (``GET /scheduler-stats/get_pools``,
``GET /capabilities/{hostname}``; admins), from the backends this process knows and the workers'
service records::

    pools = PoolDirectory(svc.services, svc.volumes.backends, svc.types)
    pools.list(admin)                                   # [Pool("worker-1@local#local", {...}), ...]
    pools.list(admin, filters={"volume_backend_name": "ceph"})
    pools.list(admin, volume_type="gold")               # the pools that type's volumes go to
    pools.capabilities(admin, "worker-1@local")

Each backend is one pool (volclone's backends are not divided further), named as Cinder names
pools: ``<worker>@<backend>#<backend>``, one per worker that serves the backend (its heartbeat
record; stopped workers' rows too, as Cinder lists them). What each reports is
:func:`volclone.service.capabilities.backend_capabilities`, the same a volume create checks a
type's extra specs against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from volclone import __version__
from volclone.domain import VOLUME_BINARY, Principal
from volclone.errors import NotFound
from volclone.service.capabilities import VENDOR, backend_capabilities
from volclone.service.services import ServiceDirectory
from volclone.service.volumes import Backends, VolumeTypeService

__all__ = ["VENDOR", "Pool", "PoolDirectory"]


@dataclass(frozen=True)
class Pool:
    name: str
    capabilities: dict[str, Any]


class PoolDirectory:
    def __init__(self, services: ServiceDirectory, backends: Backends, types: VolumeTypeService) -> None:
        self.services = services
        self.backends = backends
        self.types = types

    def _hosts(self, who: Principal) -> list[tuple[str, str, Any]]:
        """(``worker@backend``, backend, last heartbeat) of every volume service, by host."""
        listed = self.services.list(who, binary=VOLUME_BINARY)
        return sorted(((s.record.host, s.record.backend, s.record.heartbeat_at) for s in listed),
                      key=lambda h: h[0])

    def _capabilities(self, backend: str, timestamp: Any) -> dict[str, Any]:
        return {**backend_capabilities(backend, self.backends.drivers.get(backend)),
                "timestamp": timestamp.isoformat() if timestamp is not None else None}

    def list(self, who: Principal, filters: Mapping[str, str] | None = None,
             volume_type: str | None = None) -> list[Pool]:
        """Every pool; ``filters`` (3.28) keep those whose ``name`` or capability of that key
        reads the same; ``volume_type`` (3.35, name or id) those its volumes would be created in."""
        backend_of_type = None
        if volume_type is not None:
            backend_of_type = self.backends.name_for(self.types.find(volume_type, who))
        pools = [Pool(f"{host}#{backend}", self._capabilities(backend, beat))
                 for host, backend, beat in self._hosts(who)]
        if backend_of_type is not None:
            pools = [p for p in pools if p.capabilities["volume_backend_name"] == backend_of_type]
        for key, want in (filters or {}).items():
            pools = [p for p in pools if _reads(p.name if key == "name" else p.capabilities.get(key), want)]
        return pools

    def capabilities(self, who: Principal, host: str) -> dict[str, Any]:
        """Cinder's capabilities of one volume service (``worker@backend``)."""
        found = next(((b, beat) for h, b, beat in self._hosts(who) if h == host), None)
        if found is None:
            raise NotFound(f"Service {host} could not be found.")
        backend, beat = found
        caps = self._capabilities(backend, beat)
        return {
            "namespace": f"OS::Storage::Capabilities::{host}", "vendor_name": VENDOR,
            "volume_backend_name": backend, "pool_name": backend, "driver_version": __version__,
            "storage_protocol": caps["storage_protocol"], "display_name": None, "description": None,
            "visibility": None, "replication_targets": [],
            "properties": {
                "thin_provisioning": {"title": "Thin Provisioning", "type": "boolean",
                                      "description": "Volumes take only the space their data needs."},
                "consistent_group_snapshot": {
                    "title": "Consistent Group Snapshot", "type": "boolean",
                    "description": "Several volumes are snapshotted at one point in time (clone-volumes)."},
            },
        }


def _reads(value: Any, want: str) -> bool:
    """Whether a capability reads as ``want`` in a query string (``True`` as ``true``)."""
    if isinstance(value, bool):
        return want.lower() == str(value).lower()
    return value is not None and str(value) == want
