"""Quota limits, usage and reservations, one project at a time.

Usage is read, never counted up and down: a project's ``volumes`` and ``gigabytes`` in use are
its rows in ``volumes`` (whatever their status, as Cinder counts them), and ``snapshots`` its rows
in ``snapshots`` (whose sizes count in ``gigabytes`` too), so a volume delete or a
clone revert that removes rows frees their quota at once and nothing can drift. What is
*reserved* is the reservations of volumes not made yet: a reservation counts while it has not
expired and its volume row does not exist, so the moment the row is added the volume counts
instead, in one step, with no window where both or neither count. Per volume type
(``volumes_<type>``, ``gigabytes_<type>``, ``snapshots_<type>``) the same holds by the rows'
``volume_type_id``: a snapshot counts in its volume's type, and a reservation in its
``volume_type_id`` until its volume row exists *with that type* (:func:`type_usage`)::

    quotas = Quotas(db)
    with quotas.locked("p1", now) as q:     # the project's quota lock, held until the block ends
        limits, usage = q.overrides(), q.usage()
        ...                                  # the service decides
        q.reserve("task-1", [("vol-a", 10, type_id)], expires_at)
    quotas.release("task-1")                 # commit (the rows exist) or roll back (they never will)

The lock is an UPDATE of the project's ``quota_locks`` row, the first statement of the
transaction: PostgreSQL holds that row lock until commit, SQLite its database write lock, so
the check and the reservation of one request are never interleaved with another's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, delete, exists, func, literal_column, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from volclone.db.database import Database
from volclone.db.generic_groups import group_row
from volclone.db.quota_classes import class_limits
from volclone.db.schema import (
    GenericGroupRow,
    QuotaLockRow,
    QuotaRow,
    ReservationRow,
    SnapshotRow,
    TransferRow,
    VolumeRow,
    utcnow,
)
from volclone.db.snapshots import snapshot_row
from volclone.domain import Group, Snapshot, VolumeStatus
from volclone.errors import Conflict

#: The quota class whose limits are every project's defaults (Cinder's ``default``).
DEFAULT_CLASS = "default"


@dataclass(frozen=True)
class Usage:
    """One resource's use: what exists, and what live reservations hold for what does not yet."""

    in_use: int = 0
    reserved: int = 0


class LockedQuotas:
    """What may be read and changed while a project's quota lock is held."""

    def __init__(self, session: Session, project_id: str, now: dt.datetime) -> None:
        self._s = session
        self.project_id = project_id
        self.now = now

    def overrides(self) -> dict[str, int]:
        return _overrides(self._s, self.project_id)

    def usage(self) -> dict[str, Usage]:
        return _usage(self._s, self.project_id, self.now)

    def type_usage(self) -> dict[tuple[str, str], Usage]:
        return type_usage(self._s, self.project_id, self.now)

    def volume_type_of(self, volume_id: str) -> str | None:
        """The type of one of the project's volumes, read in the lock's transaction."""
        return self._s.scalar(select(VolumeRow.volume_type_id).where(VolumeRow.id == volume_id))

    def snapshots_of(self, volume_id: str) -> tuple[int, int]:
        """How many snapshots a volume has, and their GiB: what moves to another type with it."""
        count, size = self._s.execute(select(func.count(), func.coalesce(func.sum(SnapshotRow.volume_size), 0))
                                      .where(SnapshotRow.volume_id == volume_id)).one()
        return int(count), int(size)

    def class_defaults(self) -> dict[str, int]:
        """The ``default`` quota class's limits, read in the lock's transaction."""
        return class_limits(self._s, DEFAULT_CLASS)

    def set_overrides(self, limits: dict[str, int]) -> None:
        for resource, limit in limits.items():
            row = self._s.get(QuotaRow, (self.project_id, resource))
            if row is None:
                self._s.add(QuotaRow(project_id=self.project_id, resource=resource, hard_limit=limit))
            else:
                row.hard_limit = limit

    def reserve(self, holder: str, volumes: Sequence[tuple[str, int, str | None]], expires_at: dt.datetime) -> None:
        """Hold quota for ``volumes`` (volume id, GiB, type id) until ``holder`` is released or
        ``expires_at``."""
        self._s.add_all([ReservationRow(id=str(uuid.uuid4()), holder=holder, project_id=self.project_id,
                                        volume_id=vid, gigabytes=size, volume_type_id=type_id,
                                        created_at=self.now, expires_at=expires_at)
                         for vid, size, type_id in volumes])

    def count_groups(self) -> int:
        """The project's generic groups (its ``groups`` quota's usage)."""
        return int(self._s.scalar(select(func.count()).select_from(GenericGroupRow)
                                  .where(GenericGroupRow.project_id == self.project_id)) or 0)

    def add_group(self, group: Group) -> None:
        """Record a generic group; it counts in ``groups`` from the commit on."""
        self._s.add(group_row(group))

    def add_snapshot(self, snapshot: Snapshot) -> None:
        """Record a snapshot; it counts in ``snapshots`` and ``gigabytes`` from the commit on."""
        self._s.add(snapshot_row(snapshot))

    def grow_volume(self, volume_id: str, size: int, status: VolumeStatus,
                    only_from: Collection[VolumeStatus]) -> bool:
        """Set a volume of the project to ``size`` GiB and ``status`` if it is in ``only_from`` now
        (one conditional UPDATE); whether it was. Its new size counts in the usage at once."""
        moved = self._s.execute(update(VolumeRow)
                                .where(VolumeRow.id == volume_id, VolumeRow.project_id == self.project_id,
                                       VolumeRow.status.in_([v.value for v in only_from]))
                                .values(size=size, status=status.value, updated_at=utcnow()))
        return bool(moved.rowcount)  # type: ignore[attr-defined]

    def accept_transfer(self, transfer_id: str, volume_id: str, snapshot_ids: Sequence[str],
                        user_id: str | None = None) -> bool:
        """Give this project the volume of an open transfer (``awaiting-transfer``, then
        ``available``) and the snapshots ``snapshot_ids`` of it, and mark the transfer accepted,
        all in the lock's transaction: they count in this project's usage, and no longer in the
        donor's, from the commit on. False, and nothing changed, when the volume is no longer
        awaiting its transfer. The accepting ``user_id`` becomes their user, as in Cinder."""
        moved = self._s.execute(update(VolumeRow)
                                .where(VolumeRow.id == volume_id,
                                       VolumeRow.status == VolumeStatus.AWAITING_TRANSFER.value)
                                .values(project_id=self.project_id, status=VolumeStatus.AVAILABLE.value,
                                        user_id=user_id, updated_at=utcnow()))
        if not moved.rowcount:  # type: ignore[attr-defined]
            return False
        if snapshot_ids:
            self._s.execute(update(SnapshotRow)
                            .where(SnapshotRow.id.in_(list(snapshot_ids)), SnapshotRow.volume_id == volume_id)
                            .values(project_id=self.project_id, user_id=user_id, updated_at=utcnow()))
        taken = self._s.execute(update(TransferRow)
                                .where(TransferRow.id == transfer_id, TransferRow.accepted.is_(False))
                                .values(accepted=True, destination_project_id=self.project_id,
                                        updated_at=utcnow()))
        if not taken.rowcount:  # type: ignore[attr-defined]
            raise Conflict(f"transfer {transfer_id} was accepted or deleted meanwhile")  # rolls all back
        return True


def _overrides(s: Session, project_id: str) -> dict[str, int]:
    rows = s.execute(select(QuotaRow.resource, QuotaRow.hard_limit).where(QuotaRow.project_id == project_id))
    return {resource: limit for resource, limit in rows}


def _usage(s: Session, project_id: str, now: dt.datetime) -> dict[str, Usage]:
    # ONE statement, so one snapshot: on PostgreSQL (read committed) two statements could see a
    # volume row committed between them, counting it neither as made nor as reserved.
    volumes = select(VolumeRow.size).where(VolumeRow.project_id == project_id).subquery()
    made = exists().where(VolumeRow.id == ReservationRow.volume_id)
    held = select(ReservationRow.gigabytes).where(and_(
        ReservationRow.project_id == project_id, ReservationRow.expires_at > now, ~made)).subquery()
    # Snapshots count in ``snapshots``, and their volume's size in ``gigabytes``, as in Cinder
    # (its default ``no_snapshot_gb_quota = False``).
    snaps = select(SnapshotRow.volume_size).where(SnapshotRow.project_id == project_id).subquery()
    count, size, held_count, held_size, snap_count, snap_size = s.execute(select(
        select(func.count()).select_from(volumes).scalar_subquery(),
        select(func.coalesce(func.sum(volumes.c.size), 0)).scalar_subquery(),
        select(func.count()).select_from(held).scalar_subquery(),
        select(func.coalesce(func.sum(held.c.gigabytes), 0)).scalar_subquery(),
        select(func.count()).select_from(snaps).scalar_subquery(),
        select(func.coalesce(func.sum(snaps.c.volume_size), 0)).scalar_subquery())).one()
    return {"volumes": Usage(int(count), int(held_count)),
            "gigabytes": Usage(int(size) + int(snap_size), int(held_size)),
            "snapshots": Usage(int(snap_count))}


def type_usage(s: Session, project_id: str, now: dt.datetime) -> dict[tuple[str, str], Usage]:
    """(resource, type id) -> usage, for ``volumes``, ``gigabytes`` and ``snapshots`` of each type
    the project uses or holds. One statement (a UNION ALL), for the reason :func:`_usage` gives.
    A reservation is made once a volume row with its id *and its type* exists: a retype's
    reservation of a volume that exists keeps counting in the new type until the row switches."""
    vols = (select(literal_column("'v'", String), VolumeRow.volume_type_id, func.count(),
                   func.coalesce(func.sum(VolumeRow.size), 0))
            .where(VolumeRow.project_id == project_id, VolumeRow.volume_type_id.is_not(None))
            .group_by(VolumeRow.volume_type_id))
    made = exists().where(VolumeRow.id == ReservationRow.volume_id,
                          VolumeRow.volume_type_id == ReservationRow.volume_type_id)
    held = (select(literal_column("'r'", String), ReservationRow.volume_type_id, func.count(),
                   func.coalesce(func.sum(ReservationRow.gigabytes), 0))
            .where(ReservationRow.project_id == project_id, ReservationRow.expires_at > now,
                   ReservationRow.volume_type_id.is_not(None), ~made)
            .group_by(ReservationRow.volume_type_id))
    snaps = (select(literal_column("'s'", String), VolumeRow.volume_type_id, func.count(),
                    func.coalesce(func.sum(SnapshotRow.volume_size), 0))
             .join(VolumeRow, VolumeRow.id == SnapshotRow.volume_id)
             .where(SnapshotRow.project_id == project_id, VolumeRow.volume_type_id.is_not(None))
             .group_by(VolumeRow.volume_type_id))
    counts: dict[tuple[str, str], list[int]] = {}
    rows: list[Any] = list(s.execute(union_all(vols, held, snaps)))
    for row in rows:
        counts[(str(row[0]), str(row[1]))] = [int(row[2]), int(row[3])]
    usage: dict[tuple[str, str], Usage] = {}
    for type_id in {t for _, t in counts}:
        (v, vg), (r, rg), (n, ng) = (counts.get((k, type_id), [0, 0]) for k in ("v", "r", "s"))
        usage[("volumes", type_id)] = Usage(v, r)
        usage[("gigabytes", type_id)] = Usage(vg + ng, rg)
        usage[("snapshots", type_id)] = Usage(n)
    return usage


class Quotas:
    def __init__(self, db: Database) -> None:
        self.db = db

    def overrides(self, project_id: str) -> dict[str, int]:
        """The limits an admin set for the project (resources without one: not in the dict)."""
        with self.db.session() as s:
            return _overrides(s, project_id)

    def usage(self, project_id: str, now: dt.datetime) -> dict[str, Usage]:
        with self.db.session() as s:
            return _usage(s, project_id, now)

    def type_usage(self, project_id: str, now: dt.datetime) -> dict[tuple[str, str], Usage]:
        with self.db.session() as s:
            return type_usage(s, project_id, now)

    def class_defaults(self) -> dict[str, int]:
        """The ``default`` quota class's limits (only those set)."""
        with self.db.session() as s:
            return class_limits(s, DEFAULT_CLASS)

    def delete_overrides(self, project_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(QuotaRow).where(QuotaRow.project_id == project_id))

    @contextlib.contextmanager
    def locked(self, project_id: str, now: dt.datetime) -> Iterator[LockedQuotas]:
        """One transaction holding the project's quota lock; expired reservations go first."""
        for _ in range(2):
            with self.db.session() as s:
                # The lock must be the transaction's first statement: on SQLite a read first
                # would start a snapshot that a concurrent writer can make stale.
                taken = s.execute(update(QuotaLockRow).where(QuotaLockRow.project_id == project_id)
                                  .values(version=QuotaLockRow.version + 1)).rowcount  # type: ignore[attr-defined]
                if taken:
                    s.execute(delete(ReservationRow).where(and_(ReservationRow.project_id == project_id,
                                                                ReservationRow.expires_at <= now)))
                    yield LockedQuotas(s, project_id, now)
                    return
            self._add_lock_row(project_id)
        raise RuntimeError(f"the quota lock row of project {project_id} could not be made")

    def _add_lock_row(self, project_id: str) -> None:
        with contextlib.suppress(IntegrityError):  # a concurrent first reservation made it
            with self.db.session() as s:
                s.add(QuotaLockRow(project_id=project_id, version=0))

    def release(self, holder: str) -> int:
        """Drop the holder's reservations: a commit once its volumes exist (they count now), a
        rollback if they never will. Returns how many there were (0: released already)."""
        with self.db.session() as s:
            return int(s.execute(delete(ReservationRow).where(ReservationRow.holder == holder))
                       .rowcount)  # type: ignore[attr-defined]

    def reservations(self, project_id: str) -> list[tuple[str, str, int, dt.datetime]]:
        """(holder, volume id, GiB, expiry) of every reservation of the project, expired too."""
        with self.db.session() as s:
            rows = s.execute(select(ReservationRow.holder, ReservationRow.volume_id, ReservationRow.gigabytes,
                                    ReservationRow.expires_at).where(ReservationRow.project_id == project_id)
                             .order_by(ReservationRow.created_at, ReservationRow.id))
            return [(h, v, g, e) for h, v, g, e in rows]
