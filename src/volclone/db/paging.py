"""Keyset paging shared by the smaller lists (transfers, messages, group snapshots): a total
order (the sort keys, then the tiebreakers in the first key's direction), the rows after a marker
row, OFFSET, LIMIT; and the lists' ``key~`` filter (:func:`contains`).

    q = page_query(select(Row), Row, Row.id, sorted_columns, ("created_at", "id"), sort, marker,
                   offset, limit)
    q = q.where(contains(Row.name, "nigh"))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` holds ``text``, in any case; ``%`` and ``_`` in ``text`` are themselves
    (Cinder's ``key~`` filters, 3.34: a part of the field, where Cinder's LIKE would also read
    them as wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]


def order(columns: Mapping[str, ColumnElement[Any]], tiebreakers: tuple[str, ...],
          sort: tuple[tuple[str, bool], ...]) -> list[tuple[ColumnElement[Any], bool]]:
    keys = list(sort)
    up = keys[0][1] if keys else False
    named = {k for k, _ in keys}
    keys += [(k, up) for k in tiebreakers if k not in named]
    return [(columns[k], asc) for k, asc in keys]


def after(by: list[tuple[ColumnElement[Any], bool]], id_column: Any, marker_id: str) -> ColumnElement[bool]:
    """Rows after the row ``marker_id`` in ``by`` (compared with the marker's stored values)."""
    def marker(expr: ColumnElement[Any]) -> Any:
        return select(expr).where(id_column == marker_id).scalar_subquery()

    terms = []
    for i, (expr, up) in enumerate(by):
        same = [e == marker(e) for e, _ in by[:i]]
        terms.append(and_(*same, expr > marker(expr) if up else expr < marker(expr)))
    return or_(*terms) if terms else false()


def page_query(q: Select[Any], id_column: Any, columns: Mapping[str, ColumnElement[Any]],
               tiebreakers: tuple[str, ...], sort: tuple[tuple[str, bool], ...], marker: str | None,
               offset: int, limit: int | None) -> Select[Any]:
    """``q`` ordered, after ``marker`` (whose row the caller found), offset and limited."""
    by = order(columns, tiebreakers, sort)
    if marker is not None:
        q = q.where(after(by, id_column, marker))
    q = q.order_by(*(e.asc() if up else e.desc() for e, up in by))
    if offset:
        q = q.offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return q
