"""Repositories under concurrent writers on PostgreSQL (READ COMMITTED: unlike SQLite, two write
transactions run at once, so a read-then-write must lock what it read). Real PostgreSQL, a fresh
database per test; the races are made deterministic with a barrier or a hook on the SELECT."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from conftest import PgDatabases
from volclone.db import repos
from volclone.db.database import Database, make_engine
from volclone.domain import Attachment, AttachMode, AttachStatus, Volume, VolumeStatus, VolumeType


@pytest.fixture
def db(pg: PgDatabases) -> Iterator[Database]:
    engine = make_engine(pg.fresh())
    yield Database(engine)
    engine.dispose()


def a_volume(db: Database, status: VolumeStatus = VolumeStatus.AVAILABLE) -> str:
    vtype = VolumeType(id=str(uuid.uuid4()), name=f"t-{uuid.uuid4().hex[:8]}")
    repos.VolumeTypes(db).add(vtype)
    vid = str(uuid.uuid4())
    repos.Volumes(db).add([Volume(id=vid, project_id="p1", name=None, description=None, size=1, status=status,
                                  volume_type_id=vtype.id, backend="local")])
    return vid


def run_both(*calls: Callable[[], Any]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            call()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return errors


class BothReadFirst(repos.Attachments):
    """Two changes to one volume's attachments, each made before either reads the attachments
    left to set the volume's status (the race window, held open by a barrier)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.barrier = threading.Barrier(2, timeout=30)

    def _sync(self, s: Any, volume_id: str, also_from: frozenset[VolumeStatus] = frozenset()) -> None:  # type: ignore[override]
        s.flush()
        self.barrier.wait()
        repos.Attachments._sync(s, volume_id, also_from)


def test_two_detaches_at_once_leave_the_volume_available(db):
    """Each detach read the other's attachment as still there: the volume stayed in-use with no
    attachment. Locking the volume's row first makes the second read the first's commit."""
    vid = a_volume(db)
    plain = repos.Attachments(db)
    ids = []
    for _ in range(2):
        att = Attachment(id=str(uuid.uuid4()), volume_id=vid, project_id="p1", instance_uuid=None,
                         mode=AttachMode.RO, status=AttachStatus.ATTACHED)
        assert plain.add(att, frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE}))
        ids.append(att.id)
    assert repos.Volumes(db).get(vid).status is VolumeStatus.IN_USE

    racing = BothReadFirst(db)
    assert run_both(*(lambda i=i: racing.remove(i) for i in ids)) == []

    assert plain.list(volume_id=vid) == []
    assert repos.Volumes(db).get(vid).status is VolumeStatus.AVAILABLE


def test_two_metadata_merges_at_once_keep_both(db):
    """The second merge read the metadata before the first committed and wrote it back without
    the first's key (a lost update). The merge locks the rows it reads."""
    vid = a_volume(db)
    volumes = repos.Volumes(db)
    first_read, second_read = threading.Event(), threading.Event()

    @event.listens_for(db.engine, "after_cursor_execute")
    def hold(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if not statement.lstrip().startswith("SELECT volumes.id") or "FROM volumes" not in statement:
            return
        if threading.current_thread().name == "first":
            first_read.set()
            # With the lock the second merge cannot read until this one commits: it waits here
            # in vain, and the outcome is the same whether or not it waits the whole second.
            second_read.wait(1)
        elif threading.current_thread().name == "second":
            second_read.set()

    def first() -> None:
        volumes.merge_metadata({vid: {"a": "1"}})

    def second() -> None:
        assert first_read.wait(30)
        volumes.merge_metadata({vid: {"b": "2"}})

    errors: list[BaseException] = []
    threads = [threading.Thread(target=lambda f=f: _collect(f, errors), name=f.__name__) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    event.remove(db.engine, "after_cursor_execute", hold)
    assert errors == []
    assert volumes.get(vid).metadata == {"a": "1", "b": "2"}


def _collect(call: Callable[[], Any], errors: list[BaseException]) -> None:
    try:
        call()
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_many_threads_share_one_pool(db):
    """More threads than the pool keeps open (the API's 40 worker threads, the flow workers) all
    get a connection: each waits for a free one rather than failing."""
    vid = a_volume(db)
    volumes = repos.Volumes(db)

    def work(n: int) -> None:
        for i in range(10):
            volumes.merge_metadata({vid: {f"k{n}-{i}": "v"}})
            assert volumes.get(vid) is not None

    errors = run_both(*(lambda n=n: work(n) for n in range(40)))
    assert errors == []
    assert len(volumes.get(vid).metadata) == 400
