"""get_progress's body, as the API serves it (``api.views.progress`` over
``CloneService.progress``), before, while and after a flow runs. The flow is held still
inside a driver call (the memory driver's hook waits on an event), so "while it runs"
is deterministic."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from volclone.domain import Principal
from volclone.errors import NotFound

from .conftest import FINAL, TASKS, Fast, position

KEYS = {"results", "completed_tasks", "pending_tasks", "progress", "flow_details"}


def steps(body: dict[str, Any]) -> dict[str, str]:
    d = body["details"]
    return {n: s for n, s in {**d["completed_tasks"], **d["pending_tasks"]}.items() if not n.startswith("_TaskFlow")}


def hold(fast: Fast, method: str) -> tuple[threading.Event, threading.Event]:
    """The next ``method`` call waits (``reached`` set) until ``go`` is set."""
    reached, go = threading.Event(), threading.Event()

    def wait() -> None:
        reached.set()
        assert go.wait(30), "the test never let the flow go on"

    fast.mem.inject(method, wait)
    return reached, go


def test_the_body_after_success(fast: Fast) -> None:
    ids = [fast.volume(1, "a").id, fast.volume(2, "b").id]
    task = fast.clone(ids, display_name="p")
    fast.wait(task)
    body = fast.body(task)
    d = body["details"]
    assert set(d) >= KEYS
    assert body["task_id"] == task
    assert d["flow_details"] == body["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert d["progress"] == body["progress"] == 100
    assert d["pending_tasks"] == body["pending_tasks"] == {}
    assert list(d["results"]) == ids
    clones = list(d["results"].values())
    assert len(set(clones)) == 2 and not set(clones) & set(ids)
    assert set(d["completed_tasks"].values()) == {"SUCCESS"}
    assert sorted(position(n) for n in steps(body)) == list(range(len(TASKS)))
    assert fast.body(task) == body, "a finished task reads the same every time"


def test_the_body_while_the_clones_are_made(fast: Fast) -> None:
    ids = [fast.volume(1, "a").id, fast.volume(1, "b").id]
    reached, go = hold(fast, "clone_from_group_snapshot")
    task = fast.clone(ids, display_name="run")
    try:
        assert reached.wait(30)
        body = fast.body(task)
        d = body["details"]
        assert d["flow_details"] == {"cloneFlow": "RUNNING"}
        assert d["results"] == {}
        assert 0 < body["progress"] == d["progress"] < 100
        assert body["pending_tasks"] == d["pending_tasks"]
        assert not set(d["completed_tasks"]) & set(d["pending_tasks"])
        by_step = {TASKS[position(n)]: s for n, s in steps(body).items()}
        assert by_step == {
            "create_src_vol_group-": "SUCCESS", "create_group_snapshot-": "SUCCESS",
            "create_group_clone-": "RUNNING", "set_metadata_for_volume-": "PENDING",
            "delete_group_snapshot-": "PENDING", "delete_group-src_group-": "PENDING",
            "set_clones_available-": "PENDING"}
        # the clones exist already, as 'creating'; the sources are grouped and can't be deleted
        creating = [v for v in fast.svc.volumes.list(fast.who, "p1") if v.id not in ids]
        assert sorted(v.name or "" for v in creating) == ["clone-run-1", "clone-run-2"]
        assert {v.status.value for v in creating} == {"creating"}
        with pytest.raises(Exception, match="being cloned"):
            fast.svc.volumes.delete(fast.who, "p1", ids[0])
    finally:
        go.set()
    assert fast.wait(task).flow_state.value == "SUCCESS"
    assert {fast.get(c).status.value for c in fast.wait(task).results.values()} == {"available"}
    fast.svc.volumes.delete(fast.who, "p1", ids[0])  # ungrouped once the flow ended


def test_progress_never_goes_down(fast: Fast) -> None:
    """Read at every driver call of the flow and at its end: it only grows, to 100."""
    ids = [fast.volume(1).id, fast.volume(1).id]
    seen: list[int] = []
    task_ids: list[str] = []
    ready = threading.Event()

    def sample() -> None:
        assert ready.wait(30)
        seen.append(fast.body(task_ids[0])["progress"])

    for method in ("create_group_snapshot", "clone_from_group_snapshot", "delete_group_snapshot"):
        fast.mem.inject(method, sample)
        fast.mem.inject(method, sample, after=True)
    task_ids.append(fast.clone(ids))
    ready.set()
    fast.wait(task_ids[0])
    seen.append(fast.body(task_ids[0])["progress"])
    assert len(seen) == 7
    assert seen == sorted(seen) and seen[-1] == 100 and seen[0] < 100


@pytest.mark.parametrize("failpoint", ["create_group_clone-", "set_clones_available-"])
def test_the_body_of_a_reverted_flow(make_fast: Callable[..., Fast], failpoint: str) -> None:
    fast = make_fast(failpoints=(failpoint,))
    task = fast.clone([fast.volume(1, "a").id, fast.volume(1, "b").id], display_name="f")
    fast.wait(task)
    body = fast.body(task)
    d = body["details"]
    assert d["flow_details"] == body["flow_details"] == {"cloneFlow": "REVERTED"}
    assert d["progress"] == body["progress"] == 100
    assert list(d["results"]) == ["failure"]
    assert isinstance(d["results"]["failure"], str) and failpoint in d["results"]["failure"]
    assert "REVERTED" in d["completed_tasks"].values()
    assert set(d["pending_tasks"].values()) <= {"PENDING"}, "nothing runs any more"
    assert fast.body(task) == body


def test_io_freeze_is_reported(fast: Fast) -> None:
    task = fast.clone([fast.volume(1).id])
    fast.wait(task)
    assert fast.body(task)["details"]["io_freeze_ms"] == 0.0


def test_progress_of_an_unknown_or_foreign_task_is_404(fast: Fast) -> None:
    task = fast.clone([fast.volume(1).id])
    fast.wait(task)
    with pytest.raises(NotFound, match="nope"):
        fast.svc.clones.progress(fast.who, "p1", "nope")
    with pytest.raises(NotFound, match=task):
        fast.svc.clones.progress(Principal("p2"), "p2", task)
    # Who may read project p1's progress is the policy's, checked by the API (tests/policy/).
    assert fast.svc.clones.progress(fast.admin, "p1", task).flow_state.value in FINAL


def test_the_consistency_report_says_what_the_set_got(fast: Fast) -> None:
    """details.consistency: the level volclone promises, how the point was taken, which sources
    were frozen together (in request order) and when; present once the point is taken."""
    import datetime as dt

    ids = [fast.volume(1, "b").id, fast.volume(1, "a").id]
    reached, go = hold(fast, "create_group_snapshot")
    task = fast.clone(ids)
    try:
        assert reached.wait(30)
        assert "consistency" not in fast.body(task)["details"]  # not taken yet
    finally:
        go.set()
    before = dt.datetime.now(dt.UTC)
    fast.wait(task)
    report = fast.body(task)["details"]["consistency"]
    assert {k: report[k] for k in ("level", "method", "members")} == {
        "level": "crash-consistent", "method": "in-memory", "members": ids}
    taken = dt.datetime.fromisoformat(report["taken_at"].replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=30) < taken <= dt.datetime.now(dt.UTC)
    assert report["io_freeze_ms"] >= 0


def test_a_reverted_set_reports_no_consistency_point(make_fast: Callable[..., Fast]) -> None:
    fast = make_fast(failpoints=("create_group_clone",))
    task = fast.clone([fast.volume().id])
    assert fast.wait(task).flow_state.value == "REVERTED"
    assert "consistency" not in fast.body(task)["details"]


def test_while_data_is_copied_the_rate_and_time_left_appear(fast: Fast, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the rate measured since the copy's first report: 1 MiB every 0.25 s of 8 MiB."""
    import time

    mib = 1024**2
    halfway, go = threading.Event(), threading.Event()
    real_clone = fast.mem.clone_from_group_snapshot

    def slow_copy(snapshot: Any, clones: Any, *, progress: Any = None) -> None:
        for done in range(0, 9):
            progress(done * mib, 8 * mib)
            if done == 4:
                halfway.set()
                assert go.wait(30)
            time.sleep(0.25)
        real_clone(snapshot, clones)

    monkeypatch.setattr(fast.mem, "clone_from_group_snapshot", slow_copy)
    task = fast.clone([fast.volume().id])
    try:
        assert halfway.wait(30)
        time.sleep(0.3)  # the throttled report of 4 MiB is persisted
        d = fast.body(task)["details"]
        assert d["bytes_done"] == 4 * mib and d["bytes_total"] == 8 * mib
        assert 2 * mib < d["bytes_per_second"] < 6 * mib  # ~4 MiB/s, on a busy machine
        assert 0.5 < d["eta_seconds"] < 3  # 4 MiB left at that rate: ~1 s
    finally:
        go.set()
    fast.wait(task)
    done = fast.body(task)["details"]
    assert done["bytes_done"] == done["bytes_total"] == 8 * mib
    assert "bytes_per_second" not in done and "eta_seconds" not in done  # nothing is being copied now


def test_the_cli_bar_shows_bytes_rate_and_time_left() -> None:
    from volclone.cli.commands import copy_line

    running = {"flow_details": {"cloneFlow": "RUNNING"},
               "details": {"bytes_done": 3 * 1024**3 // 2, "bytes_total": 4 * 1024**3,
                           "bytes_per_second": 200 * 1024**2, "eta_seconds": 12.8}}
    assert copy_line(running) == ", 1.5 GiB of 4.0 GiB at 200.0 MiB/s, 13 s left"
    assert copy_line({**running, "flow_details": {"cloneFlow": "SUCCESS"}}) == ""
    assert copy_line({"flow_details": {"cloneFlow": "RUNNING"}, "details": {}}) == ""
