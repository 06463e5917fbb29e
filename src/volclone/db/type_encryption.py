"""Volume types' encryption: the service's only way to its rows (one per type at most)."""

from __future__ import annotations

from sqlalchemy import delete, select

from volclone.db.database import Database
from volclone.db.repos import _transaction, _unstorable
from volclone.db.schema import TypeEncryptionRow, utcnow
from volclone.domain import ControlLocation, TypeEncryption


def _encryption(row: TypeEncryptionRow) -> TypeEncryption:
    return TypeEncryption(encryption_id=row.encryption_id, volume_type_id=row.volume_type_id,
                          provider=row.provider, control_location=ControlLocation(row.control_location),
                          cipher=row.cipher, key_size=row.key_size, created_at=row.created_at,
                          updated_at=row.updated_at)


class TypeEncryptions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, type_id: str) -> TypeEncryption | None:
        """The encryption of volume type ``type_id``, if it has one."""
        if _unstorable(type_id):
            return None
        with _transaction(self.db) as s:
            row = s.scalar(select(TypeEncryptionRow).where(TypeEncryptionRow.volume_type_id == type_id))
            return _encryption(row) if row is not None else None

    def add(self, enc: TypeEncryption) -> TypeEncryption:
        """Record ``enc``; Conflict if its type got an encryption meanwhile (or the type is gone)."""
        with _transaction(self.db, f"Volume type encryption for type {enc.volume_type_id} already exists.") as s:
            row = TypeEncryptionRow(encryption_id=enc.encryption_id, volume_type_id=enc.volume_type_id,
                                    provider=enc.provider, cipher=enc.cipher, key_size=enc.key_size,
                                    control_location=enc.control_location.value)
            s.add(row)
            s.flush()
            return _encryption(row)

    def save(self, enc: TypeEncryption) -> TypeEncryption | None:
        """Store ``enc``'s fields over its row's; None if the row is gone."""
        with _transaction(self.db) as s:
            row = s.get(TypeEncryptionRow, enc.encryption_id)
            if row is None:
                return None
            row.provider, row.cipher, row.key_size = enc.provider, enc.cipher, enc.key_size
            row.control_location = enc.control_location.value
            row.updated_at = utcnow()
            s.flush()
            return _encryption(row)

    def delete(self, type_id: str) -> bool:
        """Remove the type's encryption; False if it had none."""
        if _unstorable(type_id):
            return False
        with _transaction(self.db) as s:
            gone = s.execute(delete(TypeEncryptionRow).where(TypeEncryptionRow.volume_type_id == type_id))
            return bool(gone.rowcount)  # type: ignore[attr-defined]
