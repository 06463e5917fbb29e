"""Cinder's group snapshots (3.14): the service's only way to their rows. A group snapshot's
members are the snapshots (``snapshots.group_snapshot_id``) made with it."""

from __future__ import annotations

import builtins
from collections.abc import Collection

from sqlalchemy import delete, select, update

from volclone.db.database import Database
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import GenericGroupSnapshotRow, utcnow
from volclone.domain import GroupSnapshotStatus, VolumeGroupSnapshot


def _group_snapshot(row: GenericGroupSnapshotRow) -> VolumeGroupSnapshot:
    return VolumeGroupSnapshot(id=row.id, project_id=row.project_id, group_id=row.group_id,
                               group_type_id=row.group_type_id, name=row.name, description=row.description,
                               status=GroupSnapshotStatus(row.status), created_at=row.created_at)


class GroupSnapshots:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, gs: VolumeGroupSnapshot) -> None:
        with _transaction(self.db) as s:
            s.add(GenericGroupSnapshotRow(id=gs.id, project_id=gs.project_id, group_id=gs.group_id,
                                          group_type_id=gs.group_type_id, name=gs.name,
                                          description=gs.description, status=gs.status.value))

    def get(self, group_snapshot_id: str) -> VolumeGroupSnapshot | None:
        if _unstorable(group_snapshot_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(GenericGroupSnapshotRow, group_snapshot_id)
            return _group_snapshot(row) if row else None

    def list(self, project_id: str | None, limit: int | None = None, marker: str | None = None,
             offset: int = 0) -> builtins.list[VolumeGroupSnapshot]:
        """The project's group snapshots (None: every project's), newest first."""
        q = select(GenericGroupSnapshotRow)
        if project_id is not None:
            q = q.where(GenericGroupSnapshotRow.project_id == project_id)
        with _transaction(self.db) as s:
            if marker is not None:
                at = s.get(GenericGroupSnapshotRow, marker) if not _unstorable(marker) else None
                if at is None:
                    return []
                q = q.where((GenericGroupSnapshotRow.created_at < at.created_at)
                            | ((GenericGroupSnapshotRow.created_at == at.created_at)
                               & (GenericGroupSnapshotRow.id < at.id)))
            q = q.order_by(GenericGroupSnapshotRow.created_at.desc(), GenericGroupSnapshotRow.id.desc())
            q = q.offset(offset)
            if limit is not None:
                q = q.limit(limit)
            return [_group_snapshot(r) for r in s.scalars(q)]

    def of_group(self, group_id: str) -> builtins.list[str]:
        with _transaction(self.db) as s:
            return list(s.scalars(select(GenericGroupSnapshotRow.id)
                                  .where(GenericGroupSnapshotRow.group_id == group_id)))

    def set_status(self, group_snapshot_id: str, status: GroupSnapshotStatus,
                   only_from: Collection[GroupSnapshotStatus]) -> bool:
        with _transaction(self.db) as s:
            moved = s.execute(update(GenericGroupSnapshotRow)
                              .where(GenericGroupSnapshotRow.id == group_snapshot_id,
                                     GenericGroupSnapshotRow.status.in_([v.value for v in only_from]))
                              .values(status=status.value, updated_at=utcnow()))
            return bool(moved.rowcount)  # type: ignore[attr-defined]

    def delete(self, group_snapshot_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(GenericGroupSnapshotRow).where(GenericGroupSnapshotRow.id == group_snapshot_id))
