"""The query of an attachment list (``GET /attachments[/detail]``): its filters, done by the
database, in the order the attachments were made.

    q = attachment_select("p1", PageQuery(contains=(("instance_uuid", "4d"),)))
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select

from volclone.db.paging import contains
from volclone.db.schema import AttachmentRow
from volclone.domain import PageQuery

#: The fields an attachment list filters on (Cinder's ``attach_status`` and ``attach_mode`` are
#: volclone's ``status`` and ``mode``).
COLUMNS: dict[str, ColumnElement[Any]] = {
    name: getattr(AttachmentRow, name).expression
    for name in ("id", "volume_id", "project_id", "instance_uuid", "mode", "status", "mountpoint")
}


def attachment_select(project_id: str | None, query: PageQuery) -> Select[Any]:
    """The attachments of ``project_id`` (None: every project's) ``query``'s filters select, oldest
    first (the caller has dropped a query that matches nothing)."""
    q = select(AttachmentRow)
    if project_id is not None:
        q = q.where(AttachmentRow.project_id == project_id)
    for key, value in query.equal:
        q = q.where(COLUMNS[key] == value)
    for key, text in query.contains:
        q = q.where(contains(COLUMNS[key], text))
    return q.order_by(AttachmentRow.created_at, AttachmentRow.id)
