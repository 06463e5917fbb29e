"""Revert a set in place (``POST clone-volumes/revert``) on the memory driver: what is refused up
front (changing nothing), what a success does, and that a failure after any step's side effect
reverts to REVERTED with the sources' data byte-identical to before."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from volclone.backends.memory import MemoryDriver
from volclone.domain import TaskKind, TaskState, VolumeStatus
from volclone.errors import CapabilityMissing, Conflict, NotFound, VolcloneError
from volclone.flows.model import RevertStep, Undo, kept_id, staged_id

from .conftest import MIB, Fast

REVERT_TASKS = [s.prefix for s in RevertStep]


def cloned(fast: Fast) -> tuple[list[str], str, dict[str, str]]:
    """Two sources with data A, cloned; then the sources are overwritten with B.
    Returns (sources, clone task id, source -> clone)."""
    a = fast.volume(1, "a", fill=b"A").id
    b = fast.volume(2, "b", fill=b"a").id
    fast.mem.write(b, 1536 * MIB, b"tail-A")
    task = fast.clone([a, b])
    done = fast.wait(task)
    assert done.flow_state is TaskState.SUCCESS, done
    for vid in (a, b):
        fast.mem.write(vid, 0, b"B" * 65536)
        fast.mem.write(vid, 4 * MIB, b"new-B")
    return [a, b], task, dict(done.results)


def revert(fast: Fast, task: str) -> str:
    return fast.svc.clones.revert(fast.who, fast.project, task)


def footprint(fast: Fast) -> Any:
    """What a refused request must not change: rows and the driver's content."""
    return fast.footprint(), {v: fast.get(v).status for v in fast.volume_ids()}


def test_revert_in_place_gives_each_source_its_clones_data_and_drops_the_old(fast: Fast) -> None:
    sources, task, clones = cloned(fast)
    want = {s: fast.digest(clones[s]) for s in sources}
    before = {s: fast.digest(s) for s in sources}
    rid = revert(fast, task)
    p = fast.wait(rid)
    assert p.flow_state is TaskState.SUCCESS, p
    assert p.flow_name == "revertFlow"
    assert p.results == clones
    assert {s: fast.digest(s) for s in sources} == want != before
    assert all(fast.get(s).status is VolumeStatus.AVAILABLE for s in sources)
    # the old data and the prepared data are gone; the clones stay as they were
    volumes, _, snapshots = fast.mem.state()
    assert set(volumes) == fast.volume_ids(), "no prepared or kept data is left"
    assert not ({staged_id(rid, s) for s in sources} | {kept_id(rid, s) for s in sources}) & set(volumes)
    assert snapshots == []
    assert {s: fast.digest(clones[s]) for s in sources} == want
    assert fast.db_rows("SELECT count(*) FROM volume_groups") == [(0,)]
    # a source whose data came back can be cloned and reverted again
    assert fast.wait(revert(fast, task)).flow_state is TaskState.SUCCESS


def test_the_revert_task_is_read_by_its_own_kind(fast: Fast) -> None:
    _, task, _ = cloned(fast)
    rid = revert(fast, task)
    fast.wait(rid)
    assert fast.svc.clones.progress(fast.who, fast.project, rid, TaskKind.REVERT).task_id == rid
    with pytest.raises(NotFound):
        fast.svc.clones.progress(fast.who, fast.project, rid, TaskKind.CLONE)
    with pytest.raises(NotFound):
        fast.svc.clones.progress(fast.who, fast.project, task, TaskKind.REVERT)
    with pytest.raises(Conflict, match="is a revert, not a clone"):
        revert(fast, rid)


@pytest.mark.parametrize("failpoint", REVERT_TASKS)
def test_revert_in_place_keeps_its_data_across_a_failure_at_each_step(make_fast: Any, failpoint: str) -> None:
    fast: Fast = make_fast(failpoints=(failpoint,))
    sources, task, clones = cloned(fast)
    before = {s: fast.digest(s) for s in sources}
    state = fast.mem.state()
    p = fast.wait(revert(fast, task))
    assert p.flow_state is TaskState.REVERTED, p
    assert "failpoint" in p.results["failure"]
    assert {s: fast.digest(s) for s in sources} == before
    assert fast.mem.state() == state  # no prepared data, no kept data, no snapshot left
    assert all(fast.get(s).status is VolumeStatus.AVAILABLE for s in sources)
    assert fast.db_rows("SELECT count(*) FROM volume_groups") == [(0,)]
    assert fast.db_rows("SELECT count(*) FROM clone_leftovers WHERE resolved_at IS NULL") == [(0,)]
    # the same revert works once the failpoint is gone
    fast = fast.restart(failpoints=())
    assert fast.wait(revert(fast, task)).flow_state is TaskState.SUCCESS
    assert {s: fast.digest(s) for s in sources} == {s: fast.digest(clones[s]) for s in sources}


def test_a_swap_back_that_fails_keeps_the_source_held_until_the_retry_gives_it_back(make_fast: Any) -> None:
    fast: Fast = make_fast(failpoints=(RevertStep.RELEASE_VOLUMES.prefix, f"revert:{Undo.SWAP_BACK.value}:1"))
    sources, task, _ = cloned(fast)
    before = {s: fast.digest(s) for s in sources}
    rid = revert(fast, task)
    p = fast.wait(rid)
    assert p.flow_state is TaskState.FAILURE, p
    stuck = sources[0]
    assert fast.get(stuck).status is VolumeStatus.REVERTING  # not attachable with the wrong data
    assert fast.mem.volume_exists(kept_id(rid, stuck))
    assert fast.svc.clones.retry_leftovers() == 0
    assert {s: fast.digest(s) for s in sources} == before
    assert fast.get(stuck).status is VolumeStatus.AVAILABLE
    volumes, _, _ = fast.mem.state()
    assert set(volumes) == fast.volume_ids(), "no prepared or kept data is left"


def test_a_driver_error_while_preparing_reverts(fast: Fast) -> None:
    sources, task, _ = cloned(fast)
    before = {s: fast.digest(s) for s in sources}
    fast.mem.inject("clone_from_group_snapshot")
    p = fast.wait(revert(fast, task))
    assert p.flow_state is TaskState.REVERTED
    assert {s: fast.digest(s) for s in sources} == before


# -- refused up front, changing nothing ----------------------------------------------
def test_refusals_change_nothing(fast: Fast) -> None:
    sources, task, clones = cloned(fast)
    other = Fast(fast.settings, fast.drivers, fast.svc, project="p2")

    def refused(exc: type[Exception], match: str, task_id: str = task, who: Fast = fast) -> None:
        before = footprint(fast)
        with pytest.raises(exc, match=match):
            revert(who, task_id)
        assert footprint(fast) == before

    refused(NotFound, "could not be found", "no-such-task")
    refused(NotFound, "could not be found", who=other)
    fast.set_status(sources[0], "in-use")
    refused(Conflict, "is attached")
    fast.set_status(sources[0], "error")
    refused(Conflict, "is error; only available")
    fast.set_status(sources[0], "available")
    fast.svc.volumes.extend(fast.who, fast.project, sources[1], 3)
    refused(Conflict, "changed size since the clone")
    fast.svc.volumes.delete(fast.who, fast.project, clones[sources[0]])
    refused(Conflict, f"clone {clones[sources[0]]} of volume {sources[0]} was deleted")
    fast.svc.volumes.delete(fast.who, fast.project, sources[0])
    refused(NotFound, f"volume {sources[0]}, a source of clone task {task}, was deleted")


def test_a_task_that_did_not_succeed_is_refused(make_fast: Any) -> None:
    fast: Fast = make_fast(failpoints=("create_group_clone-",))
    a = fast.volume(1, "a", fill=b"A").id
    task = fast.clone([a])
    assert fast.wait(task).flow_state is TaskState.REVERTED
    with pytest.raises(Conflict, match="only a clone task that ended SUCCESS"):
        revert(fast, task)


def test_a_source_held_by_a_running_revert_is_refused(fast: Fast) -> None:
    sources, task, _ = cloned(fast)
    fast.svc.clones.groups.add("other-group", "t", fast.project, [sources[1]])
    with pytest.raises(Conflict, match="in use by a clone or revert task"):
        revert(fast, task)


def test_clones_on_another_backend_are_refused(make_fast: Any) -> None:
    fast: Fast = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2")})
    a = fast.volume(1, "a", fill=b"A").id
    t = fast.svc.types.create(fast.admin, "two", extra_specs={"volume_backend_name": "mem2"})
    task = fast.clone([a], target_type_id=t.id)
    assert fast.wait(task).flow_state is TaskState.SUCCESS
    with pytest.raises(CapabilityMissing, match="a revert in place needs them on one backend"):
        revert(fast, task)


def test_staged_and_kept_ids_are_per_task_and_fit_a_volume_id() -> None:
    source = "3f2a0000-0000-4000-8000-000000000001"
    ids = {f(t, source) for f in (staged_id, kept_id) for t in ("84a0bb4d-1111", "84a0bb4e-1111")}
    assert len(ids) == 4 and all(len(i) == 36 for i in ids)  # the local pool's layer records hold 36
    assert staged_id("84a0bb4d-1111", source) == staged_id("84a0bb4d-2222", source)  # from the task's name


def test_a_revert_that_loses_the_claim_leaves_the_winners_sources_held(fast: Fast) -> None:
    """Two reverts of one set pass the up-front checks at once; the loser of the available ->
    reverting claim reverts without freeing the sources the winner holds. (The loser's flow is
    started the way ``revert`` starts it once its checks passed.)"""
    sources, task, clones = cloned(fast)
    fast.set_status(sources[0], "reverting")  # the winner holds it while its flow runs
    loser = "0a5e0000-0000-4000-8000-000000000000"
    store = {"kind": "revert", "task_id": loser, "project_id": fast.project, "backend": "local",
             "clone_task_id": task, "source_ids": sources, "clone_ids": [clones[s] for s in sources],
             "sizes": {s: fast.get(s).size for s in sources}}
    fast.svc.clones._launch(loser, fast.project, store)
    p = fast.wait(loser)
    assert p.flow_state is TaskState.REVERTED and "no longer available" in p.results["failure"], p
    assert fast.get(sources[0]).status is VolumeStatus.REVERTING
    assert fast.get(sources[1]).status is VolumeStatus.AVAILABLE
    assert fast.db_rows("SELECT count(*) FROM volume_groups") == [(0,)]


def test_while_it_runs_nobody_attaches_extends_or_deletes_the_sources(fast: Fast) -> None:
    """Asked from inside the flow (a hook run as the swap step calls the driver): every change
    of a held source is refused, a force delete too."""
    sources, task, _ = cloned(fast)
    src = sources[0]
    tried: dict[str, Exception | None] = {}

    def meanwhile() -> None:
        tried["status"] = None if fast.get(src).status is VolumeStatus.REVERTING else Exception("not held")
        calls = {
            "attach": lambda: fast.svc.attachments.create(fast.who, fast.project, src, connector={"host": "h"}),
            "extend": lambda: fast.svc.volumes.extend(fast.who, fast.project, src, 5),
            "delete": lambda: fast.svc.volumes.delete(fast.who, fast.project, src),
            "force delete": lambda: fast.svc.volumes.delete(fast.who, fast.project, src, force=True),
        }
        for name, call in calls.items():
            try:
                call()
                tried[name] = None
            except VolcloneError as exc:
                tried[name] = exc

    fast.mem.inject("swap_in", meanwhile)
    assert fast.wait(revert(fast, task)).flow_state is TaskState.SUCCESS
    assert tried["status"] is None
    assert all(isinstance(tried[n], VolcloneError) for n in ("attach", "extend", "delete", "force delete")), tried
    assert fast.get(src).status is VolumeStatus.AVAILABLE and fast.get(src).size == 1


class Crash(BaseException):
    """A killed process: the flow stops where it is, with no revert (BaseException passes
    TaskFlow's task error handling, as a SIGKILL would)."""


@pytest.mark.parametrize(("method", "after", "running"), [
    ("create_group_snapshot", True, RevertStep.SNAPSHOT_CLONES.prefix),
    ("clone_from_group_snapshot", True, RevertStep.PREPARE_DATA.prefix),
    ("swap_in", False, RevertStep.SWAP_IN.prefix),
    ("swap_in", True, RevertStep.SWAP_IN.prefix),  # the first source swapped, the second not yet
    ("delete_group_snapshot", True, RevertStep.DELETE_SNAPSHOT.prefix),
])
def test_a_crashed_revert_resumes_at_the_next_start(fast: Fast, method: str, after: bool, running: str) -> None:
    sources, task, clones = cloned(fast)
    want = {s: fast.digest(clones[s]) for s in sources}
    fast.mem.inject(method, Crash("killed"), after=after)
    rid = revert(fast, task)
    with contextlib.suppress(Crash):
        fast.svc.clones.wait(rid, 60)
    p = fast.svc.clones.progress(fast.who, fast.project, rid)
    assert p.flow_state is TaskState.RUNNING, "persistence still says it runs"
    assert [n for n, s in p.tasks.items() if s is TaskState.RUNNING][0].startswith(running)
    assert all(fast.get(s).status is VolumeStatus.REVERTING for s in sources)

    fast = fast.restart()  # resume_interrupted runs at start
    p = fast.wait(rid)
    assert p.flow_state is TaskState.SUCCESS, p
    assert {s: fast.digest(s) for s in sources} == want
    assert all(fast.get(s).status is VolumeStatus.AVAILABLE for s in sources)
    assert set(fast.mem.state()[0]) == fast.volume_ids(), "no prepared or kept data is left"
    assert fast.mem.state()[2] == []
