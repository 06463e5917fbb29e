"""Work that runs again and again in the background: the leftover retry of failed clone
reverts, the reaper of volumes stuck in a transitional state::

    job = Periodic("volume-reaper", reaper.run_once, interval=60)
    job.start()          # first run after ``interval`` seconds, then every ``interval``
    ...
    job.stop()           # prompt: a run in progress checks ``job.stopping`` between items
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Run ``work`` every ``interval`` seconds in a daemon thread until :meth:`stop`;
    a failing run is logged and the next one comes all the same."""

    def __init__(self, name: str, work: Callable[[], object], interval: float) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.work()
            except Exception:
                log.exception("%s failed; it runs again in %.0f s", self.name, self.interval)

    def stop(self, timeout: float = 30) -> None:
        """Stop promptly: the wait between runs ends at once; a run in progress is waited for
        (up to ``timeout``; it checks :attr:`stopping` between items)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("%s did not stop within %.0f s", self.name, timeout)
            self._thread = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()
