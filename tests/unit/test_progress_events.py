"""The events of a get_progress stream (volclone.api.progress_events): which changes between two
reads make which events, how progress events are coalesced, and the end event. Pure: no service."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.api import views
from volclone.api.progress_events import ProgressEvents, passed
from volclone.domain import CloneProgress, TaskState

P, R, S, F, RV, RD = (TaskState.PENDING, TaskState.RUNNING, TaskState.SUCCESS, TaskState.FAILURE,
                      TaskState.REVERTING, TaskState.REVERTED)
STEPS = ("create_src_vol_group-t", "create_group_snapshot-t", "create_group_clone-t")


def read(flow: TaskState, states: tuple[TaskState, ...], progress: int = 0, **extra: Any) -> CloneProgress:
    results = {"s": "c"} if flow is S else {"failure": "disk on fire"} if flow in (RD, F) else {}
    return CloneProgress(task_id="t", flow_name="cloneFlow", flow_state=flow, progress=progress,
                         tasks=dict(zip(STEPS, states, strict=False)), results=results, extra=dict(extra))


def shown(events: list[Any]) -> list[tuple[Any, ...]]:
    """(name, who, state, observed) of flow and state events; (name, data) of the others."""
    out: list[tuple[Any, ...]] = []
    for e in events:
        if e.name in ("flow", "state"):
            out.append((e.name, e.data.get("task") or e.data["flow"], e.data["state"], e.data["observed"]))
        else:
            out.append((e.name, e.data))
    return out


@pytest.mark.parametrize(("before", "now", "way"), [
    (None, P, ["PENDING"]),
    (None, S, ["PENDING", "RUNNING", "SUCCESS"]),
    (P, S, ["RUNNING", "SUCCESS"]),
    (R, S, ["SUCCESS"]),
    (None, F, ["PENDING", "RUNNING", "FAILURE"]),
    # Undone after it was seen running: it succeeded or failed first; neither is made up.
    (R, RD, ["REVERTING", "REVERTED"]),
    (S, RD, ["REVERTING", "REVERTED"]),
    (None, RV, ["PENDING", "RUNNING", "REVERTING"]),
    (RV, F, ["FAILURE"]),  # its revert failed
    (RD, F, ["FAILURE"]),  # ... found after it was reverted (a leftover)
    (R, P, ["PENDING"]),   # back: a resumed flow runs it again
    (S, S, []),
])
def test_a_step_passes_the_states_on_its_way(before: TaskState | None, now: TaskState, way: list[str]) -> None:
    got = passed(before, now)
    assert [s.value for s, _ in got] == way
    assert [seen for _, seen in got] == [False] * (len(way) - 1) + [True] * bool(way)


def test_the_first_read_brings_the_flow_and_every_step_to_where_it_is() -> None:
    events = ProgressEvents().update(read(R, (S, R, P), progress=40), now=0.0)
    assert shown(events) == [
        ("flow", "cloneFlow", "PENDING", False), ("flow", "cloneFlow", "RUNNING", True),
        ("state", STEPS[0], "PENDING", False), ("state", STEPS[0], "RUNNING", False),
        ("state", STEPS[0], "SUCCESS", True),
        ("state", STEPS[1], "PENDING", False), ("state", STEPS[1], "RUNNING", True),
        ("state", STEPS[2], "PENDING", True),
        ("progress", {"progress": 40}),
    ]
    assert [e.id for e in events] == [str(n) for n in range(1, 10)]


def test_a_later_read_sends_only_what_changed_and_nothing_when_nothing_did() -> None:
    stream = ProgressEvents(progress_interval=0.5)
    stream.update(read(R, (S, R, P), progress=40), now=0.0)
    assert stream.update(read(R, (S, R, P), progress=40), now=1.0) == []
    events = stream.update(read(R, (S, S, S), progress=90), now=2.0)
    assert shown(events) == [("state", STEPS[1], "SUCCESS", True), ("state", STEPS[2], "RUNNING", False),
                             ("state", STEPS[2], "SUCCESS", True), ("progress", {"progress": 90})]
    assert [e.id for e in events] == ["10", "11", "12", "13"]  # one count for the whole stream


def test_progress_events_are_coalesced_and_the_newest_numbers_are_sent_when_due() -> None:
    stream = ProgressEvents(progress_interval=1.0)
    stream.update(read(R, (R, P, P), progress=10), now=0.0)
    assert stream.update(read(R, (R, P, P), progress=11), now=0.3) == []  # too soon: held back
    assert stream.update(read(R, (R, P, P), progress=12), now=0.6) == []
    assert shown(stream.update(read(R, (R, P, P), progress=13), now=1.0)) == [("progress", {"progress": 13})]
    # Held back at 1.2, sent at the next read that is due even though nothing moved since.
    assert stream.update(read(R, (R, P, P), progress=14), now=1.2) == []
    assert shown(stream.update(read(R, (R, P, P), progress=14), now=2.1)) == [("progress", {"progress": 14})]


def test_states_are_never_held_back_by_the_coalescing() -> None:
    stream = ProgressEvents(progress_interval=10.0)
    stream.update(read(R, (R, P, P), progress=10), now=0.0)
    events = stream.update(read(R, (S, R, P), progress=30), now=0.1)
    assert shown(events) == [("state", STEPS[0], "SUCCESS", True), ("state", STEPS[1], "RUNNING", True)]


def test_a_progress_event_carries_the_bytes_while_the_body_has_them() -> None:
    stream = ProgressEvents()
    copying = read(R, (S, S, R), progress=50, bytes_done=1024, bytes_total=4096, bytes_per_second=512,
                   eta_seconds=6.0, io_freeze_ms=0.2)
    [progress] = [e for e in stream.update(copying, now=0.0) if e.name == "progress"]
    assert progress.data == {"progress": 50, "bytes_done": 1024, "bytes_total": 4096, "bytes_per_second": 512,
                             "eta_seconds": 6.0}
    # The bytes moving make an event even where the percentage did not.
    moved = read(R, (S, S, R), progress=50, bytes_done=2048, bytes_total=4096, bytes_per_second=512,
                 eta_seconds=4.0)
    assert shown(stream.update(moved, now=1.0)) == [("progress", {
        "progress": 50, "bytes_done": 2048, "bytes_total": 4096, "bytes_per_second": 512, "eta_seconds": 4.0})]


def test_the_end_event_is_the_get_progress_body_after_the_last_states_and_the_stream_is_done() -> None:
    stream = ProgressEvents()
    stream.update(read(R, (S, R, P), progress=40), now=0.0)
    final = read(S, (S, S, S), progress=100, io_freeze_ms=0.1)
    events = stream.update(final, now=0.1)
    assert shown(events) == [
        ("state", STEPS[1], "SUCCESS", True), ("state", STEPS[2], "RUNNING", False),
        ("state", STEPS[2], "SUCCESS", True), ("flow", "cloneFlow", "SUCCESS", True),
        ("end", views.progress(final)),
    ]
    assert events[-1].id == "end" and stream.done
    with pytest.raises(RuntimeError):
        stream.update(final, now=0.2)


def test_a_reverted_flow_ends_with_its_undone_steps_and_leaves_out_those_that_never_ran() -> None:
    stream = ProgressEvents()
    stream.update(read(R, (S, R, P), progress=40), now=0.0)
    # The third step never ran: a reverting flow's progress leaves it out.
    events = stream.update(read(RV, (RV, F)), now=0.5)
    assert shown(events)[:3] == [("flow", "cloneFlow", "REVERTING", True),
                                 ("state", STEPS[0], "REVERTING", True), ("state", STEPS[1], "FAILURE", True)]
    final = read(RD, (RD, RD), progress=100)
    events = stream.update(final, now=1.0)
    assert shown(events) == [("state", STEPS[0], "REVERTED", True), ("state", STEPS[1], "REVERTING", False),
                             ("state", STEPS[1], "REVERTED", True), ("flow", "cloneFlow", "REVERTED", True),
                             ("end", views.progress(final))]


def test_a_task_that_ended_before_the_stream_began_is_its_whole_way_then_the_end() -> None:
    final = read(S, (S, S, S), progress=100)
    events = ProgressEvents().update(final, now=0.0)
    assert [e.name for e in events] == ["flow"] * 2 + ["state"] * 9 + ["flow", "end"]
    assert [e.data["state"] for e in events if e.name == "flow"] == ["PENDING", "RUNNING", "SUCCESS"]
    assert "progress" not in [e.name for e in events]  # the end body carries the numbers


def test_an_error_ends_the_stream_with_a_fault_body() -> None:
    stream = ProgressEvents()
    stream.update(read(R, (R, P, P)), now=0.0)
    event = stream.error(404, "itemNotFound", "clone task t could not be found")
    assert (event.name, event.data) == ("error", {"itemNotFound": {"code": 404,
                                                                   "message": "clone task t could not be found"}})
    assert stream.done
