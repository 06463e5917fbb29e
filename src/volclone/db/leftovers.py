"""What failed reverts left behind, recorded so it is retried until it is gone.

A clone flow's revert undoes every item it can; an item it cannot undo (a clone volume
that would not delete, a group snapshot, a source group, a status) becomes a row here::

    leftovers = Leftovers(db)
    leftovers.record(Leftover.new(task_id, step, "delete_group", "src_group-...", None, "database is locked"))
    for item in leftovers.pending():
        ...                       # try again
        leftovers.resolve(item.id)  # or leftovers.failed_again(item.id, message)

Rows are kept once resolved (``resolved_at`` set), so a finished flow reads the same later.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from volclone.db.database import Database, upsert
from volclone.db.schema import GroupRow, LeftoverRow, utcnow


@dataclass(frozen=True)
class Leftover:
    """One thing a revert could not undo. ``kind`` names the undo action, ``ref`` its object."""

    id: str
    task_id: str
    step: str
    kind: str
    ref: str
    backend: str | None
    message: str
    attempts: int = 1
    resolved: bool = False

    @classmethod
    def new(cls, task_id: str, step: str, kind: str, ref: str, backend: str | None, message: str) -> Leftover:
        return cls(f"{kind}:{ref}", task_id, step, kind, ref, backend, message)


def _leftover(row: LeftoverRow) -> Leftover:
    return Leftover(row.id, row.task_id, row.step, row.kind, row.ref, row.backend, row.message,
                    row.attempts, row.resolved_at is not None)


class Leftovers:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, item: Leftover) -> None:
        """Add ``item``, or count one more failure of the same thing (and make it pending again).
        One upsert: two workers recording the same item at once both count."""
        stmt = upsert(self.db.engine, LeftoverRow).values(
            id=item.id, task_id=item.task_id, step=item.step, kind=item.kind, ref=item.ref, backend=item.backend,
            message=item.message, attempts=1, created_at=utcnow(), updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
            "message": stmt.excluded.message, "attempts": LeftoverRow.attempts + 1, "resolved_at": None,
            "updated_at": stmt.excluded.updated_at})
        with self.db.session() as s:
            s.execute(stmt)

    def pending(self) -> list[Leftover]:
        """Unresolved items, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(select(LeftoverRow).where(LeftoverRow.resolved_at.is_(None))
                             .order_by(LeftoverRow.created_at, LeftoverRow.id))
            return [_leftover(r) for r in rows]

    def for_task(self, task_id: str) -> list[Leftover]:
        """Every item a task's revert left, resolved or not, in the order they were found."""
        with self.db.session() as s:
            rows = s.scalars(select(LeftoverRow).where(LeftoverRow.task_id == task_id)
                             .order_by(LeftoverRow.created_at, LeftoverRow.id))
            return [_leftover(r) for r in rows]

    def resolve(self, item_id: str) -> None:
        with self.db.session() as s:
            row = s.get(LeftoverRow, item_id)
            if row is not None and row.resolved_at is None:
                row.resolved_at = row.updated_at = utcnow()

    def failed_again(self, item_id: str, message: str) -> None:
        with self.db.session() as s:
            row = s.get(LeftoverRow, item_id)
            if row is not None:
                row.message, row.attempts, row.updated_at = message, row.attempts + 1, utcnow()

    def source_groups(self) -> list[tuple[str, str]]:
        """(group id, task id) of every source group: the retry releases those of dead flows."""
        with self.db.session() as s:
            return [(r.id, r.task_id) for r in s.scalars(select(GroupRow).order_by(GroupRow.created_at))]
