"""Quota classes (Cinder's ``quota_classes``): named sets of limits. The ``default`` class's
limits are the defaults of every project without a limit of its own, over the configured ones::

    classes = QuotaClasses(db)
    classes.set("default", {"volumes": 20, "volumes_gold": 5})
    classes.limits("default")            # {"volumes": 20, "volumes_gold": 5}: only what was set
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from volclone.db.database import Database, upsert
from volclone.db.schema import QuotaClassRow, QuotaRow


def class_limits(s: Session, class_name: str) -> dict[str, int]:
    """The limits set on ``class_name`` (resources without one: not in the dict)."""
    rows = s.execute(select(QuotaClassRow.resource, QuotaClassRow.hard_limit)
                     .where(QuotaClassRow.class_name == class_name))
    return {resource: limit for resource, limit in rows}


def rename_resources(s: Session, renames: Mapping[str, str]) -> None:
    """Rename quota resources (old key -> new key) in every project's limits and every class's, as
    Cinder renames a type's ``volumes_<type>``... when the type is renamed. A row already under
    a new key (left by a deleted type of that name) gives way to the renamed one."""
    drop_resources(s, renames.values())
    for old, new in renames.items():
        for table in (QuotaRow, QuotaClassRow):
            s.execute(update(table).where(table.resource == old).values(resource=new))


def drop_resources(s: Session, resources: Collection[str]) -> None:
    """Remove every project's and every class's limit on these resources."""
    if not resources:
        return
    for table in (QuotaRow, QuotaClassRow):
        s.execute(delete(table).where(table.resource.in_(list(resources))))


class QuotaClasses:
    def __init__(self, db: Database) -> None:
        self.db = db

    def limits(self, class_name: str) -> dict[str, int]:
        with self.db.session() as s:
            return class_limits(s, class_name)

    def set(self, class_name: str, limits: Mapping[str, int]) -> dict[str, int]:
        """Set these limits of the class (others stay), in one transaction; the class's limits now."""
        with self.db.session() as s:
            if limits:  # one upsert: two admins setting a class at once never fail on its key
                stmt = upsert(self.db.engine, QuotaClassRow).values(
                    [{"class_name": class_name, "resource": r, "hard_limit": v} for r, v in limits.items()])
                s.execute(stmt.on_conflict_do_update(index_elements=["class_name", "resource"],
                                                     set_={"hard_limit": stmt.excluded.hard_limit}))
            return class_limits(s, class_name)
