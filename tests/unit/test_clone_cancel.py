"""Cancelling a clone task (issue 12 item 3) on the whole in-process service: held at every
step of its flow by a ``pause:`` failpoint, cancelled, it reverts and leaves nothing (rows,
backend volumes and snapshots, groups, quota usage); what can't be cancelled is a 409 or a
404; a cancel recorded by another process of the same database reaches the flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from volclone import bootstrap
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.db.database import alembic_config, current_revision, make_engine, schema_drift
from volclone.domain import Principal, TaskState
from volclone.errors import Cancelled, Conflict, NotFound
from volclone.flows.model import Step

from .conftest import NO_QUOTAS, TASKS, WAIT, Fast, position

#: Cinder's default quotas: the cancel tests check the reservation is released.
QUOTAS = {"quota_volumes": 10, "quota_gigabytes": 1000, "quota_snapshots": 10}
CANCELLED = Cancelled().message


def sources(fast: Fast) -> list[str]:
    """A linked-clone source with data and a full-copy one (its copy reports bytes)."""
    full = fast.svc.types.create(fast.admin, "full", extra_specs={"clone_mode": "full"})
    return [fast.volume(1, "a", fill=b"a", metadata={"origin": "x"}).id,
            fast.volume(2, "b", fill=b"b", volume_type=full.id).id]


def usage(fast: Fast) -> dict[str, tuple[int, int]]:
    shown = fast.svc.quotas.show_usage(fast.admin, fast.project, fast.project)
    return {r: (u.in_use, u.reserved) for r, u in shown.items()}


def hold(fast: Fast, task_id: str, step: Step) -> None:
    """Wait until the flow holds at ``step``'s pause failpoint (after its side effect)."""
    assert fast.svc.clones.ctx.points.reached(step.task_name(task_id)).wait(WAIT), f"the flow never reached {step}"


@pytest.mark.parametrize("step", list(Step), ids=[s.value for s in Step])
def test_a_cancel_at_any_step_reverts_and_leaves_nothing(make_fast: Any, step: Step) -> None:
    fast: Fast = make_fast(failpoints=(f"pause:{step.prefix}",), **QUOTAS)
    srcs = sources(fast)
    sums = {v: fast.digest(v) for v in srcs}
    before, quota_before = fast.footprint(), usage(fast)

    task = fast.clone(srcs, display_name="cx")
    hold(fast, task, step)
    fast.svc.clones.cancel(fast.who, fast.project, task)
    p = fast.wait(task)

    assert p.flow_state is TaskState.REVERTED, p
    assert p.results == {"failure": CANCELLED}
    steps = {n: s for n, s in p.tasks.items() if not n.startswith("_TaskFlow")}
    assert {n for n in steps if position(n) <= list(Step).index(step)} == set(steps), "later steps never ran"
    assert set(steps.values()) == {TaskState.REVERTED}, steps
    after = fast.footprint()
    assert after["volumes"] == before["volumes"], "no clone row is left"
    assert after["volume_groups"] == [], "the sources are ungrouped"
    assert fast.mem.state() == before["drivers"]["local"], "no backend volume, layer or group snapshot is left"
    assert usage(fast) == quota_before, "the quota reservation is released"
    assert fast.db_rows("SELECT holder FROM reservations") == []
    assert fast.db_rows("SELECT id FROM clone_leftovers") == []
    for vid in srcs:
        assert fast.get(vid).status.value == "available" and fast.digest(vid) == sums[vid]


def test_a_task_cancelled_before_it_runs_does_nothing(make_fast: Any) -> None:
    """Cancelled while it waits for a flow worker (PENDING): its first task stops at its start."""
    fast: Fast = make_fast(failpoints=(f"pause:{Step.CREATE_SRC_GROUP.prefix}",), flow_workers=1, **QUOTAS)
    srcs = sources(fast)
    first = fast.clone(srcs)
    hold(fast, first, Step.CREATE_SRC_GROUP)  # the one worker is busy with it
    second = fast.clone(srcs)
    queued = fast.svc.clones.progress(fast.who, fast.project, second).tasks
    assert {s for n, s in queued.items() if not n.startswith("_TaskFlow")} == {TaskState.PENDING}, queued
    fast.svc.clones.cancel(fast.who, fast.project, second)
    fast.svc.clones.cancel(fast.who, fast.project, first)
    for task in (first, second):
        assert fast.wait(task).results == {"failure": CANCELLED}
    p = fast.wait(second)
    assert {s for n, s in p.tasks.items() if not n.startswith("_TaskFlow")} == {TaskState.REVERTED}, p.tasks
    assert not fast.svc.clones.ctx.points.reached(Step.CREATE_SRC_GROUP.task_name(second)).is_set(), \
        "its first task stopped at its start, before its side effect"
    assert fast.footprint()["volume_groups"] == [] and len(fast.volume_ids()) == len(srcs)
    assert fast.db_rows("SELECT holder FROM reservations") == []


def test_a_finished_task_is_a_409_and_stays_as_it_is(fast: Fast) -> None:
    src = fast.volume(1, "s", fill=b"s").id
    task = fast.clone([src])
    p = fast.wait(task)
    assert p.flow_state is TaskState.SUCCESS
    with pytest.raises(Conflict, match="has ended \\(SUCCESS\\)"):
        fast.svc.clones.cancel(fast.who, fast.project, task)
    assert fast.wait(task) == p
    assert fast.get(p.results[src]).status.value == "available"


def test_a_reverting_task_is_a_409(fast: Fast) -> None:
    src = fast.volume(1, "s").id
    task = fast.clone([src])
    fast.wait(task)
    [(flow_id,)] = fast.db_rows("SELECT flow_id FROM clone_tasks WHERE id = ?", task)
    assert fast.db_execute("UPDATE flowdetails SET state = 'REVERTING' WHERE uuid = ?", flow_id) == 1
    with pytest.raises(Conflict, match="reverting already"):
        fast.svc.clones.cancel(fast.who, fast.project, task)
    assert fast.db_rows("SELECT cancel_requested_at FROM clone_tasks WHERE id = ?", task) == [(None,)]


def test_another_projects_task_and_an_unknown_one_are_404s(make_fast: Any) -> None:
    fast: Fast = make_fast(failpoints=(f"pause:{Step.CREATE_GROUP_CLONE.prefix}",))
    task = fast.clone([fast.volume(1, "s").id])
    hold(fast, task, Step.CREATE_GROUP_CLONE)
    for project, task_id in (("p2", task), (fast.project, "no-such-task"), (fast.project, "x" * 300)):
        with pytest.raises(NotFound, match="could not be found"):
            fast.svc.clones.cancel(Principal(project), project, task_id)
    assert fast.db_rows("SELECT cancel_requested_at FROM clone_tasks WHERE id = ?", task) == [(None,)]
    fast.svc.clones.cancel(fast.who, fast.project, task)
    fast.svc.clones.cancel(fast.who, fast.project, task)  # asking twice is harmless
    assert fast.wait(task).results == {"failure": CANCELLED}


def test_a_cancel_recorded_by_another_process_reaches_the_flow(make_fast: Any, data_root: Path) -> None:
    """The API process that takes the cancel is not the one that runs the flow: they share only
    the database (another service on it, never started, as `volclone api` does not run flows)."""
    fast: Fast = make_fast(failpoints=(f"pause:{Step.SET_METADATA.prefix}",))
    task = fast.clone([fast.volume(1, "s").id])
    hold(fast, task, Step.SET_METADATA)
    other = bootstrap.build(Settings(data_dir=data_root / "other", database_url=fast.settings.database_url,
                                     **NO_QUOTAS), drivers={"local": MemoryDriver("local")})
    try:
        other.clones.cancel(fast.who, fast.project, task)
    finally:
        other.stop()
    assert fast.wait(task).results == {"failure": CANCELLED}
    assert len(fast.volume_ids()) == 1, "no clone is left"


def test_without_a_cancel_a_paused_task_goes_on(make_fast: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pause failpoint holds at most PAUSE_MAX_S; a flow nobody cancels then succeeds."""
    monkeypatch.setattr("volclone.flows.clone_volumes.PAUSE_MAX_S", 0.3)
    fast: Fast = make_fast(failpoints=(f"pause:{TASKS[0]}",))
    p = fast.wait(fast.clone([fast.volume(1, "s").id]))
    assert p.flow_state is TaskState.SUCCESS


def test_the_cancel_migration_upgrades_keeps_tasks_and_downgrades_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0010")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO clone_tasks (id, project_id, request, logbook_id, flow_id, created_at) "
                              "VALUES ('t1', 'p1', '{}', 'l1', 'f1', '2026-12-01 00:00:00')"))
        command.upgrade(cfg, "0011")
        assert current_revision(engine) == "0011"
        assert "cancel_requested_at" in {c["name"] for c in inspect(engine).get_columns("clone_tasks")}
        assert not [d for d in schema_drift(engine) if "clone_tasks" in repr(d)]
        with engine.begin() as conn:
            assert conn.execute(text("SELECT id, cancel_requested_at FROM clone_tasks")).all() == [("t1", None)]
        command.downgrade(cfg, "0010")
        assert "cancel_requested_at" not in {c["name"] for c in inspect(engine).get_columns("clone_tasks")}
    finally:
        engine.dispose()

