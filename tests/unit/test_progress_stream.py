"""get_progress's event stream through the app, in process (the fast service, its real
persisted flows): the faults that come before any stream, the bound of open streams, a
client that goes away, the keep-alive comment. The app is called as an ASGI server calls it,
so a stream can be held open and a client can leave (tests/event_streams.py). The real-server
test is tests/api/test_events.py; the one through another API process, tests/cluster/test_roles.py."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from event_streams import HANG, PATH, Call, events_of
from volclone.api import create_app
from volclone.api.event_stream import StreamOptions, wants_events
from volclone.service.auth import MEMBER_ROLES


@dataclass
class Streams:
    fast: Any
    app: Any
    token: str
    gate: threading.Event

    def call(self, task_id: str, accept: str = "text/event-stream", token: str | None = None,
             **headers: str) -> Call:
        hs = {"accept": accept, "x-auth-token": token if token is not None else self.token, **headers}
        return Call(self.app, hs, f"action=clone-volumes&task_id={task_id}")

    def paused_clone(self) -> str:
        """A clone task held RUNNING in its clone step until :attr:`gate` opens."""
        vols = [self.fast.volume(name=f"v{i}") for i in range(2)]
        self.fast.mem.inject("clone_from_group_snapshot", lambda: self.gate.wait(HANG))
        task_id: str = self.fast.clone([v.id for v in vols])
        return task_id

    @property
    def slots_open(self) -> int:
        return int(self.app.state.stream_slots.open)


@pytest.fixture
def streams(fast: Any) -> Iterator[Streams]:
    gate = threading.Event()
    options = StreamOptions(max_streams=1, poll_s=0.05, ping_s=0.1, progress_interval_s=0.05)
    app = create_app(fast.svc, manage_lifecycle=False, event_streams=options)
    yield Streams(fast, app, fast.svc.auth.create_token("p1", MEMBER_ROLES), gate)
    gate.set()


def test_only_an_accept_that_names_the_event_stream_gets_one() -> None:
    assert wants_events("text/event-stream")
    assert wants_events("application/json;q=0.5, Text/Event-Stream")
    assert not wants_events(None) and not wants_events("*/*") and not wants_events("application/json")
    assert not wants_events("text/event-stream;q=0") and not wants_events("text/event-stream;q=x")


def test_a_finished_tasks_stream_is_its_states_then_the_get_progress_body(streams: Streams) -> None:
    vols = [streams.fast.volume(name=f"v{i}") for i in range(2)]
    task_id = streams.fast.clone([v.id for v in vols])
    streams.fast.wait(task_id)
    call = streams.call(task_id)
    asyncio.run(call.run())
    assert call.status == 200 and call.response_headers["content-type"].startswith("text/event-stream")
    events = events_of(call.body)
    assert events[-1]["event"] == "end" and events[-1]["id"] == "end"
    assert events[-1]["data"] == streams.fast.body(task_id)
    assert streams.slots_open == 0
    plain = streams.call(task_id, accept="application/json")
    asyncio.run(plain.run())  # without the header: the JSON body, as before
    assert plain.response_headers["content-type"] == "application/json"
    assert json.loads(plain.body) == streams.fast.body(task_id)


@pytest.mark.parametrize(("project_token", "status", "fault"), [
    ("", 401, "unauthorized"), ("other", 404, "itemNotFound"), ("p1-unknown", 404, "itemNotFound")])
def test_the_faults_come_before_any_stream(streams: Streams, project_token: str, status: int, fault: str) -> None:
    task_id = streams.paused_clone()
    if project_token == "other":  # another project's task: as if it were not there
        token = streams.fast.svc.auth.create_token("p2", MEMBER_ROLES)
        call = Call(streams.app, {"accept": "text/event-stream", "x-auth-token": token},
                    f"action=clone-volumes&task_id={task_id}", path=PATH.replace("/p1/", "/p2/"))
    else:
        call = streams.call("no-such-task" if project_token == "p1-unknown" else task_id,
                            token="" if project_token == "" else None)
    asyncio.run(call.run())
    assert call.status == status
    assert call.response_headers["content-type"] == "application/json"
    body = json.loads(call.body)
    assert list(body) == [fault] and body[fault]["code"] == status
    assert streams.slots_open == 0


def test_one_stream_more_than_the_bound_is_a_503_with_retry_after_until_one_ends(streams: Streams) -> None:
    task_id = streams.paused_clone()

    async def scenario() -> None:
        first = streams.call(task_id)
        running = asyncio.create_task(first.run())
        await first.until(b'"state":"RUNNING"')
        assert streams.slots_open == 1
        second = streams.call(task_id)
        await asyncio.wait_for(second.run(), HANG)
        assert second.status == 503 and second.response_headers["retry-after"] == "5"
        body = json.loads(second.body)
        assert list(body) == ["serviceUnavailable"] and body["serviceUnavailable"]["code"] == 503
        plain = streams.call(task_id, accept="application/json")  # polling still answers
        await asyncio.wait_for(plain.run(), HANG)
        assert plain.status == 200
        streams.gate.set()  # the flow goes on and ends, and so does the first stream
        await asyncio.wait_for(running, HANG)
        assert events_of(first.body)[-1]["event"] == "end"
        assert streams.slots_open == 0
        third = streams.call(task_id)
        await asyncio.wait_for(third.run(), HANG)
        assert third.status == 200 and events_of(third.body)[-1]["event"] == "end"

    asyncio.run(scenario())


def test_a_client_that_leaves_frees_its_stream_at_once(streams: Streams) -> None:
    task_id = streams.paused_clone()

    async def scenario() -> None:
        call = streams.call(task_id)
        running = asyncio.create_task(call.run())
        await call.until(b'"state":"RUNNING"')
        assert streams.slots_open == 1
        call.leave()
        await asyncio.wait_for(running, HANG)  # the stream ended though its task runs on
        assert streams.slots_open == 0
        assert b"event: end" not in call.body

    asyncio.run(scenario())
    assert streams.fast.body(task_id)["flow_details"]["cloneFlow"] == "RUNNING"


def test_a_quiet_stream_gets_keep_alive_comments(streams: Streams) -> None:
    task_id = streams.paused_clone()

    async def scenario() -> None:
        call = streams.call(task_id)
        running = asyncio.create_task(call.run())
        await call.until(b"\r\n: ping")  # a comment line: EventSource clients ignore it
        call.leave()
        await asyncio.wait_for(running, HANG)

    asyncio.run(scenario())


def test_a_client_that_had_the_end_event_is_told_to_stop_reconnecting(streams: Streams) -> None:
    vols = [streams.fast.volume(name="v")]
    task_id = streams.fast.clone([v.id for v in vols])
    streams.fast.wait(task_id)
    call = streams.call(task_id, **{"last-event-id": "end"})
    asyncio.run(call.run())
    assert call.status == 204 and call.body == b""
    again = streams.call(task_id, **{"last-event-id": "7"})  # it missed the end: a new stream
    asyncio.run(again.run())
    assert again.status == 200 and events_of(again.body)[-1]["event"] == "end"


def test_a_task_that_goes_away_mid_stream_ends_it_with_an_error_event(streams: Streams) -> None:
    task_id = streams.paused_clone()

    async def scenario() -> None:
        call = streams.call(task_id)
        running = asyncio.create_task(call.run())
        await call.until(b'"state":"RUNNING"')
        streams.fast.db_execute("UPDATE clone_tasks SET project_id = ? WHERE id = ?", "p9", task_id)
        await asyncio.wait_for(running, HANG)
        last = events_of(call.body)[-1]
        assert last["event"] == "error"
        assert last["data"]["itemNotFound"]["code"] == 404
        assert streams.slots_open == 0

    asyncio.run(scenario())
