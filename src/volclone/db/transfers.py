"""The volume transfer records (Cinder's ``transfers``): the service's only way to their rows.

An open transfer is one not accepted; an accepted one keeps its row (who took the volume) but
no list or show finds it, as Cinder's soft-deleted rows. A transfer's accept is done under the
destination project's quota lock (``volclone.db.quotas.LockedQuotas.accept_transfer``).
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, select, update

from volclone.db.database import Database
from volclone.db.paging import page_query
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import TransferRow, VolumeRow, utcnow
from volclone.domain import PageQuery, Transfer, VolumeStatus


def transfer_of(row: TransferRow) -> Transfer:
    return Transfer(id=row.id, volume_id=row.volume_id, project_id=row.project_id, name=row.name,
                    salt=row.salt, key_hash=row.key_hash, no_snapshots=bool(row.volume_only),
                    accepted=bool(row.accepted), destination_project_id=row.destination_project_id,
                    created_at=row.created_at)


#: The fields a list filters and sorts on.
COLUMNS: dict[str, ColumnElement[Any]] = {
    "id": TransferRow.id.expression, "name": func.coalesce(TransferRow.name, ""),
    "volume_id": TransferRow.volume_id.expression, "created_at": TransferRow.created_at.expression,
    "project_id": TransferRow.project_id.expression,
}
_FILTERS: dict[str, Any] = {"id": TransferRow.id, "name": TransferRow.name, "volume_id": TransferRow.volume_id}
_TIEBREAKERS = ("created_at", "id")


class Transfers:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, transfer: Transfer, from_statuses: frozenset[VolumeStatus]) -> bool:
        """Record ``transfer`` and set its volume ``awaiting-transfer``, in one transaction, if
        the volume is in ``from_statuses`` now; whether it was (nothing is recorded otherwise)."""
        with _transaction(self.db) as s:
            moved = s.execute(update(VolumeRow)
                              .where(VolumeRow.id == transfer.volume_id,
                                     VolumeRow.status.in_([v.value for v in from_statuses]))
                              .values(status=VolumeStatus.AWAITING_TRANSFER.value, updated_at=utcnow()))
            if not moved.rowcount:  # type: ignore[attr-defined]
                return False
            s.add(TransferRow(id=transfer.id, volume_id=transfer.volume_id, project_id=transfer.project_id,
                              name=transfer.name, salt=transfer.salt, key_hash=transfer.key_hash,
                              volume_only=transfer.no_snapshots, accepted=False))
            return True

    def get(self, transfer_id: str) -> Transfer | None:
        """The open transfer with this id (an accepted one is not found)."""
        if _unstorable(transfer_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(TransferRow, transfer_id)
            return transfer_of(row) if row is not None and not row.accepted else None

    def cancel(self, transfer: Transfer) -> bool:
        """Delete an open transfer and put its volume back to ``available`` (from
        ``awaiting-transfer``), in one transaction; whether the transfer was still open."""
        with _transaction(self.db) as s:
            gone = s.execute(delete(TransferRow).where(TransferRow.id == transfer.id,
                                                       TransferRow.accepted.is_(False)))
            if not gone.rowcount:  # type: ignore[attr-defined]
                return False
            s.execute(update(VolumeRow)
                      .where(VolumeRow.id == transfer.volume_id,
                             VolumeRow.status == VolumeStatus.AWAITING_TRANSFER.value)
                      .values(status=VolumeStatus.AVAILABLE.value, updated_at=utcnow()))
            return True

    def forget(self, transfer_id: str) -> None:
        """Remove a transfer whose volume is gone."""
        with _transaction(self.db) as s:
            s.execute(delete(TransferRow).where(TransferRow.id == transfer_id))

    def page(self, project_id: str | None, query: PageQuery) -> builtins.list[Transfer]:
        """The open transfers of ``project_id`` (None: every project's) ``query`` selects, one page."""
        q = self._where(select(TransferRow), project_id, query)
        if q is None:
            return []
        with _transaction(self.db) as s:
            q = page_query(q, TransferRow.id, COLUMNS, _TIEBREAKERS, query.sort, query.marker, query.offset,
                           query.limit)
            return [transfer_of(r) for r in s.scalars(q)]

    def project_of(self, transfer_id: str) -> str | None:
        """The project of the open transfer ``transfer_id`` (paging markers are checked against it)."""
        found = self.get(transfer_id)
        return found.project_id if found is not None else None

    @staticmethod
    def _where(q: Select[Any], project_id: str | None, query: PageQuery) -> Select[Any] | None:
        if _unstorable(project_id, *(v for _, v in query.equal)):
            return None
        q = q.where(TransferRow.accepted.is_(False))
        if project_id is not None:
            q = q.where(TransferRow.project_id == project_id)
        for key, value in query.equal:
            q = q.where(_FILTERS[key] == value)
        return q
