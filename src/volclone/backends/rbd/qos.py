"""QoS limits of RBD volumes: librbd's own QoS options, set per image as image metadata
``conf_<option>`` (librbd applies an image's ``conf_*`` metadata over its configuration when a
client opens the image, and again when the metadata changes under an open one).

Cinder's keys -> librbd's options::

    total_iops_sec -> rbd_qos_iops_limit         total_bytes_sec -> rbd_qos_bps_limit
    read_iops_sec  -> rbd_qos_read_iops_limit    read_bytes_sec  -> rbd_qos_read_bps_limit
    write_iops_sec -> rbd_qos_write_iops_limit   write_bytes_sec -> rbd_qos_write_bps_limit
    <key>_max      -> ..._burst                  <key>_max_length -> ..._burst_seconds

``size_iops_sec`` has no librbd counterpart and is not applied on RBD.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_RATES = {"total_iops_sec": "iops", "read_iops_sec": "read_iops", "write_iops_sec": "write_iops",
          "total_bytes_sec": "bps", "read_bytes_sec": "read_bps", "write_bytes_sec": "write_bps"}
#: Cinder's key -> librbd's option.
RBD_OPTIONS: dict[str, str] = {
    **{k: f"rbd_qos_{v}_limit" for k, v in _RATES.items()},
    **{f"{k}_max": f"rbd_qos_{v}_burst" for k, v in _RATES.items()},
    **{f"{k}_max_length": f"rbd_qos_{v}_burst_seconds" for k, v in _RATES.items()},
}
#: Where an image holds an option for its clients.
PREFIX = "conf_"


def apply(image: Any, limits: Mapping[str, int]) -> None:
    """Set the image's QoS metadata to ``limits`` exactly: the options given are set, the others removed."""
    held = dict(image.metadata_list())
    for key, option in RBD_OPTIONS.items():
        name = PREFIX + option
        if key in limits:
            if held.get(name) != str(limits[key]):
                image.metadata_set(name, str(int(limits[key])))
        elif name in held:
            image.metadata_remove(name)


def read(image: Any) -> dict[str, int]:
    """The image's QoS metadata, in Cinder's keys."""
    held = dict(image.metadata_list())
    return {key: int(held[PREFIX + option]) for key, option in RBD_OPTIONS.items() if PREFIX + option in held}
