"""The one place that wires concrete parts together. Nothing starts at import time."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

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
from volclone.flows.engine import FlowRunner, SharedConnectionBackend
from volclone.service import AttachmentService, AuthService, CloneService, Service, VolumeService, VolumeTypeService
from volclone.service.backends import BackendAdmin, add_configured, start_tolerantly
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

LOCAL = "local"


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


def build(settings: Settings, with_backends: bool = True) -> Service:
    """A service for ``settings``. ``with_backends=False`` gives the admin commands
    (tokens, config) a service that starts no storage daemon."""
    db = open_database(settings)
    drivers: dict[str, VolumeDriver] = {}
    if with_backends:
        drivers[LOCAL] = LocalDriver(LOCAL, pool_dir=settings.pool_dir, run_dir=settings.run_dir,
                                     store=SqlLayerStore(db, LOCAL, Layer),
                                     nbd_host=settings.nbd_host, nbd_port=settings.nbd_port,
                                     max_chain_depth=settings.max_chain_depth,
                                     unsafe_snapshot_gap_ms=settings.unsafe_snapshot_gap_ms)
    backends = Backends(drivers, default=LOCAL)
    # Backends added with `volclone backend add`: one that cannot start is unavailable (503),
    # the service runs on without it.
    configured = add_configured(backends, repos.BackendConfigs(db).list()) if with_backends else []
    volumes, groups = repos.Volumes(db), repos.Groups(db)
    types = VolumeTypeService(repos.VolumeTypes(db))
    runner = FlowRunner(db.engine, settings.flow_workers)
    runner.setup()
    clones = CloneService(volumes, repos.CloneTasks(db), repos.Settings(db), types, backends, runner,
                          groups, settings.max_clone_volumes, settings.failpoints)
    attachment_rows = repos.Attachments(db)
    attachments = AttachmentService(attachment_rows, volumes, backends)

    on_start: list[Callable[[], object]] = [lambda: types.ensure_default(LOCAL)]
    on_start += [d.start for d in drivers.values()]  # the built-in local pool must start
    on_start.append(functools.partial(start_tolerantly, backends, configured))
    if with_backends:  # attached volumes are served again where they were (VOLCLONE_NBD_HOST/PORT)
        on_start.append(attachments.restore)
    on_start.append(clones.resume_interrupted)
    on_stop: list[Callable[[], object]] = [lambda: runner.close(wait=True),
                                           *(d.stop for d in backends.drivers.values()), db.engine.dispose]
    return Service(AuthService(repos.Tokens(db)), types,
                   VolumeService(volumes, groups, types, backends, attachment_rows),
                   clones, attachments, on_start, on_stop)


def backend_admin(settings: Settings) -> BackendAdmin:
    """Adding and listing backends (``volclone backend ...``); starts no storage."""
    return BackendAdmin(repos.BackendConfigs(open_database(settings)), builtin=frozenset({LOCAL}))
