"""Cinder's ``os-hosts`` (admins): the services as hosts, and what one volume host holds::

    hosts = HostService(directory, usage=lambda backend: backend_usage(db, backend))
    hosts.list(admin)                  # [ListedService, ...]: the enabled services
    hosts.show(admin, "worker-1@ceph") # [HostUsage, ...] of backend ceph, by project

As Cinder's, the list has the enabled services only, and a host to show is an enabled volume
service (``worker@backend``; 404 otherwise). A backend's volumes are not any one worker's in
volclone (each worker serving a backend serves all of its volumes), so the figures of
``worker@backend`` are the whole backend's.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable

from volclone.domain import VOLUME_BINARY, HostUsage, Principal
from volclone.errors import NotFound
from volclone.service.policy import Policy
from volclone.service.services import ListedService, ServiceDirectory

RULE = "volume_extension:hosts"


class HostService:
    def __init__(self, directory: ServiceDirectory, usage: Callable[[str], list[HostUsage]],
                 policy: Policy | None = None) -> None:
        self.directory = directory
        self.usage = usage
        self.policy = policy or Policy()

    def list(self, who: Principal) -> builtins.list[ListedService]:
        self.policy.authorize(RULE, who)
        return [s for s in self.directory.list(who) if not s.record.disabled]

    def show(self, who: Principal, host: str) -> builtins.list[HostUsage]:
        self.policy.authorize(RULE, who)
        found = [s.record for s in self.directory.list(who, binary=VOLUME_BINARY)
                 if s.record.host == host and not s.record.disabled]
        if not found:
            raise NotFound(f"Host {host} could not be found.")
        return self.usage(found[0].backend)
