"""The user message records (Cinder's ``messages``): the service's only way to their rows."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select

from volclone.db.database import Database
from volclone.db.paging import contains, page_query
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import UserMessageRow
from volclone.domain import PageQuery, UserMessage


def _message(row: UserMessageRow) -> UserMessage:
    return UserMessage(id=row.id, project_id=row.project_id, resource_type=row.resource_type,
                       resource_uuid=row.resource_uuid, action_id=row.action_id, detail_id=row.detail_id,
                       event_id=row.event_id, message_level=row.message_level, request_id=row.request_id,
                       created_at=row.created_at, expires_at=row.expires_at)


#: The fields a list filters and sorts on (Cinder's message columns).
COLUMNS: dict[str, ColumnElement[Any]] = {
    name: getattr(UserMessageRow, name).expression
    for name in ("id", "event_id", "message_level", "resource_type", "resource_uuid", "request_id",
                 "created_at")
}
COLUMNS["guaranteed_until"] = UserMessageRow.expires_at.expression
_TIEBREAKERS = ("created_at", "id")


class Messages:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, message: UserMessage) -> None:
        with _transaction(self.db) as s:
            s.add(UserMessageRow(id=message.id, project_id=message.project_id, request_id=message.request_id,
                                 resource_type=message.resource_type, resource_uuid=message.resource_uuid,
                                 event_id=message.event_id, action_id=message.action_id,
                                 detail_id=message.detail_id, message_level=message.message_level,
                                 created_at=message.created_at, expires_at=message.expires_at))

    def get(self, message_id: str) -> UserMessage | None:
        if _unstorable(message_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(UserMessageRow, message_id)
            return _message(row) if row is not None else None

    def delete(self, message_id: str) -> bool:
        with _transaction(self.db) as s:
            return bool(s.execute(delete(UserMessageRow).where(UserMessageRow.id == message_id))
                        .rowcount)  # type: ignore[attr-defined]

    def delete_expired(self, now: dt.datetime) -> int:
        """Remove every message kept past its ``expires_at``; how many went."""
        with _transaction(self.db) as s:
            return int(s.execute(delete(UserMessageRow).where(UserMessageRow.expires_at <= now))
                       .rowcount)  # type: ignore[attr-defined]

    def page(self, project_id: str | None, query: PageQuery) -> builtins.list[UserMessage]:
        q = self._where(select(UserMessageRow), project_id, query)
        if q is None:
            return []
        with _transaction(self.db) as s:
            q = page_query(q, UserMessageRow.id, COLUMNS, _TIEBREAKERS, query.sort, query.marker, query.offset,
                           query.limit)
            return [_message(r) for r in s.scalars(q)]

    @staticmethod
    def _where(q: Select[Any], project_id: str | None, query: PageQuery) -> Select[Any] | None:
        if _unstorable(project_id, *(v for _, v in query.equal), *(v for _, v in query.contains)):
            return None
        if project_id is not None:
            q = q.where(UserMessageRow.project_id == project_id)
        for key, value in query.equal:
            q = q.where(COLUMNS[key] == value)
        for key, text in query.contains:
            q = q.where(contains(COLUMNS[key], text))
        return q
