"""Idempotency keys of clone-volumes requests (``Idempotency-Key``), per project::

    keys = IdempotencyKeys(db, ttl_s=86400)
    keys.claim("p1", "k1", body_hash, task_id)   # None: ours now; else the (task_id, hash) that has it
    keys.find("p1", "k1")                         # the live record, or None
    keys.release("p1", "k1", task_id)             # the request failed: the key is free again

A claim is one INSERT on the primary key (project, key), so of requests racing with one key
exactly one wins; the others read the winner's record. A key older than ``ttl_s`` is free again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from volclone.db.database import Database
from volclone.db.schema import IdempotencyKeyRow, utcnow

#: Keys are kept a day, as the issue and the usual practice (Stripe, AWS clientToken) have it.
DEFAULT_TTL_S = 86400.0


class IdempotencyKeys:
    def __init__(self, db: Database, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.db = db
        self.ttl = dt.timedelta(seconds=ttl_s)

    def find(self, project_id: str, key: str) -> tuple[str, str] | None:
        """(task id, body hash) of the live record of ``key``, if there is one."""
        with self.db.session() as s:
            row = s.get(IdempotencyKeyRow, (project_id, key))
            if row is None or row.created_at < utcnow() - self.ttl:
                return None
            return row.task_id, row.body_hash

    def claim(self, project_id: str, key: str, body_hash: str, task_id: str) -> tuple[str, str] | None:
        """Record ``key`` for ``task_id``; None if it is ours now, else the live record that has it."""
        with self.db.session() as s:  # an expired record frees its key
            s.execute(delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.project_id == project_id, IdempotencyKeyRow.key == key,
                IdempotencyKeyRow.created_at < utcnow() - self.ttl))
        try:
            with self.db.session() as s:
                s.add(IdempotencyKeyRow(project_id=project_id, key=key, body_hash=body_hash, task_id=task_id))
        except IntegrityError:
            return self.find(project_id, key) or self.claim(project_id, key, body_hash, task_id)
        return None

    def release(self, project_id: str, key: str, task_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(IdempotencyKeyRow).where(
                IdempotencyKeyRow.project_id == project_id, IdempotencyKeyRow.key == key,
                IdempotencyKeyRow.task_id == task_id))

    def purge(self) -> int:
        """Drop expired records; returns how many."""
        with self.db.session() as s:
            gone = s.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at < utcnow() - self.ttl))
            return int(gone.rowcount)  # type: ignore[attr-defined]
