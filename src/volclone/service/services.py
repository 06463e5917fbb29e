"""Which workers serve which backends, and whether they are up (Cinder's ``os-services``)::

    directory = ServiceDirectory(ServiceRecords(db), down_after_s=60, members=live_workers)
    beat = directory.heartbeater("worker-1", socket.gethostname(), ["local", "ceph"])
    beat.start()                     # a beat now, then every ``interval`` seconds
    directory.list(admin)            # one ListedService per worker and backend
    directory.list(admin, host="worker-1", binary="cinder-volume")
    beat.stop()

A service is ``up`` while its last heartbeat is at most ``down_after_s`` old (Cinder's
``service_down_time``, ``VOLCLONE_SERVICE_DOWN_TIME``) and, when a membership callable is given
(the worker ids in the coordination group), its worker is a member: a worker that died drops
out of the group before its heartbeat ages. As in Cinder, the clocks of the machines are
compared (run NTP), and a stopped worker's rows stay, ``down``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from volclone.db.schema import utcnow
from volclone.db.services import ServiceRecords
from volclone.domain import VOLUME_BINARY, Principal, ServiceRecord
from volclone.service.periodic import Periodic
from volclone.service.policy import Policy
from volclone.service.service_states import matches

log = logging.getLogger(__name__)

#: The policy rule of the list (Cinder's; admins only by default).
LIST_RULE = "volume_extension:services:index"
#: Cinder's ``report_interval``: seconds between heartbeats (less when down_after_s is short).
REPORT_INTERVAL_S = 10.0


@dataclass(frozen=True)
class ListedService:
    record: ServiceRecord
    up: bool


Served = Sequence[str] | Callable[[], Sequence[str]]


class Heartbeat:
    """A worker's heartbeat: one beat at :meth:`start`, then one every ``interval`` seconds.
    ``backends`` may be a callable, asked at each beat (the backends that started)."""

    def __init__(self, directory: ServiceDirectory, worker: str, host: str, backends: Served,
                 interval: float, binary: str = VOLUME_BINARY) -> None:
        self.directory = directory
        self.binary = binary
        self.worker = worker
        self.host = host
        self.backends = backends
        self.started_at: dt.datetime | None = None
        self._periodic = Periodic(f"heartbeat-{worker}", self.beat, interval)

    def served(self) -> list[str]:
        return list(self.backends() if callable(self.backends) else self.backends)

    def beat(self) -> None:
        self.directory.heartbeat(self.worker, self.host, self.served(), binary=self.binary)

    def start(self) -> None:
        """Beat now (a database that can't be written stops the start), then periodically."""
        self.started_at = self.directory.clock()
        self.directory.heartbeat(self.worker, self.host, self.served(), started_at=self.started_at,
                                 binary=self.binary)
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()


class ServiceDirectory:
    def __init__(self, records: ServiceRecords, down_after_s: float,
                 members: Callable[[], set[str]] | None = None, *, policy: Policy | None = None,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.records = records
        self.down_after = dt.timedelta(seconds=down_after_s)
        self.members = members
        self.policy = policy or Policy()
        self.clock = clock

    def heartbeat(self, worker: str, host: str, backends: Sequence[str],
                  started_at: dt.datetime | None = None, binary: str = VOLUME_BINARY) -> None:
        """Record that ``worker`` on machine ``host`` serves ``backends`` now (a scheduler: ``[""]``)."""
        self.records.beat(worker, host, backends, binary=binary, started_at=started_at, now=self.clock())

    def heartbeater(self, worker: str, host: str, backends: Served, interval: float | None = None,
                    binary: str = VOLUME_BINARY) -> Heartbeat:
        """The heartbeat a worker starts; by default it beats every 10 s (Cinder's report
        interval), or a third of ``down_after_s`` if that is shorter. A process that places
        volumes (the API role) beats as ``cinder-scheduler`` with backends ``[""]``."""
        every = interval if interval is not None else min(REPORT_INTERVAL_S, self.down_after.total_seconds() / 3)
        return Heartbeat(self, worker, host, backends, every, binary)

    def list(self, who: Principal, host: str | None = None, binary: str | None = None) -> list[ListedService]:
        """Every worker's backends, with their state. ``host`` is a worker (all its backends)
        or ``worker@backend`` (that one), as Cinder matches hosts; ``binary`` e.g. ``cinder-volume``
        (``volclone-volume``, the older name, is taken too)."""
        self.policy.authorize(LIST_RULE, who)
        records = [r for r in self.records.list() if matches(r, host, binary)]
        live = self._live_members() if records else None
        now = self.clock()
        # Only workers join the coordination group: a scheduler (an API process) is up by its beats.
        return [ListedService(r, abs(now - r.heartbeat_at) <= self.down_after
                              and (live is None or r.binary != VOLUME_BINARY or r.name in live)) for r in records]

    def volume_hosts(self) -> dict[str, str]:
        """Each backend's worker as a volume's ``os-vol-host-attr:host`` names it
        (``worker@backend#pool``): the earliest started of its volume services, so that a listed
        service's host matches the volumes' (Cinder's volume host is its service's)."""
        hosts: dict[str, str] = {}
        records = sorted((r for r in self.records.list() if r.binary == VOLUME_BINARY),
                         key=lambda r: (r.started_at, r.name))
        for r in records:
            hosts.setdefault(r.backend, r.name)
        return hosts

    def _live_members(self) -> set[str] | None:
        """The workers in the coordination group (None: no membership to check). A group that
        can't be read (Redis down) has no one in it: no worker can lock without it."""
        if self.members is None:
            return None
        try:
            return self.members()
        except Exception:
            log.warning("the coordination group could not be read; every worker is listed down", exc_info=True)
            return set()

