"""What each backend reports about itself (Cinder's backend capabilities, as
``scheduler-stats/get_pools`` shows them), and whether a volume type's extra specs ask for what
a backend has (Cinder's ``CapabilitiesFilter``)::

    caps = backend_capabilities("local", driver)     # {"vendor_name": "volclone", ...}
    satisfies(caps, {"storage_protocol": "<in> NBD", "capabilities:multiattach": "<is> True"})

An extra spec is checked when its key is a capability: unscoped (``vendor_name``) or in the
``capabilities:`` scope (``capabilities:vendor_name``); a key of another scope (``qos:``,
``RESKEY:``, ``provisioning:``...) is not a capability and is ignored, as in Cinder. Its value
is matched with Cinder's operators (:mod:`volclone.service.spec_ops`).

Where volclone differs from Cinder: an **unscoped** key that no volclone backend ever reports
(``clone_mode``, volclone's own; ``spec1`` in a test) is ignored, where Cinder's filter fails
every host on it. volclone's backends all report the same capability names
(:data:`REPORTED`), so "not reported" means "not a capability at all": such a spec is the
operator's note or another service's setting, and a type carrying one keeps working as it did
before volclone checked capabilities. A ``capabilities:``-scoped key says outright that it names
a capability, so one that is not reported fails, as in Cinder.

And an unscoped ``multiattach`` is not matched: volclone reads it as what the type's volumes are
(``"<is> True"``: multiattach; anything else: not), as Cinder's volume API reads it too. Every
volclone backend can multiattach (it reports ``True``), so matching could only turn a type that
says "not multiattach" (``"<is> False"``, ``"True"``) into failed creates, which Cinder's filter
does. ``capabilities:multiattach`` is matched, as any scoped key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from volclone import __version__
from volclone.backends.base import GroupSnapshotCapable, Snapshottable, VolumeDriver
from volclone.service.spec_ops import match

VENDOR = "volclone"
#: The storage protocol each driver serves its volumes with (Cinder's ``storage_protocol``).
PROTOCOLS = {"local": "NBD", "rbd": "ceph", "memory": "memory"}
SCOPE = "capabilities"
#: Unscoped keys that name a capability but say something of the type's volumes instead (above).
NOT_MATCHED = frozenset({"multiattach"})


def _protocol(driver: VolumeDriver | None) -> str:
    module = type(driver).__module__ if driver is not None else ""
    return next((p for key, p in PROTOCOLS.items() if f".{key}" in module), "unknown")


def backend_capabilities(backend: str, driver: VolumeDriver | None) -> dict[str, Any]:
    """Cinder's capabilities of the backend named ``backend`` (one pool: volclone's backends are
    not divided further). Capacity is ``unknown``, Cinder's word for a backend that does not
    report it: thin volumes on a shared filesystem or a Ceph pool have no fixed share."""
    return {
        "pool_name": backend, "volume_backend_name": backend, "vendor_name": VENDOR,
        "driver_version": __version__, "storage_protocol": _protocol(driver),
        "total_capacity_gb": "unknown", "free_capacity_gb": "unknown", "reserved_percentage": 0,
        "QoS_support": False, "thin_provisioning_support": True, "thick_provisioning_support": False,
        "multiattach": True,
        "consistent_group_snapshot_enabled": isinstance(driver, GroupSnapshotCapable),
        "snapshot_support": isinstance(driver, Snapshottable),
        "max_volume_size_gb": driver.max_size_gib if driver is not None else None,
    }


#: Every capability name a volclone backend reports (the same for all of them).
REPORTED = frozenset(backend_capabilities("", None))


def asked(extra_specs: Mapping[str, str]) -> list[tuple[list[str], str]]:
    """The specs that ask for a capability: (the capability's path, the requirement)."""
    wanted = []
    for key, requirement in extra_specs.items():
        path = key.split(":")
        if path[0] == SCOPE and len(path) > 1:
            wanted.append((path[1:], requirement))
        elif len(path) == 1 and key in REPORTED and key not in NOT_MATCHED:
            wanted.append((path, requirement))
    return wanted


def satisfies(capabilities: Mapping[str, Any], extra_specs: Mapping[str, str]) -> bool:
    """Whether a backend with ``capabilities`` meets every capability ``extra_specs`` ask for."""
    for path, requirement in asked(extra_specs):
        value: Any = capabilities
        for name in path:  # "capabilities:a:b" is b within a (Cinder's nested capabilities)
            value = value.get(name) if isinstance(value, Mapping) else None
            if value is None:
                return False
        if not match(value, requirement):
            return False
    return True
