"""What a backend holds, by project (Cinder's ``os-hosts/{host}`` figures)::

    backend_usage(db, "ceph")   # [HostUsage("p1", volumes=3, volume_gb=30, snapshots=1, snapshot_gb=10), ...]
"""

from __future__ import annotations

from sqlalchemy import func, select

from volclone.db.database import Database
from volclone.db.schema import SnapshotRow, VolumeRow
from volclone.domain import HostUsage


def backend_usage(db: Database, backend: str) -> list[HostUsage]:
    """Each project with volumes or snapshots on ``backend``, by project id."""
    with db.session() as s:
        vols = {p: (int(n), int(gb)) for p, n, gb in s.execute(
            select(VolumeRow.project_id, func.count(), func.coalesce(func.sum(VolumeRow.size), 0))
            .where(VolumeRow.backend == backend).group_by(VolumeRow.project_id))}
        snaps = {p: (int(n), int(gb)) for p, n, gb in s.execute(
            select(SnapshotRow.project_id, func.count(), func.coalesce(func.sum(SnapshotRow.volume_size), 0))
            .where(SnapshotRow.backend == backend).group_by(SnapshotRow.project_id))}
    return [HostUsage(p, *vols.get(p, (0, 0)), *snaps.get(p, (0, 0))) for p in sorted(set(vols) | set(snaps))]
