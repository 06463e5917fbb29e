"""Membership and distributed locks, with tooz on Redis (``VOLCLONE_COORDINATION_URL``).

A worker joins a group with what it serves, and holds a lock per volume while it changes it::

    coord = Coordination("redis://127.0.0.1:6379/1", member_id="worker-1")
    coord.start()                                   # tooz's heart beats in a thread from now on
    coord.join("workers", {"host": "node1", "backends": ["local", "ceph"]})
    coord.members("workers")                        # {"worker-1": {"host": "node1", ...}, ...}
    with coord.lock(f"volume-{vid}", timeout=30):   # Busy (409) if still held after 30 s
        ...
    held = coord.try_lock(f"volume-{vid}")          # None at once if someone holds it
    if held is not None:
        with held:
            ...
    coord.stop()                                    # leaves the groups, releases the locks

Timeouts are tooz's options in the URL's query (``?membership_timeout=10&lock_timeout=10``);
tooz's defaults are 30 s for both. The heart beats every ``min(both) / 2`` seconds (15 s) and
each beat renews the member's key and every lock held for the full timeout, so after the
process dies (``kill -9``: nothing is left or released) its member key and its locks live out
what their last beat gave them: it drops out of :meth:`members`, and its locks free, between
half the timeout and the timeout after its death. Measured on Redis with tooz 9.1.0 and the
defaults (``bench/coordination_expiry.py``, docs/measurements.md): 16.0 to 29.5 s, the member
and its lock at the same moment, over deaths at seven points of the heart's 15 s cycle.

Keys live under the namespace ``volclone`` (tooz's ``namespace`` option, in the URL to change
it). Locks are not reentrant: one holder taking the same lock again waits for itself.
"""

from __future__ import annotations

import contextlib
import logging
import types
import urllib.parse
from collections.abc import Iterator
from typing import Any

from tooz import coordination

from volclone.errors import Busy, CoordinationUnavailable

log = logging.getLogger(__name__)

#: tooz's key namespace unless the URL names one.
NAMESPACE = "volclone"


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """tooz's errors (Redis unreachable, timing out) as :class:`CoordinationUnavailable`."""
    try:
        yield
    except coordination.ToozError as exc:
        raise CoordinationUnavailable(f"the coordination backend is unavailable ({what}): {exc}") from exc


class HeldLock:
    """A lock :meth:`Coordination.try_lock` took: released when its ``with`` block ends."""

    def __init__(self, lock: Any, name: str) -> None:
        self._lock = lock
        self.name = name

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: types.TracebackType | None) -> None:
        _release(self._lock, self.name)


def _release(lock: Any, name: str) -> None:
    # A release that fails (Redis gone, or the lock expired and was taken since) is logged:
    # raising would hide the block's own outcome, and the lock frees at its expiry anyway.
    try:
        if not lock.release():
            log.warning("lock %s was no longer held when released (it had expired)", name)
    except coordination.ToozError:
        log.warning("lock %s could not be released; it frees at its expiry", name, exc_info=True)


class Coordination:
    """One member of the cluster: its tooz coordinator, its groups and its locks."""

    def __init__(self, url: str, member_id: str) -> None:
        self.url = url
        self.member_id = member_id
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        options: dict[str, Any] = {} if "namespace" in query else {"namespace": NAMESPACE}
        self._coordinator = coordination.get_coordinator(url, member_id.encode(), None, **options)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        """Connect, and start tooz's heart (it keeps membership and the locks held alive)."""
        with _translated("start"):
            self._coordinator.start(start_heart=True)

    def stop(self) -> None:
        """Leave every group joined, release every lock held, stop the heart, disconnect.
        What can't be done (Redis gone) is logged; it expires on its own."""
        try:
            self._coordinator.stop()
        except coordination.ToozError:
            log.warning("coordination member %s did not stop cleanly", self.member_id, exc_info=True)

    # -- membership -------------------------------------------------------------
    def join(self, group: str, capabilities: dict[str, Any]) -> None:
        """Be a member of ``group`` (made if new) with ``capabilities``; joining again updates them."""
        gid = group.encode()
        with _translated(f"join {group}"):
            with contextlib.suppress(coordination.GroupAlreadyExist):
                self._coordinator.create_group(gid).get()
            try:
                self._coordinator.join_group(gid, capabilities).get()
            except coordination.MemberAlreadyExist:
                self._coordinator.update_capabilities(gid, capabilities).get()

    def leave(self, group: str) -> None:
        """Stop being a member of ``group`` (nothing if not one)."""
        with _translated(f"leave {group}"), \
                contextlib.suppress(coordination.GroupNotCreated, coordination.MemberNotJoined):
            self._coordinator.leave_group(group.encode()).get()

    def members(self, group: str) -> dict[str, dict[str, Any]]:
        """The live members of ``group`` and their capabilities (an unknown group has none).

        A member whose heart stopped is left out once its key expires (see the module's doc);
        this member itself is always in, if it joined."""
        with _translated(f"members of {group}"):
            try:
                found = self._coordinator.get_members_with_capabilities(group.encode()).get()
            except coordination.GroupNotCreated:
                return {}
        return {member.decode(): dict(caps or {}) for member, caps in found.items()}

    # -- locks -------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str, timeout: float = 30.0) -> Iterator[None]:
        """Hold the distributed lock ``name`` for the ``with`` block, waiting up to ``timeout``
        seconds for it; :class:`Busy` if it is still held then."""
        lock = self._coordinator.get_lock(name.encode())
        with _translated(f"lock {name}"):
            # tooz types the wait as whole seconds; the Redis lock waits any fraction.
            taken = lock.acquire(blocking=timeout > 0, timeout=timeout)  # type: ignore[arg-type]
        if not taken:
            raise Busy(f"{name} is busy: another operation holds it; try again later")
        try:
            yield
        finally:
            _release(lock, name)

    def try_lock(self, name: str) -> HeldLock | None:
        """The lock ``name`` if it is free now (use it in a ``with``), else None at once."""
        lock = self._coordinator.get_lock(name.encode())
        with _translated(f"lock {name}"):
            if not lock.acquire(blocking=False):
                return None
        return HeldLock(lock, name)
