"""Driver names -> import paths, imported lazily so optional bindings load only when used."""

from __future__ import annotations

import importlib
from typing import Any

from volclone.backends.base import VolumeDriver
from volclone.errors import BadRequest

DRIVERS = {
    "local": ("volclone.backends.local.driver", "LocalDriver", None),
    "rbd": ("volclone.backends.rbd.driver", "RbdDriver", "apt-get install python3-rbd python3-rados"),
    # Volumes in the service's own memory, gone when it stops: for tests and demos.
    "memory": ("volclone.backends.memory", "MemoryDriver", None),
}


def driver_class(driver: str) -> type[VolumeDriver]:
    """The class of driver ``driver``, imported now."""
    try:
        module_name, class_name, install_hint = DRIVERS[driver]
    except KeyError:
        raise BadRequest(f"unknown backend driver {driver!r}; known: {', '.join(sorted(DRIVERS))}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f" ({install_hint})" if install_hint else ""
        raise BadRequest(f"driver {driver!r} cannot be loaded: {exc}{hint}") from exc
    cls: type[VolumeDriver] = getattr(module, class_name)
    return cls


def load_driver(driver: str, name: str, **options: Any) -> VolumeDriver:
    """Build the driver ``driver`` for the backend called ``name``."""
    return driver_class(driver)(name, **options)
