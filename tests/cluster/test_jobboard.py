"""Clone flows through the TaskFlow job board on the real Redis, in process: an ``api``-role
service posts, conductors claim. Each test has a backend (so a board namespace) of its own.

The process-kill cases (a worker killed with -9 mid-flow, another taking over) are in
tests/cluster/test_cluster.py; here a dead conductor is one that claimed and never ran."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cluster.boards import JOBS_URL, drop_board
from volclone import bootstrap
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.domain import CloneRequest, Principal
from volclone.errors import Cancelled
from volclone.flows.clone_volumes import Failpoints
from volclone.flows.jobboard import Conductors, JobBoards, install_context
from volclone.flows.model import Step, kept_id
from volclone.service import Service

WHO = Principal("p1", roles=frozenset({"member"}))


class Board:
    """An api service and a serve-built service standing in for a worker (same drivers,
    same database), and the conductors started for it."""

    def __init__(self, api: Service, worker: Service, backend: str, mem: MemoryDriver) -> None:
        self.api, self.worker, self.backend, self.mem = api, worker, backend, mem
        self.conductors: list[Conductors] = []

    def conduct(self, backend: str | None = None, expiry: float = 3.0, name: str = "w",
                max_jobs: int = 2, poll_s: float = 0.5) -> Conductors:
        install_context(self.worker.clones.ctx, self.worker.clones.flow_ended)  # as bootstrap does
        c = Conductors(JobBoards(JOBS_URL, self.worker.clones.runner.backend), [backend or self.backend],
                       name, claim_expiry=expiry, max_jobs=max_jobs, poll_s=poll_s)
        c.start()
        self.conductors.append(c)
        return c

    def clone(self, n: int = 2) -> str:
        ids = [self.api.volumes.create(WHO, "p1", 1, name=f"v{i}").id for i in range(n)]
        return self.api.clones.start(WHO, CloneRequest("p1", ids))

    def state(self, task_id: str) -> str:
        """The flow's state in persistence (get_progress shows a PENDING flow as RUNNING)."""
        row = self.api.clones.tasks.get(task_id)
        assert row is not None
        detail = self.api.clones.runner.flow_detail(row.flow_id)
        assert detail is not None
        return str(detail.state)

    def wait(self, task_id: str, timeout: float = 30) -> str:
        self.api.clones.wait(task_id, timeout)
        return self.state(task_id)

    def jobs(self) -> list[Any]:
        return list(self.api.clones.runner.boards.get(self.backend).iterjobs())  # type: ignore[attr-defined]


@pytest.fixture
def board(tmp_path: Path, new_database: Callable[[Path], str]) -> Iterator[Board]:
    backend = f"b{uuid.uuid4().hex[:10]}"
    mem = MemoryDriver(backend)
    settings = Settings(data_dir=tmp_path, database_url=new_database(tmp_path), jobboard_url=JOBS_URL,
                        quota_volumes=-1, quota_gigabytes=-1, quota_snapshots=-1)
    api = bootstrap.build(settings, drivers={backend: mem}, role="api")
    api.start()
    worker = bootstrap.build(settings, drivers={backend: mem})
    worker.start()
    b = Board(api, worker, backend, mem)
    yield b
    for c in b.conductors:
        c.stop()
    install_context(None)
    worker.stop()
    api.stop()
    drop_board(backend)


def test_a_posted_flow_runs_in_a_conductor_and_its_job_is_consumed(board: Board) -> None:
    task_id = board.clone()
    assert board.state(task_id) == "None"  # persisted first (not started yet): progress works at once
    board.conduct()
    assert board.wait(task_id) == "SUCCESS"
    deadline = time.monotonic() + 10
    while board.jobs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert board.jobs() == []


def test_a_cancel_taken_by_the_api_process_stops_the_flow_in_the_worker(board: Board) -> None:
    """The API process records the cancel; the worker's CancelWatch sees it in the database."""
    board.worker.clones.ctx.points = Failpoints([f"pause:{Step.CREATE_GROUP_CLONE.prefix}"])
    board.conduct()
    task = board.clone()
    assert board.worker.clones.ctx.points.reached(Step.CREATE_GROUP_CLONE.task_name(task)).wait(30)
    board.api.clones.cancel(WHO, "p1", task)
    assert board.wait(task) == "REVERTED"
    assert board.api.clones.progress(WHO, "p1", task).results == {"failure": Cancelled().message}
    volumes, _, snapshots = board.mem.state()
    assert len(volumes) == 2 and snapshots == [], "only the two sources are left"


def test_a_revert_in_place_runs_in_a_conductor_built_by_the_tasks_kind(board: Board) -> None:
    """The job board's factory builds the revert flow for a revert's task; its sources get the
    clones' data and the worker drops their old data once the flow has succeeded."""
    board.conduct()
    task_id = board.clone()
    assert board.wait(task_id) == "SUCCESS"
    row = board.api.clones.tasks.get(task_id)
    assert row is not None
    sources = list(row.request["source_ids"])
    for vid in sources:
        board.mem.write(vid, 0, b"B" * 4096)  # written after the clone: the revert takes it away
    revert_id = board.api.clones.revert(WHO, "p1", task_id)
    assert board.wait(revert_id) == "SUCCESS"
    p = board.api.clones.progress(WHO, "p1", revert_id)
    assert p.flow_name == "revertFlow"
    for source, clone in p.results.items():
        assert board.mem.read(source, 0, 4096) == board.mem.read(clone, 0, 4096) == bytes(4096)
    # the worker drops the old data right after its conductor ran the flow (persistence says it
    # ended a moment before): wait for it, bounded
    kept = {kept_id(revert_id, s) for s in sources}
    deadline = time.monotonic() + 10
    while kept & set(board.mem.state()[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    volumes, _, _ = board.mem.state()
    assert set(volumes) == set(sources) | set(p.results.values()), volumes


def test_an_idle_conductor_looks_at_its_board_once_a_poll_period(board: Board) -> None:
    """A job posted while the conductor waits out its period is claimed only when the period
    ends (TaskFlow's default 0.5 s would have claimed it long before)."""
    conductors = board.conduct(poll_s=3)
    time.sleep(0.5)  # its first pass found nothing; it waits 3 s
    posted = time.monotonic()
    task_id = board.clone()
    while board.jobs()[0].state == "UNCLAIMED":
        assert time.monotonic() - posted < 10, "never claimed"
        time.sleep(0.02)
    assert time.monotonic() - posted > 1.5
    assert board.wait(task_id) == "SUCCESS"
    conductors.stop()


def test_a_conductor_claims_only_the_jobs_of_the_backends_it_serves(board: Board) -> None:
    task_id = board.clone()
    board.conduct(backend=f"other{uuid.uuid4().hex[:8]}")
    time.sleep(2)
    assert board.state(task_id) == "None"
    [job] = board.jobs()
    assert job.state == "UNCLAIMED"


def test_a_dead_conductors_claim_expires_and_another_runs_the_flow(board: Board) -> None:
    task_id = board.clone()
    [job] = board.jobs()
    b = board.api.clones.runner.boards.get(board.backend)  # type: ignore[attr-defined]
    b.claim(job, "a-conductor-that-died", expiry=2)
    board.conduct()
    time.sleep(1)
    assert board.state(task_id) == "None"  # the claim still holds
    assert board.wait(task_id) == "SUCCESS"  # ... until it expired


def test_a_claim_is_renewed_while_a_task_runs_longer_than_it(board: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone taking 4 s under a 1.5 s claim: the claim is renewed, so a second conductor
    never takes the job over (the clone task would run twice).

    One job at a time: a conductor with room for more jobs tries to claim its own job again on
    every pass, and TaskFlow's claim script renews the expiry of a claim its owner repeats; a
    full conductor makes no such pass, so only the renewal thread keeps its claim."""
    calls: list[float] = []
    slow_clone = board.mem.clone_from_group_snapshot

    def clone(*args: Any, **kwargs: Any) -> None:
        calls.append(time.monotonic())
        time.sleep(4)
        slow_clone(*args, **kwargs)

    monkeypatch.setattr(board.mem, "clone_from_group_snapshot", clone)
    task_id = board.clone()
    board.conduct(expiry=1.5, name="first", max_jobs=1)
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    assert calls, "the first conductor never reached the clone task"
    board.conduct(expiry=1.5, name="second")
    assert board.wait(task_id) == "SUCCESS"
    assert len(calls) == 1


def test_a_job_whose_flow_ended_already_is_consumed_without_running(board: Board) -> None:
    task_id = board.clone()
    board.conduct()
    assert board.wait(task_id) == "SUCCESS"
    # A worker killed between the flow's end and the job's consumption leaves the job: post it again.
    row = board.api.clones.tasks.get(task_id)
    assert row is not None
    runner = board.api.clones.runner
    with contextlib.closing(runner.backend.get_connection()) as conn:
        book = conn.get_logbook(row.logbook_id)
    runner.boards.get(board.backend).post("again", book=book,  # type: ignore[attr-defined]
                                          details={"flow_uuid": row.flow_id, "store": {}})
    before = board.mem.state()
    deadline = time.monotonic() + 10
    while board.jobs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert board.jobs() == []
    assert board.mem.state() == before and board.state(task_id) == "SUCCESS"


def test_conductor_names_are_unique_per_process_start(board: Board) -> None:
    a, b = board.conduct(name="w1"), board.conduct(name="w1")
    assert a.conductors[0].name != b.conductors[0].name


def test_a_flow_its_api_process_never_posted_is_posted_once_by_a_worker(board: Board,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    runner = board.api.clones.runner
    monkeypatch.setattr(runner, "submit", lambda flow_id, engine: None)  # the API process "dies" before posting
    task_id = board.clone()
    assert board.jobs() == []
    conductors = board.conduct()
    tasks = board.api.clones.tasks
    assert conductors.post_orphans(tasks.list(), older_than_s=3600) == []  # too young: its API may still post it
    assert conductors.post_orphans(tasks.list(), older_than_s=0) == [task_id]
    assert conductors.post_orphans(tasks.list(), older_than_s=0) == []  # it has a job now
    assert board.wait(task_id) == "SUCCESS"
    assert conductors.post_orphans(tasks.list(), older_than_s=0) == []  # ended


def test_a_clone_the_board_cannot_take_is_a_503_and_leaves_no_task(board: Board,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Else the orphan poster would run it later, though its client was told it failed."""
    from taskflow import exceptions as tf_exc

    from volclone.errors import BackendUnavailable

    runner = board.api.clones.runner
    redis_board = runner.boards.get(board.backend)  # type: ignore[attr-defined]

    def down(*args: Any, **kwargs: Any) -> None:
        raise tf_exc.JobFailure("redis is down")

    monkeypatch.setattr(redis_board, "post", down)
    before = {t.id for t in board.api.clones.tasks.list()}
    with pytest.raises(BackendUnavailable, match="job board"):
        board.clone()
    assert {t.id for t in board.api.clones.tasks.list()} == before
    with contextlib.closing(runner.backend.get_connection()) as conn:
        books = list(conn.get_logbooks())
    assert books == []
