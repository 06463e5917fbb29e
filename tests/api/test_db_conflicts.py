"""Database errors are translated at the repository boundary: two creates of one type name
that race (both pass the service's name check) give one type and one 409, never an
IntegrityError (a 500). Real SQLite in a file (or PostgreSQL, ``VOLCLONE_TEST_DATABASE``); the
race is made deterministic."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from volclone.db.database import Database, make_engine, migrate
from volclone.db.repos import VolumeTypes
from volclone.db.schema import VolumeTypeRow
from volclone.domain import Principal, VolumeType
from volclone.errors import Conflict
from volclone.service.volumes import VolumeTypeService

ADMIN = Principal("admin", is_admin=True)


@pytest.fixture
def db(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield Database(engine)
    engine.dispose()


def count(db: Database, name: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(VolumeTypeRow).where(VolumeTypeRow.name == name)))


def test_the_second_insert_of_a_name_is_a_conflict(db):
    repo = VolumeTypes(db)
    repo.add(VolumeType(id=str(uuid.uuid4()), name="gold"))
    with pytest.raises(Conflict, match="volume type gold already exists") as exc:
        repo.add(VolumeType(id=str(uuid.uuid4()), name="gold"))
    assert exc.value.status == 409
    assert count(db, "gold") == 1


class BothCheckFirst(VolumeTypes):
    """Two creates in two threads each look the name up before either inserts (the race window,
    held open by a barrier)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.barrier = threading.Barrier(2, timeout=30)

    def by_name(self, name: str) -> VolumeType | None:
        found = super().by_name(name)
        self.barrier.wait()
        return found


def test_racing_type_creates_give_one_type_and_one_conflict(db):
    svc = VolumeTypeService(BothCheckFirst(db))
    results: list[object] = []

    def create() -> None:
        try:
            results.append(svc.create(ADMIN, "silver"))
        except Exception as exc:  # the test sorts them below
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2
    made = [r for r in results if isinstance(r, VolumeType)]
    refused = [r for r in results if not isinstance(r, VolumeType)]
    assert len(made) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], Conflict) and "silver already exists" in refused[0].message
    assert count(db, "silver") == 1


class FirstLookupsMeet(BothCheckFirst):
    """As BothCheckFirst, for each thread's first look-up only (a second one passes)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.seen = threading.local()

    def by_name(self, name: str) -> VolumeType | None:
        if getattr(self.seen, "once", False):
            return VolumeTypes.by_name(self, name)
        self.seen.once = True
        return super().by_name(name)


def test_processes_that_start_at_once_all_get_the_one_default_type(db):
    """The workers and APIs of a new cluster start at once and each makes the default type when
    it finds none: the loser of the race got a Conflict and the process exited (seen with
    scripts/cluster-dev). Now it reads the winner's."""
    svc = VolumeTypeService(FirstLookupsMeet(db))
    results: list[object] = []

    def start() -> None:
        try:
            results.append(svc.ensure_default("local"))
        except Exception as exc:  # the test sorts them below
            results.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2
    assert all(isinstance(r, VolumeType) for r in results), results
    assert results[0] == results[1]
    assert count(db, "__DEFAULT__") == 1
