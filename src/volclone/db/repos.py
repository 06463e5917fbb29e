"""Repositories: the service's only way to rows. They return domain records.

Database errors stop here: a constraint a concurrent writer won (two types created with one
name at once) is a :class:`~volclone.errors.Conflict` (409), never SQLAlchemy's IntegrityError;
a value the database refuses (PostgreSQL: longer than its column, or text with a NUL) is a
:class:`~volclone.errors.BadRequest`; a database that went away is
:class:`~volclone.errors.DatabaseUnavailable` (503). Keys with a NUL are looked up as absent: no
row can hold one on PostgreSQL, which refuses them even in a WHERE clause.
"""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import hashlib
import operator
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, delete, exists, false, func, or_, select, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from volclone.db.attachment_lists import attachment_select
from volclone.db.database import Database
from volclone.db.paging import contains
from volclone.db.quota_classes import drop_resources, rename_resources
from volclone.db.schema import (
    AttachmentRow,
    BackendRow,
    CloneTaskRow,
    GroupRow,
    QosTypeRow,
    SettingRow,
    TokenRow,
    TypeEncryptionRow,
    VolumeRow,
    VolumeTypeAccessRow,
    VolumeTypeRow,
    utcnow,
)
from volclone.domain import (
    Attachment,
    AttachMode,
    AttachStatus,
    BackendConfig,
    PageQuery,
    Principal,
    Volume,
    VolumeQuery,
    VolumeStatus,
    VolumeSummary,
    VolumeType,
    attached_status,
)
from volclone.errors import BadRequest, Conflict, DatabaseUnavailable, NotFound

#: What a lost race on a constraint tells the caller.
_RACED = "the change conflicts with another one made at the same time; try again"


@contextlib.contextmanager
def _transaction(db: Database, conflict: str = _RACED) -> Iterator[Session]:
    """``db.session()``, with a broken constraint (checked at flush or commit) turned into a Conflict."""
    try:
        with db.session() as s:
            yield s
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    except DataError as exc:
        raise BadRequest("a value is too long or is not valid text (a name is at most 255 characters)") from exc
    except OperationalError as exc:
        raise DatabaseUnavailable("the database is unavailable; try again") from exc


def _unstorable(*keys: object) -> bool:
    """True if a key cannot be in any row: it holds a NUL (which PostgreSQL refuses to compare)."""
    return any(isinstance(k, str) and "\x00" in k for k in keys)


def _type(row: VolumeTypeRow) -> VolumeType:
    return VolumeType(id=row.id, name=row.name, description=row.description,
                      is_public=row.is_public, extra_specs=dict(row.extra_specs or {}))


def _attachment(row: AttachmentRow) -> Attachment:
    return Attachment(id=row.id, volume_id=row.volume_id, project_id=row.project_id,
                      instance_uuid=row.instance_uuid, mode=AttachMode(row.mode), status=AttachStatus(row.status),
                      connector=dict(row.connector or {}),
                      connection_info=dict(row.connection_info) if row.connection_info is not None else None,
                      mountpoint=row.mountpoint, created_at=row.created_at, attached_at=row.attached_at)


def _volume(row: VolumeRow) -> Volume:
    return Volume(id=row.id, project_id=row.project_id, name=row.name, description=row.description,
                  size=row.size, status=VolumeStatus(row.status), volume_type_id=row.volume_type_id,
                  backend=row.backend, metadata=dict(row.metadata_ or {}),
                  created_at=row.created_at, updated_at=row.updated_at,
                  attachments=[_attachment(a) for a in row.attachments],
                  bootable=bool(row.bootable), readonly=row.readonly, migration_status=row.migration_status,
                  snapshot_id=row.snapshot_id, multiattach=bool(row.multiattach),
                  user_id=row.user_id, group_id=row.group_id)


class VolumeTypes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, vtype: VolumeType) -> VolumeType:
        """Record ``vtype``; Conflict if its name (or id) is taken, also by a create that raced this one."""
        with _transaction(self.db, f"volume type {vtype.name} already exists") as s:
            s.add(VolumeTypeRow(id=vtype.id, name=vtype.name, description=vtype.description,
                                is_public=vtype.is_public, extra_specs=dict(vtype.extra_specs)))
        return vtype

    def get(self, type_id: str) -> VolumeType | None:
        if _unstorable(type_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(VolumeTypeRow, type_id)
            return _type(row) if row else None

    def by_name(self, name: str) -> VolumeType | None:
        if _unstorable(name):
            return None
        with _transaction(self.db) as s:
            row = s.scalar(select(VolumeTypeRow).where(VolumeTypeRow.name == name))
            return _type(row) if row else None

    def list(self) -> list[VolumeType]:
        with _transaction(self.db) as s:
            return [_type(r) for r in s.scalars(select(VolumeTypeRow).order_by(VolumeTypeRow.created_at))]

    def set_extra_specs(self, type_id: str, specs: dict[str, str]) -> None:
        with _transaction(self.db) as s:
            row = s.get(VolumeTypeRow, type_id)
            if row is not None:
                row.extra_specs = specs

    def update(self, type_id: str, name: str | None = None, description: str | None = None,
               is_public: bool | None = None,
               quota_keys: Callable[[str, str], Mapping[str, str]] | None = None) -> VolumeType | None:
        """Change the fields given (None: unchanged); Conflict if ``name`` is another type's, also
        when a concurrent update or create took it first. None if the type is gone. A rename also
        renames, in the same transaction, the quota resources ``quota_keys(old, new)`` maps."""
        with _transaction(self.db, f"volume type {name} already exists") as s:
            row = s.get(VolumeTypeRow, type_id)
            if row is None:
                return None
            if name is not None and name != row.name:
                if quota_keys is not None:
                    rename_resources(s, quota_keys(row.name, name))
                row.name = name
            if description is not None:
                row.description = description
            if is_public is not None:
                row.is_public = is_public
            s.flush()  # a name taken meanwhile fails here, inside the translation to Conflict
            return _type(row)

    def delete(self, type_id: str, quota_keys: Collection[str] = ()) -> None:
        """Remove the type, what refers to it, and the quota limits on ``quota_keys`` (its own)."""
        with _transaction(self.db) as s:
            drop_resources(s, quota_keys)
            s.execute(delete(VolumeTypeAccessRow).where(VolumeTypeAccessRow.volume_type_id == type_id))
            s.execute(delete(QosTypeRow).where(QosTypeRow.volume_type_id == type_id))
            s.execute(delete(TypeEncryptionRow).where(TypeEncryptionRow.volume_type_id == type_id))
            s.execute(delete(VolumeTypeRow).where(VolumeTypeRow.id == type_id))

    # -- type access: the projects granted a private type -----------------------------------
    def projects_of(self, type_id: str) -> builtins.list[str]:
        """The projects granted ``type_id``, in the order they were granted."""
        with _transaction(self.db) as s:
            return list(s.scalars(select(VolumeTypeAccessRow.project_id)
                                  .where(VolumeTypeAccessRow.volume_type_id == type_id)
                                  .order_by(VolumeTypeAccessRow.created_at, VolumeTypeAccessRow.project_id)))

    def granted_to(self, project_id: str) -> set[str]:
        """The ids of the types ``project_id`` was granted."""
        if _unstorable(project_id):
            return set()
        with _transaction(self.db) as s:
            return set(s.scalars(select(VolumeTypeAccessRow.volume_type_id)
                                 .where(VolumeTypeAccessRow.project_id == project_id)))

    def has_access(self, type_id: str, project_id: str) -> bool:
        if _unstorable(type_id, project_id):
            return False
        with _transaction(self.db) as s:
            return s.get(VolumeTypeAccessRow, (type_id, project_id)) is not None

    def add_access(self, type_id: str, project_id: str) -> None:
        """Grant ``type_id`` to ``project_id``; Conflict if the project has it already (also when
        two grants race)."""
        with _transaction(self.db, f"volume type {type_id} is already accessible to project {project_id}") as s:
            s.add(VolumeTypeAccessRow(volume_type_id=type_id, project_id=project_id))

    def remove_access(self, type_id: str, project_id: str) -> bool:
        """Take the grant back; False if there was none."""
        if _unstorable(type_id, project_id):
            return False
        with _transaction(self.db) as s:
            gone = s.execute(delete(VolumeTypeAccessRow).where(VolumeTypeAccessRow.volume_type_id == type_id,
                                                               VolumeTypeAccessRow.project_id == project_id))
            return bool(gone.rowcount)  # type: ignore[attr-defined]

    def in_use(self, type_id: str) -> bool:
        with _transaction(self.db) as s:
            return bool(s.scalar(select(func.count()).select_from(VolumeRow)
                                 .where(VolumeRow.volume_type_id == type_id)))


class Volumes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, volumes: list[Volume]) -> None:
        with _transaction(self.db) as s:
            s.add_all(VolumeRow(id=v.id, project_id=v.project_id, name=v.name, description=v.description,
                                size=v.size, status=v.status.value, volume_type_id=v.volume_type_id,
                                backend=v.backend, metadata_=dict(v.metadata), bootable=v.bootable,
                                readonly=v.readonly, migration_status=v.migration_status,
                                snapshot_id=v.snapshot_id, multiattach=v.multiattach,
                                user_id=v.user_id, group_id=v.group_id) for v in volumes)

    def get(self, volume_id: str) -> Volume | None:
        if _unstorable(volume_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(VolumeRow, volume_id)
            return _volume(row) if row else None

    def get_many(self, volume_ids: list[str]) -> dict[str, Volume]:
        volume_ids = [v for v in volume_ids if not _unstorable(v)]
        with _transaction(self.db) as s:
            rows = s.scalars(select(VolumeRow).where(VolumeRow.id.in_(volume_ids)))
            return {r.id: _volume(r) for r in rows}

    def page(self, project_id: str | None, query: VolumeQuery) -> builtins.list[Volume]:
        """The volumes of ``project_id`` (None: of every project) ``query`` selects, in its order,
        from after its marker (404 if no volume has that id), at most its limit.

        One statement: ORDER BY the sort keys, a keyset condition on the marker's values of them,
        OFFSET and LIMIT; only the page's rows are read.
        """
        q = _where(select(VolumeRow), project_id, query, self.db.engine.dialect.name)
        if q is None:
            return []
        order = _order(query.sort)
        with _transaction(self.db) as s:
            if query.marker is not None:
                if _unstorable(query.marker) or s.scalar(select(VolumeRow.id).where(
                        VolumeRow.id == query.marker)) is None:
                    raise NotFound(f"Volume {query.marker} could not be found.")
                q = q.where(_after(order, query.marker))
            q = q.order_by(*(e.asc() if up else e.desc() for e, up in order))
            if query.offset:
                q = q.offset(query.offset)
            if query.limit is not None:
                q = q.limit(query.limit)
            return [_volume(r) for r in s.scalars(q)]

    def project_of(self, volume_id: str) -> str | None:
        """The project of the volume ``volume_id`` (None: no such volume), in one small query."""
        if _unstorable(volume_id):
            return None
        with _transaction(self.db) as s:
            return s.scalar(select(VolumeRow.project_id).where(VolumeRow.id == volume_id))

    def count(self, project_id: str | None, query: VolumeQuery) -> int:
        """How many volumes ``query``'s filters select (its order and page aside)."""
        q = _where(select(func.count()).select_from(VolumeRow), project_id, query, self.db.engine.dialect.name)
        if q is None:
            return 0
        with _transaction(self.db) as s:
            return int(s.scalar(q) or 0)

    def summary(self, project_id: str | None) -> VolumeSummary:
        """How many volumes ``project_id`` (None: every project) has, their GiB, and each metadata
        key's distinct values (sorted)."""
        scope = [] if project_id is None else [VolumeRow.project_id == project_id]
        with _transaction(self.db) as s:
            count, size = s.execute(select(func.count(VolumeRow.id), func.coalesce(func.sum(VolumeRow.size), 0))
                                    .where(*scope)).one()
            values: dict[str, set[str]] = {}
            for meta in s.scalars(select(VolumeRow.metadata_).where(*scope)):
                for key, value in (meta or {}).items():
                    values.setdefault(key, set()).add(value)
        return VolumeSummary(int(count), int(size), {k: sorted(v) for k, v in sorted(values.items())})

    def list(self, project_id: str | None, filters: dict[str, str] | None = None) -> list[Volume]:
        q = select(VolumeRow).order_by(VolumeRow.created_at.desc(), VolumeRow.id)
        if project_id is not None:
            q = q.where(VolumeRow.project_id == project_id)
        for key, value in (filters or {}).items():
            if _unstorable(value):
                return []
            q = q.where(getattr(VolumeRow, key) == value)
        with _transaction(self.db) as s:
            return [_volume(r) for r in s.scalars(q)]

    def update(self, volume_id: str, **fields: Any) -> Volume | None:
        """Set fields (``metadata`` included); ``status`` takes a :class:`VolumeStatus`."""
        with _transaction(self.db) as s:
            row = s.get(VolumeRow, volume_id)
            if row is None:
                return None
            for key, value in fields.items():
                if key == "metadata":
                    row.metadata_ = dict(value)
                elif key == "status":
                    row.status = VolumeStatus(value).value
                else:
                    setattr(row, key, value)
            row.updated_at = utcnow()
            s.flush()
            return _volume(row)

    def update_if(self, volume_id: str, only_from: Collection[VolumeStatus], **values: Any) -> Volume | None:
        """Set columns (``status`` takes a :class:`VolumeStatus`) in one conditional UPDATE, only
        while the volume's status is in ``only_from``; the volume as it is then, or None (not there,
        or in another status)."""
        if "status" in values:
            values["status"] = VolumeStatus(values["status"]).value
        q = (update(VolumeRow).where(VolumeRow.id == volume_id,
                                     VolumeRow.status.in_([st.value for st in only_from]))
             .values(**values, updated_at=utcnow()).returning(VolumeRow.id))
        with _transaction(self.db) as s:
            if not list(s.scalars(q)):
                return None
        return self.get(volume_id)

    def merge_metadata(self, per_volume: dict[str, dict[str, str]]) -> builtins.list[str]:
        """Add metadata to several volumes in one transaction; returns the ids not found."""
        with _transaction(self.db) as s:
            # FOR UPDATE: a merge running at the same time waits, then reads this one's keys
            # (without it, on PostgreSQL, it wrote back what it read before and lost them).
            rows = {r.id: r for r in s.scalars(select(VolumeRow).where(VolumeRow.id.in_(list(per_volume)))
                                               .order_by(VolumeRow.id).with_for_update())}
            for vid, meta in per_volume.items():
                if vid in rows:
                    rows[vid].metadata_ = {**(rows[vid].metadata_ or {}), **meta}
                    rows[vid].updated_at = utcnow()
        return [vid for vid in per_volume if vid not in rows]

    def stale(self, backends: Collection[str], statuses: Collection[VolumeStatus],
              older_than: dt.datetime) -> builtins.list[Volume]:
        """Volumes on ``backends`` in one of ``statuses`` that nothing changed since ``older_than``
        (their ``updated_at`` is before it), least recently changed first."""
        if not backends or not statuses:
            return []
        q = (select(VolumeRow)
             .where(VolumeRow.backend.in_(list(backends)),
                    VolumeRow.status.in_([s.value for s in statuses]),
                    VolumeRow.updated_at < older_than)
             .order_by(VolumeRow.updated_at, VolumeRow.id))
        with _transaction(self.db) as s:
            return [_volume(r) for r in s.scalars(q)]

    def set_status(self, volume_ids: builtins.list[str], status: VolumeStatus,
                   only_from: frozenset[VolumeStatus] | None = None,
                   older_than: dt.datetime | None = None) -> builtins.list[str]:
        """Move volumes to ``status`` (only those now in ``only_from``, if given, and only those
        nothing changed since ``older_than``, if given); returns the ids moved.

        One conditional UPDATE, so a claim can't interleave with another writer's. Every move
        sets ``updated_at``: a claim with ``older_than`` wins once, and a writer that changed the
        row after it was read (a late worker finishing) makes the claim fail.
        """
        q = update(VolumeRow).where(VolumeRow.id.in_(volume_ids))
        if only_from is not None:
            q = q.where(VolumeRow.status.in_([s.value for s in only_from]))
        if older_than is not None:
            q = q.where(VolumeRow.updated_at < older_than)
        with _transaction(self.db) as s:
            return list(s.scalars(q.values(status=status.value, updated_at=utcnow()).returning(VolumeRow.id)))

    def delete(self, volume_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(VolumeRow).where(VolumeRow.id == volume_id))


#: The volume fields a query filters on, by their columns.
_COLUMNS: dict[str, Any] = {
    "id": VolumeRow.id, "name": VolumeRow.name, "description": VolumeRow.description, "size": VolumeRow.size,
    "status": VolumeRow.status, "project_id": VolumeRow.project_id, "volume_type_id": VolumeRow.volume_type_id,
    "created_at": VolumeRow.created_at, "updated_at": VolumeRow.updated_at, "snapshot_id": VolumeRow.snapshot_id,
    "group_id": VolumeRow.group_id,
}
#: How each field sorts. A name or description may be NULL: it sorts as "", so that the order is
#: the same on SQLite and PostgreSQL (which put NULLs at opposite ends) and a keyset on it is total.
_SORTED: dict[str, ColumnElement[Any]] = {
    **_COLUMNS, "name": func.coalesce(VolumeRow.name, ""), "description": func.coalesce(VolumeRow.description, ""),
}
#: 3.60's time comparison operators.
_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "eq": operator.eq,
    "neq": operator.ne,
}
#: The keys every order ends with (Cinder's defaults), making it total.
_TIEBREAKERS = ("created_at", "id")


def _has_item(dialect: str, key: str, value: str) -> ColumnElement[bool]:
    """The volume's metadata has ``key`` set to ``value``. The items are read as a table (SQLite's
    ``json_each``, PostgreSQL's ``json_each_text``) rather than by a JSON path, which would need
    the key quoted for each database's path syntax (a key with a quote, a backslash or letters
    outside ASCII is then looked up wrong on SQLite)."""
    return _has_item_of(VolumeRow.metadata_, dialect, key, value)


def _has_item_of(column: Any, dialect: str, key: str, value: str) -> ColumnElement[bool]:
    """A JSON metadata ``column`` has ``key`` set to ``value`` (see :func:`_has_item`)."""
    each = func.json_each_text if dialect == "postgresql" else func.json_each
    item = each(column).table_valued("key", "value").alias("item")
    return exists(select(1).select_from(item).where(item.c.key == key, item.c.value == value))


def _where(q: Select[Any], project_id: str | None, query: VolumeQuery, dialect: str) -> Select[Any] | None:
    """``q`` with the scope and the filters of ``query``; None when nothing can match."""
    values = [v for _, v in query.equal] + [v for kv in query.metadata for v in kv] + \
        [v for _, v in query.contains] + [project_id]
    if query.nothing or _unstorable(*values):
        return None
    if project_id is not None:
        q = q.where(VolumeRow.project_id == project_id)
    for key, value in query.equal:
        q = q.where(_COLUMNS[key] == value)
    for key, value in query.metadata:
        q = q.where(_has_item(dialect, key, value))
    for key, text in query.contains:
        q = q.where(contains(_COLUMNS[key], text))
    for key, op, when in query.compare:
        q = q.where(_COMPARE[op](_COLUMNS[key], when))
    return q


def _order(sort: tuple[tuple[str, bool], ...]) -> list[tuple[ColumnElement[Any], bool]]:
    """The ORDER BY of ``sort``, with the tiebreakers it lacks in its first key's direction."""
    keys = list(sort)
    up = keys[0][1] if keys else False
    keys += [(k, up) for k in _TIEBREAKERS if k not in {k for k, _ in keys}]
    return [(_SORTED[k], asc) for k, asc in keys]


def _after(order: list[tuple[ColumnElement[Any], bool]], marker_id: str) -> ColumnElement[bool]:
    """Rows that come after the volume ``marker_id`` in ``order``: a keyset (equal to it on the
    first keys and past it on the next one, for each key in turn). The marker's values are read
    by the same statement, so they are compared as stored (a datetime round-tripped through
    Python could be written differently from the stored text on SQLite)."""
    def marker(expr: ColumnElement[Any]) -> Any:
        return select(expr).where(VolumeRow.id == marker_id).scalar_subquery()

    terms = []
    for i, (expr, up) in enumerate(order):
        same = [e == marker(e) for e, _ in order[:i]]
        terms.append(and_(*same, expr > marker(expr) if up else expr < marker(expr)))
    return or_(*terms) if terms else false()


#: Volume statuses that follow from the volume's attachments (others, e.g. ``deleting``, win).
_ATTACH_DERIVED = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.RESERVED, VolumeStatus.ATTACHING,
                             VolumeStatus.IN_USE})


class Attachments:
    """Attachment rows; every change also sets the volume's status from its attachments
    (:func:`~volclone.domain.attached_status`) in the same transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _sync(s: Session, volume_id: str, also_from: frozenset[VolumeStatus] = frozenset()) -> bool:
        s.flush()
        # Lock the volume's row before reading its attachments: two changes to one volume's
        # attachments then take turns on PostgreSQL, and the second reads the first's commit
        # (SQLite has one writer at a time anyway, and ignores FOR UPDATE).
        s.execute(select(VolumeRow.id).where(VolumeRow.id == volume_id).with_for_update())
        rows = s.scalars(select(AttachmentRow).where(AttachmentRow.volume_id == volume_id)).all()
        status = attached_status(_attachment(r) for r in rows)
        changed = s.execute(update(VolumeRow)
                            .where(VolumeRow.id == volume_id,
                                   VolumeRow.status.in_([v.value for v in _ATTACH_DERIVED | also_from]),
                                   VolumeRow.status != status.value)
                            .values(status=status.value, updated_at=utcnow()))
        return bool(changed.rowcount)  # type: ignore[attr-defined]

    def add(self, attachment: Attachment, volume_in: frozenset[VolumeStatus]) -> bool:
        """Record ``attachment`` if its volume is in one of ``volume_in`` now; False if it is not.

        The check and the insert are one transaction that claims the volume's row with a
        conditional UPDATE, so a volume delete (which claims ``deleting``) can't slip between.
        """
        with _transaction(self.db) as s:
            claimed = s.execute(update(VolumeRow)
                                .where(VolumeRow.id == attachment.volume_id,
                                       VolumeRow.status.in_([v.value for v in volume_in]))
                                .values(updated_at=utcnow()))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            a = attachment
            s.add(AttachmentRow(id=a.id, volume_id=a.volume_id, project_id=a.project_id,
                                instance_uuid=a.instance_uuid, mode=a.mode.value, status=a.status.value,
                                connector=dict(a.connector), connection_info=a.connection_info,
                                mountpoint=a.mountpoint, attached_at=a.attached_at))
            self._sync(s, a.volume_id)
        return True

    def get(self, attachment_id: str) -> Attachment | None:
        if _unstorable(attachment_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(AttachmentRow, attachment_id)
            return _attachment(row) if row else None

    def list(self, project_id: str | None = None, volume_id: str | None = None) -> list[Attachment]:
        if _unstorable(project_id, volume_id):
            return []
        q = select(AttachmentRow).order_by(AttachmentRow.created_at, AttachmentRow.id)
        if project_id is not None:
            q = q.where(AttachmentRow.project_id == project_id)
        if volume_id is not None:
            q = q.where(AttachmentRow.volume_id == volume_id)
        with _transaction(self.db) as s:
            return [_attachment(r) for r in s.scalars(q)]

    def page(self, project_id: str | None, query: PageQuery) -> builtins.list[Attachment]:
        """The attachments of ``project_id`` (None: every project's) ``query`` selects, one page."""
        values = [v for _, v in query.equal] + [v for _, v in query.contains] + [project_id, query.marker]
        if query.nothing or _unstorable(*values):
            return []
        with _transaction(self.db) as s:
            return [_attachment(r) for r in s.scalars(attachment_select(project_id, query))]

    def update(self, attachment_id: str, **fields: Any) -> Attachment | None:
        """Set fields (``status``/``mode`` take their enums); the volume's status follows."""
        with _transaction(self.db) as s:
            row = s.get(AttachmentRow, attachment_id)
            if row is None:
                return None
            for key, value in fields.items():
                setattr(row, key, value.value if key in ("status", "mode") else value)
            self._sync(s, row.volume_id)
            s.flush()
            return _attachment(row)

    def remove(self, attachment_id: str, also_from: frozenset[VolumeStatus] = frozenset()) -> None:
        """Delete the row; the volume's status follows (``available`` once none is left), also
        when it is in ``also_from`` now."""
        with _transaction(self.db) as s:
            row = s.get(AttachmentRow, attachment_id)
            if row is not None:
                volume_id = row.volume_id
                s.delete(row)
                self._sync(s, volume_id, also_from)

    def sync_status(self, volume_id: str, also_from: frozenset[VolumeStatus] = frozenset()) -> bool:
        """Set the volume's status from its attachments, also when it is in ``also_from`` now;
        returns whether the status changed."""
        with _transaction(self.db) as s:
            return self._sync(s, volume_id, also_from)


class Groups:
    """Source groups of running clone tasks; a grouped volume can't be deleted."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, group_id: str, task_id: str, project_id: str, volume_ids: list[str]) -> None:
        with _transaction(self.db) as s:
            if s.get(GroupRow, group_id) is None:
                s.add(GroupRow(id=group_id, task_id=task_id, project_id=project_id,
                               volume_ids={"ids": list(volume_ids)}))

    def delete(self, group_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(GroupRow).where(GroupRow.id == group_id))

    def grouped(self, volume_id: str) -> bool:
        with _transaction(self.db) as s:
            return any(volume_id in (r.volume_ids or {}).get("ids", []) for r in s.scalars(select(GroupRow)))

    def exists(self, group_id: str) -> bool:
        with _transaction(self.db) as s:
            return s.get(GroupRow, group_id) is not None

    def held_elsewhere(self, group_id: str, volume_ids: list[str]) -> list[str]:
        """Those of ``volume_ids`` that a group other than ``group_id`` holds."""
        with _transaction(self.db) as s:
            held = {v for r in s.scalars(select(GroupRow).where(GroupRow.id != group_id))
                    for v in (r.volume_ids or {}).get("ids", [])}
        return [v for v in volume_ids if v in held]


class CloneTasks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, task_id: str, project_id: str, request: dict[str, Any], logbook_id: str, flow_id: str) -> None:
        with _transaction(self.db) as s:
            s.add(CloneTaskRow(id=task_id, project_id=project_id, request=request,
                               logbook_id=logbook_id, flow_id=flow_id))

    def delete(self, task_id: str) -> None:
        with _transaction(self.db) as s:
            s.execute(delete(CloneTaskRow).where(CloneTaskRow.id == task_id))

    def get(self, task_id: str) -> CloneTaskRow | None:
        if _unstorable(task_id):
            return None
        with _transaction(self.db) as s:
            return s.get(CloneTaskRow, task_id)

    def list(self) -> list[CloneTaskRow]:
        with _transaction(self.db) as s:
            return list(s.scalars(select(CloneTaskRow).order_by(CloneTaskRow.created_at)))

    def by_flow(self, flow_id: str) -> CloneTaskRow | None:
        """The task whose flow is ``flow_id``. Unindexed: asked once per flow end, where a scan
        costs about 1 ms at 5,000 tasks (SQLite on tmpfs, measured for docs/messages.md)."""
        with _transaction(self.db) as s:
            return s.scalar(select(CloneTaskRow).where(CloneTaskRow.flow_id == flow_id))

    def mention(self, volume_id: str) -> bool:
        """Whether a clone task's request names ``volume_id`` (as a source or as a clone it makes).

        A text search of the requests (volume ids are UUIDs: no id is part of another), one
        portable statement on SQLite and PostgreSQL; a full scan of the tasks, so it is for
        rare questions such as the reaper's.
        """
        if _unstorable(volume_id):
            return False
        with _transaction(self.db) as s:
            return bool(s.scalar(select(exists().where(
                cast(CloneTaskRow.request, Text).contains(volume_id, autoescape=True)))))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """Local tokens, stored as SHA-256 hashes only."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, token: str, principal: Principal) -> None:
        with _transaction(self.db) as s:
            s.add(TokenRow(token_hash=hash_token(token), project_id=principal.project_id,
                           is_admin=principal.is_admin, roles=" ".join(sorted(principal.roles)),
                           user_id=principal.user_id))

    def find(self, token: str) -> Principal | None:
        with _transaction(self.db) as s:
            row = s.get(TokenRow, hash_token(token))
            if row is None:
                return None
            roles = frozenset(row.roles.split())
            return Principal(row.project_id, "admin" in roles, roles, row.user_id or legacy_user_id(row.token_hash))


def legacy_user_id(token_hash: str) -> str:
    """The user of a token made before tokens had one: a stable id of its own, 32 hex digits as
    Keystone's are, derived from (but not revealing) the token's stored hash."""
    return hashlib.sha256(f"volclone-user:{token_hash}".encode()).hexdigest()[:32]


class ConfigValues:
    """Values set with ``volclone config set`` that take effect without a restart (e.g. the clone-name prefix)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: str) -> str:
        with _transaction(self.db) as s:
            row = s.get(SettingRow, key)
            return row.value if row else default

    def set(self, key: str, value: str) -> None:
        with _transaction(self.db) as s:
            s.merge(SettingRow(key=key, value=value))

    def delete(self, key: str) -> bool:
        """Remove ``key``; False if it was not set."""
        with _transaction(self.db) as s:
            return s.execute(delete(SettingRow).where(SettingRow.key == key)).rowcount > 0  # type: ignore[attr-defined,no-any-return]

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """Every key that starts with ``prefix`` (the prefix taken off) and its value."""
        with _transaction(self.db) as s:
            rows = s.scalars(select(SettingRow).where(SettingRow.key.startswith(prefix, autoescape=True))
                             .order_by(SettingRow.key))
            return {r.key[len(prefix):]: r.value for r in rows}


class BackendConfigs:
    """Backends added with ``volclone backend add``, in the order they were added."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, backend: BackendConfig) -> bool:
        """Record ``backend``; False (and nothing changes) if the name is taken."""
        with _transaction(self.db) as s:
            if s.get(BackendRow, backend.name) is not None:
                return False
            s.add(BackendRow(name=backend.name, driver=backend.driver, options=dict(backend.options)))
        return True

    def get(self, name: str) -> BackendConfig | None:
        if _unstorable(name):
            return None
        with _transaction(self.db) as s:
            row = s.get(BackendRow, name)
            return BackendConfig(row.name, row.driver, dict(row.options or {})) if row else None

    def list(self) -> list[BackendConfig]:
        with _transaction(self.db) as s:
            rows = s.scalars(select(BackendRow).order_by(BackendRow.created_at, BackendRow.name))
            return [BackendConfig(r.name, r.driver, dict(r.options or {})) for r in rows]
