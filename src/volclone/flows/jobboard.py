"""Clone flows across processes: a TaskFlow job board on Redis, one board per backend.

The API process persists a flow exactly as in one process (``FlowRunner.create``: the
logbook, every task PENDING, and the factory that rebuilds it) and posts a job naming it on
the board of the source backend. Workers run a conductor per backend they serve; a
conductor claims the job, rebuilds the flow from its factory (:func:`clone_flow`) and runs it
from its persisted state, then consumes the job. Only workers that serve a backend read its
board, so its jobs are claimed only there.

Claims expire (TaskFlow's Redis claims otherwise live forever): a conductor claims for
``claim_expiry`` seconds and renews every claim it holds a quarter of that apart, from its own
thread, so a long copy keeps its claim and a killed worker's job is claimed again by another
worker of the backend once the claim runs out. The flow then goes on from its persisted tasks
(every task is safe to run again). Every conductor has a name of its own, so a restarted
worker never collides with the claims of the process it replaces.

    boards = JobBoards("redis://127.0.0.1:6379/0", persistence)    # in a worker
    runner = BoardRunner(engine, "redis://127.0.0.1:6379/0")          # in `volclone api`
    Conductors(boards, ["ceph"], "w1", claim_expiry=15, max_jobs=4, poll_s=0.5).start()

A conductor that claimed nothing on a pass over its board waits ``poll_s`` seconds (TaskFlow's
``wait_timeout``, 0.5 s by default) before the next, also when all its job slots are taken: a
posted job, or a slot that came free, waits up to that long (docs/deploy.md has it measured).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from taskflow import exceptions as tf_exc
from taskflow.conductors.backends import impl_nonblocking
from taskflow.engines import helpers as engine_helpers
from taskflow.jobs import backends as job_backends
from taskflow.patterns import linear_flow

from volclone.db.schema import CloneTaskRow, utcnow
from volclone.domain import FINISHED
from volclone.errors import BackendUnavailable
from volclone.flows.builders import build
from volclone.flows.clone_volumes import CloneContext
from volclone.flows.engine import FlowRunner, SharedConnectionBackend
from volclone.flows.model import TaskKind

log = logging.getLogger(__name__)

#: Key prefix of every board; the backend's name follows.
NAMESPACE = "volclone.jobs."
_context: CloneContext | None = None
#: Called with a flow's id once a conductor of this process has run it (to its end or not).
_after_flow: Callable[[str], None] | None = None


def install_context(ctx: CloneContext | None, after_flow: Callable[[str], None] | None = None) -> None:
    """What :func:`clone_flow` builds flows on, in this process (a worker's, set at its start),
    and what runs after a conductor ran a flow (the service's ``flow_ended``)."""
    global _context, _after_flow
    _context, _after_flow = ctx, after_flow


def clone_flow(task_id: str, kind: str = TaskKind.CLONE.value) -> linear_flow.Flow:
    """The flow factory a conductor rebuilds a posted flow with (by its importable name): the
    clone flow, or the revert-in-place flow for a task of kind ``revert`` (jobs posted before
    reverts existed name no kind: a clone)."""
    if _context is None:
        raise RuntimeError("no clone context is installed in this process (it is not a worker)")
    return build(_context, task_id, TaskKind(kind))


def board_conf(url: str, backend: str) -> dict[str, Any]:
    """TaskFlow's Redis board settings for ``redis://[:password@]host[:port][/db]``."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"VOLCLONE_JOBBOARD_URL must be redis://host[:port][/db], not {url!r}")
    conf: dict[str, Any] = {"board": "redis", "host": parts.hostname, "port": parts.port or 6379,
                            "namespace": NAMESPACE + backend, "socket_timeout": 10.0}
    db = parts.path.strip("/")
    if db:
        conf["db"] = int(db)
    if parts.password:
        conf["password"] = parts.password
    return conf


class JobBoards:
    """The connected board of each backend, made on first use; safe to share between threads."""

    def __init__(self, url: str, persistence: SharedConnectionBackend) -> None:
        board_conf(url, "check")  # a bad URL stops the start, not the first request
        self.url = url
        self.persistence = persistence
        self._boards: dict[str, Any] = {}
        self._lock = threading.Lock()

    def open(self, backend: str, name: str | None = None) -> Any:
        """A new connected board for ``backend`` (a conductor owns its own)."""
        board = job_backends.fetch(name or f"volclone-{backend}", board_conf(self.url, backend),
                                   persistence=self.persistence)
        board.connect()
        return board

    def get(self, backend: str) -> Any:
        with self._lock:
            board = self._boards.get(backend)
            if board is None:
                try:
                    board = self._boards[backend] = self.open(backend)
                except Exception as exc:
                    raise BackendUnavailable(f"the job board of backend {backend} cannot be reached") from exc
            return board

    def close(self) -> None:
        with self._lock:
            for board in self._boards.values():
                with contextlib.suppress(Exception):
                    board.close()
            self._boards.clear()


class BoardRunner(FlowRunner):
    """A :class:`FlowRunner` whose flows run in the workers: ``submit`` posts a job.

    The flow is persisted first and the job names it, so whichever worker claims the job
    reads the same state; progress is read from persistence, as in one process.
    """

    def __init__(self, engine: Engine, jobboard_url: str) -> None:
        super().__init__(engine, workers=1)
        self.boards = JobBoards(jobboard_url, self.backend)
        self._posting: dict[str, tuple[Any, str, dict[str, Any]]] = {}

    def create(self, name: str, flow: linear_flow.Flow, store: dict[str, Any]) -> tuple[str, str, Any]:
        logbook_id, flow_id, engine = super().create(name, flow, store)
        with contextlib.closing(self.backend.get_connection()) as conn:
            book = conn.get_logbook(logbook_id)
        detail = book.find(flow_id)
        engine_helpers.save_factory_details(detail, clone_flow, (name,),
                                            {"kind": TaskKind.of_store(store).value}, backend=self.backend)
        with self._lock:
            self._posting[flow_id] = (book, str(store["backend"]), store)
        return logbook_id, flow_id, engine

    def submit(self, flow_id: str, engine: Any) -> None:  # type: ignore[override]
        with self._lock:
            book, backend, store = self._posting.pop(flow_id)
        try:
            job = self.boards.get(backend).post(f"clone-{flow_id}", book=book,
                                                details={"flow_uuid": flow_id, "store": store})
        except tf_exc.JobFailure as exc:
            raise BackendUnavailable(f"the job board of backend {backend} cannot be reached") from exc
        log.info("clone flow %s posted to backend %s's job board as job %s", flow_id, backend, job.uuid)

    def wait(self, flow_id: str, timeout: float | None = None) -> None:
        """Until the flow ends in persistence (whichever worker runs it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            detail = self.flow_detail(flow_id)
            if detail is not None and detail.state in FINISHED:
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"flow {flow_id} did not end within {timeout} s")
            time.sleep(0.2)

    def close(self, wait: bool = True) -> None:
        super().close(wait)
        self.boards.close()


def conductor_name(worker: str, backend: str) -> str:
    """Unique per process and start: a restarted worker never shares a name with the one before."""
    return f"{worker}.{backend}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


class ExpiringConductor(impl_nonblocking.NonBlockingConductor):  # type: ignore[misc]
    """A conductor whose claims expire unless renewed, and which renews its own.

    It also consumes at once a job whose flow has already ended (a worker killed between the
    flow's end and the job's consumption leaves such a job behind).
    """

    def __init__(self, name: str, board: Any, persistence: Any, claim_expiry: float, max_jobs: int,
                 poll_s: float = 0.5) -> None:
        super().__init__(name, board, persistence=persistence, engine="serial",
                         max_simultaneous_jobs=max_jobs, wait_timeout=poll_s)
        self.claim_expiry = claim_expiry
        self._owned: dict[str, Any] = {}
        self._owned_lock = threading.Lock()
        self._stop_renewing = threading.Event()
        original_claim = board.claim

        def claim(job: Any, who: str, expiry: float | None = None) -> Any:
            return original_claim(job, who, expiry=expiry or claim_expiry)

        board.claim = claim
        self._renewer = threading.Thread(target=self._renew_loop, name=f"renew-{name}", daemon=True)

    @property
    def name(self) -> str:
        return str(self._name)

    def _dispatch_job(self, job: Any) -> bool:
        with self._owned_lock:
            self._owned[job.uuid] = job
        try:
            detail = self._flow_detail_from_job(job)
            if detail.state in FINISHED:
                log.info("job %s: its flow %s has ended already (%s); consumed", job.uuid, detail.uuid,
                         detail.state)
                return True
            log.info("conductor %s runs clone flow %s (job %s)", self._name, detail.uuid, job.uuid)
            try:
                return bool(super()._dispatch_job(job))
            finally:
                after = _after_flow
                if after is not None:
                    try:
                        after(str(detail.uuid))
                    except Exception:
                        log.exception("after flow %s ended: its follow-up failed", detail.uuid)
        finally:
            with self._owned_lock:
                self._owned.pop(job.uuid, None)

    def _renew_loop(self) -> None:
        while not self._stop_renewing.wait(self.claim_expiry / 4):
            with self._owned_lock:
                jobs = list(self._owned.values())
            for job in jobs:
                try:
                    job.extend_expiry(self.claim_expiry)
                except Exception:
                    log.warning("conductor %s could not renew its claim of job %s", self._name, job.uuid,
                                exc_info=True)

    def run_forever(self) -> None:
        self._renewer.start()
        try:
            self.run()
        finally:
            self._stop_renewing.set()


class Conductors:
    """A worker's conductors: one per backend it serves, each in its own thread."""

    def __init__(self, boards: JobBoards, backends: Collection[str], worker: str,
                 claim_expiry: float, max_jobs: int, poll_s: float = 0.5) -> None:
        self.boards = boards
        self.backends = list(backends)
        self.worker = worker
        self.claim_expiry = claim_expiry
        self.max_jobs = max_jobs
        self.poll_s = poll_s
        self.conductors: list[ExpiringConductor] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for backend in self.backends:
            name = conductor_name(self.worker, backend)
            board = self.boards.open(backend, name=name)
            conductor = ExpiringConductor(name, board, self.boards.persistence, self.claim_expiry, self.max_jobs,
                                          self.poll_s)
            thread = threading.Thread(target=conductor.run_forever, name=f"conductor-{backend}", daemon=True)
            thread.start()
            self.conductors.append(conductor)
            self._threads.append(thread)
            log.info("conductor %s claims the jobs of backend %s (claims expire after %g s unless renewed; "
                     "polls every %g s)", name, backend, self.claim_expiry, self.poll_s)

    def post_orphans(self, tasks: Iterable[CloneTaskRow], older_than_s: float) -> list[str]:
        """Post a job for each unfinished flow of the served backends that has none: an API
        process that died between persisting a flow and posting it (or a flow begun by
        ``volclone serve`` before the move to a cluster) would otherwise wait forever.
        Returns the task ids posted. Call it under a cluster-wide lock, so that two workers
        never post one flow twice."""
        cutoff = utcnow() - dt.timedelta(seconds=older_than_s)
        candidates = [t for t in tasks if t.request.get("backend") in self.backends and t.created_at < cutoff]
        if not candidates:
            return []
        persistence = self.boards.persistence
        posted_flows: dict[str, set[str]] = {}
        posted = []
        for row in candidates:
            backend = str(row.request["backend"])
            with contextlib.closing(persistence.get_connection()) as conn:
                try:
                    detail = conn.get_flow_details(row.flow_id)
                except Exception:
                    continue
            if detail.state in FINISHED:
                continue
            if backend not in posted_flows:
                board = self.boards.get(backend)
                posted_flows[backend] = {str((j.details or {}).get("flow_uuid"))
                                         for j in board.iterjobs(ensure_fresh=True)}
            if row.flow_id in posted_flows[backend]:
                continue
            with contextlib.closing(persistence.get_connection()) as conn:
                book = conn.get_logbook(row.logbook_id)
            self.boards.get(backend).post(f"clone-{row.flow_id}", book=book,
                                          details={"flow_uuid": row.flow_id, "store": row.request})
            posted_flows[backend].add(row.flow_id)
            posted.append(row.id)
            log.warning("clone task %s had no job on backend %s's board (its API process died before "
                        "posting it?); posted it", row.id, backend)
        return posted

    def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming; flows in progress are suspended by TaskFlow and their jobs abandoned,
        so another worker (or this one's next start) goes on with them."""
        for conductor in self.conductors:
            conductor.stop()
        for conductor, thread in zip(self.conductors, self._threads, strict=True):
            thread.join(timeout)
            conductor.wait(1)
            with contextlib.suppress(Exception):
                conductor._jobboard.close()
        self.conductors.clear()
        self._threads.clear()
