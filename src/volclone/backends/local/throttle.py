"""QoS limits of served local volumes: a QEMU throttle group per volume, and a ``throttle`` filter
node over the volume's active layer that its NBD export serves.

An NBD export's BlockBackend has no name, so ``block_set_io_throttle`` can't reach it; the
filter can. The filter is put in only for a volume served with limits (an export without limits
serves the active layer itself, as before). The graph changes under it keep working: a snapshot
(``blockdev-snapshot``) moves the filter onto the new overlay, a live merge names the filter as
its device and the layer as its top; ``block_resize`` is refused through the filter (it does not
share the resize permission), but an extend removes the export, and the filter with it, first.

Limits change live: ``qom-set`` of the group's ``limits``. QEMU changes only the members given,
so every member is given (0: none). Cinder's keys -> QEMU's::

    total_iops_sec -> iops-total      total_bytes_sec -> bps-total
    read_iops_sec  -> iops-read       read_bytes_sec  -> bps-read
    write_iops_sec -> iops-write      write_bytes_sec -> bps-write
    <key>_max      -> <qemu>-max      <key>_max_length -> <qemu>-max-length
    size_iops_sec  -> iops-size

The caller holds the driver's pool lock around every call.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from volclone.backends.local.qsd import QMPCommandError, StorageDaemon
from volclone.domain import QOS_RATE_KEYS

log = logging.getLogger(__name__)

_RATES = {"total_iops_sec": "iops-total", "read_iops_sec": "iops-read", "write_iops_sec": "iops-write",
          "total_bytes_sec": "bps-total", "read_bytes_sec": "bps-read", "write_bytes_sec": "bps-write"}
#: Cinder's key -> QEMU's member of ``ThrottleLimits``.
QEMU_KEYS: dict[str, str] = {
    **_RATES,
    **{f"{k}_max": f"{v}-max" for k, v in _RATES.items()},
    **{f"{k}_max_length": f"{v}-max-length" for k, v in _RATES.items()},
    "size_iops_sec": "iops-size",
}
assert set(_RATES) == set(QOS_RATE_KEYS)


def group_id(volume_id: str) -> str:
    """The daemon's id of a volume's throttle group."""
    return f"qos-{volume_id}"


def filter_node(volume_id: str) -> str:
    """The node name of a volume's throttle filter: ``t`` and a digest of the volume id (QEMU's node
    names are at most 31 characters, a UUID has 36; layers' nodes start with ``l``)."""
    return "t" + hashlib.blake2s(volume_id.encode(), digest_size=12).hexdigest()


def qemu_limits(limits: Mapping[str, int]) -> dict[str, int]:
    """Every member QEMU's ``limits`` takes, from Cinder's keys: unset rates are 0 (none); a burst
    length unset is QEMU's default, 1 second."""
    out = {qemu: 0 for key, qemu in QEMU_KEYS.items() if not key.endswith("_max_length")}
    out.update({qemu: 1 for key, qemu in QEMU_KEYS.items() if key.endswith("_max_length")})
    for key, value in limits.items():
        if key in QEMU_KEYS:
            out[QEMU_KEYS[key]] = int(value)
    return out


def cinder_limits(qemu: Mapping[str, int]) -> dict[str, int]:
    """The limits a group holds, in Cinder's keys (those not at QEMU's defaults)."""
    out = {}
    for key, member in QEMU_KEYS.items():
        value = int(qemu.get(member, 0))
        default = 1 if key.endswith("_max_length") else 0
        if value != default:
            out[key] = value
    return out


class Throttles:
    def __init__(self, daemon: StorageDaemon) -> None:
        self.daemon = daemon

    def set_group(self, volume_id: str, limits: Mapping[str, int]) -> None:
        """Make the volume's group with these limits, or change an existing one's (a daemon
        taken over from an earlier run may have it)."""
        values = qemu_limits(limits)
        try:
            self.daemon.execute("object-add", **{"qom-type": "throttle-group", "id": group_id(volume_id)},
                                limits=values)
        except QMPCommandError as exc:
            if "duplicate" not in exc.desc:
                raise
            self.daemon.execute("qom-set", path=group_id(volume_id), property="limits", value=values)

    def group_limits(self, volume_id: str) -> dict[str, int] | None:
        """The group's limits as the daemon holds them (Cinder's keys); None without a group."""
        try:
            held = self.daemon.execute("qom-get", path=group_id(volume_id), property="limits")
        except QMPCommandError:
            return None
        return cinder_limits(held)

    def add_filter(self, volume_id: str, over: str) -> str:
        """Put the volume's filter over node ``over``; returns the filter's node name."""
        node = filter_node(volume_id)
        self.daemon.execute("blockdev-add", driver="throttle",
                            **{"node-name": node, "throttle-group": group_id(volume_id)}, file=over)
        return node

    def remove(self, volume_id: str) -> None:
        """Remove the volume's filter and group (after its export went); gone already is fine."""
        for command, args in (("blockdev-del", {"node-name": filter_node(volume_id)}),
                              ("object-del", {"id": group_id(volume_id)})):
            try:
                self.daemon.execute(command, **args)
            except QMPCommandError as exc:
                log.debug("volume %s: %s: %s", volume_id, command, exc.desc)
