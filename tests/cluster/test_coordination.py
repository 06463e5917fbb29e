"""Coordination on the machine's real Redis: membership with capabilities, locks between members,
and what a member that dies holding a lock leaves (it drops out, its lock frees, in bounded time).

Each test has a key namespace of its own (a uuid in the URL) and short tooz timeouts, so the
expiry tests take seconds; bench/coordination_expiry.py measures tooz's 30 s defaults.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from volclone.cluster.coordination import Coordination
from volclone.errors import Busy

REDIS = "redis://127.0.0.1:6379/1"
#: tooz's membership_timeout and lock_timeout in these tests (the defaults are 30 s).
EXPIRY = 3
HOLDER = Path(__file__).parent / "holder.py"


@pytest.fixture
def url() -> str:
    return f"{REDIS}?namespace=volclone-test-{uuid.uuid4().hex}&membership_timeout={EXPIRY}&lock_timeout={EXPIRY}"


@pytest.fixture
def member(url: str) -> Iterator[Callable[[str], Coordination]]:
    """``member(id)``: a started Coordination; all are stopped at the end."""
    made: list[Coordination] = []

    def make(member_id: str) -> Coordination:
        coord = Coordination(url, member_id)
        coord.start()
        made.append(coord)
        return coord

    yield make
    for coord in made:
        coord.stop()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def wait_until(check: Callable[[], bool], limit: float) -> float:
    """Seconds until ``check()`` holds (polled every 50 ms); fails past ``limit``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < limit, f"not within {limit} s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_members_are_listed_with_their_capabilities_and_leave(member):
    a, b = member("worker-a"), member("worker-b")
    group = name("workers")
    assert a.members(group) == {}  # no such group yet
    a.join(group, {"host": "node1", "backends": ["local", "ceph"]})
    b.join(group, {"host": "node2", "backends": ["local"]})
    expected = {"worker-a": {"host": "node1", "backends": ["local", "ceph"]},
                "worker-b": {"host": "node2", "backends": ["local"]}}
    assert a.members(group) == b.members(group) == expected
    b.join(group, {"host": "node2", "backends": []})  # joining again updates the capabilities
    assert a.members(group)["worker-b"] == {"host": "node2", "backends": []}
    b.leave(group)
    b.leave(group)  # leaving twice is nothing
    assert a.members(group) == {"worker-a": expected["worker-a"]}
    assert a.members(name("other")) == {}


def test_a_stopped_member_has_left_at_once(member, url):
    a = member("worker-a")
    group = name("workers")
    b = Coordination(url, "worker-b")
    b.start()
    b.join(group, {})
    a.join(group, {})
    assert set(a.members(group)) == {"worker-a", "worker-b"}
    b.stop()
    assert set(a.members(group)) == {"worker-a"}


def test_a_lock_excludes_the_other_member_until_released(member):
    a, b = member("worker-a"), member("worker-b")
    lock = name("volume")
    order: list[str] = []
    with a.lock(lock):
        started = time.monotonic()
        with pytest.raises(Busy, match="is busy"):
            with b.lock(lock, timeout=0.5):
                order.append("b got it while a held it")
        assert 0.3 < time.monotonic() - started < 5

        def b_waits() -> None:
            with b.lock(lock, timeout=10):
                order.append("b")

        waiter = threading.Thread(target=b_waits)
        waiter.start()
        time.sleep(0.5)
        order.append("a")
    waiter.join(15)
    assert order == ["a", "b"]
    with a.lock(lock, timeout=0):  # free again
        pass


def test_try_lock_does_not_wait(member):
    a, b = member("worker-a"), member("worker-b")
    lock = name("volume")
    held = a.try_lock(lock)
    assert held is not None
    with held:
        started = time.monotonic()
        assert b.try_lock(lock) is None
        assert time.monotonic() - started < 1
    again = b.try_lock(lock)
    assert again is not None
    with again:
        assert a.try_lock(lock) is None
    assert a.try_lock(name("other")) is not None


def test_a_member_that_dies_holding_a_lock_drops_out_and_its_lock_frees(member, url):
    group, lock = name("workers"), name("volume")
    a = member("worker-a")
    a.join(group, {})
    holder = subprocess.Popen([sys.executable, str(HOLDER), url, "worker-dead", group, lock, "1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert holder.wait(30) == 0
    finally:
        holder.kill()
    died = time.monotonic()
    # Right after the death both are still there: the test could fail.
    assert "worker-dead" in a.members(group)
    assert a.try_lock(lock) is None
    dropped = wait_until(lambda: "worker-dead" not in a.members(group), EXPIRY + 2)
    held = None

    def free() -> bool:
        nonlocal held
        held = a.try_lock(lock)
        return held is not None

    freed = wait_until(free, EXPIRY + 2)
    assert held is not None
    with held:
        pass
    # The last beat of its heart (every EXPIRY / 2 s) gave both at most EXPIRY s more.
    since_death = time.monotonic() - died
    assert dropped <= EXPIRY + 1 and freed <= since_death <= EXPIRY + 1.5

