"""Noticing, in the process that runs a clone flow, that its project cancelled it.

A cancel is recorded in persistence by whichever API process took it (``CancelMarks``); the
flow runs here (``volclone serve``) or in a cluster worker. While a task of a flow runs, its
task id is watched: one thread polls the marks of every watched task, in one query, every
:data:`POLL_S` seconds, and sets that task's event. The tasks and the copy loops (through
their progress callbacks) test the event, which costs nothing::

    watch = CancelWatch(CancelMarks(db).requested)
    with watch.watching(task_id):              # a task's execute
        watch.check(task_id, now=True)         # at its start: asks persistence itself
        ...
        watch.check(task_id)                   # in a copy loop: raises Cancelled once marked
    watch.wait(task_id, timeout=30)            # True once marked (the pause failpoint)

The thread runs only while something is watched, and goes when nothing is: there is nothing
to start or stop with the service.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator

from volclone.errors import Cancelled

log = logging.getLogger(__name__)

#: Seconds between two looks at the cancel marks of the tasks running here.
POLL_S = 0.2

#: Which of these task ids were asked to cancel (``CancelMarks.requested``).
MarksReader = Callable[[Collection[str]], set[str]]


class CancelWatch:
    def __init__(self, requested: MarksReader, poll_s: float = POLL_S) -> None:
        self._requested = requested
        self.poll_s = poll_s
        self._events: dict[str, threading.Event] = {}
        self._watchers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, task_id: str) -> Iterator[None]:
        """Watch ``task_id``'s cancel mark while the block runs."""
        with self._lock:
            self._watchers[task_id] = self._watchers.get(task_id, 0) + 1
            self._events.setdefault(task_id, threading.Event())
            if self._thread is None:
                self._thread = threading.Thread(target=self._poll, name="cancel-watch", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._watchers[task_id] -= 1
                if not self._watchers[task_id]:
                    del self._watchers[task_id]
                    self._events.pop(task_id, None)

    def cancelled(self, task_id: str, now: bool = False) -> bool:
        """Whether the task was asked to cancel: as last polled, or (``now``) as persistence says."""
        with self._lock:
            event = self._events.get(task_id)
        if event is not None and event.is_set():
            return True
        if not now or task_id not in self._requested([task_id]):
            return False
        if event is not None:
            event.set()
        return True

    def check(self, task_id: str, now: bool = False) -> None:
        """Raise :class:`Cancelled` if the task was asked to cancel (see :meth:`cancelled`)."""
        if self.cancelled(task_id, now):
            raise Cancelled()

    def wait(self, task_id: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a watched task's cancel; whether it came."""
        with self._lock:
            event = self._events.get(task_id)
        return event.wait(timeout) if event is not None else self.cancelled(task_id, now=True)

    def _poll(self) -> None:
        while True:
            with self._lock:
                if not self._watchers:
                    self._thread = None
                    return
                pending = [t for t, e in self._events.items() if not e.is_set()]
            if pending:
                try:
                    marked = self._requested(pending)
                except Exception:  # the database is away for a moment: the next look may see it
                    log.warning("could not read the cancel marks of clone tasks %s", ", ".join(pending),
                                exc_info=True)
                    marked = set()
                with self._lock:
                    for task_id in marked:
                        event = self._events.get(task_id)
                        if event is not None:
                            event.set()
                            log.info("clone task %s was cancelled; it stops and reverts", task_id)
            time.sleep(self.poll_s)
