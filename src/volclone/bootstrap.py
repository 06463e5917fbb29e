"""The one place that wires concrete parts together. Nothing starts at import time."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping

from sqlalchemy import Engine

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
from volclone.db.layers import SqlLayerStore
from volclone.db.quotas import Quotas
from volclone.db.reserve import SpaceReserve
from volclone.flows.engine import FlowRunner, SharedConnectionBackend
from volclone.service import AttachmentService, AuthService, CloneService, Service, VolumeService, VolumeTypeService
from volclone.service.auth import Authenticator
from volclone.service.backends import BackendAdmin, add_configured, start_tolerantly
from volclone.service.locks import LocalLocks
from volclone.service.policy import Policy
from volclone.service.quotas import QuotaService
from volclone.service.reaper import Reaper
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

LOCAL = "local"
#: Room kept on the data directory's filesystem for the database (see volclone.db.reserve).
RESERVE_FILE = "space-reserve"


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


def build(settings: Settings, with_backends: bool = True,
          drivers: Mapping[str, VolumeDriver] | None = None) -> Service:
    """A service for ``settings``. ``with_backends=False`` gives the admin commands
    (tokens, config) a service that starts no storage daemon.

    ``drivers`` (backend name -> driver; the first is the default) replaces the built-in
    local pool and the backends recorded with ``volclone backend add``: the fast tests build
    the whole service in process this way, on ``volclone.backends.memory.MemoryDriver``::

        svc = build(Settings(data_dir=tmp), drivers={"local": MemoryDriver("local")})
    """
    policy = Policy(settings.policy_file)  # first: a policy file that can't be read stops the start here
    if with_backends:  # the pool, the daemon's sockets and the space reserve live there (PostgreSQL or not)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    reserve = SpaceReserve(settings.data_dir / RESERVE_FILE)
    if with_backends:  # on a full disk the database could not open, nor the service start to make room
        reserve.release()
    db = open_database(settings)
    given = drivers is not None
    local: LocalDriver | None = None
    if drivers is None:
        drivers = {}
        if with_backends:
            drivers[LOCAL] = local = LocalDriver(LOCAL, pool_dir=settings.pool_dir, run_dir=settings.run_dir,
                                                 store=SqlLayerStore(db, LOCAL, Layer),
                                                 nbd_host=settings.nbd_host, nbd_port=settings.nbd_port,
                                                 max_chain_depth=settings.max_chain_depth,
                                                 unsafe_snapshot_gap_ms=settings.unsafe_snapshot_gap_ms)
    default = next(iter(drivers), LOCAL)
    backends = Backends(drivers, default=default)
    # Backends added with `volclone backend add`: one that cannot start is unavailable (503),
    # the service runs on without it.
    configured = add_configured(backends, repos.BackendConfigs(db).list()) if with_backends and not given else []
    volumes, groups = repos.Volumes(db), repos.Groups(db)
    types = VolumeTypeService(repos.VolumeTypes(db))
    quotas = QuotaService(Quotas(db), settings.quota_defaults, settings.quota_reservation_expire_s)
    runner = FlowRunner(db.engine, settings.flow_workers)
    runner.setup()
    clones = CloneService(volumes, repos.CloneTasks(db), repos.ConfigValues(db), types, backends, runner,
                          groups, settings.max_clone_volumes, settings.failpoints,
                          retry_interval=settings.leftover_retry_s, quotas=quotas)
    attachment_rows = repos.Attachments(db)
    attachments = AttachmentService(attachment_rows, volumes, backends)
    # One process serves every backend and no other process works on them: the locks are this
    # process's own, so the reaper leaves a slow create or delete of this process alone.
    locks = LocalLocks()
    reaper = Reaper(volumes, backends, attachment_rows, served=set(backends.drivers) | set(backends.unavailable),
                    stale_after_s=settings.stale_after_s, try_lock=locks.try_lock, groups=groups)

    on_start: list[Callable[[], object]] = [lambda: types.ensure_default(default)]
    on_start += [d.start for d in drivers.values()]  # the built-in local pool must start
    on_start.append(functools.partial(start_tolerantly, backends, configured))
    if with_backends:  # attached volumes are served again where they were (VOLCLONE_NBD_HOST/PORT)
        on_start.append(attachments.restore)
    on_start.append(clones.resume_interrupted)
    if with_backends:  # what failed reverts left: retried now, then periodically until gone
        on_start.append(clones.start_retrying)
        # Volumes a killed run left creating, deleting, ...: cleaned up now, then periodically.
        on_start.append(reaper.start)
        on_start.append(reserve.restore)
    # The local daemon outlives the service while it serves attached volumes (their NBD
    # clients stay connected); the next start takes it over.
    # A flatten or a full copy in progress is given up first, so that waiting for the flows
    # is short (a flow waiting for its full copy reverts).
    on_stop: list[Callable[[], object]] = [clones.stop_retrying, reaper.stop,
                                           *([local.interrupt] if local is not None else []),
                                           lambda: runner.close(wait=True),
                                           *(functools.partial(d.stop, keep_serving=True) if d is local else d.stop
                                             for d in backends.drivers.values()),
                                           db.engine.dispose]
    return Service(AuthService(repos.Tokens(db), authenticator(settings)), types,
                   VolumeService(volumes, groups, types, backends, attachment_rows, quotas, lock=locks.lock),
                   clones, attachments, on_start, on_stop, quotas=quotas, policy=policy)


def backend_admin(settings: Settings) -> BackendAdmin:
    """Adding and listing backends (``volclone backend ...``); starts no storage."""
    return BackendAdmin(repos.BackendConfigs(open_database(settings)), builtin=frozenset({LOCAL}))
