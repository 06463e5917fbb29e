"""Cinder's group snapshots (3.14): the service's only way to their rows. A group snapshot's
members are the snapshots (``snapshots.group_snapshot_id``) made with it."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update

from volclone.db.database import Database
from volclone.db.paging import contains, page_query
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import GenericGroupSnapshotRow, utcnow
from volclone.domain import GroupSnapshotStatus, PageQuery, VolumeGroupSnapshot

#: The fields a list filters and sorts on.
_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: getattr(GenericGroupSnapshotRow, name).expression
    for name in ("id", "name", "description", "status", "group_id", "group_type_id", "project_id", "created_at",
                 "updated_at")
}
#: NULL names and descriptions sort as "" (the same order on SQLite and PostgreSQL, a total keyset).
_SORTED = {**_COLUMNS, "name": func.coalesce(GenericGroupSnapshotRow.name, ""),
           "description": func.coalesce(GenericGroupSnapshotRow.description, "")}
_TIEBREAKERS = ("created_at", "id")


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

    def page(self, project_id: str | None, query: PageQuery) -> builtins.list[VolumeGroupSnapshot]:
        """The group snapshots of ``project_id`` (None: every project's) ``query`` selects, one
        page (the caller has found the marker)."""
        values = [v for _, v in query.equal] + [v for _, v in query.contains] + [project_id, query.marker]
        if query.nothing or _unstorable(*values):
            return []
        q = select(GenericGroupSnapshotRow)
        if project_id is not None:
            q = q.where(GenericGroupSnapshotRow.project_id == project_id)
        for key, value in query.equal:
            q = q.where(_COLUMNS[key] == value)
        for key, text in query.contains:
            q = q.where(contains(_COLUMNS[key], text))
        q = page_query(q, GenericGroupSnapshotRow.id, _SORTED, _TIEBREAKERS, query.sort, query.marker,
                       query.offset, query.limit)
        with _transaction(self.db) as s:
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
