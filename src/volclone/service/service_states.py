"""What an admin sets on the services (Cinder's ``os-services`` actions), and what it changes::

    states = ServiceStates(ServiceRecords(db), policy)
    states.disable(admin, "worker-1@ceph", "cinder-volume", reason="maintenance")
    states.placeable("ceph")           # False: every service of the backend is disabled
    states.check_placeable("ceph")     # the same as a 503 (clone-volumes)
    states.freeze(admin, "worker-1")   # its backends: frozen and disabled (reason "frozen")
    states.check_not_frozen("ceph", "volume v1")  # 400: a management operation on a frozen backend's volume
    states.thaw(admin, "worker-1")

As Cinder's scheduler, placement skips disabled services: a new volume goes to its type's
backend only while at least one of that backend's volume services is enabled (a backend no
worker reported yet is not checked). A backend is frozen when one of its volume services is
(the storage is what is frozen; its other workers serve the same storage): its volumes are not
deleted, extended, retyped or snapshotted until it is thawed, as Cinder refuses these on a
frozen backend. ``host`` is a worker (all its backends) or ``worker@backend``, as the list matches it.
"""

from __future__ import annotations

from volclone.db.services import ServiceRecords
from volclone.domain import BINARY_ALIASES, VOLUME_BINARY, Principal, ServiceRecord
from volclone.errors import BackendUnavailable, BadRequest, NotFound
from volclone.service.policy import Policy

UPDATE_RULE = "volume_extension:services:update"
FREEZE_RULE = "volume:freeze_host"
THAW_RULE = "volume:thaw_host"
#: The reason a freeze gives the services it disables (Cinder's).
FROZEN_REASON = "frozen"
MAX_REASON = 255


def cinder_binary(binary: str) -> str:
    """A ``binary`` filter's name: an older volclone name is its Cinder name."""
    return BINARY_ALIASES.get(binary, binary)


def matches(record: ServiceRecord, host: str | None, binary: str | None) -> bool:
    return (not host or host in (record.host, record.name)) and (not binary or record.binary == cinder_binary(binary))


def check_reason(reason: object) -> str:
    """Cinder's test of a disabled reason: 1 to 255 characters, not only blanks."""
    if not isinstance(reason, str) or not reason.strip() or len(reason.strip()) > MAX_REASON:
        raise BadRequest("Invalid input received: Disabled reason contains invalid characters or is too long")
    return reason


class ServiceStates:
    def __init__(self, records: ServiceRecords, policy: Policy | None = None) -> None:
        self.records = records
        self.policy = policy or Policy()

    def _find(self, host: str, binary: str) -> list[ServiceRecord]:
        found = [r for r in self.records.list() if matches(r, host, binary)]
        if not found:
            raise NotFound(f"Service {binary} on host {host} could not be found.")
        return found

    # -- os-services/enable, disable, disable-log-reason ---------------------------------
    def enable(self, who: Principal, host: str, binary: str) -> list[ServiceRecord]:
        self.policy.authorize(UPDATE_RULE, who)
        found = self._find(host, binary)
        self.records.set_state(found, disabled=False, disabled_reason=None)
        return found

    def disable(self, who: Principal, host: str, binary: str, reason: str | None = None) -> list[ServiceRecord]:
        """Disable the services (a ``reason``, when given, is checked and kept; none keeps the old one)."""
        self.policy.authorize(UPDATE_RULE, who)
        found = self._find(host, binary)
        if reason is None:
            self.records.set_state(found, disabled=True)
        else:
            self.records.set_state(found, disabled=True, disabled_reason=check_reason(reason))
        return found

    # -- os-services/freeze, thaw ------------------------------------------------------
    def _volume_services(self, host: str) -> list[ServiceRecord]:
        found = [r for r in self.records.list() if matches(r, host, VOLUME_BINARY)] if host else []
        if not found:  # Cinder's answer here is a 400
            raise BadRequest(f"Invalid input received: no volume service is on host {host!r}")
        return found

    def freeze(self, who: Principal, host: str) -> None:
        self.policy.authorize(FREEZE_RULE, who)
        found = self._volume_services(host)
        if any(r.frozen for r in found):
            raise BadRequest("Invalid input received: Host is already Frozen.")
        self.records.set_state(found, frozen=True, disabled=True, disabled_reason=FROZEN_REASON)

    def thaw(self, who: Principal, host: str) -> None:
        self.policy.authorize(THAW_RULE, who)
        found = self._volume_services(host)
        if not all(r.frozen for r in found):
            raise BadRequest("Invalid input received: Host is NOT Frozen.")
        self.records.set_state(found, frozen=False, disabled=False, disabled_reason=None)

    # -- what placement and the volume operations ask ------------------------------------
    def placeable(self, backend: str) -> bool:
        """Whether a new volume may go to ``backend``: not when every one of its volume services is
        disabled (a backend no worker reported yet is)."""
        services = [r for r in self.records.list() if r.binary == VOLUME_BINARY and r.backend == backend]
        return not services or not all(r.disabled for r in services)

    def check_placeable(self, backend: str) -> None:
        """A clone may go to ``backend`` (503 if every one of its volume services is disabled)."""
        if not self.placeable(backend):
            raise BackendUnavailable(f"No valid backend was found: every service of backend {backend} is "
                                     "disabled (os-services/enable)")

    def check_not_frozen(self, backend: str, what: str) -> None:
        """A management operation on ``what`` (``volume <id>``, ...), which is on ``backend``, may
        run (400 if the backend is frozen)."""
        if any(r.frozen for r in self.records.list() if r.binary == VOLUME_BINARY and r.backend == backend):
            raise BadRequest(f"Invalid input received: {what} is on backend {backend}, which is frozen "
                             "(os-services/thaw)")
