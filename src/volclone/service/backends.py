"""Storage backends besides the built-in ``local`` pool: adding and listing them (admin), and
starting them with the service so that one that cannot start does not stop the others.

    admin = bootstrap.backend_admin(Settings.from_env())
    admin.add("ceph", "rbd", {"conf": "/etc/ceph/ceph.conf", "pool": "volumes", "user": "volclone"})
    admin.list()        # [BackendConfig("ceph", "rbd", {...})]

A running server picks a new backend up at its next start. A volume type whose
``volume_backend_name`` is the backend's name puts its volumes there.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from volclone.backends import registry
from volclone.backends.base import VolumeDriver
from volclone.db.repos import BackendConfigs
from volclone.domain import BackendConfig
from volclone.errors import BadRequest, Conflict, VolcloneError
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

#: Backend names: they end up in volume records and volume types' ``volume_backend_name``.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Drivers a backend can't be added with: the local pool is built in (it needs the service's layer
#: records); the memory driver keeps nothing across a restart, so it is for tests only.
_BUILT_IN_DRIVERS = frozenset({"local", "memory"})


class BackendAdmin:
    def __init__(self, repo: BackendConfigs, builtin: frozenset[str]) -> None:
        self.repo = repo
        #: Names of backends that always exist (``local``); they can't be added.
        self.builtin = builtin

    def add(self, name: str, driver: str, options: dict[str, Any], check: bool = True) -> BackendConfig:
        """Record a backend; with ``check``, only after its driver started once (it can reach its cluster).

        Nothing is recorded unless every check passes.
        """
        if not _NAME.fullmatch(name):
            raise BadRequest(f"backend name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
                             "starting with a letter or digit")
        if name in self.builtin or self.repo.get(name) is not None:
            raise Conflict(f"a backend named {name} exists already")
        if driver not in registry.DRIVERS or driver in _BUILT_IN_DRIVERS:
            known = sorted(set(registry.DRIVERS) - _BUILT_IN_DRIVERS)
            raise BadRequest(f"unknown backend driver {driver!r}; known: {', '.join(known)}")
        try:
            prepared = registry.driver_class(driver).prepare_options(
                {k: v for k, v in options.items() if v is not None})
        except ValueError as exc:
            raise BadRequest(f"backend {name}: {exc}") from exc
        config = BackendConfig(name, driver, prepared)
        instance = build_driver(config)
        if check:
            try:
                instance.start()
            except VolcloneError as exc:
                raise BadRequest(f"{exc.message}; nothing was added (--no-check adds it anyway)") from exc
            finally:
                instance.stop()
        if not self.repo.add(config):
            raise Conflict(f"a backend named {name} exists already")
        log.info("backend %s added (driver %s)", name, driver)
        return config

    def list(self) -> list[BackendConfig]:
        return self.repo.list()


def build_driver(config: BackendConfig) -> VolumeDriver:
    """The driver for a recorded backend (not started). Options it does not take are a 400."""
    try:
        return registry.load_driver(config.driver, config.name, **config.options)
    except TypeError as exc:
        raise BadRequest(f"backend {config.name}: driver {config.driver} refused its options: {exc}") from exc


def add_configured(backends: Backends, configs: list[BackendConfig]) -> list[VolumeDriver]:
    """Add the recorded backends' drivers to ``backends``; returns them (to start and stop).
    A driver that cannot even be built (bindings missing) leaves its backend unavailable."""
    built = []
    for config in configs:
        try:
            driver = build_driver(config)
        except VolcloneError as exc:
            log.error("backend %s is unavailable: %s", config.name, exc.message)
            backends.unavailable[config.name] = exc.message
            continue
        backends.drivers[config.name] = driver
        built.append(driver)
    return built


def start_tolerantly(backends: Backends, drivers: list[VolumeDriver]) -> None:
    """Start the recorded backends' drivers, side by side (a cluster that is down costs its
    connect timeout once, not once per backend). One that fails is unavailable until the next
    service start; everything else works on."""
    def start(driver: VolumeDriver) -> None:
        try:
            driver.start()
        except Exception as exc:
            reason = exc.message if isinstance(exc, VolcloneError) else repr(exc)
            log.error("backend %s did not start and is unavailable until the service restarts: %s",
                      driver.name, reason)
            backends.unavailable[driver.name] = reason

    if drivers:
        with ThreadPoolExecutor(max_workers=len(drivers), thread_name_prefix="backend-start") as pool:
            list(pool.map(start, drivers))
