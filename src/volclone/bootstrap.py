"""The one place that wires concrete parts together. Nothing starts at import time."""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine

from volclone.backends import registry
from volclone.backends.base import VolumeDriver
from volclone.backends.local.driver import LocalDriver
from volclone.backends.local.layers import Layer
from volclone.config import Settings
from volclone.db import repos
from volclone.db.database import (
    Database,
    check_reachable,
    current_revision,
    make_engine,
    migrate,
    schema_lock,
    sqlite_file,
)
from volclone.db.generic_groups import Groups as GenericGroups
from volclone.db.generic_groups import GroupTypes
from volclone.db.group_snapshots import GroupSnapshots
from volclone.db.host_usage import backend_usage
from volclone.db.idempotency import IdempotencyKeys
from volclone.db.layers import SqlLayerStore
from volclone.db.messages import Messages
from volclone.db.qos import QosSpecsRepo
from volclone.db.quota_classes import QuotaClasses
from volclone.db.quotas import Quotas
from volclone.db.reserve import SpaceReserve
from volclone.db.services import ServiceRecords
from volclone.db.snapshots import Snapshots
from volclone.db.transfers import Transfers
from volclone.db.type_encryption import TypeEncryptions
from volclone.domain import SCHEDULER_BINARY, BackendConfig
from volclone.errors import BadRequest, Conflict, VolcloneError
from volclone.flows.engine import FlowRunner, SharedConnectionBackend
from volclone.flows.jobboard import BoardRunner, Conductors, JobBoards, conductor_name, install_context
from volclone.service import AttachmentService, AuthService, CloneService, Service, VolumeService, VolumeTypeService
from volclone.service.auth import Authenticator
from volclone.service.backends import BackendAdmin, add_configured, start_tolerantly
from volclone.service.group_snapshots import GroupSnapshotService
from volclone.service.group_sources import GroupSourceService
from volclone.service.group_types import GroupTypeService
from volclone.service.groups import GroupService
from volclone.service.hosts import HostService
from volclone.service.locks import LocalLocks
from volclone.service.messages import MessageService
from volclone.service.periodic import Periodic
from volclone.service.policy import Policy
from volclone.service.qos import QosService
from volclone.service.quota_classes import QuotaClassService
from volclone.service.quotas import QuotaService
from volclone.service.reaper import Reaper
from volclone.service.service_states import ServiceStates
from volclone.service.services import ServiceDirectory
from volclone.service.snapshots import SnapshotService
from volclone.service.transfers import TransferService
from volclone.service.type_encryption import TypeEncryptionService
from volclone.service.volumes import Backends

if TYPE_CHECKING:
    from volclone.cluster.coordination import Coordination, HeldLock

log = logging.getLogger(__name__)

LOCAL = "local"
#: Room kept on the data directory's filesystem for the database (see volclone.db.reserve).
RESERVE_FILE = "space-reserve"
#: The tooz group every worker joins, with the backends it serves.
WORKERS_GROUP = "volclone-workers"
#: Workers look for flows that were persisted but never posted (their API process died in
#: between) this old, under this cluster-wide lock.
ORPHAN_AGE_S = 60.0
ORPHANS_LOCK = "volclone-post-orphans"
#: Held by the worker that serves the local pool, for as long as it runs.
LOCAL_POOL_LOCK = "volclone-backend-local"


def upgrade_database(settings: Settings, engine: Engine | None = None) -> str | None:
    """Migrate volclone's tables and TaskFlow's to their newest revisions (``volclone db
    upgrade``, and every start); returns the revision volclone's schema is at.

    Only a SQLite database needs the data directory (its default home); on PostgreSQL the
    admin commands touch nothing on disk.
    """
    own = engine is None
    engine = engine or make_engine(settings.db_url, settings.database_pool_size)
    try:
        path = sqlite_file(settings.db_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        check_reachable(engine)
        with schema_lock(engine):
            migrate(engine)
            SharedConnectionBackend(engine).get_connection().upgrade()  # TaskFlow's own migrations
        return current_revision(engine)
    finally:
        if own:
            engine.dispose()


def open_database(settings: Settings) -> Database:
    """The database ``settings.db_url`` names, migrated to the newest schema.

    Raises :class:`~volclone.errors.DatabaseUnavailable` when it cannot be reached.
    """
    engine = make_engine(settings.db_url, settings.database_pool_size)
    try:
        upgrade_database(settings, engine)
    except BaseException:
        engine.dispose()
        raise
    return Database(engine)


def authenticator(settings: Settings) -> Authenticator | None:
    """Keystone when ``VOLCLONE_AUTH=keystone``; None means volclone's own local tokens."""
    if settings.auth != "keystone":
        return None
    from volclone.auth.keystone import KeystoneAuthenticator  # keystoneauth1 loads only when used

    return KeystoneAuthenticator(settings.keystone_url, user=settings.keystone_user,
                                 password=settings.keystone_password, project=settings.keystone_project,
                                 domain=settings.keystone_domain, cache_s=settings.keystone_cache_s)


@dataclass(frozen=True)
class Worker:
    """The worker role (``volclone worker``): runs the drivers of ``backends`` and does their work."""

    name: str
    backends: tuple[str, ...]


#: The roles a process can have: all in one (``serve``), stateless HTTP (``api``), or a worker.
Role = Literal["serve", "api"] | Worker


def build(settings: Settings, with_backends: bool = True,
          drivers: Mapping[str, VolumeDriver] | None = None, role: Role = "serve") -> Service:
    """A service for ``settings``. ``with_backends=False`` gives the admin commands
    (tokens, config) a service that starts no storage daemon.

    ``drivers`` (backend name -> driver; the first is the default) replaces the built-in
    local pool and the backends recorded with ``volclone backend add``: the fast tests build
    the whole service in process this way, on ``volclone.backends.memory.MemoryDriver``::

        svc = build(Settings(data_dir=tmp), drivers={"local": MemoryDriver("local")})

    ``role`` picks the dispatch: ``serve`` runs flows and backend calls in this process;
    ``api`` posts flows to the job board and calls the workers over RPC (it never opens a
    backend); a :class:`Worker` claims the flows of its backends and answers their calls.
    """
    policy = Policy(settings.policy_file)  # first: a policy file that can't be read stops the start here
    api = role == "api"
    worker = role if isinstance(role, Worker) else None
    if api:
        with_backends = False
    if with_backends:  # the pool, the daemon's sockets and the space reserve live there (PostgreSQL or not)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    reserve = SpaceReserve(settings.data_dir / RESERVE_FILE)
    if with_backends:  # on a full disk the database could not open, nor the service start to make room
        reserve.release()
    db = open_database(settings)
    on_start: list[Callable[[], object]] = []
    on_stop: list[Callable[[], object]] = []
    given = drivers is not None
    local: LocalDriver | None = None
    configs = repos.BackendConfigs(db).list()
    configured: list[VolumeDriver] = []
    if drivers is None:
        drivers = {}
        if api:
            drivers = _remote_drivers(settings, configs, on_stop)
        elif with_backends and (worker is None or LOCAL in worker.backends):
            drivers[LOCAL] = local = LocalDriver(LOCAL, pool_dir=settings.pool_dir, run_dir=settings.run_dir,
                                                 store=SqlLayerStore(db, LOCAL, Layer),
                                                 nbd_host=settings.nbd_host, nbd_port=settings.nbd_port,
                                                 max_chain_depth=settings.max_chain_depth,
                                                 unsafe_snapshot_gap_ms=settings.unsafe_snapshot_gap_ms)
    default = LOCAL if (api or worker is not None) and not given else next(iter(drivers), LOCAL)
    backends = Backends(drivers, default=default)
    if worker is not None and not given:
        known = {LOCAL, *(c.name for c in configs)}
        unknown = sorted(set(worker.backends) - known)
        if unknown:
            raise BadRequest(f"no backend is named {', '.join(unknown)} (volclone backend add)")
        configs = [c for c in configs if c.name in worker.backends]
    # Backends added with `volclone backend add`: one that cannot start is unavailable (503),
    # the service runs on without it.
    if with_backends and not given:
        configured = add_configured(backends, configs)
    volumes, groups = repos.Volumes(db), repos.Groups(db)
    types = VolumeTypeService(repos.VolumeTypes(db), repos.ConfigValues(db))
    type_encryption = TypeEncryptionService(TypeEncryptions(db), types)
    types.encryption_of = type_encryption.repo.get  # no volumes of an encrypted type (no key manager)
    quotas = QuotaService(Quotas(db), settings.quota_defaults, settings.quota_reservation_expire_s,
                          types=lambda who: {t.id: t.name for t in
                                             (types.repo.list() if who is None or who.is_admin else types.list(who))})
    runner: FlowRunner = (BoardRunner(db.engine, settings.jobboard_url) if api
                          else FlowRunner(db.engine, settings.flow_workers))
    runner.setup()
    messages = MessageService(Messages(db), settings.message_ttl_s)
    clones = CloneService(volumes, repos.CloneTasks(db), repos.ConfigValues(db), types, backends, runner,
                          groups, settings.max_clone_volumes, settings.failpoints,
                          retry_interval=settings.leftover_retry_s, quotas=quotas,
                          served=frozenset(backends.drivers) if worker is not None else None,
                          keys=IdempotencyKeys(db), messages=messages, generic_groups=GenericGroups(db),
                          snapshots=Snapshots(db))
    attachment_rows = repos.Attachments(db)
    attachments = AttachmentService(attachment_rows, volumes, backends)
    qos = QosService(QosSpecsRepo(db), types, backends)
    attachments.qos_of_type = qos.spec_of_type
    # (An api-role service built without a coordination URL, as the in-process job board tests
    # build one, lists workers by their heartbeats alone.)
    coordination = (_coordination(settings, worker.name if worker else "api")
                    if (api or worker) and settings.coordination_url else None)
    if api and coordination is not None:
        backends.down = LiveBackends(coordination).why_down
    members = functools.partial(_live_workers, coordination) if coordination is not None else None
    service_records = ServiceRecords(db)
    services = ServiceDirectory(service_records, settings.service_down_time_s, members, policy=policy)
    # Each worker lists itself with the backends that started, and beats until it stops;
    # `volclone serve` is one worker too, named after its machine (as Cinder's default host is).
    # An API process is not listed (Cinder lists no cinder-api).
    me = socket.gethostname()
    heartbeat = services.heartbeater(worker.name if worker else me, me,
                                     lambda: [b for b in backends.drivers if b not in backends.unavailable])
    # A process that places new volumes (serve, an API process) is listed as Cinder's scheduler.
    scheduler_beat = services.heartbeater(me, me, [""], binary=SCHEDULER_BINARY) if worker is None else None
    if coordination is not None:
        on_start.append(coordination.start)
    # The reaper of volumes a killed process left creating, deleting, ... In one process (serve)
    # the locks are the process's own, so it leaves a slow create or delete of this process alone;
    # a worker tries the cluster's per-volume locks, which its RPC server holds around every call.
    locks = LocalLocks()
    reaper = Reaper(volumes, backends, attachment_rows, served=set(backends.drivers) | set(backends.unavailable),
                    stale_after_s=settings.stale_after_s,
                    try_lock=coordination.try_lock if coordination is not None else locks.try_lock, groups=groups,
                    messages=messages)

    on_start.append(lambda: types.ensure_default(default))
    on_start += [d.start for d in drivers.values() if not api]  # the built-in local pool must start
    on_start.append(functools.partial(start_tolerantly, backends, configured))
    if with_backends:  # attached volumes are served again where they were (VOLCLONE_NBD_HOST/PORT)
        on_start.append(attachments.restore)
    if worker is None and not api:  # (a worker's conductors claim its backends' flows, interrupted ones too)
        on_start.append(clones.resume_interrupted)
    if with_backends:  # what failed reverts left: retried now, then periodically until gone
        on_start.append(clones.start_retrying)
        # Volumes a killed run left creating, deleting, ...: cleaned up now, then periodically.
        on_start.append(reaper.start)
        on_start.append(reserve.restore)
    worker_stop: list[Callable[[], object]] = []
    if worker is not None:
        assert coordination is not None
        start_worker, stop_worker = _serve_as_worker(settings, worker, backends, clones, runner, coordination)
        on_start.append(start_worker)
        worker_stop.append(stop_worker)
    if not api:
        on_start.append(heartbeat.start)
    if scheduler_beat is not None:
        on_start.append(scheduler_beat.start)
        on_stop.append(scheduler_beat.stop)
    # The local daemon outlives the service while it serves attached volumes (their NBD
    # clients stay connected); the next start takes it over.
    # A flatten or a full copy in progress is given up first, so that waiting for the flows
    # is short (a flow waiting for its full copy reverts).
    on_stop += [heartbeat.stop, clones.stop_retrying, reaper.stop,
                *([local.interrupt] if local is not None else []),
                *worker_stop,
                lambda: runner.close(wait=True),
                *(functools.partial(d.stop, keep_serving=True) if d is local else d.stop
                  for d in backends.drivers.values() if not api),
                *([coordination.stop] if coordination is not None else []),
                db.engine.dispose]
    # (An API process holds no volume lock: the worker it calls takes the cluster's.)
    volume_locks = None if api else locks.lock
    snapshot_rows = Snapshots(db)
    snapshots = SnapshotService(snapshot_rows, volumes, backends, quotas, lock=volume_locks, messages=messages)
    transfers = TransferService(Transfers(db), volumes, snapshot_rows, quotas, groups, lock=volume_locks)
    volume_service = VolumeService(volumes, groups, types, backends, attachment_rows, quotas,
                                   lock=volume_locks, snapshots=snapshots, messages=messages)
    states = ServiceStates(service_records, policy)  # os-services' disable, freeze: placement and refusals
    volume_service.states = snapshots.states = clones.states = states
    volume_service.authorize = attachments.authorize = clones.authorize = policy.authorize
    group_types = GroupTypeService(GroupTypes(db))
    group_snapshot_rows = GroupSnapshots(db)
    generic_groups = GenericGroups(db)
    group_service = GroupService(generic_groups, group_types, types, volume_service, quotas,
                                 group_snapshots=group_snapshot_rows)
    group_snapshots = GroupSnapshotService(group_snapshot_rows, snapshot_rows, volumes, group_service, backends,
                                           quotas, lock=volume_locks)
    return Service(AuthService(repos.Tokens(db), authenticator(settings)), types, volume_service,
                   clones, attachments, on_start, on_stop, quotas=quotas, services=services, policy=policy,
                   snapshots=snapshots, transfers=transfers, messages=messages, qos=qos, group_types=group_types,
                   groups=group_service, group_snapshots=group_snapshots, type_encryption=type_encryption,
                   group_sources=GroupSourceService(generic_groups, group_snapshots, clones, volumes, quotas),
                   quota_classes=QuotaClassService(QuotaClasses(db), quotas),
                   hosts=HostService(services, functools.partial(backend_usage, db), policy))


def _remote_drivers(settings: Settings, configs: list[BackendConfig],
                    on_stop: list[Callable[[], object]]) -> dict[str, VolumeDriver]:
    """The API role's backends: proxies that call the workers serving them over RPC."""
    from volclone.cluster.rpc import RpcClient  # oslo.messaging loads only in the scale-out roles

    client = RpcClient(settings.transport_url, timeout=settings.rpc_timeout_s)
    on_stop.append(client.close)
    drivers: dict[str, VolumeDriver] = {LOCAL: client.driver(LOCAL, LocalDriver)}
    for config in configs:
        try:
            drivers[config.name] = client.driver(config.name, registry.driver_class(config.driver))
        except VolcloneError as exc:
            log.error("backend %s is unavailable: %s", config.name, exc.message)
    return drivers


def _coordination(settings: Settings, name: str) -> Coordination:
    """This process's member of the cluster's tooz coordination (started with the service)."""
    from volclone.cluster.coordination import Coordination  # tooz loads only in the scale-out roles

    return Coordination(settings.coordination_url, conductor_name(name, "member"))


class LiveBackends:
    """Which backends have a live worker, from tooz membership, asked at most once a second."""

    TTL_S = 1.0

    def __init__(self, coordination: Coordination) -> None:
        self.coordination = coordination
        self._served: frozenset[str] | None = frozenset()
        self._at = -self.TTL_S
        self._lock = threading.Lock()

    def why_down(self, backend: str) -> str | None:
        """None when a live worker serves ``backend``, or when membership can't be read (then
        the call itself finds out)."""
        with self._lock:
            if time.monotonic() - self._at >= self.TTL_S:
                self._at = time.monotonic()
                try:
                    members = self.coordination.members(WORKERS_GROUP).values()
                    self._served = frozenset(b for caps in members for b in caps.get("backends", ()))
                except VolcloneError as exc:
                    log.warning("worker membership can't be read (%s); calls go to the workers regardless",
                                exc.message)
                    self._served = None
            served = self._served
        return None if served is None or backend in served else "no worker that serves it is running"


def _live_workers(coordination: Coordination) -> set[str]:
    """The names of the workers in the workers' group now (a dead one drops out when its
    membership times out)."""
    return {str(caps.get("worker")) for caps in coordination.members(WORKERS_GROUP).values()}


def _serve_as_worker(settings: Settings, worker: Worker, backends: Backends, clones: CloneService,
                     runner: FlowRunner, coordination: Coordination) -> tuple[Callable[[], None], Callable[[], None]]:
    """A worker answers its backends' calls (RPC), claims their flows (job board), and says it
    is alive and what it serves (tooz); returns how to start and stop that (before the drivers stop)."""
    from volclone.cluster.rpc import RpcServer  # oslo.messaging loads only in the scale-out roles

    host = socket.gethostname()
    served = list(backends.drivers)
    server = RpcServer(settings.transport_url, worker.name, host, backends.drivers, lock=coordination.lock)
    conductors = Conductors(JobBoards(settings.jobboard_url, runner.backend), served, worker.name,
                            settings.claim_expiry_s, settings.flow_workers, settings.jobboard_poll_s)

    def post_orphans() -> None:  # one worker at a time, so a flow is never posted twice
        with coordination.lock(ORPHANS_LOCK):
            conductors.post_orphans(clones.tasks.list(), older_than_s=ORPHAN_AGE_S)

    orphans = Periodic("post-orphans", post_orphans, ORPHAN_AGE_S / 2)

    pool: list[HeldLock] = []  # the local pool's lock, held while this worker runs

    def start() -> None:
        if LOCAL in served:  # one local pool per cluster: a second worker for it would be a second pool
            held = coordination.try_lock(LOCAL_POOL_LOCK)
            if held is None:
                raise Conflict(f"backend {LOCAL} is served by another worker already (one worker owns the "
                               "local pool: the one on its host, with its data directory)")
            pool.append(held.__enter__())
        install_context(clones.ctx, clones.flow_ended)
        coordination.join(WORKERS_GROUP, {"worker": worker.name, "host": host, "backends": served})
        server.start()
        conductors.start()
        orphans.start()
        log.info("worker %s serves backends %s", worker.name, ", ".join(served))

    def stop() -> None:
        orphans.stop()
        conductors.stop()
        server.stop()
        coordination.leave(WORKERS_GROUP)
        install_context(None)
        while pool:
            pool.pop().__exit__(None, None, None)

    return start, stop


def backend_admin(settings: Settings) -> BackendAdmin:
    """Adding and listing backends (``volclone backend ...``); starts no storage."""
    return BackendAdmin(repos.BackendConfigs(open_database(settings)), builtin=frozenset({LOCAL}))
