"""QoS specs and their volume types: the service's only way to their rows."""

from __future__ import annotations

import builtins
from collections.abc import Collection

from sqlalchemy import delete, select

from volclone.db.database import Database
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import QosSpecsRow, QosTypeRow, VolumeRow, VolumeTypeRow
from volclone.domain import QosConsumer, QosSpecs


def _specs(row: QosSpecsRow) -> QosSpecs:
    return QosSpecs(id=row.id, name=row.name, consumer=QosConsumer(row.consumer), specs=dict(row.specs or {}))


class QosSpecsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, qos: QosSpecs) -> QosSpecs:
        """Record ``qos``; Conflict if its name is taken, also by a create that raced this one."""
        with _transaction(self.db, f"QoS specs {qos.name} already exists") as s:
            s.add(QosSpecsRow(id=qos.id, name=qos.name, consumer=qos.consumer.value, specs=dict(qos.specs)))
        return qos

    def get(self, qos_id: str) -> QosSpecs | None:
        if _unstorable(qos_id):
            return None
        with _transaction(self.db) as s:
            row = s.get(QosSpecsRow, qos_id)
            return _specs(row) if row else None

    def list(self) -> builtins.list[QosSpecs]:
        with _transaction(self.db) as s:
            return [_specs(r) for r in s.scalars(select(QosSpecsRow).order_by(QosSpecsRow.created_at,
                                                                               QosSpecsRow.id))]

    def save(self, qos: QosSpecs) -> None:
        """Store ``qos``'s consumer and keys (the row must exist)."""
        with _transaction(self.db) as s:
            row = s.get(QosSpecsRow, qos.id)
            if row is not None:
                row.consumer = qos.consumer.value
                row.specs = dict(qos.specs)

    def delete(self, qos_id: str) -> None:
        """Remove the spec and its associations."""
        with _transaction(self.db) as s:
            s.execute(delete(QosTypeRow).where(QosTypeRow.qos_specs_id == qos_id))
            s.execute(delete(QosSpecsRow).where(QosSpecsRow.id == qos_id))

    # -- associations --------------------------------------------------------------------
    def spec_of_type(self, type_id: str) -> str | None:
        """The id of the spec associated with ``type_id``, if any."""
        with _transaction(self.db) as s:
            return s.scalar(select(QosTypeRow.qos_specs_id).where(QosTypeRow.volume_type_id == type_id))

    def all_associations(self) -> dict[str, str]:
        """Volume type id -> its spec's id, for every associated type."""
        with _transaction(self.db) as s:
            return {t: q for t, q in s.execute(select(QosTypeRow.volume_type_id, QosTypeRow.qos_specs_id))}

    def types_of(self, qos_id: str) -> builtins.list[tuple[str, str]]:
        """``(type id, type name)`` of the types associated with ``qos_id``, in association order."""
        with _transaction(self.db) as s:
            rows = s.execute(select(VolumeTypeRow.id, VolumeTypeRow.name)
                             .join(QosTypeRow, QosTypeRow.volume_type_id == VolumeTypeRow.id)
                             .where(QosTypeRow.qos_specs_id == qos_id)
                             .order_by(QosTypeRow.created_at, VolumeTypeRow.id))
            return [(i, n) for i, n in rows]

    def associate(self, qos_id: str, type_id: str) -> None:
        """Associate; Conflict if the type got a spec meanwhile."""
        with _transaction(self.db, f"volume type {type_id} is already associated with a QoS spec") as s:
            s.add(QosTypeRow(volume_type_id=type_id, qos_specs_id=qos_id))

    def disassociate(self, qos_id: str, type_ids: Collection[str] | None = None) -> builtins.list[str]:
        """Remove the spec's association with these types (None: with all); returns the types freed."""
        with _transaction(self.db) as s:
            query = select(QosTypeRow.volume_type_id).where(QosTypeRow.qos_specs_id == qos_id)
            if type_ids is not None:
                query = query.where(QosTypeRow.volume_type_id.in_(list(type_ids)))
            freed = list(s.scalars(query))
            if freed:
                s.execute(delete(QosTypeRow).where(QosTypeRow.qos_specs_id == qos_id,
                                                   QosTypeRow.volume_type_id.in_(freed)))
            return freed

    def volumes_of_types(self, type_ids: Collection[str]) -> builtins.list[tuple[str, str]]:
        """``(volume id, backend)`` of every volume of these types."""
        if not type_ids:
            return []
        with _transaction(self.db) as s:
            rows = s.execute(select(VolumeRow.id, VolumeRow.backend)
                             .where(VolumeRow.volume_type_id.in_(list(type_ids))).order_by(VolumeRow.id))
            return [(v, b) for v, b in rows]
