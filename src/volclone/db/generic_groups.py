"""Cinder's group types and generic volume groups: the service's only way to their rows.

A volume's membership is its ``volumes.group_id``; :meth:`Groups.set_members` moves volumes in
and out in one conditional UPDATE each way, so a volume that changed meanwhile is left alone.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update

from volclone.db.database import Database
from volclone.db.paging import contains, page_query
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import GenericGroupRow, GroupTypeRow, VolumeRow, utcnow
from volclone.domain import Group, GroupStatus, GroupType, PageQuery, VolumeStatus

#: The fields a group list filters and sorts on.
_COLUMNS: dict[str, ColumnElement[Any]] = {
    name: getattr(GenericGroupRow, name).expression
    for name in ("id", "name", "description", "status", "group_type_id", "project_id", "availability_zone",
                 "group_snapshot_id", "source_group_id", "created_at", "updated_at")
}
#: NULL fields sort as "" (the same order on SQLite and PostgreSQL, a total keyset).
_SORTED = {**_COLUMNS, **{name: func.coalesce(_COLUMNS[name], "")
                          for name in ("name", "description", "group_snapshot_id", "source_group_id")}}


def _group_type(row: GroupTypeRow) -> GroupType:
    return GroupType(id=row.id, name=row.name, description=row.description, is_public=bool(row.is_public),
                     group_specs=dict(row.group_specs or {}))


def _group(row: GenericGroupRow) -> Group:
    return Group(id=row.id, project_id=row.project_id, name=row.name, description=row.description,
                 group_type_id=row.group_type_id, volume_type_ids=list(row.volume_type_ids or []),
                 status=GroupStatus(row.status), availability_zone=row.availability_zone,
                 created_at=row.created_at, group_snapshot_id=row.group_snapshot_id,
                 source_group_id=row.source_group_id)


def group_row(group: Group) -> GenericGroupRow:
    return GenericGroupRow(id=group.id, project_id=group.project_id, name=group.name,
                           description=group.description, group_type_id=group.group_type_id,
                           volume_type_ids=list(group.volume_type_ids), status=group.status.value,
                           availability_zone=group.availability_zone,
                           group_snapshot_id=group.group_snapshot_id, source_group_id=group.source_group_id)


class GroupTypes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, gtype: GroupType) -> GroupType:
        with _transaction(self.db, conflict=f"Group Type {gtype.name} already exists.") as s:
            s.add(GroupTypeRow(id=gtype.id, name=gtype.name, description=gtype.description,
                               is_public=gtype.is_public, group_specs=dict(gtype.group_specs)))
        return gtype

    def get(self, type_id: str) -> GroupType | None:
        if _unstorable(type_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(GroupTypeRow, type_id)
            return _group_type(row) if row else None

    def by_name(self, name: str) -> GroupType | None:
        if _unstorable(name):
            return None
        with _transaction(self.db) as s:
            row = s.scalar(select(GroupTypeRow).where(GroupTypeRow.name == name))
            return _group_type(row) if row else None

    def list(self) -> builtins.list[GroupType]:
        with _transaction(self.db) as s:
            return [_group_type(r) for r in s.scalars(select(GroupTypeRow).order_by(GroupTypeRow.created_at,
                                                                                   GroupTypeRow.id))]

    def update(self, type_id: str, **fields: Any) -> GroupType | None:
        """Set ``name``, ``description``, ``is_public`` or ``group_specs`` (the whole dict)."""
        with _transaction(self.db, conflict="Group Type with this name already exists.") as s:
            row = s.get(GroupTypeRow, type_id)
            if row is None:
                return None
            for key, value in fields.items():
                setattr(row, key, dict(value) if key == "group_specs" else value)
            s.flush()
            return _group_type(row)

    def delete(self, type_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(GroupTypeRow).where(GroupTypeRow.id == type_id))

    def in_use(self, type_id: str) -> bool:
        with _transaction(self.db) as s:
            return s.scalar(select(GenericGroupRow.id).where(GenericGroupRow.group_type_id == type_id)
                            .limit(1)) is not None


class Groups:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, group: Group) -> None:
        with _transaction(self.db) as s:
            s.add(group_row(group))

    def get(self, group_id: str) -> Group | None:
        if _unstorable(group_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(GenericGroupRow, group_id)
            return _group(row) if row else None

    def page(self, project_id: str | None, query: PageQuery) -> builtins.list[Group]:
        """The groups of ``project_id`` (None: every project's) ``query`` selects, one page (the
        caller has found the marker), newest first unless it sorts otherwise."""
        values = [v for _, v in query.equal] + [v for _, v in query.contains] + [project_id, query.marker]
        if query.nothing or _unstorable(*values):
            return []
        q = select(GenericGroupRow)
        if project_id is not None:
            q = q.where(GenericGroupRow.project_id == project_id)
        for key, value in query.equal:
            q = q.where(_COLUMNS[key] == value)
        for key, text in query.contains:
            q = q.where(contains(_COLUMNS[key], text))
        q = page_query(q, GenericGroupRow.id, _SORTED, ("created_at", "id"), query.sort, query.marker,
                       query.offset, query.limit)
        with _transaction(self.db) as s:
            return [_group(r) for r in s.scalars(q)]

    def count(self, project_id: str) -> int:
        with _transaction(self.db) as s:
            return int(s.scalar(select(func.count()).select_from(GenericGroupRow)
                                .where(GenericGroupRow.project_id == project_id)) or 0)

    def update(self, group_id: str, **fields: Any) -> Group | None:
        with _transaction(self.db) as s:
            row = s.get(GenericGroupRow, group_id)
            if row is None:
                return None
            for key, value in fields.items():
                setattr(row, key, GroupStatus(value).value if key == "status" else value)
            row.updated_at = utcnow()
            s.flush()
            return _group(row)

    def set_status(self, group_id: str, status: GroupStatus, only_from: Collection[GroupStatus]) -> bool:
        """Move the group to ``status`` if it is in ``only_from`` now (one conditional UPDATE)."""
        with _transaction(self.db) as s:
            moved = s.execute(update(GenericGroupRow)
                              .where(GenericGroupRow.id == group_id,
                                     GenericGroupRow.status.in_([v.value for v in only_from]))
                              .values(status=status.value, updated_at=utcnow()))
            return bool(moved.rowcount)  # type: ignore[attr-defined]

    def delete(self, group_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(GenericGroupRow).where(GenericGroupRow.id == group_id))

    def member_ids(self, group_id: str) -> builtins.list[str]:
        with _transaction(self.db) as s:
            return list(s.scalars(select(VolumeRow.id).where(VolumeRow.group_id == group_id)
                                  .order_by(VolumeRow.created_at, VolumeRow.id)))

    def set_members(self, group_id: str, add: builtins.list[str], remove: builtins.list[str],
                    add_from: Collection[VolumeStatus], remove_from: Collection[VolumeStatus]) -> bool:
        """In one transaction: volumes ``add`` (in no group, in ``add_from``) join the group and
        volumes ``remove`` (its members, in ``remove_from``) leave it. All or nothing: whether
        every volume named was moved (a volume that changed meanwhile moves none)."""
        with _transaction(self.db) as s:
            added = s.execute(update(VolumeRow).where(
                VolumeRow.id.in_(add), VolumeRow.group_id.is_(None),
                VolumeRow.status.in_([v.value for v in add_from])).values(group_id=group_id)) if add else None
            removed = s.execute(update(VolumeRow).where(
                VolumeRow.id.in_(remove), VolumeRow.group_id == group_id,
                VolumeRow.status.in_([v.value for v in remove_from])).values(group_id=None)) if remove else None
            ok = ((added is None or added.rowcount == len(add))  # type: ignore[attr-defined]
                  and (removed is None or removed.rowcount == len(remove)))  # type: ignore[attr-defined]
            if not ok:
                s.rollback()
            return ok
