"""How snapshots look on the wire (Cinder v3's shapes, per microversion and per caller).

A create's and an update's answer, and the summary list, are Cinder's summary; a show and the
detailed list add ``os-extended-snapshot-attributes:progress`` and ``:project_id`` when the
policy's :data:`EXTENDED_ATTRIBUTES_RULE` allows (Tempest's schemas require exactly these).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from volclone.domain import Snapshot, SnapshotStatus

#: The two ``os-extended-snapshot-attributes`` fields (admin, project reader).
EXTENDED_ATTRIBUTES_RULE = "volume_extension:extended_snapshot_attributes"
#: ``group_snapshot_id`` from 3.14, ``user_id`` from 3.41, ``consumes_quota`` from 3.65.
GROUP_SNAPSHOTS = (3, 14)
SNAPSHOT_LIST_USER_ID = (3, 41)
USE_QUOTA = (3, 65)


def _time(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="microseconds") if t else None


def snapshot(s: Snapshot, version: tuple[int, int], extended: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id, "name": s.name, "description": s.description, "volume_id": s.volume_id,
        "status": s.status.value, "size": s.volume_size, "metadata": dict(s.metadata),
        "created_at": _time(s.created_at), "updated_at": _time(s.updated_at),
    }
    if version >= GROUP_SNAPSHOTS:
        body["group_snapshot_id"] = s.group_snapshot_id
    if version >= SNAPSHOT_LIST_USER_ID:
        body["user_id"] = s.user_id
    if version >= USE_QUOTA:
        body["consumes_quota"] = True
    if extended:
        done = s.status in (SnapshotStatus.AVAILABLE, SnapshotStatus.RESTORING)
        body["os-extended-snapshot-attributes:progress"] = s.progress or ("100%" if done else "0%")
        body["os-extended-snapshot-attributes:project_id"] = s.project_id
    return body
