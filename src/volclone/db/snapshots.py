"""The snapshot records (Cinder's ``snapshots``): the service's only way to their rows.

Lists are done by the database, as volume lists are: filters, a total order (the sort keys,
then ``created_at`` and ``id``), a keyset after the marker, OFFSET and LIMIT, in one statement.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, false, func, or_, select, update

from volclone.db.database import Database
from volclone.db.paging import contains
from volclone.db.repos import _has_item_of, _transaction, _unstorable
from volclone.db.schema import SnapshotRow, utcnow
from volclone.domain import Snapshot, SnapshotQuery, SnapshotStatus
from volclone.errors import NotFound


def _snapshot(row: SnapshotRow) -> Snapshot:
    return Snapshot(id=row.id, project_id=row.project_id, volume_id=row.volume_id, name=row.name,
                    description=row.description, volume_size=row.volume_size, status=SnapshotStatus(row.status),
                    backend=row.backend, metadata=dict(row.metadata_ or {}), created_at=row.created_at,
                    updated_at=row.updated_at, user_id=row.user_id,
                    group_snapshot_id=row.group_snapshot_id, progress=row.progress)


def snapshot_row(snap: Snapshot) -> SnapshotRow:
    return SnapshotRow(id=snap.id, project_id=snap.project_id, volume_id=snap.volume_id, name=snap.name,
                       description=snap.description, volume_size=snap.volume_size, status=snap.status.value,
                       backend=snap.backend, metadata_=dict(snap.metadata), user_id=snap.user_id,
                       group_snapshot_id=snap.group_snapshot_id, progress=snap.progress)


#: The fields a query filters and sorts on, by their columns.
_COLUMNS: dict[str, Any] = {
    "id": SnapshotRow.id, "name": SnapshotRow.name, "description": SnapshotRow.description,
    "status": SnapshotRow.status, "volume_id": SnapshotRow.volume_id, "project_id": SnapshotRow.project_id,
    "size": SnapshotRow.volume_size, "created_at": SnapshotRow.created_at, "updated_at": SnapshotRow.updated_at,
}
#: NULL names and descriptions sort as "" (the same order on SQLite and PostgreSQL, a total keyset).
_SORTED: dict[str, ColumnElement[Any]] = {
    **_COLUMNS, "name": func.coalesce(SnapshotRow.name, ""),
    "description": func.coalesce(SnapshotRow.description, ""),
}
_TIEBREAKERS = ("created_at", "id")


class Snapshots:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, snap: Snapshot) -> None:
        with _transaction(self.db) as s:
            s.add(snapshot_row(snap))

    def get(self, snapshot_id: str) -> Snapshot | None:
        if _unstorable(snapshot_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(SnapshotRow, snapshot_id)
            return _snapshot(row) if row else None

    def of_volume(self, volume_id: str) -> builtins.list[Snapshot]:
        """The volume's snapshots, oldest first."""
        with _transaction(self.db) as s:
            return [_snapshot(r) for r in s.scalars(select(SnapshotRow).where(SnapshotRow.volume_id == volume_id)
                                                    .order_by(SnapshotRow.created_at, SnapshotRow.id))]

    def of_group_snapshot(self, group_snapshot_id: str) -> builtins.list[Snapshot]:
        """A group snapshot's member snapshots, oldest first."""
        with _transaction(self.db) as s:
            return [_snapshot(r) for r in s.scalars(select(SnapshotRow)
                                                    .where(SnapshotRow.group_snapshot_id == group_snapshot_id)
                                                    .order_by(SnapshotRow.created_at, SnapshotRow.id))]

    def count_of_volume(self, volume_id: str) -> int:
        with _transaction(self.db) as s:
            return int(s.scalar(select(func.count()).select_from(SnapshotRow)
                                .where(SnapshotRow.volume_id == volume_id)) or 0)

    def update(self, snapshot_id: str, **fields: Any) -> Snapshot | None:
        """Set fields (``metadata`` included); ``status`` takes a :class:`SnapshotStatus`."""
        with _transaction(self.db) as s:
            row = s.get(SnapshotRow, snapshot_id)
            if row is None:
                return None
            for key, value in fields.items():
                if key == "metadata":
                    row.metadata_ = dict(value)
                elif key == "status":
                    row.status = SnapshotStatus(value).value
                else:
                    setattr(row, key, value)
            row.updated_at = utcnow()
            s.flush()
            return _snapshot(row)

    def set_status(self, snapshot_ids: builtins.list[str], status: SnapshotStatus,
                   only_from: Collection[SnapshotStatus] | None = None,
                   progress: str | None = None) -> builtins.list[str]:
        """Move snapshots to ``status`` (only those now in ``only_from``, if given), and set their
        ``progress`` if given, in one conditional UPDATE; returns the ids moved."""
        q = update(SnapshotRow).where(SnapshotRow.id.in_(snapshot_ids))
        if only_from is not None:
            q = q.where(SnapshotRow.status.in_([v.value for v in only_from]))
        values: dict[str, Any] = {"status": status.value, "updated_at": utcnow()}
        if progress is not None:
            values["progress"] = progress
        with _transaction(self.db) as s:
            return list(s.scalars(q.values(**values).returning(SnapshotRow.id)))

    def delete(self, snapshot_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(SnapshotRow).where(SnapshotRow.id == snapshot_id))

    def project_of(self, snapshot_id: str) -> str | None:
        if _unstorable(snapshot_id):
            return None
        with _transaction(self.db) as s:
            return s.scalar(select(SnapshotRow.project_id).where(SnapshotRow.id == snapshot_id))

    # -- lists ---------------------------------------------------------------------------
    def page(self, project_id: str | None, query: SnapshotQuery) -> builtins.list[Snapshot]:
        """The snapshots of ``project_id`` (None: every project's) ``query`` selects, one page."""
        q = self._where(select(SnapshotRow), project_id, query)
        if q is None:
            return []
        order = _order(query.sort)
        with _transaction(self.db) as s:
            if query.marker is not None:
                if _unstorable(query.marker) or s.get(SnapshotRow, query.marker) is None:
                    raise NotFound(f"Snapshot {query.marker} could not be found.")
                q = q.where(_after(order, query.marker))
            q = q.order_by(*(e.asc() if up else e.desc() for e, up in order))
            if query.offset:
                q = q.offset(query.offset)
            if query.limit is not None:
                q = q.limit(query.limit)
            return [_snapshot(r) for r in s.scalars(q)]

    def count(self, project_id: str | None, query: SnapshotQuery) -> int:
        q = self._where(select(func.count()).select_from(SnapshotRow), project_id, query)
        if q is None:
            return 0
        with _transaction(self.db) as s:
            return int(s.scalar(q) or 0)

    def _where(self, q: Select[Any], project_id: str | None, query: SnapshotQuery) -> Select[Any] | None:
        values = [v for _, v in query.equal] + [v for kv in query.metadata for v in kv] + \
            [v for _, v in query.contains] + [project_id]
        if query.nothing or _unstorable(*values):
            return None
        if project_id is not None:
            q = q.where(SnapshotRow.project_id == project_id)
        for key, value in query.equal:
            q = q.where(_COLUMNS[key] == value)
        for key, value in query.metadata:
            q = q.where(_has_item_of(SnapshotRow.metadata_, self.db.engine.dialect.name, key, value))
        for key, text in query.contains:
            q = q.where(contains(_COLUMNS[key], text))
        return q


def _order(sort: tuple[tuple[str, bool], ...]) -> list[tuple[ColumnElement[Any], bool]]:
    keys = list(sort)
    up = keys[0][1] if keys else False
    keys += [(k, up) for k in _TIEBREAKERS if k not in {k for k, _ in keys}]
    return [(_SORTED[k], asc) for k, asc in keys]


def _after(order: list[tuple[ColumnElement[Any], bool]], marker_id: str) -> ColumnElement[bool]:
    """Rows after the snapshot ``marker_id`` in ``order`` (a keyset on the marker's stored values)."""
    def marker(expr: ColumnElement[Any]) -> Any:
        return select(expr).where(SnapshotRow.id == marker_id).scalar_subquery()

    terms = []
    for i, (expr, up) in enumerate(order):
        same = [e == marker(e) for e, _ in order[:i]]
        terms.append(and_(*same, expr > marker(expr) if up else expr < marker(expr)))
    return or_(*terms) if terms else false()
