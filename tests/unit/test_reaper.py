"""The reaper (volclone.service.reaper): volumes left in a transitional status by a dead process
are cleaned up with no admin call, and nothing a live process works on is touched.

"Dead" is simulated as the database shows it: the row in its status, with an ``updated_at``
long ago (or by a real kill of a create, then a restart of the service).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from volclone.backends.memory import MemoryDriver
from volclone.config import DEFAULT_STALE_AFTER_S, Settings
from volclone.domain import VolumeStatus
from volclone.errors import BackendError, OverLimit
from volclone.service.locks import LocalLocks
from volclone.service.reaper import Reaper, TryLock

from .conftest import WAIT, Fast

#: A long time ago, as SQLAlchemy writes timestamps (both engines read it back as that instant).
LONG_AGO = "2000-01-01 00:00:00.000000"


def age(fast: Fast, volume_id: str) -> None:
    """Make the volume look left alone for years."""
    assert fast.db_execute("UPDATE volumes SET updated_at = ? WHERE id = ?", LONG_AGO, volume_id) == 1


def left(fast: Fast, status: str, **kw: Any) -> str:
    """A volume a dead process left in ``status``, long ago; its backend holds it."""
    vol = fast.volume(**kw)
    fast.set_status(vol.id, status)
    age(fast, vol.id)
    return vol.id


def reaper(fast: Fast, try_lock: TryLock | None = None, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> Reaper:
    vs = fast.svc.volumes
    assert vs.attachments is not None
    return Reaper(vs.repo, vs.backends, vs.attachments, served={"local"}, stale_after_s=stale_after_s,
                  try_lock=try_lock)


def status(fast: Fast, volume_id: str) -> str | None:
    rows = fast.db_rows("SELECT status FROM volumes WHERE id = ?", volume_id)
    return rows[0][0] if rows else None


# -- creating ----------------------------------------------------------------------------
def test_a_stale_creating_volume_is_removed_with_what_its_backend_holds(fast: Fast) -> None:
    vid = left(fast, "creating")
    assert fast.mem.volume_exists(vid)
    assert reaper(fast).run_once() == 1
    assert status(fast, vid) is None
    assert not fast.mem.volume_exists(vid)


def test_a_reaped_create_gives_its_quota_back(make_fast: Any) -> None:
    """A create killed between recording its volume and releasing its reservation leaves both:
    the reservation does not count while the row exists, and would count again (for a day)
    once the row is gone, unless the reaper releases it too."""
    fast: Fast = make_fast(quota_volumes=1, quota_gigabytes=-1)
    vid = left(fast, "creating")
    assert fast.db_execute(
        "INSERT INTO reservations (id, holder, project_id, volume_id, gigabytes, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", str(uuid.uuid4()), vid, fast.project, vid, 1, LONG_AGO,
        "2999-01-01 00:00:00.000000") == 1
    with pytest.raises(OverLimit):
        fast.volume()
    assert reaper(fast).run_once() == 1
    assert fast.db_rows("SELECT holder FROM reservations WHERE holder = ?", vid) == []
    fast.volume()  # the quota is free again


def test_a_create_that_ran_late_undoes_itself_once_reaped(fast: Fast) -> None:
    """The reaper gives up a create that is slower than stale_after_s; when the create's driver
    call then returns, the create finds its volume claimed (compare-and-set) and removes what
    the driver made: neither the row nor the backend's volume is left."""
    eager = reaper(fast, stale_after_s=0)
    reaped: list[int] = []
    fast.mem.inject("create_volume", lambda: reaped.append(eager.run_once()))
    with pytest.raises(BackendError, match="given up"):
        fast.volume()
    assert reaped == [1]
    assert fast.db_rows("SELECT id FROM volumes") == []
    assert fast.mem.state()[0] == []


def test_a_clone_being_made_is_left_to_its_flow(fast: Fast) -> None:
    """A clone flow's clones are ``creating`` while it copies (a full copy of a big volume takes
    long), and they are not grouped (only sources are): the reaper must still leave them."""
    src = fast.volume(fill=b"s")
    gate = threading.Event()
    fast.mem.inject("clone_from_group_snapshot", lambda: gate.wait(WAIT))
    task = fast.clone([src.id])
    deadline = time.monotonic() + WAIT
    while not (clones := fast.db_rows("SELECT id FROM volumes WHERE status = 'creating'")):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    [(clone_id,)] = clones
    age(fast, clone_id)
    try:
        assert reaper(fast).run_once() == 0
        assert status(fast, clone_id) == "creating"
    finally:
        gate.set()
    assert fast.wait(task).flow_state.value == "SUCCESS"
    assert status(fast, clone_id) == "available"
    assert fast.digest(clone_id) == fast.digest(src.id)


# -- deleting --------------------------------------------------------------------------------
def test_a_stale_delete_is_finished(fast: Fast) -> None:
    vid = left(fast, "deleting")
    assert reaper(fast).run_once() == 1
    assert status(fast, vid) is None
    assert not fast.mem.volume_exists(vid)


def test_a_delete_that_died_before_it_saw_the_attachments_gives_the_status_back(fast: Fast) -> None:
    vol = fast.volume()
    fast.svc.attachments.create(fast.who, fast.project, vol.id, connector={"host": "h1"})
    assert status(fast, vol.id) == "attaching"
    fast.set_status(vol.id, "deleting")  # claimed, then the process died
    age(fast, vol.id)
    assert reaper(fast).run_once() == 1
    assert status(fast, vol.id) == "attaching"
    assert fast.mem.volume_exists(vol.id)


def test_a_backend_delete_that_fails_is_error_deleting_and_retried_next_run(fast: Fast) -> None:
    vid = left(fast, "deleting")
    r = reaper(fast)
    fast.mem.inject("delete_volume")
    assert r.run_once() == 0
    assert status(fast, vid) == "error_deleting"
    assert fast.mem.volume_exists(vid)
    assert r.run_once() == 0  # error_deleting just now: not stale yet, not retried in a tight loop
    age(fast, vid)
    assert r.run_once() == 1
    assert status(fast, vid) is None
    assert not fast.mem.volume_exists(vid)


def test_a_creating_volume_whose_backend_delete_fails_is_error_deleting(fast: Fast) -> None:
    vid = left(fast, "creating")
    fast.mem.inject("delete_volume")
    assert reaper(fast).run_once() == 0
    assert status(fast, vid) == "error_deleting"


# -- attachments -------------------------------------------------------------------------------
@pytest.mark.parametrize("connector", [None, {"host": "h1"}], ids=["reserved", "attaching"])
def test_an_attach_status_that_its_attachments_contradict_follows_them_again(
        fast: Fast, connector: dict[str, str] | None) -> None:
    vol = fast.volume()
    fast.svc.attachments.create(fast.who, fast.project, vol.id, connector=connector)
    expected = "attaching" if connector else "reserved"
    assert status(fast, vol.id) == expected
    fast.set_status(vol.id, "reserved" if connector else "attaching")
    age(fast, vol.id)
    assert reaper(fast).run_once() == 1
    assert status(fast, vol.id) == expected
    assert len(fast.svc.attachments.list(fast.who, fast.project, volume_id=vol.id)) == 1


def test_a_long_reserved_attachment_is_left_alone(fast: Fast) -> None:
    """Nova keeps a shelved-offloaded server's volume reserved for as long as it likes."""
    vol = fast.volume()
    a = fast.svc.attachments.create(fast.who, fast.project, vol.id)
    age(fast, vol.id)
    asked: list[str] = []
    assert reaper(fast, try_lock=lambda name: asked.append(name) or contextlib.nullcontext()).run_once() == 0
    assert asked == []  # not even a lock round trip for it, pass after pass
    assert status(fast, vol.id) == "reserved"
    assert fast.svc.attachments.get(fast.who, fast.project, a.id).status.value == "reserved"


# -- what is never touched ---------------------------------------------------------------------
@pytest.mark.parametrize("what", ["creating", "deleting", "error_deleting"])
def test_a_volume_changed_recently_is_not_stale(fast: Fast, what: str) -> None:
    vol = fast.volume()
    fast.set_status(vol.id, what)  # updated_at is the create's: seconds ago
    assert reaper(fast).run_once() == 0
    assert status(fast, vol.id) == what
    assert fast.mem.volume_exists(vol.id)


def test_a_volume_locked_by_a_live_worker_is_left(fast: Fast) -> None:
    vid = left(fast, "creating")
    asked: list[str] = []

    def held_elsewhere(name: str) -> AbstractContextManager[object] | None:
        asked.append(name)
        return None

    assert reaper(fast, try_lock=held_elsewhere).run_once() == 0
    assert asked == [f"volume-{vid}"]
    assert status(fast, vid) == "creating"
    assert fast.mem.volume_exists(vid)


def test_the_lock_is_held_while_the_reaper_works(fast: Fast) -> None:
    vid = left(fast, "deleting")
    holding = threading.Event()

    @contextlib.contextmanager
    def lock() -> Iterator[None]:
        holding.set()
        try:
            yield
        finally:
            holding.clear()

    seen: list[bool] = []
    fast.mem.inject("delete_volume", lambda: seen.append(holding.is_set()))
    assert reaper(fast, try_lock=lambda name: lock()).run_once() == 1
    assert seen == [True]
    assert not holding.is_set()
    assert status(fast, vid) is None


def test_a_grouped_volume_is_left_to_its_clone_flow(fast: Fast) -> None:
    vid = left(fast, "deleting")
    fast.svc.volumes.groups.add("src_group-t1", "t1", fast.project, [vid])
    assert reaper(fast).run_once() == 0
    assert status(fast, vid) == "deleting"
    assert fast.mem.volume_exists(vid)


@pytest.mark.parametrize("late", ["create finished", "delete still running"])
def test_a_change_between_the_read_and_the_claim_wins(fast: Fast, late: str) -> None:
    """Compare-and-set: the reaper read the volume stale, then a late worker wrote its row
    before the reaper's claim (here: while the reaper takes the lock). The worker wins."""
    vid = left(fast, "creating" if late == "create finished" else "deleting")
    repo = fast.svc.volumes.repo

    def late_worker(name: str) -> AbstractContextManager[object]:
        if late == "create finished":
            assert repo.set_status([vid], VolumeStatus.AVAILABLE, only_from=frozenset({VolumeStatus.CREATING}))
        else:  # the live delete writes its row (and keeps its status)
            assert repo.set_status([vid], VolumeStatus.DELETING)
        return contextlib.nullcontext()

    assert reaper(fast, try_lock=late_worker).run_once() == 0
    assert status(fast, vid) == ("available" if late == "create finished" else "deleting")
    assert fast.mem.volume_exists(vid)


def test_only_the_served_backends_are_reaped(make_fast: Any) -> None:
    fast: Fast = make_fast(drivers={"local": MemoryDriver("local"), "other": MemoryDriver("other")})
    vtype = fast.svc.types.create(fast.admin, "other", extra_specs={"volume_backend_name": "other"})
    vid = left(fast, "creating", volume_type=vtype.id)
    assert reaper(fast).run_once() == 0  # it serves local only
    assert status(fast, vid) == "creating"


# -- the service runs it -----------------------------------------------------------------------
class Killed(BaseException):
    """The process dies here (nothing catches a BaseException that is not an Exception)."""


def test_serve_restarted_after_a_crash_mid_create_leaves_no_creating_volume(fast: Fast) -> None:
    fast.mem.inject("create_volume", Killed(), after=True)  # the backend made it, the row says creating
    with pytest.raises(Killed):
        fast.volume()
    [(vid, state)] = fast.db_rows("SELECT id, status FROM volumes")
    assert state == "creating" and fast.mem.volume_exists(vid)
    age(fast, vid)  # the restart comes later than VOLCLONE_STALE_AFTER_S
    again = fast.restart()
    assert again.db_rows("SELECT id FROM volumes WHERE status = 'creating'") == []
    assert not again.mem.volume_exists(vid)


def test_serve_reaps_periodically(make_fast: Any) -> None:
    fast: Fast = make_fast(stale_after_s=0.2)
    vol = fast.volume()
    fast.set_status(vol.id, "deleting")  # after the start's run: only a later run finds it
    deadline = time.monotonic() + WAIT
    while status(fast, vol.id) is not None:
        assert time.monotonic() < deadline, "the periodic reaper never ran"
        time.sleep(0.05)
    assert not fast.mem.volume_exists(vol.id)


def test_the_environment_sets_when_a_volume_is_stale() -> None:
    assert Settings.from_env({}).stale_after_s == 120
    assert Settings.from_env({"VOLCLONE_STALE_AFTER_S": "30"}).stale_after_s == 30
    with pytest.raises(ValueError, match="VOLCLONE_STALE_AFTER_S"):
        Settings.from_env({"VOLCLONE_STALE_AFTER_S": "-1"})


@pytest.mark.parametrize("slow", ["create_volume", "delete_volume"])
def test_serve_leaves_its_own_slow_backend_call_alone(make_fast: Any, slow: str) -> None:
    """One process: its create or delete holds the volume's lock, so the reaper (every 0.1 s
    here) does not take a backend call slower than stale_after_s for a dead one."""
    fast: Fast = make_fast(stale_after_s=0.2)
    vol = fast.volume() if slow == "delete_volume" else None
    again: list[str] = []
    fast.mem.inject(slow, lambda: time.sleep(1.0))
    fast.mem.inject("delete_volume", lambda: again.append("the reaper deleted it too"))
    if vol is None:
        made = fast.volume()
        assert made.status is VolumeStatus.AVAILABLE and fast.mem.volume_exists(made.id)
    else:
        fast.svc.volumes.delete(fast.who, fast.project, vol.id)
        assert status(fast, vol.id) is None
    assert again == []


def test_local_locks() -> None:
    locks = LocalLocks()
    held = locks.try_lock("volume-1")
    assert held is not None
    with held:
        assert locks.try_lock("volume-1") is None
        waited = threading.Event()

        def wait() -> None:
            with locks.lock("volume-1"):
                waited.set()

        t = threading.Thread(target=wait)
        t.start()
        assert not waited.wait(0.1)
    t.join(WAIT)
    assert waited.is_set()
    assert not locks.held("volume-1")
