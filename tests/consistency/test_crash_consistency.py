"""Crash consistency of clones of attached volumes being written, through the real server.

A :class:`~.support.Writer` writes an increasing counter n to volumes A, B (, C, D) in
that order through their read-write NBD attachments, flushing after every write. While
it runs, :data:`ROUNDS` clone requests of the whole set go to the API, :data:`WORKERS`
at a time. A clone set is a copy of the volumes at one instant exactly when its counters
read A >= B >= ... >= A - 1 (two volumes: A == B or A == B + 1); and as the clone holds
what was flushed before its request and nothing written after it ended, every counter
lies between the writer's progress at POST and at SUCCESS.

The same run against a server whose snapshot switches one volume at a time with a
forced gap (``VOLCLONE_UNSAFE_TEST_SNAPSHOT_GAP_MS``, a switch only tests set) must
find violations: proof that this test can fail.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from conftest import Env

from .support import Writer, attach_in_use, consistent, read_counter

#: Clone requests per run of the safe test; WORKERS of them are in flight at a time.
ROUNDS = 100
#: The sizes of the sets cloned while written: four volumes hold every pair a set of two would
#: test, so the set of two (another 33 s on the local pool, 20 s on RBD, per CI run) is left out.
SET_SIZES = [4]
WORKERS = 2
#: Requests against the unsafe switch (nearly every one of them breaks the invariant).
UNSAFE_ROUNDS = 20
UNSAFE_GAP_MS = "5"


@dataclass
class Round:
    """One clone request: the writer's progress when it was posted and when it ended, the clones."""

    before: int
    after: int
    clones: list[str]  # in write order of their sources
    io_freeze_ms: float
    values: list[int] | None = None


@dataclass
class Run:
    rounds: list[Round]
    first: int  # the writer's progress at the first request
    written: int  # ... when it stopped
    longest_write_ms: float


def clone_while_writing(e: Env, count: int, rounds: int, workers: int) -> Run:
    """Attach ``count`` new volumes, write counters to them, clone them ``rounds`` times meanwhile,
    then read every clone's counter."""
    sources = [e.user.create_volume(1, f"cc-{i}")["id"] for i in range(count)]
    writer = Writer([attach_in_use(e.user, v) for v in sources])
    writer.start()
    try:
        writer.wait_for(50)
        first = writer.done

        def one(_: int, api: Any) -> Round:
            before = writer.done
            p = api.wait(api.clone(sources), timeout=120)
            after = writer.done
            assert p["flow_details"]["cloneFlow"] == "SUCCESS", p
            results = p["details"]["results"]
            return Round(before, after, [results[v] for v in sources], p["details"]["io_freeze_ms"])

        clients = [e.server.client(e.user_token, "p1") for _ in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            done = list(pool.map(lambda i: one(i, clients[i % workers]), range(rounds)))
    finally:
        written = writer.stop()
    with ThreadPoolExecutor(4) as pool:
        for r in done:
            r.values = list(pool.map(lambda c: read_counter(e.server, c), r.clones))
    return Run(done, first, written, writer.longest_op_s * 1000)


def summary(run: Run) -> str:
    bad = [r.values for r in run.rounds if r.values is not None and not consistent(r.values)]
    freeze = [r.io_freeze_ms for r in run.rounds]
    return (f"{len(run.rounds)} clone requests, writer went from n={run.first} to n={run.written}, "
            f"{len({r.values[0] for r in run.rounds if r.values})} distinct clone points, "
            f"{len(bad)} inconsistent; io_freeze_ms max {max(freeze):.2f}; "
            f"longest write+flush {run.longest_write_ms:.1f} ms")


@pytest.mark.parametrize("count", SET_SIZES)
def test_clones_of_attached_volumes_being_written_are_crash_consistent(make_env: Any, count: int,
                                                                        record_property: Any) -> None:
    e: Env = make_env()
    t0 = time.monotonic()
    run = clone_while_writing(e, count, ROUNDS, WORKERS)
    record_property("summary", summary(run))
    print(f"\n{count} volumes: {summary(run)} in {time.monotonic() - t0:.1f} s")

    assert len(run.rounds) == ROUNDS
    violations = [r.values for r in run.rounds if r.values is not None and not consistent(r.values)]
    assert violations == [], f"{len(violations)} of {ROUNDS} clone sets are inconsistent: {violations[:5]}"
    late_or_early = [(r.before, r.values, r.after) for r in run.rounds
                     if r.values is not None and not (r.before <= min(r.values) and max(r.values) <= r.after + 1)]
    assert late_or_early == [], f"clones outside their request's window (before, values, after): {late_or_early[:5]}"
    # Not vacuous: the writer kept going all along, and the clones caught it at many points.
    assert run.written - run.first >= 20 * ROUNDS, summary(run)
    assert len({r.values[0] for r in run.rounds if r.values}) > ROUNDS * 3 // 4, summary(run)


@pytest.mark.parametrize("count", SET_SIZES)
def test_one_volume_at_a_time_snapshots_are_caught(make_env: Any, count: int, record_property: Any) -> None:
    """The proof that the test above can fail: the same run against the unsafe switch finds violations."""
    e: Env = make_env(VOLCLONE_UNSAFE_TEST_SNAPSHOT_GAP_MS=UNSAFE_GAP_MS)
    run = clone_while_writing(e, count, UNSAFE_ROUNDS, 1)
    record_property("summary", summary(run))
    print(f"\n{count} volumes, unsafe switch: {summary(run)}")
    violations = [r.values for r in run.rounds if r.values is not None and not consistent(r.values)]
    assert violations, f"one-at-a-time snapshots with a {UNSAFE_GAP_MS} ms gap looked consistent: {summary(run)}"
