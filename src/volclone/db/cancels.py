"""Cancel requests of clone tasks, kept on their ``clone_tasks`` rows so that any API process
can record one and the process that runs the flow (serve, or a cluster worker) sees it::

    marks = CancelMarks(db)
    marks.request("84a0...")                   # True the first time, False when asked already
    marks.requested(["84a0...", "9f1e..."])    # {"84a0..."}: the ones asked to stop
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select, update

from volclone.db.database import Database
from volclone.db.schema import CloneTaskRow, utcnow


class CancelMarks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def request(self, task_id: str) -> bool:
        """Mark the task to be cancelled; whether this call marked it (False: it was already)."""
        with self.db.session() as s:
            result = s.execute(update(CloneTaskRow).where(CloneTaskRow.id == task_id,
                                                          CloneTaskRow.cancel_requested_at.is_(None))
                               .values(cancel_requested_at=utcnow()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def requested(self, task_ids: Collection[str]) -> set[str]:
        """Which of ``task_ids`` were asked to cancel (one query, whatever their number)."""
        if not task_ids:
            return set()
        with self.db.session() as s:
            return set(s.scalars(select(CloneTaskRow.id).where(CloneTaskRow.id.in_(list(task_ids)),
                                                               CloneTaskRow.cancel_requested_at.is_not(None))))
