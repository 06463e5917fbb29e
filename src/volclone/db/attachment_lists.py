"""The query of an attachment list (``GET /attachments[/detail]``): its filters, done by the
database, and its page (Cinder's: newest first unless it sorts otherwise).

    q = attachment_select("p1", PageQuery(contains=(("instance_uuid", "4d"),)))
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select

from volclone.db.paging import contains, page_query
from volclone.db.schema import AttachmentRow
from volclone.domain import PageQuery

#: The fields an attachment list filters on (Cinder's ``attach_status`` and ``attach_mode`` are
#: volclone's ``status`` and ``mode``).
COLUMNS: dict[str, ColumnElement[Any]] = {
    name: getattr(AttachmentRow, name).expression
    for name in ("id", "volume_id", "project_id", "instance_uuid", "mode", "status", "mountpoint", "created_at")
}


def attachment_select(project_id: str | None, query: PageQuery) -> Select[Any]:
    """The attachments of ``project_id`` (None: every project's) ``query`` selects, one page (the
    caller has found the marker and dropped a query that matches nothing)."""
    q = select(AttachmentRow)
    if project_id is not None:
        q = q.where(AttachmentRow.project_id == project_id)
    for key, value in query.equal:
        q = q.where(COLUMNS[key] == value)
    for key, text in query.contains:
        q = q.where(contains(COLUMNS[key], text))
    return page_query(q, AttachmentRow.id, COLUMNS, ("created_at", "id"), query.sort, query.marker, query.offset,
                      query.limit)
