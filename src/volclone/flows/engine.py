"""Running clone flows: TaskFlow engines on SQL persistence, in a bounded thread pool.

The flow's state lives in TaskFlow's tables in volclone's own database, so
progress is read back from persistence (by this process or another) and an
interrupted flow resumes after a restart: every task is safe to run again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import taskflow.engines
from sqlalchemy import Engine
from taskflow import exceptions as tf_exc
from taskflow.patterns import linear_flow
from taskflow.persistence import models
from taskflow.persistence.backends import impl_sqlalchemy

from volclone.db.database import full_is_insufficient_storage

log = logging.getLogger(__name__)

#: Flow states after which nothing more happens.


class SharedConnectionBackend(impl_sqlalchemy.SQLAlchemyBackend):  # type: ignore[misc]
    """TaskFlow's SQL backend, handing out one connection object.

    TaskFlow asks for a new connection for every save, and each one rebuilds
    TaskFlow's table metadata (measured: ~5 ms each, ~70 per 10-volume flow,
    most of the flow's time). Its connection only wraps the shared engine and
    its ``close`` does nothing, so one object serves every thread.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__({"connection": str(engine.url)}, engine=engine)
        self._shared: impl_sqlalchemy.Connection | None = None
        self._shared_lock = threading.Lock()

    def get_connection(self) -> impl_sqlalchemy.Connection:
        with self._shared_lock:
            if self._shared is None:
                self._shared = super().get_connection()
            return self._shared


class FlowRunner:
    def __init__(self, engine: Engine, workers: int) -> None:
        self.backend = SharedConnectionBackend(engine)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        #: Called (with the flow id) in the flow's thread once a flow it ran has ended either way.
        self.on_finished: Callable[[str], None] | None = None

    def setup(self) -> None:
        """Create or upgrade TaskFlow's own tables."""
        with contextlib.closing(self.backend.get_connection()) as conn:
            conn.upgrade()

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def create(self, name: str, flow: linear_flow.Flow, store: dict[str, Any]) -> tuple[str, str, Any]:
        """Persist a new flow (every task PENDING) and return (logbook id, flow id, engine)."""
        book = models.LogBook(name)
        detail = models.FlowDetail(flow.name, uuid=name)
        book.add(detail)
        with full_is_insufficient_storage(), contextlib.closing(self.backend.get_connection()) as conn:
            conn.save_logbook(book)
        engine = taskflow.engines.load(flow, store=store, flow_detail=detail, book=book, backend=self.backend)
        engine.compile()
        with full_is_insufficient_storage():
            engine.prepare()
        return book.uuid, detail.uuid, engine

    def discard(self, logbook_id: str) -> None:
        """Forget a persisted flow that was never started (its start failed)."""
        with contextlib.closing(self.backend.get_connection()) as conn:
            conn.destroy_logbook(logbook_id)

    def resume(self, logbook_id: str, flow_id: str, flow: linear_flow.Flow) -> Any:
        """An engine that continues a persisted flow where it stopped."""
        with contextlib.closing(self.backend.get_connection()) as conn:
            book = conn.get_logbook(logbook_id)
        detail = book.find(flow_id)
        return taskflow.engines.load(flow, flow_detail=detail, book=book, backend=self.backend)

    def submit(self, flow_id: str, engine: Any) -> Future[None]:
        def run() -> None:
            try:
                engine.run()
            except Exception:  # the flow reverted (or its revert failed); its state is in persistence
                # The full error for the operator; tenants read a cleaned one in get_progress.
                log.warning("clone flow %s did not succeed", flow_id, exc_info=True)
            finally:
                # The follow-up runs before the flow leaves ``_running``, so that ``wait`` returns
                # only once it is done, however late the wait starts.
                try:
                    self._finished(flow_id)
                finally:
                    with self._lock:
                        self._running.pop(flow_id, None)

        with self._lock:
            fut = self._pool.submit(run)
            self._running[flow_id] = fut
        return fut

    def _finished(self, flow_id: str) -> None:
        if self.on_finished is None:
            return
        try:
            self.on_finished(flow_id)
        except Exception:
            log.exception("after flow %s ended: its follow-up failed", flow_id)

    def wait(self, flow_id: str, timeout: float | None = None) -> None:
        with self._lock:
            fut = self._running.get(flow_id)
        if fut is not None:
            fut.result(timeout)

    def flow_detail(self, flow_id: str) -> models.FlowDetail | None:
        with contextlib.closing(self.backend.get_connection()) as conn:
            try:
                return conn.get_flow_details(flow_id)
            except tf_exc.NotFound:
                return None
