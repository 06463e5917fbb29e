"""The services table: which backends each worker serves, and its last heartbeat::

    records = ServiceRecords(db)
    records.beat("worker-1", "node1", ["local", "ceph"], started_at=t0)   # one row per backend
    records.list()                                                         # [ServiceRecord, ...]

A beat is one upsert statement per database (``INSERT ... ON CONFLICT DO UPDATE``, which both
PostgreSQL and SQLite have): workers beating at once, even two beats of one worker, never fail
on the primary key nor lose a beat, with no read before the write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update

from volclone.db.database import Database, upsert
from volclone.db.schema import ServiceRow, utcnow
from volclone.domain import VOLUME_BINARY, ServiceRecord


class ServiceRecords:
    def __init__(self, db: Database) -> None:
        self.db = db
        upsert(db.engine, ServiceRow)  # a database without one fails here, not at the first beat

    def beat(self, worker: str, host: str, backends: Sequence[str], *, binary: str = VOLUME_BINARY,
             started_at: dt.datetime | None = None, now: dt.datetime | None = None) -> None:
        """Record that ``worker`` on ``host`` serves ``backends`` now. ``started_at`` (the
        worker's start) replaces the recorded one when given; a new row takes it, or now."""
        now = now or utcnow()
        if not backends:
            return
        rows = [{"name": worker, "binary": binary, "backend": b, "host": host,
                 "started_at": started_at or now, "heartbeat_at": now} for b in sorted(set(backends))]
        stmt = upsert(self.db.engine, ServiceRow).values(rows)
        changed = {"host": stmt.excluded.host, "heartbeat_at": stmt.excluded.heartbeat_at}
        if started_at is not None:
            changed["started_at"] = stmt.excluded.started_at
        stmt = stmt.on_conflict_do_update(index_elements=["name", "binary", "backend"], set_=changed)
        with self.db.session() as s:
            s.execute(stmt)

    def list(self) -> list[ServiceRecord]:
        """Every row, by binary, worker and backend."""
        with self.db.session() as s:
            rows = s.scalars(select(ServiceRow).order_by(ServiceRow.binary, ServiceRow.name, ServiceRow.backend))
            return [ServiceRecord(name=r.name, binary=r.binary, backend=r.backend, hostname=r.host,
                                  started_at=r.started_at, heartbeat_at=r.heartbeat_at, disabled=r.disabled,
                                  disabled_reason=r.disabled_reason, frozen=r.frozen) for r in rows]

    def set_state(self, records: Sequence[ServiceRecord], **values: bool | str | None) -> None:
        """Set ``disabled``, ``disabled_reason`` and/or ``frozen`` of these rows, in one transaction."""
        with self.db.session() as s:
            for r in records:
                s.execute(update(ServiceRow).where(ServiceRow.name == r.name, ServiceRow.binary == r.binary,
                                                   ServiceRow.backend == r.backend).values(**values))
