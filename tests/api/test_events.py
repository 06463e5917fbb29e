"""get_progress's event stream on a real server (uvicorn, qemu-storage-daemon, the local pool):
an SSE client sees every state of a real clone in order, then the end event, then the close.
The stream's logic and bounds are tested in process: tests/unit/test_progress_events.py and
tests/unit/test_progress_stream.py."""

from __future__ import annotations

from typing import Any

import httpx

from api.support import assert_fault
from conftest import Api, Env
from volclone.client import parse_events
from volclone.flows.model import Step

EVENTS = {"Accept": "text/event-stream"}


def stream(api: Api, task_id: str) -> tuple[httpx.Response, list[Any]]:
    """Every event of the task's stream, read as they come, until the server closes it."""
    params = {"action": "clone-volumes", "task_id": task_id}
    with api.http.stream("GET", "/clone-volumes/get_progress", params=params, headers=EVENTS) as r:
        assert r.status_code == 200, r.read()
        return r, list(parse_events(r.iter_lines()))


def test_an_sse_client_sees_every_state_of_a_real_clone_in_order_then_the_body(env: Env) -> None:
    vols = [env.user.create_volume(1, name=f"ev{i}")["id"] for i in range(2)]
    task_id = env.user.clone(vols)
    response, events = stream(env.user, task_id)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"

    # The stream closed after its end event, which is what the plain GET answers now.
    assert [e.name for e in events].count("end") == 1 and events[-1].name == "end" and events[-1].id == "end"
    assert events[-1].data == env.user.progress(task_id)
    assert events[-1].data["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert [int(e.id) for e in events[:-1]] == list(range(1, len(events)))

    assert [e.data["state"] for e in events if e.name == "flow"] == ["PENDING", "RUNNING", "SUCCESS"]
    steps = [s.task_name(task_id) for s in Step]
    order = [(e.data["task"], e.data["state"]) for e in events if e.name == "state"
             and not e.data["task"].startswith("_TaskFlow")]
    assert sorted({t for t, _ in order}) == sorted(steps)
    for step in steps:
        assert [s for t, s in order if t == step] == ["PENDING", "RUNNING", "SUCCESS"], step
    # In flow order: a step runs only once the one before it succeeded.
    for before, after in zip(steps, steps[1:], strict=False):
        assert order.index((before, "SUCCESS")) < order.index((after, "RUNNING")), (before, after)
    progress = [e.data["progress"] for e in events if e.name == "progress"]
    assert progress == sorted(progress) and all(0 <= p < 100 for p in progress)


def test_the_faults_come_before_any_stream(env: Env, other: Api) -> None:
    vols = [env.user.create_volume(1, name="ev")["id"]]
    task_id = env.user.clone(vols)
    params = {"action": "clone-volumes", "task_id": task_id}
    nobody = httpx.get(f"{env.server.url}/v3/p1/clone-volumes/get_progress", params=params, headers=EVENTS)
    assert_fault(nobody, 401)
    assert_fault(other.request("GET", "/clone-volumes/get_progress", params=params, headers=EVENTS), 404,
                 "could not be found")
    assert_fault(env.user.request("GET", "/clone-volumes/get_progress", headers=EVENTS,
                                  params={**params, "task_id": "no-such-task"}), 404)
    assert_fault(env.user.request("GET", "/clone-volumes/get_progress", headers=EVENTS,
                                  params={**params, "extra": "1"}), 400, "unknown query parameters")
    env.user.wait(task_id)
