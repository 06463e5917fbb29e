"""Named locks within one process: what ``volclone serve`` uses where a cluster uses its
coordination service's locks. A use case holds ``volume-<id>`` while it works on the volume,
so the reaper (which only *tries* the lock) never takes a slow create or delete of this very
process for one a dead process left::

    locks = LocalLocks()
    with locks.lock("volume-1"):          # waits for the lock
        ...
    held = locks.try_lock("volume-1")     # the lock, or None while someone holds it
    if held is not None:
        with held:
            ...
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

#: ``lock(name)``: the lock, held while the block runs (it waits for a holder to let go).
Lock = Callable[[str], contextlib.AbstractContextManager[object]]


def volume_lock(volume_id: str) -> str:
    """The lock a process holds while it works on a volume."""
    return f"volume-{volume_id}"


class LocalLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        #: Name -> (its lock, how many hold or wait for it); a name nobody uses is forgotten.
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def _ref(self, name: str, delta: int) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(name) or (threading.Lock(), 0)
            users += delta
            if users:
                self._locks[name] = (lock, users)
            else:
                self._locks.pop(name, None)
            return lock

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        lock = self._ref(name, +1)
        try:
            with lock:
                yield
        finally:
            self._ref(name, -1)

    def try_lock(self, name: str) -> contextlib.AbstractContextManager[None] | None:
        lock = self._ref(name, +1)
        if not lock.acquire(blocking=False):
            self._ref(name, -1)
            return None
        return self._held(name, lock)

    @contextlib.contextmanager
    def _held(self, name: str, lock: threading.Lock) -> Iterator[None]:
        try:
            yield
        finally:
            lock.release()
            self._ref(name, -1)

    def held(self, name: str) -> bool:
        """Whether someone holds (or waits for) ``name`` now (for tests and diagnostics)."""
        with self._guard:
            return name in self._locks
